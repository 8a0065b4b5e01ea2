package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"okpay/internal/apperr"
	"okpay/internal/httpx"
)

// Every error page links to the help article that explains its code, so "why" and "what
// fixes it" are one click from the longer answer.
func TestErrorPageLinksHelpArticle(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	u, err := New(Config{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	render := func(code string) string {
		rec := httptest.NewRecorder()
		h := httpx.Base(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u.RenderError(w, r, apperr.New(code))
		}), log, nil)
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
		return rec.Body.String()
	}
	if body := render(apperr.CodeMaintenance); !strings.Contains(body, `href="/help/maintenance"`) {
		t.Fatalf("maintenance error page does not link its article:\n%s", body)
	}
	if body := render(apperr.CodeNotFound); !strings.Contains(body, `href="/help"`) {
		t.Fatal("a code without an article should link the help center")
	}
}
