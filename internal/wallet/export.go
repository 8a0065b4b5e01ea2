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

// exportChunk rows are read per query.
const exportChunk = 2000

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

const exportCols = `a.created_at, a.id, a.ref_no, a.type, a.status, a.direction, a.asset, a.amount, a.fee, a.counterparty, a.memo, a.failure_code`

// ExportActivity streams userID's history matching f to fn, newest first, at most
// MaxExportRows rows. Memory stays flat: rows are read in chunks of a few thousand by
// keyset, each chunk its own short read, and fn sees one row at a time (the Row is
// reused: copy what you keep). An error from fn stops the export and is returned.
//
// Errors: those of ListActivity's filter, fn's error, the context's error.
func (s *Service) ExportActivity(ctx context.Context, userID string, f Filter, fn func(Row) error) error {
	c, err := f.compile()
	if err != nil {
		return err
	}
	pos, _ := parseCursor("")
	total := 0
	var row Row
	assets := map[string]money.Asset{}
	for total < MaxExportRows {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(exportChunk, MaxExportRows-total)
		q, args := c.query(s.d.Engine, exportCols, userID, pos, n)
		got := 0
		err := func() error {
			rows, err := s.d.R.QueryContext(ctx, q, args...)
			if err != nil {
				return fmt.Errorf("wallet: export: %w", err)
			}
			defer rows.Close()
			for rows.Next() {
				var at int64
				var id string
				if err := rows.Scan(&at, &id, &row.RefNo, &row.Type, &row.Status, &row.Direction, &row.Asset, &row.AmountMinor, &row.FeeMinor,
					&row.Counterparty, &row.Memo, &row.FailureCode); err != nil {
					return fmt.Errorf("wallet: export: %w", err)
				}
				row.CreatedAt = db.Micros(at)
				a, ok := assets[row.Asset]
				if !ok {
					a = money.MustLookup(row.Asset)
					assets[row.Asset] = a
				}
				signed := row.AmountMinor
				if row.Direction < 0 {
					signed = -signed
				}
				row.Amount = money.Amount(signed).Format(a)
				row.Fee = money.Amount(row.FeeMinor).Format(a)
				pos = cursor{at: at, id: id}
				got++
				if err := fn(row); err != nil {
					return err
				}
			}
			return rows.Err()
		}()
		if err != nil {
			return err
		}
		total += got
		if got < n {
			break
		}
	}
	return nil
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
