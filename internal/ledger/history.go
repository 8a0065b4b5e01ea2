package ledger

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"okpay/internal/db"
)

// SQLite account history. ledger_transfers is append-only in commit order (seq) with no
// index by account. Every Options.MergeEvery transfers the committer hands the tail to
// the merger, which writes into the history file (okpay-history.db), for each account
// touched, one block holding that merge's (time, transfer id) entries, packed and sorted.
// Lookups read the account's blocks newest first, plus the short unmerged tail.
//
// Why blocks: a merge of 65k transfers into (account, time, id) rows wrote 130k rows, and
// with the pure-Go driver the cost is per row, not per page; blocks write about one row
// per touched account (≤ the number of accounts, ~10k in the bench).

const (
	entrySize = 24
	// maxBlockEntries splits a hot account's entries into several rows, so one lookup
	// never decodes more than this per block.
	maxBlockEntries = 4096
)

type histEntry struct {
	at  int64
	id  uuid.UUID
	seq int64
}

func entryLess(a, b *histEntry) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return lessID(a.id, b.id)
}

// putAt encodes a time so bytes compare like the signed value.
func putAt(b []byte, at int64) { binary.BigEndian.PutUint64(b, uint64(at)^(1<<63)) }
func getAt(b []byte) int64     { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// tail is the committer's in-memory copy of the unmerged history entries it wrote, so a
// merge need not read them back. It is trusted only when it covers every seq in the merge
// range (nothing else inserted transfers: SubmitTx, another process); otherwise the
// merge reads the range from the table.
//
// Entries are kept flat, in commit order, and grouped by account only by the merger and
// filtered by lookups: a map of per-account slices cost the committer ~1 µs per transfer
// (7 % of it), a scan of the tail costs a lookup well under a millisecond.
type tail struct {
	entries []tailEntry
	minSeq  int64 // lowest seq recorded; 0 when empty
	count   int64 // transfers recorded
	broken  bool  // a gap is known (e.g. the tail outgrew its bound)
}

// tailEntry is one side of a transfer: account's history holds e.
type tailEntry struct {
	account uuid.UUID
	e       histEntry
}

func (t *tail) reset() {
	// A new slice (the old one went to the merger) sized like the last one.
	t.entries = make([]tailEntry, 0, cap(t.entries))
	t.minSeq, t.count, t.broken = 0, 0, false
}

// entriesOf returns account's entries among es.
func entriesOf(es []tailEntry, account uuid.UUID, into []histEntry) []histEntry {
	for i := range es {
		if es[i].account == account {
			into = append(into, es[i].e)
		}
	}
	return into
}

// groupByAccount is the merger's view of a job's entries.
func groupByAccount(es []tailEntry) map[uuid.UUID][]histEntry {
	m := map[uuid.UUID][]histEntry{}
	for i := range es {
		m[es[i].account] = append(m[es[i].account], es[i].e)
	}
	return m
}

// maxTailFactor bounds the in-memory tail at this many times MergeEvery transfers.
const maxTailFactor = 4

func (l *Ledger) recordTail(b *batch) {
	t := &l.tail
	if t.broken || len(b.inserts) == 0 {
		return
	}
	l.tailMu.Lock()
	defer l.tailMu.Unlock()
	// A gap (SubmitTx or another process wrote transfers since our last batch): the
	// entries no longer cover their seq range, which merge and lookups take them to.
	gap := t.count > 0 && b.firstSeq != t.minSeq+t.count
	if gap || t.count+int64(len(b.inserts)) > int64(maxTailFactor*l.opts.MergeEvery) {
		t.broken = true
		t.entries = nil
		t.count = 0
		return
	}
	if t.count == 0 {
		t.minSeq = b.firstSeq
	}
	for i, tr := range b.inserts {
		e := histEntry{at: tr.CreatedAt.UnixMicro(), id: tr.ID, seq: b.firstSeq + int64(i)}
		t.entries = append(t.entries, tailEntry{tr.DebitAccountID, e}, tailEntry{tr.CreditAccountID, e})
	}
	t.count += int64(len(b.inserts))
}

// The blocks live in their own SQLite file next to the main database (okpay-history.db),
// written by a merger goroutine on its own connection: a merge then runs on the other core
// and never holds the main database's one writer connection (merges used to stall the
// committer for 0.5–3 s under load, most of its p99). The file is derived data: its
// history_state.merged_seq says up to which transfer seq it holds the main database's
// history, so a lost or stale file is rebuilt from ledger_transfers; main_id ties it to
// one main database (a restored backup of okpay.db never trusts another's history file).
type histDB struct {
	w, r *sql.DB
}

// histVersion is the history file's layout (PRAGMA user_version); a file of another layout
// is dropped and rebuilt.
const histVersion = 2

// Blocks are appended in merge order (rowid) and found through a narrow index: a merge's
// ~10k block rows then append to the table and only the small index entries land all over
// its tree. Keyed by account instead, every merge rewrote most of the table's pages.
const histSchema = `
DROP TABLE IF EXISTS history_blocks;
DROP TABLE IF EXISTS history_state;
CREATE TABLE history_blocks (
	seq INTEGER PRIMARY KEY,
	account_id BLOB NOT NULL,
	max_at INTEGER NOT NULL,
	first_seq INTEGER NOT NULL,
	min_at INTEGER NOT NULL,
	-- n entries of 24 bytes: created_at (8 bytes, big-endian, sign bit flipped) then the
	-- transfer id (16 bytes), ascending.
	entries BLOB NOT NULL
);
CREATE INDEX history_blocks_account ON history_blocks (account_id, max_at, first_seq);
CREATE TABLE history_state (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	merged_seq INTEGER NOT NULL,
	main_id TEXT NOT NULL
);`

const metaHistoryID = "ledger.history_id"

// openHistory opens (creating if needed) the history file of the main database d and
// makes sure it belongs to d and is not ahead of it; otherwise it starts it over.
func openHistory(ctx context.Context, d *db.DB) (*histDB, error) {
	var mainPath string
	rows, err := d.W.QueryContext(ctx, `PRAGMA database_list`)
	if err != nil {
		return nil, fmt.Errorf("find database file: %w", err)
	}
	for rows.Next() {
		var seq int
		var name, file string
		if err := rows.Scan(&seq, &name, &file); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find database file: %w", err)
		}
		if name == "main" {
			mainPath = file
		}
	}
	rows.Close()
	if mainPath == "" {
		return nil, errors.New("history: the main database has no file")
	}
	path := strings.TrimSuffix(mainPath, filepath.Ext(mainPath)) + "-history.db"
	// synchronous=NORMAL: the file is rebuilt from the main database when its last
	// commits are lost, so it need not pay an fsync per merge.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open history: %w", err)
	}
	r.SetMaxOpenConns(8)
	h := &histDB{w: w, r: r}
	if err := h.check(ctx, d); err != nil {
		h.close()
		return nil, err
	}
	return h, nil
}

