package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// EmailSender delivers one email. A returned error wrapped with Permanent means retrying
// cannot help (the server refused the recipient); any other error is retried with backoff.
type EmailSender interface {
	Send(ctx context.Context, e Email) error
}

// PermanentError marks a failure that retrying cannot fix; the worker marks the message
// dead at once instead of retrying.
type PermanentError struct{ Err error }

func (p *PermanentError) Error() string { return "permanent: " + p.Err.Error() }
func (p *PermanentError) Unwrap() error { return p.Err }

// Permanent wraps err as a PermanentError (nil stays nil).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err carries a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// SMTPConfig says how to reach the mail server. Build it with ParseSMTPURL.
type SMTPConfig struct {
	Host string
	Port int
	// ImplicitTLS is smtps:// (TLS from the first byte, usually port 465). Otherwise the
	// sender upgrades with STARTTLS whenever the server offers it.
	ImplicitTLS bool
	// RequireTLS refuses to send over a connection that did not get TLS (smtp:// with
	// ?starttls=required). Credentials are never sent in the clear to a host other than
	// loopback, whatever this says.
	RequireTLS bool
	Username   string
	Password   string
	From       mail.Address
	// HelloName is the name given in EHLO; the machine's host name when empty.
	HelloName string
	// Timeout bounds one whole delivery: connect, TLS, commands and data.
	Timeout time.Duration
	// TLSConfig, when set, is the base TLS configuration (tests trust their own CA with
	// it); ServerName is always set to Host.
	TLSConfig *tls.Config
}

const (
	defaultSMTPTimeout = 30 * time.Second
	maxSMTPTimeout     = 5 * time.Minute
)

// ParseSMTPURL reads OKPAY_SMTP_URL:
//
//	smtp://user:pass@host:587?from=OKPay%20%3Cnoreply%40example.com%3E   STARTTLS when offered
//	smtp://host:25?from=noreply@example.com&starttls=required          refuse without TLS
//	smtps://user:pass@host:465?from=noreply@example.com                 implicit TLS
//
// Other parameters: helo=name, timeout=30s (at most 5m). User and password must be
// URL-encoded. The error never repeats the password.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	var c SMTPConfig
	u, err := url.Parse(raw)
	if err != nil {
		return c, errors.New("smtp URL: cannot parse (expected smtp://user:pass@host:port?from=…)")
	}
	switch u.Scheme {
	case "smtp":
		c.Port = 587
	case "smtps":
		c.ImplicitTLS, c.Port = true, 465
	default:
		return c, fmt.Errorf("smtp URL: scheme must be smtp or smtps, not %q", u.Scheme)
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		return c, errors.New("smtp URL: host is missing")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return c, fmt.Errorf("smtp URL: bad port %q", p)
		}
		c.Port = n
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	q := u.Query()
	from := q.Get("from")
	if from == "" {
		return c, errors.New("smtp URL: from=… is required (the sender address)")
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return c, fmt.Errorf("smtp URL: from: %w", err)
	}
	c.From = *a
	switch q.Get("starttls") {
	case "", "auto":
	case "required":
		c.RequireTLS = true
	default:
		return c, fmt.Errorf("smtp URL: starttls must be auto or required")
	}
	c.HelloName = q.Get("helo")
	c.Timeout = defaultSMTPTimeout
	if t := q.Get("timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 || d > maxSMTPTimeout {
			return c, fmt.Errorf("smtp URL: timeout must be a duration up to %s", maxSMTPTimeout)
		}
		c.Timeout = d
	}
	return c, nil
}

// SMTPSender sends mail through an SMTP server, one connection per message: transactional
// mail is rare enough that pooling would only add stale-connection failures.
type SMTPSender struct {
	cfg SMTPConfig
}

// NewSMTPSender checks cfg and returns a sender.
//
// Errors: a plain error naming the missing or bad setting.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	if cfg.Host == "" || cfg.Port <= 0 || cfg.Port > 65535 {
		return nil, errors.New("smtp: host and port are required")
	}
	if cfg.From.Address == "" || checkAddress(cfg.From.Address) != nil {
		return nil, errors.New("smtp: a valid from address is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultSMTPTimeout
	}
	if cfg.Timeout > maxSMTPTimeout {
		cfg.Timeout = maxSMTPTimeout
	}
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
		if h, err := os.Hostname(); err == nil && h != "" && !strings.ContainsAny(h, " \r\n") {
			cfg.HelloName = h
		}
	}
	return &SMTPSender{cfg: cfg}, nil
}

// From is the sender address mail goes out with.
func (s *SMTPSender) From() mail.Address { return s.cfg.From }

