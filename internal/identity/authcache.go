package identity

import (
	"sync"
	"sync/atomic"
	"time"
)

// Session cache. Authenticate runs on every signed-in request, and reading the session
// with its user was a quarter of the CPU of a trivial authenticated API call (GET /me:
// ~50–75 µs of a ~300 µs request on SQLite, a round trip on PostgreSQL). The cache keeps
// what that read returned, keyed by the token's hash, so repeated requests of one session
// skip the database.
//
// It must never let a session work after this process ended it, nor show a user as they
// were before a change this process made. So every write transaction of this package
// (sign-out, revocation, password change, freeze, role or level change, … — all of them
// go through Service.inTx) moves authGen on after it ends, and an entry is used only while
// authGen is still the value read before the entry's database read: one change anywhere
// drops every entry at once. Changes are rare next to requests; the drop costs one read
// per live session. The only write that does not move authGen is Authenticate's own
// last-seen touch, which updates the entry instead.
//
// Changes made by another process (another node on the same PostgreSQL, `okpay admin`
// on the same SQLite file) are not seen here: an entry is trusted for authCacheTTL at
// most, so they take effect on this node within that time. Money is not at stake in that
// window: every payment reads restrictions and step-up state again in its own
// transaction.
const authCacheTTL = time.Second

// authCacheMax bounds the entries; a full cache is emptied (simplest bound, and at the
// rate entries are made — one per live session per second — it refills at once).
const authCacheMax = 1 << 16

// authGen is process-wide: several Service values may share one database in a process
// (tests, the admin commands), and a change through any of them must reach all caches.
var authGen atomic.Uint64

type authEntry struct {
	gen  uint64
	at   time.Time // monotonic reading of when the row was read
	sess sessionRow
	pub  User // the user as Authenticate returns them (no secrets kept)
}

type authCache struct {
	mu sync.RWMutex
	m  map[string]*authEntry
}

// get returns the live entry for hash, or nil.
func (c *authCache) get(hash string) *authEntry {
	c.mu.RLock()
	e := c.m[hash]
	c.mu.RUnlock()
	if e == nil || e.gen != authGen.Load() || time.Since(e.at) >= authCacheTTL {
		return nil
	}
	return e
}

// put stores e unless a change ended after its read began (gen is then stale).
func (c *authCache) put(hash string, e *authEntry) {
	if e.gen != authGen.Load() {
		return
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= authCacheMax {
		c.m = make(map[string]*authEntry)
	}
	c.m[hash] = e
	c.mu.Unlock()
}

// authChanged drops every cached session: called after each write transaction of this
// package, committed or not (a failed COMMIT may still have committed).
func authChanged() { authGen.Add(1) }