func (h *histDB) close() {
	h.w.Close()
	h.r.Close()
}

func (h *histDB) check(ctx context.Context, d *db.DB) error {
	var version int
	if err := h.w.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("history schema: %w", err)
	}
	if version != histVersion {
		if _, err := h.w.ExecContext(ctx, histSchema+fmt.Sprintf("\nPRAGMA user_version = %d;", histVersion)); err != nil {
			return fmt.Errorf("history schema: %w", err)
		}
	}
	mainID, ok, err := d.GetMeta(ctx, metaHistoryID)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if !ok {
		mainID = uuid.NewString()
		if err := d.InTx(ctx, func(tx *db.Tx) error { return db.SetMetaTx(ctx, tx, metaHistoryID, mainID) }); err != nil {
			return fmt.Errorf("history: %w", err)
		}
	}
	var top int64
	if err := d.R.QueryRowContext(ctx, sqlLastSeq).Scan(&top); err != nil {
		return fmt.Errorf("history: read last seq: %w", err)
	}
	var merged int64
	var owner string
	err = h.w.QueryRowContext(ctx, `SELECT merged_seq, main_id FROM history_state WHERE id = 1`).Scan(&merged, &owner)
	if err == nil && owner == mainID && merged <= top {
		return nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("history: read state: %w", err)
	}
	// Missing, another database's, or ahead of this one (an older backup restored):
	// start over; the first merge rebuilds it from the transfers.
	if _, err := h.w.ExecContext(ctx, `DELETE FROM history_blocks; DELETE FROM history_state;
		INSERT INTO history_state (id, merged_seq, main_id) VALUES (1, 0, ?)`, mainID); err != nil {
		return fmt.Errorf("history: reset: %w", err)
	}
	return nil
}

