package wallet

import (
	"context"
	"fmt"
	"time"

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
