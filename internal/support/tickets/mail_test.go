package tickets

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"okpay/internal/notify"
)

// startInbound runs the desk's SMTP listener on a free loopback port.
func startInbound(t *testing.T, e *env) string {
	t.Helper()
	in := NewInbound(e.svc, InboundConfig{Addr: "127.0.0.1:0", MaxMessageBytes: 8 << 20,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := in.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { in.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return in.Addr()
}

// sendMail speaks SMTP to addr like a mail server relaying a customer's message.
func sendMail(addr, from, to string, msg []byte) error {
	return smtp.SendMail(addr, nil, from, []string{to}, msg)
}

type mailSpec struct {
	From, Subject, MessageID, InReplyTo, References string
	Text                                            string
	HTMLOnly                                        bool
	Files                                           map[string][]byte
	Extra                                           string
}

// buildMail writes a multipart/mixed message the way common clients do: a base64 UTF-8
// text part (or HTML in quoted-printable), RFC 2047 subject, base64 attachments with
// RFC 2047 file names.
func buildMail(s mailSpec) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: OKPay Support <support@okpay.example>\r\n", s.From)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.BEncoding.Encode("utf-8", s.Subject))
	fmt.Fprintf(&b, "Date: %s\r\nMIME-Version: 1.0\r\n", time.Now().Format(time.RFC1123Z))
	if s.MessageID != "" {
		fmt.Fprintf(&b, "Message-ID: <%s>\r\n", s.MessageID)
	}
	if s.InReplyTo != "" {
		fmt.Fprintf(&b, "In-Reply-To: %s\r\n", s.InReplyTo)
	}
	if s.References != "" {
		fmt.Fprintf(&b, "References: %s\r\n", s.References)
	}
	b.WriteString(s.Extra)
	b.WriteString("Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\nThis is a MIME message.\r\n--XYZ\r\n")
	if s.HTMLOnly {
		b.WriteString("Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
		b.WriteString(qp("<html><head><style>p{color:red}</style></head><body><p>" + s.Text + "</p><p>第二段&amp;more</p></body></html>"))
		b.WriteString("\r\n")
	} else {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		b.WriteString(wrap76(base64.StdEncoding.EncodeToString([]byte(s.Text))))
	}
	for name, data := range s.Files {
		fmt.Fprintf(&b, "--XYZ\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
			mime.BEncoding.Encode("utf-8", name))
		b.WriteString(wrap76(base64.StdEncoding.EncodeToString(data)))
	}
	b.WriteString("--XYZ--\r\n")
	return b.Bytes()
}

func qp(s string) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s + "\r\n")
	return b.String()
}

func TestInboundMailCreatesAndThreads(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		addr := startInbound(t, e)

		// 1. A verified customer writes in Chinese with a screenshot and a file that is not
		// what its name says.
		msg := buildMail(mailSpec{From: "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte("张三")) + "?= <Alice@Example.com>",
			Subject: "提现失败怎么办", MessageID: "m1@mail.example.com", Text: "你好，我的提现失败了。\n订单号 wd_0193",
			Files: map[string][]byte{"截图.png": pngBytes(t), "invoice.pdf": []byte("MZ\x90\x00 not a pdf")}})
		if err := sendMail(addr, "alice@example.com", "support@okpay.example", msg); err != nil {
			t.Fatal(err)
		}
		p, _ := e.svc.List(ctx, e.alice, "", 10)
		if len(p.Tickets) != 1 {
			t.Fatalf("alice's tickets = %+v", p.Tickets)
		}
		tk := p.Tickets[0]
		if tk.Subject != "提现失败怎么办" || tk.Channel != ViaEmail || !tk.Verified || tk.Lang != "zh-CN" {
			t.Fatalf("ticket = %+v", tk)
		}
		th, _ := e.svc.Get(ctx, e.agent, tk.Number)
		if th.Messages[0].Body != "你好，我的提现失败了。\n订单号 wd_0193" || len(th.Messages[0].Attachments) != 1 ||
			th.Messages[0].Attachments[0].FileName != "截图.png" {
			t.Fatalf("first message = %+v", th.Messages[0])
		}
		if last := th.Messages[len(th.Messages)-1]; last.Kind != KindSystem || last.Body != EventRejected+":"+CodeAttachmentType+":invoice.pdf" {
			t.Fatalf("rejected file not noted: %+v", th.Messages)
		}
		ack := outbox(t, e.d, "alice@example.com")
		if len(ack) != 1 || ack[0].Kind != "ticket_received" || !strings.Contains(ack[0].Subject, "["+tk.Number+"]") ||
			strings.Contains(ack[0].Text, "无法将此邮箱") {
			t.Fatalf("ack = %+v", ack)
		}

		// 2. The same message delivered twice (a relay retried) changes nothing.
		if err := sendMail(addr, "alice@example.com", "support@okpay.example", msg); err != nil {
			t.Fatal(err)
		}
		if p, _ := e.svc.List(ctx, e.alice, "", 10); len(p.Tickets) != 1 {
			t.Fatal("duplicate opened a ticket")
		}

		// 3. The agent replies; the customer answers from her mail client, which keeps
		// only In-Reply-To (subject tag removed): it threads through our Message-ID.
		if _, err := e.svc.Reply(ctx, e.agent, tk.Number, ReplyInput{Body: "请提供银行卡后四位"}); err != nil {
			t.Fatal(err)
		}
		reply := outbox(t, e.d, "alice@example.com")[1]
		ourID := "<" + reply.ID + "@okpay.example>"
		msg2 := buildMail(mailSpec{From: "alice@example.com", Subject: "回复：银行卡", MessageID: "m2@mail.example.com",
			InReplyTo: ourID, References: "<m1@mail.example.com> " + ourID,
			Text: "后四位是 1234\n\n在 2026年3月2日 OKPay 客服 写道：\n> 请提供银行卡后四位"})
		if err := sendMail(addr, "alice@example.com", "support@okpay.example", msg2); err != nil {
			t.Fatal(err)
		}
		th, _ = e.svc.Get(ctx, e.agent, tk.Number)
		last := th.Messages[len(th.Messages)-1]
		if last.Kind != KindCustomer || last.Body != "后四位是 1234" || last.Via != ViaEmail || th.Ticket.Status != StatusOpen {
			t.Fatalf("threaded reply = %+v, status %s", last, th.Ticket.Status)
		}

		// 4. An HTML-only reply by subject tag only.
		msg3 := buildMail(mailSpec{From: "alice@example.com", Subject: "Re: [" + tk.Number + "] 提现失败怎么办", HTMLOnly: true,
			MessageID: "m3@mail.example.com", Text: "Thanks <b>a lot</b>"})
		if err := sendMail(addr, "alice@example.com", "support@okpay.example", msg3); err != nil {
			t.Fatal(err)
		}
		th, _ = e.svc.Get(ctx, e.agent, tk.Number)
		if last := th.Messages[len(th.Messages)-1]; last.Body != "Thanks a lot\n\n第二段&more" {
			t.Fatalf("html reply body = %q", last.Body)
		}

		// 5. Someone else using the ticket number gets their own, unverified ticket and an
		// autoreply asking them to sign in; nothing lands in Alice's thread.
		n := len(th.Messages)
		msg4 := buildMail(mailSpec{From: "Mallory <mallory@evil.example>", Subject: "Re: [" + tk.Number + "] give me the details",
			MessageID: "m4@evil.example", InReplyTo: ourID, Text: "What is on this account?"})
		if err := sendMail(addr, "mallory@evil.example", "support@okpay.example", msg4); err != nil {
			t.Fatal(err)
		}
		th, _ = e.svc.Get(ctx, e.agent, tk.Number)
		if len(th.Messages) != n {
			t.Fatal("a stranger wrote into alice's ticket")
		}
		auto := outbox(t, e.d, "mallory@evil.example")
		if len(auto) != 1 || !strings.Contains(auto[0].Text, "sign in to OKPay") || strings.Contains(auto[0].Text, "银行卡") {
			t.Fatalf("autoreply = %+v", auto)
		}
		mt := strings.TrimSuffix(strings.SplitN(auto[0].Subject, "]", 2)[0], "")[1:]
		mth, err := e.svc.Get(ctx, e.agent, mt)
		if err != nil || mth.Ticket.Verified || mth.Ticket.CustomerID != "" || mth.Ticket.ContactEmail != "mallory@evil.example" {
			t.Fatalf("unverified ticket = %+v, %v", mth, err)
		}
		// Their own follow-up threads into their own ticket by the subject tag.
		msg5 := buildMail(mailSpec{From: "mallory@evil.example", Subject: "Re: [" + mt + "] more", MessageID: "m5@evil.example", Text: "hello?"})
		if err := sendMail(addr, "mallory@evil.example", "support@okpay.example", msg5); err != nil {
			t.Fatal(err)
		}
		if mth, _ = e.svc.Get(ctx, e.agent, mt); len(mth.Messages) != 2 {
			t.Fatalf("unverified follow-up: %+v", mth.Messages)
		}

		// 6. Mail for another mailbox is refused (not a relay); automatic mail gets no
		// answer; too many new tickets from one address are deferred.
		if err := sendMail(addr, "x@example.com", "postmaster@okpay.example", msg); err == nil || !strings.Contains(err.Error(), "550") {
			t.Fatalf("other recipient: %v", err)
		}
		bounce := buildMail(mailSpec{From: "mailer-daemon@mx.example", Subject: "Undelivered", MessageID: "b1@mx.example", Text: "bounce",
			Extra: "Auto-Submitted: auto-replied\r\n"})
		if err := sendMail(addr, "", "support@okpay.example", bounce); err != nil {
			t.Fatal(err)
		}
		if m := outbox(t, e.d, "mailer-daemon@mx.example"); len(m) != 0 {
			t.Fatal("answered an automatic mail")
		}
		// A message over the listener's size limit is refused during DATA.
		huge := buildMail(mailSpec{From: "alice@example.com", Subject: "huge", MessageID: "huge@example.com", Text: "x",
			Files: map[string][]byte{"big.pdf": append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("A"), 7<<20)...)}})
		if err := sendMail(addr, "alice@example.com", "support@okpay.example", huge); err == nil || !strings.Contains(err.Error(), "552") {
			t.Fatalf("oversized mail: %v", err)
		}
		var lastErr error
		for i := 0; i < 12; i++ {
			m := buildMail(mailSpec{From: "spam@spam.example", Subject: fmt.Sprint("spam ", i), MessageID: fmt.Sprint("s", i, "@spam.example"), Text: "buy"})
			if lastErr = sendMail(addr, "spam@spam.example", "support@okpay.example", m); lastErr != nil {
				break
			}
		}
		if lastErr == nil || !strings.Contains(lastErr.Error(), "451") {
			t.Fatalf("rate limit: %v", lastErr)
		}
	})
}

