package wallet

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/identity"
	"okpay/internal/notify"
)

func TestTransfer(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a, b := e.user("alice"), e.user("bob")
		e.fund(a.ID, "CNY", 100_00)
		in := TransferInput{SenderID: a.ID, Key: "k1", To: b.Email, Amount: "12.30", Asset: "CNY", Memo: "三月房租 rent"}
		out, err := e.w.Transfer(e.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if out.Type != TypeTransferOut || out.Status != StatusCompleted || out.AmountMinor != 12_30 || out.Direction != -1 || out.RefNo == "" {
			t.Fatalf("activity %+v", out)
		}
		if out.Counterparty == b.Email || out.Counterparty == "" {
			t.Fatalf("counterparty not masked: %q", out.Counterparty)
		}
		if got := e.available(a.ID, "CNY"); got != 87_70 {
			t.Fatalf("sender available %d", got)
		}
		if got := e.available(b.ID, "CNY"); got != 12_30 {
			t.Fatalf("recipient available %d", got)
		}
		// Replay: same key, same fields → the same record, no second movement.
		again, err := e.w.Transfer(e.ctx, in)
		if err != nil || again.ID != out.ID || again.RefNo != out.RefNo {
			t.Fatalf("replay: %v %+v", err, again)
		}
		if got := e.available(a.ID, "CNY"); got != 87_70 {
			t.Fatalf("replay moved money: %d", got)
		}
		// Same key, different amount → conflict.
		in2 := in
		in2.Amount = "1.00"
		_, err = e.w.Transfer(e.ctx, in2)
		wantCode(t, err, apperr.CodeIdempotencyConflict)
		// The recipient sees a transfer_in with the memo, and got an email.
		page, err := e.w.ListActivity(e.ctx, b.ID, Filter{}, "", 10)
		if err != nil || len(page.Items) != 1 || page.Items[0].Type != TypeTransferIn || page.Items[0].Memo != in.Memo {
			t.Fatalf("recipient activity %v %+v", err, page)
		}
		var mails int
		if err := e.d.R.QueryRow(`SELECT COUNT(*) FROM outbox WHERE kind = 'payment_received' AND recipient = $1`, b.Email).Scan(&mails); err != nil {
			t.Fatal(err)
		}
		if mails != 1 {
			t.Fatalf("payment_received mails: %d", mails)
		}
		// … and a notification in the inbox, in the reader's language.
		inbox, err := notify.NewInbox(e.d, nil).List(e.ctx, b.ID, "zh-CN", "", 10)
		if err != nil || len(inbox.Items) != 1 || inbox.Items[0].Kind != notify.InboxPaymentReceived ||
			!strings.HasPrefix(inbox.Items[0].Title, "收款到账") || inbox.Unread != 1 {
			t.Fatalf("inbox after payment: %v %+v", err, inbox)
		}
		// By account id and by verified phone.
		if _, err := e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, Key: "k2", To: b.ID, Amount: "1", Asset: "CNY"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.d.W.Exec(`UPDATE users SET phone = '+8613800138000', phone_verified_at = 1 WHERE id = $1`, b.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, Key: "k3", To: "138 0013 8000", Amount: "1", Asset: "CNY"}); err != nil {
			t.Fatal(err)
		}
		if got := e.available(b.ID, "CNY"); got != 14_30 {
			t.Fatalf("recipient available %d", got)
		}
		e.reconcile()
	})
}