// mergeJob is a range of the transfer log to merge into history: (from, top], with the
// committer's in-memory entries when it recorded every transfer in that range.
type mergeJob struct {
	top     int64
	entries []tailEntry // read-only once handed off
	minSeq  int64
	count   int64
	broken  bool
	done    chan error // optional: answered after the merge
}

// handOffTail gives the committer's tail to the merger if it is idle (or waits when
// wait is set). It reports whether the tail was handed off. The job stays readable by
// history lookups (l.pending) until the merger has committed it.
func (l *Ledger) handOffTail(wait bool) bool {
	t := &l.tail
	if t.count == 0 && !t.broken {
		l.unmerged = 0
		return true
	}
	job := &mergeJob{top: t.minSeq + t.count - 1, entries: t.entries, minSeq: t.minSeq, count: t.count, broken: t.broken}
	if t.broken {
		job.top = l.lastSeq
	}
	if wait {
		l.mergeCh <- job
	} else {
		select {
		case l.mergeCh <- job:
		default:
			return false
		}
	}
	l.tailMu.Lock()
	if !job.broken {
		l.pending = append(l.pending, job)
	}
	l.tail.reset()
	l.tailMu.Unlock()
	l.unmerged = 0
	l.handedTop = max(l.handedTop, job.top)
	return true
}

// catchUpHistory runs on the committer after each sweep. Transfers written through
// SubmitTx (the wallet writes only that way) do not count towards MergeEvery, so with no
// committer batches nothing would merge them while the process runs: every history
// lookup would scan all of them in the table and the next Start would merge them all
// before taking calls. Once MergeEvery of them are past the last merge, the merger is
// handed the whole range to read from the table, if it is idle; otherwise the next sweep
// tries again.
func (l *Ledger) catchUpHistory() {
	if l.st.pg || l.hist == nil {
		return
	}
	var last int64
	if err := l.d.R.QueryRowContext(context.Background(), sqlLastSeq).Scan(&last); err != nil {
		l.opts.Logger.Error("ledger: history catch-up: read last seq", "err", err)
		return
	}
	if last-l.handedTop < int64(l.opts.MergeEvery) {
		return
	}
	// The range goes to the merger as "broken" (read from the table): the tail holds at
	// most the committer's own transfers in it.
	job := &mergeJob{top: last, broken: true}
	select {
	case l.mergeCh <- job:
	default:
		return // merger busy: nothing changed
	}
	l.tailMu.Lock()
	l.tail.reset()
	l.tailMu.Unlock()
	l.unmerged = 0
	l.handedTop = last
}

// memTail collects, under the tail lock, the in-memory history entries of account (from
// jobs not yet merged and the committer's tail) and the seq ranges they cover.
func (l *Ledger) memTail(account uuid.UUID) (entries []histEntry, ranges [][2]int64) {
	l.tailMu.RLock()
	defer l.tailMu.RUnlock()
	for _, j := range l.pending {
		entries = entriesOf(j.entries, account, entries)
		ranges = append(ranges, [2]int64{j.minSeq, j.minSeq + j.count - 1})
	}
	if t := &l.tail; !t.broken && t.count > 0 {
		entries = entriesOf(t.entries, account, entries)
		ranges = append(ranges, [2]int64{t.minSeq, t.minSeq + t.count - 1})
	}
	return entries, ranges
}

