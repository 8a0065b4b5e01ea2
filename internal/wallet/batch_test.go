package wallet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/identity"
)

// runBatch runs calls as one batch, as a leader would, and returns their outcomes.
func (e *env) runBatch(ins []TransferInput) []*xfer {
	e.t.Helper()
	calls := make([]*xfer, len(ins))
	for i, in := range ins {
		asset, amount, err := parseAmount(in.Amount, in.Asset)
		if err != nil {
			e.t.Fatal(err)
		}
		op := opID(in.SenderID, in.Key)
		c := e.w.batchable(e.ctx, in, asset.Code, amount, op, hashReq("transfer", in.To, asset.Code, fmt.Sprint(amount), in.Memo))
		if c == nil {
			e.t.Fatalf("call %d not batchable", i)
		}
		c.done, c.lead = make(chan struct{}), make(chan struct{}, 1)
		calls[i] = c
	}
	e.w.batch.run(calls)
	return calls
}

func outcome(c *xfer) string {
	switch {
	case c.err == nil:
		return "ok"
	case errors.Is(c.err, errAlone):
		return "alone"
	}
	if ae, ok := apperr.As(c.err); ok {
		return ae.Code
	}
	return c.err.Error()
}

// One batch decides every call in queue order as separate transactions would have: funds
// and limits see the earlier calls of the same sender, refusals write nothing, and what
// only the per-call path handles (a key used twice, a replay, a limit refusal that an
// earlier failed call caused) is sent there — where it then gets the per-call answer.
func TestTransferBatchOutcomes(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a, b, c := e.user("a"), e.user("b"), e.user("c")
		e.fund(a.ID, "CNY", 1_00)
		lim, poor := e.user("lim"), e.user("poor")
		e.fund(lim.ID, "CNY", 2000_00)
		e.fund(poor.ID, "CNY", 100_00)
		frozen, blocked := e.user("frozen"), e.user("blocked")
		e.fund(frozen.ID, "CNY", 10_00)
		if _, err := e.id.FreezeSelf(e.ctx, frozen.ID, identity.FreezeInput{Reason: "lost phone"}, identity.Client{}); err != nil {
			t.Fatal(err)
		}
		admin := e.userRole("admin", identity.RoleAdmin)
		if _, err := e.id.Restrict(e.ctx, admin.ID, blocked.ID, identity.RestrictInput{Scopes: []identity.Scope{identity.ScopeReceive}, Reason: "review"}, identity.Client{}); err != nil {
			t.Fatal(err)
		}
		unverified, err := e.id.CreateUser(e.ctx, identity.CreateUserInput{Email: "unverified@example.com", Password: testPassword, Role: identity.RoleCustomer})
		if err != nil {
			t.Fatal(err)
		}
		e.fund(unverified.ID, "CNY", 10_00)
		// A key used before the batch: a replay.
		first, err := e.w.Transfer(e.ctx, TransferInput{SenderID: lim.ID, Key: "before", To: c.Email, Amount: "1", Asset: "CNY"})
		if err != nil {
			t.Fatal(err)
		}
		tr := func(from *identity.User, key, to, amount string) TransferInput {
			return TransferInput{SenderID: from.ID, Key: key, To: to, Amount: amount, Asset: "CNY"}
		}
		ins := []TransferInput{
			tr(a, "k0", b.ID, "0.60"),               // ok
			tr(a, "k1", c.Email, "0.60"),            // 0.40 left: insufficient_funds
			tr(a, "k2", b.Email, "0.30"),            // ok: the refused one took nothing
			tr(lim, "k3", b.Email, "599"),           // ok (daily limit 1,000; 1 used before)
			tr(lim, "k4", b.Email, "600"),           // limit_exceeded: 400 left
			tr(lim, "k5", b.Email, "300"),           // ok
			tr(poor, "k6", b.Email, "950"),          // insufficient_funds
			tr(poor, "k7", b.Email, "60"),           // over the limit only with k6 counted: alone
			tr(frozen, "k8", b.Email, "0.01"),       // account_frozen
			tr(a, "k9", blocked.Email, "0.01"),      // recipient_cannot_receive
			tr(unverified, "k10", b.ID, "0.01"),     // email_not_verified
			tr(a, "k11", "nobody@example.com", "1"), // recipient_not_found
			tr(a, "k12", a.Email, "0.01"),           // cannot_pay_self
			tr(a, "k0", b.ID, "0.60"),               // the same key again: alone, then a replay
			tr(lim, "before", c.Email, "1"),         // a replay: alone
		}
		calls := e.runBatch(ins)
		want := []string{"ok", CodeInsufficientFunds, "ok", "ok", CodeLimitExceeded, "ok", CodeInsufficientFunds, "alone",
			identity.CodeAccountFrozen, CodeRecipientCannotReceive, identity.CodeEmailNotVerified, CodeRecipientNotFound,
			CodeCannotPaySelf, "alone", "alone"}
		for i, c := range calls {
			if got := outcome(c); got != want[i] {
				t.Errorf("call %d (%s): %s, want %s", i, ins[i].Key, got, want[i])
			}
		}
		if ae, _ := apperr.As(calls[4].err); ae == nil || ae.Params["remaining"] != "400.00 CNY" || ae.Params["period"] != "daily" {
			t.Fatalf("limit refusal %v", calls[4].err)
		}
		if calls[0].out == nil || calls[0].out.Type != TypeTransferOut || calls[0].out.AmountMinor != 60 || calls[0].out.UserID != a.ID {
			t.Fatalf("result %+v", calls[0].out)
		}
		if got := e.available(a.ID, "CNY"); got != 10 {
			t.Fatalf("a has %d", got)
		}
		if got := e.available(b.ID, "CNY"); got != 90+899_00 {
			t.Fatalf("b has %d", got)
		}
		if got := e.available(poor.ID, "CNY"); got != 100_00 {
			t.Fatalf("poor has %d", got)
		}
		for _, u := range []struct {
			id   string
			want int64
		}{{lim.ID, 900_00}, {poor.ID, 0}, {a.ID, 90}} {
			if d, m, err := e.w.LimitsUsed(e.ctx, u.id, "CNY"); err != nil || d != u.want || m != u.want {
				t.Fatalf("limits used %d %d %v, want %d", d, m, err, u.want)
			}
		}
		// Refused calls left no key record: the same keys can be used again.
		var ops int
		if err := e.d.R.QueryRow(`SELECT COUNT(*) FROM wallet_ops WHERE user_id IN ($1, $2, $3)`, a.ID, lim.ID, poor.ID).Scan(&ops); err != nil || ops != 5 {
			t.Fatalf("key records %d %v", ops, err)
		}
		// What went alone gets the per-call answers.
		if _, err := e.w.Transfer(e.ctx, ins[7]); err != nil {
			t.Fatalf("alone k7: %v", err)
		}
		if again, err := e.w.Transfer(e.ctx, ins[13]); err != nil || again.ID != calls[0].out.ID {
			t.Fatalf("replay of k0: %v %+v", err, again)
		}
		if again, err := e.w.Transfer(e.ctx, ins[14]); err != nil || again.ID != first.ID {
			t.Fatalf("replay of before: %v %+v", err, again)
		}
		// The records follow from the feed: both sides of every transfer that moved.
		if err := e.w.Settle(e.ctx); err != nil {
			t.Fatal(err)
		}
		var acts int
		if err := e.d.R.QueryRow(`SELECT COUNT(*) FROM wallet_activity WHERE type IN ('transfer_in', 'transfer_out')`).Scan(&acts); err != nil || acts != 2*6 {
			t.Fatalf("activity rows %d %v", acts, err)
		}
		e.reconcile()
	})
}

