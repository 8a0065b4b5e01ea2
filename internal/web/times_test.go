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

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/notify"
	"okpay/internal/support/chat"
)

// A time without its date misleads on a receipt or a page read the next day, so every
// time shown carries its date, in Beijing time for Chinese readers and UTC otherwise.
func TestWhenAlwaysHasTheDate(t *testing.T) {
	now := time.Date(2026, 11, 22, 2, 52, 0, 0, time.UTC)
	for _, c := range []struct {
		t    time.Time
		lang string
		want string
	}{
		{now, "en", "22 Nov 2026 02:52 UTC"},
		{now, "zh-CN", "2026-11-22 10:52（北京时间）"},
		{now.Add(-48 * time.Hour), "en", "20 Nov 2026 02:52 UTC"},
		// Late evening in UTC is already the next day in Beijing.
		{time.Date(2026, 11, 22, 20, 0, 0, 0, time.UTC), "zh-CN", "2026-11-23 04:00（北京时间）"},
	} {
		if got := when(c.t, c.lang, now); got != c.want {
			t.Errorf("when(%v, %s) = %q, want %q", c.t, c.lang, got, c.want)
		}
	}
	if got := when(time.Time{}, "en", now); got != "" {
		t.Errorf("zero time = %q", got)
	}
}

// The inbox and the chat list show their times like every other page: Beijing time,
// labelled, on Chinese pages; UTC, labelled, on English ones.
func TestInboxAndChatTimesInReadersZone(t *testing.T) {
	for _, eng := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(eng), func(t *testing.T) {
			if eng == db.Postgres {
				dbtest.PostgresURL(t)
			}
			clock := dbtest.NewClock() // Monday 2 March 2026 09:00 UTC, 17:00 in Beijing
			d := dbtest.Open(t, eng, clock)
			ctx := context.Background()
			cs := chat.New(d, chat.Config{})
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			ui, err := New(Config{Version: "test", Log: log, Support: &SupportLive{Chat: cs, Inbox: notify.NewInbox(d, nil)}})
			if err != nil {
				t.Fatal(err)
			}
			mei := &identity.User{ID: "u-mei", Email: "mei@example.com", Lang: "zh-CN", Role: identity.RoleCustomer, EmailVerified: true}
			if err := d.InTx(ctx, func(tx *db.Tx) error {
				_, err := notify.Notify(ctx, tx, mei.ID, notify.InboxSecurity, notify.InboxMessage{
					Title: apperr.Text{En: "New sign-in", Zh: "新设备登录"}, Body: apperr.Text{En: "From Shanghai.", Zh: "来自上海。"}})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := cs.Start(ctx, chat.Participant{ID: mei.ID, Role: "customer", Lang: "zh-CN"}, "你好"); err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			ui.Register(mux)
			h := httpx.Base(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r = r.WithContext(authn.WithPrincipal(r.Context(), &authn.Principal{User: mei, Session: &identity.Session{ID: "s"}}))
				mux.ServeHTTP(w, r)
			}), log, nil)
			for _, path := range []string{"/inbox", "/chat"} {
				for lang, want := range map[string]string{"zh-CN": "2026-03-02 17:00（北京时间）", "en": "2 Mar 2026 09:00 UTC"} {
					rec := httptest.NewRecorder()
					req := httptest.NewRequest("GET", path, nil)
					req.Header.Set("Accept-Language", lang)
					h.ServeHTTP(rec, req)
					if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
						t.Errorf("%s %s: %d, lacks %q", lang, path, rec.Code, want)
					}
				}
			}
		})
	}
}
