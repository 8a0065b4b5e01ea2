package identity

import (
	"context"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
)

// TestAuthCacheInvalidation: a cached session stops working the moment this process
// signs it out, revokes it, freezes the account or changes the password, and a changed
// user shows at once — through this Service or another one in the process. A change made
// behind the package's back (another node, the admin command) shows within authCacheTTL.
func TestAuthCacheInvalidation(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _, _ := newTestService(t, d)
		c := laptop
		alice := registerVerified(t, s, nil2(s), "alice@example.com", &c)
		signIn := func() string {
			t.Helper()
			si, err := s.SignIn(ctx, SignInInput{Email: "alice@example.com", Password: goodPassword}, c)
			must(t, err)
			return si.Token
		}
		works := func(tok string) *User {
			t.Helper()
			// Twice: the second answer comes from the cache.
			for i := 0; i < 2; i++ {
				if _, u, err := s.Authenticate(ctx, tok); err != nil {
					t.Fatalf("authenticate (%d): %v", i, err)
				} else if i == 1 {
					return u
				}
			}
			return nil
		}
		ended := func(tok string) {
			t.Helper()
			_, _, err := s.Authenticate(ctx, tok)
			wantCode(t, err, apperr.CodeUnauthenticated)
		}

		// Sign-out.
		tok := signIn()
		works(tok)
		must(t, s.SignOut(ctx, tok))
		ended(tok)

		// Revoking the other sessions, and one session by id.
		a, b := signIn(), signIn()
		works(a)
		works(b)
		sa, _, err := s.Authenticate(ctx, a)
		must(t, err)
		// Registering signed in too: that session and b end.
		if n, err := s.RevokeOtherSessions(ctx, alice.User.ID, sa.ID); err != nil || n != 2 {
			t.Fatalf("revoke others: %d %v", n, err)
		}
		ended(b)
		works(a)
		must(t, s.RevokeSession(ctx, alice.User.ID, sa.ID))
		ended(a)

		// A changed user shows at once.
		tok = signIn()
		if u := works(tok); u.Lang != "en" {
			t.Fatalf("lang %q", u.Lang)
		}
		must(t, s.SetLanguage(ctx, alice.User.ID, "zh-CN"))
		if u := works(tok); u.Lang != "zh-CN" {
			t.Fatalf("lang after change %q", u.Lang)
		}

		// A change through another Service in the process (the admin commands build their
		// own) reaches this one's cache too.
		s2, _, _ := newTestService(t, d)
		works(tok)
		must(t, s2.SignOut(ctx, tok))
		ended(tok)

		// Freezing the account ends every session.
		tok = signIn()
		works(tok)
		if _, err := s.FreezeSelf(ctx, alice.User.ID, FreezeInput{Reason: "lost phone"}, c); err != nil {
			t.Fatal(err)
		}
		ended(tok)
	})
}

// TestAuthCacheOutsideChange: a revocation written by another process is seen once the
// entry is older than authCacheTTL, without any call of this package.
func TestAuthCacheOutsideChange(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _, _ := newTestService(t, d)
		c := laptop
		registerVerified(t, s, nil2(s), "bob@example.com", &c)
		si, err := s.SignIn(ctx, SignInInput{Email: "bob@example.com", Password: goodPassword}, c)
		must(t, err)
		if _, _, err := s.Authenticate(ctx, si.Token); err != nil {
			t.Fatal(err)
		}
		if _, err := d.W.ExecContext(ctx, `UPDATE sessions SET revoked_at = 1, revoke_reason = 'test' WHERE id = $1`, si.Session.ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(authCacheTTL + 50*time.Millisecond)
		_, _, err = s.Authenticate(ctx, si.Token)
		wantCode(t, err, apperr.CodeUnauthenticated)
	})
}
