package identity

import (
	"context"
	"fmt"
	"unicode/utf8"

	"okpay/internal/audit"
	"okpay/internal/db"
	"okpay/internal/notify"
)

// mail is one email as identity hands it to the outbox.
type mail struct {
	To, Lang, Subject, Text, HTML, UserID, Kind string
}

// sms is one text message as identity hands it to the outbox.
type sms struct {
	To, Text, UserID, Kind string
}

// Actor kinds in audit entries (the audit package's names).
const (
	ActorUser   = audit.ActorUser
	ActorAgent  = audit.ActorAgent
	ActorSystem = audit.ActorSystem
	ActorAdmin  = audit.ActorAdmin
)

// auditEntry is one security event for the audit log. Details must never hold a password,
// code, token or secret.
type auditEntry struct {
	ActorKind, ActorID string
	Action             string
	Subject            string // the user the action concerns
	Reason             string
	ClientAddr         string
	Details            map[string]string
}

// effects are the side effects identity causes, all written inside the caller's
// transaction so they happen exactly when the change commits. The production
// implementation writes to notify's outbox and the audit chain; tests wrap it to read the
// codes that were mailed.
type effects interface {
	email(ctx context.Context, tx *db.Tx, m mail) error
	sms(ctx context.Context, tx *db.Tx, m sms) error
	audit(ctx context.Context, tx *db.Tx, e auditEntry) error
}

// notifyEffects is wired to internal/notify and internal/audit.
type notifyEffects struct{}

func (notifyEffects) email(ctx context.Context, tx *db.Tx, m mail) error {
	if _, err := notify.EnqueueEmail(ctx, tx, notify.Email{To: m.To, Lang: m.Lang, Subject: m.Subject, Text: m.Text, HTML: m.HTML,
		UserID: m.UserID, Kind: m.Kind}); err != nil {
		return err
	}
	if in, ok := inboxFor[m.Kind]; ok && m.UserID != "" {
		if _, err := notify.Notify(ctx, tx, m.UserID, in.kind, notify.InboxMessage{Key: "identity." + m.Kind, Link: in.link}); err != nil {
			return fmt.Errorf("inbox %s: %w", m.Kind, err)
		}
	}
	return nil
}

func (notifyEffects) sms(ctx context.Context, tx *db.Tx, m sms) error {
	_, err := notify.EnqueueSMS(ctx, tx, notify.SMS{To: m.To, Text: m.Text, UserID: m.UserID, Kind: m.Kind})
	return err
}

func (notifyEffects) audit(ctx context.Context, tx *db.Tx, e auditEntry) error {
	var details any
	if len(e.Details) > 0 {
		details = e.Details
	}
	return audit.Append(ctx, tx, audit.Entry{ActorKind: e.ActorKind, ActorID: e.ActorID, Action: e.Action, SubjectID: e.Subject,
		Reason: truncRunes(e.Reason, audit.MaxReasonRunes), ClientAddr: trunc(e.ClientAddr, audit.MaxClientAddrBytes), Details: details})
}

func truncRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
