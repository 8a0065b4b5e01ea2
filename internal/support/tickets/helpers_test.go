package tickets

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/identity"
	"okpay/internal/notify"
	"okpay/internal/support/hours"
)

// fakeDir is an in-memory user directory: the desk only needs ids, emails, languages and
// roles, and identity has its own tests.
type fakeDir struct {
	mu    sync.Mutex
	users map[string]*identity.User
}

func (f *fakeDir) add(id, email, lang string, role identity.Role, verified bool) Actor {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.users == nil {
		f.users = map[string]*identity.User{}
	}
	f.users[id] = &identity.User{ID: id, Email: email, Lang: lang, Role: role, EmailVerified: verified}
	return Actor{UserID: id, Role: role, ClientAddr: "127.0.0.1"}
}

func (f *fakeDir) GetUser(_ context.Context, id string) (*identity.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.users[id]; u != nil {
		c := *u
		return &c, nil
	}
	return nil, apperr.New(apperr.CodeNotFound)
}

func (f *fakeDir) UserByVerifiedEmail(_ context.Context, email string) (*identity.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		if strings.EqualFold(u.Email, email) && u.EmailVerified {
			c := *u
			return &c, nil
		}
	}
	return nil, nil
}

type env struct {
	d                         *db.DB
	clock                     *dbtest.Clock
	svc                       *Service
	dir                       *fakeDir
	files                     string
	alice, bob, agent, agent2 Actor
}

// engines runs fn on SQLite and PostgreSQL with a desk on the default OKPay hours. The
// clock starts Monday 2 March 2026 09:00 UTC, 17:00 in Shanghai: inside business hours.
func engines(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, eng := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(eng), func(t *testing.T) {
			clock := dbtest.NewClock()
			d := dbtest.Open(t, eng, clock)
			fn(t, newEnv(t, d, clock))
		})
	}
}

func newEnv(t *testing.T, d *db.DB, clock *dbtest.Clock) *env {
	t.Helper()
	desk, err := hours.New(hours.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	dir := &fakeDir{}
	e := &env{d: d, clock: clock, dir: dir, files: t.TempDir()}
	e.alice = dir.add("u-alice", "alice@example.com", "zh-CN", identity.RoleCustomer, true)
	e.bob = dir.add("u-bob", "bob@example.com", "en", identity.RoleCustomer, true)
	e.agent = dir.add("u-agent", "agent@okpay.example", "en", identity.RoleAgent, true)
	e.agent2 = dir.add("u-agent2", "agent2@okpay.example", "en", identity.RoleAgent, true)
	e.svc, err = New(d, desk, dir, Config{SupportAddress: "support@okpay.example", BaseURL: "https://okpay.example",
		FilesDir: e.files, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func pngBytes(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var pdfBytes = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

func up(name string, data []byte) Upload { return Upload{Name: name, R: bytes.NewReader(data)} }

// outbox returns the mail queued for to, oldest first.
func outbox(t *testing.T, d *db.DB, to string) []notify.Mail {
	t.Helper()
	ms, err := notify.ListMail(context.Background(), d, to, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
		ms[i], ms[j] = ms[j], ms[i]
	}
	return ms
}

func wantCode(t *testing.T, err error, code string) *apperr.Error {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
	return e
}

func auditActions(t *testing.T, d *db.DB) []string {
	t.Helper()
	rows, err := d.R.Query(`SELECT action FROM audit_log ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		rows.Scan(&a)
		out = append(out, a)
	}
	return out
}
