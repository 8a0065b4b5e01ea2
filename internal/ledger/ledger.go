// Package ledger is OKPay's double-entry engine: accounts with four running sums
// (debits/credits × pending/posted), immutable transfers between two accounts of one
// asset, two-phase holds (pending → posted in full or in part, voided, or expired by a
// timeout and the sweep), linked chains that apply all or nothing, and idempotency by a
// caller-chosen transfer id. It owns the ledger_* tables and nothing else; it knows
// nothing of users, HTTP or what a transfer is for (Code and Ref are opaque to it).
//
// # Committer
//
// Submit queues a caller's transfers for the one committer of the process. The committer
// takes whatever is queued (up to Options.MaxBatch transfers, without waiting for more),
// reads the touched accounts (on PostgreSQL locked FOR UPDATE in id order, so several nodes
// on one database never deadlock and never lose an update), applies the transfers in order
// in memory, and writes the batch in one database transaction: a bulk insert of the
// transfers, the pending rows, and one update per touched account. Only after the commit
// is any caller answered, each with its own results. A batch that fails at the database
// level is retried (bounded) and, if it still fails, re-run one call at a time so a call
// that cannot be written fails only itself; a caller whose call fails that way gets an
// error and may resubmit the same ids, which is always safe. A failed transfer (any code
// but OK) leaves no trace, so the same id may be submitted again once the cause is fixed.
//
// # Inside a business transaction
//
// The wallet sometimes needs a transfer to commit or roll back together with its own rows
// (an order marked paid and the payment). SubmitTx and CreateAccountsTx run the same
// rules on the caller's *db.Tx instead of the committer. They take the same account locks
// in the same order, so they are safe next to the committer and other nodes, but they pay
// one transaction per call (about 1.7k/s on SQLite, see docs/PERFORMANCE.md) and, on
// PostgreSQL, hold account locks until the caller commits: a hot account serialises on
// them. Use them for the few flows that need atomicity with other tables; use Submit for
// everything else (write the business row first, then Submit with a transfer id derived
// from it, so a retry is idempotent). Call SubmitTx at most once per transaction: two
// calls would take two lock sets, not in one global order.
//
// # History
//
// TransfersByAccount pages through an account's transfers, newest first. On PostgreSQL
// ledger_transfers is indexed by (debit account, time) and (credit account, time). On
// SQLite an (account, time) index costs ~4× the throughput (each batch dirties index pages
// all over the tree), so transfers are appended in commit order (seq) and a merger
// goroutine writes them every Options.MergeEvery transfers (committer batches and, checked
// after each sweep, SubmitTx) into a history file of its own
// (okpay-history.db, derived data): one block per touched account per merge, holding that
// account's sorted (time, id) entries (see history.go). Lookups read the blocks plus the
// short unmerged tail, kept in memory.
//
// # SQLite rows
//
// On SQLite a transfer is a row of ledger_transfer_rows: seq, id, the integers, and one
// blob packing the accounts, asset, ref and pending id (packTransfer; binding values is
// most of what an insert costs the pure-Go driver). The view ledger_transfers shows the
// old columns, so reads and reconcile are plain SQL (migration 0051).
package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"okpay/internal/db"
)

// Errors returned besides per-transfer result codes.
var (
	// ErrClosed: the ledger is closed or not started; nothing was queued.
	ErrClosed = errors.New("ledger: closed")
	// ErrTooLarge: one call carries more than Options.MaxBatch transfers or accounts;
	// nothing was applied.
	ErrTooLarge = errors.New("ledger: too many transfers in one call")
	// ErrNotFound: no account or transfer with that id.
	ErrNotFound = errors.New("ledger: not found")
	// ErrBadCursor: a history cursor that this package did not produce.
	ErrBadCursor = errors.New("ledger: invalid cursor")
)

