package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"okpay/internal/api"
	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/notify"
	"okpay/internal/server"
)

// env is the API as served — base middleware, cross-origin protection, authn — over one
// database with a settable clock.
type env struct {
	t     *testing.T
	d     *db.DB
	clock *dbtest.Clock
	svc   *identity.Service
	srv   *httptest.Server
}

var secretKey = bytes.Repeat([]byte{7}, 32)

func relaxedLimits() identity.RateLimits {
	r := identity.Rate{Burst: 10000, Every: time.Millisecond}
	return identity.RateLimits{SignIn: r, Code: r, Register: r, Reset: r}
}

func newEnv(t *testing.T, engine db.Engine, limits identity.RateLimits, tlsServer bool) *env {
	t.Helper()
	clock := dbtest.NewClock()
	clock.Set(time.Now().Truncate(time.Second))
	d := dbtest.Open(t, engine, clock)
	svc, err := identity.New(d, identity.Config{SecretKey: secretKey, Argon2: identity.TestArgon2, RateLimits: limits})
	if err != nil {
		t.Fatal(err)
	}
	a := api.New(api.Deps{Version: "test", Clock: clock, Accounts: &api.Accounts{Service: svc,
		Documents: server.NewDocumentStore(t.TempDir()), Idempotency: &api.Idempotency{DB: d, Lock: 5 * time.Second, Keep: time.Hour}}})
	mux := http.NewServeMux()
	a.Register(mux)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := httpx.Base(http.NewCrossOriginProtection().Handler(authn.Middleware(svc, mux)), log, nil)
	var srv *httptest.Server
	if tlsServer {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return &env{t: t, d: d, clock: clock, svc: svc, srv: srv}
}

// engines runs fn on SQLite and PostgreSQL.
func engines(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, eng := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(eng), func(t *testing.T) {
			if eng == db.Postgres {
				dbtest.PostgresURL(t)
			}
			fn(t, newEnv(t, eng, relaxedLimits(), false))
		})
	}
}

type client struct {
	t      *testing.T
	e      *env
	hc     *http.Client
	Header http.Header
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	// A copy: srv.Client() is one shared client, and each person needs their own jar.
	hc := *e.srv.Client()
	hc.Jar = jar
	return &client{t: e.t, e: e, hc: &hc, Header: http.Header{}}
}

type errBody struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fix     string            `json:"fix"`
		Params  map[string]string `json:"params"`
		Fields  []struct {
			Field string `json:"field"`
			Code  string `json:"code"`
		} `json:"fields"`
	} `json:"error"`
}

func (c *client) do(method, path string, body any, out any) (*http.Response, errBody) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.e.srv.URL+api.Prefix+path, rd)
	for k, v := range c.Header {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var eb errBody
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(raw, &eb); err != nil {
			c.t.Fatalf("%s %s: %d, not a JSON error: %s", method, path, resp.StatusCode, raw)
		}
	} else if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp, eb
}

func (c *client) ok(want int, method, path string, body, out any) *http.Response {
	c.t.Helper()
	resp, eb := c.do(method, path, body, out)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: got %d %+v, want %d", method, path, resp.StatusCode, eb.Error, want)
	}
	return resp
}

func (c *client) fails(code, method, path string, body any) errBody {
	c.t.Helper()
	resp, eb := c.do(method, path, body, nil)
	if eb.Error.Code != code {
		c.t.Fatalf("%s %s: got %d %q (%s), want %q", method, path, resp.StatusCode, eb.Error.Code, eb.Error.Message, code)
	}
	if d, _ := apperr.Lookup(code); resp.StatusCode != d.Status {
		c.t.Fatalf("%s %s: %s with status %d, want %d", method, path, code, resp.StatusCode, d.Status)
	}
	return eb
}

