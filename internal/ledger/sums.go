package ledger

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"okpay/internal/db"
)

// Account sums on SQLite: exact in memory, written to rows lazily.
//
// Updating an account row per batch was 40 % of the SQLite committer's CPU and most of its
// WAL writes: a batch of 256 uniform transfers touches ~500 accounts spread over every page
// of the table, and each dirtied page is rewritten to the WAL (see docs/PERFORMANCE.md).
// So on SQLite the transfers are the log and the rows are checkpoints:
//
//   - ledger_accounts.sums_seq: the row's four sums include exactly the transfers with
//     seq ≤ sums_seq that touch the account (plus expiries, which are always written
//     through to the row at once);
//   - ledger_state.flushed_seq: every transfer with seq ≤ flushed_seq is in its accounts'
//     rows; a lower bound, so replay knows where to start;
//   - an account's true sums = its row + the transfers touching it with seq > sums_seq.
//
// The process keeps the true sums of every account it touched in memory (live), and which
// rows are behind (dirty, oldest change first). Each committer batch writes only its
// transfers plus the rows of a few of the longest-dirty accounts, so the replay after a
// crash stays bounded; Close writes them all. Start, and any transaction that finds that
// another connection committed (PRAGMA data_version), replays the transfers after
// flushed_seq into the rows before using anything ("recover").
//
// Who may change sums: a transaction on SQLite's one writer connection, holding wmu from
// its first ledger write until it ends (Tx.OnEnd). wmu is only ever taken while holding
// the writer connection and released without needing it, so it cannot deadlock with the
// connection pool. live holds committed values only: a transaction's changes are
// published by its OnEnd hook, after COMMIT, before wmu is released, so the next writer
// always starts from them and readers never see uncommitted sums.
//
// Readers (Account, AccountsByOwner) overlay live on the rows; see lookupLive.
//
// PostgreSQL keeps rows authoritative (several nodes lock and update them), so it has no
// sumState.
type sumState struct {
	wmu   sync.Mutex
	owner atomic.Pointer[txSums] // the transaction holding wmu
	// ownerTx is owner's transaction, compared by other transactions without wmu: the
	// txSums behind owner is reused once its transaction ends, so its fields may only be
	// read by the transaction that owns it.
	ownerTx atomic.Pointer[db.Tx]

	// mu guards live against readers; it is written only by holders of wmu.
	mu   sync.RWMutex
	live map[uuid.UUID]Account
	// cleanGen counts publishes that brought a dirty row up to date (or dropped live), so
	// readers who read rows before the overlay can tell they may have raced one.
	cleanGen atomic.Uint64

	// Guarded by wmu.
	dirty      map[uuid.UUID]int64 // id → seq of its oldest change not in its row
	fifo       []dirtyEntry        // dirty accounts in seq order; entries may be stale
	head       int
	version    int64 // PRAGMA data_version after our last transaction; -1 unknown
	flushedSeq int64 // ledger_state.flushed_seq as we last wrote it; -1 unknown
	// maxReplay is about how many transfers a recovery replays at most: each batch
	// writes enough of the longest-dirty rows that every dirty row is written once per
	// maxReplay transfers.
	maxReplay   int
	maxLive     int
	afterCommit func(ts *txSums) bool // checks a SubmitTx transaction really committed its transfers
	// owed counts rows flushCount has asked for and not yet given out.
	owed int
	// spare is the last ended transaction's txSums, emptied for the next one: its maps
	// keep their size, where fresh ones grew (and rehashed) every batch.
	spare *txSums
}

type dirtyEntry struct {
	id  uuid.UUID
	seq int64
}

// txSums is one writer transaction's view and changes.
type txSums struct {
	tx *db.Tx
	// ignoreLive: recovery ran in this transaction, live may be stale (another process
	// wrote); the rows, as rewritten by recovery, are the truth.
	ignoreLive bool
	recovered  map[uuid.UUID]Account
	changed    map[uuid.UUID]Account // sums after this transaction's changes
	firstSeq   map[uuid.UUID]int64   // seq of the first transfer in this transaction per changed account
	flushed    map[uuid.UUID]Account // rows written in this transaction (clean after commit)
	newHead    int
	newFlushed int64
	// inserted: ids of transfers SubmitTx wrote, checked after commit (a ROLLBACK TO
	// SAVEPOINT in the caller would have undone them behind our back).
	inserted [][]byte
	version  int64
}

