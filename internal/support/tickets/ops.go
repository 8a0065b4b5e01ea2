package tickets

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"okpay/internal/apperr"
	"okpay/internal/audit"
	"okpay/internal/db"
	"okpay/internal/identity"
	"okpay/internal/support/hours"
)

// ticketRow is a tickets row.
type ticketRow struct {
	ID, Number, CustomerID             string
	Verified                           int
	ContactEmail, Lang, Channel        string
	Category, Subject, Description     string
	RelatedRef, Related, Diagnosis     string
	Priority, Status, AssigneeID       string
	FirstDue, FirstAt, RespDue         int64
	Breached                           int
	ResolvedAt, ClosedAt, Created, Upd int64
}

const ticketCols = `id, number, customer_id, verified, contact_email, lang, channel, category, subject, description,
	related_ref, related, diagnosis, priority, status, assignee_id, first_response_due, first_responded_at, response_due,
	breached, resolved_at, closed_at, created_at, updated_at`

func scanTicket(sc interface{ Scan(...any) error }) (*ticketRow, error) {
	var t ticketRow
	err := sc.Scan(&t.ID, &t.Number, &t.CustomerID, &t.Verified, &t.ContactEmail, &t.Lang, &t.Channel, &t.Category, &t.Subject,
		&t.Description, &t.RelatedRef, &t.Related, &t.Diagnosis, &t.Priority, &t.Status, &t.AssigneeID, &t.FirstDue, &t.FirstAt,
		&t.RespDue, &t.Breached, &t.ResolvedAt, &t.ClosedAt, &t.Created, &t.Upd)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// public renders the row for a viewer; staff see the diagnosis.
func (t *ticketRow) public(staff bool, now time.Time) Ticket {
	out := Ticket{ID: t.ID, Number: t.Number, CustomerID: t.CustomerID, Verified: t.Verified == 1, ContactEmail: t.ContactEmail,
		Lang: t.Lang, Channel: t.Channel, Category: t.Category, Subject: t.Subject, Description: t.Description,
		RelatedRef: t.RelatedRef, Priority: hours.Priority(t.Priority), Status: Status(t.Status), AssigneeID: t.AssigneeID,
		FirstResponseDue: timeOr0(t.FirstDue), FirstRespondedAt: timeOr0(t.FirstAt), ResponseDue: timeOr0(t.RespDue),
		Breached:   t.Breached == 1 || (t.RespDue != 0 && now.UnixMicro() > t.RespDue),
		ResolvedAt: timeOr0(t.ResolvedAt), ClosedAt: timeOr0(t.ClosedAt), CreatedAt: db.Micros(t.Created), UpdatedAt: db.Micros(t.Upd)}
	_ = json.Unmarshal([]byte(t.Related), &out.Related)
	if staff && t.Diagnosis != "" && t.Diagnosis != "{}" {
		out.Diagnosis = json.RawMessage(t.Diagnosis)
	}
	return out
}

// hoursChannel is the calendar a ticket's deadlines follow.
func hoursChannel(via string) hours.Channel {
	if via == ViaEmail {
		return hours.ChannelEmail
	}
	return hours.ChannelWeb
}

func loadTicket(ctx context.Context, tx *db.Tx, number string, lock bool) (*ticketRow, error) {
	if !ValidNumber(number) {
		return nil, notFound()
	}
	q := `SELECT ` + ticketCols + ` FROM tickets WHERE number = $1`
	if lock {
		q += " " + tx.Dialect.ForUpdate()
	}
	t, err := scanTicket(tx.QueryRowContext(ctx, q, number))
	if err != nil {
		if db.IsNoRows(err) {
			return nil, notFound()
		}
		return nil, fmt.Errorf("load ticket %s: %w", number, err)
	}
	return t, nil
}

// visible loads a ticket the actor may see: staff see all, customers only their own. A
// ticket of someone else is "not found", so numbers cannot be probed.
func visible(ctx context.Context, tx *db.Tx, a Actor, number string, lock bool) (*ticketRow, error) {
	if a.UserID == "" {
		return nil, apperr.New(apperr.CodeUnauthenticated)
	}
	t, err := loadTicket(ctx, tx, number, lock)
	if err != nil {
		return nil, err
	}
	if !a.Staff() && t.CustomerID != a.UserID {
		return nil, notFound()
	}
	return t, nil
}

func requireStaff(a Actor) error {
	if a.UserID == "" {
		return apperr.New(apperr.CodeUnauthenticated)
	}
	if !a.Staff() {
		return apperr.New(apperr.CodeForbidden)
	}
	return nil
}

// checkText trims s and checks it is printable UTF-8 of 1..max runes (0..max when optional).
func checkText(field, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	if s == "" {
		if required {
			return "", apperr.New(apperr.CodeValidation).Field(field, apperr.CodeRequired)
		}
		return "", nil
	}
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return "", fieldErr(field, apperr.CodeBadRequest)
	}
	if utf8.RuneCountInString(s) > max {
		return "", fieldErr(field, CodeTooLong)
	}
	return s, nil
}