// coveredTo is the last seq such that every seq in (merged, coveredTo] is in ranges.
func coveredTo(merged int64, ranges [][2]int64) int64 {
	sort.Slice(ranges, func(i, j int) bool { return ranges[i][0] < ranges[j][0] })
	to := merged
	for _, r := range ranges {
		if r[0] > to+1 {
			break
		}
		to = max(to, r[1])
	}
	return to
}

// merger runs merge jobs until mergeCh closes.
func (l *Ledger) merger() {
	defer close(l.mergerDone)
	for job := range l.mergeCh {
		err := l.merge(context.Background(), job)
		if err == nil {
			// Merged and committed to the history file: lookups find it there now.
			l.tailMu.Lock()
			for i, p := range l.pending {
				if p == job {
					l.pending = append(l.pending[:i], l.pending[i+1:]...)
					break
				}
			}
			l.tailMu.Unlock()
		}
		if err != nil {
			// History lookups still see unmerged transfers (the tail scan); the next job
			// re-reads the range from the main database.
			l.opts.Logger.Error("ledger: history merge failed", "err", err)
		}
		if job.done != nil {
			job.done <- err
		}
	}
}

const sqlInsertBlocks1 = `INSERT INTO history_blocks (account_id, max_at, first_seq, min_at, entries) VALUES `

