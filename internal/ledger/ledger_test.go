package ledger_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/ledger"
)

// harness is a started ledger on a fresh database with a fake clock.
type harness struct {
	t     *testing.T
	d     *db.DB
	l     *ledger.Ledger
	clock *dbtest.Clock
	ctx   context.Context
}

func start(t *testing.T, d *db.DB, opts ledger.Options) *harness {
	t.Helper()
	if opts.SweepEvery == 0 {
		opts.SweepEvery = -1 // tests sweep by hand, deterministically
	}
	l, err := ledger.New(d, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	clock, _ := d.Clock.(*dbtest.Clock)
	return &harness{t: t, d: d, l: l, clock: clock, ctx: ctx}
}

func id() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// account creates an account and returns its id.
func (h *harness) account(asset string, flags ledger.AccountFlags) uuid.UUID {
	h.t.Helper()
	a := id()
	res, err := h.l.CreateAccounts(h.ctx, []ledger.Account{{ID: a, Asset: asset, Code: 1, Owner: "owner-" + a.String()[:8], Flags: flags}})
	if err != nil || res[0].Code != ledger.OK {
		h.t.Fatalf("create account: %v %v", res, err)
	}
	return a
}

func (h *harness) submit(ts ...ledger.Transfer) []ledger.Code {
	h.t.Helper()
	res, err := h.l.Submit(h.ctx, ts)
	if err != nil {
		h.t.Fatalf("submit: %v", err)
	}
	out := make([]ledger.Code, len(res))
	for i, r := range res {
		out[i] = r.Code
	}
	return out
}

func (h *harness) one(t ledger.Transfer) ledger.Code {
	h.t.Helper()
	return h.submit(t)[0]
}

func (h *harness) expect(t ledger.Transfer, want ledger.Code) {
	h.t.Helper()
	if got := h.one(t); got != want {
		h.t.Fatalf("transfer %+v: got %s, want %s", t, got, want)
	}
}

// sums checks an account's four sums: debits pending/posted, credits pending/posted.
func (h *harness) sums(a uuid.UUID, dp, dpo, cp, cpo int64) {
	h.t.Helper()
	acc, err := h.l.Account(h.ctx, a)
	if err != nil {
		h.t.Fatal(err)
	}
	if acc.DebitsPending != dp || acc.DebitsPosted != dpo || acc.CreditsPending != cp || acc.CreditsPosted != cpo {
		h.t.Fatalf("account sums dp=%d dpo=%d cp=%d cpo=%d, want %d %d %d %d",
			acc.DebitsPending, acc.DebitsPosted, acc.CreditsPending, acc.CreditsPosted, dp, dpo, cp, cpo)
	}
}

func (h *harness) reconcile() {
	h.t.Helper()
	rep, err := ledger.Reconcile(h.ctx, h.d)
	if err != nil {
		h.t.Fatal(err)
	}
	if !rep.OK() {
		h.t.Fatalf("reconcile failed:\n%s", rep)
	}
}

func xfer(dr, cr uuid.UUID, amount int64) ledger.Transfer {
	return ledger.Transfer{ID: id(), DebitAccountID: dr, CreditAccountID: cr, Amount: amount, Asset: "CNY", Code: 1, Ref: "test"}
}

// fund moves amount from a system account (no overdraft limit) into a.
func (h *harness) fund(sys, a uuid.UUID, amount int64) {
	h.t.Helper()
	h.expect(xfer(sys, a, amount), ledger.OK)
}

func TestAccounts(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		h := start(t, d, ledger.Options{})
		a := id()
		acc := ledger.Account{ID: a, Asset: "USDT", Code: 7, Owner: "user-1", Flags: ledger.NoOverdraft}
		res, err := h.l.CreateAccounts(h.ctx, []ledger.Account{
			acc,
			acc, // same again: exists
			{ID: a, Asset: "CNY", Code: 7, Owner: "user-1"},
			{Asset: "CNY"},
			{ID: id(), Asset: "cny"},
			{ID: id(), Asset: "CNY", Flags: 1 << 10},
			{ID: id(), Asset: "CNY", CreditsPosted: 5},
			{ID: id(), Asset: "CNY", Owner: string(make([]byte, 300))},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []ledger.Code{ledger.OK, ledger.Exists, ledger.ExistsWithDifferentFields, ledger.IDInvalid,
			ledger.AssetInvalid, ledger.FlagsInvalid, ledger.BalancesInvalid, ledger.RefTooLong}
		for i, w := range want {
			if res[i].Code != w {
				t.Errorf("account %d: got %s want %s", i, res[i].Code, w)
			}
		}
		if !res[1].CreatedAt.Equal(res[0].CreatedAt) {
			t.Errorf("exists must carry the first creation time")
		}
		got, err := h.l.Account(h.ctx, a)
		if err != nil || got.Asset != "USDT" || got.Code != 7 || got.Owner != "user-1" || got.Flags != ledger.NoOverdraft {
			t.Fatalf("read back %+v %v", got, err)
		}
		h.account("USDT", 0)
		list, err := h.l.AccountsByOwner(h.ctx, "user-1", uuid.Nil, 10)
		if err != nil || len(list) != 1 || list[0].ID != a {
			t.Fatalf("by owner: %+v %v", list, err)
		}
		if _, err := h.l.Account(h.ctx, id()); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("missing account: %v", err)
		}
	})
}