func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == '\t' }), " ")
}

// OpenInput opens a ticket for a signed-in customer (web, API, troubleshooter).
type OpenInput struct {
	CustomerID  string
	Category    string
	Subject     string
	Description string
	// RelatedRef is the transaction the ticket is about (free text id for now).
	RelatedRef string
	// Related are further records (transfer ids, withdrawal ids) the troubleshooter found.
	Related []string
	// Priority is normal when empty.
	Priority hours.Priority
	// Via is ViaWeb (default), ViaAPI or ViaTroubleshooter.
	Via string
	// Diagnosis is the troubleshooter's findings (a JSON object), shown to agents.
	Diagnosis   json.RawMessage
	Attachments []Upload
}

// newTicket is what both Open and mail create.
type newTicket struct {
	customerID, contact, lang, via, category, subject, desc, relatedRef string
	related                                                             []string
	diagnosis                                                           string
	priority                                                            hours.Priority
	verified                                                            bool
	mailID                                                              string
}

// Open creates a ticket with the description as its first message. The first-response
// deadline is set from the web channel's calendar and targets.
//
// Errors: rate_limited (MaxTicketsPerHour reached), validation_failed (subject,
// description: required / ticket_text_too_long;
// category: ticket_category_invalid; priority: ticket_priority_invalid; related_ref,
// related; diagnosis: ticket_diagnosis_invalid; attachments.N: ticket_attachment_type,
// ticket_attachment_too_large, ticket_attachment_empty; attachments:
// ticket_too_many_attachments), unauthenticated (no customer), not_found (customer).
func (s *Service) Open(ctx context.Context, in OpenInput) (*Ticket, error) {
	if in.CustomerID == "" {
		return nil, apperr.New(apperr.CodeUnauthenticated)
	}
	nt := newTicket{customerID: in.CustomerID, via: in.Via, priority: in.Priority, verified: true, diagnosis: "{}"}
	if nt.via == "" {
		nt.via = ViaWeb
	}
	if nt.via != ViaWeb && nt.via != ViaAPI && nt.via != ViaTroubleshooter {
		return nil, fmt.Errorf("open ticket: unknown origin %q", nt.via)
	}
	if nt.priority == "" {
		nt.priority = hours.PriorityNormal
	}
	if !nt.priority.Valid() {
		return nil, fieldErr("priority", CodePriorityInvalid)
	}
	if !slices.Contains(Categories, in.Category) {
		return nil, fieldErr("category", CodeCategoryInvalid)
	}
	nt.category = in.Category
	var err error
	if nt.subject, err = checkText("subject", in.Subject, MaxSubjectRunes, true); err != nil {
		return nil, err
	}
	nt.subject = oneLine(nt.subject)
	if nt.desc, err = checkText("description", in.Description, MaxBodyRunes, true); err != nil {
		return nil, err
	}
	if nt.relatedRef, err = checkRef("related_ref", in.RelatedRef); err != nil {
		return nil, err
	}
	if len(in.Related) > MaxRelated {
		return nil, fieldErr("related", CodeTooLong)
	}
	for i, r := range in.Related {
		v, err := checkRef("related."+strconv.Itoa(i), r)
		if err != nil {
			return nil, err
		}
		if v != "" {
			nt.related = append(nt.related, v)
		}
	}
	if len(in.Diagnosis) > 0 {
		var obj map[string]any
		if len(in.Diagnosis) > MaxDiagnosisBytes || json.Unmarshal(in.Diagnosis, &obj) != nil || obj == nil {
			return nil, fieldErr("diagnosis", CodeDiagnosisInvalid)
		}
		nt.diagnosis = string(in.Diagnosis)
	}
	files, err := checkUploads(in.Attachments)
	if err != nil {
		return nil, err
	}
	u, err := s.dir.GetUser(ctx, in.CustomerID)
	if err != nil {
		return nil, err
	}
	nt.lang, nt.contact = u.Lang, u.Email
	refs, err := s.files.saveAll(files)
	if err != nil {
		return nil, err
	}
	var out Ticket
	err = s.inTx(ctx, "open ticket", func(tx *db.Tx) error {
		// One person opening dozens of tickets an hour is a script or a loop; agents would
		// drown, so the rest wait.
		var recent int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tickets WHERE customer_id = $1 AND created_at > $2`,
			nt.customerID, tx.Now.Add(-time.Hour).UnixMicro()).Scan(&recent); err != nil {
			return err
		}
		if recent >= MaxTicketsPerHour {
			return apperr.New(apperr.CodeRateLimited).With("retry_after", "3600")
		}
		t, err := s.createTx(ctx, tx, nt, files, refs)
		if err != nil {
			return err
		}
		out = t.public(false, tx.Now)
		return nil
	})
	if err != nil {
		s.files.remove(refs)
		return nil, err
	}
	return &out, nil
}

func checkRef(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxRelatedRefBytes || !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return "", fieldErr(field, CodeTooLong)
	}
	return s, nil
}

// nextNumber takes the next number of the year in the desk's web calendar zone, where the
// year changes for the people reading it.
func (s *Service) nextNumber(ctx context.Context, tx *db.Tx) (string, error) {
	web, _ := s.desk.Channel(hours.ChannelWeb)
	year := tx.Now.In(web.Cal.Location()).Year()
	var n int64
	err := tx.QueryRowContext(ctx, `INSERT INTO ticket_counters (year, last) VALUES ($1, 1)
		ON CONFLICT (year) DO UPDATE SET last = ticket_counters.last + 1 RETURNING last`, year).Scan(&n)
	if err != nil {
		return "", fmt.Errorf("ticket number: %w", err)
	}
	return fmt.Sprintf("T-%04d-%06d", year, n), nil
}

func (s *Service) createTx(ctx context.Context, tx *db.Tx, nt newTicket, files []checked, refs []string) (*ticketRow, error) {
	number, err := s.nextNumber(ctx, tx)
	if err != nil {
		return nil, err
	}
	due, err := s.desk.Due(hoursChannel(nt.via), nt.priority, tx.Now)
	if err != nil {
		return nil, fmt.Errorf("ticket deadline: %w", err)
	}
	related, _ := json.Marshal(nonNil(nt.related))
	verified := 0
	if nt.verified {
		verified = 1
	}
	now := tx.NowMicros()
	t := &ticketRow{ID: newID(), Number: number, CustomerID: nt.customerID, Verified: verified, ContactEmail: nt.contact, Lang: nt.lang,
		Channel: nt.via, Category: nt.category, Subject: nt.subject, Description: nt.desc, RelatedRef: nt.relatedRef,
		Related: string(related), Diagnosis: nt.diagnosis, Priority: string(nt.priority), Status: string(StatusNew),
		FirstDue: due.UnixMicro(), RespDue: due.UnixMicro(), Created: now, Upd: now}
	_, err = tx.ExecContext(ctx, `INSERT INTO tickets (`+ticketCols+`) VALUES (`+db.Placeholders(1, 24)+`)`,
		t.ID, t.Number, t.CustomerID, t.Verified, t.ContactEmail, t.Lang, t.Channel, t.Category, t.Subject, t.Description,
		t.RelatedRef, t.Related, t.Diagnosis, t.Priority, t.Status, t.AssigneeID, t.FirstDue, t.FirstAt, t.RespDue,
		t.Breached, t.ResolvedAt, t.ClosedAt, t.Created, t.Upd)
	if err != nil {
		return nil, fmt.Errorf("insert ticket: %w", err)
	}
	if _, err := s.addMessage(ctx, tx, t, KindCustomer, nt.customerID, nt.desc, nt.via, files, refs); err != nil {
		return nil, err
	}
	if nt.mailID != "" {
		if err := addMailID(ctx, tx, t.ID, nt.mailID); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// addMessage appends a message (and its already stored files) to the thread.
func (s *Service) addMessage(ctx context.Context, tx *db.Tx, t *ticketRow, kind, authorID, body, via string, files []checked, refs []string) (*Message, error) {
	var seq int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM ticket_messages WHERE ticket_id = $1`, t.ID).Scan(&seq); err != nil {
		return nil, fmt.Errorf("next message: %w", err)
	}
	if seq >= maxMessagesPerTicket {
		return nil, apperr.New(CodeThreadFull).With("number", t.Number)
	}
	m := &Message{ID: newID(), Seq: seq + 1, Kind: kind, AuthorID: authorID, Body: body, Via: via, CreatedAt: tx.Now}
	if _, err := tx.ExecContext(ctx, `INSERT INTO ticket_messages (id, ticket_id, seq, kind, author_id, body, via, email_ref, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8)`, m.ID, t.ID, m.Seq, kind, authorID, body, via, tx.NowMicros()); err != nil {
		return nil, fmt.Errorf("insert message: %w", err)
	}
	for i, f := range files {
		a := Attachment{ID: newID(), MessageID: m.ID, FileName: f.name, ContentType: f.ctype, SizeBytes: int64(len(f.data)),
			SHA256: f.sum, CreatedAt: tx.Now}
		if _, err := tx.ExecContext(ctx, `INSERT INTO ticket_attachments (id, ticket_id, message_id, file_name, content_type, size_bytes, sha256, storage_ref, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, a.ID, t.ID, m.ID, a.FileName, a.ContentType, a.SizeBytes, a.SHA256, refs[i], tx.NowMicros()); err != nil {
			return nil, fmt.Errorf("insert attachment: %w", err)
		}
		m.Attachments = append(m.Attachments, a)
	}
	return m, nil
}

func addMailID(ctx context.Context, tx *db.Tx, ticketID, mailID string) error {
	if mailID == "" || len(mailID) > 250 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO ticket_mail_ids (mail_id, ticket_id, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (mail_id) DO NOTHING`, mailID, ticketID, tx.NowMicros())
	if err != nil {
		return fmt.Errorf("record mail id: %w", err)
	}
	return nil
}

// save writes the mutable columns of t back.
func saveTicket(ctx context.Context, tx *db.Tx, t *ticketRow) error {
	t.Upd = tx.NowMicros()
	_, err := tx.ExecContext(ctx, `UPDATE tickets SET status = $1, assignee_id = $2, first_responded_at = $3, response_due = $4,
		breached = $5, resolved_at = $6, closed_at = $7, updated_at = $8 WHERE id = $9`,
		t.Status, t.AssigneeID, t.FirstAt, t.RespDue, t.Breached, t.ResolvedAt, t.ClosedAt, t.Upd, t.ID)
	if err != nil {
		return fmt.Errorf("update ticket %s: %w", t.Number, err)
	}
	return nil
}

// customerTurnEnds is what a message from the customer does to the ticket: the desk owes
// an answer again (due by the channel's target from now, unless one is already owed), and
// a ticket waiting for them, or resolved, is open again.
func (s *Service) customerTurnEnds(tx *db.Tx, t *ticketRow) error {
	switch Status(t.Status) {
	case StatusClosed:
		return apperr.New(CodeTicketClosed).With("number", t.Number)
	case StatusWaiting, StatusResolved:
		t.Status = string(StatusOpen)
		t.ResolvedAt = 0
	}
	if t.RespDue == 0 {
		due, err := s.desk.Due(hoursChannel(t.Channel), hours.Priority(t.Priority), tx.Now)
		if err != nil {
			return fmt.Errorf("response deadline: %w", err)
		}
		t.RespDue = due.UnixMicro()
	}
	return nil
}

// deskAnswered records that an agent answered: the first response time, a breach when the
// answer came after its deadline, and nothing owed until the customer writes again.
func deskAnswered(tx *db.Tx, t *ticketRow) {
	now := tx.NowMicros()
	if t.FirstAt == 0 {
		t.FirstAt = now
	}
	if t.RespDue != 0 && now > t.RespDue {
		t.Breached = 1
	}
	t.RespDue = 0
}

// stopClock ends the running response deadline without counting as an answer (a status
// change is not a reply): a deadline already missed stays a breach.
func stopClock(tx *db.Tx, t *ticketRow) {
	if t.RespDue != 0 && tx.NowMicros() > t.RespDue {
		t.Breached = 1
	}
	t.RespDue = 0
}

// ReplyInput is a message added to a ticket's thread.
type ReplyInput struct {
	Body        string
	Attachments []Upload
	// Status (agents only) is where the ticket goes after the reply: waiting_on_customer
	// when empty, or open or resolved.
	Status Status
	// Via is ViaWeb (default) or ViaAPI.
	Via string
}

// Reply adds the actor's message to the thread. From the customer it reopens a ticket that
// was waiting or resolved and starts a response deadline. From an agent it counts as the
// desk's answer (first response, breach check), moves the ticket to waiting_on_customer
// (or in.Status), is mailed to the customer and audited.
//
// Errors: unauthenticated, not_found (no such ticket, or not the caller's), ticket_closed,
// ticket_thread_full, ticket_status_change (bad in.Status), validation_failed (body:
// required / ticket_text_too_long; attachments as Open).
func (s *Service) Reply(ctx context.Context, a Actor, number string, in ReplyInput) (*Message, error) {
	body, err := checkText("body", in.Body, MaxBodyRunes, true)
	if err != nil {
		return nil, err
	}
	if in.Via == "" {
		in.Via = ViaWeb
	}
	if a.UserID == "" {
		return nil, apperr.New(apperr.CodeUnauthenticated)
	}
	if in.Status != "" && (!a.Staff() || !slices.Contains([]Status{StatusOpen, StatusWaiting, StatusResolved}, in.Status)) {
		return nil, apperr.New(CodeStatusChange).With("from", "").With("to", string(in.Status))
	}
	files, err := checkUploads(in.Attachments)
	if err != nil {
		return nil, err
	}
	refs, err := s.files.saveAll(files)
	if err != nil {
		return nil, err
	}
	var out *Message
	err = s.inTx(ctx, "reply to ticket", func(tx *db.Tx) error {
		t, err := visible(ctx, tx, a, number, true)
		if err != nil {
			return err
		}
		if !a.Staff() {
			if err := s.customerTurnEnds(tx, t); err != nil {
				return err
			}
			if out, err = s.addMessage(ctx, tx, t, KindCustomer, a.UserID, body, in.Via, files, refs); err != nil {
				return err
			}
			return saveTicket(ctx, tx, t)
		}
		if Status(t.Status) == StatusClosed {
			return apperr.New(CodeTicketClosed).With("number", t.Number)
		}
		from := t.Status
		to := in.Status
		if to == "" {
			to = StatusWaiting
		}
		deskAnswered(tx, t)
		t.Status = string(to)
		if to == StatusResolved {
			t.ResolvedAt = tx.NowMicros()
		}
		if to == StatusOpen {
			// The agent answered but keeps the turn (e.g. "we are checking with the bank").
			due, err := s.desk.Due(hoursChannel(t.Channel), hours.Priority(t.Priority), tx.Now)
			if err != nil {
				return err
			}
			t.RespDue = due.UnixMicro()
		}
		if t.AssigneeID == "" {
			t.AssigneeID = a.UserID
		}
		if out, err = s.addMessage(ctx, tx, t, KindAgent, a.UserID, body, in.Via, files, refs); err != nil {
			return err
		}
		if err := saveTicket(ctx, tx, t); err != nil {
			return err
		}
		if err := s.mailReply(ctx, tx, t, body, len(files)); err != nil {
			return err
		}
		if err := s.inboxReply(ctx, tx, t); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Entry{ActorKind: a.auditKind(), ActorID: a.UserID, Action: "ticket.reply",
			SubjectID: t.CustomerID, ClientAddr: a.ClientAddr,
			Details: map[string]string{"ticket": t.Number, "from": from, "to": t.Status, "message": out.ID}})
	})
	if err != nil {
		s.files.remove(refs)
		return nil, err
	}
	return out, nil
}

// Note adds an internal note: agents only, never shown to the customer nor mailed.
//
// Errors: unauthenticated, forbidden, not_found, ticket_thread_full, validation_failed
// (body).
func (s *Service) Note(ctx context.Context, a Actor, number, body string) (*Message, error) {
	if err := requireStaff(a); err != nil {
		return nil, err
	}
	body, err := checkText("body", body, MaxBodyRunes, true)
	if err != nil {
		return nil, err
	}
	var out *Message
	err = s.inTx(ctx, "note on ticket", func(tx *db.Tx) error {
		t, err := loadTicket(ctx, tx, number, true)
		if err != nil {
			return err
		}
		if out, err = s.addMessage(ctx, tx, t, KindNote, a.UserID, body, ViaWeb, nil, nil); err != nil {
			return err
		}
		if err := saveTicket(ctx, tx, t); err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Entry{ActorKind: a.auditKind(), ActorID: a.UserID, Action: "ticket.note",
			SubjectID: t.CustomerID, ClientAddr: a.ClientAddr, Details: map[string]string{"ticket": t.Number, "message": out.ID}})
	})
	return out, err
}

