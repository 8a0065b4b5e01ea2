package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/httpx"
	"okpay/internal/support/help"
)

type helpFixture struct {
	h    http.Handler
	svc  *help.Service
	logs *syncBuffer
}

// newHelpFixture serves the UI with a help center on a fresh SQLite database, inside
// httpx.Base like the server does.
func newHelpFixture(t *testing.T) *helpFixture {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	svc := help.New(dbtest.Open(t, db.SQLite, nil), help.Config{Log: log})
	ui, err := New(Config{Version: "test", Log: log, Help: svc})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	return &helpFixture{h: httpx.Base(mux, log, nil), svc: svc, logs: logs}
}

func (f *helpFixture) do(t *testing.T, r *http.Request) (*http.Response, string) {
	t.Helper()
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	res := w.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func helpInLang(r *http.Request, lang string) *http.Request {
	r.Header.Set("Accept-Language", lang)
	return r
}

func TestHelpPagesBothLanguages(t *testing.T) {
	f := newHelpFixture(t)
	cases := []struct {
		name, lang, path string
		status           int
		want             []string
	}{
		{"home zh", "zh-CN", "/help", 200, []string{`<html lang="zh-CN"`, "帮助中心", "按主题浏览", "账户与登录", "账户被冻结或受限怎么办", `action="/help/search"`, `href="/contact"`, "/static/help.css?v="}},
		{"home en", "en", "/help", 200, []string{`<html lang="en"`, "Help center", "Browse by topic", "Account &amp; sign-in", "My account is frozen or restricted", "Popular articles"}},
		{"article zh", "zh-CN", "/help/account-frozen", 200, []string{"<h1>账户被冻结或受限怎么办</h1>", `lang="zh-CN"`, "这篇文章对您有帮助吗？", `action="/help/account-frozen/vote"`, "相关文章", "还需要帮助？", `href="/contact"`, "<code>account_frozen</code>", "<table>"}},
		{"article en", "en", "/help/withdrawal-failed", 200, []string{"<h1>Why did my withdrawal fail?</h1>", "payout_name_mismatch", "Was this article helpful?", "Related articles", `href="/help/change-bank-card"`}},
		{"search zh", "zh-CN", "/help/search?q=" + url.QueryEscape("冻结"), 200, []string{"<mark>冻结</mark>", `href="/help/account-frozen"`, "找到"}},
		{"search en", "en", "/help/search?q=forgot+password", 200, []string{`<a href="/help/forgot-password">`, "<mark>", `value="forgot password"`}},
		{"search none", "en", "/help/search?q=xylophone", 200, []string{"No articles match “xylophone”."}},
		{"search prompt", "zh-CN", "/help/search", 200, []string{"用几个词描述"}},
		{"search too long", "en", "/help/search?q=" + strings.Repeat("a", 200), 422, []string{"The search is too long.", "at most 100 characters"}},
		{"unknown article", "en", "/help/no-such-article", 404, []string{"Not found."}},
		{"bad slug", "zh-CN", "/help/%3Cscript%3E", 404, []string{"未找到"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, body := f.do(t, helpInLang(httptest.NewRequest("GET", c.path, nil), c.lang))
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d", res.StatusCode, c.status)
			}
			mustContain(t, body, c.want...)
			if strings.Contains(body, "<script") {
				t.Error("page contains a script tag")
			}
		})
	}
	if strings.Contains(f.logs.String(), "missing translation") {
		t.Errorf("missing translations:\n%s", f.logs)
	}
}

func TestHelpSearchEscapesQuery(t *testing.T) {
	f := newHelpFixture(t)
	q := `<script>alert(1)</script> 冻结`
	res, body := f.do(t, helpInLang(httptest.NewRequest("GET", "/help/search?q="+url.QueryEscape(q), nil), "zh-CN"))
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if strings.Contains(body, "<script>alert") {
		t.Error("query echoed unescaped")
	}
	mustContain(t, body, "&lt;script&gt;", "<mark>冻结</mark>")
}

func TestHelpVote(t *testing.T) {
	f := newHelpFixture(t)
	post := func(slug, helpful string, cookie *http.Cookie) *http.Response {
		r := httptest.NewRequest("POST", "/help/"+slug+"/vote", strings.NewReader(url.Values{"helpful": {helpful}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		if cookie != nil {
			r.AddCookie(cookie)
		}
		res, _ := f.do(t, r)
		return res
	}
	res := post("account-locked", "no", nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/help/account-locked?voted=no#feedback" {
		t.Fatalf("vote: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	var vid *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == visitorCookie {
			vid = c
		}
	}
	if vid == nil || !vid.HttpOnly || vid.SameSite != http.SameSiteLaxMode {
		t.Fatalf("visitor cookie %+v", vid)
	}
	// Same visitor changes their mind: still one vote.
	if res := post("account-locked", "yes", vid); res.StatusCode != http.StatusSeeOther || len(res.Cookies()) != 0 {
		t.Fatalf("second vote: %d, cookies %v", res.StatusCode, res.Cookies())
	}
	st, err := f.svc.Stats(t.Context(), help.RoleAgent)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Slug == "account-locked" && s.Votes != (help.VoteCounts{Yes: 1}) {
			t.Errorf("votes %+v", s.Votes)
		}
	}
	// The thank-you page for "no" points to support.
	_, body := f.do(t, helpInLang(httptest.NewRequest("GET", "/help/account-locked?voted=no", nil), "en"))
	mustContain(t, body, "Thanks for telling us.", `href="/contact"`)
	if strings.Contains(body, `action="/help/account-locked/vote"`) {
		t.Error("vote form shown again after voting")
	}
	// Bad input.
	if res := post("account-locked", "maybe", vid); res.StatusCode != 400 {
		t.Errorf("bad value: %d", res.StatusCode)
	}
	if res := post("no-such-article", "yes", vid); res.StatusCode != 404 {
		t.Errorf("unknown article: %d", res.StatusCode)
	}
	// A vote posted from another site is refused.
	r := httptest.NewRequest("POST", "/help/account-locked/vote", strings.NewReader("helpful=yes"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	if res, _ := f.do(t, r); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site vote: %d", res.StatusCode)
	}
}

func TestHelpPagesAbsentWithoutService(t *testing.T) {
	f := newFixture(t, nil)
	res, _ := f.do(t, get("/help/account-frozen"))
	if res.StatusCode != 404 {
		t.Errorf("status %d", res.StatusCode)
	}
}
