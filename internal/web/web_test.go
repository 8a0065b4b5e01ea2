package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"okpay/internal/apperr"
	"okpay/internal/httpx"
)

// syncBuffer collects log output from concurrent handlers.
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

type fixture struct {
	ui   *UI
	h    http.Handler
	logs *syncBuffer
}

// newFixture serves the UI the way the server will: a real ServeMux inside httpx.Base.
func newFixture(t *testing.T, ready func(context.Context) error) *fixture {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	ui, err := New(Config{Version: "1.2.3-test", Log: log, Ready: ready})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	return &fixture{ui: ui, h: httpx.Base(mux, log, nil), logs: logs}
}

func (f *fixture) do(t *testing.T, r *http.Request) (*http.Response, string) {
	t.Helper()
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	res := w.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func get(path string, hdr ...string) *http.Request {
	r := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return r
}

func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(body, s) {
			t.Errorf("body lacks %q", s)
		}
	}
}

func TestHomeLanguage(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		name, accept, cookie string
		want                 []string
	}{
		{"zh from Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8", "", []string{`<html lang="zh-CN"`, "注册账户", "需要帮助？"}},
		{"en from Accept-Language", "en-US,en;q=0.9", "", []string{`<html lang="en"`, "Create account", "Need help?"}},
		{"cookie beats Accept-Language", "zh-CN", "en", []string{`<html lang="en"`, "Create account"}},
		{"cookie zh beats en header", "en", "zh-CN", []string{`<html lang="zh-CN"`, "注册账户"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := get("/", "Accept-Language", c.accept)
			if c.cookie != "" {
				r.AddCookie(&http.Cookie{Name: httpx.LangCookie, Value: c.cookie})
			}
			res, body := f.do(t, r)
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("content type %q", ct)
			}
			mustContain(t, body, c.want...)
			mustContain(t, body, `href="/register"`, `href="/signin"`, `href="/help"`, `href="/status"`,
				`action="/lang"`, `name="viewport"`, `/static/app.css?v=`)
		})
	}
	if strings.Contains(f.logs.String(), "missing translation") {
		t.Errorf("missing translations logged:\n%s", f.logs)
	}
}

func TestLangSwitch(t *testing.T) {
	f := newFixture(t, nil)
	post := func(form url.Values) *http.Request {
		r := httptest.NewRequest("POST", "/lang", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	cases := []struct{ next, want string }{
		{"/status", "/status"},
		{"/status?x=1", "/status?x=1"},
		{"", "/"},
		{"//evil.com", "/"},
		{"https://evil.com", "/"},
		{"/\\evil.com", "/"},
		{"\\\\evil.com", "/"},
		{"/\t/evil.com", "/"},
		{"javascript:alert(1)", "/"},
		{"status", "/"},
	}
	for _, c := range cases {
		res, _ := f.do(t, post(url.Values{"lang": {"zh-CN"}, "next": {c.next}}))
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("next=%q: status %d", c.next, res.StatusCode)
		}
		if loc := res.Header.Get("Location"); loc != c.want {
			t.Errorf("next=%q: Location %q, want %q", c.next, loc, c.want)
		}
		var ck *http.Cookie
		for _, k := range res.Cookies() {
			if k.Name == httpx.LangCookie {
				ck = k
			}
		}
		if ck == nil || ck.Value != "zh-CN" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.MaxAge < 360*24*3600 {
			t.Errorf("next=%q: cookie %+v", c.next, ck)
		}
	}

	// The remembered choice is what the next page renders in.
	res, _ := f.do(t, post(url.Values{"lang": {"en"}, "next": {"/"}}))
	r := get("/", "Accept-Language", "zh-CN")
	for _, k := range res.Cookies() {
		r.AddCookie(k)
	}
	_, body := f.do(t, r)
	mustContain(t, body, `<html lang="en"`)

	res, body = f.do(t, post(url.Values{"lang": {"fr"}}))
	if res.StatusCode != 400 || len(res.Cookies()) != 0 {
		t.Errorf("unsupported language: status %d cookies %v", res.StatusCode, res.Cookies())
	}
	mustContain(t, body, "bad_request")

	// A form posted from another site is refused with the HTML error page.
	r = post(url.Values{"lang": {"en"}})
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	res, body = f.do(t, r)
	if res.StatusCode != 403 || len(res.Cookies()) != 0 {
		t.Errorf("cross-site post: status %d cookies %v", res.StatusCode, res.Cookies())
	}
	mustContain(t, body, "cross_origin_refused")
}

func TestNotFound(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct{ lang, fix string }{
		{"en", "Check the address, or go back to the home page."},
		{"zh-CN", "请检查地址，或返回首页。"},
	} {
		res, body := f.do(t, get("/no/such/page", "Accept-Language", c.lang))
		if res.StatusCode != 404 {
			t.Fatalf("status %d", res.StatusCode)
		}
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("content type %q", res.Header.Get("Content-Type"))
		}
		mustContain(t, body, "<code>not_found</code>", c.fix, "<code>"+res.Header.Get("X-Request-Id")+"</code>")
	}
	// Missing static files get the same page, not Go's plain-text 404.
	res, body := f.do(t, get("/static/nope.css"))
	if res.StatusCode != 404 {
		t.Fatalf("static miss: status %d", res.StatusCode)
	}
	mustContain(t, body, "not_found")
}

