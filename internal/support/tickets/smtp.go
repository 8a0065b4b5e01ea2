package tickets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// InboundConfig tunes the SMTP listener.
type InboundConfig struct {
	// Addr is where to listen, e.g. "127.0.0.1:2525". Put a real MTA (Postfix) in front
	// of it for mail from the internet: this listener speaks plain SMTP without TLS and
	// accepts mail for the support address only.
	Addr string
	// Domain is the name in the greeting; the support address's domain when empty.
	Domain string
	// MaxMessageBytes bounds one message; 5 attachments of 5 MB grow by a third in base64,
	// so the default is 40 MB.
	MaxMessageBytes int64
	// MaxConns bounds simultaneous connections; 32.
	MaxConns int
	Logger   *slog.Logger
}

// Inbound is the SMTP listener that turns mail to the support address into tickets.
type Inbound struct {
	svc      *Service
	srv      *smtp.Server
	log      *slog.Logger
	ln       net.Listener
	maxConns int
}

// NewInbound builds the listener; call Listen then Serve.
func NewInbound(svc *Service, cfg InboundConfig) *Inbound {
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 40 << 20
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 32
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	in := &Inbound{svc: svc, log: cfg.Logger}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{in: in}, nil
	}))
	s.Addr = cfg.Addr
	s.Domain = cfg.Domain
	if s.Domain == "" {
		s.Domain = svc.cfg.SupportAddress[strings.LastIndexByte(svc.cfg.SupportAddress, '@')+1:]
	}
	s.MaxMessageBytes = cfg.MaxMessageBytes
	s.MaxRecipients = 10
	s.MaxLineLength = 10000
	s.ReadTimeout = 60 * time.Second
	s.WriteTimeout = 60 * time.Second
	s.EnableSMTPUTF8 = true
	s.ErrorLog = slogLogger{cfg.Logger}
	in.srv = s
	in.maxConns = cfg.MaxConns
	return in
}

type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(format string, v ...any) {
	s.l.Warn("smtp inbound: " + fmt.Sprintf(format, v...))
}
func (s slogLogger) Println(v ...any) { s.l.Warn("smtp inbound: " + fmt.Sprint(v...)) }

// Listen binds the address.
//
// Errors: a plain error from the network.
func (in *Inbound) Listen() error {
	ln, err := net.Listen("tcp", in.srv.Addr)
	if err != nil {
		return fmt.Errorf("smtp inbound: listen on %s: %w", in.srv.Addr, err)
	}
	in.ln = &limitListener{Listener: ln, sem: make(chan struct{}, in.maxConns)}
	return nil
}

// Addr is the bound address (after Listen).
func (in *Inbound) Addr() string { return in.ln.Addr().String() }

// Serve accepts connections until ctx ends, then closes the listener and waits for open
// sessions to finish (bounded by the read and write timeouts).
func (in *Inbound) Serve(ctx context.Context) error {
	if in.ln == nil {
		if err := in.Listen(); err != nil {
			return err
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- in.srv.Serve(in.ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := in.srv.Shutdown(sctx); err != nil {
			in.srv.Close()
		}
		<-errc
		return nil
	case err := <-errc:
		if errors.Is(err, smtp.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// limitListener caps simultaneous connections; further ones wait in the kernel's backlog.
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &releaseConn{Conn: c, release: func() { <-l.sem }}, nil
}

type releaseConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *releaseConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// session is one SMTP transaction.
type session struct {
	in   *Inbound
	from string
	ok   bool // a recipient was the support address
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !strings.EqualFold(strings.TrimSpace(to), s.in.svc.cfg.SupportAddress) {
		// Not an open relay: only the support mailbox is served here.
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox here"}
	}
	s.ok = true
	return nil
}

func (s *session) Data(r io.Reader) error {
	if !s.ok {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "No valid recipients"}
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return err // go-smtp turns a too-large message into 552
	}
	m, err := ParseMail(bytes.NewReader(raw))
	if err != nil {
		s.in.log.Info("smtp inbound: unreadable mail refused", "from", s.from, "err", err)
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message could not be parsed"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := s.in.svc.ReceiveMail(ctx, m)
	switch {
	case errors.Is(err, ErrMailRateLimited):
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Too many messages from this sender, try later"}
	case err != nil:
		s.in.log.Error("smtp inbound: filing mail failed", "from", m.From, "err", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try later"}
	}
	s.in.log.Info("smtp inbound: mail filed", "ticket", res.Number, "new", res.New, "verified", res.Verified,
		"duplicate", res.Duplicate, "ignored", res.Ignored)
	return nil
}

func (s *session) Reset()        { s.from, s.ok = "", false }
func (s *session) Logout() error { return nil }
