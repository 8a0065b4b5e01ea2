package rail

import (
	"context"
	"strings"
	"testing"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
)

// wantFieldCode checks err is code and names the "code" field, so a form can point at it.
func wantFieldCode(t *testing.T, err error, code string) *apperr.Error {
	t.Helper()
	wantCode(t, err, code)
	e, _ := apperr.As(err)
	if len(e.Fields) != 1 || e.Fields[0].Field != "code" || e.Fields[0].Code != code {
		t.Fatalf("%s: fields %+v, want the code field", code, e.Fields)
	}
	return e
}

// A code that cannot be right (letters, too short, too long) is refused as malformed and
// uses up no try: the tries are for people who misread a real code.
func TestMalformedCodesUseNoTry(t *testing.T) {
	t.Parallel()
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newSandbox(t, d)

		tok := tokenize(t, s, "4242 4242 4242 4242", "Li Lei")
		op, err := s.StartCardVerification(ctx, VerifyRequest{Reference: "v-fmt", Token: tok.Token, Asset: "CNY"})
		wantOp(t, op, err, StatusRequiresCode, "")
		code := verifyCode(t, s, tok.Token)
		for _, bad := range []string{"abcd", "abc", "123", "12345", "", "１２３４", "12a4", strings.Repeat("9", 1000)} {
			_, err := s.ConfirmCardVerification(ctx, "v-fmt", bad)
			e := wantFieldCode(t, err, CodeCardVerifyCodeMalformed)
			if fix := e.Fix("en"); !strings.Contains(fix, "4 digits") {
				t.Fatalf("fix does not say the format: %q", fix)
			}
			if fix := e.Fix("zh-CN"); !strings.Contains(fix, "4 位数字") {
				t.Fatalf("zh fix does not say the format: %q", fix)
			}
		}
		wrong := "0000"
		if code == wrong {
			wrong = "1111"
		}
		_, err = s.ConfirmCardVerification(ctx, "v-fmt", wrong)
		if e := wantCoded(t, err, CodeCardVerifyCodeInvalid); e.Params["remaining"] != "2" {
			t.Fatalf("malformed codes used up tries: remaining %v", e.Params)
		}
		op, err = s.ConfirmCardVerification(ctx, "v-fmt", code[:2]+" "+code[2:]) // as read off a statement, with a space
		wantOp(t, op, err, StatusSucceeded, "")

		otp := tokenize(t, s, "4000 0027 6000 3184", "Li Lei")
		op, err = s.Authorize(ctx, ChargeRequest{Reference: "otp-fmt", Token: otp.Token, Amount: cny("10"), Asset: "CNY"})
		wantOp(t, op, err, StatusRequiresOTP, "")
		for _, bad := range []string{"abc", "12345", "1234567", "", "12345a"} {
			_, err := s.SubmitOTP(ctx, "otp-fmt", bad)
			e := wantFieldCode(t, err, CodeCardOTPMalformed)
			if !strings.Contains(e.Fix("en"), "6 digits") || !strings.Contains(e.Fix("zh-CN"), "6 位数字") {
				t.Fatalf("OTP fix does not say the format: %q / %q", e.Fix("en"), e.Fix("zh-CN"))
			}
		}
		_, err = s.SubmitOTP(ctx, "otp-fmt", "000000")
		if e := wantCoded(t, err, CodeCardOTPInvalid); e.Params["remaining"] != "2" {
			t.Fatalf("malformed OTPs used up tries: remaining %v", e.Params)
		}
		op, err = s.SubmitOTP(ctx, "otp-fmt", "123-456")
		wantOp(t, op, err, StatusAuthorized, "")
	})
}

func wantCoded(t *testing.T, err error, code string) *apperr.Error {
	t.Helper()
	wantCode(t, err, code)
	e, _ := apperr.As(err)
	return e
}