// System message bodies are event names the pages translate; params follow a colon.
const (
	EventStatus     = "status"      // "status:<from>:<to>"
	EventAssigned   = "assigned"    // "assigned:<agent id>" or "assigned:" when unassigned
	EventAutoClosed = "auto_closed" // closed seven days after it was resolved
	EventRejected   = "rejected"    // "rejected:<code>:<file name>" an attachment of a mail was refused
	EventFollowUp   = "follow_up"   // "follow_up:<number>" mail about a closed ticket opened this one
)

// SetStatus moves a ticket to another status on an agent's decision, with a reason for the
// audit log; the customer is told by mail.
//
// Errors: unauthenticated, forbidden, not_found, ticket_status_change, validation_failed
// (reason: ticket_text_too_long).
func (s *Service) SetStatus(ctx context.Context, a Actor, number string, to Status, reason string) (*Ticket, error) {
	if err := requireStaff(a); err != nil {
		return nil, err
	}
	reason, err := checkText("reason", reason, audit.MaxReasonRunes, false)
	if err != nil {
		return nil, err
	}
	var out Ticket
	err = s.inTx(ctx, "change ticket status", func(tx *db.Tx) error {
		t, err := loadTicket(ctx, tx, number, true)
		if err != nil {
			return err
		}
		from := Status(t.Status)
		if !CanChange(from, to) {
			return apperr.New(CodeStatusChange).With("from", string(from)).With("to", string(to))
		}
		t.Status = string(to)
		switch to {
		case StatusOpen:
			t.ResolvedAt = 0
			if t.RespDue == 0 {
				due, err := s.desk.Due(hoursChannel(t.Channel), hours.Priority(t.Priority), tx.Now)
				if err != nil {
					return err
				}
				t.RespDue = due.UnixMicro()
			}
		case StatusWaiting:
			stopClock(tx, t)
		case StatusResolved:
			t.ResolvedAt = tx.NowMicros()
			stopClock(tx, t)
		case StatusClosed:
			t.ClosedAt = tx.NowMicros()
			stopClock(tx, t)
		}
		if _, err := s.addMessage(ctx, tx, t, KindSystem, a.UserID, EventStatus+":"+string(from)+":"+string(to), ViaSystem, nil, nil); err != nil {
			return err
		}
		if err := saveTicket(ctx, tx, t); err != nil {
			return err
		}
		if err := s.mailStatus(ctx, tx, t); err != nil {
			return err
		}
		if err := s.inboxStatus(ctx, tx, t); err != nil {
			return err
		}
		out = t.public(true, tx.Now)
		return audit.Append(ctx, tx, audit.Entry{ActorKind: a.auditKind(), ActorID: a.UserID, Action: "ticket.status",
			SubjectID: t.CustomerID, Reason: reason, ClientAddr: a.ClientAddr,
			Details: map[string]string{"ticket": t.Number, "from": string(from), "to": string(to)}})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Assign gives a ticket to an agent ("" unassigns). A new ticket becomes open: someone is
// on it.
//
// Errors: unauthenticated, forbidden, not_found (ticket), ticket_closed,
// validation_failed (assignee_id: ticket_assignee_invalid).
func (s *Service) Assign(ctx context.Context, a Actor, number, assigneeID string) (*Ticket, error) {
	if err := requireStaff(a); err != nil {
		return nil, err
	}
	if assigneeID != "" {
		u, err := s.dir.GetUser(ctx, assigneeID)
		if err != nil || (u.Role != identity.RoleAgent && u.Role != identity.RoleAdmin) {
			if err != nil && !apperr.HasCode(err, apperr.CodeNotFound) {
				return nil, err
			}
			return nil, fieldErr("assignee_id", CodeAssigneeInvalid)
		}
	}
	var out Ticket
	err := s.inTx(ctx, "assign ticket", func(tx *db.Tx) error {
		t, err := loadTicket(ctx, tx, number, true)
		if err != nil {
			return err
		}
		if Status(t.Status) == StatusClosed {
			return apperr.New(CodeTicketClosed).With("number", t.Number)
		}
		prev := t.AssigneeID
		t.AssigneeID = assigneeID
		if Status(t.Status) == StatusNew && assigneeID != "" {
			t.Status = string(StatusOpen)
		}
		if _, err := s.addMessage(ctx, tx, t, KindSystem, a.UserID, EventAssigned+":"+assigneeID, ViaSystem, nil, nil); err != nil {
			return err
		}
		if err := saveTicket(ctx, tx, t); err != nil {
			return err
		}
		out = t.public(true, tx.Now)
		return audit.Append(ctx, tx, audit.Entry{ActorKind: a.auditKind(), ActorID: a.UserID, Action: "ticket.assign",
			SubjectID: t.CustomerID, ClientAddr: a.ClientAddr,
			Details: map[string]string{"ticket": t.Number, "from": prev, "to": assigneeID}})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Get returns a ticket and its thread. Customers see their own tickets without internal
// notes, the diagnosis or attachments of notes; staff see everything.
//
// Errors: unauthenticated, not_found.
func (s *Service) Get(ctx context.Context, a Actor, number string) (*Thread, error) {
	var out Thread
	err := s.read(ctx, "get ticket", func(tx *db.Tx) error {
		t, err := visible(ctx, tx, a, number, false)
		if err != nil {
			return err
		}
		out.Ticket = t.public(a.Staff(), tx.Now)
		rows, err := tx.QueryContext(ctx, `SELECT id, seq, kind, author_id, body, via, created_at FROM ticket_messages
			WHERE ticket_id = $1 ORDER BY seq LIMIT $2`, t.ID, maxMessagesPerTicket)
		if err != nil {
			return err
		}
		defer rows.Close()
		idx := map[string]int{}
		for rows.Next() {
			var m Message
			var at int64
			if err := rows.Scan(&m.ID, &m.Seq, &m.Kind, &m.AuthorID, &m.Body, &m.Via, &at); err != nil {
				return err
			}
			if m.Kind == KindNote && !a.Staff() {
				continue
			}
			if !a.Staff() && m.Kind != KindCustomer {
				m.AuthorID = "" // agents' account ids are not the customer's business
			}
			m.CreatedAt = db.Micros(at)
			idx[m.ID] = len(out.Messages)
			out.Messages = append(out.Messages, m)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		atts, err := listAttachments(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		for _, at := range atts {
			if i, ok := idx[at.MessageID]; ok {
				out.Messages[i].Attachments = append(out.Messages[i].Attachments, at)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func listAttachments(ctx context.Context, tx *db.Tx, ticketID string) ([]Attachment, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, message_id, file_name, content_type, size_bytes, sha256, storage_ref, created_at
		FROM ticket_attachments WHERE ticket_id = $1 ORDER BY created_at, id LIMIT $2`, ticketID, maxMessagesPerTicket*MaxAttachments)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Attachment
	for rows.Next() {
		var a Attachment
		var at int64
		if err := rows.Scan(&a.ID, &a.MessageID, &a.FileName, &a.ContentType, &a.SizeBytes, &a.SHA256, &a.storageRef, &at); err != nil {
			return nil, err
		}
		a.CreatedAt = db.Micros(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// File is an open attachment; the caller closes it.
type File struct {
	Attachment
	Content interface {
		Read([]byte) (int, error)
		Seek(int64, int) (int64, error)
		Close() error
	}
}

// OpenAttachment returns an attachment of a ticket the actor may see (a note's files only
// to staff).
//
// Errors: unauthenticated, not_found.
func (s *Service) OpenAttachment(ctx context.Context, a Actor, number, attachmentID string) (*File, error) {
	var att Attachment
	err := s.read(ctx, "open attachment", func(tx *db.Tx) error {
		t, err := visible(ctx, tx, a, number, false)
		if err != nil {
			return err
		}
		var kind string
		var at int64
		err = tx.QueryRowContext(ctx, `SELECT a.id, a.message_id, a.file_name, a.content_type, a.size_bytes, a.sha256, a.storage_ref, a.created_at, m.kind
			FROM ticket_attachments a JOIN ticket_messages m ON m.id = a.message_id WHERE a.id = $1 AND a.ticket_id = $2`,
			attachmentID, t.ID).Scan(&att.ID, &att.MessageID, &att.FileName, &att.ContentType, &att.SizeBytes, &att.SHA256, &att.storageRef, &at, &kind)
		if err == sql.ErrNoRows || (err == nil && kind == KindNote && !a.Staff()) {
			return notFound()
		}
		att.CreatedAt = db.Micros(at)
		return err
	})
	if err != nil {
		return nil, err
	}
	f, err := s.files.open(att.storageRef)
	if err != nil {
		return nil, err
	}
	return &File{Attachment: att, Content: f}, nil
}