// batchGuard is a BatchGuard recording what the batch asked of it.
type batchGuard struct {
	fakeGuard
	set *guardSet
}

func (g *batchGuard) GuardBatch() GuardBatch { return g.set }

type guardSet struct {
	mu       sync.Mutex
	taken    map[*batchGuard]bool // ClaimAll answers false for these
	claimed  int
	results  map[*batchGuard]any
	freed    map[*batchGuard]bool
	failDone error
}

func (s *guardSet) ClaimAll(ctx context.Context, tx *db.Tx, gs []Guard) ([]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	owned := make([]bool, len(gs))
	for i, g := range gs {
		owned[i] = !s.taken[g.(*batchGuard)]
		s.claimed++
	}
	return owned, nil
}

func (s *guardSet) FinishAll(ctx context.Context, tx *db.Tx, gs []Guard, results []any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, g := range gs {
		bg := g.(*batchGuard)
		if results[i] == nil {
			s.freed[bg] = true
		} else {
			s.results[bg] = results[i]
		}
	}
	return s.failDone
}

// Guards in a batch: a key the store could not claim runs alone (where Begin answers it),
// results reach FinishAll in the batch's transaction, refused calls have their claims
// freed, and a FinishAll failure rolls the whole batch back (every call then runs alone).
func TestTransferBatchGuards(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a, b := e.user("a"), e.user("b")
		e.fund(a.ID, "CNY", 10_00)
		set := &guardSet{taken: map[*batchGuard]bool{}, results: map[*batchGuard]any{}, freed: map[*batchGuard]bool{}}
		g1, g2, g3 := &batchGuard{set: set}, &batchGuard{set: set}, &batchGuard{set: set}
		set.taken[g2] = true
		in := func(key, amount string, g *batchGuard) TransferInput {
			return TransferInput{SenderID: a.ID, Key: key, To: b.Email, Amount: amount, Asset: "CNY", Guard: g}
		}
		calls := e.runBatch([]TransferInput{in("g1", "1", g1), in("g2", "1", g2), in("g3", "100", g3)})
		if got := []string{outcome(calls[0]), outcome(calls[1]), outcome(calls[2])}; got[0] != "ok" || got[1] != "alone" || got[2] != CodeInsufficientFunds {
			t.Fatalf("outcomes %v", got)
		}
		if set.results[g1] != calls[0].out || !set.freed[g2] || !set.freed[g3] || len(set.results) != 1 {
			t.Fatalf("guard writes: results %v freed %v", set.results, set.freed)
		}
		// FinishAll fails: nothing of the batch stays.
		set.failDone = errors.New("cannot store")
		g4 := &batchGuard{set: set}
		calls = e.runBatch([]TransferInput{in("g4", "1", g4)})
		if outcome(calls[0]) != "alone" {
			t.Fatalf("after a failed FinishAll: %s", outcome(calls[0]))
		}
		if got := e.available(a.ID, "CNY"); got != 9_00 {
			t.Fatalf("available %d", got)
		}
		e.reconcile()
	})
}

