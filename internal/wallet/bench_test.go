package wallet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/identity"
	"okpay/internal/ledger"
)

// Benchmarks for the history at scale. Seeding writes the rows in bulk (COPY on
// PostgreSQL, multi-row INSERTs on SQLite), the same rows and index terms insertActivity
// writes. OKPAY_BENCH_HISTORY_ROWS overrides the row count (default 1,000,000).
//
//	go test -run '^$' -bench History -benchtime 2000x ./internal/wallet/
//	go test -run '^$' -bench Export -benchtime 1x -v ./internal/wallet/   (export_bench_test.go)

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
	start := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	const stepUs = 90_000_000 // 90 s apart: 1M rows ≈ 3 years
	t0 := time.Now()
	// The rows are generated inside the database (a recursive CTE joined to small
	// vocabulary tables), the fastest bulk path both engines share. Pseudo-random picks
	// come from multiplicative hashes of the row number.
	vocab := func(tx *db.Tx, name string, vals []string) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE `+name+` (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
			return err
		}
		for i, v := range vals {
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+name+` (k, v) VALUES ($1, $2)`, i, v); err != nil {
				return err
			}
		}
		return nil
	}
	var kinds, cats, dirs []string
	for _, k := range seedKinds {
		kinds, cats, dirs = append(kinds, k.typ), append(cats, k.cat), append(dirs, strconv.Itoa(k.dir))
	}
	// 1% failed, the rest mostly completed.
	statuses := make([]string, 100)
	for i := range statuses {
		switch {
		case i == 0:
			statuses[i] = StatusFailed
		case i < 8:
			statuses[i] = StatusPending
		case i < 12:
			statuses[i] = StatusPartiallyRefunded
		default:
			statuses[i] = StatusCompleted
		}
	}
	err = d.InTx(ctx, func(tx *db.Tx) error {
		for _, v := range []struct {
			name string
			vals []string
		}{{"bench_kind", kinds}, {"bench_cat", cats}, {"bench_dir", dirs}, {"bench_status", statuses}, {"bench_asset", seedAssets},
			{"bench_memo", benchMemos}, {"bench_cpty", benchCpty}} {
			if err := vocab(tx, v.name, v.vals); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE bench_terms (text TEXT NOT NULL, term TEXT NOT NULL)`); err != nil {
			return err
		}
		for _, v := range append(append([]string{}, benchMemos...), benchCpty...) {
			for _, t := range terms(v) {
				if _, err := tx.ExecContext(ctx, `INSERT INTO bench_terms (text, term) VALUES ($1, $2)`, v, t); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	tl := `[{"status":"completed","at":"2023-01-01T00:00:00Z"}]`
	const chunk = 200_000
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		err := d.InTx(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `WITH RECURSIVE s(i) AS (SELECT CAST($1 AS BIGINT) UNION ALL SELECT i + 1 FROM s WHERE i + 1 < $2),
				g(i, hk, hs, ha, hm, hc) AS (SELECT i, (i * 2654435761) % 8, (i * 40503) % 100, (i * 97) % 4, (i * 2246822519) % 20, (i * 3266489917) % 12 FROM s)
				INSERT INTO wallet_activity (`+activityCols+`)
				SELECT 'act-' || CAST(g.i AS TEXT), $3, 'B' || CAST(g.i AS TEXT), k.v, st.v, CAST(dr.v AS INTEGER), a.v, 1 + (g.i * 7919) % 100000, 0, 0,
					c.v, '', cp.v, m.v, 'seed', 'act-' || CAST(g.i AS TEXT), '', 0, 0, $4, $5 + g.i * $6, $5 + g.i * $6
				FROM g JOIN bench_kind k ON k.k = g.hk JOIN bench_cat c ON c.k = g.hk JOIN bench_dir dr ON dr.k = g.hk
				JOIN bench_status st ON st.k = g.hs JOIN bench_asset a ON a.k = g.ha JOIN bench_memo m ON m.k = g.hm JOIN bench_cpty cp ON cp.k = g.hc`,
				lo, hi, userID, tl, start, stepUs)
			if err != nil {
				return fmt.Errorf("seed activity: %w", err)
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO wallet_activity_terms (user_id, term, created_at, activity_id)
				SELECT a.user_id, t.term, a.created_at, a.id FROM wallet_activity a JOIN bench_terms t ON t.text = a.memo OR t.text = a.counterparty
				WHERE a.user_id = $1 AND a.created_at >= $2 AND a.created_at < $3 ON CONFLICT DO NOTHING`, userID, start+int64(lo)*stepUs, start+int64(hi)*stepUs)
			if err != nil {
				return fmt.Errorf("seed terms: %w", err)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if eng == db.Postgres {
		if _, err := d.W.ExecContext(ctx, `ANALYZE wallet_activity`); err != nil {
			b.Fatal(err)
		}
		if _, err := d.W.ExecContext(ctx, `ANALYZE wallet_activity_terms`); err != nil {
			b.Fatal(err)
		}
	}
	at := start + int64(n-1)*stepUs
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

// BenchmarkTransfer drives P2P transfers from many goroutines between 200 funded users
// (each call is one transaction with the checks, limits, activity and SubmitTx).
func BenchmarkTransfer(b *testing.B) {
	for _, eng := range []db.Engine{db.SQLite, db.Postgres} {
		b.Run(string(eng), func(b *testing.B) {
			d := dbtest.Open(b, eng, nil)
			ctx := context.Background()
			icfg := identity.DefaultConfig()
			icfg.SecretKey = make([]byte, 32)
			icfg.Argon2 = identity.TestArgon2
			ids, err := identity.New(d, icfg)
			if err != nil {
				b.Fatal(err)
			}
			l, err := ledger.New(d, ledger.Options{SweepEvery: -1})
			if err != nil {
				b.Fatal(err)
			}
			if err := l.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			cfg := DefaultConfig()
			cfg.NotifyPaymentReceived = false
			w, err := New(d, l, ids, nil, cfg)
			if err != nil {
				b.Fatal(err)
			}
			if err := w.Start(ctx); err != nil {
				b.Fatal(err)
			}
			const users = 200
			var us []*identity.User
			for i := 0; i < users; i++ {
				u, err := ids.CreateUser(ctx, identity.CreateUserInput{Email: fmt.Sprintf("b%d@example.com", i), Password: testPassword, Verified: true, Role: identity.RoleCustomer})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := d.W.Exec(`UPDATE users SET level = 2 WHERE id = $1`, u.ID); err != nil {
					b.Fatal(err)
				}
				if _, err := w.OpenWallet(ctx, u.ID, "CNY"); err != nil {
					b.Fatal(err)
				}
				if res, err := l.Submit(ctx, []ledger.Transfer{{ID: derive("bench-fund", u.ID), DebitAccountID: SettlementAccount("sandbox", "CNY"),
					CreditAccountID: WalletAccount(u.ID, "CNY"), Amount: 1_000_000_00, Asset: "CNY", Code: TrTopUp}}); err != nil || res[0].Code != ledger.OK {
					b.Fatal(err, res)
				}
				us = append(us, u)
			}
			var seq atomic.Int64
			b.SetParallelism(32)
			t0 := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := seq.Add(1)
					from, to := us[i%users], us[(i*7+1)%users]
					if from.ID == to.ID {
						to = us[(i+1)%users]
					}
					if _, err := w.Transfer(ctx, TransferInput{SenderID: from.ID, Key: fmt.Sprintf("bt-%d", i), To: to.ID, Amount: "0.01", Asset: "CNY"}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "transfers/s")
		})
	}
}
