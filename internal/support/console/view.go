package console

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/identity"
	"okpay/internal/support/chat"
	"okpay/internal/support/tickets"
	"okpay/internal/support/troubleshoot"
)

// Limits on what the console shows at once.
const (
	maxQueue       = 50
	maxRecentChats = 100
	maxViewTickets = 20
	maxViewChats   = 10
	maxViewActs    = 20
	maxNotes       = 50
	MaxNoteRunes   = 2000
	maxQueryBytes  = 254
	// maxDiagnosedTickets bounds the troubleshooter tickets read again for their stored
	// diagnosis.
	maxDiagnosedTickets = 5
)

// Home is the console's first page: the work waiting.
type Home struct {
	Tickets []tickets.Ticket `json:"tickets"`
	// Breached counts the listed tickets whose deadline has passed or was missed.
	Breached int `json:"breached"`
	// ChatQueue is the chats waiting for an agent, oldest first.
	ChatQueue []chat.QueueEntry `json:"chat_queue"`
	// MyChats are the chats this agent holds now.
	MyChats []chat.Chat `json:"my_chats"`
	Now     time.Time   `json:"now"`
}

// Home returns the ticket queue (most urgent deadline first) and the chat queue.
//
// Errors: unauthenticated, forbidden.
func (s *Service) Home(ctx context.Context, a Agent) (*Home, error) {
	if _, err := s.requireStaff(ctx, a); err != nil {
		return nil, err
	}
	h := &Home{Tickets: []tickets.Ticket{}, ChatQueue: []chat.QueueEntry{}, MyChats: []chat.Chat{}, Now: time.Now()}
	// Risk reviewers are staff here but not on the ticket desk or in chat: their queues
	// stay empty rather than failing the page.
	if s.cfg.Tickets != nil && a.ticketActor().Staff() {
		p, err := s.cfg.Tickets.Queue(ctx, a.ticketActor(), tickets.QueueInput{Limit: maxQueue})
		if err != nil {
			return nil, err
		}
		h.Tickets, h.Now = p.Tickets, s.cfg.Tickets.Now()
		for _, t := range p.Tickets {
			if t.Breached || (!t.ResponseDue.IsZero() && h.Now.After(t.ResponseDue)) {
				h.Breached++
			}
		}
	}
	if s.cfg.Chat != nil && a.participant().Staff() {
		q, err := s.cfg.Chat.Queue(ctx, a.participant())
		if err != nil {
			return nil, err
		}
		if len(q) > maxQueue {
			q = q[:maxQueue]
		}
		mine, err := s.cfg.Chat.AgentChats(ctx, a.participant())
		if err != nil {
			return nil, err
		}
		h.ChatQueue, h.MyChats = nonNil(q), nonNil(mine)
	}
	return h, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Note is an internal note about a customer.
type Note struct {
	ID        string    `json:"id"`
	AgentID   string    `json:"agent_id"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// TicketView is one of the customer's tickets with the diagnosis it was opened with.
type TicketView struct {
	tickets.Ticket
	// Diagnosis is the troubleshooter's stored diagnosis (tickets opened from it).
	Diagnosis *troubleshoot.Diagnosis `json:"stored_diagnosis,omitempty"`
}

// Customer is everything the customer view shows.
type Customer struct {
	User    identity.User           `json:"user"`
	Status  *identity.AccountStatus `json:"status"`
	Devices []identity.Device       `json:"devices"`
	// Activity is the recent history, newest first.
	Activity  []troubleshoot.Activity `json:"activity"`
	Cards     []troubleshoot.Card     `json:"cards"`
	Known     troubleshoot.Known      `json:"known"`
	Tickets   []TicketView            `json:"tickets"`
	Chats     []chat.Chat             `json:"chats"`
	Documents []identity.Document     `json:"documents"`
	// Suggestions are the problems the troubleshooter sees; Diagnoses answers each, and
	// "something else" when there is none.
	Suggestions []troubleshoot.Suggestion `json:"suggestions"`
	Diagnoses   []*troubleshoot.Diagnosis `json:"diagnoses"`
	Notes       []Note                    `json:"notes"`
	Checks      *CheckState               `json:"checks"`
}

// Customer assembles the customer view.
//
// Errors: unauthenticated, forbidden, customer_not_found.
func (s *Service) Customer(ctx context.Context, a Agent, customerID string) (*Customer, error) {
	if _, err := s.requireStaff(ctx, a); err != nil {
		return nil, err
	}
	u, err := s.customer(ctx, customerID)
	if err != nil {
		return nil, err
	}
	c := &Customer{User: *u, Tickets: []TicketView{}, Chats: []chat.Chat{}}
	if c.Status, err = s.cfg.Identity.AgentAccountStatus(ctx, a.ID, u.ID); err != nil {
		return nil, err
	}
	if c.Devices, err = s.cfg.Identity.ListDevices(ctx, u.ID, ""); err != nil {
		return nil, fmt.Errorf("console: devices: %w", err)
	}
	if c.Documents, err = s.cfg.Identity.ListDocuments(ctx, u.ID); err != nil {
		return nil, fmt.Errorf("console: documents: %w", err)
	}
	snap, err := s.cfg.Troubleshoot.Snapshot(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	c.Activity, c.Cards, c.Known = snap.Activity, snap.Cards, snap.Known
	if len(c.Activity) > maxViewActs {
		c.Activity = c.Activity[:maxViewActs]
	}
	c.Suggestions = troubleshoot.Suggest(snap)
	for _, sg := range c.Suggestions {
		c.Diagnoses = append(c.Diagnoses, troubleshoot.Diagnose(snap, sg.Problem))
	}
	if len(c.Diagnoses) == 0 {
		c.Diagnoses = append(c.Diagnoses, troubleshoot.Diagnose(snap, troubleshoot.ProblemOther))
	}
	if err := s.customerTickets(ctx, a, c); err != nil {
		return nil, err
	}
	if s.cfg.Chat != nil && a.participant().Staff() {
		recent, err := s.cfg.Chat.Recent(ctx, a.participant(), "", maxRecentChats)
		if err != nil {
			return nil, err
		}
		for _, ch := range recent {
			if ch.CustomerID == u.ID && len(c.Chats) < maxViewChats {
				c.Chats = append(c.Chats, ch)
			}
		}
	}
	if c.Notes, err = s.notes(ctx, u.ID); err != nil {
		return nil, err
	}
	if c.Checks, err = s.Checks(ctx, a, u.ID); err != nil {
		return nil, err
	}
	return c, nil
}

// customerTickets lists the customer's tickets (as their own list shows them: the agent
// was already checked as staff, and the list is read-only) and reads the troubleshooter's
// diagnosis of the newest ones through the desk's staff view.
func (s *Service) customerTickets(ctx context.Context, a Agent, c *Customer) error {
	if s.cfg.Tickets == nil {
		return nil
	}
	p, err := s.cfg.Tickets.List(ctx, tickets.Actor{UserID: c.User.ID, Role: identity.RoleCustomer}, "", maxViewTickets)
	if err != nil {
		return err
	}
	read := 0
	for _, t := range p.Tickets {
		tv := TicketView{Ticket: t}
		if t.Channel == tickets.ViaTroubleshooter && a.ticketActor().Staff() && read < maxDiagnosedTickets {
			read++
			th, err := s.cfg.Tickets.Get(ctx, a.ticketActor(), t.Number)
			if err != nil {
				return err
			}
			tv.Ticket = th.Ticket
			if d, ok := troubleshoot.ParseDiagnosis(th.Ticket.Diagnosis); ok {
				tv.Diagnosis = d
			}
		}
		c.Tickets = append(c.Tickets, tv)
	}
	return nil
}

func (s *Service) notes(ctx context.Context, customerID string) ([]Note, error) {
	out := []Note{}
	err := s.read(ctx, "notes", func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, agent_id, body, created_at FROM console_notes WHERE customer_id = $1
			ORDER BY created_at DESC, id DESC LIMIT $2`, customerID, maxNotes)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n Note
			var at int64
			if err := rows.Scan(&n.ID, &n.AgentID, &n.Body, &at); err != nil {
				return err
			}
			n.CreatedAt = db.Micros(at)
			out = append(out, n)
		}
		return rows.Err()
	})
	return out, err
}