// Concurrent transfers through Transfer share batches and come out as if each had its
// own transaction (TestGroupCommitOutcomes has the refusals; this one the counts).
func TestTransferBatchShared(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		const n = 6
		users := make([]*identity.User, n)
		for i := range users {
			users[i] = e.user(fmt.Sprint("s", i))
			e.fund(users[i].ID, "CNY", 10_00)
		}
		before := e.w.batch.batches.Load()
		var wg sync.WaitGroup
		errs := make(chan error, 600)
		for i := 0; i < 600; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, err := e.w.Transfer(e.ctx, TransferInput{SenderID: users[i%n].ID, Key: fmt.Sprint("sh-", i), To: users[(i+1)%n].ID, Amount: "0.10", Asset: "CNY"})
				if err != nil {
					errs <- err
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// Every leader gave its slot back (a lost slot would leave later calls queued).
		e.w.batch.mu.Lock()
		running, queued := e.w.batch.running, len(e.w.batch.queue)
		e.w.batch.mu.Unlock()
		if running != 0 || queued != 0 {
			t.Fatalf("after the calls: %d leaders, %d queued", running, queued)
		}
		batches := e.w.batch.batches.Load() - before
		t.Logf("600 transfers in %d batches", batches)
		if batches >= 600 {
			t.Fatalf("no batch held two calls: %d", batches)
		}
		for _, u := range users {
			if got := e.available(u.ID, "CNY"); got != 10_00 {
				t.Fatalf("%s has %d", u.Email, got)
			}
		}
		e.reconcile()
	})
}
