package walletsrc_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/identity"
	"okpay/internal/ledger"
	"okpay/internal/money"
	"okpay/internal/rail"
	"okpay/internal/support/hours"
	"okpay/internal/support/notice"
	"okpay/internal/support/tickets"
	"okpay/internal/support/troubleshoot"
	"okpay/internal/support/troubleshoot/walletsrc"
	"okpay/internal/wallet"
)

// The troubleshooter's acceptance table: one scenario per problem the user can pick,
// each building the account's state through the real services (identity, wallet on the
// sandbox rail, notices) — never by writing rows — and asserting the cause and the next
// step the troubleshooter gives.

const pw = "Correct-Horse-9-Battery"

type env struct {
	t      *testing.T
	ctx    context.Context
	d      *db.DB
	clock  *dbtest.Clock
	id     *identity.Service
	w      *wallet.Service
	rail   *rail.Sandbox
	notice *notice.Service
	desk   *tickets.Service
	ts     *troubleshoot.Service
	admin  *identity.User
	agent  *identity.User
	n      int
}

type directory struct{ id *identity.Service }

func (d directory) GetUser(ctx context.Context, id string) (*identity.User, error) {
	return d.id.GetUser(ctx, id)
}

func (d directory) UserByVerifiedEmail(context.Context, string) (*identity.User, error) {
	return nil, nil
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
	ns := notice.New(d, notice.Config{})
	desk, err := hours.New(hours.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	tk, err := tickets.New(d, desk, directory{ids}, tickets.Config{FilesDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := troubleshoot.New(troubleshoot.Config{Identity: ids, Wallet: walletsrc.WalletSource{W: w, PayoutETA: 2 * time.Minute},
		Maintenance: troubleshoot.NoticeSource{N: ns}, Tickets: tk, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, d: d, clock: clock, id: ids, w: w, rail: sb, notice: ns, desk: tk, ts: ts}
	e.admin = e.user(identity.RoleAdmin)
	e.agent = e.user(identity.RoleAgent)
	return e
}

func (e *env) user(role identity.Role) *identity.User {
	e.t.Helper()
	e.n++
	u, err := e.id.CreateUser(e.ctx, identity.CreateUserInput{Email: fmt.Sprintf("p%d@example.com", e.n), Password: pw, Verified: true, Role: role})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) customer() *identity.User { return e.user(identity.RoleCustomer) }

func (e *env) signIn(u *identity.User) string {
	e.t.Helper()
	si, err := e.id.SignIn(e.ctx, identity.SignInInput{Email: u.Email, Password: pw}, identity.Client{IP: "127.0.0.1"})
	if err != nil || si.Session == nil {
		e.t.Fatalf("sign in: %v", err)
	}
	return si.Session.ID
}

// card binds and verifies a card, reading the code off the sandbox statement line.
func (e *env) card(u *identity.User, sess, number, holder, expYear string) *wallet.Card {
	e.t.Helper()
	c, err := e.w.AddCard(e.ctx, wallet.AddCardInput{UserID: u.ID, SessionID: sess, Number: number, ExpMonth: "12", ExpYear: expYear, Holder: holder, CVV: "123"})
	if err != nil {
		e.t.Fatalf("add card: %v", err)
	}
	op, err := e.rail.Get(e.ctx, "v-"+c.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	code, ok := strings.CutPrefix(op.Descriptor, "OKPAY*VERIFY ")
	if !ok {
		e.t.Fatalf("no verification code on %q", op.Descriptor)
	}
	if c, err = e.w.VerifyCard(e.ctx, u.ID, c.ID, code); err != nil {
		e.t.Fatalf("verify card: %v", err)
	}
	return c
}

func (e *env) topUp(u *identity.User, card *wallet.Card, amount string) *wallet.RailOp {
	e.t.Helper()
	e.n++
	op, err := e.w.TopUp(e.ctx, wallet.TopUpInput{UserID: u.ID, Key: fmt.Sprintf("top-%d", e.n), CardID: card.ID, Amount: amount, Asset: "CNY"})
	if err != nil && op == nil {
		e.t.Fatalf("top up: %v", err)
	}
	return op
}

func (e *env) realName(u *identity.User, name string) {
	e.t.Helper()
	if _, err := e.id.SubmitIdentity(e.ctx, u.ID, identity.IdentityInput{RealName: name, IDType: identity.IDTypeCNResident,
		IDNumber: "11010519491231002X", BirthDate: "1949-12-31"}, identity.Client{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) process() {
	e.t.Helper()
	if _, err := e.w.ProcessRailUpdates(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

// withdrawFailing makes a real withdrawal that the sandbox bank bounces for the name
// (an amount ending in .14), and lets the wallet's rail job book the failure.
func (e *env) withdrawFailing(u *identity.User) string {
	e.t.Helper()
	sess := e.signIn(u)
	card := e.card(u, sess, "4242424242424242", "张三", "2030")
	e.realName(u, "张三")
	e.topUp(u, card, "500")
	e.process()
	op, err := e.w.Withdraw(e.ctx, wallet.WithdrawInput{UserID: u.ID, SessionID: sess, Key: "wd-fail", CardID: card.ID, Amount: "100.14", Asset: "CNY"})
	if err != nil {
		e.t.Fatalf("withdraw: %v", err)
	}
	e.clock.Advance(2 * time.Minute)
	e.process()
	a, err := e.w.GetActivity(e.ctx, u.ID, op.ActivityID)
	if err != nil || a.FailureCode != rail.CodePayoutNameMismatch {
		e.t.Fatalf("withdrawal not bounced: %+v %v", a, err)
	}
	return a.RefNo
}

type scenario struct {
	name    string
	problem string
	build   func(e *env) (*identity.User, []string) // the user and the refs the diagnosis must carry
	rule    string
	action  string
	person  bool
	offer   bool
	cause   []string // substrings of the English cause
}

func scenarios() []scenario {
	return []scenario{
		{name: "locked after 5 wrong passwords", problem: troubleshoot.ProblemSignIn, rule: "account.locked", action: troubleshoot.ActionResetPassword,
			cause: []string{"too many wrong passwords", "Resetting your password unlocks"},
			build: func(e *env) (*identity.User, []string) {
				u := e.customer()
				for i := range 5 {
					_, err := e.id.SignIn(e.ctx, identity.SignInInput{Email: u.Email, Password: "Wrong-Pass-1!"}, identity.Client{IP: fmt.Sprintf("10.0.0.%d", i)})
					if err == nil {
						e.t.Fatal("wrong password accepted")
					}
				}
				return u, nil
			}},
		{name: "frozen by the owner", problem: troubleshoot.ProblemRestricted, rule: "account.frozen_by_owner", action: troubleshoot.ActionUnfreeze,
			cause: []string{"You froze your account"},
			build: func(e *env) (*identity.User, []string) {
				u := e.customer()
				if _, err := e.id.FreezeSelf(e.ctx, u.ID, identity.FreezeInput{Reason: "lost my phone"}, identity.Client{}); err != nil {
					e.t.Fatal(err)
				}
				return u, nil
			}},
		{name: "frozen by risk review needs a person", problem: troubleshoot.ProblemRestricted, rule: "account.frozen_by_staff",
			action: troubleshoot.ActionOpenTicket, person: true, offer: true, cause: []string{"froze your account", "chargeback investigation"},
			build: func(e *env) (*identity.User, []string) {
				u := e.customer()
				if _, err := e.id.AgentFreeze(e.ctx, e.agent.ID, u.ID, "chargeback investigation", time.Time{}, identity.Client{}); err != nil {
					e.t.Fatal(err)
				}
				return u, nil
			}},
		{name: "registration email not received", problem: troubleshoot.ProblemNoEmail, rule: "email.resend", action: troubleshoot.ActionResendEmail,
			cause: []string{"not verified yet", "spam"},
			build: func(e *env) (*identity.User, []string) {
				e.n++
				r, err := e.id.Register(e.ctx, identity.RegisterInput{Email: fmt.Sprintf("new%d@example.com", e.n), Password: pw, Lang: "en"}, identity.Client{IP: "127.0.0.1"})
				if err != nil {
					e.t.Fatal(err)
				}
				return &r.User, nil
			}},
		{name: "top-up declined by the bank", problem: troubleshoot.ProblemPayment, rule: "payment.failed_activity", action: troubleshoot.ActionChangeCard,
			cause: []string{"top-up of 50.00 CNY", "declined"},
			build: func(e *env) (*identity.User, []string) {
				u := e.customer()
				card := e.card(u, e.signIn(u), "4000000000000341", "Li Lei", "2030")
				op := e.topUp(u, card, "50")
				a, err := e.w.GetActivity(e.ctx, u.ID, op.ActivityID)
				if err != nil {
					e.t.Fatal(err)
				}
				return u, []string{a.RefNo}
			}},
		{name: "maintenance window", problem: troubleshoot.ProblemPayment, rule: "maintenance", action: troubleshoot.ActionWaitUntil,
			cause: []string{"paused for planned maintenance"},
			build: func(e *env) (*identity.User, []string) {
				u := e.customer()
				_, err := e.notice.Create(e.ctx, notice.Actor{ID: e.admin.ID, Role: notice.RoleAdmin}, notice.Input{Kind: notice.KindMaintenance,
					Title: apperr.Text{En: "Database upgrade", Zh: "数据库升级"}, Body: apperr.Text{En: "Payments pause.", Zh: "暂停付款。"},
					EndsAt: e.clock.Now().Add(30 * time.Minute)})
				if err != nil {
					e.t.Fatal(err)
				}
				return u, nil
			}},
		{name: "withdrawal bounced for the name", problem: troubleshoot.ProblemWithdrawal, rule: "withdrawal.latest", action: troubleshoot.ActionChangeCard,
			offer: true, cause: []string{"withdrawal of 100.14 CNY", "name", "back in your wallet"},
			build: func(e *env) (*identity.User, []string) {
				u := e.customer()
				return u, []string{e.withdrawFailing(u)}
			}},
		{name: "withdrawal on its way", problem: troubleshoot.ProblemWithdrawal, rule: "withdrawal.latest", action: troubleshoot.ActionWaitUntil,
			cause: []string{"withdrawal of 100.00 CNY", "Nothing is needed from you"},
			build: func(e *env) (*identity.User, []string) {
				u := e.customer()
				sess := e.signIn(u)
				card := e.card(u, sess, "4242424242424242", "张三", "2030")
				e.realName(u, "张三")
				e.topUp(u, card, "500")
				e.process()
				op, err := e.w.Withdraw(e.ctx, wallet.WithdrawInput{UserID: u.ID, SessionID: sess, Key: "wd-ok", CardID: card.ID, Amount: "100", Asset: "CNY"})
				if err != nil {
					e.t.Fatal(err)
				}
				a, _ := e.w.GetActivity(e.ctx, u.ID, op.ActivityID)
				return u, []string{a.RefNo}
			}},
		{name: "a payment I didn't make", problem: troubleshoot.ProblemUnauthorized, rule: "unauthorized.freeze_first", action: troubleshoot.ActionFreeze,
			person: true, offer: true, cause: []string{"First freeze your account"},
			build: func(e *env) (*identity.User, []string) {
				u, friend := e.customer(), e.customer()
				sess := e.signIn(u)
				card := e.card(u, sess, "4242424242424242", "Li Lei", "2030")
				e.topUp(u, card, "300")
				e.process()
				a, err := e.w.Transfer(e.ctx, wallet.TransferInput{SenderID: u.ID, SessionID: sess, Key: "t1", To: friend.Email, Amount: "88.80", Asset: "CNY"})
				if err != nil {
					e.t.Fatal(err)
				}
				return u, []string{a.RefNo}
			}},
		{name: "coins on the chain, not yet credited", problem: troubleshoot.ProblemCoins, rule: "coins.deposit_confirming", action: troubleshoot.ActionNone,
			cause: []string{"USDT deposit", "confirmations"},
			build: func(e *env) (*identity.User, []string) {
				u := e.customer()
				addr, err := e.w.DepositAddressFor(e.ctx, u.ID, "USDT")
				if err != nil {
					e.t.Fatal(err)
				}
				if _, err := e.rail.SimulateDeposit(e.ctx, addr.Address, money.Amount(25_000000), "USDT"); err != nil {
					e.t.Fatal(err)
				}
				e.process()
				return u, nil
			}},
		{name: "coins paid to a seller: no escrow here", problem: troubleshoot.ProblemCoins, rule: "coins.escrow", action: troubleshoot.ActionOpenTicket,
			person: true, offer: true, cause: []string{"does not hold coin trades in escrow"},
			build: func(e *env) (*identity.User, []string) { return e.customer(), nil }},
		{name: "cancel an automatic payment: none exist", problem: troubleshoot.ProblemAutoPay, rule: "autopay.none", action: troubleshoot.ActionOpenArticle,
			offer: true, cause: []string{"does not take automatic payments"},
			build: func(e *env) (*identity.User, []string) { return e.customer(), nil }},
		{name: "something else goes to a person", problem: troubleshoot.ProblemOther, rule: "other.person", action: troubleshoot.ActionOpenTicket,
			person: true, offer: true, cause: []string{"in your own words"},
			build: func(e *env) (*identity.User, []string) { return e.customer(), nil }},
		// Last: it moves the clock past the card's expiry.
		{name: "expired card to change", problem: troubleshoot.ProblemCard, rule: "card.expired", action: troubleshoot.ActionChangeCard,
			cause: []string{"ending 4242 expired at the end of 12/26"},
			build: func(e *env) (*identity.User, []string) {
				u := e.customer()
				e.card(u, e.signIn(u), "4242424242424242", "Li Lei", "2026")
				e.clock.Set(time.Date(2027, 1, 5, 9, 0, 0, 0, time.UTC))
				return u, nil
			}},
	}
}

func TestTroubleshooterScenarios(t *testing.T) {
	for _, eng := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(eng), func(t *testing.T) {
			e := newEnv(t, eng)
			covered := map[string]bool{}
			for _, sc := range scenarios() {
				u, refs := sc.build(e)
				d, err := e.ts.Diagnose(e.ctx, u.ID, sc.problem)
				if err != nil {
					t.Fatalf("%s: %v", sc.name, err)
				}
				if d.Rule != sc.rule || d.Step.Action != sc.action || d.NeedsPerson != sc.person || d.OfferTicket != sc.offer {
					t.Fatalf("%s: got rule=%s action=%s person=%v offer=%v; want %s %s %v %v\ncause: %s", sc.name, d.Rule, d.Step.Action,
						d.NeedsPerson, d.OfferTicket, sc.rule, sc.action, sc.person, sc.offer, d.Cause.En)
				}
				for _, want := range sc.cause {
					if !strings.Contains(d.Cause.En, want) {
						t.Errorf("%s: cause %q lacks %q", sc.name, d.Cause.En, want)
					}
				}
				if d.Cause.Zh == "" {
					t.Errorf("%s: no Chinese cause", sc.name)
				}
				for _, ref := range refs {
					found := false
					for _, r := range d.Related {
						found = found || r == ref
					}
					if !found {
						t.Errorf("%s: related %v lacks %s", sc.name, d.Related, ref)
					}
				}
				covered[sc.problem] = true
				if sc.rule == "maintenance" {
					// Later scenarios move money: end the window the way an admin would.
					ns, err := e.notice.List(e.ctx, notice.Actor{ID: e.admin.ID, Role: notice.RoleAdmin}, 10)
					if err != nil {
						t.Fatal(err)
					}
					for _, n := range ns {
						if err := e.notice.Withdraw(e.ctx, notice.Actor{ID: e.admin.ID, Role: notice.RoleAdmin}, n.ID); err != nil {
							t.Fatal(err)
						}
					}
					e.clock.Advance(3 * time.Second)
				}
			}
			for _, p := range troubleshoot.Problems() {
				if !covered[p.ID] {
					t.Errorf("no scenario for problem %s", p.ID)
				}
			}
		})
	}
}

// TestTicketFromDiagnosis: the withdrawal bounced for the name; the ticket opened from the
// diagnosis carries it and the withdrawal's reference, and a self-service diagnosis opens
// none.
func TestTicketFromDiagnosis(t *testing.T) {
	for _, eng := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(eng), func(t *testing.T) {
			e := newEnv(t, eng)
			u := e.customer()
			ref := e.withdrawFailing(u)
			tk, d, err := e.ts.OpenTicket(e.ctx, u.ID, troubleshoot.ProblemWithdrawal, troubleshoot.TicketInput{Description: "The card is mine."})
			if err != nil {
				t.Fatal(err)
			}
			if tk.Channel != tickets.ViaTroubleshooter || tk.Category != "withdrawal" || tk.RelatedRef != ref || d.Rule != "withdrawal.latest" {
				t.Fatalf("ticket %+v diagnosis %+v", tk, d)
			}
			th, err := e.desk.Get(e.ctx, tickets.Actor{UserID: e.agent.ID, Role: identity.RoleAgent}, tk.Number)
			if err != nil {
				t.Fatal(err)
			}
			stored, ok := troubleshoot.ParseDiagnosis(th.Ticket.Diagnosis)
			if !ok || stored.Facts["failure_code"] != rail.CodePayoutNameMismatch || stored.Related[0] != ref {
				t.Fatalf("stored diagnosis %s", th.Ticket.Diagnosis)
			}
			if !strings.Contains(th.Messages[0].Body, "The card is mine.") || !strings.Contains(th.Messages[0].Body, ref) {
				t.Fatalf("first message %q", th.Messages[0].Body)
			}
			// The customer does not see the diagnosis JSON.
			own, err := e.desk.Get(e.ctx, tickets.Actor{UserID: u.ID, Role: identity.RoleCustomer}, tk.Number)
			if err != nil || len(own.Ticket.Diagnosis) != 0 {
				t.Fatalf("customer view: %s %v", own.Ticket.Diagnosis, err)
			}
			// Something the user can fix alone opens no ticket.
			v := e.customer()
			if _, err := e.id.FreezeSelf(e.ctx, v.ID, identity.FreezeInput{}, identity.Client{}); err != nil {
				t.Fatal(err)
			}
			_, _, err = e.ts.OpenTicket(e.ctx, v.ID, troubleshoot.ProblemRestricted, troubleshoot.TicketInput{})
			if !apperr.HasCode(err, troubleshoot.CodeSelfService) {
				t.Fatalf("self-service diagnosis opened a ticket: %v", err)
			}
			_, err = e.ts.Diagnose(e.ctx, v.ID, "nope")
			if !apperr.HasCode(err, troubleshoot.CodeProblemUnknown) {
				t.Fatalf("unknown problem: %v", err)
			}
		})
	}
}
