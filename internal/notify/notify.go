// Package notify owns everything OKPay sends to people outside the process: the outbox
// table, written in the caller's transaction so a rolled-back change sends nothing; the
// Worker that sends due messages after commit with retries and backoff; and the senders
// (SMTP email, the dev mailbox, the logging SMS provider). It knows nothing of users,
// accounts or HTTP: callers hand it finished, localised messages.
//
// Delivery is at least once: a message is sent after the claiming transaction commits and
// marked sent in another; a node that dies between the two leaves the message in
// "sending", and it is sent again after the claim's lease runs out. Every email carries a
// Message-ID derived from its outbox id, so a duplicate is recognisable.
package notify

import (
	"context"
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// Channels in the outbox. Webhooks will be a third.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
)

// Statuses of an outbox row.
const (
	StatusPending = "pending" // written, never tried
	StatusSending = "sending" // claimed by a worker; the claim expires at next_attempt_at
	StatusSent    = "sent"
	StatusFailed  = "failed" // tried, will be tried again at next_attempt_at
	StatusDead    = "dead"   // gave up: attempts used up or a permanent refusal
)

// Limits on what a message may hold. They are generous for transactional mail and keep one
// bad caller from filling the table or the SMTP server.
const (
	MaxAddressBytes = 254 // RFC 5321 path limit
	MaxSubjectRunes = 200
	MaxTextBytes    = 64 << 10
	MaxHTMLBytes    = 256 << 10
	MaxSMSRunes     = 500
	maxLangBytes    = 16
	maxKindBytes    = 64
	maxUserIDBytes  = 64
)

// Email is one message to one address, already rendered in the recipient's language.
type Email struct {
	// ID is the outbox id, set by the worker when it hands the message to a sender (it
	// becomes the Message-ID); EnqueueEmail ignores it.
	ID      string
	To      string // a bare address, "user@example.com"
	Lang    string // "zh-CN" or "en"; becomes Content-Language
	Subject string
	Text    string
	// HTML is optional: when empty, EnqueueEmail derives a safe HTML body from Text.
	HTML   string
	UserID string // optional: whose mail this is
	// Kind names the message ("verify_email", "password_reset") for tests, the dev
	// mailbox and metrics.
	Kind string
}

// SMS is one text message to one phone number in E.164 form ("+8613800138000").
type SMS struct {
	ID     string // the outbox id, set by the worker; EnqueueSMS ignores it
	To     string
	Text   string
	UserID string
	Kind   string
}

var (
	phoneRE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	kindRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	langRE  = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
)

// EnqueueEmail validates e and writes it to the outbox inside tx, so it is sent only if tx
// commits. It returns the outbox id.
//
// Errors: apperr validation_failed with field errors (to, subject, text, html, lang, kind,
// user_id) when e is not a valid message; any other error is internal (database).
func EnqueueEmail(ctx context.Context, tx *db.Tx, e Email) (id string, err error) {
	r, err := PrepareEmail(e, tx.NowMicros())
	if err != nil {
		return "", err
	}
	return r.ID, InsertOutbox(ctx, tx, []OutboxRow{r})
}

// OutboxRow is one message validated and rendered for the outbox, with its id: written by
// InsertOutbox, several to a statement. A caller that records its work in a log of its
// own and writes the derived rows later in batches (the wallet's payment feed) prepares
// rows when it expands the log.
type OutboxRow struct {
	ID                                                   string
	channel, kind, to, userID, lang, subject, text, html string
	atMicros                                             int64
}

// PrepareEmail validates e and renders it as an outbox row created (and due) at atMicros.
//
// Errors: as EnqueueEmail's validation errors.
func PrepareEmail(e Email, atMicros int64) (OutboxRow, error) {
	e.To = strings.TrimSpace(e.To)
	if err := validateEmail(&e); err != nil {
		return OutboxRow{}, err
	}
	if e.HTML == "" {
		e.HTML = textToHTML(e.Text, e.Lang)
		if len(e.HTML) > MaxHTMLBytes {
			return OutboxRow{}, invalid("text", fmt.Errorf("text too long once rendered as HTML (%d bytes)", len(e.HTML)))
		}
	}
	return newRow(ChannelEmail, e.Kind, e.To, e.UserID, e.Lang, e.Subject, e.Text, e.HTML, atMicros)
}

func newRow(channel, kind, to, userID, lang, subject, text, html string, atMicros int64) (OutboxRow, error) {
	u, err := uuid.NewV7()
	if err != nil {
		return OutboxRow{}, fmt.Errorf("enqueue %s: new id: %w", channel, err)
	}
	return OutboxRow{ID: u.String(), channel: channel, kind: kind, to: to, userID: userID, lang: lang, subject: subject,
		text: text, html: html, atMicros: atMicros}, nil
}

// outboxChunk bounds the rows of one INSERT (12 parameters each, well under both engines'
// parameter limits).
const outboxChunk = 64

// InsertOutbox writes prepared rows to the outbox inside tx, pending and due at their
// creation time. Errors: internal (database) only.
func InsertOutbox(ctx context.Context, tx *db.Tx, rows []OutboxRow) error {
	for len(rows) > 0 {
		n := chunk(len(rows), outboxChunk)
		var q strings.Builder
		q.WriteString(`INSERT INTO outbox (id, channel, kind, recipient, user_id, lang, subject, body_text, body_html,
		status, attempts, next_attempt_at, last_error, created_at) VALUES `)
		args := make([]any, 0, n*11)
		p := placeholders(tx)
		for i, r := range rows[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			var uid any
			if r.userID != "" {
				uid = r.userID
			}
			args = append(args, r.ID, r.channel, r.kind, r.to, uid, r.lang, r.subject, r.text, r.html, StatusPending, r.atMicros, r.atMicros)
			fmt.Fprintf(&q, "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s, '', %s)", p(), p(), p(), p(), p(), p(), p(), p(), p(), p(), p(), p())
		}
		if _, err := tx.ExecCached(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("enqueue %s %s: %w", rows[0].channel, rows[0].kind, err)
		}
		rows = rows[n:]
	}
	return nil
}

