package rail

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/money"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func newSandbox(t *testing.T, d *db.DB) *Sandbox {
	t.Helper()
	cfg := DefaultSandboxConfig()
	cfg.AddressKey = testKey
	s, err := NewSandbox(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func clockOf(d *db.DB) *dbtest.Clock { return d.Clock.(*dbtest.Clock) }

func tokenize(t *testing.T, s *Sandbox, number, holder string) CardToken {
	t.Helper()
	brand, _ := brandOf(digitsOnly(number))
	c, err := ParseCard(number, "12", "2030", holder, strings.Repeat("7", cvvLen(brand)), s.db.Clock.Now())
	if err != nil {
		t.Fatalf("parse %s: %v", number, err)
	}
	tok, err := s.TokenizeCard(context.Background(), c)
	if err != nil {
		t.Fatalf("tokenize %s: %v", number, err)
	}
	if tok.Last4 != c.Last4 || tok.Brand != c.Brand || tok.ExpYear != 2030 || !strings.HasPrefix(tok.Token, "tok_sandbox_") {
		t.Fatalf("token %+v", tok)
	}
	return tok
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if !apperr.HasCode(err, code) {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func wantOp(t *testing.T, op Operation, err error, st Status, failure string) Operation {
	t.Helper()
	if err != nil {
		t.Fatalf("want %s, got error %v", st, err)
	}
	if op.Status != st || op.FailureCode != failure {
		t.Fatalf("want %s %q, got %s %q", st, failure, op.Status, op.FailureCode)
	}
	if (failure == "") != (op.Err() == nil) || (failure != "" && !apperr.HasCode(op.Err(), failure)) {
		t.Fatalf("Err() = %v for failure %q", op.Err(), failure)
	}
	return op
}

func cny(s string) money.Amount {
	a, err := money.Parse(s, money.MustLookup("CNY"))
	if err != nil {
		panic(err)
	}
	return a
}

// verifyCode reads the code from the sandbox statement, as a holder would.
func verifyCode(t *testing.T, s *Sandbox, token string) string {
	t.Helper()
	lines, err := s.Statement(context.Background(), token, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if code, ok := strings.CutPrefix(l.Descriptor, "OKPAY*VERIFY "); ok && l.Status == StatusRequiresCode {
			return code
		}
	}
	t.Fatalf("no verification on statement: %+v", lines)
	return ""
}

// Every documented test card does what the table says, for verification, top-up and payout.
func TestEveryTestCard(t *testing.T) {
	t.Parallel()
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newSandbox(t, d)
		clock := clockOf(d)
		for i, tc := range TestCards() {
			tok := tokenize(t, s, tc.Number, "Li Lei")
			ref := func(what string) string { return fmt.Sprintf("%s-%d", what, i) }

			// Verification.
			op, err := s.StartCardVerification(ctx, VerifyRequest{Reference: ref("v"), Token: tok.Token, Asset: "CNY"})
			switch tc.behaviour {
			case behaveDeclined:
				wantOp(t, op, err, StatusFailed, CodeCardDeclined)
			case behaveExpired:
				wantOp(t, op, err, StatusFailed, CodeCardExpired)
			case behaveStolen:
				wantOp(t, op, err, StatusFailed, CodeCardReportedStolen)
			default:
				wantOp(t, op, err, StatusRequiresCode, "")
				if op.Amount != 1 || op.Asset != "CNY" {
					t.Fatalf("%s: verification charge %d %s", tc.Number, op.Amount, op.Asset)
				}
				op, err = s.ConfirmCardVerification(ctx, ref("v"), verifyCode(t, s, tok.Token))
				wantOp(t, op, err, StatusSucceeded, "")
			}

			// Top-up.
			op, err = s.Authorize(ctx, ChargeRequest{Reference: ref("c"), Token: tok.Token, Amount: cny("100.00"), Asset: "CNY"})
			if tc.behaviour == behaveOTP {
				wantOp(t, op, err, StatusRequiresOTP, "")
				op, err = s.SubmitOTP(ctx, ref("c"), SandboxOTP)
			}
			switch tc.behaviour {
			case behaveDeclined, behaveDeclinedCharge:
				wantOp(t, op, err, StatusFailed, CodeCardDeclined)
			case behaveExpired:
				wantOp(t, op, err, StatusFailed, CodeCardExpired)
			case behaveStolen:
				wantOp(t, op, err, StatusFailed, CodeCardReportedStolen)
			case behaveInsufficient:
				wantOp(t, op, err, StatusFailed, CodeCardInsufficientFunds)
			default:
				wantOp(t, op, err, StatusAuthorized, "")
				op, err = s.Capture(ctx, ref("c"))
				if tc.behaviour == behaveSlow {
					wantOp(t, op, err, StatusCapturing, "")
				} else {
					wantOp(t, op, err, StatusSucceeded, "")
				}
			}
			if tc.Code != "" && tc.Code != CodeCardOTPRequired && tc.Code != CodePayoutRejected && op.FailureCode != tc.Code {
				t.Fatalf("%s: documented %s, got %s", tc.Number, tc.Code, op.FailureCode)
			}

			// Payout, with the name on the card.
			op, err = s.Payout(ctx, PayoutRequest{Reference: ref("p"), Token: tok.Token, Amount: cny("50.00"), Asset: "CNY", RecipientName: "li  lei"})
			wantOp(t, op, err, StatusPending, "")
		}
		clock.Advance(time.Hour)
		for i, tc := range TestCards() {
			op, err := s.Get(ctx, fmt.Sprintf("p-%d", i))
			switch tc.behaviour {
			case behavePayoutRejected, behaveStolen, behaveExpired:
				wantOp(t, op, err, StatusFailed, CodePayoutRejected)
			default:
				wantOp(t, op, err, StatusSucceeded, "")
			}
			if tc.behaviour == behaveSlow {
				op, err = s.Get(ctx, fmt.Sprintf("c-%d", i))
				wantOp(t, op, err, StatusSucceeded, "")
			}
		}
	})
}

func TestUnknownCardBehavesLikeSuccess(t *testing.T) {
	t.Parallel()
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newSandbox(t, d)
		tok := tokenize(t, s, "4111 1111 1111 1111", "Han Meimei")
		op, err := s.Authorize(ctx, ChargeRequest{Reference: "r1", Token: tok.Token, Amount: cny("1"), Asset: "CNY"})
		wantOp(t, op, err, StatusAuthorized, "")
	})
}