// AddNote keeps an internal note about the customer. Notes are for staff only and need no
// identity check: they change nothing on the account.
//
// Errors: unauthenticated, forbidden, customer_not_found, validation_failed (body:
// required or too long).
func (s *Service) AddNote(ctx context.Context, a Agent, customerID, body string) (*Note, error) {
	if _, err := s.requireStaff(ctx, a); err != nil {
		return nil, err
	}
	body = strings.TrimSpace(body)
	if body == "" {
		return nil, apperr.New(apperr.CodeValidation).Field("body", apperr.CodeRequired)
	}
	if utf8.RuneCountInString(body) > MaxNoteRunes || !utf8.ValidString(body) {
		return nil, apperr.New(apperr.CodeValidation).Field("body", apperr.CodeBadRequest)
	}
	if _, err := s.customer(ctx, customerID); err != nil {
		return nil, err
	}
	n := &Note{ID: newID(), AgentID: a.ID, Body: body}
	err := s.inTx(ctx, "add note", func(tx *db.Tx) error {
		n.CreatedAt = tx.Now
		_, err := tx.ExecContext(ctx, `INSERT INTO console_notes (id, customer_id, agent_id, body, created_at) VALUES ($1, $2, $3, $4, $5)`,
			n.ID, customerID, a.ID, body, tx.NowMicros())
		return err
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Search finds a customer by email, phone number (+86…), ticket number (T-2026-000123)
// or activity reference number, and returns their id.
//
// Errors: unauthenticated, forbidden, validation_failed (q: required), customer_not_found.
func (s *Service) Search(ctx context.Context, a Agent, q string) (string, error) {
	if _, err := s.requireStaff(ctx, a); err != nil {
		return "", err
	}
	q = strings.TrimSpace(q)
	if q == "" {
		return "", apperr.New(apperr.CodeValidation).Field("q", apperr.CodeRequired)
	}
	if len(q) > maxQueryBytes {
		return "", apperr.New(CodeNoCustomer)
	}
	switch {
	case strings.Contains(q, "@"):
		u, err := s.cfg.Identity.FindUserByEmail(ctx, a.ID, q)
		if err != nil {
			if apperr.HasCode(err, apperr.CodeNotFound) {
				return "", apperr.New(CodeNoCustomer)
			}
			return "", err
		}
		return u.ID, nil
	case tickets.ValidNumber(strings.ToUpper(q)):
		if s.cfg.Tickets == nil || !a.ticketActor().Staff() {
			return "", apperr.New(CodeNoCustomer)
		}
		th, err := s.cfg.Tickets.Get(ctx, a.ticketActor(), strings.ToUpper(q))
		if err != nil || th.Ticket.CustomerID == "" {
			return "", apperr.New(CodeNoCustomer)
		}
		return th.Ticket.CustomerID, nil
	}
	if phone := identity.NormalizePhone(q); phone != "" {
		if id, err := s.lookup(ctx, `SELECT id FROM users WHERE phone = $1 LIMIT 1`, phone); err != nil || id != "" {
			return id, err
		}
	}
	id, err := s.lookup(ctx, `SELECT user_id FROM wallet_activity WHERE ref_no = $1 LIMIT 1`, strings.ToUpper(q))
	if err != nil {
		return "", err
	}
	if id == "" {
		// A user id pasted from a ticket or a log.
		if u, err := s.cfg.Identity.GetUser(ctx, q); err == nil {
			return u.ID, nil
		}
		return "", apperr.New(CodeNoCustomer)
	}
	return id, nil
}

// lookup runs one read-only staff lookup. identity has no phone search for staff and the
// wallet no reference search across users, so these two indexed reads live here until
// they do; they never write and return only an id.
func (s *Service) lookup(ctx context.Context, q, arg string) (string, error) {
	var id string
	err := s.read(ctx, "search", func(tx *db.Tx) error {
		err := tx.QueryRowContext(ctx, q, arg).Scan(&id)
		if db.IsNoRows(err) {
			return nil
		}
		return err
	})
	return id, err
}
