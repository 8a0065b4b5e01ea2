package identity

import (
	"context"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
)

func TestPasswordResetByEmail(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, rec, clock := newTestService(t, d)
		c := laptop
		alice := registerVerified(t, s, rec, "alice@example.com", &c)
		other, err := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, phone)
		must(t, err)
		// Lock the account first: a reset must clear it.
		for i := 0; i < 5; i++ {
			s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: "Guess-1234"}, phone)
		}
		clock.Advance(time.Minute)

		// Known and unknown addresses get the same answer.
		r1, err1 := s.RequestPasswordReset(ctx, ResetRequest{Email: "Alice@example.com"}, c)
		r2, err2 := s.RequestPasswordReset(ctx, ResetRequest{Email: "nobody@example.com"}, c)
		if err1 != nil || err2 != nil || *r1 != *r2 {
			t.Fatalf("answers differ: %+v %v / %+v %v", r1, err1, r2, err2)
		}
		// A second request inside the cooldown answers the same and sends nothing.
		before := rec.count(mailReset, "alice@example.com")
		r3, err := s.RequestPasswordReset(ctx, ResetRequest{Email: "alice@example.com"}, c)
		if err != nil || *r3 != *r1 || rec.count(mailReset, "alice@example.com") != before {
			t.Fatalf("cooldown not silent: %v", err)
		}
		m := rec.last(t, mailReset, "alice@example.com")
		code := codeOf(t, m)

		newPw := "N3w-Password-2026"
		// Unknown email with any code: code_expired, like a known email without a code.
		wantCode(t, s.ResetPassword(ctx, ResetInput{Email: "nobody@example.com", Code: code, NewPassword: newPw}, c), CodeCodeExpired)
		// Weak password is refused before the code is spent.
		wantCode(t, s.ResetPassword(ctx, ResetInput{Email: "alice@example.com", Code: code, NewPassword: "password"}, c), apperr.CodeValidation)
		wrong := "000000"
		if wrong == code {
			wrong = "000001"
		}
		wantCode(t, s.ResetPassword(ctx, ResetInput{Email: "alice@example.com", Code: wrong, NewPassword: newPw}, c), CodeCodeInvalid)
		must(t, s.ResetPassword(ctx, ResetInput{Email: "alice@example.com", Code: code, NewPassword: newPw}, c))
		// Single use.
		wantCode(t, s.ResetPassword(ctx, ResetInput{Email: "alice@example.com", Code: code, NewPassword: newPw}, c), CodeCodeExpired)
		wantCode(t, s.ResetPassword(ctx, ResetInput{Token: linkTokenOf(t, m), NewPassword: newPw}, c), CodeCodeExpired)

		// Every session ended, the lock is gone, the notice went out.
		for _, tok := range []string{alice.Token, other.Token} {
			_, _, err := s.Authenticate(ctx, tok)
			wantCode(t, err, apperr.CodeUnauthenticated)
		}
		if rec.count(mailPasswordChanged, "alice@example.com") != 1 || !rec.hasAudit("password.reset", alice.User.ID) {
			t.Fatal("no password-changed notice or audit")
		}
		_, err = s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		wantCode(t, err, CodeInvalidCredentials)
		_, err = s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: newPw}, c)
		must(t, err)

		// Link path, and expiry after 15 minutes.
		clock.Advance(2 * time.Minute)
		_, err = s.RequestPasswordReset(ctx, ResetRequest{Email: "alice@example.com"}, c)
		must(t, err)
		m2 := rec.last(t, mailReset, "alice@example.com")
		clock.Advance(15*time.Minute + time.Second)
		wantCode(t, s.ResetPassword(ctx, ResetInput{Token: linkTokenOf(t, m2), NewPassword: "An0ther-Pass!"}, c), CodeCodeExpired)
		_, err = s.RequestPasswordReset(ctx, ResetRequest{Email: "alice@example.com"}, c)
		must(t, err)
		must(t, s.ResetPassword(ctx, ResetInput{Token: linkTokenOf(t, rec.last(t, mailReset, "alice@example.com")), NewPassword: "An0ther-Pass!"}, c))

		// Five wrong codes burn the code; codes of the wrong shape do not count.
		clock.Advance(2 * time.Minute)
		_, err = s.RequestPasswordReset(ctx, ResetRequest{Email: "alice@example.com"}, c)
		must(t, err)
		code3 := codeOf(t, rec.last(t, mailReset, "alice@example.com"))
		wrong3 := "000000"
		if wrong3 == code3 {
			wrong3 = "000001"
		}
		for i := 0; i < 5; i++ {
			wantCode(t, s.ResetPassword(ctx, ResetInput{Email: "alice@example.com", Code: "12345x", NewPassword: "Th1rd-Pass!"}, c), CodeCodeMalformed)
			s.ResetPassword(ctx, ResetInput{Email: "alice@example.com", Code: wrong3, NewPassword: "Th1rd-Pass!"}, c)
		}
		wantCode(t, s.ResetPassword(ctx, ResetInput{Email: "alice@example.com", Code: code3, NewPassword: "Th1rd-Pass!"}, c), CodeCodeAttempts)
	})
}

func TestPasswordResetBySMS(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, rec, clock := newTestService(t, d)
		c := laptop
		alice := registerVerified(t, s, rec, "alice@example.com", &c)
		// An unverified phone does not count.
		_, err := s.SetPhone(ctx, alice.Session.ID, "138 0013 8000", c)
		must(t, err)
		rec.mu.Lock()
		sent := rec.texts[len(rec.texts)-1]
		rec.mu.Unlock()
		if sent.To != "+8613800138000" {
			t.Fatalf("sms to %s", sent.To)
		}
		clock.Advance(2 * time.Minute)
		before := len(rec.texts)
		_, err = s.RequestPasswordReset(ctx, ResetRequest{Phone: "+8613800138000"}, c)
		must(t, err)
		if len(rec.texts) != before {
			t.Fatal("reset SMS sent to an unverified phone")
		}
		_, err = s.VerifyPhone(ctx, alice.User.ID, codeRE.FindString(sent.Text), c)
		must(t, err)
		_, err = s.RequestPasswordReset(ctx, ResetRequest{Phone: "13800138000"}, c)
		must(t, err)
		rec.mu.Lock()
		resetSMS := rec.texts[len(rec.texts)-1]
		rec.mu.Unlock()
		if resetSMS.Kind != mailReset {
			t.Fatalf("kind %s", resetSMS.Kind)
		}
		must(t, s.ResetPassword(ctx, ResetInput{Phone: "+8613800138000", Code: codeRE.FindString(resetSMS.Text), NewPassword: "Ph0ne-Reset!"}, c))
		_, err = s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: "Ph0ne-Reset!"}, c)
		must(t, err)
	})
}
