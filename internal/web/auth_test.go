package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"html"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"okpay/internal/authn"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/notify"
)

// acctEnv serves the UI with the account pages over a database, the way the server does:
// base middleware, cross-origin protection, authn.
type acctEnv struct {
	t     *testing.T
	d     *db.DB
	clock *dbtest.Clock
	svc   *identity.Service
	srv   *httptest.Server
	logs  *syncBuffer
}

// memDocs keeps uploads in memory with the store's content check (the real store is the
// server's; its own behaviour is tested through the API).
type memDocs struct{ files map[string][]byte }

func (m *memDocs) Save(_ context.Context, userID string, r io.Reader) (identity.DocumentInput, error) {
	b, _ := io.ReadAll(io.LimitReader(r, 5<<20))
	ct := http.DetectContentType(b)
	ref := userID + "/" + time.Now().Format("150405.000000")
	m.files[ref] = b
	return identity.DocumentInput{StorageRef: ref, ContentType: ct, SizeBytes: int64(len(b)), SHA256: strings.Repeat("a", 64)}, nil
}

func (m *memDocs) Open(ref string) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(m.files[ref])), nil
}

func newAcctEnv(t *testing.T, engine db.Engine, limits identity.RateLimits) *acctEnv {
	t.Helper()
	clock := dbtest.NewClock()
	clock.Set(time.Now().Truncate(time.Second))
	d := dbtest.Open(t, engine, clock)
	svc, err := identity.New(d, identity.Config{SecretKey: bytes.Repeat([]byte{9}, 32), Argon2: identity.TestArgon2, RateLimits: limits})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	ui, err := New(Config{Version: "test", Log: log, Accounts: &Accounts{Service: svc, Documents: &memDocs{files: map[string][]byte{}}}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	srv := httptest.NewServer(httpx.Base(http.NewCrossOriginProtection().Handler(authn.Middleware(svc, mux)), log, nil))
	t.Cleanup(srv.Close)
	return &acctEnv{t: t, d: d, clock: clock, svc: svc, srv: srv, logs: logs}
}

func roomy() identity.RateLimits {
	r := identity.Rate{Burst: 10000, Every: time.Millisecond}
	return identity.RateLimits{SignIn: r, Code: r, Register: r, Reset: r}
}

// browser is a person with a cookie jar who does not follow redirects by themselves.
type browser struct {
	t    *testing.T
	e    *acctEnv
	hc   *http.Client
	lang string
}

func (e *acctEnv) browser(lang string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, e: e, lang: lang, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) send(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	req.Header.Set("Accept-Language", b.lang)
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.e.srv.URL+path, nil)
	return b.send(req)
}

func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// What a browser sends for a same-origin form.
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.send(req)
}

// follow posts and, on a redirect, loads the target.
func (b *browser) follow(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	resp, body := b.post(path, form)
	for i := 0; i < 3 && resp.StatusCode == http.StatusSeeOther; i++ {
		resp, body = b.get(resp.Header.Get("Location"))
	}
	return resp, body
}

func (e *acctEnv) code(to, kind string) (string, string) {
	e.t.Helper()
	ms, err := notify.ListMail(context.Background(), e.d, to, 50)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range ms {
		if m.Kind == kind {
			c := regexp.MustCompile(`\b(\d{6})\b`).FindStringSubmatch(m.Text)
			tk := regexp.MustCompile(`token=([A-Za-z0-9_%-]+)`).FindStringSubmatch(m.Text)
			var code, tok string
			if c != nil {
				code = c[1]
			}
			if tk != nil {
				tok = tk[1]
			}
			return code, tok
		}
	}
	e.t.Fatalf("no %s mail to %s", kind, to)
	return "", ""
}

const webPW = "Blue-Kettle-2026!"

func (e *acctEnv) registered(email, lang string) *browser {
	e.t.Helper()
	b := e.browser(lang)
	resp, body := b.post("/register", url.Values{"email": {email}, "password": {webPW}, "lang": {lang}})
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("register: %d\n%s", resp.StatusCode, body)
	}
	return b
}