func TestTransferFailures(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a, b := e.user("alice"), e.user("bob")
		e.fund(a.ID, "CNY", 50_00)
		tr := func(to, amount, asset string) error {
			_, err := e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, Key: e.key(), To: to, Amount: amount, Asset: asset})
			return err
		}
		wantCode(t, tr(b.Email, "60", "CNY"), CodeInsufficientFunds)
		wantCode(t, tr(b.Email, "0", "CNY"), apperr.CodeAmountInvalid)
		wantCode(t, tr(b.Email, "1.234", "CNY"), apperr.CodeAmountInvalid)
		wantCode(t, tr(b.Email, "-1", "CNY"), apperr.CodeAmountInvalid)
		wantCode(t, tr(b.Email, "1", "EUR"), apperr.CodeCurrencyUnsupported)
		wantCode(t, tr("nobody@example.com", "1", "CNY"), CodeRecipientNotFound)
		wantCode(t, tr("+8613900000000", "1", "CNY"), CodeRecipientNotFound)
		wantCode(t, tr("not a recipient", "1", "CNY"), apperr.CodeValidation)
		wantCode(t, tr(a.Email, "1", "CNY"), CodeCannotPaySelf)
		_, err := e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, Key: e.key(), To: b.Email, Amount: "1", Asset: "CNY", Memo: string(make([]rune, 141))})
		wantCode(t, err, apperr.CodeValidation)
		_, err = e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, Key: "", To: b.Email, Amount: "1", Asset: "CNY"})
		wantCode(t, err, apperr.CodeValidation)

		// Unverified email cannot send.
		u, err := e.id.CreateUser(e.ctx, identity.CreateUserInput{Email: "unverified@example.com", Password: testPassword, Role: identity.RoleCustomer})
		if err != nil {
			t.Fatal(err)
		}
		e.fund(u.ID, "CNY", 10_00)
		_, err = e.w.Transfer(e.ctx, TransferInput{SenderID: u.ID, Key: e.key(), To: b.Email, Amount: "1", Asset: "CNY"})
		wantCode(t, err, identity.CodeEmailNotVerified)

		// Recipient restricted from receiving.
		admin := e.userRole("admin", identity.RoleAdmin)
		r, err := e.id.Restrict(e.ctx, admin.ID, b.ID, identity.RestrictInput{Scopes: []identity.Scope{identity.ScopeReceive}, Reason: "review"}, identity.Client{})
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, tr(b.Email, "1", "CNY"), CodeRecipientCannotReceive)
		if err := e.id.LiftRestriction(e.ctx, admin.ID, r.ID, "ok", identity.Client{}); err != nil {
			t.Fatal(err)
		}
		// Sender restricted from sending.
		r, err = e.id.Restrict(e.ctx, admin.ID, a.ID, identity.RestrictInput{Scopes: []identity.Scope{identity.ScopeSend}, Reason: "review"}, identity.Client{})
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, tr(b.Email, "1", "CNY"), identity.CodeSendingRestricted)
		if err := e.id.LiftRestriction(e.ctx, admin.ID, r.ID, "ok", identity.Client{}); err != nil {
			t.Fatal(err)
		}
		// Frozen sender.
		if _, err := e.id.FreezeSelf(e.ctx, a.ID, identity.FreezeInput{Reason: "lost phone"}, identity.Client{}); err != nil {
			t.Fatal(err)
		}
		wantCode(t, tr(b.Email, "1", "CNY"), identity.CodeAccountFrozen)
		// A frozen account still receives.
		e.fund(b.ID, "CNY", 5_00)
		if _, err := e.w.Transfer(e.ctx, TransferInput{SenderID: b.ID, Key: e.key(), To: a.Email, Amount: "1", Asset: "CNY"}); err != nil {
			t.Fatal(err)
		}
		// Maintenance hook.
		e.w.cfg.MaintenanceCheck = func(context.Context) error { return apperr.New(apperr.CodeMaintenance) }
		_, err = e.w.Transfer(e.ctx, TransferInput{SenderID: b.ID, Key: e.key(), To: a.Email, Amount: "1", Asset: "CNY"})
		wantCode(t, err, apperr.CodeMaintenance)
		e.w.cfg.MaintenanceCheck = nil
		if got := e.available(a.ID, "CNY"); got != 51_00 {
			t.Fatalf("a available %d", got)
		}
		e.reconcile()
	})
}