func TestOTPFlow(t *testing.T) {
	t.Parallel()
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newSandbox(t, d)
		clock := clockOf(d)
		tok := tokenize(t, s, "4000 0027 6000 3184", "Li Lei")
		charge := func(ref string) Operation {
			op, err := s.Authorize(ctx, ChargeRequest{Reference: ref, Token: tok.Token, Amount: cny("88.80"), Asset: "CNY"})
			wantOp(t, op, err, StatusRequiresOTP, "")
			wantCode(t, op.NextStep(), CodeCardOTPRequired)
			return op
		}

		charge("otp-ok")
		_, err := s.Capture(ctx, "otp-ok")
		wantCode(t, err, CodeCardOTPRequired)
		op, err := s.SubmitOTP(ctx, "otp-ok", "000000")
		wantCode(t, err, CodeCardOTPInvalid)
		if e, _ := apperr.As(err); e.Params["remaining"] != "2" || op.Status != StatusRequiresOTP {
			t.Fatalf("after one wrong code: %v %s", e.Params, op.Status)
		}
		op, err = s.SubmitOTP(ctx, "otp-ok", " 123456 ")
		wantOp(t, op, err, StatusAuthorized, "")
		if op.NextStep() != nil {
			t.Fatalf("next step after OTP: %v", op.NextStep())
		}
		op, err = s.SubmitOTP(ctx, "otp-ok", SandboxOTP) // a retried submit is harmless
		wantOp(t, op, err, StatusAuthorized, "")
		op, err = s.Capture(ctx, "otp-ok")
		wantOp(t, op, err, StatusSucceeded, "")
		op, err = s.Capture(ctx, "otp-ok")
		wantOp(t, op, err, StatusSucceeded, "")

		// Three wrong codes fail the charge for good; the last says so.
		charge("otp-bad")
		for i := 0; i < maxCodeAttempts; i++ {
			op, err = s.SubmitOTP(ctx, "otp-bad", "111111")
			if i < maxCodeAttempts-1 {
				wantCode(t, err, CodeCardOTPInvalid)
			}
		}
		wantCode(t, err, CodeCardOTPAttempts)
		if op.Status != StatusFailed || op.FailureCode != CodeCardOTPAttempts {
			t.Fatalf("after %d wrong codes: %s %s", maxCodeAttempts, op.Status, op.FailureCode)
		}
		_, err = s.SubmitOTP(ctx, "otp-bad", SandboxOTP)
		wantCode(t, err, CodeCardOTPAttempts)

		// Not entered in time: the right code comes too late, and is told why.
		charge("otp-late")
		clock.Advance(10*time.Minute + time.Second)
		_, err = s.SubmitOTP(ctx, "otp-late", SandboxOTP)
		wantCode(t, err, CodeCardOTPExpired)
		op, err = s.Get(ctx, "otp-late")
		wantOp(t, op, err, StatusFailed, CodeCardOTPExpired)

		// Canceled while waiting.
		charge("otp-cancel")
		op, err = s.Cancel(ctx, "otp-cancel")
		wantOp(t, op, err, StatusCanceled, "")
		op, err = s.Cancel(ctx, "otp-cancel")
		wantOp(t, op, err, StatusCanceled, "")
		_, err = s.Capture(ctx, "otp-cancel")
		wantCode(t, err, CodeOperationState)
	})
}