func (c *client) cookie(name string) *http.Cookie {
	for _, ck := range c.hc.Jar.Cookies(mustURL(c.e.srv.URL)) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

var (
	codeRE  = regexp.MustCompile(`\b(\d{6})\b`)
	tokenRE = regexp.MustCompile(`[?&]token=([A-Za-z0-9_%-]+)`)
)

// mail returns the newest mail of kind to addr: its 6-digit code and link token.
func (e *env) mail(to, kind string) (code, token string) {
	e.t.Helper()
	ms, err := notify.ListMail(context.Background(), e.d, to, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range ms {
		if m.Kind == kind {
			if mm := codeRE.FindStringSubmatch(m.Text); mm != nil {
				code = mm[1]
			}
			if mm := tokenRE.FindStringSubmatch(m.Text); mm != nil {
				token = mm[1]
			}
			return code, token
		}
	}
	e.t.Fatalf("no %s mail to %s", kind, to)
	return "", ""
}

func (e *env) mailCount(to, kind string) int {
	ms, _ := notify.ListMail(context.Background(), e.d, to, 100)
	n := 0
	for _, m := range ms {
		if m.Kind == kind {
			n++
		}
	}
	return n
}

const pw = "Blue-Kettle-2026!"

// register opens an account for email on a new client and returns it, signed in.
func (e *env) register(email string) (*client, api.RegisterResponse) {
	e.t.Helper()
	c := e.client()
	var out api.RegisterResponse
	c.ok(201, "POST", "/auth/register", api.RegisterRequest{Email: email, Password: pw, Lang: "en"}, &out)
	return c, out
}

func (e *env) verified(email string) *client {
	c, _ := e.register(email)
	code, _ := e.mail(email, "verify_email")
	c.ok(200, "POST", "/auth/verify-email", api.CodeRequest{Code: code}, nil)
	return c
}

func TestRegisterAndVerify(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		c, reg := e.register("dora@example.com")
		ck := c.cookie(authn.SessionCookie)
		if ck == nil || reg.User.EmailVerified || reg.Session == nil {
			t.Fatalf("register: cookie %v, %+v", ck, reg)
		}
		var me identity.User
		c.ok(200, "GET", "/me", nil, &me)
		if me.Email != "dora@example.com" {
			t.Fatalf("me: %+v", me)
		}
		// Failure paths: wrong code (tries left), a duplicate address, bad fields.
		code, tok := e.mail("dora@example.com", "verify_email")
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		eb := c.fails(identity.CodeCodeInvalid, "POST", "/auth/verify-email", api.CodeRequest{Code: wrong})
		if eb.Error.Params["remaining"] != "4" {
			t.Errorf("remaining tries: %+v", eb.Error.Params)
		}
		e.client().fails(identity.CodeEmailTaken, "POST", "/auth/register", api.RegisterRequest{Email: "Dora@Example.com", Password: pw, Lang: "en"})
		eb = e.client().fails(apperr.CodeValidation, "POST", "/auth/register", api.RegisterRequest{Email: "x", Password: "password1", Lang: "fr"})
		fields := map[string]string{}
		for _, f := range eb.Error.Fields {
			fields[f.Field] = f.Code
		}
		if fields["email"] != identity.FieldEmailInvalid || fields["lang"] != identity.FieldLangInvalid || fields["password"] == "" {
			t.Errorf("field errors: %+v", eb.Error.Fields)
		}
		// Resend: the cooldown answers with when to come back.
		eb = c.fails(identity.CodeResendCooldown, "POST", "/auth/resend-verification", nil)
		if eb.Error.Params["retry_after"] == "" || !strings.Contains(eb.Error.Fix, "spam") {
			t.Errorf("cooldown: %+v", eb.Error)
		}
		e.clock.Advance(61 * time.Second)
		var rs identity.Resend
		c.ok(200, "POST", "/auth/resend-verification", nil, &rs)
		if rs.SentTo != "dora@example.com" || !rs.NextAt.After(e.clock.Now()) {
			t.Errorf("resend: %+v", rs)
		}
		// The first code was replaced by the resend: only the newest works.
		c.fails(identity.CodeCodeInvalid, "POST", "/auth/verify-email", api.CodeRequest{Code: code})
		_, tok2 := e.mail("dora@example.com", "verify_email")
		if tok2 == tok {
			t.Fatal("resend did not send a new link")
		}
		// The link works without a session.
		var v api.VerifiedResponse
		e.client().ok(200, "POST", "/auth/verify-email/link", api.TokenRequest{Token: tok2}, &v)
		if !v.Verified || v.Email != "dora@example.com" {
			t.Fatalf("link: %+v", v)
		}
		e.client().fails(identity.CodeCodeExpired, "POST", "/auth/verify-email/link", api.TokenRequest{Token: tok2})
		c.fails(identity.CodeEmailAlreadyVerified, "POST", "/auth/resend-verification", nil)
		// Without a session the signed-in calls refuse.
		e.client().fails(apperr.CodeUnauthenticated, "GET", "/me", nil)
		e.client().fails(apperr.CodeUnauthenticated, "POST", "/auth/verify-email", api.CodeRequest{Code: "123456"})
	})
}

