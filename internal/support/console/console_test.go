package console

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"okpay/internal/apperr"
	"okpay/internal/audit"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/identity"
	"okpay/internal/ledger"
	"okpay/internal/notify"
	"okpay/internal/rail"
	"okpay/internal/support/troubleshoot"
	"okpay/internal/support/troubleshoot/walletsrc"
	"okpay/internal/wallet"
)

const pw = "Correct-Horse-9-Battery"

type env struct {
	t     *testing.T
	ctx   context.Context
	d     *db.DB
	clock *dbtest.Clock
	id    *identity.Service
	w     *wallet.Service
	l     *ledger.Ledger
	sb    *rail.Sandbox
	c     *Service
	n     int
}

func newEnv(t *testing.T, eng db.Engine) *env {
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
	wcfg := wallet.DefaultConfig()
	wcfg.SecretKey = []byte("0123456789abcdef0123456789abcdef")
	w, err := wallet.New(d, l, ids, sb, wcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ts, err := troubleshoot.New(troubleshoot.Config{Identity: ids, Wallet: walletsrc.WalletSource{W: w}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{DB: d, SecretKey: make([]byte, 32), Identity: ids, Troubleshoot: ts})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, d: d, clock: clock, id: ids, w: w, l: l, c: c, sb: sb}
}

func (e *env) user(role identity.Role) *identity.User {
	e.t.Helper()
	e.n++
	u, err := e.id.CreateUser(e.ctx, identity.CreateUserInput{Email: fmt.Sprintf("%s%d@example.com", role, e.n), Password: pw, Verified: true, Role: role})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) agent(u *identity.User) Agent {
	return Agent{ID: u.ID, Role: u.Role, ClientAddr: "10.0.0.9"}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if !apperr.HasCode(err, code) {
		t.Fatalf("want %s, got %v", code, err)
	}
}

var sixRE = regexp.MustCompile(`\b[0-9]{6}\b`)

// mailedCode reads the newest check code mailed to the customer.
func (e *env) mailedCode(to string) string {
	e.t.Helper()
	ms, err := notify.ListMail(e.ctx, e.d, to, 20)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range ms {
		if m.Kind == "console_check_code" {
			if c := sixRE.FindString(m.Text); c != "" {
				return c
			}
		}
	}
	e.t.Fatalf("no check code mailed to %s", to)
	return ""
}

// lockOut types five wrong passwords for u.
func (e *env) lockOut(u *identity.User) {
	e.t.Helper()
	for i := range 5 {
		_, err := e.id.SignIn(e.ctx, identity.SignInInput{Email: u.Email, Password: "Wrong-Pass-1!"}, identity.Client{IP: fmt.Sprintf("10.1.0.%d", i)})
		if err == nil {
			e.t.Fatal("wrong password accepted")
		}
	}
	got, _ := e.id.GetUser(e.ctx, u.ID)
	if got.LockedUntil.IsZero() {
		e.t.Fatal("not locked after 5 wrong passwords")
	}
}

func TestIdentityCheckGatesActions(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		agentU, otherU := e.user(identity.RoleAgent), e.user(identity.RoleAgent)
		cust := e.user(identity.RoleCustomer)
		a, other := e.agent(agentU), e.agent(otherU)
		e.lockOut(cust)

		// No check: refused, and nothing changed.
		wantCode(t, e.c.Act(e.ctx, a, cust.ID, ActionInput{Action: ActionUnlock, Reason: "caller locked out"}), CodeCheckRequired)
		if got, _ := e.id.GetUser(e.ctx, cust.ID); got.LockedUntil.IsZero() {
			t.Fatal("unlocked without an identity check")
		}
		// Reading back a code that was never sent.
		_, err := e.c.RecordChecks(e.ctx, a, cust.ID, CheckInput{Code: "123456"})
		wantCode(t, err, identity.CodeCodeExpired)
		// A customer cannot use the console.
		_, err = e.c.SendCode(e.ctx, e.agent(cust), cust.ID, "email")
		wantCode(t, err, apperr.CodeForbidden)
		// No verified phone: that check is not available.
		_, err = e.c.SendCode(e.ctx, a, cust.ID, "phone")
		wantCode(t, err, CodeCheckUnavailable)

		sent, err := e.c.SendCode(e.ctx, a, cust.ID, "email")
		if err != nil {
			t.Fatal(err)
		}
		if sent.To == cust.Email || !strings.Contains(sent.To, "***") {
			t.Fatalf("address not masked: %q", sent.To)
		}
		_, err = e.c.SendCode(e.ctx, a, cust.ID, "email")
		wantCode(t, err, CodeCodeCooldown)
		code := e.mailedCode(cust.Email)
		wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1_000_000)
		st, err := e.c.RecordChecks(e.ctx, a, cust.ID, CheckInput{Code: wrong})
		if err != nil || st.Verified || st.Failed != 1 {
			t.Fatalf("wrong code: %+v %v", st, err)
		}
		st, err = e.c.RecordChecks(e.ctx, a, cust.ID, CheckInput{Code: code})
		if err != nil || !st.Verified || !st.Has(CheckEmailCode) {
			t.Fatalf("right code: %+v %v", st, err)
		}
		// The code is used up; the other agent did not check anything.
		_, err = e.c.RecordChecks(e.ctx, a, cust.ID, CheckInput{Code: code})
		wantCode(t, err, identity.CodeCodeExpired)
		wantCode(t, e.c.Act(e.ctx, other, cust.ID, ActionInput{Action: ActionUnlock, Reason: "x"}), CodeCheckRequired)
		// A reason is required.
		wantCode(t, e.c.Act(e.ctx, a, cust.ID, ActionInput{Action: ActionUnlock, Reason: "  "}), apperr.CodeValidation)
		if err := e.c.Act(e.ctx, a, cust.ID, ActionInput{Action: ActionUnlock, Reason: "caller locked out, verified by email code"}); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.id.GetUser(e.ctx, cust.ID); !got.LockedUntil.IsZero() {
			t.Fatal("still locked")
		}
		recs, err := audit.List(e.ctx, e.d, audit.Filter{SubjectID: cust.ID, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range recs {
			if r.Action == "user.unlock" {
				found = r.ActorID == agentU.ID && strings.Contains(r.Reason, "verified by email code") && strings.Contains(r.Reason, "identity check: email_code")
			}
			if strings.Contains(string(r.Details), code) {
				t.Fatalf("the code reached the audit log: %s", r.Details)
			}
		}
		if !found {
			t.Fatalf("no audited unlock with reason and checks in %+v", recs)
		}
		// The check expires.
		e.clock.Advance(16 * time.Minute)
		_, err = e.id.AgentFreeze(e.ctx, agentU.ID, cust.ID, "customer reports a stolen phone", time.Time{}, identity.Client{})
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.c.Act(e.ctx, a, cust.ID, ActionInput{Action: ActionUnfreeze, Reason: "phone found"}), CodeCheckRequired)
	})
}

