package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"okpay/internal/identity"
	"okpay/internal/notify"
	"okpay/internal/server"
)

// relaxed raises the per-address limits: every test client is 127.0.0.1, and a suite
// registering a dozen people from one address would otherwise meet the register limit.
func relaxed(t *testing.T) {
	restore := server.SetIdentityTuning(func(c *identity.Config) {
		c.Argon2 = identity.TestArgon2
		c.RateLimits = identity.RateLimits{
			SignIn: identity.Rate{Burst: 1000, Every: time.Millisecond}, Code: identity.Rate{Burst: 1000, Every: time.Millisecond},
			Register: identity.Rate{Burst: 1000, Every: time.Millisecond}, Reset: identity.Rate{Burst: 1000, Every: time.Millisecond},
		}
	})
	t.Cleanup(restore)
}

// syncBuffer collects a server's log output for scanning.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startLogged is start with the log captured (and slog.Default pointed at it, as serve does).
func startLogged(t *testing.T, cfg server.Config) (*server.App, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	old := slog.Default()
	slog.SetDefault(log)
	t.Cleanup(func() { slog.SetDefault(old) })
	ctx, cancel := context.WithCancel(context.Background())
	app, err := server.New(ctx, cfg, log)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	if err := app.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return app, buf
}

// client is one API user with its own cookie jar.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
	// Header is sent with every request (Authorization, Accept-Language, Origin …).
	Header http.Header
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, Header: http.Header{}}
}

type apiError struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fix     string            `json:"fix"`
		Params  map[string]string `json:"params"`
		Fields  []struct{ Field, Code string }
	} `json:"error"`
}

// do sends a JSON request to the API and decodes the answer into out (when not nil).
func (c *client) do(method, path string, body any, out any) (*http.Response, apiError) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+"/api/v1"+path, rd)
	for k, v := range c.Header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var e apiError
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(raw, &e); err != nil {
			c.t.Fatalf("%s %s: %d, not a JSON error: %s", method, path, resp.StatusCode, raw)
		}
	} else if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp, e
}

// page GETs a web page (not the API) with c's cookies and returns its HTML.
func (c *client) page(path string) string {
	c.t.Helper()
	return c.pageStatus(http.StatusOK, path)
}

// pageStatus is page for a page answered with status want.
func (c *client) pageStatus(want int, path string) string {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	for k, v := range c.Header {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("GET %s: %d, want %d: %s", path, resp.StatusCode, want, raw)
	}
	return string(raw)
}

// must is do that fails the test unless the status is want.
func (c *client) must(want int, method, path string, body any, out any) *http.Response {
	c.t.Helper()
	resp, e := c.do(method, path, body, out)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: got %d %+v, want %d", method, path, resp.StatusCode, e.Error, want)
	}
	return resp
}

// fails is do that expects the error code.
func (c *client) fails(code, method, path string, body any) apiError {
	c.t.Helper()
	resp, e := c.do(method, path, body, nil)
	if e.Error.Code != code {
		c.t.Fatalf("%s %s: got %d %q (%s), want %q", method, path, resp.StatusCode, e.Error.Code, e.Error.Message, code)
	}
	return e
}

func (c *client) cookie(name string) *http.Cookie {
	req, _ := http.NewRequest("GET", c.base+"/", nil)
	for _, ck := range c.hc.Jar.Cookies(req.URL) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

var codeRE = regexp.MustCompile(`\b(\d{6})\b`)

// mailCode waits for the newest mail of kind to addr in the app's outbox and returns its
// 6-digit code and (when present) the token of its link.
func mailCode(t *testing.T, app *server.App, to, kind string) (code, token string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ms, err := listMail(app, to)
		if err != nil {
			t.Fatal(err)
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
		if time.Now().After(deadline) {
			t.Fatalf("no %s mail to %s", kind, to)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var tokenRE = regexp.MustCompile(`[?&]token=([A-Za-z0-9_%-]+)`)

// totp is an independent RFC 6238 implementation for tests (SHA-1, 30 s, 6 digits).
func totp(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil {
		t.Fatalf("secret %q: %v", secret, err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	n := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", n%1_000_000)
}

// oathtool asks Debian's oathtool for the code at a moment; the test is skipped (failed
// under CI) without it.
func oathtool(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	path, err := exec.LookPath("oathtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("oathtool not installed under CI")
		}
		t.Skip("oathtool not installed (apt-get install oathtool)")
	}
	out, err := exec.Command(path, "--totp", "-b", "--now", at.UTC().Format("2006-01-02 15:04:05 UTC"), secret).Output()
	if err != nil {
		t.Fatalf("oathtool: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func listMail(app *server.App, to string) ([]notify.Mail, error) {
	return notify.ListMail(context.Background(), app.DB, to, 50)
}

func base64Reader(r io.Reader) io.Reader {
	return base64.NewDecoder(base64.StdEncoding, &stripNewlines{r: r})
}

// stripNewlines drops CR and LF so base64 bodies broken into lines decode.
type stripNewlines struct{ r io.Reader }

func (s *stripNewlines) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	j := 0
	for _, b := range p[:n] {
		if b != '\r' && b != '\n' {
			p[j] = b
			j++
		}
	}
	return j, err
}
