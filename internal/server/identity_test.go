package server_test

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"okpay/internal/apperr"
	"okpay/internal/identity"
	"okpay/internal/server"
)

// smtpInbox is a real SMTP server on 127.0.0.1 that keeps what it receives.
type smtpInbox struct {
	Addr string
	mu   sync.Mutex
	got  [][]byte
}

type smtpSession struct{ in *smtpInbox }

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "okpay" || pass != "smtp-Secret-9" {
			return errors.New("bad credentials")
		}
		return nil
	}), nil
}
func (s *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.in.mu.Lock()
	s.in.got = append(s.in.got, b)
	s.in.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

func startSMTP(t *testing.T) *smtpInbox {
	t.Helper()
	in := &smtpInbox{}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{in: in}, nil }))
	s.Domain = "localhost"
	s.AllowInsecureAuth = true // loopback only
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in.Addr = l.Addr().String()
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return in
}

// plainText returns the decoded text/plain part of a received message to rcpt whose
// subject contains subj, waiting for the outbox worker to deliver it.
func (in *smtpInbox) plainText(t *testing.T, rcpt, subj string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		in.mu.Lock()
		msgs := append([][]byte(nil), in.got...)
		in.mu.Unlock()
		for i := len(msgs) - 1; i >= 0; i-- {
			m, err := mail.ReadMessage(bytes.NewReader(msgs[i]))
			if err != nil {
				t.Fatalf("received message does not parse: %v", err)
			}
			dec := new(mime.WordDecoder)
			subject, _ := dec.DecodeHeader(m.Header.Get("Subject"))
			if !strings.Contains(m.Header.Get("To"), rcpt) || !strings.Contains(subject, subj) {
				continue
			}
			return textPart(t, m.Header, m.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no mail %q to %s arrived over SMTP", subj, rcpt)
	return ""
}

func textPart(t *testing.T, h interface{ Get(string) string }, body io.Reader) string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type %q: %v", h.Get("Content-Type"), err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				t.Fatalf("no text part: %v", err)
			}
			if s := textPart(t, p.Header, p); s != "" {
				return s
			}
		}
	}
	if mt != "text/plain" {
		return ""
	}
	var r io.Reader = body
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64Reader(body)
	}
	b, _ := io.ReadAll(r)
	return string(b)
}

// The acceptance test for mail: the server sends the verification email through a real
// SMTP exchange, and the code read from the received message verifies the address.
func TestVerificationMailOverSMTP(t *testing.T) {
	relaxed(t)
	in := startSMTP(t)
	cfg := sqliteConfig(t)
	cfg.SMTPURL = "smtp://okpay:smtp-Secret-9@" + in.Addr + "?from=" + url.QueryEscape("OKPay <noreply@okpay.test>")
	app := start(t, cfg)
	c := newClient(t, app.URL())
	c.must(201, "POST", "/auth/register", map[string]string{"email": "sam@example.com", "password": "Blue-Kettle-2026!", "lang": "zh-CN"}, nil)
	text := in.plainText(t, "sam@example.com", "OKPay")
	m := regexp.MustCompile(`验证码是：(\d{6})`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no code in the received mail:\n%s", text)
	}
	var u identity.User
	c.must(200, "POST", "/auth/verify-email", map[string]string{"code": m[1]}, &u)
	if !u.EmailVerified {
		t.Fatalf("not verified: %+v", u)
	}
}

