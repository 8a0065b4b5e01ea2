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

func TestSignInSessionsAndIsolation(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _, clock := newTestService(t, d)
		c := laptop
		alice := registerVerified(t, s, nil2(s), "alice@example.com", &c)
		_ = alice

		si1, err := s.SignIn(ctx, SignInInput{Email: "ALICE@example.com", Password: goodPassword}, c)
		must(t, err)
		si2, err := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		must(t, err)
		if si1.Token == si2.Token || si1.Session.ID == si2.Session.ID || len(si1.Token) < 22 {
			t.Fatal("each sign-in must issue a new random token")
		}
		if si1.DeviceCookie != c.DeviceCookie || si1.NewDevice || si1.NewPlace {
			t.Fatalf("known device reported as new: %+v", si1)
		}
		sess, u, err := s.Authenticate(ctx, si1.Token)
		if err != nil || u.Email != "alice@example.com" || sess.ID != si1.Session.ID || sess.DeviceName != "Chrome on Windows" || sess.Place != "203.0.0.0/16" {
			t.Fatalf("authenticate: %+v %+v %v", sess, u, err)
		}
		_, _, err = s.Authenticate(ctx, si1.Token+"x")
		wantCode(t, err, apperr.CodeUnauthenticated)

		// Wrong password and unknown email look the same.
		_, err = s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: "Wrong-pass1"}, c)
		wantCode(t, err, CodeInvalidCredentials)
		_, err = s.SignIn(ctx, SignInInput{Email: "nobody@example.com", Password: "Wrong-pass1"}, c)
		wantCode(t, err, CodeInvalidCredentials)

		// Idle timeout: activity every 20 minutes keeps a session, 31 idle minutes end it.
		clock.Advance(20 * time.Minute)
		if _, _, err := s.Authenticate(ctx, si1.Token); err != nil {
			t.Fatalf("within idle: %v", err)
		}
		clock.Advance(31 * time.Minute)
		_, _, err = s.Authenticate(ctx, si2.Token)
		wantCode(t, err, apperr.CodeUnauthenticated)
		_, _, err = s.Authenticate(ctx, si1.Token)
		wantCode(t, err, apperr.CodeUnauthenticated)

		// Absolute timeout: busy for 12 hours still ends.
		si3, err := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		must(t, err)
		for i := 0; i < 12*3-1; i++ {
			clock.Advance(20 * time.Minute)
			if _, _, err := s.Authenticate(ctx, si3.Token); err != nil {
				t.Fatalf("busy session ended early after %d steps: %v", i, err)
			}
		}
		clock.Advance(21 * time.Minute)
		_, _, err = s.Authenticate(ctx, si3.Token)
		wantCode(t, err, apperr.CodeUnauthenticated)

		// List, revoke one, revoke others, sign out.
		a1, _ := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		pc := phone
		a2, err := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, pc)
		must(t, err)
		a3, _ := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		list, err := s.ListSessions(ctx, a1.Session.UserID, a1.Session.ID)
		if err != nil || len(list) != 3 {
			t.Fatalf("sessions %d %v", len(list), err)
		}
		cur := 0
		for _, x := range list {
			if x.Current {
				cur++
			}
		}
		if cur != 1 {
			t.Fatal("exactly one current session")
		}
		devs, err := s.ListDevices(ctx, a1.Session.UserID, a1.Session.DeviceID)
		if err != nil || len(devs) != 2 || devs[0].Name != "Chrome on Windows" && devs[1].Name != "Chrome on Windows" {
			t.Fatalf("devices %+v %v", devs, err)
		}

		bc := Client{IP: "192.168.1.4", UserAgent: "curl/8.0"}
		bob := registerVerified(t, s, nil2(s), "bob@example.com", &bc)
		// Bob cannot see or touch Alice's sessions: not_found like an unknown id.
		wantCode(t, s.RevokeSession(ctx, bob.User.ID, a2.Session.ID), apperr.CodeNotFound)
		if bl, _ := s.ListSessions(ctx, bob.User.ID, ""); len(bl) != 1 {
			t.Fatalf("bob sees %d sessions", len(bl))
		}
		if _, _, err := s.Authenticate(ctx, a2.Token); err != nil {
			t.Fatal("bob's attempt must not end alice's session")
		}
		must(t, s.RevokeSession(ctx, a1.Session.UserID, a2.Session.ID))
		_, _, err = s.Authenticate(ctx, a2.Token)
		wantCode(t, err, apperr.CodeUnauthenticated)
		wantCode(t, s.RevokeSession(ctx, a1.Session.UserID, a2.Session.ID), apperr.CodeNotFound)
		n, err := s.RevokeOtherSessions(ctx, a1.Session.UserID, a1.Session.ID)
		if err != nil || n != 1 {
			t.Fatalf("revoke others %d %v", n, err)
		}
		_, _, err = s.Authenticate(ctx, a3.Token)
		wantCode(t, err, apperr.CodeUnauthenticated)
		must(t, s.SignOut(ctx, a1.Token))
		must(t, s.SignOut(ctx, a1.Token))
		_, _, err = s.Authenticate(ctx, a1.Token)
		wantCode(t, err, apperr.CodeUnauthenticated)
		if _, _, err := s.Authenticate(ctx, bob.Token); err != nil {
			t.Fatalf("bob's session ended by alice: %v", err)
		}
	})
}