// Options tune the committer. Zero values take the defaults.
type Options struct {
	// MaxBatch caps transfers per database transaction and per Submit call (8,192).
	MaxBatch int
	// QueueLen caps calls waiting for the committer (16,384); Submit blocks, bounded by
	// its context, while the queue is full.
	QueueLen int
	// SweepEvery is how often the background sweep voids expired holds (1s); negative
	// disables the loop (SweepExpired can still be called).
	SweepEvery time.Duration
	// SweepLimit caps holds expired per sweep transaction (1,000).
	SweepLimit int
	// MergeEvery (SQLite) is how many transfers the committer gathers before handing
	// them to the history merger (65,536). Until merged, lookups read them from memory.
	// Transfers written through SubmitTx count too: after each sweep, once this many are
	// past the last merge, the merger reads them from the table (so with the sweep off,
	// SubmitTx-only writers merge at Start and Close only).
	MergeEvery int
	Logger     *slog.Logger
}

func (o *Options) defaults() {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 8192
	}
	if o.QueueLen <= 0 {
		o.QueueLen = 16384
	}
	if o.SweepEvery == 0 {
		o.SweepEvery = time.Second
	}
	if o.SweepLimit <= 0 {
		o.SweepLimit = 1000
	}
	if o.MergeEvery <= 0 {
		o.MergeEvery = 65536
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Ledger is the engine over one database. Create with New, then Start; Close drains.
type Ledger struct {
	d    *db.DB
	opts Options
	st   *store

	queue chan *call

	// mu guards closed and started, and makes Close wait for Submit calls that are
	// between checking closed and queueing.
	mu      sync.RWMutex
	closed  bool
	started bool

	stop     chan struct{}
	loopDone chan struct{}
	bgDone   sync.WaitGroup

	// unmerged counts transfers written by this committer since the last merge (SQLite).
	unmerged int
	// lastSeq is the seq of the last transfer the committer wrote (SQLite).
	lastSeq int64
	// handedTop is the top of the last merge job handed to the merger (SQLite).
	handedTop int64
	// hist is the history file and mergeCh feeds its merger (SQLite; see history.go).
	hist       *histDB
	mergeCh    chan *mergeJob
	mergerDone chan struct{}
	// sums holds account sums in memory (SQLite only; nil on PostgreSQL; see sums.go).
	sums *sumState
	// tail holds the history entries written since the last hand-off to the merger and
	// pending the jobs handed off but not yet merged (SQLite); lookups read both under
	// tailMu, only the committer writes tail.
	tailMu  sync.RWMutex
	tail    tail
	pending []*mergeJob

	// syncCh takes committed batches to the syncer, which answers their calls
	// once the log is on disk (see syncer).
	syncCh   chan []*call
	syncDone chan struct{}
	// syncPending counts batches handed to the syncer and not yet answered; syncIdle
	// gets a signal each time it drops to zero.
	syncPending atomic.Int64
	syncIdle    chan struct{}

	stats Stats
}

// Stats are cumulative committer counters, for benchmarks and metrics.
type Stats struct {
	mu                 sync.Mutex
	Batches, Transfers int64
	Merges             int64
	MergeTime          time.Duration
	Retries            int64
}

type callKind int

const (
	kindSubmit callKind = iota
	kindSweep
)

type call struct {
	kind      callKind
	transfers []Transfer
	results   []Result
	swept     int
	err       error
	done      chan struct{}
}

// New returns a ledger over d, which must be migrated. It does no I/O; call Start. Errors:
// only for a nil d.
func New(d *db.DB, opts Options) (*Ledger, error) {
	if d == nil {
		return nil, errors.New("ledger: nil database")
	}
	opts.defaults()
	l := &Ledger{
		d:        d,
		opts:     opts,
		st:       newStore(d),
		queue:    make(chan *call, opts.QueueLen),
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	l.tail.reset()
	if d.Engine == db.SQLite {
		l.sums = newSumState()
		l.sums.afterCommit = l.transfersStored
	}
	return l, nil
}

// transfersStored reports whether every transfer SubmitTx wrote in ts's transaction is
// in the database after its commit.
func (l *Ledger) transfersStored(ts *txSums) bool {
	ctx := context.Background()
	n := 0
	for lo := 0; lo < len(ts.inserted); lo += 256 {
		part := ts.inserted[lo:min(lo+256, len(ts.inserted))]
		args := make([]any, len(part))
		for i := range part {
			args[i] = part[i]
		}
		var c int
		if err := l.d.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM ledger_transfers WHERE id IN (`+qmarks(len(part))+`)`, args...).Scan(&c); err != nil {
			l.opts.Logger.Error("ledger: check transfers after commit", "err", err)
			return false
		}
		n += c
	}
	return n == len(ts.inserted)
}

// Start prepares the committer's statements, merges any unmerged history (SQLite) and
// starts the committer and the sweep loop. Errors: Start called twice or after Close, or a
// database error (nothing started).
func (l *Ledger) Start(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started || l.closed {
		return errors.New("ledger: Start called twice or after Close")
	}
	if err := l.st.prepareAll(ctx); err != nil {
		return fmt.Errorf("start ledger: %w", err)
	}
	if !l.st.pg {
		// Bring the rows up to date after a crash before anyone reads them.
		if err := l.d.InTx(ctx, func(tx *db.Tx) error {
			_, err := l.acquire(ctx, tx)
			return err
		}); err != nil {
			return fmt.Errorf("start ledger: %w", err)
		}
		h, err := openHistory(ctx, l.d)
		if err != nil {
			return fmt.Errorf("start ledger: %w", err)
		}
		l.hist = h
		// Catch the history up with everything written before (a large first merge
		// after the file was lost) before taking calls.
		if err := l.merge(ctx, &mergeJob{top: -1, broken: true}); err != nil {
			h.close()
			l.hist = nil
			return fmt.Errorf("start ledger: %w", err)
		}
		l.mergeCh = make(chan *mergeJob, 1)
		l.mergerDone = make(chan struct{})
		go l.merger()
	}
	l.syncCh = make(chan []*call, syncQueue)
	l.syncDone = make(chan struct{})
	l.syncIdle = make(chan struct{}, 1)
	go l.syncer()
	l.started = true
	go l.loop()
	if l.opts.SweepEvery > 0 {
		l.bgDone.Add(1)
		go l.sweepLoop()
	}
	return nil
}

// Close stops taking calls, answers every queued call (committing it), stops the sweep and
// returns. Nothing acknowledged is lost and nothing queued is dropped without an answer;
// calls after Close get ErrClosed. Errors: the final history merge's database error (the
// ledger is closed anyway; the next Start merges). The caller closes the database after.
func (l *Ledger) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	started := l.started
	l.mu.Unlock()
	close(l.stop)
	l.bgDone.Wait()
	if started {
		// No Submit can be sending now (they hold mu.RLock while sending and saw closed),
		// so closing the queue lets the loop drain it and exit.
		close(l.queue)
		<-l.loopDone
		close(l.syncCh)
		<-l.syncDone
	}
	var err error
	if started && !l.st.pg {
		err = l.flushAll(context.Background())
		done := make(chan error, 1)
		l.mergeCh <- &mergeJob{top: -1, broken: true, done: done}
		err = errors.Join(err, <-done)
		close(l.mergeCh)
		<-l.mergerDone
		l.hist.close()
	}
	l.st.close()
	return err
}

// StatsSnapshot returns a copy of the committer counters.
func (l *Ledger) StatsSnapshot() Stats {
	l.stats.mu.Lock()
	defer l.stats.mu.Unlock()
	return Stats{Batches: l.stats.Batches, Transfers: l.stats.Transfers, Merges: l.stats.Merges,
		MergeTime: l.stats.MergeTime, Retries: l.stats.Retries}
}

// enqueue hands c to the committer and waits for its answer. If ctx ends first the call
// may still be applied later; resubmitting the same ids tells the outcome.
func (l *Ledger) enqueue(ctx context.Context, c *call) error {
	l.mu.RLock()
	if l.closed || !l.started {
		l.mu.RUnlock()
		return ErrClosed
	}
	select {
	case l.queue <- c:
		l.mu.RUnlock()
	case <-ctx.Done():
		l.mu.RUnlock()
		return fmt.Errorf("ledger: queue full: %w", ctx.Err())
	}
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return fmt.Errorf("ledger: waiting for commit (the call may still be applied): %w", ctx.Err())
	}
}

// Submit applies one caller's transfers in order through the committer and returns one
// Result per transfer, after the batch holding them committed. Linked chains end within
// the call. Per-transfer outcomes are result codes (see Code), never errors. Errors:
// ErrClosed, ErrTooLarge, the context's error (the call may still be applied), or a
// database error after retries (nothing of this call was applied unless the error came
// from the commit itself; resubmitting the same ids is always safe).
func (l *Ledger) Submit(ctx context.Context, transfers []Transfer) ([]Result, error) {
	if len(transfers) == 0 {
		return nil, nil
	}
	if len(transfers) > l.opts.MaxBatch {
		return nil, ErrTooLarge
	}
	c := &call{kind: kindSubmit, transfers: transfers, results: make([]Result, len(transfers)), done: make(chan struct{})}
	if err := l.enqueue(ctx, c); err != nil {
		return nil, err
	}
	return c.results, nil
}

// SubmitTx applies transfers inside the caller's transaction tx, with the same rules and
// locks as the committer (see the package doc for when to use it). Results hold only if
// tx commits. Errors: ErrTooLarge, or a database error (the caller should roll back).
func (l *Ledger) SubmitTx(ctx context.Context, tx *db.Tx, transfers []Transfer) ([]Result, error) {
	if len(transfers) > l.opts.MaxBatch {
		return nil, ErrTooLarge
	}
	results := make([]Result, len(transfers))
	var ts *txSums
	if l.sums != nil {
		var err error
		if ts, err = l.acquire(ctx, tx); err != nil {
			return nil, fmt.Errorf("submit in transaction: %w", err)
		}
	}
	b, err := l.decide(ctx, tx, ts, []*call{{transfers: transfers, results: results}}, decideOpts{checkExisting: true})
	if err != nil {
		return nil, err
	}
	if err := l.st.write(ctx, tx, b); err != nil {
		return nil, fmt.Errorf("submit in transaction: %w", err)
	}
	if ts != nil {
		ts.noteChanges(b)
		for _, t := range b.inserts {
			ts.inserted = append(ts.inserted, t.ID[:])
		}
	}
	return results, nil
}

// loop is the committer: one goroutine, one batch at a time.
func (l *Ledger) loop() {
	defer close(l.loopDone)
	var carry *call
	for {
		var first *call
		if carry != nil {
			first, carry = carry, nil
		} else {
			var ok bool
			first, ok = <-l.queue
			if !ok {
				return
			}
		}
		if first.kind == kindSweep {
			l.runSweep(first)
			l.catchUpHistory()
			continue
		}
		calls := []*call{first}
		n := len(first.transfers)
		drain := func() {
			for n < l.opts.MaxBatch && carry == nil {
				select {
				case c, ok := <-l.queue:
					if !ok {
						return
					}
					if c.kind != kindSubmit || n+len(c.transfers) > l.opts.MaxBatch {
						carry = c
						return
					}
					calls = append(calls, c)
					n += len(c.transfers)
				default:
					return
				}
			}
		}
		drain()
		if carry == nil && n < smallBatch && l.awaitSync() {
			// A batch committed now would be answered after the next flush anyway,
			// which cannot start before the one in progress ends; meanwhile the calls
			// answered by that one come back. Taking them too costs this batch's
			// callers nothing and saves the per-batch work (without it batches shrank
			// to ~18 transfers at per call 1 and commit, flush and statements were a
			// third of the committer).
			drain()
		}
		l.commit(calls, n)
		if !l.st.pg && l.unmerged >= l.opts.MergeEvery {
			// Past four merges' worth the merger is far behind: wait for it rather than
			// let the tail (and every history lookup's scan of it) grow without bound.
			l.handOffTail(l.unmerged >= maxTailFactor*l.opts.MergeEvery)
		}
	}
}

// syncQueue bounds committed batches waiting for the syncer; past it the committer waits.
const syncQueue = 64

// smallBatch: below this many transfers the committer waits for a flush in progress
// before committing (see loop).
const smallBatch = 32

// awaitSync waits until the syncer has answered every batch handed to it, if any is
// waiting, and reports whether it waited.
func (l *Ledger) awaitSync() bool {
	select {
	case <-l.syncIdle: // a stale signal from an earlier round
	default:
	}
	if l.syncPending.Load() == 0 {
		return false
	}
	<-l.syncIdle
	return true
}

// syncer answers committed batches once their log records are on disk. The committer
// commits without waiting for the flush (db.InTxSyncLater: synchronous=NORMAL on SQLite,
// synchronous_commit off on PostgreSQL) and goes on with the next batch while this
// goroutine runs one flush (db.SyncLog) for every batch committed meanwhile: the fsync,
// most of a batch's time at large batches, no longer stalls the committer. A
// failed fsync leaves durability unknown: those calls get the error (resubmitting the
// same ids tells their outcome), and so does every later one.
func (l *Ledger) syncer() {
	defer close(l.syncDone)
	var failed error
	for first := range l.syncCh {
		groups := [][]*call{first}
	gather:
		for {
			select {
			case g, ok := <-l.syncCh:
				if !ok {
					break gather
				}
				groups = append(groups, g)
			default:
				break gather
			}
		}
		if failed == nil {
			if err := syncLog(l.d); err != nil {
				failed = fmt.Errorf("ledger: commit may not be durable: %w", err)
				l.opts.Logger.Error("ledger: fsync of the log failed; failing every later call", "err", err)
			}
		}
		for _, g := range groups {
			for _, c := range g {
				c.err = failed
				close(c.done)
			}
		}
		if l.syncPending.Add(-int64(len(groups))) == 0 {
			select {
			case l.syncIdle <- struct{}{}:
			default:
			}
		}
	}
}

// syncLog is the syncer's fsync; tests wrap it.
var syncLog = func(d *db.DB) error { return d.SyncLog() }

// maxBatchAttempts bounds whole-batch retries for failures caused by other writers (a
// duplicate id inserted by another node between our read and our insert).
const maxBatchAttempts = 3

// commit writes calls in one transaction and answers them.
func (l *Ledger) commit(calls []*call, n int) {
	ctx := context.Background()
	var err error
	for attempt := 0; attempt < maxBatchAttempts; attempt++ {
		var b *batch
		// The first attempt does not look up the batch's ids: the unique index refuses a
		// duplicate anyway, and duplicates are rare (retries), so paying one failed
		// attempt for them is cheaper than an index probe per transfer on SQLite and a
		// round trip per batch on PostgreSQL.
		opts := decideOpts{checkExisting: attempt > 0}
		// Committed without waiting for the disk; the syncer answers after SyncLog.
		err = l.d.InTxSyncLater(ctx, func(tx *db.Tx) error {
			var ts *txSums
			if l.sums != nil {
				var err error
				if ts, err = l.acquire(ctx, tx); err != nil {
					return err
				}
			}
			var err error
			b, err = l.decide(ctx, tx, ts, calls, opts)
			if err != nil {
				return err
			}
			if !opts.checkExisting {
				// A stored transfer sent again must answer Exists even when it would now
				// fail (funds spent, pending already posted by it): the unique index only
				// catches the ones that would succeed. Failures are rare, so look up
				// just those.
				if err := l.recheckFailures(ctx, tx, calls); err != nil {
					return err
				}
			}
			if err := l.st.write(ctx, tx, b); err != nil {
				return err
			}
			if ts == nil || len(b.inserts) == 0 {
				return nil
			}
			ts.noteChanges(b)
			return l.flush(ctx, tx, ts, nil, l.sums.flushCount(len(b.inserts)), false, b.firstSeq+int64(len(b.inserts))-1)
		})
		if err == nil {
			if !l.st.pg {
				l.unmerged += len(b.inserts)
				l.recordTail(b)
				if len(b.inserts) > 0 {
					l.lastSeq = b.firstSeq + int64(len(b.inserts)) - 1
				}
			}
			l.stats.mu.Lock()
			l.stats.Batches++
			l.stats.Transfers += int64(n)
			l.stats.mu.Unlock()
			l.syncPending.Add(1)
			l.syncCh <- calls
			return
		}
		if !db.IsUniqueViolation(err) && !errors.Is(err, errRecheck) {
			break
		}
		l.stats.mu.Lock()
		l.stats.Retries++
		l.stats.mu.Unlock()
	}
	if len(calls) > 1 {
		// Isolate the call that cannot be written: the others must not fail with it.
		l.opts.Logger.Warn("ledger: batch failed, retrying call by call", "calls", len(calls), "err", err)
		for _, c := range calls {
			l.commit([]*call{c}, len(c.transfers))
		}
		return
	}
	for _, c := range calls {
		c.err = fmt.Errorf("ledger: commit batch: %w", err)
		close(c.done)
	}
}

// decide loads what the calls touch and applies them in memory, filling their results.
// errRecheck asks commit to run the batch again with existing ids looked up.
var errRecheck = errors.New("ledger: batch holds ids already stored")

func (l *Ledger) recheckFailures(ctx context.Context, tx *db.Tx, calls []*call) error {
	var ids []uuid.UUID
	for _, c := range calls {
		for i, r := range c.results {
			if r.Code != OK && c.transfers[i].ID != uuid.Nil {
				ids = append(ids, c.transfers[i].ID)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	found := map[uuid.UUID]*Transfer{}
	if err := l.st.loadTransfers(ctx, tx, dedupe(ids), found); err != nil {
		return err
	}
	if len(found) > 0 {
		return errRecheck
	}
	return nil
}

type decideOpts struct {
	// checkExisting looks up the batch's transfer ids; without it duplicates of stored
	// transfers are left to the unique index (and a retry with the check).
	checkExisting bool
}

// decide loads what the calls touch and applies them in memory, filling their results. ts
// (SQLite) supplies the accounts' sums; nil reads them from the rows (PostgreSQL, locked).
func (l *Ledger) decide(ctx context.Context, tx *db.Tx, ts *txSums, calls []*call, opts decideOpts) (*batch, error) {
	n := 0
	for _, c := range calls {
		n += len(c.transfers)
	}
	b := newBatch(tx.NowMicros(), n)
	var tIDs, pIDs []uuid.UUID
	acctSet := make(map[uuid.UUID]struct{}, 2*n)
	for _, c := range calls {
		for i := range c.transfers {
			t := &c.transfers[i]
			if opts.checkExisting && t.ID != uuid.Nil {
				tIDs = append(tIDs, t.ID)
			}
			if t.Flags&(PostPending|VoidPending) != 0 && t.PendingID != uuid.Nil {
				pIDs = append(pIDs, t.PendingID)
			}
			if t.DebitAccountID != uuid.Nil {
				acctSet[t.DebitAccountID] = struct{}{}
			}
			if t.CreditAccountID != uuid.Nil {
				acctSet[t.CreditAccountID] = struct{}{}
			}
		}
	}
	pIDs = dedupe(pIDs)
	// Pending rows first, unlocked, only to learn which accounts they touch (immutable).
	if err := l.st.loadPendings(ctx, tx, pIDs, b.pendings); err != nil {
		return nil, err
	}
	for _, p := range b.pendings {
		acctSet[p.debit] = struct{}{}
		acctSet[p.credit] = struct{}{}
	}
	ids := make([]uuid.UUID, 0, len(acctSet))
	for id := range acctSet {
		ids = append(ids, id)
	}
	if ts == nil {
		// The one lock order of every node (PostgreSQL). SQLite has one writer and no
		// row locks, and sorting was 3 % of its committer.
		sort.Slice(ids, func(i, j int) bool { return lessID(ids[i], ids[j]) })
	}
	if ts != nil {
		if err := l.accountsFor(ctx, tx, ts, ids, b.accounts); err != nil {
			return nil, err
		}
	} else if err := l.st.loadAccounts(ctx, tx, ids, b.accounts); err != nil {
		return nil, err
	}
	if l.st.pg && len(pIDs) > 0 {
		// Now that the accounts are locked, re-read the pending states: another node may
		// have posted or voided one before we got the locks.
		clear(b.pendings)
		if err := l.st.loadPendings(ctx, tx, pIDs, b.pendings); err != nil {
			return nil, err
		}
	}
	if opts.checkExisting {
		if err := l.st.loadTransfers(ctx, tx, dedupe(tIDs), b.existing); err != nil {
			return nil, err
		}
	}
	for _, c := range calls {
		b.applyCall(c.transfers, c.results)
	}
	return b, nil
}

func dedupe(ids []uuid.UUID) []uuid.UUID {
	if len(ids) < 2 {
		return ids
	}
	seen := make(map[uuid.UUID]struct{}, len(ids))
	out := ids[:0]
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}