// TestResultCodes drives every transfer result code and checks the balances after.
func TestResultCodes(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		h := start(t, d, ledger.Options{})
		sys := h.account("CNY", 0)
		a := h.account("CNY", ledger.NoOverdraft)
		b := h.account("CNY", ledger.NoOverdraft)
		usd := h.account("USD", 0)
		h.fund(sys, a, 1000)

		ok := xfer(a, b, 100)
		h.expect(ok, ledger.OK)
		h.sums(a, 0, 100, 0, 1000)
		h.sums(b, 0, 0, 0, 100)

		// Same id, same fields: exists with the first time; different fields: refused.
		res, err := h.l.Submit(h.ctx, []ledger.Transfer{ok})
		if err != nil || res[0].Code != ledger.Exists {
			t.Fatalf("resubmit: %v %v", res, err)
		}
		first, _ := h.l.Transfer(h.ctx, ok.ID)
		if !res[0].CreatedAt.Equal(first.CreatedAt) {
			t.Fatalf("exists time %v, stored %v", res[0].CreatedAt, first.CreatedAt)
		}
		diff := ok
		diff.Amount = 101
		h.expect(diff, ledger.ExistsWithDifferentFields)

		cases := []struct {
			t    ledger.Transfer
			want ledger.Code
		}{
			{xfer(a, b, 0), ledger.AmountInvalid},
			{xfer(a, b, -5), ledger.AmountInvalid},
			{xfer(a, a, 5), ledger.SameAccount},
			{xfer(a, id(), 5), ledger.AccountNotFound},
			{xfer(id(), b, 5), ledger.AccountNotFound},
			{xfer(a, usd, 5), ledger.AssetMismatch},
			{xfer(a, b, 901), ledger.InsufficientFunds},
			{ledger.Transfer{DebitAccountID: a, CreditAccountID: b, Amount: 1, Asset: "CNY"}, ledger.IDInvalid},
			{ledger.Transfer{ID: id(), DebitAccountID: a, CreditAccountID: b, Amount: 1, Asset: "CNY", Flags: ledger.Pending | ledger.VoidPending}, ledger.FlagsInvalid},
			{ledger.Transfer{ID: id(), DebitAccountID: a, CreditAccountID: b, Amount: 1, Asset: "CNY", Timeout: time.Second}, ledger.FlagsInvalid},
			{ledger.Transfer{ID: id(), DebitAccountID: a, CreditAccountID: b, Amount: 1, Asset: ""}, ledger.AssetInvalid},
			{ledger.Transfer{ID: id(), DebitAccountID: a, CreditAccountID: b, Amount: 1, Asset: "CNY", Ref: string(make([]byte, 257))}, ledger.RefTooLong},
			{ledger.Transfer{ID: id(), Flags: ledger.PostPending, PendingID: id()}, ledger.PendingNotFound},
			{ledger.Transfer{ID: id(), Flags: ledger.VoidPending}, ledger.PendingNotFound},
		}
		for i, c := range cases {
			if got := h.one(c.t); got != c.want {
				t.Errorf("case %d: got %s want %s", i, got, c.want)
			}
		}
		// Failures changed nothing.
		h.sums(a, 0, 100, 0, 1000)
		h.sums(b, 0, 0, 0, 100)

		// Exactly the available balance is allowed; one more is not.
		h.expect(xfer(a, b, 900), ledger.OK)
		h.sums(a, 0, 1000, 0, 1000)
		h.expect(xfer(a, b, 1), ledger.InsufficientFunds)
		// A stored transfer sent again answers Exists even though it would now fail.
		h.expect(ok, ledger.Exists)

		// Flags: blocked and closed accounts.
		frozen := h.account("CNY", ledger.DebitsBlocked)
		noIn := h.account("CNY", ledger.CreditsBlocked)
		closed := h.account("CNY", ledger.Closed)
		h.fund(sys, frozen, 10)
		h.expect(xfer(frozen, b, 1), ledger.DebitsBlockedCode)
		h.expect(xfer(sys, noIn, 1), ledger.CreditsBlockedCode)
		h.expect(xfer(sys, closed, 1), ledger.AccountClosed)
		h.expect(xfer(closed, sys, 1), ledger.AccountClosed)
		h.sums(frozen, 0, 0, 0, 10)
		h.sums(noIn, 0, 0, 0, 0)

		// Overflow of a running sum is refused, not wrapped.
		big := h.account("CNY", 0)
		h.expect(xfer(sys, big, 1<<62), ledger.OK)
		h.expect(xfer(sys, big, 1<<62), ledger.Overflow)
		h.sums(big, 0, 0, 0, 1<<62)

		// Two-phase codes.
		hold := xfer(b, a, 50)
		hold.Flags = ledger.Pending
		h.expect(hold, ledger.OK)
		h.sums(b, 50, 0, 0, 1000)
		post := ledger.Transfer{ID: id(), Flags: ledger.PostPending, PendingID: hold.ID, Amount: 51}
		h.expect(post, ledger.PostAmountExceedsPending)
		h.expect(ledger.Transfer{ID: id(), Flags: ledger.PostPending, PendingID: hold.ID, DebitAccountID: sys}, ledger.PendingMismatch)
		post.Amount = 50
		h.expect(post, ledger.OK)
		h.expect(ledger.Transfer{ID: id(), Flags: ledger.PostPending, PendingID: hold.ID}, ledger.PendingAlreadyPosted)
		h.expect(post, ledger.Exists) // the post itself, sent again
		h.expect(ledger.Transfer{ID: id(), Flags: ledger.VoidPending, PendingID: hold.ID}, ledger.PendingAlreadyPosted)
		hold2 := xfer(b, a, 10)
		hold2.Flags = ledger.Pending
		h.expect(hold2, ledger.OK)
		h.expect(ledger.Transfer{ID: id(), Flags: ledger.VoidPending, PendingID: hold2.ID}, ledger.OK)
		h.expect(ledger.Transfer{ID: id(), Flags: ledger.VoidPending, PendingID: hold2.ID}, ledger.PendingAlreadyVoided)
		h.expect(ledger.Transfer{ID: id(), Flags: ledger.PostPending, PendingID: hold2.ID}, ledger.PendingAlreadyVoided)
		h.sums(b, 0, 50, 0, 1000)
		h.sums(a, 0, 1000, 0, 1050)

		// A chain whose member fails: that member has its code, the rest linked_chain_failed.
		c1, c2 := xfer(a, b, 1), xfer(a, b, 1_000_000)
		c1.Flags = ledger.Linked
		if got := h.submit(c1, c2); got[0] != ledger.LinkedChainFailed || got[1] != ledger.InsufficientFunds {
			t.Fatalf("chain: %v", got)
		}
		open := xfer(a, b, 1)
		open.Flags = ledger.Linked
		if got := h.submit(open); got[0] != ledger.LinkedChainOpen {
			t.Fatalf("open chain: %v", got)
		}
		h.sums(a, 0, 1000, 0, 1050)
		h.reconcile()
	})
}

