package notify

import (
	"context"
	"errors"
	"log/slog"
)

// SMSSender delivers one text message. Errors wrapped with Permanent are not retried.
type SMSSender interface {
	Send(ctx context.Context, s SMS) error
}

// ErrNoSMSProvider is what LogSMS returns outside dev mode: nothing was delivered.
var ErrNoSMSProvider = errors.New("no SMS provider is configured; the message was not delivered")

// LogSMS is the built-in SMS provider: it writes messages to the log instead of a phone.
//
// The trade-off: a developer must be able to read a verification code without a phone, so
// with Dev set it logs the whole text — codes included — at INFO. Without Dev it must not
// (logs are shipped and kept, and a code in them is a way into an account): it logs only
// the kind and the last digits of the number and returns a permanent ErrNoSMSProvider, so
// the outbox row goes dead with an honest reason instead of claiming it was sent. Never run
// a production node in dev mode.
type LogSMS struct {
	Logger *slog.Logger // slog.Default() when nil
	Dev    bool
}

// Send logs s as described on LogSMS.
//
// Errors: PermanentError(ErrNoSMSProvider) when Dev is false; nil otherwise.
func (l LogSMS) Send(ctx context.Context, s SMS) error {
	log := l.Logger
	if log == nil {
		log = slog.Default()
	}
	if l.Dev {
		log.InfoContext(ctx, "dev SMS (not sent to a phone)", "id", s.ID, "kind", s.Kind, "to", s.To, "text", s.Text)
		return nil
	}
	log.WarnContext(ctx, "SMS not delivered: no SMS provider configured", "id", s.ID, "kind", s.Kind, "to", maskPhone(s.To))
	return Permanent(ErrNoSMSProvider)
}

// maskPhone keeps the last four digits, enough to tell messages apart in a log.
func maskPhone(p string) string {
	if len(p) <= 4 {
		return "****"
	}
	return "****" + p[len(p)-4:]
}
