package wallet

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"okpay/internal/db"
	"okpay/internal/money"
)

// Export: the whole filtered history as rows (ExportActivity) and as CSV (CSVWriter).
// Figures and how they were measured: docs/PERFORMANCE.md, "Wallet export".

// Row is one activity record for export: flat, without the timeline.
type Row struct {
	CreatedAt    time.Time
	RefNo        string
	Type         string
	Status       string
	Direction    int
	Asset        string
	AmountMinor  int64
	Amount       string // decimal, signed: "-12.30" for money out
	FeeMinor     int64
	Fee          string
	Counterparty string
	Memo         string
	FailureCode  string
}

// ExportHeader names Row's columns in order, for CSV writers.
var ExportHeader = []string{"created_at", "ref_no", "type", "status", "asset", "amount", "fee", "counterparty", "memo", "failure_code"}

// Record returns r as CSV cells in ExportHeader order (times in RFC 3339, UTC).
func (r *Row) Record() []string {
	return []string{r.CreatedAt.Format(time.RFC3339), r.RefNo, r.Type, r.Status, r.Asset, r.Amount, r.Fee, r.Counterparty, r.Memo, r.FailureCode}
}

// exportChunk rows are read per query: some milliseconds of reading each, so the
// per-query cost disappears, while a chunk held in memory stays about a megabyte.
const exportChunk = 5000

// exportCols are the columns an export reads. The drivers pay per column (the SQLite
// driver makes two or three calls into SQLite for each column, each taking the
// connection's mutex), so the short codes, which never hold a space, come as one column
// k = "ref_no type status asset failure_code id" and are cut apart in Go (the id, a UUID,
// last). exportColsID is the same with the id apart, for the UNION ALL queries, which
// order by it.
const (
	exportCols = `a.created_at, a.direction, a.amount, a.fee,
	a.ref_no || ' ' || a.type || ' ' || a.status || ' ' || a.asset || ' ' || a.failure_code || ' ' || a.id AS k, a.counterparty, a.memo`
	exportColsID = `a.created_at, a.direction, a.amount, a.fee,
	a.ref_no || ' ' || a.type || ' ' || a.status || ' ' || a.asset || ' ' || a.failure_code AS k, a.counterparty, a.memo, a.id`
)

// union reports whether c's query is a UNION ALL of index walks (see compiled.query).
func (c *compiled) union() bool {
	switch {
	case len(c.terms) > 0:
		return false
	case len(c.types) > 0 && (len(c.statuses) == 0 || len(c.types) <= len(c.statuses)):
		return len(c.types) > 1
	}
	return len(c.statuses) > 1
}

// exportReaders is how many chunks are read at once when the filter is walked in one
// covering index (see exportPlan). Reading a row (the database's step and the driver's
// per-column calls) is most of an export's time, so two readers, each on its own
// connection, keep two cores busy while the caller's goroutine writes.
const exportReaders = 2

// ExportActivity streams userID's history matching f to fn, newest first, at most
// MaxExportRows rows. Memory stays flat: rows are read in keyset chunks of a few thousand
// into a fixed set of buffers (readers + 1), each chunk one short read that ends before
// the chunk is handed on (a slow reader of the export holds no connection and no
// database snapshot; the readers wait for a free buffer), and fn sees one row at a time,
// on the caller's goroutine (the Row is reused: copy what you keep). While fn writes one
// chunk, the next ones are being read. An error from fn stops the export and is returned;
// ExportActivity returns only after its reading goroutines have ended.
//
// Errors: those of ListActivity's filter, fn's error, the context's error.
func (s *Service) ExportActivity(ctx context.Context, userID string, f Filter, fn func(Row) error) error {
	// The export reads the activity table directly: payments still in the feed are
	// written first, so the file has every movement made before it was asked for.
	if err := s.Settle(ctx); err != nil {
		return err
	}
	return s.exportActivity(ctx, userID, f, exportChunk, fn)
}