func TestKnowledgeChecksAndLock(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a := e.agent(e.user(identity.RoleAgent))
		cust, friend := e.user(identity.RoleCustomer), e.user(identity.RoleCustomer)
		// No cards, no activity yet.
		st, err := e.c.Checks(e.ctx, a, cust.ID)
		if err != nil || st.Verified || st.Available[2].OK || st.Available[3].OK {
			t.Fatalf("fresh state: %+v %v", st, err)
		}
		_, err = e.c.RecordChecks(e.ctx, a, cust.ID, CheckInput{Amount: "12.34"})
		wantCode(t, err, CodeCheckUnavailable)
		_, err = e.c.RecordChecks(e.ctx, a, cust.ID, CheckInput{CardLast4: "12a4"})
		wantCode(t, err, apperr.CodeValidation)

		// A real transfer gives the customer a recent amount to be asked about.
		if _, err := e.w.OpenWallet(e.ctx, cust.ID, "CNY"); err != nil {
			t.Fatal(err)
		}
		res, err := e.l.Submit(e.ctx, []ledger.Transfer{{ID: uuid.New(), DebitAccountID: wallet.SettlementAccount("sandbox", "CNY"),
			CreditAccountID: wallet.WalletAccount(cust.ID, "CNY"), Amount: 100000, Asset: "CNY", Code: wallet.TrTopUp, Ref: "test:fund"}})
		if err != nil || res[0].Code != ledger.OK {
			t.Fatalf("fund: %v %v", err, res)
		}
		si, err := e.id.SignIn(e.ctx, identity.SignInInput{Email: cust.Email, Password: pw}, identity.Client{IP: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.w.Transfer(e.ctx, wallet.TransferInput{SessionID: si.Session.ID, SenderID: cust.ID, To: friend.Email, Amount: "128.50",
			Asset: "CNY", Key: "k1"}); err != nil {
			t.Fatal(err)
		}
		st, err = e.c.RecordChecks(e.ctx, a, cust.ID, CheckInput{Amount: "128.50"})
		if err != nil || !st.Has(CheckAmount) || st.Verified {
			t.Fatalf("amount alone must pass but not verify: %+v %v", st, err)
		}
		wantCode(t, e.c.Act(e.ctx, a, cust.ID, ActionInput{Action: ActionResendVerify, Reason: "x"}), CodeCheckRequired)
		// Wrong answers pile up to a lock that also cancels what passed.
		for i := range 5 {
			st, err = e.c.RecordChecks(e.ctx, a, cust.ID, CheckInput{Amount: fmt.Sprintf("%d.00", 900+i)})
			if err != nil {
				t.Fatal(err)
			}
		}
		if !st.Locked || st.Verified {
			t.Fatalf("not locked: %+v", st)
		}
		_, err = e.c.RecordChecks(e.ctx, a, cust.ID, CheckInput{Amount: "128.50"})
		wantCode(t, err, CodeCheckLocked)
		_, err = e.c.SendCode(e.ctx, a, cust.ID, "email")
		wantCode(t, err, CodeCheckLocked)
		e.clock.Advance(16 * time.Minute)
		if _, err := e.c.SendCode(e.ctx, a, cust.ID, "email"); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}

// TestCardAndAmount: the two knowledge checks together verify the caller — the last 4
// digits of a card the customer bound and verified, and the amount of a real top-up.
func TestCardAndAmount(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a := e.agent(e.user(identity.RoleAgent))
		cust := e.user(identity.RoleCustomer)
		si, err := e.id.SignIn(e.ctx, identity.SignInInput{Email: cust.Email, Password: pw}, identity.Client{IP: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		card, err := e.w.AddCard(e.ctx, wallet.AddCardInput{UserID: cust.ID, SessionID: si.Session.ID, Number: "5555555555554444",
			ExpMonth: "12", ExpYear: "2030", Holder: "Li Lei", CVV: "123"})
		if err != nil {
			t.Fatal(err)
		}
		// Not verified yet: the card proves nothing.
		_, err = e.c.RecordChecks(e.ctx, a, cust.ID, CheckInput{CardLast4: "4444"})
		wantCode(t, err, CodeCheckUnavailable)
		op, err := e.sb.Get(e.ctx, "v-"+card.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.w.VerifyCard(e.ctx, cust.ID, card.ID, strings.TrimPrefix(op.Descriptor, "OKPAY*VERIFY ")); err != nil {
			t.Fatal(err)
		}
		if _, err := e.w.TopUp(e.ctx, wallet.TopUpInput{UserID: cust.ID, Key: "t1", CardID: card.ID, Amount: "321.09", Asset: "CNY"}); err != nil {
			t.Fatal(err)
		}
		st, err := e.c.RecordChecks(e.ctx, a, cust.ID, CheckInput{CardLast4: "4242", Amount: "321.09"})
		if err != nil || st.Verified || st.Has(CheckCardLast4) || !st.Has(CheckAmount) {
			t.Fatalf("wrong card: %+v %v", st, err)
		}
		st, err = e.c.RecordChecks(e.ctx, a, cust.ID, CheckInput{CardLast4: "4444"})
		if err != nil || !st.Verified || st.Summary() == "" {
			t.Fatalf("card and amount: %+v %v", st, err)
		}
		if _, err := e.c.RequireVerified(e.ctx, a, cust.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNotesSearchCanned(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a := e.agent(e.user(identity.RoleAgent))
		cust := e.user(identity.RoleCustomer)
		if _, err := e.c.AddNote(e.ctx, a, cust.ID, " "); !apperr.HasCode(err, apperr.CodeValidation) {
			t.Fatalf("empty note: %v", err)
		}
		if _, err := e.c.AddNote(e.ctx, a, cust.ID, "called twice about a withdrawal"); err != nil {
			t.Fatal(err)
		}
		id, err := e.c.Search(e.ctx, a, strings.ToUpper(cust.Email))
		if err != nil || id != cust.ID {
			t.Fatalf("search by email: %q %v", id, err)
		}
		_, err = e.c.Search(e.ctx, a, "+8613800000000")
		wantCode(t, err, CodeNoCustomer)
		v, err := e.c.Customer(e.ctx, a, cust.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Notes) != 1 || v.Checks == nil || len(v.Diagnoses) == 0 || v.Diagnoses[0].Problem != troubleshoot.ProblemOther {
			t.Fatalf("customer view: %+v", v)
		}
		for _, c := range CannedReplies() {
			if c.Title.En == "" || c.Title.Zh == "" || c.Body.En == "" || c.Body.Zh == "" {
				t.Errorf("canned %s incomplete", c.ID)
			}
		}
		_, err = e.c.Customer(e.ctx, e.agent(cust), cust.ID)
		wantCode(t, err, apperr.CodeForbidden)
	})
}

// engines runs fn on SQLite and on PostgreSQL (when configured).
func engines(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, eng := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(eng), func(t *testing.T) { fn(t, newEnv(t, eng)) })
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