func TestSlowSettlementAndAuthorizationExpiry(t *testing.T) {
	t.Parallel()
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newSandbox(t, d)
		clock := clockOf(d)
		slow := tokenize(t, s, "4000 0000 0000 1257", "Li Lei")
		op, err := s.Authorize(ctx, ChargeRequest{Reference: "slow", Token: slow.Token, Amount: cny("500"), Asset: "CNY"})
		wantOp(t, op, err, StatusAuthorized, "")
		op, err = s.Capture(ctx, "slow")
		wantOp(t, op, err, StatusCapturing, "")
		captured := clock.Now()

		clock.Advance(2*time.Minute - time.Second)
		op, err = s.Get(ctx, "slow")
		wantOp(t, op, err, StatusCapturing, "")
		_, err = s.Cancel(ctx, "slow")
		wantCode(t, err, CodeOperationState)
		clock.Advance(time.Second)
		ups, err := s.Updates(ctx, 0, MaxUpdates)
		if err != nil {
			t.Fatal(err)
		}
		var seen []string
		for _, u := range ups {
			seen = append(seen, string(u.Operation.Status))
		}
		if strings.Join(seen, ",") != "authorized,capturing,succeeded" {
			t.Fatalf("feed %v", seen)
		}
		last := ups[len(ups)-1].Operation
		if !last.UpdatedAt.Equal(captured.Add(2 * time.Minute)) {
			t.Fatalf("settled at %v, want %v", last.UpdatedAt, captured.Add(2*time.Minute))
		}

		// An authorisation never captured is released after 7 days.
		ok := tokenize(t, s, "4242 4242 4242 4242", "Li Lei")
		op, err = s.Authorize(ctx, ChargeRequest{Reference: "forgotten", Token: ok.Token, Amount: cny("5"), Asset: "CNY"})
		wantOp(t, op, err, StatusAuthorized, "")
		clock.Advance(7 * 24 * time.Hour)
		_, err = s.Capture(ctx, "forgotten")
		wantCode(t, err, CodeOperationState)
		op, err = s.Get(ctx, "forgotten")
		wantOp(t, op, err, StatusFailed, CodeCardAuthorizationExpired)
	})
}

func TestVerification(t *testing.T) {
	t.Parallel()
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newSandbox(t, d)
		clock := clockOf(d)
		tok := tokenize(t, s, "6200 0000 0000 0005", "李雷")
		op, err := s.StartCardVerification(ctx, VerifyRequest{Reference: "v1", Token: tok.Token, Asset: "CNY"})
		wantOp(t, op, err, StatusRequiresCode, "")
		code := verifyCode(t, s, tok.Token)
		if len(code) != 4 || !isDigits(code) || op.Descriptor != "OKPAY*VERIFY "+code {
			t.Fatalf("code %q descriptor %q", code, op.Descriptor)
		}
		wrong := "0000"
		if code == wrong {
			wrong = "1111"
		}
		_, err = s.ConfirmCardVerification(ctx, "v1", wrong)
		wantCode(t, err, CodeCardVerifyCodeInvalid)
		op, err = s.ConfirmCardVerification(ctx, "v1", code)
		wantOp(t, op, err, StatusSucceeded, "")

		// JPY has no decimals: the charge is one yen.
		op, err = s.StartCardVerification(ctx, VerifyRequest{Reference: "v-jpy", Token: tok.Token, Asset: "JPY"})
		if err != nil || op.Amount != 1 {
			t.Fatalf("JPY verification %d %v", op.Amount, err)
		}
		// Crypto is not a card currency.
		_, err = s.StartCardVerification(ctx, VerifyRequest{Reference: "v-usdt", Token: tok.Token, Asset: "USDT"})
		wantCode(t, err, apperr.CodeCurrencyUnsupported)

		// Three wrong codes fail it; the code is then useless.
		op, err = s.StartCardVerification(ctx, VerifyRequest{Reference: "v2", Token: tok.Token, Asset: "CNY"})
		wantOp(t, op, err, StatusRequiresCode, "")
		code = strings.TrimPrefix(op.Descriptor, "OKPAY*VERIFY ")
		wrong = "0000"
		if code == wrong {
			wrong = "1111"
		}
		for i := 0; i < maxCodeAttempts; i++ {
			op, err = s.ConfirmCardVerification(ctx, "v2", wrong)
			if i < maxCodeAttempts-1 {
				wantCode(t, err, CodeCardVerifyCodeInvalid)
			}
		}
		wantCode(t, err, CodeCardVerifyAttempts)
		if op.Status != StatusFailed {
			t.Fatalf("status %s", op.Status)
		}
		_, err = s.ConfirmCardVerification(ctx, "v2", code)
		wantCode(t, err, CodeCardVerifyAttempts)

		// Not confirmed within a day.
		op, err = s.StartCardVerification(ctx, VerifyRequest{Reference: "v3", Token: tok.Token, Asset: "CNY"})
		wantOp(t, op, err, StatusRequiresCode, "")
		clock.Advance(24 * time.Hour)
		op, err = s.Get(ctx, "v3")
		wantOp(t, op, err, StatusFailed, CodeCardVerifyExpired)

		// Wrong kind of reference for the call, unknown reference, deleted card.
		_, err = s.SubmitOTP(ctx, "v1", SandboxOTP)
		wantCode(t, err, CodeOperationNotFound)
		_, err = s.Get(ctx, "nope")
		wantCode(t, err, CodeOperationNotFound)
		if err := s.DeleteCard(ctx, tok.Token); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteCard(ctx, tok.Token); err != nil {
			t.Fatal(err)
		}
		_, err = s.StartCardVerification(ctx, VerifyRequest{Reference: "v4", Token: tok.Token, Asset: "CNY"})
		wantCode(t, err, CodeCardNotFound)
		_, err = s.Authorize(ctx, ChargeRequest{Reference: "c4", Token: "tok_sandbox_made_up", Amount: 1, Asset: "CNY"})
		wantCode(t, err, CodeCardNotFound)
		_, err = s.Statement(ctx, tok.Token, 10)
		wantCode(t, err, CodeCardNotFound)
	})
}