// Session cookies: flags, rotation at sign-in (the old token dies), sign-out.
func TestSessionCookies(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		name := "http"
		if tlsOn {
			name = "https"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, db.SQLite, relaxedLimits(), tlsOn)
			e.register("eve@example.com")
			c := e.client()
			req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/auth/signin", strings.NewReader(`{"email":"eve@example.com","password":"`+pw+`"}`))
			resp, err := c.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var sess, dev *http.Cookie
			for _, ck := range resp.Cookies() {
				switch ck.Name {
				case authn.SessionCookie:
					sess = ck
				case authn.DeviceCookie:
					dev = ck
				}
			}
			if sess == nil || dev == nil {
				t.Fatalf("cookies: %v", resp.Cookies())
			}
			if !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" || sess.Secure != tlsOn || sess.MaxAge != 0 {
				t.Errorf("session cookie flags: %+v", sess)
			}
			if !dev.HttpOnly || dev.Secure != tlsOn || dev.MaxAge < 300*24*3600 {
				t.Errorf("device cookie flags: %+v", dev)
			}
			if len(sess.Value) < 22 { // ≥128 bits in base64url
				t.Errorf("session token too short: %d", len(sess.Value))
			}
			// Signing in again rotates the session: new token, the old one is dead.
			old := sess.Value
			c.ok(200, "POST", "/auth/signin", api.SignInRequest{Email: "eve@example.com", Password: pw}, nil)
			now := c.cookie(authn.SessionCookie).Value
			if now == old {
				t.Fatal("session id did not change at sign-in")
			}
			stale := e.client()
			stale.Header.Set("Cookie", authn.SessionCookie+"="+old)
			stale.fails(apperr.CodeUnauthenticated, "GET", "/me", nil)
			// The token never appears in a response body.
			var si api.SignInResponse
			c.ok(200, "POST", "/auth/signin", api.SignInRequest{Email: "eve@example.com", Password: pw}, &si)
			b, _ := json.Marshal(si)
			if strings.Contains(string(b), c.cookie(authn.SessionCookie).Value) {
				t.Error("session token in the response body")
			}
			c.ok(204, "POST", "/auth/signout", nil, nil)
			c.fails(apperr.CodeUnauthenticated, "GET", "/me", nil)
		})
	}
}

func TestLockoutAndAgentUnlock(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.verified("finn@example.com")
		c := e.client()
		for i := 1; i <= 4; i++ {
			c.fails(identity.CodeInvalidCredentials, "POST", "/auth/signin", api.SignInRequest{Email: "finn@example.com", Password: "Wrong-pass-1"})
		}
		eb := c.fails(identity.CodeAccountLocked, "POST", "/auth/signin", api.SignInRequest{Email: "finn@example.com", Password: "Wrong-pass-1"})
		until, err := time.Parse(time.RFC3339, eb.Error.Params["until"])
		if err != nil || until.Sub(e.clock.Now()) != 15*time.Minute {
			t.Fatalf("until %q: %v", eb.Error.Params["until"], err)
		}
		if !strings.Contains(eb.Error.Fix, "reset") || e.mailCount("finn@example.com", "lockout") != 1 {
			t.Errorf("lockout: fix %q, mails %d", eb.Error.Fix, e.mailCount("finn@example.com", "lockout"))
		}
		// The right password does not get through a lock.
		c.fails(identity.CodeAccountLocked, "POST", "/auth/signin", api.SignInRequest{Email: "finn@example.com", Password: pw})
		// It lifts by itself after 15 minutes.
		e.clock.Advance(15*time.Minute + time.Second)
		c.ok(200, "POST", "/auth/signin", api.SignInRequest{Email: "finn@example.com", Password: pw}, nil)

		// Lock again; an agent unlocks early with a reason. A customer cannot.
		for i := 0; i < 5; i++ {
			e.client().do("POST", "/auth/signin", api.SignInRequest{Email: "finn@example.com", Password: "Wrong-pass-1"}, nil)
		}
		if _, err := e.svc.CreateUser(context.Background(), identity.CreateUserInput{Email: "agent@example.com", Password: pw, Role: identity.RoleAgent, Verified: true}); err != nil {
			t.Fatal(err)
		}
		agent := e.client()
		agent.ok(200, "POST", "/auth/signin", api.SignInRequest{Email: "agent@example.com", Password: pw}, nil)
		var found api.AgentUserResponse
		agent.ok(200, "GET", "/agent/users?email=finn@example.com", nil, &found)
		if len(found.Status.Items) == 0 || found.Status.Items[0].Kind != identity.StatusLocked {
			t.Fatalf("agent view: %+v", found.Status)
		}
		customer := e.verified("gus@example.com")
		customer.fails(apperr.CodeForbidden, "POST", "/agent/users/"+found.User.ID+"/unlock", api.ReasonRequest{Reason: "me"})
		customer.fails(apperr.CodeForbidden, "GET", "/agent/users?email=finn@example.com", nil)
		agent.fails(apperr.CodeValidation, "POST", "/agent/users/"+found.User.ID+"/unlock", api.ReasonRequest{})
		agent.ok(204, "POST", "/agent/users/"+found.User.ID+"/unlock", api.ReasonRequest{Reason: "caller answered security questions"}, nil)
		e.client().ok(200, "POST", "/auth/signin", api.SignInRequest{Email: "finn@example.com", Password: pw}, nil)
	})
}