// An export runs as a pipeline. A task is a key range of the history; its rows go, in
// order, through the task's own channel to the writer (the caller's goroutine), which
// takes tasks in order. With one reader there is one task, the whole history, read chunk
// after chunk as before: reading overlaps writing. With several (exportPlan), a planner
// cuts the history into ranges of one chunk each with a probe query that walks the
// covering index only (LIMIT 1 OFFSET chunk-1 returns the chunk's last key; a few tenths
// of a µs per row, against several µs to read a row), and the readers take the ranges in
// turn. Buffers come from a pool of readers + 1: a reader holds at most one, blocked on
// its task's unbuffered channel until the writer reaches that task, so there is always
// one for the reader the writer waits on, and memory is bounded by readers + 1 chunks.
type exportPipe struct {
	s      *Service
	c      *compiled
	userID string
	chunk  int
	cols   string           // exportCols or exportColsID
	work   chan *exportTask // for the readers
	order  chan *exportTask // for the writer, same tasks in export order
	pool   chan []Row
}

// exportTask is rows after start (exclusive) down to end (inclusive; to the history's end
// when hasEnd is false), at most max of them. A range planned as one chunk holds more
// when rows were written into it since (it is read in several chunks then) and fewer
// when rows left the filter (a status changed): its queries are bounded by end, not by a
// count, so each row is in exactly one range.
type exportTask struct {
	start, end cursor
	hasEnd     bool
	max        int
	err        error // the planner's, for the writer to return
	out        chan exportBatch
}

// exportBatch is one chunk of a task's rows, or the error that ended the task.
type exportBatch struct {
	rows []Row
	err  error
}

// exportPlan reports whether c is walked in one covering index, so that probing it is
// cheap: no text terms (a join per row), at most one type, status or asset (several are
// a UNION ALL of walks, merged), no amount range (read from the table).
func (c *compiled) exportPlan() bool {
	n := len(c.types) + len(c.statuses)
	if c.asset != "" {
		n++
	}
	return len(c.terms) == 0 && !c.hasAmount && n <= 1
}

func (s *Service) exportActivity(ctx context.Context, userID string, f Filter, chunk int, fn func(Row) error) error {
	c, err := f.compile()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	readers := 1
	if c.exportPlan() {
		readers = exportReaders
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Cancel first, then wait: every goroutine of the export has ended when this returns.
	defer wg.Wait()
	defer cancel()
	p := &exportPipe{s: s, c: c, userID: userID, chunk: chunk, cols: exportCols,
		work: make(chan *exportTask, readers), order: make(chan *exportTask, readers), pool: make(chan []Row, readers+1)}
	if c.union() {
		p.cols = exportColsID
	}
	for range readers + 1 {
		p.pool <- nil // allocated by the first reader that takes it, then reused
	}
	start, _ := parseCursor("")
	if readers == 1 {
		t := &exportTask{start: start, max: MaxExportRows, out: make(chan exportBatch)}
		p.work <- t
		p.order <- t
		close(p.work)
		close(p.order)
	} else {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.plan(ctx, start)
		}()
	}
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.reader(ctx)
		}()
	}
	fail := func(err error) error {
		if perr := parent.Err(); perr != nil {
			return perr
		}
		return fmt.Errorf("wallet: export: %w", err)
	}
	total := 0
	for {
		var t *exportTask
		var ok bool
		select {
		case t, ok = <-p.order:
		case <-ctx.Done():
			return parent.Err()
		}
		if !ok {
			return nil
		}
		if t.err != nil {
			return fail(t.err)
		}
		for {
			var b exportBatch
			select {
			case b, ok = <-t.out:
			case <-ctx.Done():
				return parent.Err()
			}
			if !ok {
				break
			}
			if b.err != nil {
				return fail(b.err)
			}
			for i := range b.rows {
				if total == MaxExportRows {
					return nil
				}
				if err := fn(b.rows[i]); err != nil {
					return err
				}
				total++
			}
			clear(b.rows) // drop the chunk's strings
			p.pool <- b.rows[:0]
		}
	}
}

