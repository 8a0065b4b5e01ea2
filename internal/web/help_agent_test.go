package web

import (
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
	"okpay/internal/support/help"
)

func newHelpAgentFixture(t *testing.T) http.Handler {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	svc := help.New(dbtest.Open(t, db.SQLite, nil), help.Config{Log: log})
	ui, err := New(Config{Version: "test", Log: log, Help: svc})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	users := map[string]*identity.User{
		"u-customer-0001": {ID: "u-customer-0001", Role: identity.RoleCustomer, Lang: "en"},
		"u-agent-0001":    {ID: "u-agent-0001", Role: identity.RoleAgent, Lang: "en"},
	}
	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := users[r.Header.Get("X-Test-User")]; u != nil {
			r = r.WithContext(authn.WithPrincipal(r.Context(), &authn.Principal{User: u, Session: &identity.Session{ID: "s"}}))
		}
		mux.ServeHTTP(w, r)
	})
	return httpx.Base(auth, log, nil)
}

func helpAgentDo(t *testing.T, h http.Handler, user, method, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, path, body)
	r.Header.Set("X-Test-User", user)
	r.Header.Set("Accept-Language", "en")
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var helpVersionRE = regexp.MustCompile(`name="version" value="(\d+)"`)

func TestHelpAgentPages(t *testing.T) {
	h := newHelpAgentFixture(t)
	const edit = "/agent/help/account-locked/edit?lang=en"

	// Customers do not get the staff pages; visitors are sent to sign in.
	for _, p := range []string{"/agent/help", edit} {
		if res, body := helpAgentDo(t, h, "u-customer-0001", "GET", p, nil); res.StatusCode != 403 || strings.Contains(body, `id="edit-form"`) {
			t.Fatalf("customer %s: %d", p, res.StatusCode)
		}
		if res, _ := helpAgentDo(t, h, "", "GET", p, nil); res.StatusCode != 303 {
			t.Fatalf("visitor %s: %d", p, res.StatusCode)
		}
	}
	if res, _ := helpAgentDo(t, h, "u-customer-0001", "POST", "/agent/help/account-locked/edit", url.Values{"lang": {"en"}, "title": {"x"}}); res.StatusCode != 403 {
		t.Fatalf("customer save: %d", res.StatusCode)
	}

	// A signed-in customer's vote is counted by account and shows in the agent's list.
	if res, _ := helpAgentDo(t, h, "u-customer-0001", "POST", "/help/account-locked/vote", url.Values{"helpful": {"no"}}); res.StatusCode != 303 || res.Header.Get("Set-Cookie") != "" {
		t.Fatalf("vote: %d %v", res.StatusCode, res.Header)
	}
	res, body := helpAgentDo(t, h, "u-agent-0001", "GET", "/agent/help", nil)
	if res.StatusCode != 200 {
		t.Fatalf("list %d", res.StatusCode)
	}
	mustContain(t, body, `id="help-articles"`, `data-slug="account-locked"`, `href="/agent/help/account-locked/edit?lang=en"`, "Not helpful", `class="votes-no">1<`)

	// The editor shows the current Markdown, a sanitized preview and the history.
	res, body = helpAgentDo(t, h, "u-agent-0001", "GET", edit, nil)
	if res.StatusCode != 200 {
		t.Fatalf("edit page %d", res.StatusCode)
	}
	mustContain(t, body, `id="edit-form"`, `<textarea id="h-body" name="body"`, `id="preview"`, `id="history"`, "Built-in text")
	m := helpVersionRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no version field")
	}
	if strings.Contains(body, "<script") {
		t.Error("inline script")
	}
	form := url.Values{"lang": {"en"}, "version": {m[1]}, "title": {"Locked out? Here is what to do"},
		"summary": {"Wait, or reset your password."}, "body": {"Wait **15 minutes**.\n\n<script>alert(1)</script>\n\n[x](javascript:alert(2))\n"},
		"note": {"simpler"}}

	// Preview renders through the sanitizer and saves nothing.
	form.Set("action", "preview")
	res, body = helpAgentDo(t, h, "u-agent-0001", "POST", "/agent/help/account-locked/edit", form)
	// The Markdown source stays in the textarea (escaped); the preview section must be clean.
	prev := body[strings.Index(body, `id="preview"`):]
	prev = prev[:strings.Index(prev, `</section>`)]
	if res.StatusCode != 200 || !strings.Contains(prev, "<strong>15 minutes</strong>") || strings.Contains(prev, "alert(") || strings.Contains(prev, "javascript:") || strings.Contains(body, "<script>alert") {
		t.Fatalf("preview %d %s", res.StatusCode, prev)
	}

	form.Set("action", "save")
	res, _ = helpAgentDo(t, h, "u-agent-0001", "POST", "/agent/help/account-locked/edit", form)
	if res.StatusCode != 303 || !strings.Contains(res.Header.Get("Location"), "ok=saved") {
		t.Fatalf("save %d %v", res.StatusCode, res.Header)
	}
	_, body = helpAgentDo(t, h, "u-customer-0001", "GET", "/help/account-locked", nil)
	mustContain(t, body, "<h1>Locked out? Here is what to do</h1>", "<strong>15 minutes</strong>")
	if strings.Contains(body, "alert(") || strings.Contains(body, "javascript:") {
		t.Errorf("public page keeps hostile markup")
	}
	_, body = helpAgentDo(t, h, "u-agent-0001", "GET", edit+"&ok=saved", nil)
	mustContain(t, body, `id="saved"`, "simpler", "u-agent-0001", `id="revert-form"`)

	// Saving again from the old version is a conflict with a reload link; the text stays.
	form.Set("title", "A stale change")
	res, body = helpAgentDo(t, h, "u-agent-0001", "POST", "/agent/help/account-locked/edit", form)
	if res.StatusCode != 409 {
		t.Fatalf("stale save %d", res.StatusCode)
	}
	mustContain(t, body, `data-code="help_edit_conflict"`, `id="reload"`, `href="/agent/help/account-locked/edit?lang=en"`, `value="A stale change"`)

	// Revert brings the built-in text back.
	res, _ = helpAgentDo(t, h, "u-agent-0001", "POST", "/agent/help/account-locked/revert", url.Values{"lang": {"en"}})
	if res.StatusCode != 303 {
		t.Fatalf("revert %d", res.StatusCode)
	}
	_, body = helpAgentDo(t, h, "", "GET", "/help/account-locked", nil)
	if strings.Contains(body, "Locked out? Here is what to do") {
		t.Error("revert did not restore the built-in text")
	}
}
