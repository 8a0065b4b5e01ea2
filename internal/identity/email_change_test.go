package identity

import (
	"context"
	"strings"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/notify"
)

func TestEmailChange(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, rec, clock := newTestService(t, d)
		c := laptop
		alice := registerVerified(t, s, rec, "alice@example.com", &c)
		registerVerified(t, s, rec, "bob@example.com", &Client{IP: phone.IP, UserAgent: phone.UserAgent})
		other, err := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, phone)
		must(t, err)
		sid := alice.Session.ID

		// Step-up required once the sign-in's proof is older than the window.
		clock.Advance(6 * time.Minute)
		_, err = s.RequestEmailChange(ctx, sid, "alice.new@example.com", c)
		wantCode(t, err, CodeStepUpRequired)
		_, err = s.StepUp(ctx, sid, StepUpInput{Password: goodPassword}, c)
		must(t, err)

		// Validation, same address, taken address.
		_, err = s.RequestEmailChange(ctx, sid, "not-an-address", c)
		if e := wantCode(t, err, apperr.CodeValidation); len(e.Fields) != 1 || e.Fields[0].Code != FieldEmailInvalid {
			t.Fatalf("fields: %+v", e.Fields)
		}
		_, err = s.RequestEmailChange(ctx, sid, " Alice@Example.com ", c)
		wantCode(t, err, CodeEmailUnchanged)
		_, err = s.RequestEmailChange(ctx, sid, "BOB@example.com", c)
		wantCode(t, err, CodeEmailTaken)

		// The code goes to the new address only.
		res, err := s.RequestEmailChange(ctx, sid, "Alice.New@Example.com", c)
		must(t, err)
		if d := res.ExpiresAt.Sub(clock.Now()); res.SentTo != "alice.new@example.com" || d < time.Hour-time.Second || d > time.Hour {
			t.Fatalf("result: %+v", res)
		}
		if rec.count(mailEmailChange, "alice@example.com") != 0 {
			t.Fatal("code mailed to the old address")
		}
		m := rec.last(t, mailEmailChange, "alice.new@example.com")
		code := codeOf(t, m)
		// Resend inside the cooldown is refused.
		_, err = s.RequestEmailChange(ctx, sid, "alice.new@example.com", c)
		wantCode(t, err, CodeResendCooldown)

		// Wrong codes count; after 5 the code is dead even when right.
		wrong := "000000"
		if wrong == code {
			wrong = "000001"
		}
		for i := 1; i <= 4; i++ {
			_, err = s.ConfirmEmailChange(ctx, sid, wrong, c)
			if e := wantCode(t, err, CodeCodeInvalid); e.Params["remaining"] != string(rune('5'-i)) {
				t.Fatalf("remaining after %d: %v", i, e.Params)
			}
		}
		_, err = s.ConfirmEmailChange(ctx, sid, wrong, c)
		wantCode(t, err, CodeCodeAttempts)
		_, err = s.ConfirmEmailChange(ctx, sid, code, c)
		wantCode(t, err, CodeCodeAttempts)

		// A new code expires after an hour (the step-up is still needed to ask for it).
		clock.Advance(2 * time.Minute)
		_, err = s.RequestEmailChange(ctx, sid, "alice.new@example.com", c)
		must(t, err)
		code = codeOf(t, rec.last(t, mailEmailChange, "alice.new@example.com"))
		clock.Advance(time.Hour + time.Second)
		// The idle timeout ended the sessions meanwhile: sign in again (which also counts
		// as a step-up), and a second device too.
		again, err := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		must(t, err)
		sid, alice.Token = again.Session.ID, again.Token
		other, err = s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, phone)
		must(t, err)
		_, err = s.ConfirmEmailChange(ctx, sid, code, c)
		wantCode(t, err, CodeCodeExpired)

		// Success: ask again, confirm.
		_, err = s.RequestEmailChange(ctx, sid, "alice.new@example.com", c)
		must(t, err)
		code = codeOf(t, rec.last(t, mailEmailChange, "alice.new@example.com"))
		// Nobody else's session can use Alice's code.
		bobIn, err := s.SignIn(ctx, SignInInput{Email: "bob@example.com", Password: goodPassword}, phone)
		must(t, err)
		_, err = s.ConfirmEmailChange(ctx, bobIn.Session.ID, code, phone)
		wantCode(t, err, CodeCodeExpired)

		u, err := s.ConfirmEmailChange(ctx, sid, " "+code[:3]+" "+code[3:], c)
		must(t, err)
		if u.Email != "alice.new@example.com" || !u.EmailVerified {
			t.Fatalf("user after change: %+v", u)
		}
		// Single use.
		_, err = s.ConfirmEmailChange(ctx, sid, code, c)
		wantCode(t, err, CodeCodeExpired)

		// This session stays, the other one ended.
		if _, _, err := s.Authenticate(ctx, alice.Token); err != nil {
			t.Fatalf("own session ended: %v", err)
		}
		_, _, err = s.Authenticate(ctx, other.Token)
		wantCode(t, err, apperr.CodeUnauthenticated)

		// Sign-in works with the new address, not the old.
		_, err = s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		wantCode(t, err, CodeInvalidCredentials)
		_, err = s.SignIn(ctx, SignInInput{Email: "alice.new@example.com", Password: goodPassword}, c)
		must(t, err)

		// The old address got the notice, masked, with a working freeze link.
		n := rec.last(t, mailEmailChanged, "alice@example.com")
		if !strings.Contains(n.Text, "a***@example.com") || strings.Contains(n.Text, "alice.new@") || strings.Contains(n.HTML, "alice.new@") {
			t.Fatalf("notice does not mask the new address:\n%s", n.Text)
		}
		if !rec.hasAudit("user.email_change", alice.User.ID) || !rec.hasAudit("user.email_change_request", alice.User.ID) {
			t.Fatal("no audit")
		}
		for _, a := range rec.audits {
			for _, v := range a.Details {
				if strings.Contains(v, "alice.new@") || strings.Contains(v, "alice@") || strings.Contains(v, code) {
					t.Fatalf("audit %s leaks %q", a.Action, v)
				}
			}
		}
		// In the inbox, in the reader's language.
		page, err := notify.NewInbox(d, nil).List(ctx, alice.User.ID, "zh-CN", "", 20)
		must(t, err)
		found := false
		for _, it := range page.Items {
			found = found || it.Title == "您的邮箱地址已更换"
		}
		if !found {
			t.Fatalf("email change not in inbox: %+v", page.Items)
		}
		// The old address can no longer be taken back by an old reset or verify code, and
		// the freeze link from the notice freezes the account.
		must(t, s.FreezeByLink(ctx, linkTokenOf(t, n), Client{IP: "192.0.2.1"}))
		_, _, err = s.Authenticate(ctx, alice.Token)
		wantCode(t, err, apperr.CodeUnauthenticated)

		// The old address is free again for someone else.
		register(t, s, "alice@example.com", phone)
	})
}

func TestEmailChangeMailTemplates(t *testing.T) {
	data := map[string]any{"Code": "123456", "Expires": "soon", "Attempts": 5, "NewEmail": "a***@example.com", "When": "now",
		"IP": "203.0.113.7", "Place": "203.0.0.0/16", "FreezeLink": "https://x/f?token=def"}
	for _, k := range []string{mailEmailChange, mailEmailChanged} {
		for _, l := range mailLangs {
			subj, text, html, err := renderMail(k, l, data)
			if err != nil {
				t.Fatalf("%s/%s: %v", k, l, err)
			}
			for _, part := range []string{subj, text, html} {
				if part == "" || strings.Contains(part, "<no value>") {
					t.Errorf("%s/%s: empty or missing value in %q", k, l, part)
				}
			}
			if !strings.Contains(text, "OKPay") {
				t.Errorf("%s/%s: text lacks brand", k, l)
			}
		}
	}
	if got := MaskEmail("alice@example.com"); got != "a***@example.com" {
		t.Fatal(got)
	}
}
