package api

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"okpay/internal/authn"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/support/help"
)

// helpAgentAPI serves the API with a help center; X-Test-User names the signed-in person.
func helpAgentAPI(t *testing.T, engine db.Engine) http.Handler {
	t.Helper()
	svc := help.New(dbtest.Open(t, engine, nil), help.Config{Log: slog.New(slog.DiscardHandler)})
	a := New(Deps{Version: "test", Help: svc})
	mux := http.NewServeMux()
	a.Register(mux)
	users := map[string]*identity.User{
		"u-customer-0001": {ID: "u-customer-0001", Role: identity.RoleCustomer, Lang: "en"},
		"u-customer-0002": {ID: "u-customer-0002", Role: identity.RoleCustomer, Lang: "en"},
		"u-agent-0001":    {ID: "u-agent-0001", Role: identity.RoleAgent, Lang: "en"},
		"u-risk-0001":     {ID: "u-risk-0001", Role: identity.RoleRiskReviewer, Lang: "en"},
	}
	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := users[r.Header.Get("X-Test-User")]; u != nil {
			r = r.WithContext(authn.WithPrincipal(r.Context(), &authn.Principal{User: u, Session: &identity.Session{ID: "s-" + u.ID}}))
		}
		mux.ServeHTTP(w, r)
	})
	return httpx.Base(auth, slog.New(slog.DiscardHandler), nil)
}