func TestStatusPage(t *testing.T) {
	var mu sync.Mutex
	var readyErr error
	f := newFixture(t, func(context.Context) error { mu.Lock(); defer mu.Unlock(); return readyErr })

	_, body := f.do(t, get("/status", "Accept-Language", "en"))
	mustContain(t, body, "All systems operational", "1.2.3-test", "Announcements", "No announcements right now.", `aria-current="page"`)
	if strings.Contains(body, "Service disruption") {
		t.Error("operational page says degraded")
	}

	mu.Lock()
	readyErr = errors.New("dial tcp 10.0.0.5:5432: connection refused")
	mu.Unlock()
	res, body := f.do(t, get("/status", "Accept-Language", "zh-CN"))
	if res.StatusCode != 200 {
		t.Errorf("status %d", res.StatusCode)
	}
	mustContain(t, body, "服务出现异常", "暂无公告")
	if strings.Contains(body, "所有服务运行正常") || strings.Contains(body, "5432") {
		t.Error("degraded page says operational or leaks the cause")
	}
}

func TestStatic(t *testing.T) {
	f := newFixture(t, nil)
	for name, ctype := range map[string]string{"app.css": "text/css; charset=utf-8", "logo.svg": "image/svg+xml"} {
		u, err := f.ui.bundle.assetURL(name)
		if err != nil {
			t.Fatal(err)
		}
		res, body := f.do(t, get(u))
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != ctype || body == "" {
			t.Errorf("%s: status %d type %q", u, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("%s: Cache-Control %q", u, cc)
		}
		// Without the current hash the file may change under that URL: revalidate.
		res, _ = f.do(t, get("/static/"+name+"?v=old"))
		if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s stale version: Cache-Control %q", name, cc)
		}
		res, _ = f.do(t, get(u, "If-None-Match", res.Header.Get("ETag")))
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("%s: conditional GET status %d", name, res.StatusCode)
		}
	}
	res, _ := f.do(t, get("/static/"))
	if res.StatusCode != 404 {
		t.Errorf("directory listing: status %d", res.StatusCode)
	}
}