func TestRateLimitedSignIn(t *testing.T) {
	e := newEnv(t, db.SQLite, identity.DefaultRateLimits, false)
	c := e.client()
	var resp *http.Response
	var eb errBody
	for i := 0; i < 30; i++ {
		resp, eb = c.do("POST", "/auth/signin", api.SignInRequest{Email: "nobody@example.com", Password: "Wrong-pass-1"}, nil)
		if resp.StatusCode == 429 {
			break
		}
	}
	if resp.StatusCode != 429 || eb.Error.Code != apperr.CodeRateLimited || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("got %d %+v Retry-After %q", resp.StatusCode, eb.Error, resp.Header.Get("Retry-After"))
	}
}

// oathtool asks Debian's oathtool for the code at the fake clock's time.
func oathtool(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	path, err := exec.LookPath("oathtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("oathtool not installed under CI")
		}
		t.Skip("oathtool not installed")
	}
	out, err := exec.Command(path, "--totp", "-b", "--now", at.UTC().Format("2006-01-02 15:04:05 UTC"), secret).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// 2-step through the API with codes from oathtool: set-up, sign-in with the second step,
// replay refused, recovery code once, step-up, disable.
func TestTwoStepWithOathtool(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		c := e.verified("hana@example.com")
		var enr identity.TOTPEnrolment
		c.ok(200, "POST", "/me/2fa/setup", nil, &enr)
		if !strings.HasPrefix(enr.URI, "otpauth://totp/") || !strings.HasPrefix(enr.QRSVG, "<svg") {
			t.Fatalf("enrolment: %+v", enr)
		}
		c.fails(identity.CodeTOTPInvalid, "POST", "/me/2fa/confirm", api.CodeRequest{Code: "000000"})
		var rc identity.RecoveryCodes
		c.ok(200, "POST", "/me/2fa/confirm", api.CodeRequest{Code: oathtool(t, enr.Secret, e.clock.Now())}, &rc)
		if len(rc.Codes) != 10 {
			t.Fatalf("recovery codes: %v", rc.Codes)
		}
		var ts api.TwoStepResponse
		c.ok(200, "GET", "/me/2fa", nil, &ts)
		if !ts.Enabled || ts.RecoveryCodesLeft != 10 {
			t.Fatalf("2fa state %+v", ts)
		}

		e.clock.Advance(30 * time.Second)
		d := e.client()
		var si api.SignInResponse
		d.ok(200, "POST", "/auth/signin", api.SignInRequest{Email: "hana@example.com", Password: pw}, &si)
		if !si.SecondStepRequired || si.PendingToken == "" || si.User != nil || d.cookie(authn.SessionCookie) != nil {
			t.Fatalf("first step: %+v", si)
		}
		code := oathtool(t, enr.Secret, e.clock.Now())
		d.fails(identity.CodeTOTPInvalid, "POST", "/auth/signin/second-step", api.SecondStepRequest{PendingToken: si.PendingToken, Code: "12345x"})
		d.ok(200, "POST", "/auth/signin/second-step", api.SecondStepRequest{PendingToken: si.PendingToken, Code: code}, &si)
		if si.User == nil || d.cookie(authn.SessionCookie) == nil {
			t.Fatalf("second step: %+v", si)
		}
		d.fails(identity.CodeSigninExpired, "POST", "/auth/signin/second-step", api.SecondStepRequest{PendingToken: si.PendingToken, Code: code})

		// The same code again, on a fresh sign-in: refused (each code works once).
		f := e.client()
		var si2 api.SignInResponse
		f.ok(200, "POST", "/auth/signin", api.SignInRequest{Email: "hana@example.com", Password: pw}, &si2)
		f.fails(identity.CodeTOTPInvalid, "POST", "/auth/signin/second-step", api.SecondStepRequest{PendingToken: si2.PendingToken, Code: code})
		// A recovery code works, once.
		f.ok(200, "POST", "/auth/signin/second-step", api.SecondStepRequest{PendingToken: si2.PendingToken, Code: rc.Codes[0]}, nil)
		g := e.client()
		var si3 api.SignInResponse
		g.ok(200, "POST", "/auth/signin", api.SignInRequest{Email: "hana@example.com", Password: pw}, &si3)
		g.fails(identity.CodeTOTPInvalid, "POST", "/auth/signin/second-step", api.SecondStepRequest{PendingToken: si3.PendingToken, Code: rc.Codes[0]})
		// The pending sign-in expires.
		e.clock.Advance(6 * time.Minute)
		g.fails(identity.CodeSigninExpired, "POST", "/auth/signin/second-step", api.SecondStepRequest{PendingToken: si3.PendingToken, Code: rc.Codes[1]})

		// Step-up: past the 5-minute window, regenerating codes asks for it again.
		d.fails(identity.CodeStepUpRequired, "POST", "/me/2fa/recovery-codes", nil)
		d.ok(200, "POST", "/me/step-up", identity.StepUpInput{Code: oathtool(t, enr.Secret, e.clock.Now())}, nil)
		d.ok(200, "POST", "/me/2fa/recovery-codes", nil, &rc)
		// Disabling needs the password and a code.
		e.clock.Advance(30 * time.Second)
		d.fails(identity.CodePasswordIncorrect, "POST", "/me/2fa/disable", api.DisableTwoStepRequest{Password: "nope-nope-1!", Code: oathtool(t, enr.Secret, e.clock.Now())})
		d.ok(204, "POST", "/me/2fa/disable", api.DisableTwoStepRequest{Password: pw, Code: oathtool(t, enr.Secret, e.clock.Now())}, nil)
		if e.mailCount("hana@example.com", "two_step_disabled") != 1 {
			t.Error("no notice of 2-step turned off")
		}
	})
}

