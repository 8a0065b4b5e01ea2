package wallet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/identity"
	"okpay/internal/ledger"
)

// Benchmarks for the history at scale. Seeding writes the rows in bulk (COPY on
// PostgreSQL, multi-row INSERTs on SQLite), the same rows and index terms insertActivity
// writes. OKPAY_BENCH_HISTORY_ROWS overrides the row count (default 1,000,000).
//
//	go test -run '^$' -bench 'History|Export' -benchtime 2000x ./internal/wallet/

func benchRows() int {
	if v, err := strconv.Atoi(os.Getenv("OKPAY_BENCH_HISTORY_ROWS")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

var benchMemos = []string{"coffee beans", "三月房租", "地铁 metro card", "lunch with team", "", "gift 礼物", "electricity bill", "book store",
	"taxi to airport", "超市 groceries", "电影票 movie", "phone bill 话费", "dinner 晚饭", "gym membership", "water bill", "concert tickets",
	"外卖 takeaway", "parking", "flowers for mum", "school fees 学费"}
var benchCpty = []string{"Bean Shop", "a***e@example.com", "城市地铁", "b***b@mail.test", "Power Co", "c***y@example.org", "全家便利店", "Metro Books",
	"d***n@qq.test", "Cinema One", "e***a@163.test", "滴滴出行"}

type benchEnv struct {
	d      *db.DB
	w      *Service
	userID string
	first  int64 // µs of the oldest row
	last   int64
}

func seedBench(b *testing.B, eng db.Engine, n int) *benchEnv {
	b.Helper()
	d := dbtest.Open(b, eng, nil)
	ctx := context.Background()
	icfg := identity.DefaultConfig()
	icfg.SecretKey = make([]byte, 32)
	ids, err := identity.New(d, icfg)
	if err != nil {
		b.Fatal(err)
	}
	l, err := ledger.New(d, ledger.Options{SweepEvery: -1})
	if err != nil {
		b.Fatal(err)
	}
	w, err := New(d, l, ids, nil, DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	userID := "bench-user"
	r := rand.New(rand.NewPCG(42, 42))
	start := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	at := start
	tl := `[{"status":"completed","at":"2023-01-01T00:00:00Z"}]`
	statuses := []string{StatusCompleted, StatusCompleted, StatusCompleted, StatusCompleted, StatusCompleted, StatusCompleted, StatusCompleted,
		StatusCompleted, StatusCompleted, StatusPending, StatusPartiallyRefunded, StatusRefunded}
	type act struct {
		vals  []any
		terms []string
	}
	gen := func(i int) act {
		k := seedKinds[r.IntN(len(seedKinds))]
		st := statuses[r.IntN(len(statuses))]
		if r.IntN(100) == 0 {
			st = StatusFailed // 1%: a rare filter value
		}
		at += int64(30+r.IntN(120)) * 1_000_000 // ~1.5 min apart: 1M rows ≈ 3 years
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i>>16, i)
		cpty, memo := benchCpty[r.IntN(len(benchCpty))], benchMemos[r.IntN(len(benchMemos))]
		asset := seedAssets[r.IntN(len(seedAssets))]
		return act{vals: []any{id, userID, "B" + strconv.Itoa(i), k.typ, st, k.dir, asset, int64(1 + r.IntN(1_000_00)), int64(0), int64(0), k.cat, "",
			cpty, memo, "seed", id, "", 0, 0, tl, at, at}, terms: terms(cpty + " " + memo)}
	}
	t0 := time.Now()
	cols := strings.Split(strings.ReplaceAll(activityCols, "\n", ""), ",")
	for i := range cols {
		cols[i] = strings.TrimSpace(cols[i])
	}
	if eng == db.Postgres {
		conn, err := d.W.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		err = conn.Raw(func(dc any) error {
			c, ok := db.PgxConn(dc)
			if !ok {
				return fmt.Errorf("not a pgx connection")
			}
			const chunk = 100_000
			for done := 0; done < n; done += chunk {
				m := min(chunk, n-done)
				var rows, trows [][]any
				for i := 0; i < m; i++ {
					a := gen(done + i)
					rows = append(rows, a.vals)
					for _, t := range a.terms {
						trows = append(trows, []any{userID, t, a.vals[20], a.vals[0]})
					}
				}
				if _, err := c.Conn().CopyFrom(ctx, pgx.Identifier{"wallet_activity"}, cols, pgx.CopyFromRows(rows)); err != nil {
					return err
				}
				if _, err := c.Conn().CopyFrom(ctx, pgx.Identifier{"wallet_activity_terms"}, []string{"user_id", "term", "created_at", "activity_id"},
					pgx.CopyFromRows(trows)); err != nil {
					return err
				}
			}
			_, err := c.Conn().Exec(ctx, "ANALYZE wallet_activity; ANALYZE wallet_activity_terms")
			return err
		})
		conn.Close()
		if err != nil {
			b.Fatal(err)
		}
	} else {
		const per = 400
		actQ := func(k int) string {
			var sb strings.Builder
			sb.WriteString("INSERT INTO wallet_activity (" + activityCols + ") VALUES ")
			for i := 0; i < k; i++ {
				if i > 0 {
					sb.WriteString(",")
				}
				sb.WriteString("(" + db.Placeholders(i*22+1, 22) + ")")
			}
			return sb.String()
		}
		for done := 0; done < n; {
			err := d.InTx(ctx, func(tx *db.Tx) error {
				for j := 0; j < 250 && done < n; j++ {
					m := min(per, n-done)
					var args, targs []any
					for i := 0; i < m; i++ {
						a := gen(done + i)
						args = append(args, a.vals...)
						for _, t := range a.terms {
							targs = append(targs, userID, t, a.vals[20], a.vals[0])
						}
					}
					if _, err := tx.ExecContext(ctx, actQ(m), args...); err != nil {
						return err
					}
					for len(targs) > 0 {
						k := min(len(targs)/4, 2000)
						var sb strings.Builder
						sb.WriteString("INSERT INTO wallet_activity_terms (user_id, term, created_at, activity_id) VALUES ")
						for i := 0; i < k; i++ {
							if i > 0 {
								sb.WriteString(",")
							}
							sb.WriteString("(" + db.Placeholders(i*4+1, 4) + ")")
						}
						if _, err := tx.ExecContext(ctx, sb.String(), targs[:k*4]...); err != nil {
							return err
						}
						targs = targs[k*4:]
					}
					done += m
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Logf("%s: seeded %d activity rows in %s", eng, n, time.Since(t0).Round(time.Millisecond))
	return &benchEnv{d: d, w: w, userID: userID, first: start, last: at}
}

type benchCase struct {
	name string
	f    Filter
}

func benchCases(be *benchEnv) []benchCase {
	mid := be.first + (be.last-be.first)/2
	return []benchCase{
		{"all", Filter{}},
		{"type", Filter{Types: []string{TypePayment}}},
		{"types2", Filter{Types: []string{TypeTopUp, TypeWithdrawal}}},
		{"status_rare", Filter{Statuses: []string{StatusFailed}}},
		{"asset", Filter{Asset: "USD"}},
		{"month", Filter{From: db.Micros(mid), To: db.Micros(mid).AddDate(0, 1, 0)}},
		{"text", Filter{Text: "coffee"}},
		{"text_zh", Filter{Text: "地铁"}},
		{"text_type", Filter{Text: "bill", Types: []string{TypePayment}}},
		{"amount", Filter{Asset: "CNY", MinAmount: "100", MaxAmount: "200"}},
		{"type_status_month", Filter{Types: []string{TypePayment}, Statuses: []string{StatusCompleted}, From: db.Micros(mid), To: db.Micros(mid).AddDate(0, 3, 0)}},
	}
}

// BenchmarkHistory: filtered history pages (20 rows) over one user's 1M rows, half first
// pages and half continuing from a random position; reports p50/p99 per filter kind.
func BenchmarkHistory(b *testing.B) {
	for _, eng := range []db.Engine{db.SQLite, db.Postgres} {
		b.Run(string(eng), func(b *testing.B) {
			be := seedBench(b, eng, benchRows())
			ctx := context.Background()
			var allLat []time.Duration
			for _, c := range benchCases(be) {
				b.Run(c.name, func(b *testing.B) {
					r := rand.New(rand.NewPCG(1, 2))
					var lat []time.Duration
					for i := 0; b.Loop(); i++ {
						cur := ""
						if i%2 == 1 {
							cur = cursor{at: be.first + r.Int64N(be.last-be.first), id: "~"}.String()
						}
						t0 := time.Now()
						if _, err := be.w.ListActivity(ctx, be.userID, c.f, cur, 20); err != nil {
							b.Fatal(err)
						}
						lat = append(lat, time.Since(t0))
					}
					p50, p99 := pct(lat, 50), pct(lat, 99)
					b.ReportMetric(p50, "p50_ms")
					b.ReportMetric(p99, "p99_ms")
					allLat = append(allLat, lat...)
				})
			}
			b.Logf("%s all filters: p50 %.2f ms, p99 %.2f ms over %d pages", eng, pct(allLat, 50), pct(allLat, 99), len(allLat))
		})
	}
}

// BenchmarkExport streams every row of the 1M-row history and reports rows/s and how much
// the process grew.
func BenchmarkExport(b *testing.B) {
	for _, eng := range []db.Engine{db.SQLite, db.Postgres} {
		b.Run(string(eng), func(b *testing.B) {
			be := seedBench(b, eng, benchRows())
			ctx := context.Background()
			runtime.GC()
			rss0 := rssMB()
			var peak float64
			for b.Loop() {
				t0 := time.Now()
				n := 0
				var sink int
				err := be.w.ExportActivity(ctx, be.userID, Filter{}, func(r Row) error {
					n++
					for _, c := range r.Record() {
						sink += len(c)
					}
					if n%100_000 == 0 {
						peak = max(peak, rssMB())
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				el := time.Since(t0)
				b.ReportMetric(float64(n)/el.Seconds(), "rows/s")
				b.Logf("%s: exported %d rows in %s (%.0f rows/s), RSS %.1f → peak %.1f MB", eng, n, el.Round(time.Millisecond), float64(n)/el.Seconds(), rss0, peak)
			}
			b.ReportMetric(peak-rss0, "rss_growth_mb")
		})
	}
}

func pct(l []time.Duration, p int) float64 {
	if len(l) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return float64(s[i].Microseconds()) / 1000
}

func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
