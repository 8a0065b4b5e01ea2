package wallet

import (
	"strings"
	"testing"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/rail"
)

// statementCode reads the 4-digit code of c's verification charge off the sandbox
// statement, as the holder would.
func (e *env) statementCode(c *Card) string {
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
			return code
		}
	}
	e.t.Fatal("no verification charge on the statement")
	return ""
}

// appErr returns err's coded error, failing the test when it has none.
func appErr(t *testing.T, err error, code string) *apperr.Error {
	t.Helper()
	wantCode(t, err, code)
	ae, _ := apperr.As(err)
	return ae
}

// A card the bank refuses at verification is not kept: it is not listed, takes no card
// slot, and the rail forgets its token.
func TestRefusedCardIsNotKept(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		u := e.user("refused")
		sess := e.signIn(u)
		add := func(number string) (*Card, error) {
			return e.w.AddCard(e.ctx, AddCardInput{UserID: u.ID, SessionID: sess, Number: number, ExpMonth: "12", ExpYear: "2030", Holder: "Li Lei", CVV: "123"})
		}
		for _, tc := range []struct{ number, code string }{
			{"4000 0000 0000 0002", rail.CodeCardDeclined},
			{"4000 0000 0000 0069", rail.CodeCardExpired},
			{"4000 0000 0000 9979", rail.CodeCardReportedStolen},
			{"6200 0000 0000 0047", rail.CodeCardDeclined},
		} {
			c, err := add(tc.number)
			wantCode(t, err, tc.code)
			if c != nil {
				t.Fatalf("%s: refused card returned %+v", tc.number, c)
			}
		}
		if cards, err := e.w.ListCards(e.ctx, u.ID); err != nil || len(cards) != 0 {
			t.Fatalf("refused cards listed: %v %+v", err, cards)
		}
		// A refused replacement leaves the card it was to replace alone.
		first, err := add("4242 4242 4242 4242")
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.w.ChangeCard(e.ctx, ChangeCardInput{OldCardID: first.ID, AddCardInput: AddCardInput{UserID: u.ID, SessionID: sess,
			Number: "4000000000000002", ExpMonth: "12", ExpYear: "2030", Holder: "Li Lei", CVV: "123"}})
		wantCode(t, err, rail.CodeCardDeclined)
		// Every slot is still free for cards that work.
		for _, n := range []string{"5555 5555 5555 4444", "2223 0031 2200 3222", "6200 0000 0000 0005", "3566 0020 2036 0505"} {
			if _, err := add(n); err != nil {
				t.Fatalf("add %s after refusals: %v", n, err)
			}
		}
		_, err = add("6011 1111 1111 1117")
		wantCode(t, err, CodeCardLimit)
		cards, err := e.w.ListCards(e.ctx, u.ID)
		if err != nil || len(cards) != 5 {
			t.Fatalf("cards: %v %d", err, len(cards))
		}
		for _, c := range cards {
			if c.Status != CardVerifying || c.Last4 == "0002" || c.Last4 == "0069" || c.Last4 == "9979" || c.Last4 == "0047" {
				t.Fatalf("listed %+v", c)
			}
		}
		// The bank was told to forget the refused cards' tokens.
		var live int
		if err := e.d.Read(e.ctx, func(tx *db.Tx) error {
			return tx.QueryRowContext(e.ctx, `SELECT COUNT(*) FROM rail_cards WHERE deleted_at IS NULL`).Scan(&live)
		}); err != nil {
			t.Fatal(err)
		}
		if live != 5 {
			t.Fatalf("%d live rail tokens, want 5", live)
		}
		assertNoPAN(t, e.d)
	})
}

// Running out of verification tries: malformed codes use none, the last wrong code says
// the verification failed and what to do, in both languages; the card then stays listed
// as failed with that reason, and even the right code gets the same answer.
func TestCardVerificationTriesRunOut(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		u := e.user("tries")
		sess := e.signIn(u)
		c, err := e.w.AddCard(e.ctx, AddCardInput{UserID: u.ID, SessionID: sess, Number: "4242424242424242", ExpMonth: "12", ExpYear: "2030", Holder: "Li Lei", CVV: "123"})
		if err != nil {
			t.Fatal(err)
		}
		code := e.statementCode(c)
		wrong := "0000"
		if code == wrong {
			wrong = "1111"
		}
		for _, bad := range []string{"abcd", "abc", "123", "12345"} {
			_, err := e.w.VerifyCard(e.ctx, u.ID, c.ID, bad)
			ae := appErr(t, err, rail.CodeCardVerifyCodeMalformed)
			if len(ae.Fields) != 1 || ae.Fields[0].Field != "code" || !strings.Contains(ae.Fix("en"), "4 digits") {
				t.Fatalf("malformed %q: %+v %q", bad, ae.Fields, ae.Fix("en"))
			}
		}
		for _, left := range []string{"2", "1"} {
			_, err := e.w.VerifyCard(e.ctx, u.ID, c.ID, wrong)
			if ae := appErr(t, err, rail.CodeCardVerifyCodeInvalid); ae.Params["remaining"] != left {
				t.Fatalf("remaining %v, want %s", ae.Params, left)
			}
		}
		_, err = e.w.VerifyCard(e.ctx, u.ID, c.ID, wrong)
		last := appErr(t, err, rail.CodeCardVerifyAttempts)
		for _, lang := range []string{"en", "zh-CN"} {
			if s := last.Message(lang) + last.Fix(lang); strings.Contains(s, "{") || strings.Contains(s, "0 tries") {
				t.Fatalf("%s: %q", lang, s)
			}
		}
		if !strings.Contains(last.Fix("en"), "Remove this card and add it again") || !strings.Contains(last.Fix("zh-CN"), "删除该卡后重新添加") {
			t.Fatalf("no next step: %q / %q", last.Fix("en"), last.Fix("zh-CN"))
		}
		cards, err := e.w.ListCards(e.ctx, u.ID)
		if err != nil || len(cards) != 1 || cards[0].Status != CardFailed || cards[0].FailureCode != rail.CodeCardVerifyAttempts {
			t.Fatalf("after the last try: %v %+v", err, cards)
		}
		_, err = e.w.VerifyCard(e.ctx, u.ID, c.ID, code)
		after := appErr(t, err, rail.CodeCardVerifyAttempts)
		if zh := after.Message("zh-CN") + after.Fix("zh-CN"); strings.Contains(zh, "failed") {
			t.Fatalf("raw status in Chinese: %q", zh)
		}
		// The list explains the failure in words, not as a bank refusal or a raw code.
		f := cards[0]
		if r := f.FailureReason("en"); !strings.Contains(r, "wrong 3 times") || strings.Contains(r, "card_verification") || strings.Contains(r, "bank") {
			t.Fatalf("en reason %q", r)
		}
		if r := f.FailureReason("zh-CN"); !strings.Contains(r, "验证码输错 3 次") || strings.ContainsAny(r, "abcdefghijklmnopqrstuvwxyz") {
			t.Fatalf("zh reason %q", r)
		}
		// Removing it frees the slot, and the card can be added and verified again.
		if err := e.w.RemoveCard(e.ctx, u.ID, sess, c.ID); err != nil {
			t.Fatal(err)
		}
		again := e.addCard(u, sess, "4242424242424242", "Li Lei")
		if again.Status != CardVerified {
			t.Fatalf("re-added card %+v", again)
		}
	})
}