func TestLimitsAndStepUp(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a, b := e.user("alice"), e.user("bob")
		e.fund(a.ID, "CNY", 10_000_00)
		// Level 0: 1,000.00 CNY a day.
		if _, err := e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, Key: e.key(), To: b.Email, Amount: "900", Asset: "CNY"}); err != nil {
			t.Fatal(err)
		}
		_, err := e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, Key: e.key(), To: b.Email, Amount: "200", Asset: "CNY"})
		wantCode(t, err, CodeLimitExceeded)
		ae, _ := apperr.As(err)
		if ae.Params["remaining"] != "100.00 CNY" || ae.Params["period"] != "daily" {
			t.Fatalf("params %v", ae.Params)
		}
		if msg := ae.Fix("en"); msg == "" {
			t.Fatal("no fix")
		}
		// Over the limit at the first movement of the day (no counter yet): the whole
		// limit remains, nothing is counted.
		c := e.user("carol")
		e.fund(c.ID, "CNY", 2_000_00)
		_, err = e.w.Transfer(e.ctx, TransferInput{SenderID: c.ID, Key: e.key(), To: b.Email, Amount: "1000.01", Asset: "CNY"})
		wantCode(t, err, CodeLimitExceeded)
		if ce, _ := apperr.As(err); ce.Params["remaining"] != "1000.00 CNY" {
			t.Fatalf("params %v", ce.Params)
		}
		if daily, _, err := e.w.LimitsUsed(e.ctx, c.ID, "CNY"); err != nil || daily != 0 {
			t.Fatalf("refused movement counted: %d %v", daily, err)
		}
		daily, monthly, err := e.w.LimitsUsed(e.ctx, a.ID, "CNY")
		if err != nil || daily != 900_00 || monthly != 900_00 {
			t.Fatalf("used %d %d %v", daily, monthly, err)
		}
		// The next day the daily limit resets; the monthly one (5,000) still counts.
		e.clock.Advance(24 * time.Hour)
		if _, err := e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, Key: e.key(), To: b.Email, Amount: "200", Asset: "CNY"}); err != nil {
			t.Fatal(err)
		}
		// Other assets count at the configured rate: 200 USD = 1,440 CNY > 800 left today.
		e.fund(a.ID, "USD", 1000_00)
		_, err = e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, Key: e.key(), To: b.Email, Amount: "200", Asset: "USD"})
		wantCode(t, err, CodeLimitExceeded)

		// Step-up above 5,000 CNY (needs a higher level first).
		_, err = e.d.W.Exec(`UPDATE users SET level = 2 WHERE id = $1`, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, Key: e.key(), To: b.Email, Amount: "5000", Asset: "CNY"})
		wantCode(t, err, identity.CodeStepUpRequired)
		sess := e.signIn(a)
		if _, err := e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, SessionID: sess, Key: e.key(), To: b.Email, Amount: "5000", Asset: "CNY"}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(10 * time.Minute)
		_, err = e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, SessionID: sess, Key: e.key(), To: b.Email, Amount: "5000", Asset: "CNY"})
		wantCode(t, err, identity.CodeStepUpRequired)
		e.reconcile()
	})
}

// 50 concurrent transfers of 10 from a wallet of 100: exactly 10 succeed, and 50 more
// concurrent transfers racing a limit never exceed it together.
func TestConcurrentDoubleSpend(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a, b := e.user("alice"), e.user("bob")
		e.fund(a.ID, "CNY", 100_00)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, insufficient := 0, 0
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, err := e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, Key: "ds-" + string(rune('A'+i)), To: b.Email, Amount: "10", Asset: "CNY"})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case apperr.HasCode(err, CodeInsufficientFunds):
					insufficient++
				default:
					t.Errorf("transfer: %v", err)
				}
			}(i)
		}
		wg.Wait()
		if ok != 10 || insufficient != 40 {
			t.Fatalf("ok %d insufficient %d", ok, insufficient)
		}
		if got := e.available(a.ID, "CNY"); got != 0 {
			t.Fatalf("left %d", got)
		}
		// Limits under concurrency: c has plenty of money, 1,000 a day; 50 × 30 = 1,500.
		c := e.user("carol")
		e.fund(c.ID, "CNY", 5000_00)
		ok = 0
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, err := e.w.Transfer(e.ctx, TransferInput{SenderID: c.ID, Key: "lim-" + string(rune('A'+i)), To: b.Email, Amount: "30", Asset: "CNY"})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case apperr.HasCode(err, CodeLimitExceeded):
				default:
					t.Errorf("transfer: %v", err)
				}
			}(i)
		}
		wg.Wait()
		if ok != 33 {
			t.Fatalf("limit let %d through (want 33 = floor(1000/30))", ok)
		}
		e.reconcile()
	})
}