func TestPayouts(t *testing.T) {
	t.Parallel()
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newSandbox(t, d)
		clock := clockOf(d)
		mine := tokenize(t, s, "4242 4242 4242 4242", "Maimaiti Aili")
		rejecting := tokenize(t, s, "4000 0000 0000 0119", "Maimaiti Aili")
		for _, p := range []PayoutRequest{
			{Reference: "ok", Token: mine.Token, Amount: cny("1000.00"), RecipientName: "MAIMAITI·AILI"},
			{Reference: "mismatch", Token: mine.Token, Amount: cny("1000.00"), RecipientName: "Li Lei"},
			{Reference: "rejected-card", Token: rejecting.Token, Amount: cny("1000.00"), RecipientName: "Maimaiti Aili"},
			{Reference: "rejected-amount", Token: mine.Token, Amount: cny("100.13"), RecipientName: "Maimaiti Aili"},
			{Reference: "mismatch-amount", Token: mine.Token, Amount: cny("100.14"), RecipientName: "Maimaiti Aili"},
		} {
			p.Asset = "CNY"
			op, err := s.Payout(ctx, p)
			wantOp(t, op, err, StatusPending, "")
			if op.Kind != KindPayout || op.Amount != p.Amount {
				t.Fatalf("%+v", op)
			}
		}
		at := func(ref string, st Status, code string) {
			t.Helper()
			op, err := s.Get(ctx, ref)
			wantOp(t, op, err, st, code)
		}
		clock.Advance(4 * time.Second)
		at("ok", StatusPending, "")
		clock.Advance(time.Second)
		at("ok", StatusProcessing, "")
		at("mismatch", StatusProcessing, "")
		clock.Advance(25 * time.Second) // 30 s: failures are back
		at("ok", StatusProcessing, "")
		at("mismatch", StatusFailed, CodePayoutNameMismatch)
		at("rejected-card", StatusFailed, CodePayoutRejected)
		at("rejected-amount", StatusFailed, CodePayoutRejected)
		at("mismatch-amount", StatusFailed, CodePayoutNameMismatch)
		clock.Advance(30 * time.Second) // 60 s: paid
		at("ok", StatusSucceeded, "")

		ups, err := s.Updates(ctx, 0, MaxUpdates)
		if err != nil {
			t.Fatal(err)
		}
		var okFeed []string
		for _, u := range ups {
			if u.Operation.Reference == "ok" {
				okFeed = append(okFeed, string(u.Operation.Status))
			}
		}
		if strings.Join(okFeed, ",") != "pending,processing,succeeded" {
			t.Fatalf("feed %v", okFeed)
		}

		// Payouts cannot be canceled or captured; bad requests are refused up front.
		_, err = s.Cancel(ctx, "ok")
		wantCode(t, err, CodeOperationNotFound)
		_, err = s.Payout(ctx, PayoutRequest{Reference: "x1", Token: mine.Token, Amount: 0, Asset: "CNY", RecipientName: "A"})
		wantCode(t, err, apperr.CodeAmountInvalid)
		_, err = s.Payout(ctx, PayoutRequest{Reference: "x2", Token: mine.Token, Amount: 5, Asset: "BTC", RecipientName: "A"})
		wantCode(t, err, apperr.CodeCurrencyUnsupported)
		_, err = s.Payout(ctx, PayoutRequest{Reference: "x3", Token: mine.Token, Amount: 5, Asset: "CNY", RecipientName: ""})
		if !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("empty name: %v", err)
		}
		_, err = s.Payout(ctx, PayoutRequest{Reference: "bad ref!", Token: mine.Token, Amount: 5, Asset: "CNY", RecipientName: "A"})
		if !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("bad reference: %v", err)
		}
	})
}