// Brands read as printed on cards; the stored and API value stays the network's id.
func TestCardBrandName(t *testing.T) {
	for brand, want := range map[string]string{"visa": "Visa", "mastercard": "Mastercard", "unionpay": "UnionPay", "amex": "American Express",
		"jcb": "JCB", "discover": "Discover"} {
		c := Card{Brand: brand}
		if got := c.BrandName(); got != want {
			t.Errorf("%s: %q, want %q", brand, got, want)
		}
	}
	if r := (Card{Status: CardVerified}).FailureReason("en"); r != "" {
		t.Errorf("reason for a verified card: %q", r)
	}
}

// The bank's one-time code: malformed codes use no try, the last wrong one stops the
// top-up with its own reason, and a top-up that is over names its state in words.
func TestTopUpOTPTriesAndState(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		u := e.user("otptries")
		sess := e.signIn(u)
		otp := e.addCard(u, sess, "4000 0027 6000 3184", "Li Lei")
		in := TopUpInput{UserID: u.ID, Key: e.key(), CardID: otp.ID, Amount: "50", Asset: "CNY"}
		op, err := e.w.TopUp(e.ctx, in)
		if err != nil || op.Status != opNeedsOTP {
			t.Fatalf("top-up %v %+v", err, op)
		}
		for _, bad := range []string{"abc", "12345", "1234567"} {
			_, err := e.w.SubmitTopUpOTP(e.ctx, u.ID, op.ID, bad)
			wantCode(t, err, rail.CodeCardOTPMalformed)
		}
		for _, left := range []string{"2", "1"} {
			_, err := e.w.SubmitTopUpOTP(e.ctx, u.ID, op.ID, "000000")
			if ae := appErr(t, err, rail.CodeCardOTPInvalid); ae.Params["remaining"] != left {
				t.Fatalf("remaining %v, want %s", ae.Params, left)
			}
		}
		_, err = e.w.SubmitTopUpOTP(e.ctx, u.ID, op.ID, "000000")
		wantCode(t, err, rail.CodeCardOTPAttempts)
		got, err := e.w.GetRailOp(e.ctx, u.ID, op.ID)
		if err != nil || got.Status != opFailed || got.FailureCode != rail.CodeCardOTPAttempts {
			t.Fatalf("after the last try: %v %+v", err, got)
		}
		if b := e.balance(u.ID, "CNY"); b.IncomingMinor != 0 || b.AvailableMinor != 0 {
			t.Fatalf("balance %+v", b)
		}
		// Sending the top-up again answers its failure; one that failed this way before the
		// attempts code existed (stored as card_otp_invalid) reads the same, with no
		// unfilled count of tries.
		_, err = e.w.TopUp(e.ctx, in)
		wantCode(t, err, rail.CodeCardOTPAttempts)
		if err := e.d.InTx(e.ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(e.ctx, `UPDATE wallet_rail_ops SET failure_code = $1 WHERE ref = $2`, rail.CodeCardOTPInvalid, op.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		_, err = e.w.TopUp(e.ctx, in)
		if ae := appErr(t, err, rail.CodeCardOTPAttempts); strings.Contains(ae.Fix("en")+ae.Fix("zh-CN"), "{") {
			t.Fatalf("fix %q", ae.Fix("en"))
		}
		// The top-up is over: its state is said in words in both languages.
		_, err = e.w.SubmitTopUpOTP(e.ctx, u.ID, op.ID, rail.SandboxOTP)
		ae := appErr(t, err, CodeTopUpState)
		if ae.Params["status"] != opFailed {
			t.Fatalf("params %v", ae.Params)
		}
		if zh := ae.Message("zh-CN"); strings.Contains(zh, "failed") || !strings.Contains(zh, "已失败") {
			t.Fatalf("zh message %q", zh)
		}
		if en := ae.Message("en"); strings.Contains(en, "{") || !strings.Contains(en, "failed") {
			t.Fatalf("en message %q", en)
		}
		e.reconcile()
	})
}