func TestTwoPhase(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		h := start(t, d, ledger.Options{SweepLimit: 2})
		sys := h.account("CNY", 0)
		a := h.account("CNY", ledger.NoOverdraft)
		m := h.account("CNY", ledger.NoOverdraft)
		h.fund(sys, a, 100)

		hold := func(amount int64, timeout time.Duration) ledger.Transfer {
			t := xfer(a, m, amount)
			t.Flags, t.Timeout = ledger.Pending, timeout
			h.expect(t, ledger.OK)
			return t
		}
		// A hold counts against available balance until resolved.
		p1 := hold(60, 0)
		h.expect(xfer(a, m, 41), ledger.InsufficientFunds)
		bal, _ := h.l.Balance(h.ctx, a)
		if bal.Available != 40 || bal.Posted != 100 || bal.PendingDebits != 60 {
			t.Fatalf("balance with hold: %+v", bal)
		}
		// Post in full (amount 0 = all of it).
		h.expect(ledger.Transfer{ID: id(), Flags: ledger.PostPending, PendingID: p1.ID}, ledger.OK)
		h.sums(a, 0, 60, 0, 100)
		h.sums(m, 0, 0, 0, 60)

		// Post in part: the rest is released.
		p2 := hold(30, 0)
		h.expect(ledger.Transfer{ID: id(), Flags: ledger.PostPending, PendingID: p2.ID, Amount: 10, Asset: "CNY", DebitAccountID: a}, ledger.OK)
		h.sums(a, 0, 70, 0, 100)
		h.sums(m, 0, 0, 0, 70)

		// Void releases everything.
		p3 := hold(30, 0)
		h.expect(ledger.Transfer{ID: id(), Flags: ledger.VoidPending, PendingID: p3.ID, Amount: 30}, ledger.OK)
		h.sums(a, 0, 70, 0, 100)

		// Expiry by timeout: after it, post and void are refused even before the sweep.
		p4 := hold(5, time.Minute)
		h.clock.Advance(time.Minute)
		h.expect(ledger.Transfer{ID: id(), Flags: ledger.PostPending, PendingID: p4.ID}, ledger.PendingExpired)
		h.expect(ledger.Transfer{ID: id(), Flags: ledger.VoidPending, PendingID: p4.ID}, ledger.PendingExpired)
		h.sums(a, 5, 70, 0, 100) // still held until the sweep runs

		// Expiry by sweep: limit 2 per pass, three expired, one not yet.
		hold(1, time.Minute)
		hold(1, time.Minute)
		keep := hold(1, time.Hour)
		h.clock.Advance(2 * time.Minute)
		n1, err := h.l.SweepExpired(h.ctx)
		if err != nil || n1 != 2 {
			t.Fatalf("sweep 1: %d %v", n1, err)
		}
		n2, err := h.l.SweepExpired(h.ctx)
		if err != nil || n2 != 1 {
			t.Fatalf("sweep 2: %d %v", n2, err)
		}
		h.sums(a, 1, 70, 0, 100)
		h.sums(m, 0, 0, 1, 70)
		h.expect(ledger.Transfer{ID: id(), Flags: ledger.PostPending, PendingID: p4.ID}, ledger.PendingExpired)
		h.expect(ledger.Transfer{ID: id(), Flags: ledger.PostPending, PendingID: keep.ID}, ledger.OK)
		h.sums(a, 0, 71, 0, 100)

		// Hold, post and void within one call, one batch.
		p5 := xfer(a, m, 3)
		p5.Flags = ledger.Pending
		got := h.submit(p5, ledger.Transfer{ID: id(), Flags: ledger.PostPending, PendingID: p5.ID, Amount: 2},
			ledger.Transfer{ID: id(), Flags: ledger.VoidPending, PendingID: p5.ID})
		if got[0] != ledger.OK || got[1] != ledger.OK || got[2] != ledger.PendingAlreadyPosted {
			t.Fatalf("same-batch two-phase: %v", got)
		}
		h.sums(a, 0, 73, 0, 100)
		h.reconcile()
	})
}

