package server_test

import (
	"context"
	"net"
	"net/smtp"
	"strings"
	"testing"

	"okpay/internal/identity"
	"okpay/internal/server"
	"okpay/internal/support/tickets"
)

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestSupportDeskWired: serve with --smtp-inbound and a support mailbox; mail from a
// verified customer becomes their ticket through the real identity directory; the contact
// page and API show the configured mailbox.
func TestSupportDeskWired(t *testing.T) {
	relaxed(t)
	cfg := sqliteConfig(t)
	cfg.SMTPInbound = freeAddr(t)
	cfg.SupportEmail = "help@okpay.test"
	app := start(t, cfg)
	ctx := context.Background()
	u, err := app.Identity.CreateUser(ctx, identity.CreateUserInput{Email: "Carol@Example.com", Password: server.DemoPassword,
		Lang: identity.LangZh, Role: identity.RoleCustomer, Verified: true})
	if err != nil {
		t.Fatal(err)
	}
	msg := "From: Carol <carol@example.com>\r\nTo: help@okpay.test\r\nSubject: =?utf-8?b?5Ye657uT?=\r\nMessage-ID: <c1@example.com>\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nMy account is frozen.\r\n"
	if err := smtp.SendMail(cfg.SMTPInbound, nil, "carol@example.com", []string{"help@okpay.test"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	p, err := app.Tickets.List(ctx, tickets.Actor{UserID: u.ID, Role: identity.RoleCustomer}, "", 10)
	if err != nil || len(p.Tickets) != 1 || !p.Tickets[0].Verified || p.Tickets[0].Subject != "出结" || p.Tickets[0].Channel != "email" {
		t.Fatalf("carol's tickets = %+v, %v", p, err)
	}
	if err := smtp.SendMail(cfg.SMTPInbound, nil, "carol@example.com", []string{"someone@else.test"}, []byte(msg)); err == nil ||
		!strings.Contains(err.Error(), "550") {
		t.Fatalf("relay attempt: %v", err)
	}
	_, body := get(t, app.URL()+"/contact", map[string]string{"Accept-Language": "en"})
	if !strings.Contains(body, "mailto:help@okpay.test") || !strings.Contains(body, "Live chat") {
		t.Fatalf("contact page lacks the mailbox")
	}
	res, body := get(t, app.URL()+"/api/v1/contact", nil)
	if res.StatusCode != 200 || !strings.Contains(body, `"address":"help@okpay.test"`) {
		t.Fatalf("contact API %d %s", res.StatusCode, body)
	}
}

func TestSupportConfigValidated(t *testing.T) {
	for _, mod := range []func(*server.Config){
		func(c *server.Config) { c.SupportEmail = "Support <s@x.test>" },
		func(c *server.Config) { c.SMTPInbound = "2525" },
	} {
		c := server.Defaults()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("accepted %+v", c)
		}
	}
}

// --demo seeds one answered ticket for the first demo customer.
func TestDemoTicket(t *testing.T) {
	cfg := sqliteConfig(t)
	cfg.Demo = true
	app := start(t, cfg)
	ctx := context.Background()
	q, err := app.Tickets.Queue(ctx, tickets.Actor{UserID: "demo-agent", Role: identity.RoleAgent}, tickets.QueueInput{})
	if err != nil || len(q.Tickets) != 1 || q.Tickets[0].Status != tickets.StatusWaiting || q.Tickets[0].FirstRespondedAt.IsZero() {
		t.Fatalf("demo queue = %+v, %v", q, err)
	}
}
