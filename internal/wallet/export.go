package wallet

import (
	"context"
	"fmt"
	"io"
	"strings"
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
// per-query cost disappears, while a chunk held in memory stays a few MB.
const exportChunk = 5000

// exportCols are the columns an export reads. The drivers pay per column (the SQLite
// driver makes three calls into SQLite for each text column, each taking the connection's
// mutex; database/sql converts each one), so the short codes, which never hold a space,
// come as one column k = "ref_no type status asset failure_code" and are cut apart in Go.
// created_at and id stay separate: the keyset cursor and the UNION ALL queries order by them.
const exportCols = `a.created_at, a.id, a.direction, a.amount, a.fee,
	a.ref_no || ' ' || a.type || ' ' || a.status || ' ' || a.asset || ' ' || a.failure_code AS k, a.counterparty, a.memo`

// ExportActivity streams userID's history matching f to fn, newest first, at most
// MaxExportRows rows. Memory stays flat: rows are read in keyset chunks of a few thousand,
// each chunk one short read that ends before fn sees its rows (a slow reader of the
// export holds no connection and no database snapshot), and fn sees one row at a time
// (the Row is reused: copy what you keep). An error from fn stops the export and is
// returned.
//
// Errors: those of ListActivity's filter, fn's error, the context's error.
func (s *Service) ExportActivity(ctx context.Context, userID string, f Filter, fn func(Row) error) error {
	return s.exportActivity(ctx, userID, f, exportChunk, fn)
}

func (s *Service) exportActivity(ctx context.Context, userID string, f Filter, chunk int, fn func(Row) error) error {
	c, err := f.compile()
	if err != nil {
		return err
	}
	pos, _ := parseCursor("")
	rows := make([]Row, 0, chunk)
	var r exportReader
	for total := 0; total < MaxExportRows; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(chunk, MaxExportRows-total)
		q, args := c.query(s.d.Engine, exportCols, userID, pos, n)
		clear(rows) // drop the last chunk's strings
		rows, pos, err = r.read(ctx, s.d, q, args, rows[:0])
		if err != nil {
			return fmt.Errorf("wallet: export: %w", err)
		}
		for i := range rows {
			if err := fn(rows[i]); err != nil {
				return err
			}
		}
		total += len(rows)
		if len(rows) < n {
			break
		}
	}
	return nil
}

// exportReader reads export chunks; it keeps the last asset looked up (a history is
// mostly in one asset).
type exportReader struct {
	asset money.Asset
}

// read runs one chunk query and appends its rows to out; pos is the cursor after the last.
func (r *exportReader) read(ctx context.Context, d *db.DB, q string, args []any, out []Row) (_ []Row, pos cursor, err error) {
	rows, err := d.R.QueryContext(ctx, q, args...)
	if err != nil {
		return out, pos, err
	}
	defer rows.Close()
	// Numbers are scanned into any: database/sql converts an int64 to *int64 by reflection
	// and to *int through a decimal string; the drivers give int64 for every integer column.
	var at, dir, amount, fee any
	var id, k string
	for rows.Next() {
		out = append(out, Row{})
		row := &out[len(out)-1]
		if err := rows.Scan(&at, &id, &dir, &amount, &fee, &k, &row.Counterparty, &row.Memo); err != nil {
			return out, pos, err
		}
		a, ok1 := at.(int64)
		d, ok2 := dir.(int64)
		m, ok3 := amount.(int64)
		fe, ok4 := fee.(int64)
		var ok5, ok6, ok7, ok8 bool
		row.RefNo, k, ok5 = strings.Cut(k, " ")
		row.Type, k, ok6 = strings.Cut(k, " ")
		row.Status, k, ok7 = strings.Cut(k, " ")
		row.Asset, row.FailureCode, ok8 = strings.Cut(k, " ")
		if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) {
			return out, pos, fmt.Errorf("row %s: unexpected column values %T %T %T %T %q", id, at, dir, amount, fee, k)
		}
		if r.asset.Code != row.Asset {
			as, ok := money.Lookup(row.Asset)
			if !ok {
				return out, pos, fmt.Errorf("row %s: unknown asset %q", id, row.Asset)
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
		pos = cursor{at: a, id: id}
	}
	return out, pos, rows.Err()
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
