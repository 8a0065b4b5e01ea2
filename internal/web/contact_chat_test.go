package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/httpx"
	"okpay/internal/support/chat"
	"okpay/internal/support/hours"
	"okpay/internal/support/tickets"
)

// While live chat is open, the contact page gives its current expected wait from the
// queue, not only the target.
func TestContactPageShowsChatWait(t *testing.T) {
	clock := dbtest.NewClock() // Monday 2 March 2026 17:00 Beijing time: chat is open
	d := dbtest.Open(t, db.SQLite, clock)
	desk, err := hours.New(hours.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tk, err := tickets.New(d, desk, deskDir{}, tickets.Config{FilesDir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ui, err := New(Config{Log: log, Tickets: tk, Support: &SupportLive{Chat: chat.New(d, chat.Config{})}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	for lang, want := range map[string]string{"en": "right now (current queue)", "zh-CN": "按目前排队情况"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/contact", nil)
		req.Header.Set("Accept-Language", lang)
		httpx.Base(mux, log, nil).ServeHTTP(rec, req)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
			t.Fatalf("%s: %d, no current chat wait (%q) on the contact page", lang, rec.Code, want)
		}
	}
}
