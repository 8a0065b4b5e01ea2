package wallet

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/identity"
	"okpay/internal/ledger"
	"okpay/internal/rail"
)

type env struct {
	t     *testing.T
	ctx   context.Context
	d     *db.DB
	clock *dbtest.Clock
	l     *ledger.Ledger
	id    *identity.Service
	w     *Service
	rail  *rail.Sandbox
	n     atomic.Int64
}

// engines runs fn on SQLite and PostgreSQL with a fresh wallet each.
func engines(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, eng := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(eng), func(t *testing.T) {
			fn(t, newEnv(t, eng, nil))
		})
	}
}

func newEnv(t *testing.T, eng db.Engine, tweak func(*Config)) *env {
	t.Helper()
	clock := dbtest.NewClock()
	d := dbtest.Open(t, eng, clock)
	ctx := context.Background()
	icfg := identity.DefaultConfig()
	icfg.SecretKey = make([]byte, 32)
	icfg.Argon2 = identity.TestArgon2
	ids, err := identity.New(d, icfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(d, ledger.Options{SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	scfg := rail.DefaultSandboxConfig()
	scfg.AddressKey = []byte("test-address-key-0123456789")
	sb, err := rail.NewSandbox(d, scfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.SecretKey = []byte("0123456789abcdef0123456789abcdef")
	if tweak != nil {
		tweak(&cfg)
	}
	w, err := New(d, l, ids, sb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, d: d, clock: clock, l: l, id: ids, w: w, rail: sb}
}

const testPassword = "Correct-Horse-9-Battery"

// user creates a verified customer.
func (e *env) user(name string) *identity.User {
	e.t.Helper()
	return e.userRole(name, identity.RoleCustomer)
}

func (e *env) userRole(name string, role identity.Role) *identity.User {
	e.t.Helper()
	u, err := e.id.CreateUser(e.ctx, identity.CreateUserInput{Email: fmt.Sprintf("%s%d@example.com", name, e.n.Add(1)), Password: testPassword,
		Verified: true, Role: role})
	if err != nil {
		e.t.Fatalf("create user: %v", err)
	}
	return u
}

// fund credits a wallet from the sandbox settlement account, as a completed top-up would.
func (e *env) fund(userID, asset string, minor int64) {
	e.t.Helper()
	if _, err := e.w.OpenWallet(e.ctx, userID, asset); err != nil {
		e.t.Fatal(err)
	}
	res, err := e.l.Submit(e.ctx, []ledger.Transfer{{ID: uuid.New(), DebitAccountID: SettlementAccount("sandbox", asset),
		CreditAccountID: WalletAccount(userID, asset), Amount: minor, Asset: asset, Code: TrTopUp, Ref: "test:fund"}})
	if err != nil || res[0].Code != ledger.OK {
		e.t.Fatalf("fund: %v %v", err, res)
	}
}

func (e *env) available(userID, asset string) int64 {
	e.t.Helper()
	b, err := e.w.BalanceOf(e.ctx, userID, asset)
	if err != nil {
		e.t.Fatal(err)
	}
	return b.AvailableMinor
}

func (e *env) balance(userID, asset string) Balance {
	e.t.Helper()
	b, err := e.w.BalanceOf(e.ctx, userID, asset)
	if err != nil {
		e.t.Fatal(err)
	}
	return *b
}

func (e *env) key() string { return fmt.Sprintf("key-%d", e.n.Add(1)) }

// reconcile checks the ledger invariants; every test ends with it.
func (e *env) reconcile() {
	e.t.Helper()
	rep, err := ledger.Reconcile(e.ctx, e.d)
	if err != nil {
		e.t.Fatal(err)
	}
	if !rep.OK() {
		e.t.Fatalf("reconcile:\n%s", rep)
	}
}

// signIn returns a session id that has just proved the password (a fresh step-up).
func (e *env) signIn(u *identity.User) string {
	e.t.Helper()
	si, err := e.id.SignIn(e.ctx, identity.SignInInput{Email: u.Email, Password: testPassword}, identity.Client{IP: "127.0.0.1", UserAgent: "test"})
	if err != nil || si.Session == nil {
		e.t.Fatalf("sign in: %v", err)
	}
	return si.Session.ID
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s, got success", code)
	}
	if !apperr.HasCode(err, code) {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

var _ = time.Second