// The last wrong try ends the attempt with its own code, which says what happened and
// what to do next; "0 tries left" is never shown, and later tries (even with the right
// code) get the same answer instead of a raw status.
func TestLastWrongCodeEndsTheAttempt(t *testing.T) {
	t.Parallel()
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newSandbox(t, d)

		tok := tokenize(t, s, "5555 5555 5555 4444", "Li Lei")
		op, err := s.StartCardVerification(ctx, VerifyRequest{Reference: "v-last", Token: tok.Token, Asset: "CNY"})
		wantOp(t, op, err, StatusRequiresCode, "")
		code := verifyCode(t, s, tok.Token)
		wrong := "0000"
		if code == wrong {
			wrong = "1111"
		}
		for i, left := range []string{"2", "1"} {
			_, err = s.ConfirmCardVerification(ctx, "v-last", wrong)
			e := wantCoded(t, err, CodeCardVerifyCodeInvalid)
			if e.Params["remaining"] != left {
				t.Fatalf("try %d: remaining %v", i+1, e.Params)
			}
			if fix := e.Fix("en"); strings.Contains(fix, "1 tries") || !strings.Contains(fix, left) {
				t.Fatalf("try %d: fix %q", i+1, fix)
			}
		}
		op, err = s.ConfirmCardVerification(ctx, "v-last", wrong)
		e := wantCoded(t, err, CodeCardVerifyAttempts)
		if op.Status != StatusFailed || op.FailureCode != CodeCardVerifyAttempts || !apperr.HasCode(op.Err(), CodeCardVerifyAttempts) {
			t.Fatalf("after the last wrong code: %s %q", op.Status, op.FailureCode)
		}
		for _, lang := range []string{"en", "zh-CN"} {
			if msg := e.Message(lang) + " " + e.Fix(lang); strings.Contains(msg, "{") || strings.Contains(msg, "0 tries") {
				t.Fatalf("%s: %q", lang, msg)
			}
		}
		if !strings.Contains(e.Fix("en"), "add it again") || !strings.Contains(e.Fix("zh-CN"), "重新添加") {
			t.Fatalf("no next step: %q / %q", e.Fix("en"), e.Fix("zh-CN"))
		}
		_, err = s.ConfirmCardVerification(ctx, "v-last", code)
		wantCode(t, err, CodeCardVerifyAttempts)

		otp := tokenize(t, s, "6200 0000 0000 0062", "Li Lei")
		op, err = s.Authorize(ctx, ChargeRequest{Reference: "otp-last", Token: otp.Token, Amount: cny("10"), Asset: "CNY"})
		wantOp(t, op, err, StatusRequiresOTP, "")
		for i := 0; i < maxCodeAttempts-1; i++ {
			_, err = s.SubmitOTP(ctx, "otp-last", "000000")
			wantCode(t, err, CodeCardOTPInvalid)
		}
		op, err = s.SubmitOTP(ctx, "otp-last", "000000")
		e = wantCoded(t, err, CodeCardOTPAttempts)
		if op.Status != StatusFailed || op.FailureCode != CodeCardOTPAttempts {
			t.Fatalf("after the last wrong OTP: %s %q", op.Status, op.FailureCode)
		}
		if !strings.Contains(e.Fix("en"), "top-up again") || strings.Contains(e.Fix("en"), "{") {
			t.Fatalf("OTP fix %q", e.Fix("en"))
		}
		_, err = s.SubmitOTP(ctx, "otp-last", SandboxOTP)
		wantCode(t, err, CodeCardOTPAttempts)
	})
}

// A state error names the state in the reader's language: never a raw status word, never
// an unfilled placeholder, and the machine value stays in params for programs.
func TestStateErrorTranslated(t *testing.T) {
	t.Parallel()
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newSandbox(t, d)
		tok := tokenize(t, s, "4242 4242 4242 4242", "Li Lei")
		op, err := s.Authorize(ctx, ChargeRequest{Reference: "c-cancel", Token: tok.Token, Amount: cny("10"), Asset: "CNY"})
		wantOp(t, op, err, StatusAuthorized, "")
		_, err = s.Cancel(ctx, "c-cancel")
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Capture(ctx, "c-cancel")
		e := wantCoded(t, err, CodeOperationState)
		if e.Params["status"] != string(StatusCanceled) {
			t.Fatalf("params %v", e.Params)
		}
		if zh := e.Message("zh-CN"); strings.Contains(zh, "canceled") || !strings.Contains(zh, "已取消") {
			t.Fatalf("zh message %q", zh)
		}
		if en := e.Message("en"); strings.Contains(en, "{") || !strings.Contains(en, "canceled") {
			t.Fatalf("en message %q", en)
		}
	})
	// Every status reads as words in both languages.
	for _, st := range []Status{StatusRequiresCode, StatusRequiresOTP, StatusAuthorized, StatusCapturing, StatusPending,
		StatusProcessing, StatusConfirming, StatusSucceeded, StatusFailed, StatusCanceled, Status("held_by_provider")} {
		e := StateError(st)
		for _, lang := range []string{"en", "zh-CN"} {
			msg := e.Message(lang)
			if strings.Contains(msg, "{") || strings.Contains(msg, "_") {
				t.Errorf("%s %s: %q", st, lang, msg)
			}
		}
		if zh := e.Message("zh-CN"); strings.ContainsAny(zh, "abcdefghijklmnopqrstuvwxyz") {
			t.Errorf("%s: English inside Chinese: %q", st, zh)
		}
	}
}

// Operations that failed on their last wrong code before the attempts codes existed still
// read as "attempts used up", never as a fix with an unfilled count of tries.
func TestOldPerTryFailureReadsAsAttemptsUsedUp(t *testing.T) {
	for code, want := range map[string]string{CodeCardVerifyCodeInvalid: CodeCardVerifyAttempts, CodeCardOTPInvalid: CodeCardOTPAttempts,
		CodeCardDeclined: CodeCardDeclined} {
		err := Operation{Status: StatusFailed, FailureCode: code}.Err()
		e := wantCoded(t, err, want)
		if strings.Contains(e.Fix("en")+e.Fix("zh-CN"), "{") {
			t.Errorf("%s: unfilled fix %q", code, e.Fix("en"))
		}
	}
	// The attempts messages state the number of tries; keep them in step.
	if maxCodeAttempts != 3 {
		t.Fatal("maxCodeAttempts changed: update the \"3 times\" in the attempts messages and docs/SANDBOX.md")
	}
}
