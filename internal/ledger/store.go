package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"okpay/internal/db"
)

// This file is the ledger's SQL. Everything is portable except bulk statements: SQLite
// gets multi-row VALUES statements (prepared once per chunk size, because preparing a
// 256-row statement costs more than running it), PostgreSQL gets unnest($n::type[]) so
// a whole batch is one statement and one round trip.

// chunkSizes are the row counts of the prepared multi-row SQLite statements; a batch is
// cut greedily into these (powers of two: a batch of n rows takes at most log2 n
// statements, each of which has a fixed cost of tens of µs).
var chunkSizes = []int{256, 128, 64, 32, 16, 8, 4, 2, 1}

type store struct {
	d  *db.DB
	pg bool

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newStore(d *db.DB) *store {
	return &store{d: d, pg: d.Engine == db.Postgres, stmts: map[string]*sql.Stmt{}}
}

func (s *store) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, st := range s.stmts {
		st.Close()
		delete(s.stmts, k)
	}
}

// stmt returns query prepared on the write pool, bound to tx. On PostgreSQL pgx already
// caches prepared statements per connection, so this is SQLite's cache.
func (s *store) stmt(ctx context.Context, tx *db.Tx, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	st, ok := s.stmts[query]
	s.mu.Unlock()
	if !ok {
		// Not warmed by prepareAll: prepare on the transaction's own connection (asking
		// the pool would deadlock on SQLite's single writer connection, which tx holds).
		st, err := tx.PrepareContext(ctx, query)
		if err != nil {
			return nil, fmt.Errorf("prepare: %w", err)
		}
		return st, nil
	}
	return tx.StmtContext(ctx, st), nil
}

// prepareAll prepares, outside any transaction, every statement the SQLite committer runs
// in a batch, so batches never pay for preparing.
func (s *store) prepareAll(ctx context.Context) error {
	if s.pg {
		return nil
	}
	var qs []string
	for _, n := range chunkSizes {
		qs = append(qs, sqlSelectIn(accountCols, "ledger_accounts", n), sqlSelectIn(transferCols, "ledger_transfers", n),
			sqlSelectIn(pendingCols, "ledger_pending", n), sqlInsertTransfers(n), sqlInsertPendings(n), sqlUpdateAccounts(n))
	}
	qs = append(qs, sqlUpdatePending, sqlLastSeq, sqlDataVersion, sqlSetFlushed)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range qs {
		if _, ok := s.stmts[q]; ok {
			continue
		}
		st, err := s.d.W.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		s.stmts[q] = st
	}
	return nil
}

// memoSQL returns build(), computed once per key: the bulk statements' text was rebuilt
// for every chunk only to find the prepared statement (2 % of the committer's CPU).
func memoSQL(key sqlKey, build func() string) string {
	if q, ok := sqlMemo.Load(key); ok {
		return q.(string)
	}
	q := build()
	sqlMemo.Store(key, q)
	return q
}

type sqlKey struct {
	kind, table string
	n           int
}

var sqlMemo sync.Map

func sqlSelectIn(cols, table string, n int) string {
	return memoSQL(sqlKey{cols, table, n}, func() string {
		return `SELECT ` + cols + ` FROM ` + table + ` WHERE id IN (` + qmarks(n) + `)`
	})
}

// sqlInsertTransfers (SQLite) leaves seq to SQLite: with the one writer and no
// AUTOINCREMENT the rows get MAX(seq)+1, +2, … in VALUES order, which insertTransfers
// checks. Naming seq made SQLite seek for every row (5 % of the committer's CPU); an
// assigned rowid appends. Each row is the id, the integers and packTransfer's body.
func sqlInsertTransfers(n int) string {
	return memoSQL(sqlKey{"insert", "ledger_transfer_rows", n}, func() string {
		return `INSERT INTO ledger_transfer_rows (id, created_at, amount, code, flags, timeout_us, body) VALUES ` + valuesList(n, 7)
	})
}

func sqlInsertPendings(n int) string {
	return memoSQL(sqlKey{"insert", "ledger_pending", n}, func() string {
		return `INSERT INTO ledger_pending (` + pendingCols + `) VALUES ` + valuesList(n, 8)
	})
}

// sqlUpdateAccounts (SQLite) writes rows of sums as of seq column6 (see sums.go).
func sqlUpdateAccounts(n int) string {
	return memoSQL(sqlKey{"update", "ledger_accounts", n}, func() string { return sqlUpdateAccounts1(n) })
}