func newSumState() *sumState {
	return &sumState{live: map[uuid.UUID]Account{}, dirty: map[uuid.UUID]int64{}, version: -1, flushedSeq: -1,
		maxReplay: 1 << 19, maxLive: maxLiveAccounts}
}

// maxLiveAccounts bounds live; past it, clean entries are dropped.
const maxLiveAccounts = 1 << 20

// acquire makes tx the owner of the sums (once per transaction) and, if another
// connection committed since our last transaction, recovers the rows first.
func (l *Ledger) acquire(ctx context.Context, tx *db.Tx) (*txSums, error) {
	s := l.sums
	if s.ownerTx.Load() == tx {
		return s.owner.Load(), nil
	}
	s.wmu.Lock()
	ts := s.spare
	if ts == nil {
		ts = &txSums{changed: map[uuid.UUID]Account{}, firstSeq: map[uuid.UUID]int64{}, flushed: map[uuid.UUID]Account{}}
	}
	s.spare = nil
	ts.tx, ts.newHead, ts.newFlushed = tx, -1, -1
	s.owner.Store(ts)
	s.ownerTx.Store(tx)
	tx.OnEnd(func(committed bool) {
		if committed {
			s.publish(ts)
		}
		s.ownerTx.Store(nil)
		s.owner.Store(nil)
		ts.reset()
		s.spare = ts
		s.wmu.Unlock()
	})
	var err error
	if ts.version, err = l.st.queryInt(ctx, tx, sqlDataVersion); err != nil {
		return nil, fmt.Errorf("read data_version: %w", err)
	}
	if ts.version != s.version {
		if err := l.recoverSums(ctx, tx, ts); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// reset empties ts for the next transaction, keeping its maps' room.
func (ts *txSums) reset() {
	ts.tx, ts.ignoreLive, ts.recovered = nil, false, nil
	clear(ts.changed)
	clear(ts.firstSeq)
	clear(ts.flushed)
	ts.inserted = ts.inserted[:0]
	ts.version = 0
}

// accounts fills into with the current sums of ids (distinct): this
// transaction's changes, then live, then the rows (authoritative for accounts not dirty).
func (l *Ledger) accountsFor(ctx context.Context, tx *db.Tx, ts *txSums, ids []uuid.UUID, into map[uuid.UUID]*acct) error {
	s := l.sums
	var miss []uuid.UUID
	for _, id := range ids {
		if a, ok := ts.changed[id]; ok {
			into[id] = &acct{Account: a}
		} else if a, ok := s.live[id]; ok && !ts.ignoreLive {
			into[id] = &acct{Account: a}
		} else {
			miss = append(miss, id)
		}
	}
	return l.st.loadAccounts(ctx, tx, miss, into)
}

// noteChanges records b's changed accounts in ts; seq order of first change comes from
// b's inserts (expiries have none: the sweep writes their rows at once).
func (ts *txSums) noteChanges(b *batch) {
	for i, t := range b.inserts {
		seq := b.firstSeq + int64(i)
		for _, id := range [2]uuid.UUID{t.DebitAccountID, t.CreditAccountID} {
			if _, ok := ts.firstSeq[id]; !ok {
				ts.firstSeq[id] = seq
			}
		}
	}
	for id, a := range b.accounts {
		if a.dirty {
			ts.changed[id] = a.Account
		}
	}
}

// flushCount is how many longest-dirty rows a batch of n transfers writes: with D dirty
// accounts, D×n/maxReplay per batch cycles through all of them every maxReplay
// transfers. Row writes cost ~10–30 µs each here, so this stays a fraction of a row per
// transfer (uniform 10k accounts, batches of 128: ~3 rows per batch). The rows owed are
// written flushEvery at a time (one UPDATE of ~3 rows cost nearly what one of 16 does:
// ~1 µs per transfer of the committer), so a batch mostly writes none.
func (s *sumState) flushCount(n int) int {
	s.owed += 1 + len(s.dirty)*n/s.maxReplay
	if s.owed < flushEvery {
		return 0
	}
	k := s.owed
	s.owed = 0
	return k
}

// flushEvery is how many owed rows are gathered before a batch writes them.
const flushEvery = 16

// flush writes rows for this transaction: the accounts in ids, plus the n longest-dirty
// ones, all as of seq top; and flushed_seq when it moved. all writes every dirty row.
func (l *Ledger) flush(ctx context.Context, tx *db.Tx, ts *txSums, ids []uuid.UUID, n int, all bool, top int64) error {
	s := l.sums
	pick := map[uuid.UUID]struct{}{}
	for _, id := range ids {
		pick[id] = struct{}{}
	}
	i := s.head
	for ; i < len(s.fifo) && (all || n > 0); i++ {
		e := s.fifo[i]
		if seq, ok := s.dirty[e.id]; !ok || seq != e.seq {
			continue // flushed or re-dirtied since
		}
		pick[e.id] = struct{}{}
		n--
	}
	// Skip stale entries so the next valid one tells the new flushed_seq.
	for i < len(s.fifo) {
		e := s.fifo[i]
		if seq, ok := s.dirty[e.id]; ok && seq == e.seq {
			if _, picked := pick[e.id]; !picked {
				break
			}
		}
		i++
	}
	ts.newHead = i
	rows := make([]*acct, 0, len(pick))
	for id := range pick {
		a, ok := ts.changed[id]
		if !ok {
			if a, ok = s.live[id]; !ok || ts.ignoreLive {
				continue // not changed by anyone: the row is already right
			}
		}
		rows = append(rows, &acct{Account: a})
		ts.flushed[id] = a
	}
	sort.Slice(rows, func(i, j int) bool { return lessID(rows[i].ID, rows[j].ID) })
	if err := l.st.updateAccounts(ctx, tx, rows, top); err != nil {
		return fmt.Errorf("write account sums: %w", err)
	}
	// The oldest change not in a row after this transaction: the next valid fifo entry,
	// or the first change of an account this transaction changed but did not write.
	oldest := int64(-1)
	if i < len(s.fifo) {
		oldest = s.fifo[i].seq
	}
	for id, seq := range ts.firstSeq {
		if _, done := ts.flushed[id]; !done && (oldest < 0 || seq < oldest) {
			oldest = seq
		}
	}
	want := top
	if oldest >= 0 {
		want = oldest - 1
	}
	if want != s.flushedSeq {
		if err := l.st.exec(ctx, tx, sqlSetFlushed, want); err != nil {
			return fmt.Errorf("write flushed_seq: %w", err)
		}
		ts.newFlushed = want
	}
	return nil
}

// publish makes a committed transaction's sums live. Called with wmu held.
func (s *sumState) publish(ts *txSums) {
	if len(ts.inserted) > 0 && s.afterCommit != nil && !s.afterCommit(ts) {
		// The caller undid our writes inside its transaction (ROLLBACK TO SAVEPOINT):
		// our view of this transaction is wrong. Publish none of it (readers keep the
		// sums from before it, right unless part of it survived) and make the next
		// writer recover from the database before deciding anything.
		s.version, s.flushedSeq = -1, -1
		return
	}
	s.version = ts.version
	if ts.newFlushed >= 0 {
		s.flushedSeq = ts.newFlushed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cleaned := false
	if ts.ignoreLive {
		clear(s.live)
		clear(s.dirty)
		s.fifo, s.head = s.fifo[:0], 0
		cleaned = true
	}
	for id, a := range ts.recovered {
		s.live[id] = a
	}
	for id, a := range ts.flushed {
		s.live[id] = a
		if _, ok := s.dirty[id]; ok {
			delete(s.dirty, id)
			cleaned = true
		}
	}
	if ts.newHead >= 0 && !ts.ignoreLive {
		s.head = ts.newHead
	}
	var fresh []dirtyEntry
	for id, a := range ts.changed {
		if _, ok := ts.flushed[id]; ok {
			continue
		}
		s.live[id] = a
		if _, ok := s.dirty[id]; !ok {
			seq := ts.firstSeq[id]
			s.dirty[id] = seq
			fresh = append(fresh, dirtyEntry{id, seq})
		}
	}
	sort.Slice(fresh, func(i, j int) bool { return fresh[i].seq < fresh[j].seq })
	s.fifo = append(s.fifo, fresh...)
	if s.head > 4096 && s.head > len(s.fifo)/2 {
		s.fifo = append(s.fifo[:0], s.fifo[s.head:]...)
		s.head = 0
	}
	if len(s.live) > s.maxLive {
		for id := range s.live {
			if _, ok := s.dirty[id]; !ok {
				delete(s.live, id)
			}
		}
		cleaned = true
	}
	if cleaned {
		s.cleanGen.Add(1)
	}
}

// lookupLive returns the live sums of id, if this process holds them.
func (s *sumState) lookupLive(id uuid.UUID) (Account, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.live[id]
	return a, ok
}

// overlay replaces the sums of rows read from the table with live ones.
func (s *sumState) overlay(as []Account) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := range as {
		if a, ok := s.live[as[i].ID]; ok {
			as[i] = a
		}
	}
}

// recoverSums replays the transfers after flushed_seq into the rows of the accounts they
// touch (each only past its own sums_seq) and sets flushed_seq to the last seq, inside
// tx. After it the rows are the truth and live is ignored for the rest of tx.
func (l *Ledger) recoverSums(ctx context.Context, tx *db.Tx, ts *txSums) error {
	var from, top int64
	if err := tx.QueryRowContext(ctx, `SELECT flushed_seq, (SELECT COALESCE(MAX(seq), 0) FROM ledger_transfers) FROM ledger_state WHERE id = 1`).
		Scan(&from, &top); err != nil {
		return fmt.Errorf("recover sums: read positions: %w", err)
	}
	type effect struct {
		seq              int64
		dp, dpo, cp, cpo int64
	}
	effects := map[uuid.UUID][]effect{}
	if top > from {
		rows, err := tx.QueryContext(ctx, `SELECT t.seq, t.debit_account_id, t.credit_account_id, t.flags, t.amount, COALESCE(p.amount, 0)
			FROM ledger_transfers t LEFT JOIN ledger_pending p ON p.id = t.pending_id AND (t.flags & 12) <> 0
			WHERE t.seq > $1 ORDER BY t.seq`, from)
		if err != nil {
			return fmt.Errorf("recover sums: read transfers: %w", err)
		}
		err = func() error {
			defer rows.Close()
			for rows.Next() {
				var seq, amount, held int64
				var flags TransferFlags
				var drb, crb []byte
				if err := rows.Scan(&seq, &drb, &crb, &flags, &amount, &held); err != nil {
					return err
				}
				dr, err1 := scanID(drb)
				cr, err2 := scanID(crb)
				if err1 != nil || err2 != nil {
					return fmt.Errorf("transfer %d: bad account id", seq)
				}
				var pending, posted int64
				switch {
				case flags&Pending != 0:
					pending = amount
				case flags&PostPending != 0:
					pending, posted = -held, amount
				case flags&VoidPending != 0:
					pending = -held
				default:
					posted = amount
				}
				effects[dr] = append(effects[dr], effect{seq: seq, dp: pending, dpo: posted})
				effects[cr] = append(effects[cr], effect{seq: seq, cp: pending, cpo: posted})
			}
			return rows.Err()
		}()
		if err != nil {
			return fmt.Errorf("recover sums: read transfers: %w", err)
		}
	}
	ids := make([]uuid.UUID, 0, len(effects))
	for id := range effects {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return lessID(ids[i], ids[j]) })
	seqs := map[uuid.UUID]int64{}
	got := map[uuid.UUID]*acct{}
	if err := l.st.loadAccountsSeq(ctx, tx, ids, got, seqs); err != nil {
		return fmt.Errorf("recover sums: %w", err)
	}
	rows := make([]*acct, 0, len(ids))
	ts.recovered = make(map[uuid.UUID]Account, len(ids))
	for _, id := range ids {
		a := got[id]
		if a == nil {
			return fmt.Errorf("recover sums: transfer names missing account %s", id)
		}
		for _, e := range effects[id] {
			if e.seq <= seqs[id] {
				continue
			}
			a.DebitsPending += e.dp
			a.DebitsPosted += e.dpo
			a.CreditsPending += e.cp
			a.CreditsPosted += e.cpo
		}
		rows = append(rows, a)
		ts.recovered[id] = a.Account
	}
	if err := l.st.updateAccounts(ctx, tx, rows, top); err != nil {
		return fmt.Errorf("recover sums: write rows: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE ledger_state SET flushed_seq = $1 WHERE id = 1`, top); err != nil {
		return fmt.Errorf("recover sums: %w", err)
	}
	ts.ignoreLive, ts.newFlushed = true, top
	return nil
}

// flushAll writes every dirty row (Close), in its own transaction.
func (l *Ledger) flushAll(ctx context.Context) error {
	return l.d.InTx(ctx, func(tx *db.Tx) error {
		ts, err := l.acquire(ctx, tx)
		if err != nil {
			return err
		}
		top, err := l.st.queryInt(ctx, tx, sqlLastSeq)
		if err != nil {
			return fmt.Errorf("read last seq: %w", err)
		}
		return l.flush(ctx, tx, ts, nil, 0, true, top)
	})
}
