package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

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

type fixAPI struct {
	h     http.Handler
	d     *db.DB
	id    *identity.Service
	desk  *tickets.Service
	a     *API
	users map[string]*identity.User
}

type idUsers struct{ id *identity.Service }

func (d idUsers) GetUser(ctx context.Context, id string) (*identity.User, error) {
	return d.id.GetUser(ctx, id)
}
func (d idUsers) UserByVerifiedEmail(context.Context, string) (*identity.User, error) {
	return nil, nil
}

func newFixAPI(t *testing.T, engine db.Engine) *fixAPI {
	t.Helper()
	clock := dbtest.NewClock()
	d := dbtest.Open(t, engine, clock)
	icfg := identity.DefaultConfig()
	icfg.SecretKey = make([]byte, 32)
	icfg.Argon2 = identity.TestArgon2
	ids, err := identity.New(d, icfg)
	if err != nil {
		t.Fatal(err)
	}
	hd, _ := hours.New(hours.DefaultConfig())
	tk, err := tickets.New(d, hd, idUsers{ids}, tickets.Config{FilesDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
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
	a := New(Deps{Version: "test", Tickets: tk, Console: &Console{Troubleshoot: ts, Console: cs}})
	f := &fixAPI{d: d, id: ids, desk: tk, a: a, users: map[string]*identity.User{}}
	for _, x := range []struct {
		name string
		role identity.Role
	}{{"cy", identity.RoleCustomer}, {"agent", identity.RoleAgent}, {"risk", identity.RoleRiskReviewer}} {
		u, err := ids.CreateUser(context.Background(), identity.CreateUserInput{Email: x.name + "@example.com", Password: "Correct-Horse-9-Battery",
			Verified: true, Role: x.role})
		if err != nil {
			t.Fatal(err)
		}
		f.users[x.name] = u
	}
	mux := http.NewServeMux()
	a.Register(mux)
	f.h = httpx.Base(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := f.users[r.Header.Get("X-Test-User")]; u != nil {
			u, _ = ids.GetUser(r.Context(), u.ID)
			r = r.WithContext(authn.WithPrincipal(r.Context(), &authn.Principal{User: u, Session: &identity.Session{ID: "s-" + u.ID}}))
		}
		mux.ServeHTTP(w, r)
	}), slog.New(slog.DiscardHandler), nil)
	return f
}