func sqlUpdateAccounts1(n int) string {
	return `UPDATE ledger_accounts SET debits_pending = v.column2, debits_posted = v.column3,
		credits_pending = v.column4, credits_posted = v.column5, sums_seq = v.column6
		FROM (VALUES ` + valuesList(n, 6) + `) AS v WHERE ledger_accounts.id = v.column1`
}

// Per-batch one-liners, prepared once like the rest (parsing them cost ~1 µs per transfer).
const (
	sqlLastSeq     = `SELECT COALESCE(MAX(seq), 0) FROM ledger_transfer_rows`
	sqlDataVersion = `PRAGMA data_version`
	sqlSetFlushed  = `UPDATE ledger_state SET flushed_seq = ? WHERE id = 1`
)

// queryInt runs a one-row, one-integer query on tx through the statement cache.
func (s *store) queryInt(ctx context.Context, tx *db.Tx, query string) (int64, error) {
	st, err := s.stmt(ctx, tx, query)
	if err != nil {
		return 0, err
	}
	var v int64
	err = st.QueryRowContext(ctx).Scan(&v)
	return v, err
}

const sqlUpdatePending = `UPDATE ledger_pending SET state = $1, resolved_by = $2, resolved_at = $3 WHERE id = $4`

func (s *store) exec(ctx context.Context, tx *db.Tx, query string, args ...any) error {
	if s.pg {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	}
	st, err := s.stmt(ctx, tx, query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

func (s *store) query(ctx context.Context, tx *db.Tx, query string, args ...any) (*sql.Rows, error) {
	if s.pg {
		return tx.QueryContext(ctx, query, args...)
	}
	st, err := s.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// valuesList is "(?, ?, ?), (?, ?, ?), …" for rows of cols columns. SQLite-only
// statements use anonymous "?" parameters: the driver looks each "$n" up by name in a
// linear list, which made binding a 2,816-parameter statement quadratic (a third of the
// committer's CPU, see docs/PERFORMANCE.md).
func valuesList(rows, cols int) string {
	var b strings.Builder
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := 0; c < cols; c++ {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
	}
	return b.String()
}

// qmarks is "?, ?, …" n times.
func qmarks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// forChunks calls fn for consecutive [lo, hi) ranges of n rows cut into chunkSizes.
func forChunks(n int, fn func(lo, hi int) error) error {
	lo := 0
	for lo < n {
		size := chunkSizes[len(chunkSizes)-1]
		for _, c := range chunkSizes {
			if n-lo >= c {
				size = c
				break
			}
		}
		if err := fn(lo, lo+size); err != nil {
			return err
		}
		lo += size
	}
	return nil
}

func idBytes(ids []uuid.UUID) [][]byte {
	out := make([][]byte, len(ids))
	for i := range ids {
		out[i] = ids[i][:]
	}
	return out
}

func scanID(b []byte) (uuid.UUID, error) {
	var u uuid.UUID
	if len(b) == 0 {
		return u, nil
	}
	if len(b) != 16 {
		return u, fmt.Errorf("stored id has %d bytes, want 16", len(b))
	}
	copy(u[:], b)
	return u, nil
}

const accountCols = `id, asset, code, owner, flags, debits_pending, debits_posted, credits_pending, credits_posted, created_at`

func scanAccount(rows interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var id []byte
	var created int64
	if err := rows.Scan(&id, &a.Asset, &a.Code, &a.Owner, &a.Flags, &a.DebitsPending, &a.DebitsPosted,
		&a.CreditsPending, &a.CreditsPosted, &created); err != nil {
		return a, err
	}
	var err error
	a.ID, err = scanID(id)
	a.CreatedAt = db.Micros(created)
	return a, err
}

// loadAccounts reads the accounts with the given ids (distinct; sorted on PostgreSQL, where they are locked) into b. On
// PostgreSQL it locks them FOR UPDATE in id order, the one order every node uses, so two
// committers never deadlock on accounts and never both update from the same old sums.
func (s *store) loadAccounts(ctx context.Context, tx *db.Tx, ids []uuid.UUID, into map[uuid.UUID]*acct) error {
	if len(ids) == 0 {
		return nil
	}
	scan := func(rows *sql.Rows) error {
		defer rows.Close()
		for rows.Next() {
			a, err := scanAccount(rows)
			if err != nil {
				return err
			}
			into[a.ID] = &acct{Account: a}
		}
		return rows.Err()
	}
	if s.pg {
		rows, err := tx.QueryContext(ctx, `SELECT `+accountCols+` FROM ledger_accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE`, idBytes(ids))
		if err != nil {
			return fmt.Errorf("lock accounts: %w", err)
		}
		if err := scan(rows); err != nil {
			return fmt.Errorf("lock accounts: %w", err)
		}
		return nil
	}
	return forChunks(len(ids), func(lo, hi int) error {
		args := make([]any, 0, hi-lo)
		for i := lo; i < hi; i++ {
			args = append(args, ids[i][:])
		}
		rows, err := s.query(ctx, tx, sqlSelectIn(accountCols, "ledger_accounts", hi-lo), args...)
		if err != nil {
			return fmt.Errorf("read accounts: %w", err)
		}
		if err := scan(rows); err != nil {
			return fmt.Errorf("read accounts: %w", err)
		}
		return nil
	})
}

// loadAccountsSeq (SQLite) reads accounts with their rows' sums_seq, for recovery.
func (s *store) loadAccountsSeq(ctx context.Context, tx *db.Tx, ids []uuid.UUID, into map[uuid.UUID]*acct, seqs map[uuid.UUID]int64) error {
	return forChunks(len(ids), func(lo, hi int) error {
		args := make([]any, 0, hi-lo)
		for i := lo; i < hi; i++ {
			args = append(args, ids[i][:])
		}
		rows, err := tx.QueryContext(ctx, `SELECT sums_seq, `+accountCols+` FROM ledger_accounts WHERE id IN (`+qmarks(hi-lo)+`)`, args...)
		if err != nil {
			return fmt.Errorf("read accounts: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var seq int64
			var a Account
			var id []byte
			var created int64
			if err := rows.Scan(&seq, &id, &a.Asset, &a.Code, &a.Owner, &a.Flags, &a.DebitsPending, &a.DebitsPosted,
				&a.CreditsPending, &a.CreditsPosted, &created); err != nil {
				return fmt.Errorf("read accounts: %w", err)
			}
			if a.ID, err = scanID(id); err != nil {
				return fmt.Errorf("read accounts: %w", err)
			}
			a.CreatedAt = db.Micros(created)
			into[a.ID] = &acct{Account: a}
			seqs[a.ID] = seq
		}
		return rows.Err()
	})
}

const transferCols = `id, debit_account_id, credit_account_id, created_at, amount, asset, code, ref, flags, pending_id, timeout_us`

func scanTransfer(rows interface{ Scan(...any) error }) (Transfer, error) {
	var t Transfer
	var id, dr, cr, pid []byte
	var created, timeout int64
	if err := rows.Scan(&id, &dr, &cr, &created, &t.Amount, &t.Asset, &t.Code, &t.Ref, &t.Flags, &pid, &timeout); err != nil {
		return t, err
	}
	var err [4]error
	t.ID, err[0] = scanID(id)
	t.DebitAccountID, err[1] = scanID(dr)
	t.CreditAccountID, err[2] = scanID(cr)
	t.PendingID, err[3] = scanID(pid)
	for _, e := range err {
		if e != nil {
			return t, e
		}
	}
	t.CreatedAt = db.Micros(created)
	t.Timeout = time.Duration(timeout) * time.Microsecond
	return t, nil
}

// loadTransfers reads the stored transfers among ids into into.
func (s *store) loadTransfers(ctx context.Context, tx *db.Tx, ids []uuid.UUID, into map[uuid.UUID]*Transfer) error {
	if len(ids) == 0 {
		return nil
	}
	scan := func(rows *sql.Rows) error {
		defer rows.Close()
		for rows.Next() {
			t, err := scanTransfer(rows)
			if err != nil {
				return err
			}
			into[t.ID] = &t
		}
		return rows.Err()
	}
	if s.pg {
		rows, err := tx.QueryContext(ctx, `SELECT `+transferCols+` FROM ledger_transfers WHERE id = ANY($1)`, idBytes(ids))
		if err != nil {
			return fmt.Errorf("read transfers: %w", err)
		}
		if err := scan(rows); err != nil {
			return fmt.Errorf("read transfers: %w", err)
		}
		return nil
	}
	return forChunks(len(ids), func(lo, hi int) error {
		args := make([]any, 0, hi-lo)
		for i := lo; i < hi; i++ {
			args = append(args, ids[i][:])
		}
		rows, err := s.query(ctx, tx, sqlSelectIn(transferCols, "ledger_transfers", hi-lo), args...)
		if err != nil {
			return fmt.Errorf("read transfers: %w", err)
		}
		if err := scan(rows); err != nil {
			return fmt.Errorf("read transfers: %w", err)
		}
		return nil
	})
}

const pendingCols = `id, debit_account_id, credit_account_id, amount, expires_at, state, resolved_by, resolved_at`

func scanPending(rows interface{ Scan(...any) error }) (*pend, error) {
	p := &pend{}
	var id, dr, cr, rb []byte
	if err := rows.Scan(&id, &dr, &cr, &p.amount, &p.expiresAt, &p.state, &rb, &p.resolvedAt); err != nil {
		return nil, err
	}
	var err [4]error
	p.id, err[0] = scanID(id)
	p.debit, err[1] = scanID(dr)
	p.credit, err[2] = scanID(cr)
	p.resolvedBy, err[3] = scanID(rb)
	for _, e := range err {
		if e != nil {
			return nil, e
		}
	}
	return p, nil
}

func (s *store) loadPendings(ctx context.Context, tx *db.Tx, ids []uuid.UUID, into map[uuid.UUID]*pend) error {
	if len(ids) == 0 {
		return nil
	}
	scan := func(rows *sql.Rows) error {
		defer rows.Close()
		for rows.Next() {
			p, err := scanPending(rows)
			if err != nil {
				return err
			}
			into[p.id] = p
		}
		return rows.Err()
	}
	if s.pg {
		rows, err := tx.QueryContext(ctx, `SELECT `+pendingCols+` FROM ledger_pending WHERE id = ANY($1)`, idBytes(ids))
		if err != nil {
			return fmt.Errorf("read pending transfers: %w", err)
		}
		if err := scan(rows); err != nil {
			return fmt.Errorf("read pending transfers: %w", err)
		}
		return nil
	}
	return forChunks(len(ids), func(lo, hi int) error {
		args := make([]any, 0, hi-lo)
		for i := lo; i < hi; i++ {
			args = append(args, ids[i][:])
		}
		rows, err := s.query(ctx, tx, sqlSelectIn(pendingCols, "ledger_pending", hi-lo), args...)
		if err != nil {
			return fmt.Errorf("read pending transfers: %w", err)
		}
		if err := scan(rows); err != nil {
			return fmt.Errorf("read pending transfers: %w", err)
		}
		return nil
	})
}

func nullID(u uuid.UUID) []byte {
	if u == uuid.Nil {
		return nil
	}
	return u[:]
}

// write stores what b decided: new transfers (and, on PostgreSQL, their history rows),
// new and changed pending rows, and one update per touched account.
func (s *store) write(ctx context.Context, tx *db.Tx, b *batch) error {
	if s.pg {
		return s.writePG(ctx, tx, b)
	}
	if err := s.insertTransfers(ctx, tx, b.inserts, &b.firstSeq); err != nil {
		return fmt.Errorf("insert transfers: %w", err)
	}
	var newP, oldP []*pend
	for _, p := range b.pendings {
		switch {
		case p.isNew:
			newP = append(newP, p)
		case p.dirty:
			oldP = append(oldP, p)
		}
	}
	if err := s.insertPendings(ctx, tx, newP); err != nil {
		return fmt.Errorf("insert pending transfers: %w", err)
	}
	if err := s.updatePendings(ctx, tx, oldP); err != nil {
		return fmt.Errorf("update pending transfers: %w", err)
	}
	// Account rows are written by flush (sums.go), not per batch.
	return nil
}

func lessID(a, b uuid.UUID) bool { return string(a[:]) < string(b[:]) }

// insertTransfers writes ts; on SQLite it sets *firstSeq to the seq of ts[0], the others
// following in order.
func (s *store) insertTransfers(ctx context.Context, tx *db.Tx, ts []*Transfer, firstSeq *int64) error {
	if len(ts) == 0 {
		return nil
	}
	top, err := s.queryInt(ctx, tx, sqlLastSeq)
	if err != nil {
		return fmt.Errorf("read last seq: %w", err)
	}
	*firstSeq = top + 1
	return forChunks(len(ts), func(lo, hi int) error {
		// One body buffer per chunk, sliced per row: the driver copies each bound value
		// anyway, so the rows need not own their bytes.
		size := 0
		for _, t := range ts[lo:hi] {
			size += packedSize(t)
		}
		buf := make([]byte, 0, size)
		args := make([]any, 0, 7*(hi-lo))
		for _, t := range ts[lo:hi] {
			start := len(buf)
			buf = packTransfer(buf, t)
			args = append(args, t.ID[:], t.CreatedAt.UnixMicro(), t.Amount, int64(t.Code), int64(t.Flags), t.Timeout.Microseconds(),
				buf[start:len(buf):len(buf)])
		}
		st, err := s.stmt(ctx, tx, sqlInsertTransfers(hi-lo))
		if err != nil {
			return err
		}
		r, err := st.ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		// The seqs the history tail and the in-memory sums were told must be the ones
		// SQLite gave: anything else fails the batch rather than mislabel it.
		if last, err := r.LastInsertId(); err != nil || last != top+int64(hi) {
			return fmt.Errorf("transfers got seqs up to %d, want %d (%v)", last, top+int64(hi), err)
		}
		return nil
	})
}

// packedHead is the fixed part of a packed body (migration 0051 has the layout).
const packedHead = 37

func packedSize(t *Transfer) int {
	n := packedHead + len(t.Asset) + len(t.Ref)
	if t.PendingID != uuid.Nil {
		n += 16
	}
	return n
}

// packTransfer appends the body of t's row in the layout of migration 0051 (accounts,
// the asset's and ref's lengths as decimal digits, asset, ref, pending id if any), which
// the ledger_transfers view takes apart with built-in functions. On SQLite the integers
// are columns of their own (~0.1 µs to bind each, against ~0.3 µs for a blob) and the
// five blob and text values are this one. Lengths fit: validAsset allows 16 bytes,
// maxRefBytes 256.
func packTransfer(dst []byte, t *Transfer) []byte {
	dst = append(dst, t.DebitAccountID[:]...)
	dst = append(dst, t.CreditAccountID[:]...)
	al, rl := len(t.Asset), len(t.Ref)
	dst = append(dst, byte('0'+al/10), byte('0'+al%10), byte('0'+rl/100), byte('0'+rl/10%10), byte('0'+rl%10))
	dst = append(dst, t.Asset...)
	dst = append(dst, t.Ref...)
	if t.PendingID != uuid.Nil {
		dst = append(dst, t.PendingID[:]...)
	}
	return dst
}

// insertPendings, updatePendings and updateAccounts are SQLite's; PostgreSQL writes a batch
// with writePG.
func (s *store) insertPendings(ctx context.Context, tx *db.Tx, ps []*pend) error {
	if len(ps) == 0 {
		return nil
	}
	const cols = 8
	return forChunks(len(ps), func(lo, hi int) error {
		args := make([]any, 0, (hi-lo)*cols)
		for _, p := range ps[lo:hi] {
			args = append(args, p.id[:], p.debit[:], p.credit[:], p.amount, p.expiresAt, p.state, nullID(p.resolvedBy), p.resolvedAt)
		}
		return s.exec(ctx, tx, sqlInsertPendings(hi-lo), args...)
	})
}

func (s *store) updatePendings(ctx context.Context, tx *db.Tx, ps []*pend) error {
	for _, p := range ps {
		if err := s.exec(ctx, tx, sqlUpdatePending,
			p.state, nullID(p.resolvedBy), p.resolvedAt, p.id[:]); err != nil {
			return err
		}
	}
	return nil
}

// updateAccounts (SQLite) writes the sums of as, in id order, as of seq top.
func (s *store) updateAccounts(ctx context.Context, tx *db.Tx, as []*acct, top int64) error {
	if len(as) == 0 {
		return nil
	}
	const cols = 6
	return forChunks(len(as), func(lo, hi int) error {
		args := make([]any, 0, (hi-lo)*cols)
		for _, a := range as[lo:hi] {
			args = append(args, a.ID[:], a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted, top)
		}
		return s.exec(ctx, tx, sqlUpdateAccounts(hi-lo), args...)
	})
}

// writePG writes a whole batch in one statement: every write is a data-modifying CTE fed by
// arrays. Under load each round trip to PostgreSQL cost more than the statements (server
// time was a third of the batch), so one round trip replaces five.
func (s *store) writePG(ctx context.Context, tx *db.Tx, b *batch) error {
	n := len(b.inserts)
	ids, drs, crs, pids := make([][]byte, n), make([][]byte, n), make([][]byte, n), make([][]byte, n)
	created, amounts, timeouts := make([]int64, n), make([]int64, n), make([]int64, n)
	assets, refs := make([]string, n), make([]string, n)
	codes, flags := make([]int32, n), make([]int32, n)
	for i, t := range b.inserts {
		ids[i], drs[i], crs[i], pids[i] = t.ID[:], t.DebitAccountID[:], t.CreditAccountID[:], nullID(t.PendingID)
		created[i], amounts[i], timeouts[i] = t.CreatedAt.UnixMicro(), t.Amount, t.Timeout.Microseconds()
		assets[i], refs[i], codes[i], flags[i] = t.Asset, t.Ref, t.Code, int32(t.Flags)
	}
	var np, up []*pend
	for _, p := range b.pendings {
		switch {
		case p.isNew:
			np = append(np, p)
		case p.dirty:
			up = append(up, p)
		}
	}
	pIDs, pDrs, pCrs, pRbs := make([][]byte, len(np)), make([][]byte, len(np)), make([][]byte, len(np)), make([][]byte, len(np))
	pAmounts, pExpires, pStates, pRats := make([]int64, len(np)), make([]int64, len(np)), make([]int32, len(np)), make([]int64, len(np))
	for i, p := range np {
		pIDs[i], pDrs[i], pCrs[i], pRbs[i] = p.id[:], p.debit[:], p.credit[:], nullID(p.resolvedBy)
		pAmounts[i], pExpires[i], pStates[i], pRats[i] = p.amount, p.expiresAt, int32(p.state), p.resolvedAt
	}
	uIDs, uRbs, uStates, uRats := make([][]byte, len(up)), make([][]byte, len(up)), make([]int32, len(up)), make([]int64, len(up))
	for i, p := range up {
		uIDs[i], uRbs[i], uStates[i], uRats[i] = p.id[:], nullID(p.resolvedBy), int32(p.state), p.resolvedAt
	}
	var accts []*acct
	for _, a := range b.accounts {
		if a.dirty {
			accts = append(accts, a)
		}
	}
	sort.Slice(accts, func(i, j int) bool { return lessID(accts[i].ID, accts[j].ID) })
	aIDs := make([][]byte, len(accts))
	dp, dpo, cp, cpo := make([]int64, len(accts)), make([]int64, len(accts)), make([]int64, len(accts)), make([]int64, len(accts))
	for i, a := range accts {
		aIDs[i], dp[i], dpo[i], cp[i], cpo[i] = a.ID[:], a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted
	}
	_, err := tx.ExecContext(ctx, `WITH
		t AS (INSERT INTO ledger_transfers (`+transferCols+`)
			SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[], $4::int8[], $5::int8[], $6::text[], $7::int4[], $8::text[], $9::int4[], $10::bytea[], $11::int8[])),
		np AS (INSERT INTO ledger_pending (`+pendingCols+`)
			SELECT * FROM unnest($12::bytea[], $13::bytea[], $14::bytea[], $15::int8[], $16::int8[], $17::int2[], $18::bytea[], $19::int8[])),
		up AS (UPDATE ledger_pending AS p SET state = u.state, resolved_by = u.rb, resolved_at = u.rat
			FROM unnest($20::bytea[], $21::int2[], $22::bytea[], $23::int8[]) AS u(id, state, rb, rat) WHERE p.id = u.id),
		acc AS (UPDATE ledger_accounts AS a SET debits_pending = v.dp, debits_posted = v.dpo, credits_pending = v.cp, credits_posted = v.cpo
			FROM unnest($24::bytea[], $25::int8[], $26::int8[], $27::int8[], $28::int8[]) AS v(id, dp, dpo, cp, cpo) WHERE a.id = v.id)
		SELECT 1`,
		ids, drs, crs, created, amounts, assets, codes, refs, flags, pids, timeouts,
		pIDs, pDrs, pCrs, pAmounts, pExpires, pStates, pRbs, pRats,
		uIDs, uStates, uRbs, uRats,
		aIDs, dp, dpo, cp, cpo)
	if err != nil {
		return fmt.Errorf("write batch: %w", err)
	}
	return nil
}
