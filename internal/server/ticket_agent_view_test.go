package server_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"okpay/internal/identity"
	"okpay/internal/server"
	"okpay/internal/support/tickets"
)

// customerMsgRE finds who wrote the customer's message and when, on a ticket page.
var customerMsgRE = regexp.MustCompile(`data-kind="customer"[^>]*>\s*<p class="muted"><strong>([^<]*)</strong> · ([^<]*)</p>`)

// waitingOptionRE finds the reply form's "then set the ticket to: waiting" option.
var waitingOptionRE = regexp.MustCompile(`<option value="waiting_on_customer">([^<]*)</option>`)

// An agent reading a ticket sees it from the desk's side: the customer's message is the
// customer's (by address, not a raw id), its time has a date, and "waiting" means waiting
// for the customer; the customer's own page keeps "You" and "waiting for your reply".
func TestAgentTicketViewSpeaksToTheAgent(t *testing.T) {
	walletEngines(t, func(t *testing.T, app *server.App, _ *syncBuffer) {
		ctx := context.Background()
		cara := newPerson(t, app, "cara@example.com", identity.RoleCustomer)
		agnes := newPerson(t, app, "agnes@example.com", identity.RoleAgent)
		tk, err := app.Tickets.Open(ctx, tickets.OpenInput{CustomerID: cara.u.ID, Category: "payment", Subject: "Payment missing",
			Description: "My payment to the shop did not arrive.", Via: tickets.ViaWeb})
		if err != nil {
			t.Fatal(err)
		}
		agent := page{agnes}
		created := tk.CreatedAt.UTC().Format("2 Jan 2006 15:04 UTC")
		for _, c := range []struct{ lang, who, waiting, yours string }{
			{"en", "Customer", "Waiting for the customer", "Waiting for your reply"},
			{"zh-CN", "客户", "等待客户回复", "等待您的回复"},
		} {
			agent.Header.Set("Accept-Language", c.lang)
			_, body := agent.get("/agent/tickets/" + tk.Number)
			m := customerMsgRE.FindStringSubmatch(body)
			if m == nil || !strings.HasPrefix(m[1], c.who) || !strings.Contains(m[1], "cara@example.com") {
				t.Errorf("%s: customer's message labelled %q, want %s and the address", c.lang, m, c.who)
			}
			if c.lang == "en" && (m == nil || m[2] != created) {
				t.Errorf("en: message time %q, want %q", m, created)
			}
			if strings.Contains(body, "<code>"+cara.u.ID+"</code>") {
				t.Errorf("%s: the customer is shown as a raw id", c.lang)
			}
			must(t, body, `href="/agent/customers/`+cara.u.ID+`"`)
			if o := waitingOptionRE.FindStringSubmatch(body); o == nil || o[1] != c.waiting {
				t.Errorf("%s: waiting option %q, want %q", c.lang, o, c.waiting)
			}
			if strings.Contains(body, c.yours) {
				t.Errorf("%s: the agent page speaks to the customer (%q)", c.lang, c.yours)
			}
		}

		if _, err := app.Tickets.Reply(ctx, tickets.Actor{UserID: agnes.u.ID, Role: identity.RoleAgent}, tk.Number,
			tickets.ReplyInput{Body: "Which shop was it?", Status: tickets.StatusWaiting}); err != nil {
			t.Fatal(err)
		}
		agent.Header.Set("Accept-Language", "en")
		_, body := agent.get("/agent/tickets/" + tk.Number)
		must(t, body, `<dd id="ticket-status">Waiting for the customer</dd>`)
		// The console's home and customer pages speak to the agent too.
		for _, path := range []string{"/agent", "/agent/customers/" + cara.u.ID} {
			_, body := agent.get(path)
			must(t, body, "Waiting for the customer")
			if strings.Contains(body, "Waiting for your reply") {
				t.Errorf("%s speaks to the customer (Waiting for your reply)", path)
			}
		}
		customer := page{cara}
		customer.Header.Set("Accept-Language", "en")
		_, body = customer.get("/tickets/" + tk.Number)
		must(t, body, `<dd id="ticket-status">Waiting for your reply</dd>`)
		if m := customerMsgRE.FindStringSubmatch(body); m == nil || m[1] != "You" {
			t.Errorf("customer page labels the customer's own message %q, want You", m)
		}
	})
}