func acctEngines(t *testing.T, fn func(t *testing.T, e *acctEnv)) {
	for _, eng := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(eng), func(t *testing.T) {
			if eng == db.Postgres {
				dbtest.PostgresURL(t)
			}
			fn(t, newAcctEnv(t, eng, roomy()))
		})
	}
}

func TestWebRegisterVerify(t *testing.T) {
	acctEngines(t, func(t *testing.T, e *acctEnv) {
		v := e.browser("en")
		_, body := v.get("/register")
		mustContain(t, body, "8 to 128 characters", "letters, digits and at least one symbol", "not a commonly used password")
		// Failure paths show the message next to the field and keep what was typed.
		resp, body := v.post("/register", url.Values{"email": {"nina@example.com"}, "password": {"password1"}, "lang": {"en"}})
		if resp.StatusCode != 422 {
			t.Fatalf("weak password: %d", resp.StatusCode)
		}
		mustContain(t, body, `class="field-error"`, `value="nina@example.com"`, "validation_failed")
		if strings.Contains(body, "password1") {
			t.Error("the password was echoed back into the page")
		}
		b := e.registered("nina@example.com", "en")
		_, body = b.get("/verify-email?sent=1")
		mustContain(t, body, "nina@example.com", "spam", "Send a new code")
		// Already registered: the page says so and offers sign-in and reset.
		resp, body = e.browser("zh-CN").post("/register", url.Values{"email": {"nina@example.com"}, "password": {webPW}, "lang": {"zh-CN"}})
		if resp.StatusCode != 409 {
			t.Fatalf("duplicate: %d", resp.StatusCode)
		}
		mustContain(t, body, "该邮箱已注册", `href="/signin"`, `href="/forgot-password"`)
		// Resend too soon: when to come back, and the spam folder.
		resp, body = b.post("/verify-email/resend", nil)
		if resp.StatusCode != 429 {
			t.Fatalf("resend cooldown: %d", resp.StatusCode)
		}
		mustContain(t, body, "resend_cooldown", "spam folder", "data-ready-at")
		// Wrong code, then the right one.
		resp, body = b.post("/verify-email", url.Values{"code": {"000000"}})
		if resp.StatusCode != 422 {
			code, _ := e.code("nina@example.com", "verify_email")
			if code != "000000" {
				t.Fatalf("wrong code: %d", resp.StatusCode)
			}
		}
		mustContain(t, body, "code_invalid", "tries left")
		code, tok := e.code("nina@example.com", "verify_email")
		_, body = b.follow("/verify-email", url.Values{"code": {code}})
		mustContain(t, body, "Your email address is verified")
		// The link's landing page asks for one click; a used link says what to do.
		_, body = e.browser("en").get("/verify-email?token=" + tok)
		mustContain(t, body, `action="/verify-email/link"`, "Confirm my email address")
		resp, body = e.browser("en").post("/verify-email/link", url.Values{"token": {tok}})
		if resp.StatusCode != 410 {
			t.Fatalf("used link: %d", resp.StatusCode)
		}
		mustContain(t, body, "code_expired")
	})
}