var (
	tronAddr = regexp.MustCompile(`^T[1-9A-HJ-NP-Za-km-z]{33}$`)
	tbAddr   = regexp.MustCompile(`^tb1q[02-9ac-hj-np-z]{38}$`)
)

func TestDepositAddresses(t *testing.T) {
	t.Parallel()
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newSandbox(t, d)
		u1a, err := s.DepositAddress(ctx, "user-1", "USDT")
		u1 := u1a.Address
		if err != nil || !tronAddr.MatchString(u1) || u1a.Network != "TRC20" || u1a.ConfirmationsRequired != 3 || u1a.Asset != "USDT" {
			t.Fatalf("USDT address %+v %v", u1a, err)
		}
		b1, err := s.DepositAddress(ctx, "user-1", "BTC")
		if err != nil || !tbAddr.MatchString(b1.Address) || b1.Network != "Bitcoin testnet" {
			t.Fatalf("BTC address %+v %v", b1, err)
		}
		againA, _ := s.DepositAddress(ctx, "user-1", "USDT")
		u2a, _ := s.DepositAddress(ctx, "user-2", "USDT")
		again, u2 := againA.Address, u2a.Address
		if again != u1 || u2 == u1 {
			t.Fatalf("addresses not per user: %s %s %s", u1, again, u2)
		}
		other := DefaultSandboxConfig()
		other.AddressKey = []byte("another key, another set of addr")
		s2, _ := NewSandbox(d, other)
		if a, _ := s2.Chain("USDT"); a.Confirmations != 3 {
			t.Fatalf("chain %+v", a)
		}
		if x := addressFor(other.AddressKey, FormatTRON, "user-1", "USDT"); x == u1 || !tronAddr.MatchString(x) {
			t.Fatalf("address not keyed: %s", x)
		}
		_, err = s.DepositAddress(ctx, "user-1", "CNY")
		wantCode(t, err, apperr.CodeCurrencyUnsupported)
		_, err = s.DepositAddress(ctx, "", "USDT")
		if !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("empty owner: %v", err)
		}
	})
}

// Checksums match the reference encodings of the two formats.
func TestAddressEncodings(t *testing.T) {
	// BIP 173 test vector: P2WPKH of 751e76e8199196d454941c45d1b3a323f1433bd6.
	prog := []byte{0x75, 0x1e, 0x76, 0xe8, 0x19, 0x91, 0x96, 0xd4, 0x54, 0x94, 0x1c, 0x45, 0xd1, 0xb3, 0xa3, 0x23, 0xf1, 0x43, 0x3b, 0xd6}
	if got := segwitV0("bc", prog); got != "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4" {
		t.Fatalf("bech32 %s", got)
	}
	if got := segwitV0("tb", prog); got != "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx" {
		t.Fatalf("bech32 testnet %s", got)
	}
	// Base58Check of the all-zero TRON payload is the well-known "black hole" address.
	if got := base58Check(append([]byte{0x41}, make([]byte, 20)...)); got != "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb" {
		t.Fatalf("base58check %s", got)
	}
}

