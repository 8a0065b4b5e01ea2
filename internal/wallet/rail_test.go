package wallet

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/identity"
	"okpay/internal/rail"
)

// addCard binds and verifies a card the way a person would: read the code off the
// statement.
func (e *env) addCard(u *identity.User, sess, number, holder string) *Card {
	e.t.Helper()
	c, err := e.w.AddCard(e.ctx, AddCardInput{UserID: u.ID, SessionID: sess, Number: number, ExpMonth: "12", ExpYear: "2030", Holder: holder, CVV: "123"})
	if err != nil {
		e.t.Fatalf("add card %s: %v", number, err)
	}
	return e.verifyCard(u, c)
}

func (e *env) verifyCard(u *identity.User, c *Card) *Card {
	e.t.Helper()
	tok, err := e.w.unseal(c.tokenSealed, c.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	lines, err := e.rail.Statement(e.ctx, tok, 10)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, l := range lines {
		if code, ok := strings.CutPrefix(l.Descriptor, "OKPAY*VERIFY "); ok {
			v, err := e.w.VerifyCard(e.ctx, u.ID, c.ID, code)
			if err != nil {
				e.t.Fatalf("verify: %v", err)
			}
			return v
		}
	}
	e.t.Fatal("no verification charge on the statement")
	return nil
}

func (e *env) process() {
	e.t.Helper()
	if _, err := e.w.ProcessRailUpdates(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

func TestCards(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		u := e.user("card")
		_, err := e.w.AddCard(e.ctx, AddCardInput{UserID: u.ID, Number: "4242424242424242", ExpMonth: "12", ExpYear: "2030", Holder: "Li Lei", CVV: "123"})
		wantCode(t, err, apperr.CodeUnauthenticated)
		sess := e.signIn(u)
		_, err = e.w.AddCard(e.ctx, AddCardInput{UserID: u.ID, SessionID: sess, Number: "4242424242424241", ExpMonth: "12", ExpYear: "2030", Holder: "Li Lei", CVV: "123"})
		wantCode(t, err, rail.CodeCardNumberInvalid)
		_, err = e.w.AddCard(e.ctx, AddCardInput{UserID: u.ID, SessionID: sess, Number: "4242424242424242", ExpMonth: "01", ExpYear: "2020", Holder: "Li Lei", CVV: "123"})
		wantCode(t, err, rail.CodeCardExpired)
		_, err = e.w.AddCard(e.ctx, AddCardInput{UserID: u.ID, SessionID: sess, Number: "4000 0000 0000 0002", ExpMonth: "12", ExpYear: "2030", Holder: "Li Lei", CVV: "123"})
		wantCode(t, err, rail.CodeCardDeclined)
		c := e.addCard(u, sess, "4242 4242 4242 4242", "Li Lei")
		if c.Status != CardVerified || !c.Default || c.Brand == "" || c.Last4 != "4242" {
			t.Fatalf("card %+v", c)
		}
		c2 := e.addCard(u, sess, "5555 5555 5555 4444", "Li Lei")
		if c2.Default {
			t.Fatal("second card took the default")
		}
		if err := e.w.SetDefaultCard(e.ctx, u.ID, c2.ID); err != nil {
			t.Fatal(err)
		}
		// Change card: the new one replaces c2 (the default) once verified.
		nc, err := e.w.ChangeCard(e.ctx, ChangeCardInput{OldCardID: c2.ID, AddCardInput: AddCardInput{UserID: u.ID, SessionID: sess,
			Number: "6200000000000005", ExpMonth: "11", ExpYear: "2031", Holder: "Li Lei", CVV: "123"}})
		if err != nil {
			t.Fatal(err)
		}
		if cards, _ := e.w.ListCards(e.ctx, u.ID); len(cards) != 3 { // the declined card was not kept
			t.Fatalf("cards during change: %d", len(cards))
		}
		nc = e.verifyCard(u, nc)
		cards, err := e.w.ListCards(e.ctx, u.ID)
		if err != nil || len(cards) != 2 || cards[0].ID != nc.ID || !cards[0].Default {
			t.Fatalf("after change: %v %+v", err, cards)
		}
		e.clock.Advance(10 * time.Minute)
		wantCode(t, e.w.RemoveCard(e.ctx, u.ID, sess, c.ID), identity.CodeStepUpRequired)
		sess = e.signIn(u)
		if err := e.w.RemoveCard(e.ctx, u.ID, sess, nc.ID); err != nil {
			t.Fatal(err)
		}
		cards, _ = e.w.ListCards(e.ctx, u.ID)
		if len(cards) != 1 || !cards[0].Default || cards[0].ID != c.ID {
			t.Fatalf("after remove: %+v", cards)
		}
		assertNoPAN(t, e.d)
	})
}

func TestTopUp(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		u := e.user("topup")
		sess := e.signIn(u)
		ok := e.addCard(u, sess, "4242424242424242", "Li Lei")
		otp := e.addCard(u, sess, "4000 0027 6000 3184", "Li Lei")
		declined := e.addCard(u, sess, "4000 0000 0000 0341", "Li Lei")
		slow := e.addCard(u, sess, "4000 0000 0000 1257", "Li Lei")

		in := TopUpInput{UserID: u.ID, Key: "t1", CardID: ok.ID, Amount: "100", Asset: "CNY"}
		op, err := e.w.TopUp(e.ctx, in)
		if err != nil || op.Status != opCompleted {
			t.Fatalf("top-up %v %+v", err, op)
		}
		again, err := e.w.TopUp(e.ctx, in)
		if err != nil || again.ID != op.ID {
			t.Fatalf("replay %v", err)
		}
		if got := e.available(u.ID, "CNY"); got != 100_00 {
			t.Fatalf("balance %d", got)
		}
		_, err = e.w.TopUp(e.ctx, TopUpInput{UserID: u.ID, Key: e.key(), CardID: ok.ID, Amount: "1", Asset: "USD"})
		wantCode(t, err, CodeCurrencyMismatch)

		// OTP.
		op, err = e.w.TopUp(e.ctx, TopUpInput{UserID: u.ID, Key: "t2", CardID: otp.ID, Amount: "50", Asset: "CNY"})
		if err != nil || op.Status != opNeedsOTP || op.NextStep != rail.CodeCardOTPRequired {
			t.Fatalf("otp top-up %v %+v", err, op)
		}
		if b := e.balance(u.ID, "CNY"); b.IncomingMinor != 50_00 || b.AvailableMinor != 100_00 {
			t.Fatalf("incoming %+v", b)
		}
		_, err = e.w.SubmitTopUpOTP(e.ctx, u.ID, op.ID, "000000")
		wantCode(t, err, rail.CodeCardOTPInvalid)
		op, err = e.w.SubmitTopUpOTP(e.ctx, u.ID, op.ID, rail.SandboxOTP)
		if err != nil || op.Status != opCompleted {
			t.Fatalf("otp %v %+v", err, op)
		}
		// Declined: failed with the bank's code, nothing credited, limit usage given back.
		op, err = e.w.TopUp(e.ctx, TopUpInput{UserID: u.ID, Key: "t3", CardID: declined.ID, Amount: "30", Asset: "CNY"})
		wantCode(t, err, rail.CodeCardDeclined)
		if op == nil || op.Status != opFailed || op.FailureCode != rail.CodeCardDeclined {
			t.Fatalf("declined %+v", op)
		}
		act, err := e.w.GetActivity(e.ctx, u.ID, op.ActivityID)
		if err != nil || act.Status != StatusFailed || act.FailureCode != rail.CodeCardDeclined {
			t.Fatalf("declined activity %v %+v", err, act)
		}
		// Slow: settles after a delay, through the background job.
		op, err = e.w.TopUp(e.ctx, TopUpInput{UserID: u.ID, Key: "t4", CardID: slow.ID, Amount: "20", Asset: "CNY"})
		if err != nil || op.Status != opProcessing {
			t.Fatalf("slow %v %+v", err, op)
		}
		e.clock.Advance(3 * time.Minute)
		e.process()
		e.process()
		op, _ = e.w.GetRailOp(e.ctx, u.ID, op.ID)
		if op.Status != opCompleted {
			t.Fatalf("slow after job %+v", op)
		}
		b := e.balance(u.ID, "CNY")
		if b.AvailableMinor != 170_00 || b.IncomingMinor != 0 {
			t.Fatalf("balance %+v", b)
		}
		// An unverified card cannot top up; a finished top-up takes no code.
		unverified, err := e.w.AddCard(e.ctx, AddCardInput{UserID: u.ID, SessionID: sess, Number: "3566002020360505", ExpMonth: "12", ExpYear: "2030", Holder: "Li Lei", CVV: "123"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.w.TopUp(e.ctx, TopUpInput{UserID: u.ID, Key: e.key(), CardID: unverified.ID, Amount: "1", Asset: "CNY"})
		wantCode(t, err, CodeCardNotVerified)
		_, err = e.w.SubmitTopUpOTP(e.ctx, u.ID, op.ID, rail.SandboxOTP)
		wantCode(t, err, CodeTopUpState)
		// The sixth card is refused (five at most).
		_, err = e.w.AddCard(e.ctx, AddCardInput{UserID: u.ID, SessionID: sess, Number: "6011111111111117", ExpMonth: "12", ExpYear: "2030", Holder: "Li Lei", CVV: "123"})
		wantCode(t, err, CodeCardLimit)
		_, m, _ := e.w.LimitsUsed(e.ctx, u.ID, "CNY")
		lim, _ := e.w.Limits(e.ctx, u.ID)
		if m != 0 || lim[2].MonthlyUsed != 170_00 {
			t.Fatalf("usage send %d top-up %+v", m, lim[2])
		}
		// Once the card's expiry passes, the wallet refuses it before asking the bank.
		e.clock.Set(time.Date(2031, 2, 1, 0, 0, 0, 0, time.UTC))
		_, err = e.w.TopUp(e.ctx, TopUpInput{UserID: u.ID, Key: e.key(), CardID: ok.ID, Amount: "1", Asset: "CNY"})
		wantCode(t, err, rail.CodeCardExpired)
		e.reconcile()
	})
}

func TestWithdraw(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		u := e.user("wd")
		sess := e.signIn(u)
		card := e.addCard(u, sess, "4242424242424242", "张三")
		other := e.addCard(u, sess, "5555555555554444", "Li Lei")
		e.fund(u.ID, "CNY", 1000_00)
		w := func(card, amount string) (*RailOp, error) {
			return e.w.Withdraw(e.ctx, WithdrawInput{UserID: u.ID, SessionID: sess, Key: e.key(), CardID: card, Amount: amount, Asset: "CNY"})
		}
		_, err := w(card.ID, "100")
		wantCode(t, err, CodeRealNameRequired)
		if _, err := e.id.SubmitIdentity(e.ctx, u.ID, identity.IdentityInput{RealName: "张三", IDType: identity.IDTypeCNResident,
			IDNumber: "11010519491231002X", BirthDate: "1949-12-31"}, identity.Client{}); err != nil {
			t.Fatal(err)
		}
		_, err = w(other.ID, "100")
		wantCode(t, err, CodeCardNameMismatch)
		_, err = w(card.ID, "5")
		wantCode(t, err, CodeWithdrawalTooSmall)
		_, err = w(card.ID, "60000")
		wantCode(t, err, CodeWithdrawalTooLarge)
		_, err = w(card.ID, "999.50")
		wantCode(t, err, CodeInsufficientFunds)

		op, err := w(card.ID, "100")
		if err != nil || (op.Status != opPending && op.Status != opProcessing) || op.FeeMinor != 1_10 {
			t.Fatalf("withdraw %v %+v", err, op)
		}
		if b := e.balance(u.ID, "CNY"); b.AvailableMinor != 1000_00-101_10 || b.OnHoldMinor != 101_10 {
			t.Fatalf("held %+v", b)
		}
		// The bank bounces a name mismatch (amount ending .14): money and fee come back.
		bad, err := w(card.ID, "100.14")
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(2 * time.Minute)
		e.process()
		op, _ = e.w.GetRailOp(e.ctx, u.ID, op.ID)
		bad, _ = e.w.GetRailOp(e.ctx, u.ID, bad.ID)
		if op.Status != opCompleted || bad.Status != opFailed || bad.FailureCode != rail.CodePayoutNameMismatch {
			t.Fatalf("after job: %+v / %+v", op, bad)
		}
		b := e.balance(u.ID, "CNY")
		if b.AvailableMinor != 1000_00-101_10 || b.OnHoldMinor != 0 {
			t.Fatalf("after job balance %+v", b)
		}
		fees, _ := e.l.Balance(e.ctx, PlatformAccount("fees", "CNY"))
		if fees.Posted != 1_10 {
			t.Fatalf("fees %+v", fees)
		}
		act, _ := e.w.GetActivity(e.ctx, u.ID, bad.ActivityID)
		if act.Status != StatusFailed || act.FailureCode != rail.CodePayoutNameMismatch || len(act.Timeline) < 2 {
			t.Fatalf("failed activity %+v", act)
		}
		var mails int
		e.d.R.QueryRow(`SELECT COUNT(*) FROM outbox WHERE kind IN ('withdrawal_completed', 'withdrawal_failed') AND recipient = $1`, u.Email).Scan(&mails)
		if mails != 2 {
			t.Fatalf("withdrawal mails %d", mails)
		}
		// Frozen accounts cannot withdraw.
		if _, err := e.id.FreezeSelf(e.ctx, u.ID, identity.FreezeInput{}, identity.Client{}); err != nil {
			t.Fatal(err)
		}
		_, err = w(card.ID, "100")
		wantCode(t, err, identity.CodeAccountFrozen)
		e.process() // nothing left to do; re-running is harmless
		e.reconcile()
		assertNoPAN(t, e.d)
	})
}