// The same key sent many times at once moves money once.
func TestConcurrentRetries(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a, b := e.user("alice"), e.user("bob")
		e.fund(a.ID, "CNY", 100_00)
		var wg sync.WaitGroup
		ids := make([]string, 8)
		errs := make([]error, 8)
		for i := range ids {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				out, err := e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, Key: "same", To: b.Email, Amount: "10", Asset: "CNY"})
				errs[i] = err
				if err == nil {
					ids[i] = out.ID
				}
			}(i)
		}
		wg.Wait()
		for i := range ids {
			if errs[i] != nil || ids[i] != ids[0] {
				t.Fatalf("retry %d: %v %s vs %s", i, errs[i], ids[i], ids[0])
			}
		}
		if got := e.available(a.ID, "CNY"); got != 90_00 {
			t.Fatalf("moved %d", 100_00-got)
		}
		e.reconcile()
	})
}

// fakeGuard records what Transfer asks of a Guard.
type fakeGuard struct {
	replay    bool
	failBegin error
	failEnd   error
	begun     int
	finished  []any
}

func (g *fakeGuard) Begin(ctx context.Context, tx *db.Tx) (bool, error) {
	g.begun++
	return g.replay, g.failBegin
}

func (g *fakeGuard) Finish(ctx context.Context, tx *db.Tx, v any) error {
	g.finished = append(g.finished, v)
	return g.failEnd
}

// A Guard runs first and last in the transfer's transaction: its replay ends the call with
// nothing moved, its refusals roll everything back, and Finish gets the result.
func TestTransferGuard(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a, b := e.user("alice"), e.user("bob")
		e.fund(a.ID, "CNY", 100_00)
		in := TransferInput{SenderID: a.ID, To: b.Email, Amount: "1.00", Asset: "CNY"}
		// Replay: nothing moves, no result.
		g := &fakeGuard{replay: true}
		in.Key, in.Guard = "g1", g
		if out, err := e.w.Transfer(e.ctx, in); err != nil || out != nil || g.begun != 1 || len(g.finished) != 0 {
			t.Fatalf("replay: %v %+v %+v", err, out, g)
		}
		// Begin refuses: nothing moves, the error is the caller's.
		g = &fakeGuard{failBegin: apperr.New(apperr.CodeIdempotencyConflict)}
		in.Key, in.Guard = "g2", g
		_, err := e.w.Transfer(e.ctx, in)
		wantCode(t, err, apperr.CodeIdempotencyConflict)
		// Finish refuses: the movement rolls back with it. (Begin and Finish may run more
		// than once: a group transaction that rolls back whole runs the call again alone.)
		g = &fakeGuard{failEnd: errors.New("cannot store")}
		in.Key, in.Guard = "g3", g
		if _, err := e.w.Transfer(e.ctx, in); err == nil || len(g.finished) == 0 {
			t.Fatalf("finish failure: %v %+v", err, g)
		}
		if got := e.available(a.ID, "CNY"); got != 100_00 {
			t.Fatalf("guarded failures moved money: %d", got)
		}
		// Success: Finish gets the sender's record, in the same transaction as the money.
		g = &fakeGuard{}
		in.Key, in.Guard = "g4", g
		out, err := e.w.Transfer(e.ctx, in)
		if err != nil || len(g.finished) == 0 || g.finished[len(g.finished)-1].(*Activity).ID != out.ID {
			t.Fatalf("success: %v %+v", err, g)
		}
		// The wallet's own key record still answers a retry without the guard.
		in.Guard = nil
		if again, err := e.w.Transfer(e.ctx, in); err != nil || again.ID != out.ID {
			t.Fatalf("wallet replay: %v %+v", err, again)
		}
		if got := e.available(a.ID, "CNY"); got != 99_00 {
			t.Fatalf("available %d", got)
		}
		e.reconcile()
	})
}