func TestDepositConfirmations(t *testing.T) {
	t.Parallel()
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newSandbox(t, d)
		clock := clockOf(d)
		da, err := s.DepositAddress(ctx, "user-9", "USDT")
		if err != nil {
			t.Fatal(err)
		}
		addr := da.Address
		amt, _ := money.Parse("250.5", money.MustLookup("USDT"))
		dep, err := s.SimulateDeposit(ctx, addr, amt, "USDT")
		wantOp(t, dep, err, StatusConfirming, "")
		if dep.Owner != "user-9" || dep.Address != addr || dep.Confirmations != 0 || dep.ConfirmationsRequired != 3 ||
			dep.Kind != KindDeposit || len(dep.Reference) != 64 || dep.Amount != 250_500_000 {
			t.Fatalf("deposit %+v", dep)
		}
		progress := func() string {
			op, err := s.Get(ctx, dep.Reference)
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("%s %d/%d", op.Status, op.Confirmations, op.ConfirmationsRequired)
		}
		for _, want := range []string{"confirming 1/3", "confirming 2/3", "succeeded 3/3"} {
			clock.Advance(29 * time.Second)
			if p := progress(); strings.HasPrefix(want, "confirming 1") && p != "confirming 0/3" {
				t.Fatalf("early: %s", p)
			}
			clock.Advance(time.Second)
			if p := progress(); p != want {
				t.Fatalf("want %s, got %s", want, p)
			}
		}

		// BTC: one confirmation per 10 minutes; a poller that was away sees every step.
		baddr, _ := s.DepositAddress(ctx, "user-9", "BTC")
		before, _ := s.Updates(ctx, 0, MaxUpdates)
		cursor := before[len(before)-1].Seq
		bdep, err := s.SimulateDeposit(ctx, baddr.Address, 12_345, "BTC")
		wantOp(t, bdep, err, StatusConfirming, "")
		clock.Advance(2 * time.Hour)
		ups, err := s.Updates(ctx, cursor, MaxUpdates)
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for _, u := range ups {
			o := u.Operation
			steps = append(steps, fmt.Sprintf("%s %d/%d @%s", o.Status, o.Confirmations, o.ConfirmationsRequired, o.UpdatedAt.Sub(bdep.CreatedAt)))
		}
		if want := "confirming 0/3 @0s,confirming 1/3 @10m0s,confirming 2/3 @20m0s,succeeded 3/3 @30m0s"; strings.Join(steps, ",") != want {
			t.Fatalf("steps %v", steps)
		}

		_, err = s.SimulateDeposit(ctx, "TNotOurs", 1, "USDT")
		wantCode(t, err, CodeDepositAddressUnknown)
		_, err = s.SimulateDeposit(ctx, addr, 1, "BTC")
		wantCode(t, err, apperr.CodeCurrencyUnsupported)
		_, err = s.SimulateDeposit(ctx, addr, 0, "USDT")
		wantCode(t, err, apperr.CodeAmountInvalid)
	})
}

func TestIdempotentByReference(t *testing.T) {
	t.Parallel()
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newSandbox(t, d)
		tok := tokenize(t, s, "5555 5555 5555 4444", "Li Lei")
		req := ChargeRequest{Reference: "0190b7e4-7c1a-7000-8000-000000000001", Token: tok.Token, Amount: cny("300"), Asset: "CNY"}

		// Twenty retries at once: one charge.
		var wg sync.WaitGroup
		ids := make([]string, 20)
		errs := make([]error, 20)
		for i := range ids {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				op, err := s.Authorize(ctx, req)
				ids[i], errs[i] = op.ID, err
			}(i)
		}
		wg.Wait()
		for i := range ids {
			if errs[i] != nil || ids[i] != ids[0] {
				t.Fatalf("retry %d: %s %v (first %s)", i, ids[i], errs[i], ids[0])
			}
		}
		op, err := s.Capture(ctx, req.Reference)
		wantOp(t, op, err, StatusSucceeded, "")
		// A late retry of the authorisation reports where it stands now, and charges nothing.
		op, err = s.Authorize(ctx, req)
		wantOp(t, op, err, StatusSucceeded, "")

		_, err = s.Authorize(ctx, ChargeRequest{Reference: req.Reference, Token: tok.Token, Amount: cny("301"), Asset: "CNY"})
		wantCode(t, err, CodeReferenceConflict)
		_, err = s.Payout(ctx, PayoutRequest{Reference: req.Reference, Token: tok.Token, Amount: cny("300"), Asset: "CNY", RecipientName: "Li Lei"})
		wantCode(t, err, CodeReferenceConflict)

		p := PayoutRequest{Reference: "payout-1", Token: tok.Token, Amount: cny("20"), Asset: "CNY", RecipientName: "Li Lei"}
		a, err1 := s.Payout(ctx, p)
		b, err2 := s.Payout(ctx, p)
		if err1 != nil || err2 != nil || a.ID != b.ID {
			t.Fatalf("payout retry: %v %v %s %s", err1, err2, a.ID, b.ID)
		}
		p.RecipientName = "Someone Else"
		_, err = s.Payout(ctx, p)
		wantCode(t, err, CodeReferenceConflict)

		var ops, events int
		d.W.QueryRowContext(ctx, `SELECT COUNT(*) FROM rail_operations`).Scan(&ops)
		d.W.QueryRowContext(ctx, `SELECT COUNT(*) FROM rail_events`).Scan(&events)
		if ops != 2 || events != 3 { // authorized, succeeded; pending
			t.Fatalf("%d operations, %d events", ops, events)
		}
	})
}