func TestLinkedChains(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		h := start(t, d, ledger.Options{})
		sys := h.account("CNY", 0)
		a := h.account("CNY", ledger.NoOverdraft)
		b := h.account("CNY", ledger.NoOverdraft)
		fee := h.account("CNY", 0)
		h.fund(sys, a, 100)

		chain := func(amounts ...int64) []ledger.Transfer {
			ts := make([]ledger.Transfer, len(amounts))
			for i, am := range amounts {
				ts[i] = xfer(a, b, am)
				if i%2 == 1 {
					ts[i].CreditAccountID = fee
				}
				if i < len(amounts)-1 {
					ts[i].Flags = ledger.Linked
				}
			}
			return ts
		}
		// All of a chain applies.
		if got := h.submit(chain(10, 1)...); got[0] != ledger.OK || got[1] != ledger.OK {
			t.Fatalf("chain ok: %v", got)
		}
		h.sums(a, 0, 11, 0, 100)
		// A chain whose last transfer fails: nothing applies.
		got := h.submit(chain(10, 1, 10, 1000)...)
		want := []ledger.Code{ledger.LinkedChainFailed, ledger.LinkedChainFailed, ledger.LinkedChainFailed, ledger.InsufficientFunds}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("failing chain: %v", got)
			}
		}
		h.sums(a, 0, 11, 0, 100)
		h.sums(b, 0, 0, 0, 10)
		h.sums(fee, 0, 0, 0, 1)
		// A chain failing in the middle, next to independent transfers in the same call:
		// only the chain fails.
		single1 := xfer(a, b, 1)
		c := chain(5, 1000, 5)
		single2 := xfer(a, b, 2)
		got = h.submit(append(append([]ledger.Transfer{single1}, c...), single2)...)
		want = []ledger.Code{ledger.OK, ledger.LinkedChainFailed, ledger.InsufficientFunds, ledger.LinkedChainFailed, ledger.OK}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("mixed call: %v", got)
			}
		}
		h.sums(a, 0, 14, 0, 100)
		// A failed chain left no trace: its ids are free, the same chain with a smaller
		// amount now applies.
		for i := range c {
			c[i].Amount = 1
		}
		if got := h.submit(c...); got[0] != ledger.OK || got[2] != ledger.OK {
			t.Fatalf("retried chain: %v", got)
		}
		// A chain that holds and posts, rolled back as a whole (pending state included).
		p := xfer(a, b, 5)
		p.Flags = ledger.Pending | ledger.Linked
		post := ledger.Transfer{ID: id(), Flags: ledger.PostPending | ledger.Linked, PendingID: p.ID}
		bad := xfer(a, b, 10_000)
		got = h.submit(p, post, bad)
		if got[0] != ledger.LinkedChainFailed || got[2] != ledger.InsufficientFunds {
			t.Fatalf("two-phase chain: %v", got)
		}
		h.expect(ledger.Transfer{ID: id(), Flags: ledger.PostPending, PendingID: p.ID}, ledger.PendingNotFound)
		h.sums(a, 0, 17, 0, 100)
		h.reconcile()
	})
}

