package identity

import (
	"context"
	"strings"
	"testing"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
)

// wantMalformed checks err is code_malformed naming the code field, with the expected
// format in the fix in both languages.
func wantMalformed(t *testing.T, err error) {
	t.Helper()
	e := wantCode(t, err, CodeCodeMalformed)
	if len(e.Fields) != 1 || e.Fields[0].Field != "code" || e.Fields[0].Code != CodeCodeMalformed {
		t.Fatalf("fields %+v", e.Fields)
	}
	if !strings.Contains(e.Fix("en"), "6 digits") || !strings.Contains(e.Fix("zh-CN"), "6 位数字") {
		t.Fatalf("fix does not give the format: %q / %q", e.Fix("en"), e.Fix("zh-CN"))
	}
}

// A typed code that cannot be a code (letters, too short, too long) is refused as
// malformed and does not use up one of the code's tries.
func TestMalformedCodeUsesNoTry(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, rec, _ := newTestService(t, d)

		res := register(t, s, "mal@example.com", laptop)
		code := codeOf(t, rec.last(t, mailVerifyEmail, "mal@example.com"))
		// More malformed tries than a code has: none may count.
		for _, bad := range []string{"abc", "abcdef", "12345", "1234567", "", "12345x", "１２３４５６", strings.Repeat("1", 500),
			"abc", "abc", "abc"} {
			_, err := s.VerifyEmail(ctx, res.User.ID, bad, laptop)
			wantMalformed(t, err)
		}
		wrong := "000000"
		if wrong == code {
			wrong = "111111"
		}
		_, err := s.VerifyEmail(ctx, res.User.ID, wrong, laptop)
		if e := wantCode(t, err, CodeCodeInvalid); e.Params["remaining"] != "4" {
			t.Fatalf("malformed codes used up tries: %v", e.Params)
		}
		u, err := s.VerifyEmail(ctx, res.User.ID, code[:3]+"-"+code[3:], laptop)
		if err != nil || !u.EmailVerified {
			t.Fatalf("verify after malformed tries: %v", err)
		}

		// The password reset code: same rule, and the password is not changed.
		_, err = s.RequestPasswordReset(ctx, ResetRequest{Email: "mal@example.com"}, laptop)
		must(t, err)
		code = codeOf(t, rec.last(t, mailReset, "mal@example.com"))
		newPw := "N3w-Password-2026"
		for i := 0; i < 6; i++ {
			wantMalformed(t, s.ResetPassword(ctx, ResetInput{Email: "mal@example.com", Code: "abc", NewPassword: newPw}, laptop))
		}
		wrong = "000000"
		if wrong == code {
			wrong = "111111"
		}
		e := wantCode(t, s.ResetPassword(ctx, ResetInput{Email: "mal@example.com", Code: wrong, NewPassword: newPw}, laptop), CodeCodeInvalid)
		if e.Params["remaining"] != "4" {
			t.Fatalf("malformed reset codes used up tries: %v", e.Params)
		}
		if _, err := s.SignIn(ctx, SignInInput{Email: "mal@example.com", Password: goodPassword}, laptop); err != nil {
			t.Fatalf("old password stopped working: %v", err)
		}
		must(t, s.ResetPassword(ctx, ResetInput{Email: "mal@example.com", Code: code, NewPassword: newPw}, laptop))
	})
}

// "1 tries left" is not English; the count reads right for every number.
func TestTriesLeftReads(t *testing.T) {
	e := apperr.New(CodeCodeInvalid).With("remaining", "1")
	if fix := e.Fix("en"); strings.Contains(fix, "1 tries") || !strings.Contains(fix, "1") {
		t.Fatalf("fix %q", fix)
	}
}