func TestDeposits(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		u := e.user("dep")
		_, err := e.w.DepositAddressFor(e.ctx, u.ID, "CNY")
		wantCode(t, err, CodeCryptoOnly)
		da, err := e.w.DepositAddressFor(e.ctx, u.ID, "USDT")
		if err != nil || da.ConfirmationsRequired != 3 {
			t.Fatalf("address %v %+v", err, da)
		}
		if _, err := e.rail.SimulateDeposit(e.ctx, da.Address, 25_000000, "USDT"); err != nil {
			t.Fatal(err)
		}
		e.process()
		page, _ := e.w.ListActivity(e.ctx, u.ID, Filter{Types: []string{TypeDeposit}}, "", 10)
		if len(page.Items) != 1 || page.Items[0].Status != StatusConfirming || page.Items[0].ConfirmationsNeeded != 3 {
			t.Fatalf("confirming %+v", page.Items)
		}
		e.clock.Advance(31 * time.Second)
		e.process()
		a, _ := e.w.GetActivity(e.ctx, u.ID, page.Items[0].ID)
		if a.Confirmations != 1 || a.Status != StatusConfirming {
			t.Fatalf("1/3: %+v", a)
		}
		if got := e.available(u.ID, "USDT"); got != 0 {
			t.Fatalf("credited early: %d", got)
		}
		e.clock.Advance(2 * time.Minute)
		e.process()
		// Replaying the whole feed credits nothing twice.
		if _, err := e.d.W.Exec(`UPDATE wallet_rail_cursor SET seq = 0`); err != nil {
			t.Fatal(err)
		}
		e.process()
		a, _ = e.w.GetActivity(e.ctx, u.ID, page.Items[0].ID)
		if a.Status != StatusCompleted || a.Confirmations != 3 {
			t.Fatalf("completed: %+v", a)
		}
		if got := e.available(u.ID, "USDT"); got != 25_000000 {
			t.Fatalf("credited %d", got)
		}
		e.reconcile()
	})
}