func TestHelpAgentAPI(t *testing.T) {
	for _, eng := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(eng), func(t *testing.T) {
			h := helpAgentAPI(t, eng)
			const art = "/api/v1/agent/help/articles/account-locked"

			// Votes: a signed-in person has one vote per article whatever the cookie.
			for i, cookie := range []string{"", "okpay_vid=AAAAAAAAAAAAAAAA", "okpay_vid=BBBBBBBBBBBBBBBB"} {
				hdr := []string{"Accept-Language", "en"}
				if cookie != "" {
					hdr = append(hdr, "Cookie", cookie)
				}
				res, b := call(t, h, "u-customer-0001", "POST", "/api/v1/help/articles/account-locked/vote", HelpVoteRequest{Helpful: i != 2}, hdr...)
				if v := helpDecode[HelpVoteResponse](t, b); res.StatusCode != 200 || !v.Recorded || v.VisitorID != "" || res.Header.Get("Set-Cookie") != "" {
					t.Fatalf("signed-in vote %d: %d %s %v", i, res.StatusCode, b, res.Header)
				}
			}
			if res, b := call(t, h, "", "POST", "/api/v1/help/articles/account-locked/vote", HelpVoteRequest{Helpful: true}); res.StatusCode != 200 || helpDecode[HelpVoteResponse](t, b).VisitorID == "" {
				t.Fatalf("visitor vote %d %s", res.StatusCode, b)
			}

			// Stats: staff only.
			if res, b := call(t, h, "u-customer-0001", "GET", "/api/v1/agent/help/articles", nil); res.StatusCode != 403 || !strings.Contains(string(b), `"forbidden"`) {
				t.Fatalf("customer stats %d %s", res.StatusCode, b)
			}
			if res, _ := call(t, h, "", "GET", "/api/v1/agent/help/articles", nil); res.StatusCode != 401 {
				t.Fatalf("anonymous stats %d", res.StatusCode)
			}
			res, b := call(t, h, "u-agent-0001", "GET", "/api/v1/agent/help/articles?lang=en", nil)
			list := helpDecode[HelpAgentArticlesResponse](t, b)
			if res.StatusCode != 200 || len(list.Articles) < 10 {
				t.Fatalf("stats %d %s", res.StatusCode, b)
			}
			found := false
			for _, a := range list.Articles {
				if a.Slug == "account-locked" {
					found = true
					// The customer's three votes count once (the last: no); the visitor's once.
					if a.Votes.Yes != 1 || a.Votes.No != 1 || a.Title == "" || a.URL != "/help/account-locked" {
						t.Errorf("account-locked stats %+v", a)
					}
				}
			}
			if !found {
				t.Fatal("account-locked not listed")
			}

			// The agent reads the current version and edits it, with hostile Markdown.
			res, b = call(t, h, "", "GET", "/api/v1/help/articles/account-locked?lang=en", nil)
			cur := helpDecode[HelpArticle](t, b)
			body := "## Locked?\n\nWait 15 minutes.\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[click](javascript:alert(3))\n\n[ok](https://okpay.example/help)\n"
			edit := HelpEditRequest{Lang: "en", Title: "Locked out after wrong passwords", Body: body, Version: cur.Version, Note: "shorter"}
			if res, b := call(t, h, "u-customer-0001", "PUT", art, edit); res.StatusCode != 403 {
				t.Fatalf("customer edit %d %s", res.StatusCode, b)
			}
			if res, b := call(t, h, "u-risk-0001", "PUT", art, edit); res.StatusCode != 403 {
				t.Fatalf("risk reviewer edit %d %s", res.StatusCode, b)
			}
			res, b = call(t, h, "u-agent-0001", "PUT", art, edit)
			got := helpDecode[HelpArticle](t, b)
			if res.StatusCode != 200 || got.Version != cur.Version+1 || got.Title != edit.Title || got.Summary != cur.Summary {
				t.Fatalf("edit %d %s", res.StatusCode, b)
			}
			res, b = call(t, h, "", "GET", "/api/v1/help/articles/account-locked?lang=en", nil)
			pub := helpDecode[HelpArticle](t, b)
			low := strings.ToLower(pub.BodyHTML)
			for _, bad := range []string{"<script", "onerror", "javascript:", "alert(1)"} {
				if strings.Contains(low, bad) {
					t.Errorf("public article keeps %q: %s", bad, pub.BodyHTML)
				}
			}
			if !strings.Contains(pub.BodyHTML, "Wait 15 minutes.") || !strings.Contains(pub.BodyHTML, `href="https://okpay.example/help"`) || pub.Title != edit.Title {
				t.Errorf("public article %s", b)
			}

			// A stale version is a conflict naming the current one.
			edit.Title = "Someone else's title"
			res, b = call(t, h, "u-agent-0001", "PUT", art, edit)
			if res.StatusCode != 409 || !strings.Contains(string(b), `"help_edit_conflict"`) {
				t.Fatalf("stale edit %d %s", res.StatusCode, b)
			}
			// Validation reaches the client with the field.
			if res, b := call(t, h, "u-agent-0001", "PUT", art, HelpEditRequest{Lang: "en", Title: "", Body: "x", Version: got.Version}); res.StatusCode != 422 || !strings.Contains(string(b), "help_title_invalid") {
				t.Fatalf("empty title %d %s", res.StatusCode, b)
			}
			if res, _ := call(t, h, "u-agent-0001", "PUT", "/api/v1/agent/help/articles/no-such-article", HelpEditRequest{Lang: "en", Title: "t", Summary: &cur.Summary, Body: "b"}); res.StatusCode != 404 {
				t.Fatalf("unknown article %d", res.StatusCode)
			}

			// History: staff only, newest first, with who and the note.
			if res, _ := call(t, h, "u-customer-0001", "GET", art+"/history?lang=en", nil); res.StatusCode != 403 {
				t.Fatalf("customer history %d", res.StatusCode)
			}
			res, b = call(t, h, "u-agent-0001", "GET", art+"/history?lang=en", nil)
			hist := helpDecode[HelpHistoryResponse](t, b)
			if res.StatusCode != 200 || len(hist.Edits) < 2 || hist.Edits[0].EditorID != "u-agent-0001" || hist.Edits[0].Note != "shorter" || hist.Edits[0].Version != got.Version {
				t.Fatalf("history %d %s", res.StatusCode, b)
			}

			// Revert: the built-in text is back, one version later.
			if res, _ := call(t, h, "u-customer-0001", "POST", art+"/revert", HelpRevertRequest{Lang: "en"}); res.StatusCode != 403 {
				t.Fatalf("customer revert %d", res.StatusCode)
			}
			res, b = call(t, h, "u-agent-0001", "POST", art+"/revert", HelpRevertRequest{Lang: "en"})
			rev := helpDecode[HelpArticle](t, b)
			if res.StatusCode != 200 || rev.Title != cur.Title || rev.BodyMarkdown != cur.BodyMarkdown || rev.Version != got.Version+1 {
				t.Fatalf("revert %d %s", res.StatusCode, b)
			}
		})
	}
}

func TestHelpAgentOpenAPI(t *testing.T) {
	_, _, a := helpAPI(t)
	doc := a.router.routes
	want := map[string]bool{"agentHelpArticles": false, "agentEditHelpArticle": false, "agentRevertHelpArticle": false, "agentHelpArticleHistory": false}
	for _, r := range doc {
		if _, ok := want[r.ID]; ok {
			want[r.ID] = true
			if r.Auth != "session" || len(r.Errors) == 0 || r.Response == nil {
				t.Errorf("route %s: %+v", r.ID, r)
			}
		}
	}
	for id, ok := range want {
		if !ok {
			t.Errorf("route %s missing", id)
		}
	}
}