// capture is a real SMTP server standing in for the outgoing mail relay.
type capture struct {
	mu  sync.Mutex
	got [][]byte
}

type capSession struct{ c *capture }

func (s capSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s capSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s capSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.c.mu.Lock()
	s.c.got = append(s.c.got, b)
	s.c.mu.Unlock()
	return nil
}
func (s capSession) Reset()        {}
func (s capSession) Logout() error { return nil }

func startRelay(t *testing.T) (*capture, string) {
	c := &capture{}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return capSession{c}, nil }))
	srv.Domain = "relay.test"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return c, l.Addr().String()
}

// TestOutboundReplyRoundTrip: an agent's reply leaves through the real outbox worker and
// SMTP sender with the ticket reference in the subject and a Message-ID the desk knows;
// the customer's answer quoting that Message-ID, sent back over SMTP, joins the ticket.
func TestOutboundReplyRoundTrip(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		relay, relayAddr := startRelay(t)
		host, port, _ := net.SplitHostPort(relayAddr)
		var portN int
		fmt.Sscan(port, &portN)
		sender, err := notify.NewSMTPSender(notify.SMTPConfig{Host: host, Port: portN, From: mail.Address{Name: "OKPay Support", Address: "support@okpay.example"}})
		if err != nil {
			t.Fatal(err)
		}
		w, err := notify.NewWorker(e.d, notify.WorkerConfig{Email: sender, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		tk, err := e.svc.Open(ctx, OpenInput{CustomerID: e.bob.UserID, Category: "card", Subject: "Change my bank card", Description: "How?"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Reply(ctx, e.agent, tk.Number, ReplyInput{Body: "Go to Wallet > Cards and choose Replace."}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SetStatus(ctx, e.agent, tk.Number, StatusResolved, "answered"); err != nil {
			t.Fatal(err)
		}
		if n, err := w.RunOnce(ctx); err != nil || n != 2 {
			t.Fatalf("worker sent %d, %v", n, err)
		}
		relay.mu.Lock()
		got := append([][]byte(nil), relay.got...)
		relay.mu.Unlock()
		if len(got) != 2 {
			t.Fatalf("relay got %d messages", len(got))
		}
		m, err := mail.ReadMessage(bytes.NewReader(got[0]))
		if err != nil {
			t.Fatal(err)
		}
		subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		if subject != "["+tk.Number+"] Re: Change my bank card" || m.Header.Get("To") != "<bob@example.com>" {
			t.Fatalf("subject %q to %q", subject, m.Header.Get("To"))
		}
		pm, err := ParseMail(bytes.NewReader(got[0]))
		if err != nil || !strings.Contains(pm.Text, "choose Replace") || !strings.Contains(pm.Text, "/tickets/"+tk.Number) {
			t.Fatalf("reply text %q, %v", pm.Text, err)
		}
		msgID := m.Header.Get("Message-ID")
		if !strings.HasSuffix(msgID, "@okpay.example>") {
			t.Fatalf("Message-ID %q", msgID)
		}

		addr := startInbound(t, e)
		answer := buildMail(mailSpec{From: "Bob <bob@example.com>", Subject: "Re: your answer", MessageID: "bob-2@example.com",
			InReplyTo: msgID, References: msgID, Text: "It did not work, the button is grey.\n\nOn Mon, 2 Mar 2026 OKPay Support wrote:\n> Go to Wallet"})
		if err := sendMail(addr, "bob@example.com", "support@okpay.example", answer); err != nil {
			t.Fatal(err)
		}
		th, _ := e.svc.Get(ctx, e.agent, tk.Number)
		last := th.Messages[len(th.Messages)-1]
		if last.Body != "It did not work, the button is grey." || th.Ticket.Status != StatusOpen {
			t.Fatalf("answer = %+v, status %s", last, th.Ticket.Status)
		}
	})
}

func TestParseMailCharsets(t *testing.T) {
	// GBK text in quoted-printable, a GB2312 encoded-word subject, no multipart.
	raw := "From: =?gb2312?B?wO7LxA==?= <lisi@example.cn>\r\n" +
		"Subject: =?gb2312?B?1cu7p7azveE=?=\r\n" +
		"Message-ID: <x1@example.cn>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=GBK\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"=C4=E3=BA=C3\r\n"
	m, err := ParseMail(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.From != "lisi@example.cn" || m.FromName != "李四" || m.Subject != "账户冻结" || m.Text != "你好" || m.MessageID != "x1@example.cn" {
		t.Fatalf("parsed %+v", m)
	}
	if guessLang(m.Subject) != "zh-CN" || guessLang("hello") != "en" {
		t.Fatal("guessLang")
	}
	// Nested alternative inside mixed: text/plain wins over HTML.
	raw = "From: a@b.example\r\nSubject: hi\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n" +
		"Content-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\nplain text\r\n--i\r\n" +
		"Content-Type: text/html\r\n\r\n<p>html</p>\r\n--i--\r\n--o--\r\n"
	if m, err = ParseMail(strings.NewReader(raw)); err != nil || m.Text != "plain text" {
		t.Fatalf("alternative: %q, %v", m.Text, err)
	}
	if _, err := ParseMail(strings.NewReader("Subject: no sender\r\n\r\nbody")); err == nil {
		t.Fatal("mail without From accepted")
	}
	if got := msgIDs("<a@b> junk <c@d>"); len(got) != 2 || got[1] != "c@d" {
		t.Fatalf("msgIDs %v", got)
	}
}
