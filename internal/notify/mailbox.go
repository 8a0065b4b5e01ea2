package notify

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"okpay/internal/db"
)

// DevMailbox is the email sender for dev mode, when OKPAY_SMTP_URL is not set. It delivers
// nothing: the message already sits in the outbox, which every node shares, so the dev
// mailbox page reads it from there with ListMail. That keeps one source of truth and works
// with several nodes, where an in-memory mailbox would show each node's share only.
type DevMailbox struct {
	Logger *slog.Logger // slog.Default() when nil
}

// Send records that e was "delivered" to the dev mailbox. It logs the kind and recipient,
// never the body: the body may hold a code.
//
// Errors: none.
func (m DevMailbox) Send(ctx context.Context, e Email) error {
	log := m.Logger
	if log == nil {
		log = slog.Default()
	}
	log.InfoContext(ctx, "dev mailbox: mail kept, read it on the dev mailbox page", "id", e.ID, "kind", e.Kind, "to", e.To)
	return nil
}

// Mail is one email as the dev mailbox shows it.
type Mail struct {
	ID        string
	Kind      string
	To        string
	UserID    string
	Lang      string
	Subject   string
	Text      string
	HTML      string
	Status    string // pending, sending, sent, failed, dead
	Attempts  int
	LastError string
	CreatedAt time.Time
	SentAt    time.Time // zero until sent
}

// Page sizes for ListMail.
const (
	DefaultMailLimit = 50
	MaxMailLimit     = 500
)

// ListMail returns email from the outbox, newest first, for one address or (to == "") for
// everyone. Mail not yet sent is included with its status, so a developer sees a message
// even while the worker is behind. limit <= 0 means DefaultMailLimit; it is capped at
// MaxMailLimit. Only the dev mailbox page may show this: it holds every code ever mailed.
//
// Errors: internal (database) only.
func ListMail(ctx context.Context, d *db.DB, to string, limit int) ([]Mail, error) {
	if limit <= 0 {
		limit = DefaultMailLimit
	}
	limit = min(limit, MaxMailLimit)
	q := `SELECT id, kind, recipient, user_id, lang, subject, body_text, body_html, status, attempts, last_error, created_at, sent_at
		FROM outbox WHERE channel = $1`
	args := []any{ChannelEmail}
	if to != "" {
		q += ` AND recipient = $2 ORDER BY created_at DESC, id DESC LIMIT $3`
		args = append(args, to, limit)
	} else {
		q += ` ORDER BY created_at DESC, id DESC LIMIT $2`
		args = append(args, limit)
	}
	if err := settle(ctx, d); err != nil {
		return nil, err
	}
	var out []Mail
	err := d.Read(ctx, func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m Mail
			var uid sql.NullString
			var created int64
			var sent sql.NullInt64
			if err := rows.Scan(&m.ID, &m.Kind, &m.To, &uid, &m.Lang, &m.Subject, &m.Text, &m.HTML,
				&m.Status, &m.Attempts, &m.LastError, &created, &sent); err != nil {
				return err
			}
			m.UserID = uid.String
			m.CreatedAt = db.Micros(created)
			if sent.Valid {
				m.SentAt = db.Micros(sent.Int64)
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list mail: %w", err)
	}
	return out, nil
}