// assertNoPAN scans every text column of every table for a Luhn-valid run of 13–19
// digits: a full card number must never be stored.
func assertNoPAN(t *testing.T, d *db.DB) {
	t.Helper()
	var q string
	if d.Engine == db.Postgres {
		q = `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying')`
	} else {
		q = `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND upper(p.type) = 'TEXT'`
	}
	rows, err := d.R.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, column string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.column); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	if len(cols) < 20 {
		t.Fatalf("only %d text columns found", len(cols))
	}
	// Digits, optionally grouped by spaces or dashes, standing alone (not inside a hex
	// hash or a base64 token, where digit runs happen by chance).
	digits := regexp.MustCompile(`(?:^|[^0-9A-Za-z+/])([0-9](?:[ -]?[0-9]){12,18})(?:$|[^0-9A-Za-z+/])`)
	for _, c := range cols {
		r, err := d.R.Query(`SELECT "` + c.column + `" FROM "` + c.table + `"`)
		if err != nil {
			t.Fatalf("%s.%s: %v", c.table, c.column, err)
		}
		for r.Next() {
			var v *string
			if err := r.Scan(&v); err != nil {
				t.Fatal(err)
			}
			if v == nil {
				continue
			}
			for _, sm := range digits.FindAllStringSubmatch(*v, -1) {
				m := strings.NewReplacer(" ", "", "-", "").Replace(sm[1])
				if len(m) >= 13 && strings.Trim(m, "0") != "" && rail.Luhn(m) {
					t.Errorf("%s.%s holds a Luhn-valid number %s…", c.table, c.column, m[:4])
				}
			}
		}
		r.Close()
	}
}

var _ = apperr.New
