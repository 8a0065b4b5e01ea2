package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"okpay/internal/httpx"
	"okpay/internal/notify"
)

func TestDevMailbox(t *testing.T) {
	mail := []notify.Mail{{ID: "1", Kind: "verify_email", To: "ann@example.com", Subject: "Your code", Text: "Code: 123456", CreatedAt: time.Now()}}
	var gotTo string
	cfg := Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Dev: true,
		Mailbox: func(ctx context.Context, to string, limit int) ([]notify.Mail, error) { gotTo = to; return mail, nil }}
	serve := func(cfg Config, path string) *httptest.ResponseRecorder {
		u, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		u.Register(mux)
		rec := httptest.NewRecorder()
		httpx.Base(mux, cfg.Log, nil).ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec
	}
	rec := serve(cfg, "/dev/mailbox?to=ann@example.com")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "Code: 123456") || gotTo != "ann@example.com" {
		t.Fatalf("dev mailbox: %d to=%q\n%s", rec.Code, gotTo, rec.Body)
	}
	// Outside dev mode the page does not exist: mail holds codes meant for one person.
	cfg.Dev = false
	if rec := serve(cfg, "/dev/mailbox"); rec.Code != 404 {
		t.Fatalf("dev mailbox outside dev mode: %d", rec.Code)
	}
}