// The feed is gapless and ordered even with writers and pollers racing (PostgreSQL runs
// them truly in parallel).
func TestUpdatesFeedUnderConcurrency(t *testing.T) {
	t.Parallel()
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newSandbox(t, d)
		clock := clockOf(d)
		tok := tokenize(t, s, "4000 0000 0000 1257", "Li Lei")
		const n = 30
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				ref := fmt.Sprintf("c%d", i)
				if _, err := s.Authorize(ctx, ChargeRequest{Reference: ref, Token: tok.Token, Amount: cny("1"), Asset: "CNY"}); err != nil {
					t.Error(err)
				}
				if _, err := s.Capture(ctx, ref); err != nil {
					t.Error(err)
				}
				if _, err := s.Updates(ctx, 0, 10); err != nil {
					t.Error(err)
				}
			}(i)
		}
		wg.Wait()
		clock.Advance(time.Hour)
		for i := 0; i < 4; i++ { // pollers racing to apply the settlements
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Updates(ctx, 0, 1); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		var all []Update
		for cursor := int64(0); ; {
			page, err := s.Updates(ctx, cursor, 7)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			all = append(all, page...)
			cursor = page[len(page)-1].Seq
		}
		if len(all) != 3*n {
			t.Fatalf("%d updates, want %d", len(all), 3*n)
		}
		per := map[string]string{}
		for i, u := range all {
			if u.Seq != int64(i+1) {
				t.Fatalf("seq %d at %d", u.Seq, i)
			}
			per[u.Operation.Reference] += string(u.Operation.Status) + ","
		}
		for ref, seq := range per {
			if seq != "authorized,capturing,succeeded," {
				t.Fatalf("%s: %s", ref, seq)
			}
		}
		if _, err := s.Updates(ctx, -1, 10); !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("negative cursor: %v", err)
		}
		if _, err := s.Updates(ctx, 0, MaxUpdates+1); !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("limit: %v", err)
		}
	})
}

// A restart mid-flight (new connection pool, new Sandbox, same database) loses nothing:
// the operations complete on schedule and the feed continues where it was.
func TestRestartMidFlight(t *testing.T) {
	t.Parallel()
	for _, engine := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			clock := dbtest.NewClock()
			cfg := db.Config{Clock: clock}
			if engine == db.Postgres {
				cfg.URL = dbtest.NewSchema(t)
			} else {
				cfg.DataDir = t.TempDir()
			}
			open := func() *db.DB {
				d, err := db.Open(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := d.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
				return d
			}
			d := open()
			s := newSandbox(t, d)
			slow := tokenize(t, s, "4000 0000 0000 1257", "Li Lei")
			if _, err := s.Authorize(ctx, ChargeRequest{Reference: "topup", Token: slow.Token, Amount: cny("9"), Asset: "CNY"}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Capture(ctx, "topup"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Payout(ctx, PayoutRequest{Reference: "withdraw", Token: slow.Token, Amount: cny("7"), Asset: "CNY", RecipientName: "Li Lei"}); err != nil {
				t.Fatal(err)
			}
			addr, _ := s.DepositAddress(ctx, "u", "USDT")
			dep, err := s.SimulateDeposit(ctx, addr.Address, 5, "USDT")
			if err != nil {
				t.Fatal(err)
			}
			seen, err := s.Updates(ctx, 0, MaxUpdates)
			if err != nil || len(seen) != 4 {
				t.Fatalf("%d updates before restart: %v", len(seen), err)
			}
			clock.Advance(40 * time.Second)
			d.Close()

			d2 := open()
			defer d2.Close()
			s2 := newSandbox(t, d2)
			if _, err := s2.Capture(ctx, "topup"); err != nil { // a retried capture after the crash
				t.Fatal(err)
			}
			clock.Advance(2 * time.Minute)
			ups, err := s2.Updates(ctx, seen[len(seen)-1].Seq, MaxUpdates)
			if err != nil {
				t.Fatal(err)
			}
			final := map[string]Status{}
			for _, u := range ups {
				final[u.Operation.Reference] = u.Operation.Status
			}
			if final["topup"] != StatusSucceeded || final["withdraw"] != StatusSucceeded || final[dep.Reference] != StatusSucceeded {
				t.Fatalf("after restart: %v", final)
			}
			if again, _ := s2.Updates(ctx, ups[len(ups)-1].Seq, MaxUpdates); len(again) != 0 {
				t.Fatalf("feed repeats: %+v", again)
			}
		})
	}
}