func TestConcurrentDebitsNeverOverdraw(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		h := start(t, d, ledger.Options{})
		sys := h.account("CNY", 0)
		a := h.account("CNY", ledger.NoOverdraft)
		b := h.account("CNY", 0)
		h.fund(sys, a, 50)
		var wg sync.WaitGroup
		var mu sync.Mutex
		count := map[ledger.Code]int{}
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := h.l.Submit(h.ctx, []ledger.Transfer{xfer(a, b, 1)})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				count[res[0].Code]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if count[ledger.OK] != 50 || count[ledger.InsufficientFunds] != 50 {
			t.Fatalf("results %v", count)
		}
		bal, _ := h.l.Balance(h.ctx, a)
		if bal.Available != 0 || bal.Posted != 0 {
			t.Fatalf("balance %+v", bal)
		}
		h.reconcile()
	})
}

func TestConcurrentSameID(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		h := start(t, d, ledger.Options{})
		sys := h.account("CNY", 0)
		a := h.account("CNY", 0)
		tr := xfer(sys, a, 7)
		var wg sync.WaitGroup
		results := make([]ledger.Result, 1000)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := h.l.Submit(h.ctx, []ledger.Transfer{tr})
				if err != nil {
					t.Error(err)
					return
				}
				results[i] = res[0]
			}()
		}
		wg.Wait()
		oks := 0
		for _, r := range results {
			switch r.Code {
			case ledger.OK:
				oks++
			case ledger.Exists:
			default:
				t.Fatalf("unexpected %s", r.Code)
			}
			if !r.CreatedAt.Equal(results[0].CreatedAt) {
				t.Fatalf("results disagree on time: %v vs %v", r.CreatedAt, results[0].CreatedAt)
			}
		}
		if oks != 1 {
			t.Fatalf("%d applied", oks)
		}
		h.sums(a, 0, 0, 0, 7)
		h.reconcile()
	})
}

