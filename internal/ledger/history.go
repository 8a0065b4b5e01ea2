package ledger

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"

	"okpay/internal/db"
)

// SQLite account history. ledger_transfers is append-only in commit order (seq) with no
// index by account. Every Options.MergeEvery transfers the committer merges the tail
// (seq > ledger_state.merged_seq) into ledger_history_blocks: for each account touched,
// one row holding that merge's (time, transfer id) entries, packed and sorted. Lookups
// read the account's blocks newest first, plus a scan of the short unmerged tail.
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
type tail struct {
	byAccount map[uuid.UUID][]histEntry
	minSeq    int64 // lowest seq recorded; 0 when empty
	count     int64 // transfers recorded
	broken    bool  // a gap is known (e.g. the tail outgrew its bound)
}

func (t *tail) reset() {
	t.byAccount = map[uuid.UUID][]histEntry{}
	t.minSeq, t.count, t.broken = 0, 0, false
}

// maxTailFactor bounds the in-memory tail at this many times MergeEvery transfers.
const maxTailFactor = 4

func (l *Ledger) recordTail(b *batch) {
	t := &l.tail
	if t.broken || len(b.inserts) == 0 {
		return
	}
	if t.count+int64(len(b.inserts)) > int64(maxTailFactor*l.opts.MergeEvery) {
		t.broken = true
		t.byAccount = map[uuid.UUID][]histEntry{}
		return
	}
	if t.count == 0 {
		t.minSeq = b.firstSeq
	}
	for i, tr := range b.inserts {
		e := histEntry{at: tr.CreatedAt.UnixMicro(), id: tr.ID, seq: b.firstSeq + int64(i)}
		t.byAccount[tr.DebitAccountID] = append(t.byAccount[tr.DebitAccountID], e)
		t.byAccount[tr.CreditAccountID] = append(t.byAccount[tr.CreditAccountID], e)
	}
	t.count += int64(len(b.inserts))
}

const sqlInsertBlocks1 = `INSERT INTO ledger_history_blocks (account_id, max_at, first_seq, min_at, entries) VALUES `

func sqlInsertBlocks(n int) string { return sqlInsertBlocks1 + valuesList(n, 5) }

// merge moves the unmerged tail of ledger_transfers into ledger_history_blocks in one
// transaction (SQLite only).
func (l *Ledger) merge(ctx context.Context) error {
	start := time.Now()
	var moved int64
	err := l.d.InTx(ctx, func(tx *db.Tx) error {
		var merged, top int64
		if err := tx.QueryRowContext(ctx, `SELECT merged_seq FROM ledger_state WHERE id = 1`).Scan(&merged); err != nil {
			return fmt.Errorf("read merge position: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM ledger_transfers`).Scan(&top); err != nil {
			return fmt.Errorf("read last seq: %w", err)
		}
		if top <= merged {
			return nil
		}
		t := &l.tail
		byAccount := t.byAccount
		if t.broken || t.count != top-merged || (t.count > 0 && t.minSeq != merged+1) {
			var err error
			if byAccount, err = readTail(ctx, tx, merged, top); err != nil {
				return err
			}
		}
		accounts := make([]uuid.UUID, 0, len(byAccount))
		for a := range byAccount {
			accounts = append(accounts, a)
		}
		// Account order keeps the inserts moving forward through the B-tree.
		sort.Slice(accounts, func(i, j int) bool { return lessID(accounts[i], accounts[j]) })
		var args []any
		for _, a := range accounts {
			es := byAccount[a]
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
		const cols = 5
		if err := forChunks(len(args)/cols, func(lo, hi int) error {
			return l.st.exec(ctx, tx, sqlInsertBlocks(hi-lo), args[lo*cols:hi*cols]...)
		}); err != nil {
			return fmt.Errorf("write history blocks: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE ledger_state SET merged_seq = $1 WHERE id = 1`, top); err != nil {
			return fmt.Errorf("merge history: %w", err)
		}
		moved = top - merged
		return nil
	})
	if err != nil {
		return err
	}
	l.unmerged = 0
	l.tail.reset()
	if moved > 0 {
		l.stats.mu.Lock()
		l.stats.Merges++
		l.stats.MergeTime += time.Since(start)
		l.stats.mu.Unlock()
	}
	return nil
}

// historySQLite returns up to want of account's transfers with lo <= at <= hi, before
// cursor c, newest first: from the merged blocks and the unmerged tail.
func (l *Ledger) historySQLite(ctx context.Context, tx *db.Tx, account uuid.UUID, lo, hi int64, c cursor, want int) ([]Transfer, error) {
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
	rows, err := tx.QueryContext(ctx, `SELECT max_at, entries FROM ledger_history_blocks
		WHERE account_id = $1 AND max_at >= $2 AND min_at <= $3 ORDER BY max_at DESC, first_seq DESC`, account[:], lo, hi)
	if err != nil {
		return nil, fmt.Errorf("read history blocks: %w", err)
	}
	err = func() error {
		defer rows.Close()
		var maxAt int64
		var buf []byte
		for rows.Next() {
			if err := rows.Scan(&maxAt, &buf); err != nil {
				return err
			}
			// Blocks come newest max first: once we have enough entries all newer than
			// this block's newest, no later block can contribute.
			if len(cands) >= want && maxAt < cands[len(cands)-1].at {
				break
			}
			if len(buf)%entrySize != 0 {
				return fmt.Errorf("history block of %d bytes", len(buf))
			}
			for i := len(buf)/entrySize - 1; i >= 0; i-- {
				var e histEntry
				e.at = getAt(buf[i*entrySize:])
				copy(e.id[:], buf[i*entrySize+8:(i+1)*entrySize])
				if before(&e) {
					add(e)
				}
			}
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, fmt.Errorf("read history blocks: %w", err)
	}
	var merged int64
	if err := tx.QueryRowContext(ctx, `SELECT merged_seq FROM ledger_state WHERE id = 1`).Scan(&merged); err != nil {
		return nil, fmt.Errorf("read merge position: %w", err)
	}
	// The unmerged tail, scanned in seq (rowid) order: at most MergeEvery rows. Only
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
	need := make([]uuid.UUID, len(cands))
	for i, e := range cands {
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
	out := make([]Transfer, 0, len(cands))
	for _, e := range cands {
		if t := found[e.id]; t != nil {
			out = append(out, *t)
		} else {
			return nil, fmt.Errorf("history lists transfer %s, which is not stored", e.id)
		}
	}
	return out, nil
}

// readTail reads the history entries of transfers with merged < seq <= top.
func readTail(ctx context.Context, tx *db.Tx, merged, top int64) (map[uuid.UUID][]histEntry, error) {
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
