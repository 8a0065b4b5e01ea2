package wallet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"okpay/internal/db"
)

var (
	seedMemos = []string{"coffee beans", "三月房租", "地铁 metro card", "lunch with team", "", "gift 礼物", "electricity bill", "book"}
	seedCpty  = []string{"Bean Shop", "a***e@example.com", "城市地铁", "b***b@mail.test", "Power Co"}
	seedKinds = []struct {
		typ, cat string
		dir      int
	}{
		{TypePayment, "food", -1}, {TypePayment, "shopping", -1}, {TypeTransferOut, CatTransfers, -1}, {TypeTransferIn, CatTransfers, 1},
		{TypeTopUp, CatTopUps, 1}, {TypeWithdrawal, CatWithdrawals, -1}, {TypeRefund, CatRefunds, 1}, {TypeDeposit, CatDeposits, 1},
	}
	seedStatuses = []string{StatusCompleted, StatusCompleted, StatusCompleted, StatusCompleted, StatusFailed, StatusPending, StatusPartiallyRefunded}
	seedAssets   = []string{"CNY", "CNY", "CNY", "USD"}
)

// seedActivity writes n activity records for userID through insertActivity, one every
// few minutes of fake time, and returns them oldest first.
func seedActivity(t *testing.T, e *env, userID string, n int, seed uint64) []Activity {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	var out []Activity
	err := e.d.InTx(e.ctx, func(tx *db.Tx) error {
		for i := 0; i < n; i++ {
			k := seedKinds[r.IntN(len(seedKinds))]
			tx.Now = tx.Now.Add(time.Duration(1+r.IntN(600)) * time.Minute)
			id := derive("seed", userID, fmt.Sprint(seed), fmt.Sprint(i))
			a, err := insertActivity(e.ctx, tx, newActivity{id: id, userID: userID, typ: k.typ, status: seedStatuses[r.IntN(len(seedStatuses))],
				direction: k.dir, asset: seedAssets[r.IntN(len(seedAssets))], amount: int64(1 + r.IntN(100_000)), category: k.cat,
				cpty: seedCpty[r.IntN(len(seedCpty))], memo: seedMemos[r.IntN(len(seedMemos))], sourceKind: "seed", sourceID: id.String()})
			if err != nil {
				return err
			}
			out = append(out, *a)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// matches is the reference implementation of a filter.
func matches(a *Activity, f Filter) bool {
	if !f.From.IsZero() && a.CreatedAt.Before(f.From) || !f.To.IsZero() && !a.CreatedAt.Before(f.To) {
		return false
	}
	if len(f.Types) > 0 && !slices.Contains(f.Types, a.Type) || len(f.Statuses) > 0 && !slices.Contains(f.Statuses, a.Status) {
		return false
	}
	if f.Asset != "" && a.Asset != f.Asset {
		return false
	}
	if f.Text != "" {
		for _, w := range strings.Fields(strings.ToLower(f.Text)) {
			if !strings.Contains(strings.ToLower(a.Counterparty+" "+a.Memo), w) {
				return false
			}
		}
	}
	return true
}

func TestHistoryFilters(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		u, other := e.user("hist"), e.user("other")
		all := seedActivity(t, e, u.ID, 400, 1)
		seedActivity(t, e, other.ID, 50, 2)
		mid := all[200].CreatedAt
		filters := []Filter{
			{},
			{Types: []string{TypePayment}},
			{Types: []string{TypeTopUp, TypeWithdrawal}},
			{Statuses: []string{StatusFailed}},
			{Statuses: []string{StatusFailed, StatusPending}, Types: []string{TypePayment}},
			{Asset: "USD"},
			{From: mid, To: mid.Add(7 * 24 * time.Hour)},
			{Text: "coffee"},
			{Text: "地铁"},
			{Text: "房租", Types: []string{TypePayment, TypeTransferOut}},
			{Text: "bean shop"},
			{Asset: "CNY", MinAmount: "100", MaxAmount: "300"},
		}
		for fi, f := range filters {
			var want []Activity
			for i := len(all) - 1; i >= 0; i-- {
				a := &all[i]
				if !matches(a, f) {
					continue
				}
				if f.MinAmount != "" && (a.AmountMinor < 100_00 || a.AmountMinor > 300_00) {
					continue
				}
				want = append(want, *a)
			}
			var got []Activity
			cur := ""
			for pages := 0; pages < 100; pages++ {
				p, err := e.w.ListActivity(e.ctx, u.ID, f, cur, 7)
				if err != nil {
					t.Fatalf("filter %d: %v", fi, err)
				}
				got = append(got, p.Items...)
				if p.Next == "" {
					break
				}
				cur = p.Next
			}
			if len(got) != len(want) {
				t.Fatalf("filter %d %+v: got %d rows, want %d", fi, f, len(got), len(want))
			}
			for i := range got {
				if got[i].ID != want[i].ID {
					t.Fatalf("filter %d row %d: %s vs %s", fi, i, got[i].RefNo, want[i].RefNo)
				}
			}
			// Export gives the same rows.
			n := 0
			err := e.w.ExportActivity(e.ctx, u.ID, f, func(r Row) error {
				if r.RefNo != want[n].RefNo {
					return fmt.Errorf("export row %d: %s vs %s", n, r.RefNo, want[n].RefNo)
				}
				n++
				return nil
			})
			if err != nil || n != len(want) {
				t.Fatalf("filter %d export: %v (%d of %d)", fi, err, n, len(want))
			}
		}
		// Pages are stable when new rows arrive.
		p1, err := e.w.ListActivity(e.ctx, u.ID, Filter{}, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		seedActivity(t, e, u.ID, 5, 3)
		p2, err := e.w.ListActivity(e.ctx, u.ID, Filter{}, p1.Next, 10)
		if err != nil || p2.Items[0].ID != all[len(all)-11].ID {
			t.Fatalf("page 2 shifted: %v", err)
		}
		// Bad input.
		for _, f := range []Filter{{Types: []string{"nope"}}, {Statuses: []string{"x"}}, {MinAmount: "1"}, {Text: "!!!"},
			{From: mid, To: mid.Add(-time.Hour)}, {Asset: "EUR"}} {
			if _, err := e.w.ListActivity(e.ctx, u.ID, f, "", 10); err == nil {
				t.Fatalf("filter %+v accepted", f)
			}
		}
		if _, err := e.w.ListActivity(e.ctx, u.ID, Filter{}, "garbage!", 10); err == nil {
			t.Fatal("bad cursor accepted")
		}
		// An error from the callback stops the export.
		stop := errors.New("stop")
		n := 0
		if err := e.w.ExportActivity(e.ctx, u.ID, Filter{}, func(Row) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
			t.Fatalf("export stop: %v %d", err, n)
		}
		ctx, cancel := context.WithCancel(e.ctx)
		cancel()
		if err := e.w.ExportActivity(ctx, u.ID, Filter{}, func(Row) error { return nil }); err == nil {
			t.Fatal("cancelled export ran")
		}
	})
}

func TestAnalysis(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		u := e.user("ana")
		all := seedActivity(t, e, u.ID, 300, 7)
		from, to := all[0].CreatedAt, all[len(all)-1].CreatedAt.Add(time.Second)
		an, err := e.w.Analyze(e.ctx, u.ID, "CNY", from, to)
		if err != nil {
			t.Fatal(err)
		}
		var income, spending int64
		months := map[string]bool{}
		for _, a := range all {
			if a.Asset != "CNY" || (a.Status != StatusCompleted && a.Status != StatusPartiallyRefunded && a.Status != StatusRefunded) {
				continue
			}
			months[a.CreatedAt.In(cst).Format("2006-01")] = true
			if ownMoney(a.Category) {
				continue
			}
			if a.Direction > 0 {
				income += a.AmountMinor
			} else {
				spending += a.AmountMinor
			}
		}
		if an.IncomeMinor != income || an.SpendingMinor != spending {
			t.Fatalf("income %d/%d spending %d/%d", an.IncomeMinor, income, an.SpendingMinor, spending)
		}
		if len(an.Months) < len(months) || len(an.Categories) == 0 || len(an.TopCounterparties) == 0 {
			t.Fatalf("analysis %+v", an)
		}
		if _, err := e.w.Analyze(e.ctx, u.ID, "CNY", from, from.AddDate(3, 0, 0)); err == nil {
			t.Fatal("36 months accepted")
		}
	})
}