func TestAPIKeysAndStepUp(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		c := e.verified("ivan@example.com")
		e.clock.Advance(6 * time.Minute)
		c.fails(identity.CodeStepUpRequired, "POST", "/me/api-keys", identity.CreateAPIKeyInput{Name: "shop", Scopes: []string{"read"}})
		c.fails(identity.CodePasswordIncorrect, "POST", "/me/step-up", identity.StepUpInput{Password: "wrong-Pass-1"})
		var su identity.StepUpResult
		c.ok(200, "POST", "/me/step-up", identity.StepUpInput{Password: pw}, &su)
		c.fails(apperr.CodeValidation, "POST", "/me/api-keys", identity.CreateAPIKeyInput{Name: "shop", Scopes: []string{"everything"}})
		var k identity.NewAPIKey
		c.ok(201, "POST", "/me/api-keys", identity.CreateAPIKeyInput{Name: "shop", Scopes: []string{"read"}}, &k)
		var k2 identity.NewAPIKey
		c.ok(201, "POST", "/me/api-keys", identity.CreateAPIKeyInput{Name: "hooks", Scopes: []string{"webhooks"}}, &k2)

		bot := e.client()
		bot.Header.Set("Authorization", "Bearer "+k.Secret)
		var me identity.User
		bot.ok(200, "GET", "/me", nil, &me)
		if me.Email != "ivan@example.com" {
			t.Fatal(me)
		}
		bot.ok(200, "GET", "/me/status", nil, nil)
		// A key cannot do what needs a person at a browser.
		bot.fails(apperr.CodeUnauthenticated, "POST", "/me/step-up", identity.StepUpInput{Password: pw})
		bot.fails(apperr.CodeUnauthenticated, "POST", "/me/api-keys", identity.CreateAPIKeyInput{Name: "x", Scopes: []string{"read"}})
		// …nor read without the read scope.
		hooks := e.client()
		hooks.Header.Set("Authorization", "Bearer "+k2.Secret)
		hooks.fails(apperr.CodeForbidden, "GET", "/me/sessions", nil)

		var keys api.APIKeysResponse
		c.ok(200, "GET", "/me/api-keys", nil, &keys)
		if len(keys.Keys) != 2 {
			t.Fatalf("keys %+v", keys)
		}
		b, _ := json.Marshal(keys)
		if strings.Contains(string(b), k.Secret) {
			t.Fatal("key secret listed again")
		}
		c.ok(204, "DELETE", "/me/api-keys/"+k.ID, nil, nil)
		bot.fails(apperr.CodeUnauthenticated, "GET", "/me", nil)
		e.client().do("GET", "/me", nil, nil)
		bad := e.client()
		bad.Header.Set("Authorization", "Bearer okp_not-a-key")
		bad.fails(apperr.CodeUnauthenticated, "GET", "/me", nil)
	})
}