var digitRun = regexp.MustCompile(`[0-9]+`)

// Neither a full card number nor a CVV is anywhere in the rail's tables, whatever was done
// with the cards.
func TestDatabaseNeverHoldsNumberOrCVV(t *testing.T) {
	t.Parallel()
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newSandbox(t, d)
		clockOf(d).Advance(time.Second)
		cvvs := map[string]bool{"739": true, "7391": true}
		numbers := map[string]bool{}
		for i, tc := range TestCards() {
			cvv := "739"
			if tc.Brand == Amex {
				cvv = "7391"
			}
			c, err := ParseCard(tc.Number, "12", "2030", "Li Lei", cvv, d.Clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			numbers[c.Number()] = true
			tok, err := s.TokenizeCard(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			ref := fmt.Sprint(i)
			s.StartCardVerification(ctx, VerifyRequest{Reference: "v" + ref, Token: tok.Token, Asset: "CNY"})
			s.Authorize(ctx, ChargeRequest{Reference: "c" + ref, Token: tok.Token, Amount: cny("10"), Asset: "CNY"})
			s.SubmitOTP(ctx, "c"+ref, SandboxOTP)
			s.Capture(ctx, "c"+ref)
			s.Payout(ctx, PayoutRequest{Reference: "p" + ref, Token: tok.Token, Amount: cny("10"), Asset: "CNY", RecipientName: "Li Lei"})
		}
		clockOf(d).Advance(time.Hour)
		if _, err := s.Updates(ctx, 0, MaxUpdates); err != nil {
			t.Fatal(err)
		}

		var tablesQ string
		if d.Engine == db.Postgres {
			tablesQ = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE 'rail\_%'`
		} else {
			tablesQ = `SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'rail\_%' ESCAPE '\'`
		}
		rows, err := d.W.QueryContext(ctx, tablesQ)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			tables = append(tables, n)
		}
		rows.Close()
		if len(tables) < 5 {
			t.Fatalf("rail tables: %v", tables)
		}
		// Columns holding random ids, hashes and codes: their digit runs are noise (a 64-hex
		// hash has a Luhn-valid 13+ digit run about once in 250), so they are checked for
		// the test card numbers themselves, but not for any Luhn run or the short CVV.
		random := map[string]bool{"id": true, "token_hash": true, "request_hash": true, "reference": true,
			"operation_id": true, "card_id": true, "secret_code": true, "descriptor": true, "address": true}
		cells := 0
		for _, table := range tables {
			rows, err := d.W.QueryContext(ctx, `SELECT * FROM `+table)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				for i, v := range vals {
					var text string
					switch v := v.(type) {
					case []byte:
						text = string(v)
					case nil:
						continue
					default:
						text = fmt.Sprint(v)
					}
					cells++
					for _, run := range digitRun.FindAllString(text, -1) {
						if numbers[run] || (!random[cols[i]] && len(run) >= 13 && len(run) <= 19 && Luhn(run)) {
							t.Errorf("%s.%s holds a card number: %q", table, cols[i], text)
						}
						if cvvs[run] && !random[cols[i]] {
							t.Errorf("%s.%s holds a CVV: %q", table, cols[i], text)
						}
					}
				}
			}
			rows.Close()
		}
		if cells < 100 {
			t.Fatalf("only %d cells scanned", cells)
		}
	})
}

func TestSandboxConfigValidated(t *testing.T) {
	d := dbtest.Open(t, db.SQLite, nil)
	for name, mutate := range map[string]func(*SandboxConfig){
		"short key":    func(c *SandboxConfig) { c.AddressKey = []byte("short") },
		"zero delay":   func(c *SandboxConfig) { c.SettleDelay = 0 },
		"payout order": func(c *SandboxConfig) { c.PayoutDelay = c.PayoutProcessingAfter },
		"fiat chain": func(c *SandboxConfig) {
			c.Chains["CNY"] = Chain{AddressFormat: FormatTRON, Confirmations: 1, Interval: time.Minute}
		},
		"no confirmations": func(c *SandboxConfig) {
			c.Chains["BTC"] = Chain{AddressFormat: FormatBech32Test, Interval: time.Minute}
		},
		"fast blocks": func(c *SandboxConfig) { c.Chains["BTC"] = Chain{AddressFormat: FormatBech32Test, Confirmations: 1} },
		"bad format": func(c *SandboxConfig) {
			c.Chains["BTC"] = Chain{AddressFormat: "base64", Confirmations: 1, Interval: time.Minute}
		},
	} {
		cfg := DefaultSandboxConfig()
		cfg.AddressKey = testKey
		mutate(&cfg)
		if _, err := NewSandbox(d, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