// Nothing secret reaches the log: a full flow — registration, verification, SMS in
// non-dev mode, password reset, 2-step set-up and sign-in, step-up, API key use, failed
// sign-ins, web forms — with the log at debug level, then a scan for every password, code,
// token and secret the flow handled.
func TestNoSecretsInLogs(t *testing.T) {
	relaxed(t)
	in := startSMTP(t)
	cfg := sqliteConfig(t)
	cfg.LogLevel = "debug"
	cfg.SMTPURL = "smtp://okpay:smtp-Secret-9@" + in.Addr + "?from=noreply@okpay.test"
	app, logs := startLogged(t, cfg)
	var secrets []string
	keep := func(s ...string) {
		for _, x := range s {
			if len(x) >= 6 {
				secrets = append(secrets, x)
			}
		}
	}
	const pw1, pw2, wrong = "Blue-Kettle-2026!", "Green-Kettle-2027!", "Wrong-Kettle-0000!"
	keep(pw1, pw2, wrong, "smtp-Secret-9")

	c := newClient(t, app.URL())
	c.must(201, "POST", "/auth/register", map[string]string{"email": "tess@example.com", "password": pw1, "lang": "en", "phone": "+8613800138000"}, nil)
	keep(c.cookie("okpay_session").Value, c.cookie("okpay_device").Value)
	code, tok := mailCode(t, app, "tess@example.com", "verify_email")
	keep(code, tok)
	c.fails(identity.CodeCodeInvalid, "POST", "/auth/verify-email", map[string]string{"code": "999999"})
	c.must(200, "POST", "/auth/verify-email", map[string]string{"code": code}, nil)
	// SMS without dev mode: the provider logs that nothing was delivered, never the text.
	c.must(200, "POST", "/me/phone", map[string]string{"phone": "+8613800138000"}, nil)
	c.must(202, "POST", "/auth/password-reset/request", map[string]string{"phone": "+8613800138000"}, nil)
	// Wrong passwords and a reset by email.
	anon := newClient(t, app.URL())
	anon.fails(identity.CodeInvalidCredentials, "POST", "/auth/signin", map[string]string{"email": "tess@example.com", "password": wrong})
	anon.must(202, "POST", "/auth/password-reset/request", map[string]string{"email": "tess@example.com"}, nil)
	rcode, rtok := mailCode(t, app, "tess@example.com", "reset_password")
	keep(rcode, rtok)
	anon.must(204, "POST", "/auth/password-reset", map[string]string{"email": "tess@example.com", "code": rcode, "new_password": pw2}, nil)

	// 2-step: set-up, sign-in with the second step, step-up, an API key.
	c = newClient(t, app.URL())
	c.must(200, "POST", "/auth/signin", map[string]string{"email": "tess@example.com", "password": pw2}, nil)
	keep(c.cookie("okpay_session").Value)
	var enr identity.TOTPEnrolment
	c.must(200, "POST", "/me/2fa/setup", nil, &enr)
	keep(enr.Secret)
	now := time.Now()
	first := totp(t, enr.Secret, now)
	var rc identity.RecoveryCodes
	c.must(200, "POST", "/me/2fa/confirm", map[string]string{"code": first}, &rc)
	keep(first)
	keep(rc.Codes...)
	d := newClient(t, app.URL())
	var si struct {
		PendingToken string `json:"pending_token"`
	}
	d.must(200, "POST", "/auth/signin", map[string]string{"email": "tess@example.com", "password": pw2}, &si)
	keep(si.PendingToken)
	second := totp(t, enr.Secret, now.Add(30*time.Second))
	keep(second)
	d.must(200, "POST", "/auth/signin/second-step", map[string]string{"pending_token": si.PendingToken, "code": second}, nil)
	keep(d.cookie("okpay_session").Value)
	d.must(200, "POST", "/me/step-up", map[string]string{"code": rc.Codes[0]}, nil)
	var key identity.NewAPIKey
	d.must(201, "POST", "/me/api-keys", map[string]any{"name": "shop", "scopes": []string{"read"}}, &key)
	keep(key.Secret)
	bot := newClient(t, app.URL())
	bot.Header.Set("Authorization", "Bearer "+key.Secret)
	bot.must(200, "GET", "/me", nil, nil)

	// The web forms too, including a failure.
	form := func(path string, v url.Values, cookie string) {
		req, _ := http.NewRequest("POST", app.URL()+path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	form("/signin", url.Values{"email": {"tess@example.com"}, "password": {wrong}}, "")
	form("/register", url.Values{"email": {"uma@example.com"}, "password": {pw1}, "lang": {"en"}}, "")
	form("/reset-password", url.Values{"email": {"tess@example.com"}, "code": {"123456"}, "password": {pw1}}, "")
	in.plainText(t, "tess@example.com", "verification") // SMTP deliveries went through the log path too

	// Wait for the outbox worker to reach the SMS (it logs the non-delivery), then a little
	// more for its last log lines.
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && !strings.Contains(logs.String(), "SMS not delivered"); {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	out := logs.String()
	if n := strings.Count(out, "msg=request"); n < 20 {
		t.Errorf("only %d requests logged: is the log captured?", n)
	}
	if !strings.Contains(out, "SMS not delivered") {
		t.Errorf("the non-dev SMS path did not run:\n%s", out)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("secret %q appears in the log", s)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", out)
	}
}

// A cross-site form post is refused before it reaches a handler, on the API and the pages.
func TestCrossSitePostRefused(t *testing.T) {
	relaxed(t)
	app := start(t, sqliteConfig(t))
	c := newClient(t, app.URL())
	c.must(201, "POST", "/auth/register", map[string]string{"email": "vic@example.com", "password": "Blue-Kettle-2026!", "lang": "en"}, nil)
	sess := c.cookie("okpay_session").Value
	for _, path := range []string{"/account/freeze", "/api/v1/me/freeze", "/signout", "/account/sessions/revoke-others"} {
		req, _ := http.NewRequest("POST", app.URL()+path, strings.NewReader("reason=evil"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Cookie", "okpay_session="+sess)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://evil.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), apperr.CodeCrossOrigin) {
			t.Errorf("%s: cross-site post got %d %s", path, resp.StatusCode, b)
		}
	}
	var st identity.AccountStatus
	c.must(200, "GET", "/me/status", nil, &st)
	if len(st.Items) != 1 || st.Items[0].Kind != identity.StatusEmailNotVerified {
		t.Fatalf("a cross-site post changed the account: %+v", st.Items)
	}
}

// --demo creates the customers, the merchant and the agent, and they can sign in with the
// password printed at start.
func TestDemoAccounts(t *testing.T) {
	cfg := sqliteConfig(t)
	cfg.Demo = true
	app := start(t, cfg)
	for _, d := range server.DemoAccounts {
		c := newClient(t, app.URL())
		var out struct {
			User identity.User `json:"user"`
		}
		c.must(200, "POST", "/auth/signin", map[string]string{"email": d.Email, "password": server.DemoPassword}, &out)
		if out.User.Role != d.Role || !out.User.EmailVerified {
			t.Errorf("%s: %+v", d.Email, out.User)
		}
	}
}