// User A cannot see or touch user B's sessions, devices or keys: B's ids answer 404, the
// same as ids that do not exist.
func TestIsolationBetweenUsers(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		a := e.verified("ann@example.com")
		b := e.verified("ben@example.com")
		var bk identity.NewAPIKey
		b.ok(201, "POST", "/me/api-keys", identity.CreateAPIKeyInput{Name: "b", Scopes: []string{"read"}}, &bk)
		var bs api.SessionsResponse
		b.ok(200, "GET", "/me/sessions", nil, &bs)
		var bd api.DevicesResponse
		b.ok(200, "GET", "/me/devices", nil, &bd)
		if len(bs.Sessions) != 1 || len(bd.Devices) != 1 {
			t.Fatalf("b: %+v %+v", bs, bd)
		}
		a.fails(apperr.CodeNotFound, "DELETE", "/me/sessions/"+bs.Sessions[0].ID, nil)
		a.fails(apperr.CodeNotFound, "DELETE", "/me/api-keys/"+bk.ID, nil)
		a.fails(apperr.CodeNotFound, "DELETE", "/me/sessions/"+bd.Devices[0].ID, nil)
		var as api.SessionsResponse
		a.ok(200, "GET", "/me/sessions", nil, &as)
		var ad api.DevicesResponse
		a.ok(200, "GET", "/me/devices", nil, &ad)
		var ak api.APIKeysResponse
		a.ok(200, "GET", "/me/api-keys", nil, &ak)
		for _, s := range as.Sessions {
			if s.ID == bs.Sessions[0].ID {
				t.Fatal("A sees B's session")
			}
		}
		if len(ad.Devices) != 1 || ad.Devices[0].ID == bd.Devices[0].ID || len(ak.Keys) != 0 {
			t.Fatalf("A sees B's devices or keys: %+v %+v", ad, ak)
		}
		var ast identity.AccountStatus
		a.ok(200, "GET", "/me/status", nil, &ast)
		var bst identity.AccountStatus
		b.ok(200, "GET", "/me/status", nil, &bst)
		if ast.UserID == bst.UserID {
			t.Fatal("status not per user")
		}
		a.fails(apperr.CodeForbidden, "GET", "/agent/users?email=ben@example.com", nil)
		// B's things still work.
		b.ok(200, "GET", "/me/sessions", nil, &bs)
		if len(bs.Sessions) != 1 {
			t.Fatal("B's session was revoked by A")
		}
		// Revoke one's own other sessions.
		b2 := e.client()
		b2.ok(200, "POST", "/auth/signin", api.SignInRequest{Email: "ben@example.com", Password: pw}, nil)
		var rv api.RevokedResponse
		b.ok(200, "POST", "/me/sessions/revoke-others", nil, &rv)
		if rv.Revoked != 1 {
			t.Fatalf("revoked %d", rv.Revoked)
		}
		b2.fails(apperr.CodeUnauthenticated, "GET", "/me", nil)
	})
}

func TestPasswordResetEndsSessions(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		c := e.verified("jon@example.com")
		anon := e.client()
		var known, unknown identity.ResetRequested
		anon.ok(202, "POST", "/auth/password-reset/request", identity.ResetRequest{Email: "jon@example.com"}, &known)
		anon.ok(202, "POST", "/auth/password-reset/request", identity.ResetRequest{Email: "nobody@example.com"}, &unknown)
		if known != unknown {
			t.Fatalf("the answer reveals whether the address exists: %+v vs %+v", known, unknown)
		}
		code, tok := e.mail("jon@example.com", "reset_password")
		if code == "" || tok == "" {
			t.Fatal("reset mail without code or link")
		}
		anon.fails(apperr.CodeValidation, "POST", "/auth/password-reset", identity.ResetInput{Email: "jon@example.com", Code: code, NewPassword: "short"})
		anon.fails(identity.CodeCodeExpired, "POST", "/auth/password-reset", identity.ResetInput{Email: "nobody@example.com", Code: code, NewPassword: "Green-Kettle-2027!"})
		const newPw = "Green-Kettle-2027!"
		anon.ok(204, "POST", "/auth/password-reset", identity.ResetInput{Email: "jon@example.com", Code: code, NewPassword: newPw}, nil)
		c.fails(apperr.CodeUnauthenticated, "GET", "/me", nil)
		anon.fails(identity.CodeCodeExpired, "POST", "/auth/password-reset", identity.ResetInput{Token: tok, NewPassword: "Other-Kettle-2028!"})
		e.client().fails(identity.CodeInvalidCredentials, "POST", "/auth/signin", api.SignInRequest{Email: "jon@example.com", Password: pw})
		e.client().ok(200, "POST", "/auth/signin", api.SignInRequest{Email: "jon@example.com", Password: newPw}, nil)
		if e.mailCount("jon@example.com", "password_changed") != 1 {
			t.Error("no password-changed notice")
		}
		// By link, after the code expired.
		anon.ok(202, "POST", "/auth/password-reset/request", identity.ResetRequest{Email: "jon@example.com"}, nil)
		code, _ = e.mail("jon@example.com", "reset_password")
		e.clock.Advance(16 * time.Minute)
		anon.fails(identity.CodeCodeExpired, "POST", "/auth/password-reset", identity.ResetInput{Email: "jon@example.com", Code: code, NewPassword: "Other-Kettle-2028!"})
	})
}

