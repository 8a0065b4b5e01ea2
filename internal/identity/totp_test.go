package identity

import (
	"context"
	"strings"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
)

func TestTwoStepEnrolSignInStepUpDisable(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, rec, clock := newTestService(t, d)
		c := laptop
		alice := registerVerified(t, s, rec, "alice@example.com", &c)
		sid := alice.Session.ID

		// Step-up required once the sign-in is older than 5 minutes, then satisfied by the
		// password (2-step is still off).
		clock.Advance(6 * time.Minute)
		_, err := s.BeginTOTP(ctx, sid)
		wantCode(t, err, CodeStepUpRequired)
		err = d.Read(ctx, func(tx *db.Tx) error { _, err := s.RequireStepUp(ctx, tx, sid); return err })
		wantCode(t, err, CodeStepUpRequired)
		_, err = s.StepUp(ctx, sid, StepUpInput{Password: "Wrong-pass1"}, c)
		wantCode(t, err, CodePasswordIncorrect)
		su, err := s.StepUp(ctx, sid, StepUpInput{Password: goodPassword}, c)
		if err != nil || !su.ValidUntil.Equal(clock.Now().Add(5*time.Minute)) {
			t.Fatalf("step up %+v %v", su, err)
		}
		must(t, d.Read(ctx, func(tx *db.Tx) error { _, err := s.RequireStepUp(ctx, tx, sid); return err }))

		en, err := s.BeginTOTP(ctx, sid)
		must(t, err)
		if !strings.HasPrefix(en.URI, "otpauth://totp/OKPay:alice@example.com?") || !strings.Contains(en.URI, "secret="+en.Secret) ||
			!strings.HasPrefix(en.QRSVG, "<svg") || len(en.Secret) != 32 {
			t.Fatalf("enrolment %+v", en.URI)
		}
		// The secret is not stored in clear.
		var stored string
		must(t, d.Read(ctx, func(tx *db.Tx) error {
			return tx.QueryRowContext(ctx, `SELECT totp_pending FROM users WHERE id = $1`, alice.User.ID).Scan(&stored)
		}))
		if stored == "" || strings.Contains(stored, en.Secret) {
			t.Fatal("pending secret stored in clear")
		}
		_, err = s.ConfirmTOTP(ctx, sid, "000000x", c)
		wantCode(t, err, CodeTOTPInvalid)
		code := totpNow(t, en.Secret, clock.Now())
		rc, err := s.ConfirmTOTP(ctx, sid, code, c)
		if err != nil || len(rc.Codes) != 10 {
			t.Fatalf("confirm %v %v", rc, err)
		}
		if n, _ := s.RecoveryCodesLeft(ctx, alice.User.ID); n != 10 {
			t.Fatalf("recovery codes left %d", n)
		}
		must(t, s.SignOut(ctx, alice.Token))

		// Sign-in now asks for the second step.
		si, err := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		if err != nil || !si.SecondStep || si.Token != "" || si.PendingToken == "" {
			t.Fatalf("want second step: %+v %v", si, err)
		}
		// The code used to confirm is spent: replay within its window is refused.
		_, err = s.SignInSecondStep(ctx, si.PendingToken, code, c)
		wantCode(t, err, CodeTOTPInvalid)
		clock.Advance(30 * time.Second)
		next := totpNow(t, en.Secret, clock.Now())
		done, err := s.SignInSecondStep(ctx, si.PendingToken, next, c)
		if err != nil || done.Token == "" || done.SecondStep {
			t.Fatalf("second step: %+v %v", done, err)
		}
		_, err = s.SignInSecondStep(ctx, si.PendingToken, next, c)
		wantCode(t, err, CodeSigninExpired) // pending token is single use

		// The pending token expires.
		si2, err := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		must(t, err)
		clock.Advance(6 * time.Minute)
		_, err = s.SignInSecondStep(ctx, si2.PendingToken, totpNow(t, en.Secret, clock.Now()), c)
		wantCode(t, err, CodeSigninExpired)

		// A recovery code works once.
		si3, err := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		must(t, err)
		done3, err := s.SignInSecondStep(ctx, si3.PendingToken, strings.ToUpper(rc.Codes[0]), c)
		must(t, err)
		si4, _ := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		_, err = s.SignInSecondStep(ctx, si4.PendingToken, rc.Codes[0], c)
		wantCode(t, err, CodeTOTPInvalid)
		if n, _ := s.RecoveryCodesLeft(ctx, alice.User.ID); n != 9 {
			t.Fatalf("recovery codes left %d", n)
		}

		// Step-up with 2-step on needs the code, not the password.
		sid = done3.Session.ID
		clock.Advance(6 * time.Minute)
		_, err = s.RegenerateRecoveryCodes(ctx, sid)
		wantCode(t, err, CodeStepUpRequired)
		_, err = s.StepUp(ctx, sid, StepUpInput{Password: goodPassword}, c)
		wantCode(t, err, CodeTOTPInvalid)
		_, err = s.StepUp(ctx, sid, StepUpInput{Code: totpNow(t, en.Secret, clock.Now())}, c)
		must(t, err)
		rc2, err := s.RegenerateRecoveryCodes(ctx, sid)
		if err != nil || len(rc2.Codes) != 10 {
			t.Fatal(err)
		}

		// Disabling needs password + code, and sends a notice.
		clock.Advance(30 * time.Second)
		err = s.DisableTOTP(ctx, sid, "Wrong-pass1", totpNow(t, en.Secret, clock.Now()), c)
		wantCode(t, err, CodePasswordIncorrect)
		err = s.DisableTOTP(ctx, sid, goodPassword, "123", c)
		wantCode(t, err, CodeTOTPInvalid)
		must(t, s.DisableTOTP(ctx, sid, goodPassword, rc2.Codes[3], c))
		m := rec.last(t, mailTwoStepDisabled, "alice@example.com")
		if !strings.Contains(m.Text, "/freeze?token=") || !rec.hasAudit("two_step.disable", alice.User.ID) {
			t.Fatalf("disable notice:\n%s", m.Text)
		}
		si5, err := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		if err != nil || si5.SecondStep {
			t.Fatalf("2-step still asked: %+v %v", si5, err)
		}
	})
}

// Wrong second-step codes count towards the lockout: a stolen password does not give
// unlimited guesses at six digits.
func TestSecondStepGuessesLock(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, rec, clock := newTestService(t, d)
		c := laptop
		alice := registerVerified(t, s, rec, "alice@example.com", &c)
		en, err := s.BeginTOTP(ctx, alice.Session.ID)
		must(t, err)
		_, err = s.ConfirmTOTP(ctx, alice.Session.ID, totpNow(t, en.Secret, clock.Now()), c)
		must(t, err)
		var last error
		for i := 0; i < 5; i++ {
			si, err := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
			if err != nil {
				last = err
				break
			}
			_, last = s.SignInSecondStep(ctx, si.PendingToken, "000000", c)
		}
		wantCode(t, last, CodeAccountLocked)
		_, err = s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		wantCode(t, err, CodeAccountLocked)
		// Operator reset of 2-step (lost phone), audited and mailed.
		wantCode(t, s.AdminResetTwoStep(ctx, "alice@example.com", ""), apperr.CodeValidation)
		must(t, s.AdminResetTwoStep(ctx, "alice@example.com", "ticket 42: ID checked"))
		u, _ := s.GetUser(ctx, alice.User.ID)
		if u.TwoStep {
			t.Fatal("2-step still on")
		}
	})
}