// merge writes the history of transfers up to job.top (or to the last one, for top < 0)
// into the history file, in one transaction there.
func (l *Ledger) merge(ctx context.Context, job *mergeJob) error {
	start := time.Now()
	h := l.hist
	var merged int64
	if err := h.w.QueryRowContext(ctx, `SELECT merged_seq FROM history_state WHERE id = 1`).Scan(&merged); err != nil {
		return fmt.Errorf("read merge position: %w", err)
	}
	top := job.top
	if top < 0 {
		if err := l.d.R.QueryRowContext(ctx, sqlLastSeq).Scan(&top); err != nil {
			return fmt.Errorf("read last seq: %w", err)
		}
	}
	if top <= merged {
		return nil
	}
	var byAccount map[uuid.UUID][]histEntry
	if job.broken || job.count != top-merged || (job.count > 0 && job.minSeq != merged+1) {
		var err error
		if byAccount, err = readTail(ctx, l.d.R, merged, top); err != nil {
			return err
		}
	} else {
		byAccount = groupByAccount(job.entries)
	}
	accounts := make([]uuid.UUID, 0, len(byAccount))
	for a := range byAccount {
		accounts = append(accounts, a)
	}
	// Account order keeps the inserts moving forward through the B-tree.
	sort.Slice(accounts, func(i, j int) bool { return lessID(accounts[i], accounts[j]) })
	var args []any
	for _, a := range accounts {
		es := byAccount[a] // the merger's own (lookups read job.entries)
		sort.Slice(es, func(i, j int) bool { return entryLess(&es[i], &es[j]) })
		for lo := 0; lo < len(es); lo += maxBlockEntries {
			part := es[lo:min(lo+maxBlockEntries, len(es))]
			buf := make([]byte, len(part)*entrySize)
			for i := range part {
				putAt(buf[i*entrySize:], part[i].at)
				copy(buf[i*entrySize+8:], part[i].id[:])
			}
			// first_seq: the seq of the block's first entry, unique per account
			// because each transfer appears once per account.
			args = append(args, a[:], part[len(part)-1].at, part[0].seq, part[0].at, buf)
		}
	}
	tx, err := h.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("merge history: %w", err)
	}
	defer tx.Rollback()
	const cols = 5
	// A few hundred rows per statement: one statement per row costs more than the row.
	for lo := 0; lo < len(args)/cols; lo += 200 {
		hi := min(lo+200, len(args)/cols)
		if _, err := tx.ExecContext(ctx, sqlInsertBlocks1+valuesList(hi-lo, cols), args[lo*cols:hi*cols]...); err != nil {
			return fmt.Errorf("write history blocks: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE history_state SET merged_seq = ? WHERE id = 1`, top); err != nil {
		return fmt.Errorf("merge history: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("merge history: commit: %w", err)
	}
	l.stats.mu.Lock()
	l.stats.Merges++
	l.stats.MergeTime += time.Since(start)
	l.stats.mu.Unlock()
	return nil
}

// historyBlocks reads, in one snapshot of the history file, how far it is merged and the
// account's blocks overlapping [lo, hi], newest first.
func (l *Ledger) historyBlocks(ctx context.Context, account uuid.UUID, lo, hi int64, visit func(maxAt int64, entries []byte) (more bool)) (merged int64, err error) {
	tx, err := l.hist.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("read history: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT merged_seq FROM history_state WHERE id = 1`).Scan(&merged); err != nil {
		return 0, fmt.Errorf("read merge position: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT max_at, entries FROM history_blocks INDEXED BY history_blocks_account
		WHERE account_id = ? AND max_at >= ? AND min_at <= ? ORDER BY max_at DESC, first_seq DESC`, account[:], lo, hi)
	if err != nil {
		return 0, fmt.Errorf("read history blocks: %w", err)
	}
	defer rows.Close()
	var maxAt int64
	var buf []byte
	for rows.Next() {
		if err := rows.Scan(&maxAt, &buf); err != nil {
			return 0, fmt.Errorf("read history blocks: %w", err)
		}
		if !visit(maxAt, buf) {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read history blocks: %w", err)
	}
	return merged, nil
}

// historySQLite returns up to want of account's transfers with lo <= at <= hi, before
// cursor c, newest first: from the merged blocks and the unmerged tail.
func (l *Ledger) historySQLite(ctx context.Context, account uuid.UUID, lo, hi int64, c cursor, want int) ([]Transfer, error) {
	before := func(e *histEntry) bool { // strictly before the cursor, inside the window
		if e.at < lo || e.at > hi {
			return false
		}
		return e.at < c.at || (e.at == c.at && lessID(e.id, c.id))
	}
	var cands []histEntry // kept sorted newest first, at most want
	add := func(e histEntry) {
		i := sort.Search(len(cands), func(i int) bool { return entryLess(&cands[i], &e) })
		if i >= want {
			return
		}
		cands = append(cands, histEntry{})
		copy(cands[i+1:], cands[i:])
		cands[i] = e
		if len(cands) > want {
			cands = cands[:want]
		}
	}
	var bad error
	if l.hist == nil {
		// Not started (or closed): no history file open, so scan every transfer.
		var out []Transfer
		err := l.d.Read(ctx, func(tx *db.Tx) error {
			var err error
			out, err = l.historyTail(ctx, tx, account, lo, hi, c, want, 0, &cands, add)
			return err
		})
		return out, err
	}
	// Memory first, then the history file: the merger drops a job from memory only
	// after committing it to the file, so nothing falls between the two reads.
	mem, ranges := l.memTail(account)
	merged, err := l.historyBlocks(ctx, account, lo, hi, func(maxAt int64, buf []byte) bool {
		// Blocks come newest max first: once we have enough entries all newer than this
		// block's newest, no later block can contribute.
		if len(cands) >= want && maxAt < cands[len(cands)-1].at {
			return false
		}
		if len(buf)%entrySize != 0 {
			bad = fmt.Errorf("history block of %d bytes", len(buf))
			return false
		}
		for i := len(buf)/entrySize - 1; i >= 0; i-- {
			var e histEntry
			e.at = getAt(buf[i*entrySize:])
			copy(e.id[:], buf[i*entrySize+8:(i+1)*entrySize])
			if before(&e) {
				add(e)
			}
		}
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return nil, err
	}
	// Unmerged transfers the committer still holds in memory; whatever they do not
	// cover (transfers written by SubmitTx or another process, or the last batch not yet
	// recorded) is scanned in the table.
	to := coveredTo(merged, ranges)
	for i := range mem {
		if e := &mem[i]; e.seq > merged && e.seq <= to && before(e) {
			add(*e)
		}
	}
	// The main database's snapshot starts after the history file's and the memory
	// read, so every transfer listed above is in it.
	var out []Transfer
	err = l.d.Read(ctx, func(tx *db.Tx) error {
		var err error
		out, err = l.historyTail(ctx, tx, account, lo, hi, c, want, to, &cands, add)
		return err
	})
	return out, err
}

// historyTail adds the unmerged tail's entries to the candidates and reads the page's
// transfers, in the main database's read transaction tx.
func (l *Ledger) historyTail(ctx context.Context, tx *db.Tx, account uuid.UUID, lo, hi int64, c cursor, want int, merged int64, cands *[]histEntry, add func(histEntry)) ([]Transfer, error) {
	// Transfers after from (what the history file and memory did not cover; usually a
	// batch or none), scanned in seq (rowid) order. Only
	// (time, id) here: for a hot account most of the tail matches, and sorting narrow rows
	// is much cheaper than whole transfers; the few kept are read by id below.
	trows, err := tx.QueryContext(ctx, `SELECT created_at, id FROM ledger_transfers
		WHERE seq > $1 AND (debit_account_id = $2 OR credit_account_id = $2) AND created_at >= $3 AND created_at <= $4
		AND (created_at < $5 OR id < $6)
		ORDER BY created_at DESC, id DESC LIMIT $7`, merged, account[:], lo, hi, c.at, c.id[:], want)
	if err != nil {
		return nil, fmt.Errorf("read history tail: %w", err)
	}
	err = func() error {
		defer trows.Close()
		var idb []byte
		for trows.Next() {
			var e histEntry
			if err := trows.Scan(&e.at, &idb); err != nil {
				return err
			}
			if len(idb) != 16 {
				return fmt.Errorf("stored id has %d bytes", len(idb))
			}
			copy(e.id[:], idb)
			add(e)
		}
		return trows.Err()
	}()
	if err != nil {
		return nil, fmt.Errorf("read history tail: %w", err)
	}
	cs := *cands
	need := make([]uuid.UUID, len(cs))
	for i, e := range cs {
		need[i] = e.id
	}
	// Read transaction on the reader pool: the writer's prepared statements do not apply.
	found := map[uuid.UUID]*Transfer{}
	if err := forChunks(len(need), func(lo, hi int) error {
		args := make([]any, 0, hi-lo)
		for i := lo; i < hi; i++ {
			args = append(args, need[i][:])
		}
		ts, err := queryTransfers(ctx, tx, sqlSelectIn(transferCols, "ledger_transfers", hi-lo), args...)
		for i := range ts {
			found[ts[i].ID] = &ts[i]
		}
		return err
	}); err != nil {
		return nil, fmt.Errorf("read history transfers: %w", err)
	}
	out := make([]Transfer, 0, len(cs))
	for _, e := range cs {
		if t := found[e.id]; t != nil {
			out = append(out, *t)
		} else {
			return nil, fmt.Errorf("history lists transfer %s, which is not stored", e.id)
		}
	}
	return out, nil
}

// readTail reads the history entries of transfers with merged < seq <= top.
func readTail(ctx context.Context, tx interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, merged, top int64) (map[uuid.UUID][]histEntry, error) {
	rows, err := tx.QueryContext(ctx, `SELECT seq, debit_account_id, credit_account_id, created_at, id FROM ledger_transfers WHERE seq > $1 AND seq <= $2`, merged, top)
	if err != nil {
		return nil, fmt.Errorf("read history tail: %w", err)
	}
	defer rows.Close()
	byAccount := map[uuid.UUID][]histEntry{}
	var dr, cr, id []byte
	var e histEntry
	for rows.Next() {
		if err := rows.Scan(&e.seq, &dr, &cr, &e.at, &id); err != nil {
			return nil, fmt.Errorf("read history tail: %w", err)
		}
		if len(dr) != 16 || len(cr) != 16 || len(id) != 16 {
			return nil, fmt.Errorf("read history tail: transfer seq %d: bad id length", e.seq)
		}
		copy(e.id[:], id)
		var a uuid.UUID
		copy(a[:], dr)
		byAccount[a] = append(byAccount[a], e)
		copy(a[:], cr)
		byAccount[a] = append(byAccount[a], e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history tail: %w", err)
	}
	return byAccount, nil
}