// nil2 returns the service's recorder (tests that build their own service keep it).
func nil2(s *Service) *recorder { return s.fx.(*recorder) }

func TestNewDeviceAndPlaceAlert(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, rec, _ := newTestService(t, d)
		c := laptop
		registerVerified(t, s, rec, "alice@example.com", &c)
		if rec.count(mailNewSignin, "alice@example.com") != 0 {
			t.Fatal("first device must not alert")
		}
		// Same device, same /16: no alert.
		c2 := c
		c2.IP = "203.0.55.1"
		si, err := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c2)
		must(t, err)
		if si.NewDevice || si.NewPlace || rec.count(mailNewSignin, "alice@example.com") != 0 {
			t.Fatalf("no alert expected: %+v", si)
		}
		// New place on the known device.
		c3 := c
		c3.IP = "198.18.0.9"
		si, err = s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c3)
		must(t, err)
		if si.NewDevice || !si.NewPlace || rec.count(mailNewSignin, "alice@example.com") != 1 {
			t.Fatalf("new place: %+v", si)
		}
		// New device (no cookie) from a known place.
		si, err = s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, Client{IP: laptop.IP, UserAgent: phone.UserAgent})
		must(t, err)
		if !si.NewDevice || si.DeviceCookie == c.DeviceCookie || rec.count(mailNewSignin, "alice@example.com") != 2 {
			t.Fatalf("new device: %+v", si)
		}
		m := rec.last(t, mailNewSignin, "alice@example.com")
		if !containsAll(m.Text, "Safari on iPhone", "203.0.0.0/16", "/freeze?token=") {
			t.Fatalf("alert text:\n%s", m.Text)
		}

		// "This wasn't me": the link freezes without a sign-in, ends sessions, and works once.
		tok := linkTokenOf(t, m)
		must(t, s.FreezeByLink(ctx, tok, Client{IP: "203.0.113.99"}))
		_, _, err = s.Authenticate(ctx, si.Token)
		wantCode(t, err, apperr.CodeUnauthenticated)
		err = d.Read(ctx, func(tx *db.Tx) error { return s.CanSend(ctx, tx, si.Session.UserID) })
		wantCode(t, err, CodeAccountFrozen)
		wantCode(t, s.FreezeByLink(ctx, tok, Client{}), CodeCodeExpired)
		if rec.count(mailFrozen, "alice@example.com") != 1 || !rec.hasAudit("account.freeze", si.Session.UserID) {
			t.Fatal("freeze not mailed or audited")
		}
	})
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func TestLockoutAndAgentUnlock(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, rec, clock := newTestService(t, d)
		c := laptop
		alice := registerVerified(t, s, rec, "alice@example.com", &c)
		attacker := Client{IP: "198.51.100.66", UserAgent: "curl/8.0"}
		bad := SignInInput{Email: "alice@example.com", Password: "Guess-1234"}

		// Failures spread over more than the window do not lock.
		for i := 0; i < 4; i++ {
			_, err := s.SignIn(ctx, bad, attacker)
			wantCode(t, err, CodeInvalidCredentials)
		}
		clock.Advance(16 * time.Minute)
		_, err := s.SignIn(ctx, bad, attacker)
		wantCode(t, err, CodeInvalidCredentials)
		for i := 0; i < 3; i++ {
			_, err := s.SignIn(ctx, bad, attacker)
			wantCode(t, err, CodeInvalidCredentials)
		}
		_, err = s.SignIn(ctx, bad, attacker)
		e := wantCode(t, err, CodeAccountLocked)
		until, perr := time.Parse(time.RFC3339, e.Params["until"])
		if perr != nil || !until.Equal(clock.Now().Add(15*time.Minute).Truncate(time.Second)) {
			t.Fatalf("until %v (now %v)", e.Params, clock.Now())
		}
		m := rec.last(t, mailLockout, "alice@example.com")
		if !containsAll(m.Text, "/reset-password?token=", "198.51.100.66") {
			t.Fatalf("lockout mail:\n%s", m.Text)
		}
		// Even the right password is refused while locked.
		_, err = s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		wantCode(t, err, CodeAccountLocked)
		st, err := s.AccountStatus(ctx, alice.User.ID)
		must(t, err)
		if len(st.Items) != 1 || st.Items[0].Kind != StatusLocked || st.Items[0].Actions[0] != ActionWaitUntil {
			t.Fatalf("status %+v", st.Items)
		}
		// The lock expires by itself.
		clock.Advance(15*time.Minute + time.Second)
		_, err = s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		must(t, err)

		// Lock again, then an agent unlocks with a reason.
		for i := 0; i < 5; i++ {
			s.SignIn(ctx, bad, attacker)
		}
		_, err = s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		wantCode(t, err, CodeAccountLocked)
		bc := phone
		bob := registerVerified(t, s, rec, "bob@example.com", &bc)
		wantCode(t, s.AgentUnlock(ctx, bob.User.ID, alice.User.ID, "please", bc), apperr.CodeForbidden)
		agent := makeStaff(t, s, "agent@okpay.test", RoleAgent)
		wantCode(t, s.AgentUnlock(ctx, agent.ID, alice.User.ID, "", bc), apperr.CodeValidation)
		must(t, s.AgentUnlock(ctx, agent.ID, alice.User.ID, "caller verified by ID and last payment", bc))
		if !rec.hasAudit("user.unlock", alice.User.ID) || !rec.hasAudit("user.lock", alice.User.ID) {
			t.Fatal("lock/unlock not audited")
		}
		_, err = s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
		must(t, err)
	})
}

func TestRateLimitPerAddress(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _, clock := newTestService(t, d, func(c *Config) {
			c.RateLimits = testLimits
			c.RateLimits.SignIn = Rate{Burst: 3, Every: 10 * time.Second}
		})
		in := SignInInput{Email: "x@example.com", Password: "Whatever-1"}
		for i := 0; i < 3; i++ {
			_, err := s.SignIn(ctx, in, laptop)
			wantCode(t, err, CodeInvalidCredentials)
		}
		_, err := s.SignIn(ctx, in, laptop)
		e := wantCode(t, err, apperr.CodeRateLimited)
		if ra, _ := strconv.Atoi(e.Params["retry_after"]); ra < 1 || ra > 10 {
			t.Fatalf("retry_after %v", e.Params)
		}
		// Another address is not affected.
		_, err = s.SignIn(ctx, in, phone)
		wantCode(t, err, CodeInvalidCredentials)
		clock.Advance(10 * time.Second)
		_, err = s.SignIn(ctx, in, laptop)
		wantCode(t, err, CodeInvalidCredentials)
	})
}