// plan sends the tasks, one chunk each, to the readers and the writer, and closes both
// channels after the last (open-ended) task.
func (p *exportPipe) plan(ctx context.Context, pos cursor) {
	defer close(p.work)
	defer close(p.order)
	send := func(t *exportTask) bool {
		select {
		case p.order <- t:
		case <-ctx.Done():
			return false
		}
		if t.err != nil {
			return false
		}
		select {
		case p.work <- t:
			return true
		case <-ctx.Done():
			return false
		}
	}
	// The probe is the chunk's query with the key columns only, whose LIMIT n becomes
	// LIMIT 1 OFFSET n-1 (in a UNION ALL the parts keep their LIMIT n).
	keyCols := "a.created_at, a.id"
	if len(p.c.terms) > 0 {
		keyCols = "t.created_at, t.activity_id"
	}
	planned := 0
	for planned+p.chunk < MaxExportRows {
		q, args := p.c.query(p.s.d.Engine, keyCols, p.userID, pos, p.chunk)
		q, ok := strings.CutSuffix(q, " LIMIT "+strconv.Itoa(p.chunk))
		if !ok {
			send(&exportTask{err: fmt.Errorf("probe: query does not end in its limit: %q", q)})
			return
		}
		q += " LIMIT 1 OFFSET " + strconv.Itoa(p.chunk-1)
		var end cursor
		found := false
		err := p.query(ctx, q, args, func(rows driver.Rows) error {
			var v [2]driver.Value
			switch err := rows.Next(v[:]); err {
			case io.EOF:
				return nil
			case nil:
			default:
				return err
			}
			var ok1, ok2 bool
			end.at, ok1 = v[0].(int64)
			end.id, ok2 = v[1].(string)
			if found = ok1 && ok2; !found {
				return fmt.Errorf("unexpected key %T %T", v[0], v[1])
			}
			return nil
		})
		if err == nil && !found {
			break // fewer than a chunk left
		}
		if err != nil {
			send(&exportTask{err: fmt.Errorf("probe: %w", err)})
			return
		}
		if !send(&exportTask{start: pos, end: end, hasEnd: true, max: MaxExportRows, out: make(chan exportBatch)}) {
			return
		}
		pos = end
		planned += p.chunk
	}
	send(&exportTask{start: pos, max: MaxExportRows - planned, out: make(chan exportBatch)})
}

// reader reads the tasks it takes, chunk by chunk, each into a buffer from the pool,
// and hands the chunks to the task's channel, closed after the last.
func (p *exportPipe) reader(ctx context.Context) {
	var r exportReader
	for {
		var t *exportTask
		var ok bool
		select {
		case t, ok = <-p.work:
		case <-ctx.Done():
			return
		}
		if !ok {
			return
		}
		if !p.readTask(ctx, &r, t) {
			return
		}
		close(t.out)
	}
}

// readTask reads t; false if the export was cancelled meanwhile.
func (p *exportPipe) readTask(ctx context.Context, r *exportReader, t *exportTask) bool {
	pos, left := t.start, t.max
	for left > 0 {
		var buf []Row
		select {
		case buf = <-p.pool:
		case <-ctx.Done():
			return false
		}
		n := min(p.chunk, left)
		var end *cursor
		if t.hasEnd {
			end = &t.end
		}
		q, args := p.c.queryRange(p.s.d.Engine, p.cols, p.userID, pos, end, n)
		rows, last, more := buf, cursor{}, false
		err := p.query(ctx, q, args, func(rs driver.Rows) (err error) {
			rows, last, more, err = r.read(rs, buf, n, t)
			return err
		})
		select {
		case t.out <- exportBatch{rows: rows, err: err}:
		case <-ctx.Done():
			return false
		}
		if err != nil {
			// The writer returns the error: nothing after it is read.
			<-ctx.Done()
			return false
		}
		if !more {
			break
		}
		pos, left = last, left-len(rows)
	}
	return true
}

// exportCacheKiB is the SQLite page cache of a connection while it runs an export query.
// An export reads each page once, so a cache does not pay, while every reader
// connection's cache (8 MB in internal/db) fills up over a long export and stays: the
// process grew by ~25 MB per connection that took part. The interior pages of the index
// and table walked fit in this size.
const exportCacheKiB = 256

