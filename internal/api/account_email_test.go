package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"okpay/internal/authn"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/notify"
)

// emailAPI serves the account API, with the email-change routes, over one database.
func emailAPI(t *testing.T, engine db.Engine) (*httptest.Server, *db.DB, *dbtest.Clock) {
	t.Helper()
	clock := dbtest.NewClock()
	clock.Set(time.Now().Truncate(time.Second))
	d := dbtest.Open(t, engine, clock)
	r := identity.Rate{Burst: 10000, Every: time.Millisecond}
	svc, err := identity.New(d, identity.Config{SecretKey: bytes.Repeat([]byte{5}, 32), Argon2: identity.TestArgon2,
		RateLimits: identity.RateLimits{SignIn: r, Code: r, Register: r, Reset: r}})
	if err != nil {
		t.Fatal(err)
	}
	a := New(Deps{Version: "test", Clock: clock, Accounts: &Accounts{Service: svc,
		Idempotency: &Idempotency{DB: d, Lock: 5 * time.Second, Keep: time.Hour}}})
	registered := false
	for _, rt := range a.router.Routes() {
		registered = registered || rt.Path == "/me/email"
	}
	if !registered {
		a.accountEmailRoutes()
	}
	mux := http.NewServeMux()
	a.Register(mux)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(httpx.Base(http.NewCrossOriginProtection().Handler(authn.Middleware(svc, mux)), log, nil))
	t.Cleanup(srv.Close)
	return srv, d, clock
}

func TestEmailChangeAPI(t *testing.T) {
	for _, eng := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(eng), func(t *testing.T) {
			if eng == db.Postgres {
				dbtest.PostgresURL(t)
			}
			srv, d, clock := emailAPI(t, eng)
			codeRE := regexp.MustCompile(`\b(\d{6})\b`)
			mailCode := func(to, kind string) string {
				t.Helper()
				ms, err := notify.ListMail(context.Background(), d, to, 50)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range ms {
					if m.Kind == kind {
						if c := codeRE.FindStringSubmatch(m.Text); c != nil {
							return c[1]
						}
					}
				}
				t.Fatalf("no %s mail to %s", kind, to)
				return ""
			}
			newClient := func() *http.Client {
				jar, _ := cookiejar.New(nil)
				hc := *srv.Client()
				hc.Jar = jar
				return &hc
			}
			call := func(hc *http.Client, path string, body any, key string, out any) (int, string) {
				t.Helper()
				b, _ := json.Marshal(body)
				req, _ := http.NewRequest("POST", srv.URL+Prefix+path, bytes.NewReader(b))
				req.Header.Set("Content-Type", "application/json")
				if key != "" {
					req.Header.Set("Idempotency-Key", key)
				}
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				var eb struct {
					Error struct {
						Code string `json:"code"`
					} `json:"error"`
				}
				json.Unmarshal(raw, &eb)
				if out != nil && resp.StatusCode < 300 {
					json.Unmarshal(raw, out)
				}
				return resp.StatusCode, eb.Error.Code
			}
			want := func(gotStatus int, gotCode string, status int, code string) {
				t.Helper()
				if gotStatus != status || gotCode != code {
					t.Fatalf("got %d %q, want %d %q", gotStatus, gotCode, status, code)
				}
			}

			// Both steps are in the OpenAPI document.
			resp, err := srv.Client().Get(srv.URL + Prefix + "/openapi.json")
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Paths map[string]map[string]any `json:"paths"`
			}
			json.NewDecoder(resp.Body).Decode(&doc)
			resp.Body.Close()
			if doc.Paths["/me/email"]["post"] == nil || doc.Paths["/me/email/confirm"]["post"] == nil {
				t.Fatal("email change not in the OpenAPI document")
			}

			const pw = "Blue-Kettle-2026!"
			c := newClient()
			st, code := call(c, "/auth/register", RegisterRequest{Email: "erin@example.com", Password: pw, Lang: "en"}, "", nil)
			want(st, code, 201, "")
			st, code = call(c, "/auth/verify-email", CodeRequest{Code: mailCode("erin@example.com", "verify_email")}, "", nil)
			want(st, code, 200, "")
			other := newClient()
			st, code = call(other, "/auth/signin", map[string]string{"email": "erin@example.com", "password": pw}, "", nil)
			want(st, code, 200, "")

			clock.Advance(6 * time.Minute)
			st, code = call(c, "/me/email", EmailChangeRequest{Email: "erin.new@example.com"}, "", nil)
			want(st, code, 403, identity.CodeStepUpRequired)
			st, code = call(c, "/me/step-up", identity.StepUpInput{Password: pw}, "", nil)
			want(st, code, 200, "")
			st, code = call(c, "/me/email", EmailChangeRequest{Email: "Erin@example.com"}, "", nil)
			want(st, code, 409, identity.CodeEmailUnchanged)

			// A retry with the same Idempotency-Key replays the answer instead of
			// running into the resend cooldown.
			var ch, ch2 identity.EmailChange
			st, code = call(c, "/me/email", EmailChangeRequest{Email: "erin.new@example.com"}, "change-1", &ch)
			want(st, code, 200, "")
			st, code = call(c, "/me/email", EmailChangeRequest{Email: "erin.new@example.com"}, "change-1", &ch2)
			want(st, code, 200, "")
			if ch.SentTo != "erin.new@example.com" || ch2 != ch {
				t.Fatalf("answers %+v / %+v", ch, ch2)
			}
			st, code = call(c, "/me/email", EmailChangeRequest{Email: "erin.new@example.com"}, "", nil)
			want(st, code, 429, identity.CodeResendCooldown)

			st, code = call(c, "/me/email/confirm", CodeRequest{Code: "12345x"}, "", nil)
			want(st, code, 422, identity.CodeCodeMalformed)
			var u identity.User
			st, code = call(c, "/me/email/confirm", CodeRequest{Code: mailCode("erin.new@example.com", "email_change")}, "", &u)
			want(st, code, 200, "")
			if u.Email != "erin.new@example.com" || !u.EmailVerified {
				t.Fatalf("user %+v", u)
			}
			// The other session ended, this one did not.
			get := func(hc *http.Client) int {
				resp, err := hc.Get(srv.URL + Prefix + "/me")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if get(c) != 200 || get(other) != 401 {
				t.Fatalf("sessions after change: this %d, other %d", get(c), get(other))
			}
			// The old address was told; sign-in takes the new one only.
			ms, err := notify.ListMail(context.Background(), d, "erin@example.com", 50)
			if err != nil || len(ms) == 0 || ms[0].Kind != "email_changed" {
				t.Fatalf("no notice to the old address: %v", err)
			}
			st, code = call(newClient(), "/auth/signin", map[string]string{"email": "erin@example.com", "password": pw}, "", nil)
			want(st, code, 401, identity.CodeInvalidCredentials)
			st, code = call(newClient(), "/auth/signin", map[string]string{"email": "erin.new@example.com", "password": pw}, "", nil)
			want(st, code, 200, "")
		})
	}
}