func TestSubmitTx(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		h := start(t, d, ledger.Options{})
		sys := h.account("CNY", 0)
		a := h.account("CNY", 0)
		// Rolled back with the business transaction: nothing stays.
		boom := errors.New("business rule failed")
		tr := xfer(sys, a, 5)
		err := d.InTx(h.ctx, func(tx *db.Tx) error {
			res, err := h.l.SubmitTx(h.ctx, tx, []ledger.Transfer{tr})
			if err != nil || res[0].Code != ledger.OK {
				t.Fatalf("submit tx: %v %v", res, err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		h.sums(a, 0, 0, 0, 0)
		// Committed with it: applied once; the committer then sees it as existing.
		err = d.InTx(h.ctx, func(tx *db.Tx) error {
			acc := id()
			if res, err := h.l.CreateAccountsTx(h.ctx, tx, []ledger.Account{{ID: acc, Asset: "CNY"}}); err != nil || res[0].Code != ledger.OK {
				t.Fatalf("create in tx: %v %v", res, err)
			}
			_, err := h.l.SubmitTx(h.ctx, tx, []ledger.Transfer{tr, xfer(a, acc, 2)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		h.sums(a, 0, 2, 0, 5)
		h.expect(tr, ledger.Exists)
		h.reconcile()
	})
}

func TestCloseDrains(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		h := start(t, d, ledger.Options{})
		sys := h.account("CNY", 0)
		a := h.account("CNY", 0)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, refused := 0, 0
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := h.l.Submit(h.ctx, []ledger.Transfer{xfer(sys, a, 1)})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, ledger.ErrClosed):
					refused++
				case err == nil && res[0].Code == ledger.OK:
					ok++
				default:
					t.Errorf("submit during close: %v %v", res, err)
				}
			}()
		}
		time.Sleep(time.Millisecond)
		if err := h.l.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if ok+refused != 200 {
			t.Fatalf("ok %d refused %d", ok, refused)
		}
		acc, err := h.l.Account(h.ctx, a)
		if err != nil || acc.CreditsPosted != int64(ok) {
			t.Fatalf("acknowledged %d, stored %d (%v)", ok, acc.CreditsPosted, err)
		}
		h.reconcile()
	})
}

// AccountsExistTx answers through the caller's transaction which accounts are stored,
// for callers that hold a write transaction (one connection, no second one from the pool).
func TestAccountsExistTx(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		h := start(t, d, ledger.Options{})
		a, b := h.account("CNY", 0), h.account("USD", 0)
		missing := id()
		var got map[uuid.UUID]bool
		if err := d.InTx(h.ctx, func(tx *db.Tx) error {
			var err error
			got, err = h.l.AccountsExistTx(h.ctx, tx, []uuid.UUID{a, missing, b})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !got[a] || !got[b] || got[missing] {
			t.Fatalf("exist: %v, want %s and %s only", got, a, b)
		}
	})
}