func TestWebSignInFailures(t *testing.T) {
	acctEngines(t, func(t *testing.T, e *acctEnv) {
		e.registered("omar@example.com", "en")
		b := e.browser("en")
		resp, body := b.post("/signin", url.Values{"email": {"omar@example.com"}, "password": {"Wrong-Kettle-1!"}})
		if resp.StatusCode != 401 {
			t.Fatalf("wrong password: %d", resp.StatusCode)
		}
		mustContain(t, body, "The email or password is wrong", `href="/forgot-password"`, `value="omar@example.com"`)
		for i := 0; i < 4; i++ {
			resp, body = b.post("/signin", url.Values{"email": {"omar@example.com"}, "password": {"Wrong-Kettle-1!"}})
		}
		if resp.StatusCode != 423 {
			t.Fatalf("lockout: %d", resp.StatusCode)
		}
		until := e.clock.Now().Add(15 * time.Minute).UTC().Format("15:04 UTC")
		mustContain(t, body, "locked", until, `href="/forgot-password"`)
		// Chinese readers see Beijing time.
		_, body = e.browser("zh-CN").post("/signin", url.Values{"email": {"omar@example.com"}, "password": {webPW}})
		mustContain(t, body, "已被锁定至", e.clock.Now().Add(15*time.Minute).In(beijing).Format("15:04"), "北京时间")
		// After the lock: sign in, land on the account.
		e.clock.Advance(16 * time.Minute)
		resp, _ = b.post("/signin", url.Values{"email": {"omar@example.com"}, "password": {webPW}, "next": {"/account/status"}})
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/account/status" {
			t.Fatalf("sign-in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		// An open redirect is not possible through next.
		resp, _ = e.browser("en").post("/signin", url.Values{"email": {"omar@example.com"}, "password": {webPW}, "next": {"//evil.example/x"}})
		if loc := resp.Header.Get("Location"); loc != "/account" {
			t.Fatalf("next not sanitised: %q", loc)
		}
	})
}

func TestWebRateLimited(t *testing.T) {
	e := newAcctEnv(t, db.SQLite, identity.DefaultRateLimits)
	b := e.browser("en")
	var resp *http.Response
	var body string
	for i := 0; i < 30; i++ {
		resp, body = b.post("/signin", url.Values{"email": {"nobody@example.com"}, "password": {"Wrong-Kettle-1!"}})
		if resp.StatusCode == 429 {
			break
		}
	}
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("got %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	mustContain(t, body, "Too many attempts", "Wait "+resp.Header.Get("Retry-After")+" seconds")
}

func TestWebForgotNeverReveals(t *testing.T) {
	e := newAcctEnv(t, db.SQLite, roomy())
	e.registered("pia@example.com", "en")
	_, known := e.browser("en").post("/forgot-password", url.Values{"channel": {"email"}, "email": {"pia@example.com"}})
	_, unknown := e.browser("en").post("/forgot-password", url.Values{"channel": {"email"}, "email": {"ghost@example.com"}})
	strip := func(s string) string {
		for _, a := range []string{"pia@example.com", "ghost@example.com"} {
			s = strings.ReplaceAll(strings.ReplaceAll(s, a, "X"), url.QueryEscape(a), "X")
		}
		return regexp.MustCompile(`<code>[0-9a-f]{16}</code>|request_id[^<]*`).ReplaceAllString(s, "")
	}
	if strip(known) != strip(unknown) {
		t.Fatal("the reset page answers differently for a registered address")
	}
	mustContain(t, known, "If an account uses this address", "spam folder")
	code, _ := e.code("pia@example.com", "reset_password")
	b := e.browser("en")
	resp, body := b.post("/reset-password", url.Values{"channel": {"email"}, "email": {"pia@example.com"}, "code": {code}, "password": {"short"}})
	if resp.StatusCode != 422 {
		t.Fatalf("weak new password: %d", resp.StatusCode)
	}
	mustContain(t, body, "field-error")
	_, body = b.follow("/reset-password", url.Values{"channel": {"email"}, "email": {"pia@example.com"}, "code": {code}, "password": {"Green-Kettle-2027!"}})
	mustContain(t, body, "Your password was reset")
}

func TestWebSecurityAndStepUp(t *testing.T) {
	acctEngines(t, func(t *testing.T, e *acctEnv) {
		b := e.registered("quin@example.com", "en")
		e.clock.Advance(6 * time.Minute)
		resp, body := b.post("/account/api-keys", url.Values{"name": {"shop"}, "scopes": {"read"}})
		if resp.StatusCode != 403 {
			t.Fatalf("no step-up: %d", resp.StatusCode)
		}
		mustContain(t, body, "step_up_required", `action="/account/step-up"`, `id="stepup-password"`)
		resp, body = b.post("/account/step-up", url.Values{"password": {"Wrong-Kettle-1!"}, "section": {"api-keys"}})
		if resp.StatusCode != 403 {
			t.Fatalf("wrong step-up: %d", resp.StatusCode)
		}
		mustContain(t, body, "password_incorrect")
		_, body = b.follow("/account/step-up", url.Values{"password": {webPW}, "section": {"api-keys"}})
		mustContain(t, body, "You can make sensitive changes for the next 5 minutes")
		resp, body = b.post("/account/api-keys", url.Values{"name": {"shop"}, "scopes": {"read", "payments"}})
		if resp.StatusCode != 201 {
			t.Fatalf("create key: %d", resp.StatusCode)
		}
		secret := regexp.MustCompile(`id="api-key-secret">(okp_[^<]+)<`).FindStringSubmatch(body)
		if secret == nil {
			t.Fatal("key secret not shown")
		}
		_, body = b.get("/account/security")
		if strings.Contains(body, secret[1]) {
			t.Fatal("key secret shown again")
		}
		mustContain(t, body, "shop", "Payments, Read", "This device")
		// An API key is not a signed-in person for the pages.
		req, _ := http.NewRequest("GET", e.srv.URL+"/account", nil)
		req.Header.Set("Authorization", "Bearer "+secret[1])
		resp, _ = e.browser("en").send(req)
		if resp.StatusCode != 303 {
			t.Fatalf("API key opened a page: %d", resp.StatusCode)
		}
		// Sessions: a second browser, signed out from the first.
		b2 := e.browser("en")
		b2.post("/signin", url.Values{"email": {"quin@example.com"}, "password": {webPW}})
		_, body = b.follow("/account/sessions/revoke-others", nil)
		mustContain(t, body, "Every other session was signed out")
		if resp, _ := b2.get("/account"); resp.StatusCode != 303 {
			t.Fatalf("revoked session still works: %d", resp.StatusCode)
		}
	})
}

func TestWebFreezeStatusUnfreeze(t *testing.T) {
	acctEngines(t, func(t *testing.T, e *acctEnv) {
		b := e.registered("rita@example.com", "en")
		_, body := b.get("/account/status")
		mustContain(t, body, "Email not verified", `href="/verify-email"`, `action="/verify-email/resend"`, "Limits at level 0", "1000.00 CNY")
		resp, body := b.post("/account/freeze", url.Values{"reason": {"phone stolen"}})
		if resp.StatusCode != 200 {
			t.Fatalf("freeze: %d", resp.StatusCode)
		}
		mustContain(t, body, "Your account is frozen")
		if resp, _ := b.get("/account"); resp.StatusCode != 303 {
			t.Fatal("session survived the freeze")
		}
		b.post("/signin", url.Values{"email": {"rita@example.com"}, "password": {webPW}})
		_, body = b.get("/account/status")
		mustContain(t, body, "Frozen by you", "phone stolen", `href="/account/unfreeze"`, "You")
		_, body = b.get("/account/unfreeze")
		mustContain(t, body, "Email me an unfreeze code")
		_, body = b.follow("/account/unfreeze/code", nil)
		mustContain(t, body, "We emailed you a code")
		code, _ := e.code("rita@example.com", "unfreeze_code")
		resp, body = b.post("/account/unfreeze", url.Values{"password": {"Wrong-Kettle-1!"}, "code": {code}})
		if resp.StatusCode != 403 {
			t.Fatalf("wrong password: %d", resp.StatusCode)
		}
		mustContain(t, body, "password_incorrect")
		_, body = b.follow("/account/unfreeze", url.Values{"password": {webPW}, "code": {code}})
		mustContain(t, body, "Your account is unfrozen")
	})
}

func TestWebFreezeLinkAndAgent(t *testing.T) {
	e := newAcctEnv(t, db.SQLite, roomy())
	e.registered("sol@example.com", "en")
	// A sign-in from another browser mails the "this wasn't me" link.
	other := e.browser("en")
	other.post("/signin", url.Values{"email": {"sol@example.com"}, "password": {webPW}})
	_, tok := e.code("sol@example.com", "new_signin")
	v := e.browser("en")
	_, body := v.get("/freeze?token=" + tok)
	mustContain(t, body, "Freeze my account now", `action="/freeze"`)
	_, body = v.post("/freeze", url.Values{"token": {tok}})
	mustContain(t, body, "Your account is frozen", `href="/forgot-password"`)

	// A customer cannot open the agent page; an agent unfreezes with a reason.
	if resp, _ := other.get("/agent"); resp.StatusCode != 303 && resp.StatusCode != 403 {
		t.Fatalf("agent page for a customer: %d", resp.StatusCode)
	}
	other.post("/signin", url.Values{"email": {"sol@example.com"}, "password": {webPW}})
	if resp, _ := other.get("/agent"); resp.StatusCode != 403 {
		t.Fatalf("agent page for a customer: %d", resp.StatusCode)
	}
	if _, err := e.svc.CreateUser(context.Background(), identity.CreateUserInput{Email: "tom@example.com", Password: webPW, Role: identity.RoleAgent, Verified: true}); err != nil {
		t.Fatal(err)
	}
	a := e.browser("en")
	// Staff land on their console; nothing on the account pages would lead them there.
	if resp, _ := a.post("/signin", url.Values{"email": {"tom@example.com"}, "password": {webPW}}); resp.Header.Get("Location") != "/agent" {
		t.Fatalf("agent sign-in lands on %q, want /agent", resp.Header.Get("Location"))
	}
	_, body = a.get("/agent/accounts?email=sol@example.com")
	mustContain(t, body, "sol@example.com", "Frozen by you", "Unfreeze")
	id := regexp.MustCompile(`data-user="([0-9a-f-]+)"`).FindStringSubmatch(body)
	resp, body := a.post("/agent/users/"+id[1]+"/unfreeze", url.Values{"email": {"sol@example.com"}})
	if resp.StatusCode != 422 {
		t.Fatalf("unfreeze without reason: %d", resp.StatusCode)
	}
	_, body = a.follow("/agent/users/"+id[1]+"/unfreeze", url.Values{"email": {"sol@example.com"}, "reason": {"ID checked on a call"}})
	mustContain(t, body, "Your account is unfrozen")
}

func TestWebIdentityUpload(t *testing.T) {
	e := newAcctEnv(t, db.SQLite, roomy())
	b := e.registered("uli@example.com", "zh-CN")
	code, _ := e.code("uli@example.com", "verify_email")
	b.post("/verify-email", url.Values{"code": {code}})
	resp, body := b.post("/account/identity", url.Values{"real_name": {"Uli"}, "id_type": {"cn_resident"}, "id_number": {"110105194912310021"}, "birth_date": {"1949-12-31"}})
	if resp.StatusCode != 422 {
		t.Fatalf("bad ID: %d", resp.StatusCode)
	}
	mustContain(t, body, "证件号码无效", `value="Uli"`)
	_, body = b.follow("/account/identity", url.Values{"real_name": {"Uli Wang"}, "id_type": {"cn_resident"}, "id_number": {"11010519491231002X"}, "birth_date": {"1949-12-31"}})
	mustContain(t, body, "1 级", "居民身份证", `enctype="multipart/form-data"`)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("kind", "id_front")
	fw, _ := mw.CreateFormFile("file", "id.png")
	fw.Write([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"))
	mw.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+"/account/identity/document", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, _ = b.send(req)
	if resp.StatusCode != 303 {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	_, body = b.get(resp.Header.Get("Location"))
	mustContain(t, body, "证件已上传", "待审核", "身份证正面")
}

// Keys chosen in Go (confirmations, next steps, enumerations) exist in both languages;
// templates' literal keys are checked by TestTranslations.
func TestAccountKeys(t *testing.T) {
	text, err := loadLocales(embedded)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range doneKeys {
		keys = append(keys, k)
	}
	for _, code := range []string{identity.CodeEmailTaken, identity.CodeAccountLocked, identity.CodeEmailNotVerified, identity.CodeSigninExpired,
		identity.CodeAccountFrozen, identity.CodeUnfreezeNeedsSupport, identity.CodeLevelRequirement, identity.CodeTOTPNotPending, identity.CodePhoneNotVerified} {
		for _, a := range actionsFor(code, "") {
			keys = append(keys, a.Key)
		}
	}
	for _, w := range []string{"verify", "verify-link", "reset", "unfreeze"} {
		for _, a := range actionsFor(identity.CodeCodeExpired, w) {
			keys = append(keys, a.Key)
		}
	}
	for _, r := range identity.Roles {
		keys = append(keys, roleKey(r))
	}
	for _, s := range identity.Scopes {
		keys = append(keys, scopeKey(s))
	}
	for _, k := range []string{identity.StatusEmailNotVerified, identity.StatusLocked, identity.StatusFrozenByOwner, identity.StatusFrozen, identity.StatusRestricted} {
		keys = append(keys, kindKey(k))
	}
	for _, by := range []string{"user", "agent", "admin", "system"} {
		keys = append(keys, byKey(by))
	}
	for _, s := range identity.KeyScopes {
		keys = append(keys, keyScopeKey(s))
	}
	for k := range documentKinds {
		keys = append(keys, docKindKey(k))
	}
	for _, s := range []string{identity.DocPending, identity.DocApproved, identity.DocRejected} {
		keys = append(keys, docStatusKey(s))
	}
	keys = append(keys, idTypeKey(identity.IDTypeCNResident), idTypeKey(identity.IDTypePassport), "acct.place.local")
	for _, k := range keys {
		for _, lang := range Langs {
			if _, ok := text[lang][k]; !ok {
				t.Errorf("%s: missing %q", lang, k)
			}
		}
	}
}

func webTOTP(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:off+4])&0x7fffffff)%1_000_000)
}

// 2-step through the pages: a wrong first code shows the same QR code again; the right one
// shows the recovery codes once; sign-in asks for the second step; turning it off needs the
// password and a code.
func TestWebTwoStep(t *testing.T) {
	e := newAcctEnv(t, db.SQLite, roomy())
	b := e.registered("vera@example.com", "en")
	resp, body := b.post("/account/2fa/setup", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("setup: %d", resp.StatusCode)
	}
	secret := regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindStringSubmatch(body)
	uri := regexp.MustCompile(`name="uri" value="([^"]+)"`).FindStringSubmatch(body)
	if secret == nil || uri == nil || !strings.Contains(body, "<svg") {
		t.Fatalf("setup page lacks the QR code or secret:\n%s", body)
	}
	u := html.UnescapeString(uri[1])
	resp, body = b.post("/account/2fa/confirm", url.Values{"code": {"000000"}, "secret": {secret[1]}, "uri": {u}})
	if resp.StatusCode != 422 || !strings.Contains(body, secret[1]) || !strings.Contains(body, "<svg") {
		t.Fatalf("wrong first code: %d", resp.StatusCode)
	}
	mustContain(t, body, "totp_invalid")
	now := e.clock.Now()
	_, body = b.post("/account/2fa/confirm", url.Values{"code": {webTOTP(t, secret[1], now)}, "secret": {secret[1]}, "uri": {u}})
	codes := regexp.MustCompile(`<li><code>([^<]+)</code></li>`).FindAllStringSubmatch(body, -1)
	if len(codes) != 10 {
		t.Fatalf("recovery codes: %d", len(codes))
	}
	b2 := e.browser("en")
	resp, _ = b2.post("/signin", url.Values{"email": {"vera@example.com"}, "password": {webPW}})
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/signin/second-step") {
		t.Fatalf("no second step: %q", loc)
	}
	resp, body = b2.post("/signin/second-step", url.Values{"code": {webTOTP(t, secret[1], now)}})
	if resp.StatusCode != 422 {
		t.Fatalf("replayed code: %d", resp.StatusCode)
	}
	mustContain(t, body, "totp_invalid", "already used")
	resp, _ = b2.post("/signin/second-step", url.Values{"code": {codes[0][1]}})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/account" {
		t.Fatalf("recovery code sign-in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	e.clock.Advance(30 * time.Second)
	resp, body = b2.post("/account/2fa/disable", url.Values{"password": {"Wrong-Kettle-1!"}, "code": {webTOTP(t, secret[1], e.clock.Now())}})
	if resp.StatusCode != 403 {
		t.Fatalf("disable with a wrong password: %d", resp.StatusCode)
	}
	_, body = b2.follow("/account/2fa/disable", url.Values{"password": {webPW}, "code": {webTOTP(t, secret[1], e.clock.Now())}})
	mustContain(t, body, "2-step verification is off")
}
