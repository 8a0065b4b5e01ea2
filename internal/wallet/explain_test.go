package wallet

import (
	"strings"
	"testing"
	"time"

	"okpay/internal/db"
)

// The history's speed at a million rows depends on each filter walking its own index in
// order; this pins SQLite's plans (PostgreSQL plans from statistics, see BenchmarkHistory).
func TestHistoryPlansSQLite(t *testing.T) {
	e := newEnv(t, db.SQLite, nil)
	for _, c := range []struct {
		f    Filter
		want string
	}{
		{Filter{Statuses: []string{StatusFailed}}, "wallet_activity_user_status"},
		{Filter{Statuses: []string{StatusFailed}, From: time.Unix(100, 0), To: time.Unix(1000, 0)}, "wallet_activity_user_status"},
		{Filter{Types: []string{TypeTopUp, TypeWithdrawal}}, "wallet_activity_user_type"},
		{Filter{Asset: "USD", MinAmount: "1"}, "wallet_activity_user_asset"},
		{Filter{Text: "coffee"}, "wallet_activity_terms"},
		{Filter{From: time.Unix(100, 0)}, "wallet_activity_user "},
	} {
		cf, err := c.f.compile()
		if err != nil {
			t.Fatal(err)
		}
		pos, _ := parseCursor("")
		q, args := cf.query(db.SQLite, activityColsA, "u", pos, 21)
		rows, err := e.d.R.Query("EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var a, b, c2 int
			var d string
			if err := rows.Scan(&a, &b, &c2, &d); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, d)
		}
		rows.Close()
		p := strings.Join(plan, "\n")
		if !strings.Contains(p, c.want) || strings.Contains(p, "SCAN a") {
			t.Fatalf("filter %+v: plan\n%s", c.f, p)
		}
	}
}
