package tickets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/identity"
	"okpay/internal/support/hours"
)

// ErrMailRateLimited is returned when one address opened too many tickets by mail in the
// last hour; the listener answers with a temporary failure so real senders retry later.
var ErrMailRateLimited = errors.New("tickets: too many tickets from this address in the last hour")

// Received says what an inbound mail did.
type Received struct {
	Number    string
	New       bool // a ticket was opened (else the mail joined an existing one)
	Verified  bool
	Duplicate bool // the same Message-ID was received before; nothing changed
	Ignored   bool // automatic mail (bounce, vacation reply) that opens no ticket
}

// ReceiveMail files one inbound mail: a reply joins its ticket — found by "[T-…]" in the
// subject or by In-Reply-To/References naming a mail of the ticket — when it comes from
// the ticket's own address; any other mail opens a new ticket. The sender is matched to a
// customer by verified email; unknown senders get a ticket marked unverified. New tickets
// are acknowledged by mail (never automatic mail, never to the support address itself).
// Attachments pass the same content checks as on the web; refused files are noted in the
// thread for the agent instead of failing the mail.
//
// Errors: ErrMailRateLimited; validation_failed when the mail has no sender; internal.
func (s *Service) ReceiveMail(ctx context.Context, m *InboundMail) (*Received, error) {
	if m.From == "" || strings.EqualFold(m.From, s.cfg.SupportAddress) {
		// Mail "from" our own mailbox is a loop or a forgery; either way, no ticket.
		return &Received{Ignored: true}, nil
	}
	// PostgreSQL text cannot hold NUL; mail can.
	body := stripQuoted(strings.ReplaceAll(m.Text, "\x00", ""))
	m.Subject = strings.ReplaceAll(m.Subject, "\x00", "")
	if body == "" {
		body = "(" + m.Subject + ")"
	}
	if r := []rune(body); len(r) > MaxBodyRunes {
		body = string(r[:MaxBodyRunes-1]) + "…"
	}
	// Check the files first: refused ones become notes, good ones are stored before the
	// transaction (and removed again if it fails).
	var good []checked
	var rejected []string
	for _, f := range m.Attachments {
		if len(good) >= MaxAttachments {
			rejected = append(rejected, CodeTooManyAttachments+":"+cleanFileName(f.Name, ""))
			continue
		}
		cs, err := checkUploads([]Upload{{Name: f.Name, R: bytes.NewReader(f.Data)}})
		if err != nil {
			code := CodeAttachmentType
			if e, ok := apperr.As(err); ok && len(e.Fields) > 0 {
				code = e.Fields[0].Code
			}
			rejected = append(rejected, code+":"+cleanFileName(f.Name, ""))
			continue
		}
		good = append(good, cs...)
	}
	user, err := s.dir.UserByVerifiedEmail(ctx, m.From)
	if err != nil {
		return nil, fmt.Errorf("receive mail: match sender: %w", err)
	}
	refs, err := s.files.saveAll(good)
	if err != nil {
		return nil, err
	}
	var out Received
	err = s.inTx(ctx, "receive mail", func(tx *db.Tx) error {
		out = Received{}
		if m.MessageID != "" {
			var num string
			err := tx.QueryRowContext(ctx, `SELECT t.number FROM ticket_mail_ids i JOIN tickets t ON t.id = i.ticket_id WHERE i.mail_id = $1`,
				m.MessageID).Scan(&num)
			if err == nil {
				out = Received{Number: num, Duplicate: true}
				return nil
			}
			if !db.IsNoRows(err) {
				return err
			}
		}
		t, err := s.findThread(ctx, tx, m, user)
		if err != nil {
			return err
		}
		var followUp string
		if t != nil && Status(t.Status) == StatusClosed {
			followUp, t = t.Number, nil
		}
		if t != nil {
			out = Received{Number: t.Number, Verified: t.Verified == 1}
			if err := s.customerTurnEnds(tx, t); err != nil {
				return err
			}
			if _, err := s.addMessage(ctx, tx, t, KindCustomer, t.CustomerID, body, ViaEmail, good, refs); err != nil {
				return err
			}
			if err := s.noteRejected(ctx, tx, t, rejected); err != nil {
				return err
			}
			if err := addMailID(ctx, tx, t.ID, m.MessageID); err != nil {
				return err
			}
			return saveTicket(ctx, tx, t)
		}
		var recent int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tickets WHERE contact_email = $1 AND channel = $2 AND created_at > $3`,
			m.From, ViaEmail, tx.Now.Add(-time.Hour).UnixMicro()).Scan(&recent); err != nil {
			return err
		}
		if recent >= s.cfg.MaxMailTicketsPerHour {
			return ErrMailRateLimited
		}
		nt := newTicket{contact: m.From, via: ViaEmail, category: "other", priority: hours.PriorityNormal, diagnosis: "{}",
			subject: m.Subject, desc: body, mailID: m.MessageID, lang: guessLang(m.Subject + " " + body)}
		if nt.subject == "" {
			nt.subject = "(no subject)"
		}
		if r := []rune(nt.subject); len(r) > MaxSubjectRunes {
			nt.subject = string(r[:MaxSubjectRunes])
		}
		if user != nil {
			nt.customerID, nt.verified, nt.lang = user.ID, true, user.Lang
		}
		if followUp != "" {
			nt.related = []string{followUp}
		}
		t, err = s.createTx(ctx, tx, nt, good, refs)
		if err != nil {
			return err
		}
		if followUp != "" {
			if _, err := s.addMessage(ctx, tx, t, KindSystem, "", EventFollowUp+":"+followUp, ViaSystem, nil, nil); err != nil {
				return err
			}
		}
		if err := s.noteRejected(ctx, tx, t, rejected); err != nil {
			return err
		}
		out = Received{Number: t.Number, New: true, Verified: nt.verified}
		if m.Auto {
			return nil
		}
		return s.mailReceived(ctx, tx, t)
	})
	if err != nil || out.Duplicate {
		s.files.remove(refs)
	}
	if err != nil {
		return nil, err
	}
	if m.Auto && out.New {
		s.log.Info("ticket from automatic mail, not acknowledged", "ticket", out.Number)
	}
	return &out, nil
}

func (s *Service) noteRejected(ctx context.Context, tx *db.Tx, t *ticketRow, rejected []string) error {
	for _, r := range rejected {
		if _, err := s.addMessage(ctx, tx, t, KindSystem, "", EventRejected+":"+r, ViaSystem, nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// findThread returns the ticket a mail replies to, or nil. A ticket named in the subject
// or headers is used only when the mail comes from that ticket's own address: anyone can
// type a ticket number into a subject, and it must not let them write into — or read the
// answers of — someone else's case.
func (s *Service) findThread(ctx context.Context, tx *db.Tx, m *InboundMail, user *identity.User) (*ticketRow, error) {
	var cands []string
	if sm := refRE.FindStringSubmatch(m.Subject); sm != nil {
		cands = append(cands, sm[1])
	}
	ids := append(append([]string{}, m.InReplyTo...), m.References...)
	for i := len(ids) - 1; i >= 0 && len(cands) < 10; i-- { // newest reference first
		id := ids[i]
		keys := []string{id}
		if local, _, ok := strings.Cut(id, "@"); ok {
			if _, err := uuid.Parse(local); err == nil {
				keys = append(keys, "outbox:"+local)
			}
		}
		for _, k := range keys {
			var num string
			err := tx.QueryRowContext(ctx, `SELECT t.number FROM ticket_mail_ids i JOIN tickets t ON t.id = i.ticket_id WHERE i.mail_id = $1`, k).Scan(&num)
			if err == nil {
				cands = append(cands, num)
			} else if !db.IsNoRows(err) {
				return nil, err
			}
		}
	}
	for _, num := range cands {
		t, err := loadTicket(ctx, tx, num, true)
		if apperr.HasCode(err, apperr.CodeNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sameUser := user != nil && t.CustomerID == user.ID
		sameAddr := t.CustomerID == "" && strings.EqualFold(t.ContactEmail, m.From)
		if sameUser || sameAddr {
			return t, nil
		}
	}
	return nil, nil
}

var hanRE = regexp.MustCompile(`\p{Han}`)

// guessLang answers an unknown sender in Chinese when they wrote Chinese.
func guessLang(s string) string {
	if hanRE.MatchString(s) {
		return identity.LangZh
	}
	return identity.LangEn
}
