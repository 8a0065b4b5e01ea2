package ledger

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"okpay/internal/db"
)

// accountCache lets the SQLite committer skip reading the accounts it touches: reading a
// row through the pure-Go driver costs about as much as writing it (see
// docs/PERFORMANCE.md). It is only trusted while the committer is provably the only writer
// of ledger_accounts:
//   - other connections (other processes) are detected with PRAGMA data_version, which
//     changes when any other connection commits; the whole cache is then dropped;
//   - SubmitTx and CreateAccountsTx in this process use the same single writer
//     connection, so they bump gen, and a committer batch that saw gen change drops the
//     cache instead of storing what it wrote;
//   - a batch that fails drops the cache.
//
// PostgreSQL has other nodes writing the same rows, so it never caches.
type accountCache struct {
	mu      sync.Mutex
	m       map[uuid.UUID]Account
	gen     uint64
	version int64 // data_version after our last commit; -1 unknown
}

// maxCachedAccounts bounds the cache; past it the cache starts over.
const maxCachedAccounts = 1 << 20

func newAccountCache() *accountCache {
	return &accountCache{m: map[uuid.UUID]Account{}, version: -1}
}

// begin is called inside the committer's transaction: it checks for foreign commits and
// returns the generation to hand to end.
func (c *accountCache) begin(ctx context.Context, tx *db.Tx) (uint64, error) {
	var v int64
	if err := tx.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read data_version: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v != c.version {
		clear(c.m)
		c.version = v
	}
	return c.gen, nil
}

// get fills into with cached accounts among ids and returns the ids it does not have.
func (c *accountCache) get(ids []uuid.UUID, into map[uuid.UUID]*acct) []uuid.UUID {
	c.mu.Lock()
	defer c.mu.Unlock()
	var miss []uuid.UUID
	for _, id := range ids {
		if a, ok := c.m[id]; ok {
			into[id] = &acct{Account: a}
		} else {
			miss = append(miss, id)
		}
	}
	return miss
}

// end stores the accounts as committed by the batch that began at gen.
func (c *accountCache) end(gen uint64, accounts map[uuid.UUID]*acct) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || len(c.m)+len(accounts) > maxCachedAccounts {
		clear(c.m)
		return
	}
	for id, a := range accounts {
		c.m[id] = a.Account
	}
}

// invalidate drops everything: another writer in this process changed (or may change)
// accounts, or a batch failed.
func (c *accountCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}
