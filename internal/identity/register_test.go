package identity

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
)

func TestRegisterAndVerifyEmail(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, rec, clock := newTestService(t, d)

		res, err := s.Register(ctx, RegisterInput{Email: "  Alice@Example.COM", Password: goodPassword, Lang: "zh"}, laptop)
		if err != nil {
			t.Fatal(err)
		}
		if res.User.Email != "alice@example.com" || res.User.Lang != LangZh || res.User.Role != RoleCustomer || res.User.EmailVerified {
			t.Fatalf("user %+v", res.User)
		}
		if res.Token == "" || res.Session == nil || !validDeviceCookie(res.DeviceCookie) || res.NewDevice {
			t.Fatalf("registration should sign in on a first device: %+v", res.SignIn)
		}
		// Duplicate, in another spelling.
		_, err = s.Register(ctx, RegisterInput{Email: "ALICE@example.com", Password: goodPassword, Lang: "en"}, laptop)
		wantCode(t, err, CodeEmailTaken)
		// All field errors at once.
		_, err = s.Register(ctx, RegisterInput{Email: "nope", Phone: "12", Password: "short", Lang: "fr"}, laptop)
		if e := wantCode(t, err, apperr.CodeValidation); len(e.Fields) != 4 {
			t.Fatalf("fields %+v", e.Fields)
		}

		m := rec.last(t, mailVerifyEmail, "alice@example.com")
		if m.Lang != LangZh || !strings.Contains(m.Subject, "验证码") || !strings.Contains(m.HTML, "<html") {
			t.Fatalf("mail not in the user's language: %+v", m.Subject)
		}
		code := codeOf(t, m)

		// Money cannot move before verification.
		err = d.Read(ctx, func(tx *db.Tx) error { return s.CanSend(ctx, tx, res.User.ID) })
		wantCode(t, err, CodeEmailNotVerified)

		wrong := "000000"
		if wrong == code {
			wrong = "111111"
		}
		_, err = s.VerifyEmail(ctx, res.User.ID, wrong, laptop)
		if e := wantCode(t, err, CodeCodeInvalid); e.Params["remaining"] != "4" {
			t.Fatalf("remaining %v", e.Params)
		}
		u, err := s.VerifyEmail(ctx, res.User.ID, code[:3]+" "+code[3:], laptop)
		if err != nil || !u.EmailVerified {
			t.Fatalf("verify: %v %+v", err, u)
		}
		_, err = s.VerifyEmail(ctx, res.User.ID, code, laptop)
		wantCode(t, err, CodeEmailAlreadyVerified)
		must(t, d.Read(ctx, func(tx *db.Tx) error { return s.CanSend(ctx, tx, res.User.ID) }))
		if !rec.hasAudit("user.verify_email", res.User.ID) {
			t.Fatal("verification not audited")
		}

		// Second user: cooldown, supersede, attempts, link, expiry.
		bob := register(t, s, "bob@example.com", phone)
		first := codeOf(t, rec.last(t, mailVerifyEmail, "bob@example.com"))
		_, err = s.ResendVerification(ctx, bob.User.ID, phone)
		e := wantCode(t, err, CodeResendCooldown)
		if ra, _ := strconv.Atoi(e.Params["retry_after"]); ra < 1 || ra > 60 || e.Params["next_at"] == "" {
			t.Fatalf("cooldown params %v", e.Params)
		}
		clock.Advance(61 * time.Second)
		rs, err := s.ResendVerification(ctx, bob.User.ID, phone)
		if err != nil || rs.SentTo != "bob@example.com" || !rs.NextAt.Equal(clock.Now().Add(60*time.Second)) {
			t.Fatalf("resend %+v %v", rs, err)
		}
		second := rec.last(t, mailVerifyEmail, "bob@example.com")
		if first != codeOf(t, second) {
			_, err = s.VerifyEmail(ctx, bob.User.ID, first, phone)
			wantCode(t, err, CodeCodeInvalid) // the older code was retired by the resend
		}
		wrongBob := "999999"
		if wrongBob == codeOf(t, second) {
			wrongBob = "999998"
		}
		for i := 0; i < 4; i++ {
			s.VerifyEmail(ctx, bob.User.ID, wrongBob, phone)
		}
		_, err = s.VerifyEmail(ctx, bob.User.ID, codeOf(t, second), phone)
		wantCode(t, err, CodeCodeAttempts)
		// Typed tries do not burn the link: its 192 random bits cannot be guessed, and the
		// person who owns the mailbox should not be punished for someone else's guesses.
		if _, err := s.VerifyEmailLink(ctx, linkTokenOf(t, second), phone); err != nil {
			t.Fatalf("link after typed attempts: %v", err)
		}

		carol := register(t, s, "carol@example.com", phone)
		cm := rec.last(t, mailVerifyEmail, "carol@example.com")
		clock.Advance(24*time.Hour + time.Second)
		_, err = s.VerifyEmail(ctx, carol.User.ID, codeOf(t, cm), phone)
		wantCode(t, err, CodeCodeExpired)
		_, err = s.VerifyEmailLink(ctx, linkTokenOf(t, cm), phone)
		wantCode(t, err, CodeCodeExpired)
		_, err = s.ResendVerification(ctx, carol.User.ID, phone)
		must(t, err)
		cu, err := s.VerifyEmailLink(ctx, linkTokenOf(t, rec.last(t, mailVerifyEmail, "carol@example.com")), Client{})
		if err != nil || !cu.EmailVerified {
			t.Fatalf("link verify: %v", err)
		}
		_, err = s.VerifyEmailLink(ctx, linkTokenOf(t, rec.last(t, mailVerifyEmail, "carol@example.com")), Client{})
		wantCode(t, err, CodeCodeExpired) // single use
	})
}

func TestVerificationDailyCap(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _, clock := newTestService(t, d, func(c *Config) { c.DailyCodeCap = 3 })
		u := register(t, s, "dan@example.com", laptop)
		for i := 0; i < 2; i++ {
			clock.Advance(61 * time.Second)
			if _, err := s.ResendVerification(ctx, u.User.ID, laptop); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(61 * time.Second)
		_, err := s.ResendVerification(ctx, u.User.ID, laptop)
		e := wantCode(t, err, CodeDailyCap)
		next, perr := time.Parse(time.RFC3339, e.Params["next_at"])
		if perr != nil || next.Before(clock.Now()) {
			t.Fatalf("next_at %v", e.Params)
		}
		clock.Set(next.Add(time.Second))
		if _, err := s.ResendVerification(ctx, u.User.ID, laptop); err != nil {
			t.Fatalf("after the day: %v", err)
		}
	})
}
