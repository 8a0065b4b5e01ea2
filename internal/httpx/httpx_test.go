package httpx

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"okpay/internal/apperr"
)

func TestNegotiateLang(t *testing.T) {
	cases := []struct{ cookie, accept, want string }{
		{"", "", "en"},
		{"", "zh-CN,zh;q=0.9", "zh-CN"},
		{"", "zh-TW", "zh-CN"},
		{"", "fr-FR, en;q=0.5, zh;q=0.8", "zh-CN"},
		{"", "de", "en"},
		{"en", "zh-CN", "en"},
		{"zh-CN", "en", "zh-CN"},
		{"klingon", "zh", "zh-CN"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		if c.cookie != "" {
			r.AddCookie(&http.Cookie{Name: LangCookie, Value: c.cookie})
		}
		if c.accept != "" {
			r.Header.Set("Accept-Language", c.accept)
		}
		if got := NegotiateLang(r); got != c.want {
			t.Errorf("cookie %q accept %q: got %s want %s", c.cookie, c.accept, got, c.want)
		}
	}
}

func TestPanicRecoveredWithRequestID(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	h := Base(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("db password=hunter2 exploded")
	}), log, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
	var b apperr.Body
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	if b.Error.Code != "internal" || b.Error.RequestID == "" || b.Error.RequestID != rec.Header().Get("X-Request-Id") {
		t.Fatalf("body %+v", b)
	}
	if strings.Contains(rec.Body.String(), "hunter2") {
		t.Fatal("panic detail leaked to the client")
	}
	if !strings.Contains(logs.String(), b.Error.RequestID) {
		t.Fatal("panic not logged with the request id")
	}
}

func TestDecodeJSON(t *testing.T) {
	type in struct {
		Name string `json:"name"`
	}
	cases := []struct {
		body, code string
	}{
		{`{"name":"a"}`, ""},
		{`{"name":"a","extra":1}`, apperr.CodeInvalidJSON},
		{`{"name":"a"} {}`, apperr.CodeInvalidJSON},
		{`not json`, apperr.CodeInvalidJSON},
		{`{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, apperr.CodeBodyTooLarge},
	}
	for _, c := range cases {
		var v in
		rec := httptest.NewRecorder()
		err := DecodeJSON(rec, httptest.NewRequest("POST", "/", strings.NewReader(c.body)), &v)
		if c.code == "" {
			if err != nil || v.Name != "a" {
				t.Errorf("%.20q: %v", c.body, err)
			}
			continue
		}
		if !apperr.HasCode(err, c.code) {
			t.Errorf("%.20q: want %s, got %v", c.body, c.code, err)
		}
	}
}

// A misspelt or mistyped field is named, so the caller knows which one to fix instead of
// reading "not valid JSON" about a body that is valid JSON.
func TestDecodeJSONNamesTheField(t *testing.T) {
	type in struct {
		Amount string `json:"amount"`
		Memo   string `json:"memo"`
	}
	cases := []struct{ body, field, code string }{
		{`{"amout":"1"}`, "amout", apperr.CodeJSONFieldUnknown},
		{`{"amount":10}`, "amount", apperr.CodeJSONFieldType},
		{`{"amount":"1","memo":["x"]}`, "memo", apperr.CodeJSONFieldType},
	}
	for _, c := range cases {
		var v in
		err := DecodeJSON(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(c.body)), &v)
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.CodeInvalidJSON {
			t.Fatalf("%s: want invalid_json, got %v", c.body, err)
		}
		if len(e.Fields) != 1 || e.Fields[0].Field != c.field || e.Fields[0].Code != c.code {
			t.Errorf("%s: fields %+v, want %s: %s", c.body, e.Fields, c.field, c.code)
		}
	}
}

func TestRateLimitedSetsRetryAfter(t *testing.T) {
	h := Base(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, apperr.New(apperr.CodeRateLimited).With("retry_after", "42"))
	}), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "42" {
		t.Fatalf("%d %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}