// Send delivers e. It gives up when ctx ends or the configured timeout passes.
//
// Errors: PermanentError when the server refuses the message or recipient for good (5xx
// other than authentication failures, which a configuration fix can cure); any other error
// is worth retrying (network, TLS, 4xx, authentication).
func (s *SMTPSender) Send(ctx context.Context, e Email) error {
	msg, err := BuildMessage(s.cfg.From, e, time.Now())
	if err != nil {
		return Permanent(err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("smtp: connect %s: %w", addr, err)
	}
	// net/smtp has no contexts: the deadline bounds every read and write, and closing the
	// connection when ctx ends unblocks whatever is waiting.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()

	tlsCfg := s.tlsConfig()
	if s.cfg.ImplicitTLS {
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("smtp: TLS with %s: %w", addr, err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return classify("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HelloName); err != nil {
		return classify("EHLO", err)
	}
	if !s.cfg.ImplicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsCfg); err != nil {
				return classify("STARTTLS", err)
			}
		} else if s.cfg.RequireTLS {
			return fmt.Errorf("smtp: %s does not offer STARTTLS and the URL says starttls=required", addr)
		}
	}
	if s.cfg.Username != "" {
		// PlainAuth itself refuses to send the password without TLS unless the server is on
		// loopback, so a downgraded connection cannot leak it.
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return classify("AUTH", err)
		}
	}
	if err := c.Mail(s.cfg.From.Address); err != nil {
		return classify("MAIL FROM", err)
	}
	if err := c.Rcpt(e.To); err != nil {
		return classify("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return classify("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return classify("DATA", err)
	}
	if err := w.Close(); err != nil {
		return classify("end of DATA", err)
	}
	// The message is accepted once DATA is answered; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}

func (s *SMTPSender) tlsConfig() *tls.Config {
	var c *tls.Config
	if s.cfg.TLSConfig != nil {
		c = s.cfg.TLSConfig.Clone()
	} else {
		c = &tls.Config{}
	}
	c.ServerName = s.cfg.Host
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// classify wraps an SMTP failure, marking refusals that retrying cannot cure as permanent.
func classify(step string, err error) error {
	err = fmt.Errorf("smtp %s: %w", step, err)
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 && te.Code < 600 {
		switch te.Code {
		case 530, 534, 535, 538: // authentication: fixed by correcting the configuration
			return err
		}
		return Permanent(err)
	}
	return err
}

// maxHeaderLine keeps folded header lines well under RFC 5322's 998-octet limit.
const maxHeaderLine = 76

// BuildMessage renders e as an RFC 5322 message: UTF-8, headers encoded per RFC 2047, a
// multipart/alternative body with the text part first and the HTML part last (clients show
// the last part they understand), quoted-printable so lines stay short. The Message-ID is
// derived from e.ID, so a retried message keeps its id.
//
// Errors: a plain error when e.To or from is not a valid address.
func BuildMessage(from mail.Address, e Email, date time.Time) ([]byte, error) {
	if err := checkAddress(e.To); err != nil {
		return nil, fmt.Errorf("build message: to: %w", err)
	}
	if err := checkAddress(from.Address); err != nil {
		return nil, fmt.Errorf("build message: from: %w", err)
	}
	var buf bytes.Buffer
	body := multipart.NewWriter(&buf)
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	id := e.ID
	if id == "" {
		var r [16]byte
		_, _ = rand.Read(r[:])
		id = hex.EncodeToString(r[:])
	}
	h := func(k, v string) { buf.WriteString(k + ": " + v + "\r\n") }
	h("From", from.String())
	h("To", (&mail.Address{Address: e.To}).String())
	h("Subject", encodeHeader(e.Subject))
	h("Date", date.Format(time.RFC1123Z))
	h("Message-ID", "<"+id+"@"+domain+">")
	h("MIME-Version", "1.0")
	// Auto-Submitted keeps vacation responders from answering a no-reply address.
	h("Auto-Submitted", "auto-generated")
	if e.Lang != "" && langRE.MatchString(e.Lang) {
		h("Content-Language", e.Lang)
	}
	if e.Kind != "" && kindRE.MatchString(e.Kind) {
		h("X-OKPay-Kind", e.Kind)
	}
	h("Content-Type", `multipart/alternative; boundary="`+body.Boundary()+`"`)
	buf.WriteString("\r\n")
	html := e.HTML
	if html == "" {
		html = textToHTML(e.Text, e.Lang)
	}
	for _, p := range []struct{ ctype, content string }{{"text/plain", e.Text}, {"text/html", html}} {
		w, err := body.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.ctype + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, fmt.Errorf("build message: %w", err)
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(p.content)); err != nil {
			return nil, fmt.Errorf("build message: %w", err)
		}
		if err := qp.Close(); err != nil {
			return nil, fmt.Errorf("build message: %w", err)
		}
	}
	if err := body.Close(); err != nil {
		return nil, fmt.Errorf("build message: %w", err)
	}
	return buf.Bytes(), nil
}

// encodeHeader encodes a header value per RFC 2047 when it is not plain ASCII, folding
// between encoded words so no line grows past the limit. Base64 suits Chinese, where
// quoted-printable would triple the length.
func encodeHeader(v string) string {
	enc := mime.BEncoding.Encode("utf-8", v)
	if enc == v {
		return v
	}
	return strings.ReplaceAll(enc, "?= =?", "?=\r\n =?")
}