func TestFreezeAndUnfreeze(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		c := e.verified("kai@example.com")
		c.Header.Set("Idempotency-Key", "freeze-1")
		var r identity.Restriction
		resp := c.ok(201, "POST", "/me/freeze", api.FreezeRequest{Reason: "lost my phone"}, &r)
		if resp.Header.Get("Idempotent-Replayed") != "" || r.Kind != identity.KindFreeze {
			t.Fatalf("freeze: %+v", r)
		}
		c.Header.Del("Idempotency-Key")
		// The freeze ended every session, this one too.
		c.fails(apperr.CodeUnauthenticated, "GET", "/me", nil)
		c.ok(200, "POST", "/auth/signin", api.SignInRequest{Email: "kai@example.com", Password: pw}, nil)
		var st identity.AccountStatus
		c.ok(200, "GET", "/me/status", nil, &st)
		if len(st.Items) != 1 || st.Items[0].Kind != identity.StatusFrozenByOwner || st.Items[0].Reason != "lost my phone" || st.CanSend {
			t.Fatalf("status: %+v", st)
		}
		c.fails(identity.CodeAlreadyFrozen, "POST", "/me/freeze", api.FreezeRequest{})
		// Without 2-step, the second factor is an emailed code.
		c.ok(200, "POST", "/me/unfreeze/code", nil, nil)
		code, _ := e.mail("kai@example.com", "unfreeze_code")
		c.fails(identity.CodePasswordIncorrect, "POST", "/me/unfreeze", identity.UnfreezeInput{Password: "Wrong-pass-1", Code: code})
		c.ok(204, "POST", "/me/unfreeze", identity.UnfreezeInput{Password: pw, Code: code}, nil)
		c.ok(200, "GET", "/me/status", nil, &st)
		if len(st.Items) != 0 || !st.CanSend {
			t.Fatalf("status after unfreeze: %+v", st)
		}
		c.fails(identity.CodeNotFrozen, "POST", "/me/unfreeze", identity.UnfreezeInput{Password: pw, Code: code})

		// A sign-in from a new device mails a "this wasn't me" link that freezes without
		// signing in.
		stranger := e.client()
		stranger.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Safari/537.36")
		var si api.SignInResponse
		stranger.ok(200, "POST", "/auth/signin", api.SignInRequest{Email: "kai@example.com", Password: pw}, &si)
		if !si.NewDevice {
			t.Fatalf("new device not noticed: %+v", si)
		}
		_, tok := e.mail("kai@example.com", "new_signin")
		e.client().ok(204, "POST", "/auth/freeze-link", api.TokenRequest{Token: tok}, nil)
		stranger.fails(apperr.CodeUnauthenticated, "GET", "/me", nil)
		e.client().fails(identity.CodeCodeExpired, "POST", "/auth/freeze-link", api.TokenRequest{Token: "not-a-token"})
	})
}

// A retried mutating call with the same Idempotency-Key replays the first answer.
func TestIdempotentRetry(t *testing.T) {
	e := newEnv(t, db.SQLite, relaxedLimits(), false)
	c := e.verified("lea@example.com")
	c.Header.Set("Idempotency-Key", "k-1")
	var k1, k2 identity.NewAPIKey
	c.ok(201, "POST", "/me/api-keys", identity.CreateAPIKeyInput{Name: "shop", Scopes: []string{"read"}}, &k1)
	resp := c.ok(201, "POST", "/me/api-keys", identity.CreateAPIKeyInput{Name: "shop", Scopes: []string{"read"}}, &k2)
	if resp.Header.Get("Idempotent-Replayed") != "true" || k1.ID != k2.ID {
		t.Fatalf("not replayed: %v %s %s", resp.Header, k1.ID, k2.ID)
	}
	c.fails(apperr.CodeIdempotencyConflict, "POST", "/me/api-keys", identity.CreateAPIKeyInput{Name: "other", Scopes: []string{"read"}})
}

var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

func (c *client) upload(kind string, data []byte) (*http.Response, errBody) {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("kind", kind)
	fw, _ := mw.CreateFormFile("file", "id.png")
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", c.e.srv.URL+"/api/v1/me/identity/documents", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var eb errBody
	json.Unmarshal(raw, &eb)
	return resp, eb
}

