package ledger

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"

	"okpay/internal/db"
	"okpay/internal/db/dbtest"
)

// BenchmarkIDLayout compares storing 128-bit ids as one 16-byte blob with two int64
// columns, on SQLite (WITHOUT ROWID primary key) and PostgreSQL: bulk insert of UUIDv7
// ids in 256-row statements, then point lookups. Run:
//
//	go test -run XXX -bench IDLayout -benchtime 3x ./internal/ledger/
func BenchmarkIDLayout(b *testing.B) {
	for _, engine := range []db.Engine{db.SQLite, db.Postgres} {
		b.Run(string(engine), func(b *testing.B) {
			ctx := context.Background()
			d := dbtest.Open(b, engine, nil)
			blobType, suffix := "BLOB", " WITHOUT ROWID"
			if engine == db.Postgres {
				blobType, suffix = "BYTEA", ""
			}
			for _, q := range []string{
				`CREATE TABLE idl_blob (id ` + blobType + ` PRIMARY KEY, v BIGINT NOT NULL)` + suffix,
				`CREATE TABLE idl_int (hi BIGINT NOT NULL, lo BIGINT NOT NULL, v BIGINT NOT NULL, PRIMARY KEY (hi, lo))` + suffix,
			} {
				if _, err := d.W.ExecContext(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
			const rows, chunk = 100_000, 256
			ids := make([]uuid.UUID, rows)
			for i := range ids {
				ids[i] = uuid.Must(uuid.NewV7())
			}
			ph := func(n, cols int) string {
				if engine == db.SQLite {
					return valuesList(n, cols)
				}
				s := ""
				for r := 0; r < n; r++ {
					if r > 0 {
						s += ", "
					}
					s += "(" + db.Placeholders(r*cols+1, cols) + ")"
				}
				return s
			}
			hilo := func(u uuid.UUID) (int64, int64) {
				return int64(binary.BigEndian.Uint64(u[:8])), int64(binary.BigEndian.Uint64(u[8:]))
			}
			for _, layout := range []string{"blob", "int64x2"} {
				b.Run(layout+"/insert", func(b *testing.B) {
					for n := 0; n < b.N; n++ {
						d.W.ExecContext(ctx, `DELETE FROM idl_blob`)
						d.W.ExecContext(ctx, `DELETE FROM idl_int`)
						b.StartTimer()
						for lo := 0; lo < rows; lo += chunk {
							var args []any
							for _, u := range ids[lo : lo+min(chunk, rows-lo)] {
								if layout == "blob" {
									args = append(args, u[:], int64(1))
								} else {
									h, l := hilo(u)
									args = append(args, h, l, int64(1))
								}
							}
							n := len(ids[lo : lo+min(chunk, rows-lo)])
							var err error
							if layout == "blob" {
								_, err = d.W.ExecContext(ctx, `INSERT INTO idl_blob (id, v) VALUES `+ph(n, 2), args...)
							} else {
								_, err = d.W.ExecContext(ctx, `INSERT INTO idl_int (hi, lo, v) VALUES `+ph(n, 3), args...)
							}
							if err != nil {
								b.Fatal(err)
							}
						}
						b.StopTimer()
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
				})
				b.Run(layout+"/lookup", func(b *testing.B) {
					const lookups = 5000
					for n := 0; n < b.N; n++ {
						for i := 0; i < lookups; i++ {
							u := ids[rand.IntN(rows)]
							var v int64
							var err error
							if layout == "blob" {
								err = d.R.QueryRowContext(ctx, `SELECT v FROM idl_blob WHERE id = $1`, u[:]).Scan(&v)
							} else {
								h, l := hilo(u)
								err = d.R.QueryRowContext(ctx, `SELECT v FROM idl_int WHERE hi = $1 AND lo = $2`, h, l).Scan(&v)
							}
							if err != nil {
								b.Fatal(fmt.Errorf("%s lookup: %w", layout, err))
							}
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lookups), "ns/lookup")
				})
			}
		})
	}
}
