package api

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/support/hours"
	"okpay/internal/support/tickets"
)

// deskUsers is the tickets' user directory in these tests; authn is simulated by a
// header naming the user, so the tests exercise the handlers, not sign-in.
type deskUsers map[string]*identity.User

func (d deskUsers) GetUser(_ context.Context, id string) (*identity.User, error) {
	if u := d[id]; u != nil {
		return u, nil
	}
	return nil, apperr.New(apperr.CodeNotFound)
}

func (d deskUsers) UserByVerifiedEmail(_ context.Context, email string) (*identity.User, error) {
	for _, u := range d {
		if u.Email == email {
			return u, nil
		}
	}
	return nil, nil
}

func ticketAPI(t *testing.T, engine db.Engine) http.Handler {
	t.Helper()
	d := dbtest.Open(t, engine, dbtest.NewClock())
	desk, err := hours.New(hours.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	users := deskUsers{
		"u-ann":   {ID: "u-ann", Email: "ann@example.com", Lang: "en", Role: identity.RoleCustomer, EmailVerified: true},
		"u-ben":   {ID: "u-ben", Email: "ben@example.com", Lang: "zh-CN", Role: identity.RoleCustomer, EmailVerified: true},
		"u-agent": {ID: "u-agent", Email: "agent@okpay.example", Lang: "en", Role: identity.RoleAgent, EmailVerified: true},
	}
	svc, err := tickets.New(d, desk, users, tickets.Config{FilesDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	a := New(Deps{Version: "test", Tickets: svc})
	mux := http.NewServeMux()
	a.Register(mux)
	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := users[r.Header.Get("X-Test-User")]; u != nil {
			r = r.WithContext(authn.WithPrincipal(r.Context(), &authn.Principal{User: u, Session: &identity.Session{ID: "s-" + u.ID}}))
		}
		mux.ServeHTTP(w, r)
	})
	return httpx.Base(auth, slog.New(slog.DiscardHandler), nil)
}

func call(t *testing.T, h http.Handler, user, method, path string, body any, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case *multipart.Writer:
		t.Fatal("use form")
	case formBody:
		rd, ctype = bytes.NewReader(b.data), b.ctype
	default:
		j, _ := json.Marshal(b)
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	r := httptest.NewRequest(method, path, rd)
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	r.Header.Set("X-Test-User", user)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := w.Result()
	out, _ := io.ReadAll(res.Body)
	return res, out
}

type formBody struct {
	data  []byte
	ctype string
}

func form(t *testing.T, fields map[string]string, files map[string][]byte) formBody {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for name, data := range files {
		// The browser's claimed type says PNG for everything: the server must not care.
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{`form-data; name="attachments"; filename="` + name + `"`}
		h["Content-Type"] = []string{"image/png"}
		w, _ := mw.CreatePart(h)
		w.Write(data)
	}
	mw.Close()
	return formBody{b.Bytes(), mw.FormDataContentType()}
}

func tinyPNG() []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 2, 2)))
	return b.Bytes()
}

