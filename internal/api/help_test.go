package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/httpx"
	"okpay/internal/support/help"
)

func helpAPI(t *testing.T) (http.Handler, *help.Service, *API) {
	t.Helper()
	svc := help.New(dbtest.Open(t, db.SQLite, nil), help.Config{Log: slog.New(slog.DiscardHandler)})
	a := New(Deps{Version: "test", Help: svc})
	mux := http.NewServeMux()
	a.Register(mux)
	return httpx.Base(mux, slog.New(slog.DiscardHandler), nil), svc, a
}

func helpCall(t *testing.T, h http.Handler, method, path, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func helpDecode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func TestHelpAPI(t *testing.T) {
	h, svc, a := helpAPI(t)

	res, b := helpCall(t, h, "GET", Prefix+"/help/articles?category=withdrawals", "", "Accept-Language", "zh-CN")
	if res.StatusCode != 200 {
		t.Fatalf("list: %d %s", res.StatusCode, b)
	}
	list := helpDecode[HelpArticlesResponse](t, b)
	if len(list.Articles) != 2 || list.Articles[0].Slug != "withdrawal-failed" || list.Articles[0].Lang != "zh-CN" || list.Articles[0].URL != "/help/withdrawal-failed" || len(list.Categories) != 7 {
		t.Errorf("list %+v", list)
	}
	if res, _ := helpCall(t, h, "GET", Prefix+"/help/articles?category=nope", ""); res.StatusCode != 404 {
		t.Errorf("unknown category: %d", res.StatusCode)
	}

	res, b = helpCall(t, h, "GET", Prefix+"/help/articles/account-locked?lang=en", "", "Accept-Language", "zh-CN")
	art := helpDecode[HelpArticle](t, b)
	if res.StatusCode != 200 || art.Lang != "en" || !strings.Contains(art.BodyHTML, "<h2") || art.Version != 1 || len(art.Codes) == 0 || len(art.Related) == 0 {
		t.Errorf("article: %d %+v", res.StatusCode, art)
	}
	if res, b := helpCall(t, h, "GET", Prefix+"/help/articles/nope", ""); res.StatusCode != 404 || !strings.Contains(string(b), `"not_found"`) {
		t.Errorf("missing article: %d %s", res.StatusCode, b)
	}

	res, b = helpCall(t, h, "GET", Prefix+"/help/search?q="+url.QueryEscape("提现失败")+"&limit=3", "", "Accept-Language", "zh-CN")
	sr := helpDecode[HelpSearchResponse](t, b)
	if res.StatusCode != 200 || len(sr.Results) == 0 || len(sr.Results) > 3 || sr.Results[0].Slug != "withdrawal-failed" || !strings.Contains(sr.Results[0].TitleHTML, "<mark>") {
		t.Errorf("search: %d %+v", res.StatusCode, sr)
	}
	for _, c := range []struct {
		q, code string
		status  int
	}{
		{"", help.CodeQueryEmpty, 422},
		{strings.Repeat("x", 200), help.CodeQueryTooLong, 422},
	} {
		res, b := helpCall(t, h, "GET", Prefix+"/help/search?q="+url.QueryEscape(c.q), "")
		if res.StatusCode != c.status || !strings.Contains(string(b), `"`+c.code+`"`) {
			t.Errorf("q=%.10q: %d %s", c.q, res.StatusCode, b)
		}
	}
	if res, _ := helpCall(t, h, "GET", Prefix+"/help/search?q=x&limit=500", ""); res.StatusCode != 422 {
		t.Errorf("limit 500: %d", res.StatusCode)
	}

	// Votes: a cookie-less client keeps one vote by sending the id back.
	res, b = helpCall(t, h, "POST", Prefix+"/help/articles/account-locked/vote", `{"helpful": true}`)
	v := helpDecode[HelpVoteResponse](t, b)
	if res.StatusCode != 200 || !v.Recorded || v.VisitorID == "" {
		t.Fatalf("vote: %d %s", res.StatusCode, b)
	}
	res, b = helpCall(t, h, "POST", Prefix+"/help/articles/account-locked/vote", `{"helpful": false, "visitor_id": "`+v.VisitorID+`"}`)
	if v2 := helpDecode[HelpVoteResponse](t, b); res.StatusCode != 200 || v2.VisitorID != v.VisitorID {
		t.Fatalf("second vote: %d %s", res.StatusCode, b)
	}
	st, _ := svc.Stats(context.Background(), help.RoleAdmin)
	for _, s := range st {
		if s.Slug == "account-locked" && s.Votes != (help.VoteCounts{No: 1}) {
			t.Errorf("votes %+v", s.Votes)
		}
	}
	for _, c := range []struct {
		path, body string
		status     int
	}{
		{"/help/articles/nope/vote", `{"helpful": true}`, 404},
		{"/help/articles/account-locked/vote", `{"helpful": "yes"}`, 400},
		{"/help/articles/account-locked/vote", `{"helpful": true, "extra": 1}`, 400},
	} {
		if res, b := helpCall(t, h, "POST", Prefix+c.path, c.body); res.StatusCode != c.status {
			t.Errorf("%s %s: %d %s", c.path, c.body, res.StatusCode, b)
		}
	}

	// The OpenAPI document describes the help routes and is valid.
	doc, err := json.Marshal(OpenAPI(a.Router(), "test"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := openapi3.NewLoader().LoadFromData(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(context.Background()); err != nil {
		t.Errorf("OpenAPI invalid: %v", err)
	}
	for _, p := range []string{"/help/articles", "/help/articles/{slug}", "/help/search", "/help/articles/{slug}/vote"} {
		if d.Paths.Find(p) == nil {
			t.Errorf("OpenAPI lacks %s", p)
		}
	}
}

func TestHelpAPIAbsentWithoutService(t *testing.T) {
	a := New(Deps{Version: "test"})
	mux := http.NewServeMux()
	a.Register(mux)
	if res, _ := helpCall(t, mux, "GET", Prefix+"/help/search?q=x", ""); res.StatusCode != 404 {
		t.Errorf("status %d", res.StatusCode)
	}
}
