package identity

import (
	"context"
	"crypto/sha1"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
)

// recorder wraps the real effects (outbox + audit chain) and remembers what was sent, so
// tests can read codes out of the mails like a person would.
type recorder struct {
	inner  effects
	mu     sync.Mutex
	mails  []mail
	texts  []sms
	audits []auditEntry
}

func (r *recorder) email(ctx context.Context, tx *db.Tx, m mail) error {
	if err := r.inner.email(ctx, tx, m); err != nil {
		return err
	}
	r.mu.Lock()
	r.mails = append(r.mails, m)
	r.mu.Unlock()
	return nil
}

func (r *recorder) sms(ctx context.Context, tx *db.Tx, m sms) error {
	if err := r.inner.sms(ctx, tx, m); err != nil {
		return err
	}
	r.mu.Lock()
	r.texts = append(r.texts, m)
	r.mu.Unlock()
	return nil
}

func (r *recorder) audit(ctx context.Context, tx *db.Tx, e auditEntry) error {
	if err := r.inner.audit(ctx, tx, e); err != nil {
		return err
	}
	r.mu.Lock()
	r.audits = append(r.audits, e)
	r.mu.Unlock()
	return nil
}

// last returns the newest mail of kind to addr, failing the test when there is none.
func (r *recorder) last(t *testing.T, kind, to string) mail {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.mails) - 1; i >= 0; i-- {
		if m := r.mails[i]; m.Kind == kind && m.To == to {
			return m
		}
	}
	t.Fatalf("no %s mail to %s", kind, to)
	return mail{}
}

func (r *recorder) count(kind, to string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.mails {
		if m.Kind == kind && m.To == to {
			n++
		}
	}
	return n
}

func (r *recorder) hasAudit(action, subject string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.audits {
		if a.Action == action && a.Subject == subject {
			return true
		}
	}
	return false
}

var (
	codeRE  = regexp.MustCompile(`\b(\d{6})\b`)
	tokenRE = regexp.MustCompile(`token=([A-Za-z0-9_-]+)`)
)

func codeOf(t *testing.T, m mail) string {
	t.Helper()
	c := codeRE.FindStringSubmatch(m.Text)
	if c == nil {
		t.Fatalf("no code in %s mail:\n%s", m.Kind, m.Text)
	}
	return c[1]
}

func linkTokenOf(t *testing.T, m mail) string {
	t.Helper()
	c := tokenRE.FindStringSubmatch(m.Text)
	if c == nil {
		t.Fatalf("no link in %s mail:\n%s", m.Kind, m.Text)
	}
	return c[1]
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

// generous limits so only the rate-limit test meets them.
var testLimits = RateLimits{SignIn: Rate{Burst: 1000, Every: time.Millisecond}, Code: Rate{Burst: 1000, Every: time.Millisecond},
	Register: Rate{Burst: 1000, Every: time.Millisecond}, Reset: Rate{Burst: 1000, Every: time.Millisecond}}

func newTestService(t *testing.T, d *db.DB, mod ...func(*Config)) (*Service, *recorder, *dbtest.Clock) {
	t.Helper()
	cfg := Config{SecretKey: testKey, Argon2: TestArgon2, BaseURL: "https://pay.example.test", RateLimits: testLimits}
	for _, m := range mod {
		m(&cfg)
	}
	s, err := New(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{inner: s.fx}
	s.fx = rec
	return s, rec, d.Clock.(*dbtest.Clock)
}

const goodPassword = "Tr0ub4dor&3-horse"

var (
	laptop = Client{IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"}
	phone  = Client{IP: "198.51.100.20", UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"}
)

func register(t *testing.T, s *Service, email string, c Client) *RegisterResult {
	t.Helper()
	res, err := s.Register(context.Background(), RegisterInput{Email: email, Password: goodPassword, Lang: "en"}, c)
	if err != nil {
		t.Fatalf("register %s: %v", email, err)
	}
	return res
}

// registerVerified registers and verifies; c.DeviceCookie is updated to the device cookie.
func registerVerified(t *testing.T, s *Service, rec *recorder, email string, c *Client) *RegisterResult {
	t.Helper()
	res := register(t, s, email, *c)
	c.DeviceCookie = res.DeviceCookie
	if _, err := s.VerifyEmail(context.Background(), res.User.ID, codeOf(t, rec.last(t, mailVerifyEmail, email)), *c); err != nil {
		t.Fatalf("verify %s: %v", email, err)
	}
	return res
}

func wantCode(t *testing.T, err error, code string) *apperr.Error {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != code {
		t.Fatalf("want %s, got %v", code, err)
	}
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// totpNow is the code an authenticator app shows at the clock's time.
func totpNow(t *testing.T, secretB32 string, now time.Time) string {
	t.Helper()
	secret, err := b32.DecodeString(strings.ToUpper(secretB32))
	if err != nil {
		t.Fatal(err)
	}
	return hotp(secret, uint64(totpStep(now)), 6, sha1.New)
}

// makeStaff creates an account with a role directly, as the CLI would.
func makeStaff(t *testing.T, s *Service, email string, role Role) *User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), CreateUserInput{Email: email, Password: goodPassword, Role: role, Verified: true})
	if err != nil {
		t.Fatal(err)
	}
	return u
}