// EnqueueSMS validates s and writes it to the outbox inside tx.
//
// Errors: apperr validation_failed with field errors (to, text, kind, user_id); any other
// error is internal (database).
func EnqueueSMS(ctx context.Context, tx *db.Tx, s SMS) (id string, err error) {
	s.To = strings.TrimSpace(s.To)
	switch {
	case !phoneRE.MatchString(s.To):
		return "", invalid("to", fmt.Errorf("phone number must be E.164, like +8613800138000"))
	case strings.TrimSpace(s.Text) == "":
		return "", required("text")
	case !utf8.ValidString(s.Text) || utf8.RuneCountInString(s.Text) > MaxSMSRunes:
		return "", invalid("text", fmt.Errorf("text must be UTF-8 of at most %d characters", MaxSMSRunes))
	}
	if err := validateCommon(s.Kind, s.UserID); err != nil {
		return "", err
	}
	r, err := newRow(ChannelSMS, s.Kind, s.To, s.UserID, "", "", s.Text, "", tx.NowMicros())
	if err != nil {
		return "", err
	}
	return r.ID, InsertOutbox(ctx, tx, []OutboxRow{r})
}

func validateEmail(e *Email) error {
	if e.To == "" {
		return required("to")
	}
	if err := checkAddress(e.To); err != nil {
		return invalid("to", err)
	}
	switch {
	case strings.TrimSpace(e.Subject) == "":
		return required("subject")
	case !utf8.ValidString(e.Subject) || utf8.RuneCountInString(e.Subject) > MaxSubjectRunes:
		return invalid("subject", fmt.Errorf("subject must be UTF-8 of at most %d characters", MaxSubjectRunes))
	case strings.ContainsAny(e.Subject, "\r\n\x00"):
		// A line break in a header would let the subject inject headers.
		return invalid("subject", fmt.Errorf("subject must be one line"))
	case strings.TrimSpace(e.Text) == "":
		return required("text")
	case !utf8.ValidString(e.Text) || len(e.Text) > MaxTextBytes || strings.ContainsRune(e.Text, 0):
		return invalid("text", fmt.Errorf("text must be UTF-8 of at most %d bytes", MaxTextBytes))
	case !utf8.ValidString(e.HTML) || len(e.HTML) > MaxHTMLBytes || strings.ContainsRune(e.HTML, 0):
		return invalid("html", fmt.Errorf("html must be UTF-8 of at most %d bytes", MaxHTMLBytes))
	case e.Lang != "" && (len(e.Lang) > maxLangBytes || !langRE.MatchString(e.Lang)):
		return invalid("lang", fmt.Errorf("lang must be a language tag like zh-CN"))
	}
	return validateCommon(e.Kind, e.UserID)
}

func validateCommon(kind, userID string) error {
	switch {
	case kind == "":
		return required("kind")
	case len(kind) > maxKindBytes || !kindRE.MatchString(kind):
		return invalid("kind", fmt.Errorf("kind must be lower-case letters, digits, _ . -"))
	case len(userID) > maxUserIDBytes || !utf8.ValidString(userID) || strings.ContainsAny(userID, "\r\n\x00"):
		return invalid("user_id", fmt.Errorf("user id too long or not printable"))
	}
	return nil
}

// checkAddress accepts a bare addr-spec only: a display name or a list would change what
// the To header says, and the outbox stores exactly the address mail goes to.
func checkAddress(to string) error {
	if len(to) > MaxAddressBytes {
		return fmt.Errorf("address longer than %d bytes", MaxAddressBytes)
	}
	a, err := mail.ParseAddress(to)
	if err != nil {
		return fmt.Errorf("address: %w", err)
	}
	if a.Name != "" || a.Address != to {
		return fmt.Errorf("address must be a bare user@domain")
	}
	at := strings.LastIndexByte(to, '@')
	if at < 1 || at == len(to)-1 || strings.ContainsAny(to, " \t\r\n<>\"") {
		return fmt.Errorf("address must be a bare user@domain")
	}
	return nil
}

func required(field string) error {
	return apperr.New(apperr.CodeValidation).Field(field, apperr.CodeRequired).
		Wrap(fmt.Errorf("notify: %s is required", field))
}

func invalid(field string, cause error) error {
	return apperr.New(apperr.CodeValidation).Field(field, apperr.CodeValidation).
		Wrap(fmt.Errorf("notify: %s: %w", field, cause))
}

// placeholders returns a function that writes the next parameter's placeholder. Batched
// inserts use anonymous "?" on SQLite: it looks "$N" up by name at parse and at bind,
// O(n²) in a statement's parameters, which for a batch of hundreds of rows costs more
// than the inserts.
func placeholders(tx *db.Tx) func() string {
	if tx.Dialect.Name() == db.SQLite {
		return func() string { return "?" }
	}
	n := 0
	return func() string {
		n++
		return "$" + strconv.Itoa(n)
	}
}

// chunk is how many of n rows the next INSERT of a batch takes: the largest power of two
// ≤ min(n, max), so a batch is a few statements of a few shapes, each prepared once.
func chunk(n, max int) int {
	c := 1
	for c*2 <= n && c*2 <= max {
		c *= 2
	}
	return c
}