func TestTicketAPI(t *testing.T) {
	for _, eng := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(eng), func(t *testing.T) {
			h := ticketAPI(t, eng)

			// Contact is public.
			res, body := call(t, h, "", "GET", "/api/v1/contact", nil)
			c := helpDecode[ContactResponse](t, body)
			if res.StatusCode != 200 || len(c.Channels) != 5 || c.Channels[0].ID != "chat" || !c.Channels[0].Open || c.Channels[0].TargetMinutes != 3 ||
				c.Channels[2].TargetBusinessDays != 1 || c.Channels[0].TimeZone != "Asia/Shanghai" || len(c.Channels[0].Today) != 2 {
				t.Fatalf("contact %d %s", res.StatusCode, body)
			}

			// Tickets need a signed-in user.
			if res, _ := call(t, h, "", "GET", "/api/v1/tickets", nil); res.StatusCode != 401 {
				t.Fatalf("anonymous list: %d", res.StatusCode)
			}
			res, body = call(t, h, "u-ann", "POST", "/api/v1/tickets", CreateTicketRequest{Category: "payment", Subject: "Payment failed", Description: "Declined twice", RelatedRef: "pay_1"})
			tk := helpDecode[tickets.Ticket](t, body)
			if res.StatusCode != 201 || tk.Number != "T-2026-000001" || tk.Status != "new" || tk.Channel != "api" {
				t.Fatalf("create %d %s", res.StatusCode, body)
			}
			res, body = call(t, h, "u-ann", "POST", "/api/v1/tickets", CreateTicketRequest{Category: "nope", Subject: "s", Description: "d"})
			if res.StatusCode != 422 || !strings.Contains(string(body), `"field":"category"`) {
				t.Fatalf("bad category %d %s", res.StatusCode, body)
			}

			// Multipart with a good and a bad file: each file gets its own error; nothing is created.
			res, body = call(t, h, "u-ann", "POST", "/api/v1/tickets", form(t, map[string]string{"category": "card", "subject": "Card", "description": "see files"},
				map[string][]byte{"a.png": tinyPNG(), "b.png": []byte("<svg onload=alert(1)>")}))
			if res.StatusCode != 422 || !strings.Contains(string(body), tickets.CodeAttachmentType) {
				t.Fatalf("bad file %d %s", res.StatusCode, body)
			}
			res, body = call(t, h, "u-ann", "POST", "/api/v1/tickets/"+tk.Number+"/messages", form(t, map[string]string{"body": "screenshot attached"},
				map[string][]byte{"shot.png": tinyPNG()}))
			msg := helpDecode[tickets.Message](t, body)
			if res.StatusCode != 201 || len(msg.Attachments) != 1 {
				t.Fatalf("message %d %s", res.StatusCode, body)
			}
			res, body = call(t, h, "u-ann", "GET", "/api/v1/tickets/"+tk.Number+"/attachments/"+msg.Attachments[0].ID, nil)
			if res.StatusCode != 200 || !bytes.Equal(body, tinyPNG()) || res.Header.Get("X-Content-Type-Options") != "nosniff" ||
				!strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment;") || res.Header.Get("Content-Type") != "image/png" {
				t.Fatalf("download %d %v", res.StatusCode, res.Header)
			}
			if res, _ := call(t, h, "u-ben", "GET", "/api/v1/tickets/"+tk.Number+"/attachments/"+msg.Attachments[0].ID, nil); res.StatusCode != 404 {
				t.Fatalf("other customer download: %d", res.StatusCode)
			}
			if res, _ := call(t, h, "u-ben", "GET", "/api/v1/tickets/"+tk.Number, nil); res.StatusCode != 404 {
				t.Fatalf("other customer read: %d", res.StatusCode)
			}
			res, body = call(t, h, "u-ann", "GET", "/api/v1/tickets", nil)
			if p := helpDecode[tickets.Page](t, body); res.StatusCode != 200 || len(p.Tickets) != 1 {
				t.Fatalf("list %d %s", res.StatusCode, body)
			}

			// The desk.
			if res, _ := call(t, h, "u-ann", "GET", "/api/v1/agent/tickets", nil); res.StatusCode != 403 {
				t.Fatalf("customer queue: %d", res.StatusCode)
			}
			res, body = call(t, h, "u-agent", "GET", "/api/v1/agent/tickets?status=new,open&assignee=none", nil)
			if p := helpDecode[tickets.Page](t, body); res.StatusCode != 200 || len(p.Tickets) != 1 {
				t.Fatalf("queue %d %s", res.StatusCode, body)
			}
			steps := []struct {
				path string
				body any
				want int
			}{
				{"/assign", TicketAssignRequest{AssigneeID: "u-agent"}, 200},
				{"/notes", TicketNoteRequest{Body: "card issuer declined, code 05"}, 201},
				{"/reply", AgentReplyRequest{Body: "Your bank declined it; please call them."}, 201},
				{"/status", TicketStatusRequest{Status: "resolved", Reason: "answered"}, 200},
				{"/status", TicketStatusRequest{Status: "new"}, 409},
			}
			for _, s := range steps {
				if res, body := call(t, h, "u-agent", "POST", "/api/v1/agent/tickets/"+tk.Number+s.path, s.body); res.StatusCode != s.want {
					t.Fatalf("%s: %d %s", s.path, res.StatusCode, body)
				}
			}
			res, body = call(t, h, "u-ann", "GET", "/api/v1/tickets/"+tk.Number, nil)
			th := helpDecode[tickets.Thread](t, body)
			if res.StatusCode != 200 || th.Ticket.Status != "resolved" || strings.Contains(string(body), "code 05") || th.Ticket.Diagnosis != nil {
				t.Fatalf("customer thread %d %s", res.StatusCode, body)
			}
			res, body = call(t, h, "u-agent", "GET", "/api/v1/tickets/"+tk.Number, nil)
			if res.StatusCode != 200 || !strings.Contains(string(body), "code 05") {
				t.Fatalf("agent thread %d %s", res.StatusCode, body)
			}
		})
	}
}

func TestTicketOpenAPI(t *testing.T) {
	d := dbtest.Open(t, db.SQLite, nil)
	desk, _ := hours.New(hours.DefaultConfig())
	svc, err := tickets.New(d, desk, deskUsers{}, tickets.Config{FilesDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	a := New(Deps{Version: "test", Tickets: svc})
	doc, err := json.Marshal(OpenAPI(a.Router(), "test"))
	if err != nil {
		t.Fatal(err)
	}
	ld, err := openapi3.NewLoader().LoadFromData(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := ld.Validate(context.Background()); err != nil {
		t.Errorf("OpenAPI invalid: %v", err)
	}
	for _, p := range []string{"/contact", "/tickets", "/tickets/{number}", "/tickets/{number}/messages", "/tickets/{number}/attachments/{id}",
		"/agent/tickets", "/agent/tickets/{number}/reply", "/agent/tickets/{number}/status", "/agent/tickets/{number}/assign", "/agent/tickets/{number}/notes"} {
		if ld.Paths.Find(p) == nil {
			t.Errorf("OpenAPI lacks %s", p)
		}
	}
}