// query runs q on a connection of the read pool and gives fn the driver's rows. The
// driver is called directly (sql.Conn.Raw): database/sql's locks and conversions per row
// were an eighth of the export's time on SQLite. On SQLite the connection's page cache
// is cut to exportCacheKiB for the query (which frees what it held) and set back after.
func (p *exportPipe) query(ctx context.Context, q string, args []any, fn func(driver.Rows) error) error {
	d := p.s.d
	conn, err := d.R.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if d.Engine == db.SQLite {
		var size int64
		if err := conn.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&size); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, `PRAGMA cache_size = `+strconv.Itoa(-exportCacheKiB)); err != nil {
			return err
		}
		defer func() {
			// Also after a cancelled query: the connection goes back to the pool.
			if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA cache_size = `+strconv.FormatInt(size, 10)); err != nil {
				conn.Raw(func(any) error { return driver.ErrBadConn }) // not back to the pool with a small cache
			}
		}()
	}
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a} // int64 and string: driver values as they are
	}
	return conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver %T cannot query without a prepared statement", dc)
		}
		rows, err := qc.QueryContext(ctx, q, nv)
		if err != nil {
			return err
		}
		err = fn(rows)
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// exportReader reads export chunks; it keeps the last asset looked up (a history is
// mostly in one asset).
type exportReader struct {
	asset money.Asset
	v     [8]driver.Value // a row of exportCols, as the driver gives it
}

// read runs one chunk query of t's range (at most n rows) and appends its rows to out;
// last is the cursor after the last row, more whether the range goes on after it. The
// range's last row ends it: the keys are compared for equality only, as the database's
// collation orders ids.
func (r *exportReader) read(rows driver.Rows, out []Row, n int, t *exportTask) (_ []Row, last cursor, more bool, err error) {
	v := r.v[:len(rows.Columns())]
	if len(v) != 7 && len(v) != 8 {
		return out, last, false, fmt.Errorf("%d columns, want 7 or 8", len(v))
	}
	got := 0
	for {
		if err := rows.Next(v); err != nil {
			if err == io.EOF {
				break
			}
			return out, last, false, err
		}
		got++
		a, ok1 := v[0].(int64)
		d, ok2 := v[1].(int64)
		m, ok3 := v[2].(int64)
		fe, ok4 := v[3].(int64)
		k, ok5 := v[4].(string)
		cp, ok6 := v[5].(string)
		memo, ok7 := v[6].(string)
		id, ok8 := "", true
		if len(v) == 8 {
			id, ok8 = v[7].(string)
		}
		if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) {
			return out, last, false, fmt.Errorf("unexpected column values %T %T %T %T %T %T %T %T", v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[len(v)-1])
		}
		out = append(out, Row{Counterparty: cp, Memo: memo})
		row := &out[len(out)-1]
		codes := k
		var ok9, ok10, ok11, ok12 bool
		row.RefNo, k, ok9 = strings.Cut(k, " ")
		row.Type, k, ok10 = strings.Cut(k, " ")
		row.Status, k, ok11 = strings.Cut(k, " ")
		row.Asset, k, ok12 = strings.Cut(k, " ")
		if len(v) == 8 {
			row.FailureCode = k
		} else if row.FailureCode, id, ok12 = strings.Cut(k, " "); id == "" {
			ok12 = false
		}
		if !(ok9 && ok10 && ok11 && ok12) {
			return out, last, false, fmt.Errorf("unexpected codes %q", codes)
		}
		if r.asset.Code != row.Asset {
			as, ok := money.Lookup(row.Asset)
			if !ok {
				return out, last, false, fmt.Errorf("row %s: unknown asset %q", id, row.Asset)
			}
			r.asset = as
		}
		row.CreatedAt = db.Micros(a)
		row.Direction, row.AmountMinor, row.FeeMinor = int(d), m, fe
		signed := m
		if d < 0 {
			signed = -m
		}
		row.Amount = money.Amount(signed).Format(r.asset)
		row.Fee = money.Amount(fe).Format(r.asset)
		last = cursor{at: a, id: id}
		if t.hasEnd && last == t.end {
			return out, last, false, nil
		}
	}
	return out, last, got == n, nil
}

// CSVWriter writes exported rows as CSV the way spreadsheets read them: UTF-8 with a
// byte-order mark, RFC 4180 (CRLF line ends; a cell holding a comma, quote or line break
// is quoted, its quotes doubled), and a cell a spreadsheet would run as a formula
// (starting with = + - @, a tab or a carriage return) neutralised by a leading apostrophe
// unless it is a plain number like "-12.30". The bytes are those encoding/csv (UseCRLF)
// writes for the neutralised cells, without its per-cell work. Rows are buffered; Flush
// passes them on.
type CSVWriter struct {
	w   io.Writer
	buf []byte
}

// csvBuffer is how much a CSVWriter collects before writing to its io.Writer.
const csvBuffer = 64 << 10

// NewCSVWriter returns a CSVWriter writing to w.
func NewCSVWriter(w io.Writer) *CSVWriter {
	return &CSVWriter{w: w, buf: make([]byte, 0, csvBuffer+4<<10)}
}

// WriteHeader writes the byte-order mark and the ExportHeader line; call it once, first.
func (c *CSVWriter) WriteHeader() error {
	c.buf = append(c.buf, "\ufeff"...)
	for i, h := range ExportHeader {
		if i > 0 {
			c.buf = append(c.buf, ',')
		}
		c.buf = appendCSVCell(c.buf, h)
	}
	c.buf = append(c.buf, '\r', '\n')
	return c.flushFull()
}

// Write adds r as one line.
func (c *CSVWriter) Write(r *Row) error {
	c.buf = r.AppendCSV(c.buf)
	return c.flushFull()
}

func (c *CSVWriter) flushFull() error {
	if len(c.buf) < csvBuffer {
		return nil
	}
	return c.Flush()
}

// Flush writes what is buffered to the io.Writer.
func (c *CSVWriter) Flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.w.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

// AppendCSV appends r to dst as one CSV line, cells in ExportHeader order, as CSVWriter
// writes it.
func (r *Row) AppendCSV(dst []byte) []byte {
	dst = r.CreatedAt.AppendFormat(dst, time.RFC3339)
	for _, s := range [...]string{r.RefNo, r.Type, r.Status, r.Asset, r.Amount, r.Fee, r.Counterparty, r.Memo, r.FailureCode} {
		dst = append(dst, ',')
		dst = appendCSVCell(dst, s)
	}
	return append(dst, '\r', '\n')
}

// appendCSVCell appends s neutralised and, where needed, quoted.
func appendCSVCell(dst []byte, s string) []byte {
	if s == "" {
		return dst
	}
	neutral := false
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		neutral = !plainNumber(s)
	}
	quote := false
	if neutral { // after the apostrophe neither a leading space nor `\.` can matter
		for i := 0; i < len(s) && !quote; i++ {
			quote = csvSpecial[s[i]]
		}
	} else {
		quote = csvNeedsQuotes(s)
	}
	if !quote {
		if neutral {
			dst = append(dst, '\'')
		}
		return append(dst, s...)
	}
	dst = append(dst, '"')
	if neutral {
		dst = append(dst, '\'')
	}
	for len(s) > 0 {
		i := strings.IndexAny(s, "\"\r\n")
		if i < 0 {
			i = len(s)
		}
		dst = append(dst, s[:i]...)
		s = s[i:]
		if len(s) > 0 {
			switch s[0] {
			case '"':
				dst = append(dst, '"', '"')
			case '\n':
				dst = append(dst, '\r', '\n')
			}
			// A carriage return is dropped, as encoding/csv does with UseCRLF.
			s = s[1:]
		}
	}
	return append(dst, '"')
}

// csvSpecial marks the bytes that make a cell quoted: comma, quote, CR, LF.
var csvSpecial = [256]bool{',': true, '"': true, '\r': true, '\n': true}

// csvNeedsQuotes is encoding/csv's rule for a non-empty cell: a comma, quote or line
// break anywhere, a leading Unicode space, or the cell `\.` alone.
func csvNeedsQuotes(s string) bool {
	for i := 0; i < len(s); i++ {
		if csvSpecial[s[i]] {
			return true
		}
	}
	switch c := s[0]; {
	case c == '\\':
		return s == `\.`
	case c < utf8.RuneSelf:
		return c == ' ' || c == '\t' || c == '\v' || c == '\f'
	}
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
}

// plainNumber reports whether s matches -?[0-9]+(\.[0-9]+)?: a number a spreadsheet
// reads as a number, never as a formula.
func plainNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return false
	}
	if i == len(s) {
		return true
	}
	if s[i] != '.' || i+1 == len(s) {
		return false
	}
	for i++; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