func TestIdentityLevels(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		c := e.verified("mia@example.com")
		if resp, eb := c.upload("id_front", pngBytes); eb.Error.Code != identity.CodeLevelRequirement {
			t.Fatalf("upload before level 1: %d %+v", resp.StatusCode, eb)
		}
		eb := c.fails(apperr.CodeValidation, "POST", "/me/identity", identity.IdentityInput{RealName: "Mia", IDType: "cn_resident", IDNumber: "110105194912310021", BirthDate: "1949-12-31"})
		if len(eb.Error.Fields) == 0 || eb.Error.Fields[0].Field != "id_number" {
			t.Fatalf("fields: %+v", eb.Error.Fields)
		}
		var prof identity.IdentityProfile
		c.ok(200, "POST", "/me/identity", identity.IdentityInput{RealName: "Mia Wang", IDType: "cn_resident", IDNumber: "11010519491231002X", BirthDate: "1949-12-31"}, &prof)
		if strings.Contains(prof.IDMasked, "19491231") {
			t.Fatalf("ID number not masked: %q", prof.IDMasked)
		}
		if _, eb := c.upload("id_front", []byte("#!/bin/sh\necho not an image\n")); eb.Error.Code != server.CodeDocumentType {
			t.Fatalf("script accepted: %+v", eb)
		}
		if _, eb := c.upload("id_front", append(pngBytes, make([]byte, server.MaxDocumentBytes)...)); eb.Error.Code != server.CodeDocumentTooLarge && eb.Error.Code != apperr.CodeBodyTooLarge {
			t.Fatalf("oversized accepted: %+v", eb)
		}
		if _, eb := c.upload("tattoo", pngBytes); eb.Error.Code != apperr.CodeValidation {
			t.Fatalf("bad kind accepted: %+v", eb)
		}
		resp, eb := c.upload("id_front", pngBytes)
		if resp.StatusCode != 201 {
			t.Fatalf("upload: %d %+v", resp.StatusCode, eb)
		}
		var idr api.IdentityResponse
		c.ok(200, "GET", "/me/identity", nil, &idr)
		if idr.Level != 1 || len(idr.Documents) != 1 || idr.Documents[0].Status != identity.DocPending {
			t.Fatalf("identity: %+v", idr)
		}
		if _, err := e.svc.CreateUser(context.Background(), identity.CreateUserInput{Email: "rev@example.com", Password: pw, Role: identity.RoleAgent, Verified: true}); err != nil {
			t.Fatal(err)
		}
		agent := e.client()
		agent.ok(200, "POST", "/auth/signin", api.SignInRequest{Email: "rev@example.com", Password: pw}, nil)
		var q api.DocumentsResponse
		agent.ok(200, "GET", "/agent/documents", nil, &q)
		if len(q.Documents) != 1 {
			t.Fatalf("queue %+v", q)
		}
		fr, err := agent.hc.Get(e.srv.URL + "/api/v1/agent/documents/" + q.Documents[0].ID + "/file")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(fr.Body)
		fr.Body.Close()
		if fr.StatusCode != 200 || !bytes.Equal(got, pngBytes) || fr.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("file: %d %q", fr.StatusCode, fr.Header.Get("Content-Type"))
		}
		c.fails(apperr.CodeForbidden, "GET", "/agent/documents/"+q.Documents[0].ID+"/file", nil)
		agent.fails(apperr.CodeValidation, "POST", "/agent/documents/"+q.Documents[0].ID+"/review", api.ReviewRequest{Approve: false})
		agent.ok(200, "POST", "/agent/documents/"+q.Documents[0].ID+"/review", api.ReviewRequest{Approve: true}, nil)
		agent.fails(identity.CodeReviewConflict, "POST", "/agent/documents/"+q.Documents[0].ID+"/review", api.ReviewRequest{Approve: true})
		var me identity.User
		c.ok(200, "GET", "/me", nil, &me)
		if me.Level != 2 {
			t.Fatalf("level %d", me.Level)
		}
	})
}

// Every account route is in the OpenAPI document with its error codes.
func TestAccountRoutesDocumented(t *testing.T) {
	e := newEnv(t, db.SQLite, relaxedLimits(), false)
	resp, err := e.srv.Client().Get(e.srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]struct {
			Security  []any          `json:"security"`
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/auth/register", "/auth/verify-email", "/auth/resend-verification", "/auth/signin", "/auth/signin/second-step",
		"/auth/signout", "/auth/password-reset/request", "/auth/password-reset", "/me", "/me/status", "/me/sessions", "/me/devices",
		"/me/api-keys", "/me/2fa/setup", "/me/2fa/confirm", "/me/step-up", "/me/freeze", "/me/unfreeze", "/me/identity",
		"/me/identity/documents", "/agent/users/{id}/unlock", "/agent/users/{id}/unfreeze", "/agent/documents/{id}/review"} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("%s not in the OpenAPI document", p)
		}
	}
	if op := doc.Paths["/auth/signin"]["post"]; op.Responses["423"] == nil || op.Responses["429"] == nil {
		t.Errorf("sign-in errors not documented: %v", op.Responses)
	}
	if op := doc.Paths["/me/api-keys"]["post"]; len(op.Security) == 0 {
		t.Error("auth not documented")
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