func TestRenderErrorInternal(t *testing.T) {
	f := newFixture(t, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("/boom", func(w http.ResponseWriter, r *http.Request) {
		f.ui.RenderError(w, r, errors.New("pq: password authentication failed for user okpay"))
	})
	mux.HandleFunc("/coded", func(w http.ResponseWriter, r *http.Request) {
		f.ui.RenderError(w, r, fmtWrap(apperr.New(apperr.CodeRateLimited).With("retry_after", "30")))
	})
	mux.HandleFunc("/nopage", func(w http.ResponseWriter, r *http.Request) {
		f.ui.Render(w, r, 200, "no-such-page", nil)
	})
	h := httpx.Base(mux, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, get("/boom", "Accept-Language", "en"))
	body := w.Body.String()
	if w.Code != 500 {
		t.Errorf("status %d", w.Code)
	}
	mustContain(t, body, "<code>internal</code>", "Something went wrong on our side.", w.Header().Get("X-Request-Id"))
	if strings.Contains(body, "authentication failed") || strings.Contains(body, "pq:") {
		t.Error("internal detail leaked to the page")
	}
	if logs := f.logs.String(); !strings.Contains(logs, "password authentication failed") || !strings.Contains(logs, w.Header().Get("X-Request-Id")) {
		t.Errorf("internal error not logged with request id:\n%s", logs)
	}

	w = httptest.NewRecorder()
	h.ServeHTTP(w, get("/coded", "Accept-Language", "zh-CN"))
	if w.Code != 429 || w.Header().Get("Retry-After") != "30" {
		t.Errorf("coded: status %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	mustContain(t, w.Body.String(), "rate_limited", "请等待 30 秒后重试。")

	w = httptest.NewRecorder()
	h.ServeHTTP(w, get("/nopage"))
	if w.Code != 500 {
		t.Errorf("unknown page: status %d", w.Code)
	}
	mustContain(t, w.Body.String(), "<code>internal</code>")
}

func fmtWrap(err error) error { return errors.Join(errors.New("context"), err) }

func TestMissingKeyRendersVisibly(t *testing.T) {
	var logs syncBuffer
	v := &View{Lang: "en", text: map[string]string{"hi": "Hello, {name}!"}, log: slog.New(slog.NewTextHandler(&logs, nil))}
	if got := v.T("hi", "name", "Li Wei"); got != "Hello, Li Wei!" {
		t.Errorf("T = %q", got)
	}
	if got := v.T("no.such.key"); got != "no.such.key" {
		t.Errorf("missing key rendered as %q", got)
	}
	if !strings.Contains(logs.String(), "no.such.key") {
		t.Error("missing key not logged")
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/help": "/help", "/a/b?c=d#e": "/a/b?c=d#e",
		"": "/", "//x": "/", "/\\x": "/", "http://x": "/", "x": "/", "/\x00": "/", "/\r\nSet-Cookie:": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

var commentRE = regexp.MustCompile(`(?s)\{\{-?\s*/\*.*?\*/\s*-?\}\}`)

// templateSource is a template file without its {{/* comments */}}, which may mention
// what they like.
func templateSource(t *testing.T, name string) []byte {
	t.Helper()
	src, err := fs.ReadFile(embedded, name)
	if err != nil {
		t.Fatal(err)
	}
	return commentRE.ReplaceAll(src, nil)
}

var tKeyRE = regexp.MustCompile(`\.T\s+"([^"]+)"`)
var tCallRE = regexp.MustCompile(`\.T\b`)

// TestTranslations fails when a language lacks a key the other has, when a value is empty,
// when placeholders differ, or when a template asks for a key that no file has.
func TestTranslations(t *testing.T) {
	text, err := loadLocales(embedded)
	if err != nil {
		t.Fatal(err) // lists every incomplete key
	}
	if problems := checkLocales(map[string]map[string]string{
		"zh-CN": {"a": "甲", "b": "", "c": "{n} 个"},
		"en":    {"a": "A", "c": "{count} items"},
	}); len(problems) != 3 {
		t.Errorf("checkLocales missed problems: %q", problems)
	}

	files, err := fs.Glob(embedded, "templates/*.html")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	partials, _ := fs.Glob(embedded, "templates/partials/*.html")
	var missing []string
	for _, f := range append(files, partials...) {
		src := templateSource(t, f)
		// Keys must be literals so this test can see them.
		if lit, all := len(tKeyRE.FindAll(src, -1)), len(tCallRE.FindAll(src, -1)); lit != all {
			t.Errorf("%s: %d of %d .T calls do not use a literal key", f, all-lit, all)
		}
		for _, m := range tKeyRE.FindAllSubmatch(src, -1) {
			for _, lang := range Langs {
				if _, ok := text[lang][string(m[1])]; !ok {
					missing = append(missing, lang+": "+string(m[1])+" (used in "+f+")")
				}
			}
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Error("missing translation", m)
	}
}

// TestTemplatesCSP keeps templates within the Content-Security-Policy set by httpx.Base,
// which blocks inline scripts, inline styles and event-handler attributes.
func TestTemplatesCSP(t *testing.T) {
	bad := regexp.MustCompile(`(?i)<style|\sstyle=|<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+=`)
	files, _ := fs.Glob(embedded, "templates/*.html")
	for _, f := range files {
		src := templateSource(t, f)
		if loc := bad.FindIndex(src); loc != nil {
			t.Errorf("%s: inline code the CSP would block: %q", f, src[loc[0]:min(loc[1]+20, len(src))])
		}
	}
}

func TestDevMode(t *testing.T) {
	ui, err := New(Config{Version: "dev", Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Dev: true, Reload: true})
	if err != nil {
		t.Fatal(err)
	}
	if ui.devDir == "" {
		t.Skip("source tree not found (built with -trimpath?)")
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	h := httpx.Base(mux, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, get("/", "Accept-Language", "en"))
	mustContain(t, w.Body.String(), "Create account")
	u, _ := ui.bundle.assetURL("app.css")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, get(u))
	if w.Code != 200 || w.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("dev asset: status %d Cache-Control %q", w.Code, w.Header().Get("Cache-Control"))
	}
}
