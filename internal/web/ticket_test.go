package web

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"regexp"
	"strings"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/support/hours"
	"okpay/internal/support/tickets"
)

// deskDir is the ticket desk's directory in these tests; sign-in is simulated by a header
// naming the user, so the tests cover the pages, not authn.
type deskDir map[string]*identity.User

func (d deskDir) GetUser(_ context.Context, id string) (*identity.User, error) {
	if u := d[id]; u != nil {
		return u, nil
	}
	return nil, apperr.New(apperr.CodeNotFound)
}

func (d deskDir) UserByVerifiedEmail(context.Context, string) (*identity.User, error) {
	return nil, nil
}

type deskFixture struct {
	h     http.Handler
	clock *dbtest.Clock
	svc   *tickets.Service
}

func newDeskFixture(t *testing.T, engine db.Engine) *deskFixture {
	t.Helper()
	clock := dbtest.NewClock()
	d := dbtest.Open(t, engine, clock)
	desk, err := hours.New(hours.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	users := deskDir{
		"u-cat":   {ID: "u-cat", Email: "cat@example.com", Lang: "en", Role: identity.RoleCustomer, EmailVerified: true},
		"u-dan":   {ID: "u-dan", Email: "dan@example.com", Lang: "zh-CN", Role: identity.RoleCustomer, EmailVerified: true},
		"u-agent": {ID: "u-agent", Email: "agent@okpay.example", Lang: "en", Role: identity.RoleAgent, EmailVerified: true},
	}
	log := slog.New(slog.DiscardHandler)
	svc, err := tickets.New(d, desk, users, tickets.Config{FilesDir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ui, err := New(Config{Version: "test", Log: log, Tickets: svc})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := users[r.Header.Get("X-Test-User")]; u != nil {
			r = r.WithContext(authn.WithPrincipal(r.Context(), &authn.Principal{User: u, Session: &identity.Session{ID: "s"}}))
		}
		mux.ServeHTTP(w, r)
	})
	return &deskFixture{h: httpx.Base(auth, log, nil), clock: clock, svc: svc}
}

func (f *deskFixture) do(t *testing.T, user, lang, method, path string, body io.Reader, ctype string) (*http.Response, string) {
	t.Helper()
	r := httptest.NewRequest(method, path, body)
	r.Header.Set("X-Test-User", user)
	r.Header.Set("Accept-Language", lang)
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	if method == "POST" {
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

type upload struct {
	name string
	data []byte
}

func multipartBody(t *testing.T, fields map[string]string, files ...upload) (io.Reader, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="attachments"; filename="`+f.name+`"`)
		h.Set("Content-Type", "application/pdf") // the browser's claim, ignored
		w, _ := mw.CreatePart(h)
		w.Write(f.data)
	}
	mw.Close()
	return &b, mw.FormDataContentType()
}

func smallPNG() []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 3, 3)))
	return b.Bytes()
}

func TestContactPage(t *testing.T) {
	f := newDeskFixture(t, db.SQLite)
	// Monday 2 March 2026 17:00 Beijing time: everything is open.
	res, body := f.do(t, "", "en", "GET", "/contact", nil, "")
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	mustContain(t, body, "Contact support", "Live chat", "Phone hotline", "Web ticket", "Email", "Social media", `data-channel="chat" data-open="true"`,
		"Open now", "until 21:00", "within 3 min", "09:00-12:00, 13:00-21:00", `href="tel:&#43;864008200000"`, "mailto:support@okpay.example",
		"@OKPaySupport", "1 business day(s) — by Tue 3 Mar 17:00", "Beijing time")
	// Saturday 22:00: chat closed until Sunday 09:00, tickets answered Monday.
	loc, _ := time.LoadLocation("Asia/Shanghai")
	f.clock.Set(time.Date(2026, 3, 7, 22, 0, 0, 0, loc))
	_, body = f.do(t, "", "zh-CN", "GET", "/contact", nil, "")
	mustContain(t, body, "联系客服", "在线客服", `data-channel="chat" data-open="false"`, "非服务时间", "3月8日周日 09:00 开始服务",
		"1 个工作日，最晚 3月9日周一 21:00", "今日休息", "北京时间", "微信公众号")
	if strings.Contains(body, "{") && regexp.MustCompile(`\{[a-z_]+\}`).MatchString(body) {
		t.Fatal("unfilled placeholder on the contact page")
	}
}

func TestTicketPages(t *testing.T) {
	for _, eng := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(eng), func(t *testing.T) {
			f := newDeskFixture(t, eng)
			// Anonymous visitors go to sign-in and come back.
			res, _ := f.do(t, "", "en", "GET", "/tickets/new", nil, "")
			if res.StatusCode != 303 || res.Header.Get("Location") != "/signin?next=%2Ftickets%2Fnew" {
				t.Fatalf("anonymous: %d %s", res.StatusCode, res.Header.Get("Location"))
			}
			_, body := f.do(t, "u-cat", "en", "GET", "/tickets/new?category=withdrawal&related=wd_42", nil, "")
			mustContain(t, body, `enctype="multipart/form-data"`, `<option value="withdrawal" selected>`, `value="wd_42"`, "Expected first answer: 1 business day(s)")

			// A form with a fake PNG and an oversized file: each file is named with its reason.
			big := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte{'x'}, tickets.MaxAttachmentBytes)...)
			rd, ct := multipartBody(t, map[string]string{"category": "withdrawal", "subject": "Withdrawal failed", "description": "It failed"},
				upload{"ok.png", smallPNG()}, upload{"fake.png", []byte("GIF89a....")}, upload{"scan.pdf", big})
			res, body = f.do(t, "u-cat", "en", "POST", "/tickets/new", rd, ct)
			if res.StatusCode != 422 {
				t.Fatalf("bad files: %d", res.StatusCode)
			}
			mustContain(t, body, `id="file-errors"`, "fake.png: This file is not a PNG, JPEG or PDF.", "scan.pdf: This file is larger than 5 MB.",
				`value="Withdrawal failed"`, "It failed")
			rd, ct = multipartBody(t, map[string]string{"category": "withdrawal", "subject": "提现失败", "description": "失败了"},
				upload{"假.png", []byte("<html>")})
			_, body = f.do(t, "u-dan", "zh-CN", "POST", "/tickets/new", rd, ct)
			mustContain(t, body, "假.png: 该文件不是 PNG、JPEG 或 PDF。")
			var six []upload
			for i := 0; i < 6; i++ {
				six = append(six, upload{"p.png", smallPNG()})
			}
			rd, ct = multipartBody(t, map[string]string{"category": "other", "subject": "s", "description": "d"}, six...)
			res, body = f.do(t, "u-cat", "en", "POST", "/tickets/new", rd, ct)
			if res.StatusCode != 422 || !strings.Contains(body, "At most 5 files") {
				t.Fatalf("six files: %d", res.StatusCode)
			}

			// A cross-site post is refused.
			r := httptest.NewRequest("POST", "/tickets/new", strings.NewReader("subject=x"))
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			r.Header.Set("X-Test-User", "u-cat")
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, r)
			if w.Code != http.StatusForbidden {
				t.Fatalf("cross-site: %d", w.Code)
			}

			// A good ticket.
			rd, ct = multipartBody(t, map[string]string{"category": "withdrawal", "subject": "Withdrawal failed", "description": "It failed", "related_ref": "wd_42"},
				upload{"ok.png", smallPNG()})
			res, _ = f.do(t, "u-cat", "en", "POST", "/tickets/new", rd, ct)
			if res.StatusCode != 303 || res.Header.Get("Location") != "/tickets/T-2026-000001?done=ticket_opened" {
				t.Fatalf("create: %d %s", res.StatusCode, res.Header.Get("Location"))
			}
			_, body = f.do(t, "u-cat", "en", "GET", "/tickets/T-2026-000001?done=ticket_opened", nil, "")
			mustContain(t, body, "Your ticket is open", "Received", "Answer expected by", "wd_42", "ok.png", "/tickets/T-2026-000001/files/")
			if res, _ := f.do(t, "u-dan", "zh-CN", "GET", "/tickets/T-2026-000001", nil, ""); res.StatusCode != 404 {
				t.Fatalf("another customer's ticket: %d", res.StatusCode)
			}
			_, body = f.do(t, "u-cat", "en", "GET", "/tickets", nil, "")
			mustContain(t, body, `data-number="T-2026-000001"`, "Withdrawal failed")

			// The file downloads as an attachment with nosniff.
			fileURL := regexp.MustCompile(`/tickets/T-2026-000001/files/[0-9a-f-]+`).FindString(body + mustGet(t, f, "u-cat", "/tickets/T-2026-000001"))
			res, data := f.do(t, "u-cat", "en", "GET", fileURL, nil, "")
			if res.StatusCode != 200 || data != string(smallPNG()) || res.Header.Get("X-Content-Type-Options") != "nosniff" ||
				!strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") {
				t.Fatalf("download %d %v", res.StatusCode, res.Header)
			}
			if res, _ := f.do(t, "u-dan", "en", "GET", fileURL, nil, ""); res.StatusCode != 404 {
				t.Fatalf("other customer's file: %d", res.StatusCode)
			}

			// The agent pages.
			if res, _ := f.do(t, "u-cat", "en", "GET", "/agent/tickets", nil, ""); res.StatusCode != 403 {
				t.Fatalf("customer on agent queue: %d", res.StatusCode)
			}
			_, body = f.do(t, "u-agent", "en", "GET", "/agent/tickets", nil, "")
			mustContain(t, body, `data-number="T-2026-000001"`, "Withdrawal failed")
			for _, step := range []struct{ action, form string }{
				{"assign", "assignee_id=me"},
				{"note", "body=Rail+says+name+mismatch"},
				{"reply", "body=Please+use+a+card+in+your+own+name.&status=waiting_on_customer"},
			} {
				res, _ := f.do(t, "u-agent", "en", "POST", "/agent/tickets/T-2026-000001/"+step.action, strings.NewReader(step.form), "application/x-www-form-urlencoded")
				if res.StatusCode != 303 {
					t.Fatalf("%s: %d", step.action, res.StatusCode)
				}
			}
			_, body = f.do(t, "u-agent", "en", "GET", "/agent/tickets/T-2026-000001", nil, "")
			// The agent's page words the status from the desk's side.
			mustContain(t, body, "Rail says name mismatch", "Internal note", "Waiting for the customer", `id="status-form"`)
			if strings.Contains(body, "Waiting for your reply") {
				t.Fatal("the agent page speaks to the customer")
			}
			res, body = f.do(t, "u-agent", "en", "POST", "/agent/tickets/T-2026-000001/status", strings.NewReader("status=new"), "application/x-www-form-urlencoded")
			if res.StatusCode != 409 || !strings.Contains(body, "cannot move") {
				t.Fatalf("bad status change: %d", res.StatusCode)
			}

			// The customer sees the reply in Chinese pages too, never the note.
			_, body = f.do(t, "u-cat", "zh-CN", "GET", "/tickets/T-2026-000001", nil, "")
			mustContain(t, body, "Please use a card in your own name.", "等待您的回复", "OKPay 客服")
			if strings.Contains(body, "name mismatch") || strings.Contains(body, "内部备注") {
				t.Fatal("customer sees the internal note")
			}
			res, _ = f.do(t, "u-cat", "en", "POST", "/tickets/T-2026-000001/reply", strings.NewReader("body=Done%2C+thanks"), "application/x-www-form-urlencoded")
			if res.StatusCode != 303 {
				t.Fatalf("customer reply: %d", res.StatusCode)
			}
			_, body = f.do(t, "u-cat", "en", "GET", "/tickets/T-2026-000001", nil, "")
			mustContain(t, body, "Done, thanks", "In progress")
		})
	}
}

func mustGet(t *testing.T, f *deskFixture, user, path string) string {
	t.Helper()
	_, body := f.do(t, user, "en", "GET", path, nil, "")
	return body
}

// TestTicketKeys: the keys the ticket and contact pages build in Go exist in both languages.
func TestTicketKeys(t *testing.T) {
	text, err := loadLocales(embedded)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, c := range hours.Channels {
		keys = append(keys, "contact.channel."+string(c))
	}
	for _, c := range []string{"chat", "web", "email"} {
		keys = append(keys, "contact.action."+c)
	}
	for n := range contactNetworks {
		keys = append(keys, "contact.network."+n)
	}
	for _, s := range tickets.Statuses {
		keys = append(keys, ticketStatusKey(string(s), false), ticketStatusKey(string(s), true))
	}
	for _, c := range tickets.Categories {
		keys = append(keys, "tickets.category."+c)
	}
	for _, p := range hours.Priorities {
		keys = append(keys, "tickets.priority."+string(p))
	}
	for _, k := range doneTicketKeys {
		keys = append(keys, k)
	}
	keys = append(keys, "tickets.who.customer", "tickets.agent.who.customer", "tickets.who.agent", "tickets.who.note", "tickets.who.system", "tickets.event.status",
		"tickets.event.assigned", "tickets.event.unassigned", "tickets.event.auto_closed", "tickets.event.rejected", "tickets.event.follow_up",
		"contact.open_until", "contact.opens_at", "contact.closed_today", "contact.expect_within", "contact.expect_by",
		"contact.target_days", "contact.target_hours", "contact.target_minutes")
	for _, k := range keys {
		for _, lang := range Langs {
			if _, ok := text[lang][k]; !ok {
				t.Errorf("%s: %q missing", lang, k)
			}
		}
	}
}