func decodeTo[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func TestFixAPI(t *testing.T) {
	for _, eng := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(eng), func(t *testing.T) {
			f := newFixAPI(t, eng)
			ctx := context.Background()
			cy := f.users["cy"]
			res, b := call(t, f.h, "", "GET", "/api/v1/fix/problems", nil)
			probs := decodeTo[FixProblemsResponse](t, b)
			if res.StatusCode != 200 || len(probs.Problems) != 10 || len(probs.Suggested) != 0 {
				t.Fatalf("problems: %d %s", res.StatusCode, b)
			}
			if res, _ = call(t, f.h, "", "GET", "/api/v1/fix/payment_failed", nil); res.StatusCode != 401 {
				t.Fatalf("anonymous diagnosis: %d", res.StatusCode)
			}
			res, b = call(t, f.h, "", "GET", "/api/v1/fix/cannot_sign_in", nil)
			if d := decodeTo[FixDiagnosisResponse](t, b); res.StatusCode != 200 || d.NextStep != troubleshoot.ActionResetPassword || d.Diagnosis.Rule != "signin.anonymous" {
				t.Fatalf("anonymous sign-in help: %d %s", res.StatusCode, b)
			}
			// A risk freeze: suggested, needs a person, and the ticket carries the diagnosis.
			if _, err := f.id.AgentFreeze(ctx, f.users["agent"].ID, cy.ID, "chargeback investigation", time.Time{}, identity.Client{}); err != nil {
				t.Fatal(err)
			}
			_, b = call(t, f.h, "cy", "GET", "/api/v1/fix/problems", nil, "Accept-Language", "zh-CN")
			probs = decodeTo[FixProblemsResponse](t, b)
			if len(probs.Suggested) != 1 || probs.Suggested[0].Problem != troubleshoot.ProblemRestricted || !strings.Contains(probs.Problems[0].Title, "登录") {
				t.Fatalf("suggested: %s", b)
			}
			res, b = call(t, f.h, "cy", "GET", "/api/v1/fix/account_restricted", nil)
			d := decodeTo[FixDiagnosisResponse](t, b)
			if res.StatusCode != 200 || d.NextStep != troubleshoot.ActionOpenTicket || !d.Diagnosis.NeedsPerson || !strings.Contains(d.Cause, "chargeback") {
				t.Fatalf("diagnosis: %d %s", res.StatusCode, b)
			}
			res, b = call(t, f.h, "cy", "GET", "/api/v1/fix/nope", nil)
			if res.StatusCode != 404 || !strings.Contains(string(b), troubleshoot.CodeProblemUnknown) {
				t.Fatalf("unknown: %d %s", res.StatusCode, b)
			}
			res, b = call(t, f.h, "cy", "POST", "/api/v1/fix/account_restricted/ticket", FixTicketRequest{}, "Idempotency-Key", "k1")
			tr := decodeTo[FixTicketResponse](t, b)
			if res.StatusCode != 201 || tr.Ticket.Channel != tickets.ViaTroubleshooter || tr.Diagnosis.Rule != "account.frozen_by_staff" {
				t.Fatalf("ticket: %d %s", res.StatusCode, b)
			}
			// Unfrozen by the agent after an identity check, the same problem is self-service.
			res, b = call(t, f.h, "agent", "POST", "/api/v1/agent/customers/"+cy.ID+"/actions", console.ActionInput{Action: console.ActionUnfreeze, Reason: "cleared"})
			if res.StatusCode != 403 || !strings.Contains(string(b), console.CodeCheckRequired) {
				t.Fatalf("unchecked action: %d %s", res.StatusCode, b)
			}
			if res, b = call(t, f.h, "agent", "POST", "/api/v1/agent/customers/"+cy.ID+"/checks/code", ConsoleCodeRequest{Channel: "email"}); res.StatusCode != 200 {
				t.Fatalf("code: %d %s", res.StatusCode, b)
			}
			ms, _ := notify.ListMail(ctx, f.d, cy.Email, 10)
			code := ""
			for _, m := range ms {
				if m.Kind == "console_check_code" {
					code = regexp.MustCompile(`\b[0-9]{6}\b`).FindString(m.Text)
				}
			}
			res, b = call(t, f.h, "agent", "POST", "/api/v1/agent/customers/"+cy.ID+"/checks", console.CheckInput{Code: code})
			if st := decodeTo[console.CheckState](t, b); res.StatusCode != 200 || !st.Verified {
				t.Fatalf("checks: %d %s", res.StatusCode, b)
			}
			if res, b = call(t, f.h, "agent", "POST", "/api/v1/agent/customers/"+cy.ID+"/actions", console.ActionInput{Action: console.ActionUnfreeze, Reason: "cleared"}); res.StatusCode != 204 {
				t.Fatalf("unfreeze: %d %s", res.StatusCode, b)
			}
			res, b = call(t, f.h, "cy", "POST", "/api/v1/fix/account_restricted/ticket", FixTicketRequest{}, "Idempotency-Key", "k2")
			if res.StatusCode != 409 || !strings.Contains(string(b), troubleshoot.CodeSelfService) {
				t.Fatalf("self-service: %d %s", res.StatusCode, b)
			}
			// The console's views.
			res, b = call(t, f.h, "agent", "GET", "/api/v1/agent/customers?q="+cy.Email, nil)
			if sr := decodeTo[ConsoleSearchResponse](t, b); res.StatusCode != 200 || sr.CustomerID != cy.ID {
				t.Fatalf("search: %d %s", res.StatusCode, b)
			}
			res, b = call(t, f.h, "agent", "GET", "/api/v1/agent/customers/"+cy.ID, nil)
			if cv := decodeTo[console.Customer](t, b); res.StatusCode != 200 || len(cv.Tickets) != 1 || cv.Tickets[0].Diagnosis == nil {
				t.Fatalf("customer: %d %s", res.StatusCode, b)
			}
			res, b = call(t, f.h, "agent", "GET", "/api/v1/agent/console", nil)
			if h := decodeTo[console.Home](t, b); res.StatusCode != 200 || len(h.Tickets) != 1 {
				t.Fatalf("home: %d %s", res.StatusCode, b)
			}
			res, b = call(t, f.h, "agent", "POST", "/api/v1/agent/tickets/"+tr.Ticket.Number+"/canned-reply", ConsoleReplyRequest{CannedID: "unfrozen"})
			if res.StatusCode != 201 || !strings.Contains(string(b), "lifted the freeze") {
				t.Fatalf("canned reply: %d %s", res.StatusCode, b)
			}
			if res, _ = call(t, f.h, "cy", "GET", "/api/v1/agent/customers/"+cy.ID, nil); res.StatusCode != 403 {
				t.Fatalf("customer in the console: %d", res.StatusCode)
			}
			// Risk reviewers use the customer view; their desk queues are empty.
			if res, b = call(t, f.h, "risk", "GET", "/api/v1/agent/console", nil); res.StatusCode != 200 {
				t.Fatalf("risk home: %d %s", res.StatusCode, b)
			}
		})
	}
}

func TestFixOpenAPI(t *testing.T) {
	f := newFixAPI(t, db.SQLite)
	doc, err := json.Marshal(OpenAPI(f.a.Router(), "test"))
	if err != nil {
		t.Fatal(err)
	}
	ld, err := openapi3.NewLoader().LoadFromData(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := ld.Validate(context.Background()); err != nil {
		t.Errorf("OpenAPI invalid: %v", err)
	}
	for _, p := range []string{"/fix/problems", "/fix/{problem}", "/fix/{problem}/ticket", "/agent/console", "/agent/customers",
		"/agent/customers/{id}", "/agent/customers/{id}/checks", "/agent/customers/{id}/checks/code", "/agent/customers/{id}/actions",
		"/agent/customers/{id}/notes", "/agent/canned", "/agent/tickets/{number}/canned-reply"} {
		if ld.Paths.Find(p) == nil {
			t.Errorf("OpenAPI lacks %s", p)
		}
	}
}
