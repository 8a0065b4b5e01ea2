package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
)

// Staff reach the agent console from the header on every page, and admins the notices
// they announce maintenance with; customers and visitors see neither.
func TestHeaderLinksStaffPages(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ui, err := New(Config{Version: "test", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	h := httpx.Base(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if role := r.Header.Get("X-Test-Role"); role != "" {
			u := &identity.User{ID: "u-" + role, Email: role + "@example.com", Role: identity.Role(role), EmailVerified: true}
			r = r.WithContext(authn.WithPrincipal(r.Context(), &authn.Principal{User: u, Session: &identity.Session{ID: "s"}}))
		}
		mux.ServeHTTP(w, r)
	}), log, nil)
	link := func(href string) *regexp.Regexp {
		return regexp.MustCompile(`<a [^>]*href="` + href + `"[^>]*>([^<]+)</a>`)
	}
	console, notices := link("/agent"), link("/admin/notices")
	for _, c := range []struct{ role, lang, console, notices string }{
		{"agent", "en", "Agent console", ""},
		{"risk_reviewer", "en", "Agent console", ""},
		{"admin", "zh-CN", "客服工作台", "公告管理"},
		{"admin", "en", "Agent console", "Notices"},
		{"customer", "en", "", ""},
		{"merchant", "zh-CN", "", ""},
		{"", "en", "", ""},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/status", nil)
		req.Header.Set("Accept-Language", c.lang)
		req.Header.Set("X-Test-Role", c.role)
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		for _, l := range []struct {
			re   *regexp.Regexp
			want string
		}{{console, c.console}, {notices, c.notices}} {
			m := l.re.FindStringSubmatch(body)
			switch {
			case l.want == "" && m != nil:
				t.Errorf("%q (%s) sees %q", c.role, c.lang, m[0])
			case l.want != "" && (m == nil || m[1] != l.want):
				t.Errorf("%q (%s): link %q, want %q", c.role, c.lang, m, l.want)
			}
		}
	}
}
