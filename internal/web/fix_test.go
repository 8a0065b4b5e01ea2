package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"okpay/internal/authn"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/notify"
	"okpay/internal/support/console"
	"okpay/internal/support/hours"
	"okpay/internal/support/tickets"
	"okpay/internal/support/troubleshoot"
)

// fixFixture serves the troubleshooter and the console over real identity, tickets and
// console services; sign-in is simulated by a header naming the user id.
type fixFixture struct {
	t     *testing.T
	ctx   context.Context
	d     *db.DB
	h     http.Handler
	id    *identity.Service
	desk  *tickets.Service
	users map[string]*identity.User
}

type idDir struct{ id *identity.Service }

func (d idDir) GetUser(ctx context.Context, id string) (*identity.User, error) {
	return d.id.GetUser(ctx, id)
}
func (d idDir) UserByVerifiedEmail(context.Context, string) (*identity.User, error) {
	return nil, nil
}

const fixPassword = "Correct-Horse-9-Battery"

func newFixFixture(t *testing.T, engine db.Engine) *fixFixture {
	t.Helper()
	clock := dbtest.NewClock()
	d := dbtest.Open(t, engine, clock)
	ctx := context.Background()
	icfg := identity.DefaultConfig()
	icfg.SecretKey = make([]byte, 32)
	icfg.Argon2 = identity.TestArgon2
	ids, err := identity.New(d, icfg)
	if err != nil {
		t.Fatal(err)
	}
	hd, err := hours.New(hours.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	tk, err := tickets.New(d, hd, idDir{ids}, tickets.Config{FilesDir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := troubleshoot.New(troubleshoot.Config{Identity: ids, Tickets: tk, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := console.New(console.Config{DB: d, SecretKey: make([]byte, 32), Identity: ids, Troubleshoot: ts, Tickets: tk})
	if err != nil {
		t.Fatal(err)
	}
	ui, err := New(Config{Version: "test", Log: log, Tickets: tk, Accounts: &Accounts{Service: ids},
		Console: &Console{Troubleshoot: ts, Console: cs}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixFixture{t: t, ctx: ctx, d: d, id: ids, desk: tk, users: map[string]*identity.User{}}
	mux := http.NewServeMux()
	ui.Register(mux)
	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get("X-Test-User"); id != "" {
			if u, err := ids.GetUser(r.Context(), id); err == nil {
				r = r.WithContext(authn.WithPrincipal(r.Context(), &authn.Principal{User: u, Session: &identity.Session{ID: "s"}}))
			}
		}
		mux.ServeHTTP(w, r)
	})
	f.h = httpx.Base(auth, log, nil)
	return f
}

func (f *fixFixture) user(name string, role identity.Role, lang string) *identity.User {
	f.t.Helper()
	u, err := f.id.CreateUser(f.ctx, identity.CreateUserInput{Email: name + "@example.com", Password: fixPassword, Verified: true, Role: role, Lang: lang})
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

func (f *fixFixture) do(user *identity.User, lang, method, path string, form url.Values) (*http.Response, string) {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, path, body)
	if user != nil {
		r.Header.Set("X-Test-User", user.ID)
	}
	r.Header.Set("Accept-Language", lang)
	if method == "POST" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func fixEngines(t *testing.T, fn func(t *testing.T, f *fixFixture)) {
	for _, e := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(e), func(t *testing.T) { fn(t, newFixFixture(t, e)) })
	}
}

func TestFixPages(t *testing.T) {
	fixEngines(t, func(t *testing.T, f *fixFixture) {
		// A visitor: the list, and an answer for "can't sign in" without an account.
		res, body := f.do(nil, "en", "GET", "/fix", nil)
		if res.StatusCode != 200 || !strings.Contains(body, `id="fix-cannot_sign_in"`) || !strings.Contains(body, "Fix my problem") {
			t.Fatalf("/fix: %d %s", res.StatusCode, body)
		}
		res, body = f.do(nil, "en", "GET", "/fix/cannot_sign_in", nil)
		if res.StatusCode != 200 || !strings.Contains(body, `href="/forgot-password"`) || !strings.Contains(body, "signin.anonymous") {
			t.Fatalf("anonymous sign-in help: %d %s", res.StatusCode, body)
		}
		if res, _ = f.do(nil, "en", "GET", "/fix/payment_failed", nil); res.StatusCode != 303 {
			t.Fatalf("account problem without sign-in: %d", res.StatusCode)
		}
		if res, _ = f.do(nil, "en", "GET", "/fix/nope", nil); res.StatusCode != 404 {
			t.Fatalf("unknown problem: %d", res.StatusCode)
		}

		// An owner freeze: suggested, explained, unfrozen by the owner — no ticket offered.
		ann := f.user("ann", identity.RoleCustomer, "en")
		if _, err := f.id.FreezeSelf(f.ctx, ann.ID, identity.FreezeInput{}, identity.Client{}); err != nil {
			t.Fatal(err)
		}
		_, body = f.do(ann, "en", "GET", "/fix", nil)
		if !strings.Contains(body, `id="fix-suggested"`) || !strings.Contains(body, `data-problem="account_restricted"`) {
			t.Fatalf("no suggestion: %s", body)
		}
		_, body = f.do(ann, "en", "GET", "/fix/account_restricted", nil)
		if !strings.Contains(body, `data-rule="account.frozen_by_owner"`) || !strings.Contains(body, `href="/account/unfreeze"`) ||
			strings.Contains(body, `id="fix-ticket-form"`) {
			t.Fatalf("owner freeze page: %s", body)
		}
		res, body = f.do(ann, "en", "POST", "/fix/account_restricted/ticket", url.Values{})
		if res.StatusCode != 409 || !strings.Contains(body, troubleshoot.CodeSelfService) {
			t.Fatalf("self-service ticket: %d %s", res.StatusCode, body)
		}
		// In Chinese.
		_, body = f.do(ann, "zh-CN", "GET", "/fix/account_restricted", nil)
		if !strings.Contains(body, "您已于") || !strings.Contains(body, "解冻账户") {
			t.Fatalf("zh page: %s", body)
		}

		// No wallet pages in this UI: the card step points at the help article, not at a 404.
		_, body = f.do(ann, "en", "GET", "/fix/change_card", nil)
		if !strings.Contains(body, `href="/help/change-bank-card" id="fix-step-button"`) || strings.Contains(body, "/wallet/cards") {
			t.Fatalf("change card step: %s", body)
		}

		// Something else: a ticket with the diagnosis, then the ticket page.
		res, body = f.do(ann, "en", "GET", "/fix/something_else", nil)
		if !strings.Contains(body, `id="fix-ticket-form"`) {
			t.Fatalf("no ticket form: %s", body)
		}
		res, _ = f.do(ann, "en", "POST", "/fix/something_else/ticket", url.Values{"description": {"My statement shows two charges."}})
		loc := res.Header.Get("Location")
		if res.StatusCode != 303 || !strings.HasPrefix(loc, "/tickets/T-") {
			t.Fatalf("open ticket: %d %s", res.StatusCode, loc)
		}
		number := strings.TrimPrefix(strings.Split(loc, "?")[0], "/tickets/")
		th, err := f.desk.Get(f.ctx, tickets.Actor{UserID: "x", Role: identity.RoleAgent}, number)
		if err != nil {
			t.Fatal(err)
		}
		d, ok := troubleshoot.ParseDiagnosis(th.Ticket.Diagnosis)
		if !ok || d.Rule != "other.person" || th.Ticket.Channel != tickets.ViaTroubleshooter || !strings.Contains(th.Messages[0].Body, "two charges") {
			t.Fatalf("ticket %+v", th.Ticket)
		}
	})
}

var sixDigitRE = regexp.MustCompile(`\b[0-9]{6}\b`)

func TestConsolePages(t *testing.T) {
	fixEngines(t, func(t *testing.T, f *fixFixture) {
		agent := f.user("agent", identity.RoleAgent, "en")
		bo := f.user("bo", identity.RoleCustomer, "zh-CN")
		if res, _ := f.do(bo, "en", "GET", "/agent", nil); res.StatusCode != 403 {
			t.Fatalf("customer on /agent: %d", res.StatusCode)
		}
		for range 5 {
			f.id.SignIn(f.ctx, identity.SignInInput{Email: bo.Email, Password: "Wrong-Pass-1!"}, identity.Client{IP: "10.9.9.9"})
		}
		tk, err := f.desk.Open(f.ctx, tickets.OpenInput{CustomerID: bo.ID, Category: "account", Subject: "Locked out", Description: "Please help"})
		if err != nil {
			t.Fatal(err)
		}
		res, body := f.do(agent, "en", "GET", "/agent", nil)
		if res.StatusCode != 200 || !strings.Contains(body, `data-number="`+tk.Number+`"`) {
			t.Fatalf("console home: %d %s", res.StatusCode, body)
		}
		// The old accounts page still answers its own links.
		if res, _ = f.do(agent, "en", "GET", "/agent?email="+url.QueryEscape(bo.Email), nil); res.StatusCode != 303 ||
			!strings.HasPrefix(res.Header.Get("Location"), "/agent/accounts?") {
			t.Fatalf("old agent page link: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		res, _ = f.do(agent, "en", "GET", "/agent/customers?q="+url.QueryEscape(tk.Number), nil)
		page := res.Header.Get("Location")
		if res.StatusCode != 303 || page != "/agent/customers/"+bo.ID {
			t.Fatalf("search by ticket: %d %s", res.StatusCode, page)
		}
		res, body = f.do(agent, "en", "GET", "/agent/customers?q=nobody@example.com", nil)
		if res.StatusCode != 404 || !strings.Contains(body, console.CodeNoCustomer) {
			t.Fatalf("search miss: %d", res.StatusCode)
		}
		_, body = f.do(agent, "en", "GET", page, nil)
		for _, want := range []string{`id="checks-needed"`, `data-rule="account.locked"`, `data-kind="locked"`, tk.Number, `value="name_mismatch"`} {
			if !strings.Contains(body, want) {
				t.Fatalf("customer view lacks %s:\n%s", want, body)
			}
		}
		// No identity check: refused, shown on the page.
		res, body = f.do(agent, "en", "POST", page+"/act", url.Values{"action": {"unlock"}, "reason": {"caller locked out"}})
		if res.StatusCode != 403 || !strings.Contains(body, console.CodeCheckRequired) {
			t.Fatalf("unchecked unlock: %d", res.StatusCode)
		}
		if res, _ = f.do(agent, "en", "POST", page+"/code", url.Values{"channel": {"email"}}); res.StatusCode != 303 {
			t.Fatalf("send code: %d", res.StatusCode)
		}
		ms, err := notify.ListMail(f.ctx, f.d, bo.Email, 10)
		if err != nil {
			t.Fatal(err)
		}
		code := ""
		for _, m := range ms {
			if m.Kind == "console_check_code" {
				code = sixDigitRE.FindString(m.Text)
			}
		}
		if res, _ = f.do(agent, "en", "POST", page+"/checks", url.Values{"code": {code}}); res.StatusCode != 303 || code == "" {
			t.Fatalf("record checks: %d code %q", res.StatusCode, code)
		}
		_, body = f.do(agent, "en", "GET", page, nil)
		if !strings.Contains(body, `id="checks-verified"`) {
			t.Fatalf("not verified: %s", body)
		}
		if res, _ = f.do(agent, "en", "POST", page+"/act", url.Values{"action": {"unlock"}, "reason": {"caller passed the email code"}}); res.StatusCode != 303 {
			t.Fatalf("unlock: %d", res.StatusCode)
		}
		if u, _ := f.id.GetUser(f.ctx, bo.ID); !u.LockedUntil.IsZero() {
			t.Fatal("still locked")
		}
		// A canned reply goes out in the customer's language.
		if res, _ = f.do(agent, "en", "POST", page+"/tickets/"+tk.Number+"/reply", url.Values{"canned": {"unlocked"}, "status": {"resolved"}}); res.StatusCode != 303 {
			t.Fatalf("reply: %d", res.StatusCode)
		}
		th, err := f.desk.Get(f.ctx, tickets.Actor{UserID: bo.ID, Role: identity.RoleCustomer}, tk.Number)
		if err != nil {
			t.Fatal(err)
		}
		last := th.Messages[len(th.Messages)-1]
		if last.Kind != "agent" || !strings.Contains(last.Body, "解锁") || th.Ticket.Status != tickets.StatusResolved {
			t.Fatalf("reply %+v status %s", last, th.Ticket.Status)
		}
		if res, _ = f.do(agent, "en", "POST", page+"/notes", url.Values{"body": {"verified by email code"}}); res.StatusCode != 303 {
			t.Fatalf("note: %d", res.StatusCode)
		}
		_, body = f.do(agent, "zh-CN", "GET", page, nil)
		if !strings.Contains(body, "verified by email code") || !strings.Contains(body, "身份核验") {
			t.Fatalf("zh view: %s", body)
		}
	})
}

// TestFixConsoleKeys checks the translation keys chosen in Go.
func TestFixConsoleKeys(t *testing.T) {
	text, err := loadLocales(embedded)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, a := range []string{troubleshoot.ActionVerifyEmail, troubleshoot.ActionResendEmail, troubleshoot.ActionTopUp, troubleshoot.ActionChangeCard,
		troubleshoot.ActionUnfreeze, troubleshoot.ActionFreeze, troubleshoot.ActionResetPassword, troubleshoot.ActionWaitUntil,
		troubleshoot.ActionRaiseLevel, troubleshoot.ActionOpenArticle, troubleshoot.ActionOpenTicket, troubleshoot.ActionRetry, troubleshoot.ActionNone} {
		keys = append(keys, fixActionKey(a))
	}
	for _, k := range []string{console.CheckEmailCode, console.CheckPhoneCode, console.CheckCardLast4, console.CheckAmount} {
		keys = append(keys, "console.check."+k)
	}
	for _, w := range []string{"no_verified_email", "no_verified_phone", "no_card", "no_recent_activity"} {
		keys = append(keys, "console.why."+w)
	}
	for _, k := range consoleDone {
		keys = append(keys, k)
	}
	keys = append(keys, "console.needs_person", "console.next_step", "console.related")
	for _, lang := range Langs {
		for _, k := range keys {
			if _, ok := text[lang][k]; !ok {
				t.Errorf("%s: missing %s", lang, k)
			}
		}
	}
}
