package chat

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/notify"
)

// Status of a chat.
type Status string

const (
	StatusQueued Status = "queued" // waiting for an agent
	StatusActive Status = "active" // an agent has it
	StatusClosed Status = "closed"
	StatusLeft   Status = "left" // a message left outside hours with no ticket system to take it
)

// Who sent a message.
const (
	FromCustomer = "customer"
	FromAgent    = "agent"
	FromSystem   = "system"
)

// Limits.
const (
	MaxBodyRunes = 2000
	// MaxQueue bounds the queue: beyond it people are asked to leave a message instead.
	MaxQueue = 200
	// MaxAgentChats is how many chats one agent holds at once.
	MaxAgentChats = 8
	// MaxPage bounds one read of messages or chats.
	MaxPage = 200
	// MaxTranscriptMessages bounds a mailed transcript.
	MaxTranscriptMessages = 1000
	// transcriptEvery is how often one chat's transcript may be mailed.
	transcriptEvery = 10 * time.Minute
	// waitSample is how many recent pickups the expected wait averages.
	waitSample = 20
	// defaultWait is the expected wait per queue place when there is no recent pickup.
	defaultWait = 3 * time.Minute
	maxWait     = 2 * time.Hour
)

// Error codes.
const (
	CodeOffline    = "chat_offline"
	CodeQueueFull  = "chat_queue_full"
	CodeClosed     = "chat_closed"
	CodeTaken      = "chat_taken"
	CodeAgentBusy  = "chat_agent_busy"
	CodeTranscript = "chat_transcript_recent"
)

func init() {
	apperr.Register(
		apperr.Def{Code: CodeOffline, Status: http.StatusConflict,
			Message: apperr.Text{En: "Live chat is closed right now.", Zh: "在线客服当前不在服务时间内。"},
			Fix:     apperr.Text{En: "Leave us a message: it becomes a ticket and we answer by email as soon as we open.", Zh: "请给我们留言：留言会转为工单，我们上班后会尽快通过邮件回复您。"}},
		apperr.Def{Code: CodeQueueFull, Status: http.StatusServiceUnavailable,
			Message: apperr.Text{En: "All our agents are busy and the chat queue is full.", Zh: "客服人员都在忙，排队人数已满。"},
			Fix:     apperr.Text{En: "Leave us a message and we will answer it as a ticket, or try the chat again in a few minutes.", Zh: "请留言，我们会以工单形式回复；或几分钟后再试。"}},
		apperr.Def{Code: CodeClosed, Status: http.StatusConflict,
			Message: apperr.Text{En: "This chat has ended.", Zh: "此对话已结束。"},
			Fix:     apperr.Text{En: "Start a new chat if you need more help.", Zh: "如需更多帮助，请发起新的对话。"}},
		apperr.Def{Code: CodeTaken, Status: http.StatusConflict,
			Message: apperr.Text{En: "Another agent has already picked up this chat.", Zh: "其他客服已接入此对话。"},
			Fix:     apperr.Text{En: "Pick the next chat in the queue.", Zh: "请接入队列中的下一个对话。"}},
		apperr.Def{Code: CodeAgentBusy, Status: http.StatusConflict,
			Message: apperr.Text{En: "You already have the most chats one agent may hold.", Zh: "您同时接待的对话已达上限。"},
			Fix:     apperr.Text{En: "Close a finished chat, then pick up the next one.", Zh: "请先结束已完成的对话，再接入新的对话。"}},
		apperr.Def{Code: CodeTranscript, Status: http.StatusTooManyRequests,
			Message: apperr.Text{En: "The transcript of this chat was emailed a moment ago.", Zh: "此对话记录刚刚已发送到您的邮箱。"},
			Fix:     apperr.Text{En: "Check your inbox (and spam folder); you can ask again in 10 minutes.", Zh: "请查看收件箱（及垃圾邮件）；10 分钟后可再次请求。"}},
	)
}

// Participant is who acts: the signed-in user's id, role and language.
type Participant struct {
	ID   string
	Role string // customer, merchant, agent, risk_reviewer, admin
	Lang string
}

// Staff reports whether p answers chats.
func (p Participant) Staff() bool { return p.Role == "agent" || p.Role == "admin" }

func (p Participant) side() string {
	if p.Staff() {
		return FromAgent
	}
	return FromCustomer
}

// Chat is one conversation.
type Chat struct {
	ID              string    `json:"id"`
	CustomerID      string    `json:"customer_id"`
	AgentID         string    `json:"agent_id,omitempty"`
	Status          Status    `json:"status"`
	Lang            string    `json:"lang"`
	LastSeq         int64     `json:"last_seq"`
	CustomerReadSeq int64     `json:"customer_read_seq"`
	AgentReadSeq    int64     `json:"agent_read_seq"`
	CreatedAt       time.Time `json:"created_at"`
	AssignedAt      time.Time `json:"assigned_at,omitzero"`
	ClosedAt        time.Time `json:"closed_at,omitzero"`
	ClosedBy        string    `json:"closed_by,omitempty"`
	TicketID        string    `json:"ticket_id,omitempty"`
}

// Open reports whether messages may still be sent.
func (c *Chat) Open() bool { return c.Status == StatusQueued || c.Status == StatusActive }

// Message is one line of a chat.
type Message struct {
	ChatID string    `json:"chat_id"`
	Seq    int64     `json:"seq"`
	From   string    `json:"from" doc:"customer, agent or system"`
	Sender string    `json:"sender_id,omitempty"`
	Body   string    `json:"body"`
	At     time.Time `json:"at"`
}

// QueueEntry is a waiting chat as agents see it.
type QueueEntry struct {
	ChatID       string    `json:"chat_id"`
	CustomerID   string    `json:"customer_id"`
	Position     int       `json:"position"`
	WaitingSince time.Time `json:"waiting_since"`
	Preview      string    `json:"preview"`
}

// TicketOpener turns a message left outside service hours into a ticket. The tickets
// service implements it.
type TicketOpener interface {
	// OpenFromChat opens a ticket for customerID and returns its id.
	OpenFromChat(ctx context.Context, customerID, lang, subject, body string) (ticketID string, err error)
}

// Config holds the service's dependencies.
type Config struct {
	// OpenNow reports whether live chat is staffed at t; DefaultHours when nil.
	OpenNow func(time.Time) bool
	// Tickets takes messages left outside hours; when nil they are kept as chats in status
	// "left" for agents to answer.
	Tickets TicketOpener
	// Contacts returns a user's email address and language, for transcripts.
	Contacts func(ctx context.Context, userID string) (email, lang string, err error)
	// ListenURL is the PostgreSQL URL the LISTEN connection uses (the database's own URL).
	ListenURL string
	// Channel is the NOTIFY channel; "okpay_chat" when empty.
	Channel string
	// Location formats times in transcripts; Asia/Shanghai when nil.
	Location *time.Location
	// Logger for the listener; nil discards.
	Logf func(format string, args ...any)
}

// DefaultHours is live chat's service hours until the business-hours calendar is wired:
// every day 09:00–21:00 in Asia/Shanghai.
func DefaultHours(t time.Time) bool {
	h := t.In(shanghai()).Hour()
	return h >= 9 && h < 21
}

func shanghai() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*3600)
}

// Service runs live chat. Create it with New and run Run in the background.
type Service struct {
	db  *db.DB
	cfg Config
	fan *fanout

	closing    chan struct{}
	closeOnce  sync.Once
	listening  chan struct{}
	listenOnce sync.Once
}

// New returns the service.
func New(d *db.DB, cfg Config) *Service {
	if cfg.OpenNow == nil {
		cfg.OpenNow = DefaultHours
	}
	if cfg.Channel == "" {
		cfg.Channel = "okpay_chat"
	}
	if cfg.Location == nil {
		cfg.Location = shanghai()
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	return &Service{db: d, cfg: cfg, fan: newFanout(), closing: make(chan struct{}), listening: make(chan struct{})}
}

// OpenNow reports whether live chat is staffed now.
func (s *Service) OpenNow() bool { return s.cfg.OpenNow(s.db.Clock.Now()) }

func newID() (string, error) {
	u, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return u.String(), nil
}

func checkBody(body string) (string, error) {
	body = strings.TrimSpace(body)
	switch {
	case body == "":
		return "", apperr.New(apperr.CodeValidation).Field("body", apperr.CodeRequired)
	case !utf8.ValidString(body) || utf8.RuneCountInString(body) > MaxBodyRunes || strings.ContainsRune(body, 0):
		return "", apperr.New(apperr.CodeValidation).Field("body", apperr.CodeValidation)
	}
	return body, nil
}

func unauthenticated() error { return apperr.New(apperr.CodeUnauthenticated) }

// tx runs fn in a write transaction; the events fn queues are published through PostgreSQL
// inside it (delivered at commit) or, on SQLite, to local sessions after commit.
func (s *Service) tx(ctx context.Context, fn func(tx *db.Tx, pub func(Event) error) error) error {
	var events []Event
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		events = events[:0]
		pub := func(e Event) error {
			if s.db.Engine == db.Postgres {
				if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, s.cfg.Channel, e.encode()); err != nil {
					return fmt.Errorf("notify chat event: %w", err)
				}
				return nil
			}
			events = append(events, e)
			return nil
		}
		return fn(tx, pub)
	})
	if err == nil {
		for _, e := range events {
			s.fan.deliver(e)
		}
	}
	return err
}

const chatCols = `id, customer_id, agent_id, status, lang, last_seq, customer_read_seq, agent_read_seq, created_at, assigned_at, closed_at, closed_by, ticket_id`

type scanner interface{ Scan(...any) error }

func scanChat(r scanner) (*Chat, error) {
	var c Chat
	var status string
	var created, assigned, closed int64
	if err := r.Scan(&c.ID, &c.CustomerID, &c.AgentID, &status, &c.Lang, &c.LastSeq, &c.CustomerReadSeq, &c.AgentReadSeq,
		&created, &assigned, &closed, &c.ClosedBy, &c.TicketID); err != nil {
		return nil, err
	}
	c.Status = Status(status)
	c.CreatedAt = db.Micros(created)
	if assigned > 0 {
		c.AssignedAt = db.Micros(assigned)
	}
	if closed > 0 {
		c.ClosedAt = db.Micros(closed)
	}
	return &c, nil
}

func loadChat(ctx context.Context, tx *db.Tx, id string, lock bool) (*Chat, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, apperr.New(apperr.CodeNotFound)
	}
	q := `SELECT ` + chatCols + ` FROM chats WHERE id = $1`
	if lock {
		q += " " + tx.Dialect.ForUpdate()
	}
	c, err := scanChat(tx.QueryRowContext(ctx, q, id))
	if db.IsNoRows(err) {
		return nil, apperr.New(apperr.CodeNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load chat: %w", err)
	}
	return c, nil
}

// canSee: the customer sees their own chats, staff see all. Others get not_found, so chat
// ids cannot be probed.
func canSee(p Participant, c *Chat) error {
	if p.ID == "" {
		return unauthenticated()
	}
	if c.CustomerID == p.ID || p.Staff() {
		return nil
	}
	return apperr.New(apperr.CodeNotFound)
}

// addMessage appends a message under the chat's row lock (UPDATE … RETURNING takes it),
// so seqs are dense and in commit order per chat.
func addMessage(ctx context.Context, tx *db.Tx, chatID, from, senderID, body string) (*Message, error) {
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE chats SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq`, chatID).Scan(&seq); err != nil {
		return nil, fmt.Errorf("next chat seq: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO chat_messages (chat_id, seq, sender_kind, sender_id, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		chatID, seq, from, senderID, body, tx.NowMicros()); err != nil {
		return nil, fmt.Errorf("add chat message: %w", err)
	}
	return &Message{ChatID: chatID, Seq: seq, From: from, Sender: senderID, Body: body, At: tx.Now.UTC()}, nil
}

// openChatOf returns the customer's queued or active chat, or nil.
func openChatOf(ctx context.Context, tx *db.Tx, customerID string) (*Chat, error) {
	c, err := scanChat(tx.QueryRowContext(ctx, `SELECT `+chatCols+` FROM chats WHERE customer_id = $1 AND status IN ('queued', 'active')
		ORDER BY created_at DESC LIMIT 1`, customerID))
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open chat: %w", err)
	}
	return c, nil
}

// OpenChat returns the customer's chat in progress, or nil. Errors: unauthenticated.
func (s *Service) OpenChat(ctx context.Context, p Participant) (*Chat, error) {
	if p.ID == "" {
		return nil, unauthenticated()
	}
	var c *Chat
	err := s.db.Read(ctx, func(tx *db.Tx) error {
		var err error
		c, err = openChatOf(ctx, tx, p.ID)
		return err
	})
	return c, err
}

// Start opens a chat for the customer with a first message and puts it in the queue. A
// customer with a chat in progress gets that chat, with the message added to it.
//
// Errors: unauthenticated, forbidden (staff cannot start chats with themselves),
// validation_failed (body), chat_offline (outside service hours: offer LeaveMessage),
// chat_queue_full.
func (s *Service) Start(ctx context.Context, p Participant, body string) (*Chat, error) {
	if p.ID == "" {
		return nil, unauthenticated()
	}
	if p.Staff() {
		return nil, apperr.New(apperr.CodeForbidden)
	}
	body, err := checkBody(body)
	if err != nil {
		return nil, err
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	var out *Chat
	err = s.tx(ctx, func(tx *db.Tx, pub func(Event) error) error {
		c, err := openChatOf(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		if c == nil {
			if !s.cfg.OpenNow(tx.Now) {
				return apperr.New(CodeOffline)
			}
			var queued int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM chats WHERE status = 'queued' LIMIT $1) q`, MaxQueue).Scan(&queued); err != nil {
				return fmt.Errorf("queue length: %w", err)
			}
			if queued >= MaxQueue {
				return apperr.New(CodeQueueFull)
			}
			lang := p.Lang
			if lang == "" {
				lang = "zh-CN"
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO chats (id, customer_id, status, lang, created_at) VALUES ($1, $2, 'queued', $3, $4)`,
				id, p.ID, lang, tx.NowMicros()); err != nil {
				return fmt.Errorf("start chat: %w", err)
			}
			if err := pub(Event{Kind: evQueue}); err != nil {
				return err
			}
		} else {
			id = c.ID
		}
		m, err := addMessage(ctx, tx, id, FromCustomer, p.ID, body)
		if err != nil {
			return err
		}
		if err := pub(Event{Kind: evMessage, ChatID: id, Seq: m.Seq}); err != nil {
			return err
		}
		out, err = loadChat(ctx, tx, id, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Send adds a message from p to the chat: the customer to their own chat, an agent to a
// chat they hold (an admin to any open chat).
//
// Errors: unauthenticated, not_found, forbidden (an agent not holding the chat),
// validation_failed (body), chat_closed.
func (s *Service) Send(ctx context.Context, p Participant, chatID, body string) (*Message, error) {
	body, err := checkBody(body)
	if err != nil {
		return nil, err
	}
	var out *Message
	err = s.tx(ctx, func(tx *db.Tx, pub func(Event) error) error {
		c, err := loadChat(ctx, tx, chatID, true)
		if err != nil {
			return err
		}
		if err := canSee(p, c); err != nil {
			return err
		}
		if !c.Open() {
			return apperr.New(CodeClosed)
		}
		from := FromCustomer
		if c.CustomerID != p.ID {
			from = FromAgent
			if c.AgentID != p.ID && p.Role != "admin" {
				return apperr.New(apperr.CodeForbidden)
			}
		}
		m, err := addMessage(ctx, tx, c.ID, from, p.ID, body)
		if err != nil {
			return err
		}
		out = m
		return pub(Event{Kind: evMessage, ChatID: c.ID, Seq: m.Seq})
	})
	return out, err
}

// Pickup assigns a queued chat to the agent.
//
// Errors: unauthenticated, forbidden (not staff), not_found, chat_taken, chat_closed,
// chat_agent_busy.
func (s *Service) Pickup(ctx context.Context, agent Participant, chatID string) (*Chat, error) {
	if agent.ID == "" {
		return nil, unauthenticated()
	}
	if !agent.Staff() {
		return nil, apperr.New(apperr.CodeForbidden)
	}
	var out *Chat
	err := s.tx(ctx, func(tx *db.Tx, pub func(Event) error) error {
		c, err := loadChat(ctx, tx, chatID, true)
		if err != nil {
			return err
		}
		switch c.Status {
		case StatusActive:
			if c.AgentID == agent.ID {
				out = c
				return nil
			}
			return apperr.New(CodeTaken)
		case StatusClosed, StatusLeft:
			return apperr.New(CodeClosed)
		}
		var held int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM chats WHERE agent_id = $1 AND status = 'active'`, agent.ID).Scan(&held); err != nil {
			return fmt.Errorf("agent chats: %w", err)
		}
		if held >= MaxAgentChats {
			return apperr.New(CodeAgentBusy)
		}
		res, err := tx.ExecContext(ctx, `UPDATE chats SET status = 'active', agent_id = $1, assigned_at = $2 WHERE id = $3 AND status = 'queued'`,
			agent.ID, tx.NowMicros(), c.ID)
		if err != nil {
			return fmt.Errorf("pickup: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(CodeTaken)
		}
		m, err := addMessage(ctx, tx, c.ID, FromSystem, agent.ID, "agent_joined")
		if err != nil {
			return err
		}
		for _, e := range []Event{{Kind: evState, ChatID: c.ID}, {Kind: evQueue}, {Kind: evMessage, ChatID: c.ID, Seq: m.Seq}} {
			if err := pub(e); err != nil {
				return err
			}
		}
		out, err = loadChat(ctx, tx, c.ID, false)
		return err
	})
	return out, err
}

// Close ends a chat: the customer their own, an agent one they hold (an admin any).
// Closing a closed chat is not an error.
//
// Errors: unauthenticated, not_found, forbidden.
func (s *Service) Close(ctx context.Context, p Participant, chatID string) error {
	return s.tx(ctx, func(tx *db.Tx, pub func(Event) error) error {
		c, err := loadChat(ctx, tx, chatID, true)
		if err != nil {
			return err
		}
		if err := canSee(p, c); err != nil {
			return err
		}
		if !c.Open() {
			return nil
		}
		side := FromCustomer
		if c.CustomerID != p.ID {
			side = FromAgent
			if c.AgentID != p.ID && p.Role != "admin" {
				return apperr.New(apperr.CodeForbidden)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE chats SET status = 'closed', closed_at = $1, closed_by = $2 WHERE id = $3`,
			tx.NowMicros(), side, c.ID); err != nil {
			return fmt.Errorf("close chat: %w", err)
		}
		m, err := addMessage(ctx, tx, c.ID, FromSystem, p.ID, "closed_by_"+side)
		if err != nil {
			return err
		}
		evs := []Event{{Kind: evState, ChatID: c.ID}, {Kind: evMessage, ChatID: c.ID, Seq: m.Seq}}
		if c.Status == StatusQueued {
			evs = append(evs, Event{Kind: evQueue})
		}
		for _, e := range evs {
			if err := pub(e); err != nil {
				return err
			}
		}
		return nil
	})
}

// MarkRead records that p has read the chat up to seq (never backwards) and tells the
// other side.
//
// Errors: unauthenticated, not_found, validation_failed (seq).
func (s *Service) MarkRead(ctx context.Context, p Participant, chatID string, seq int64) error {
	if seq < 0 {
		return apperr.New(apperr.CodeValidation).Field("seq", apperr.CodeValidation)
	}
	return s.tx(ctx, func(tx *db.Tx, pub func(Event) error) error {
		c, err := loadChat(ctx, tx, chatID, true)
		if err != nil {
			return err
		}
		if err := canSee(p, c); err != nil {
			return err
		}
		seq = min(seq, c.LastSeq)
		col, cur := "customer_read_seq", c.CustomerReadSeq
		side := FromCustomer
		if c.CustomerID != p.ID {
			col, cur, side = "agent_read_seq", c.AgentReadSeq, FromAgent
		}
		if seq <= cur {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE chats SET `+col+` = $1 WHERE id = $2`, seq, c.ID); err != nil {
			return fmt.Errorf("mark chat read: %w", err)
		}
		return pub(Event{Kind: evRead, ChatID: c.ID, Seq: seq, Who: side})
	})
}

// Typing tells the other side that p is typing. Nothing is stored.
//
// Errors: unauthenticated, not_found, chat_closed.
func (s *Service) Typing(ctx context.Context, p Participant, chatID string) error {
	var c *Chat
	err := s.db.Read(ctx, func(tx *db.Tx) error {
		var err error
		c, err = loadChat(ctx, tx, chatID, false)
		return err
	})
	if err != nil {
		return err
	}
	if err := canSee(p, c); err != nil {
		return err
	}
	if !c.Open() {
		return apperr.New(CodeClosed)
	}
	side := FromCustomer
	if c.CustomerID != p.ID {
		side = FromAgent
	}
	e := Event{Kind: evTyping, ChatID: c.ID, Who: side}
	if s.db.Engine == db.Postgres {
		if _, err := s.db.W.ExecContext(ctx, `SELECT pg_notify($1, $2)`, s.cfg.Channel, e.encode()); err != nil {
			return fmt.Errorf("notify typing: %w", err)
		}
		return nil
	}
	s.fan.deliver(e)
	return nil
}

// Get returns a chat the participant may see.
//
// Errors: unauthenticated, not_found.
func (s *Service) Get(ctx context.Context, p Participant, chatID string) (*Chat, error) {
	var c *Chat
	err := s.db.Read(ctx, func(tx *db.Tx) error {
		var err error
		if c, err = loadChat(ctx, tx, chatID, false); err != nil {
			return err
		}
		return canSee(p, c)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Messages returns up to limit (≤ MaxPage) messages of the chat after seq, in order.
//
// Errors: unauthenticated, not_found.
func (s *Service) Messages(ctx context.Context, p Participant, chatID string, afterSeq int64, limit int) ([]Message, error) {
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	var out []Message
	err := s.db.Read(ctx, func(tx *db.Tx) error {
		c, err := loadChat(ctx, tx, chatID, false)
		if err != nil {
			return err
		}
		if err := canSee(p, c); err != nil {
			return err
		}
		out, err = messagesAfter(ctx, tx, chatID, afterSeq, limit)
		return err
	})
	return out, err
}

func messagesAfter(ctx context.Context, tx *db.Tx, chatID string, afterSeq int64, limit int) ([]Message, error) {
	rows, err := tx.QueryContext(ctx, `SELECT seq, sender_kind, sender_id, body, created_at FROM chat_messages
		WHERE chat_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, chatID, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("chat messages: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m := Message{ChatID: chatID}
		var at int64
		if err := rows.Scan(&m.Seq, &m.From, &m.Sender, &m.Body, &at); err != nil {
			return nil, fmt.Errorf("chat messages: %w", err)
		}
		m.At = db.Micros(at)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("chat messages: %w", err)
	}
	return out, nil
}

// ListMine returns the customer's chats, newest first, at most limit (≤ MaxPage).
//
// Errors: unauthenticated.
func (s *Service) ListMine(ctx context.Context, p Participant, limit int) ([]Chat, error) {
	if p.ID == "" {
		return nil, unauthenticated()
	}
	return s.listChats(ctx, `WHERE customer_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, p.ID, clampPage(limit))
}

// AgentChats returns the chats the agent holds now, oldest first.
//
// Errors: unauthenticated, forbidden (not staff).
func (s *Service) AgentChats(ctx context.Context, agent Participant) ([]Chat, error) {
	if err := requireStaff(agent); err != nil {
		return nil, err
	}
	return s.listChats(ctx, `WHERE agent_id = $1 AND status = 'active' ORDER BY assigned_at, id LIMIT $2`, agent.ID, MaxAgentChats*2)
}

// Recent returns recent chats of every status for the agent console, newest first, at most
// limit (≤ MaxPage); status "" means all.
//
// Errors: unauthenticated, forbidden (not staff), validation_failed (status).
func (s *Service) Recent(ctx context.Context, agent Participant, status Status, limit int) ([]Chat, error) {
	if err := requireStaff(agent); err != nil {
		return nil, err
	}
	switch status {
	case "":
		return s.listChats(ctx, `WHERE $1 = '' ORDER BY created_at DESC, id DESC LIMIT $2`, "", clampPage(limit))
	case StatusQueued, StatusActive, StatusClosed, StatusLeft:
		return s.listChats(ctx, `WHERE status = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, string(status), clampPage(limit))
	}
	return nil, apperr.New(apperr.CodeValidation).Field("status", apperr.CodeValidation)
}

func clampPage(n int) int {
	if n <= 0 || n > MaxPage {
		return MaxPage
	}
	return n
}

func requireStaff(p Participant) error {
	if p.ID == "" {
		return unauthenticated()
	}
	if !p.Staff() {
		return apperr.New(apperr.CodeForbidden)
	}
	return nil
}

func (s *Service) listChats(ctx context.Context, where string, args ...any) ([]Chat, error) {
	var out []Chat
	err := s.db.Read(ctx, func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+chatCols+` FROM chats `+where, args...)
		if err != nil {
			return fmt.Errorf("list chats: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanChat(rows)
			if err != nil {
				return fmt.Errorf("list chats: %w", err)
			}
			out = append(out, *c)
		}
		return rows.Err()
	})
	return out, err
}

// avgPickup is the mean time from start to pickup over the most recent pickups of the last
// day; defaultWait when there were none.
func avgPickup(ctx context.Context, tx *db.Tx) (time.Duration, error) {
	rows, err := tx.QueryContext(ctx, `SELECT assigned_at - created_at FROM chats WHERE assigned_at > $1 ORDER BY assigned_at DESC LIMIT $2`,
		tx.Now.Add(-24*time.Hour).UnixMicro(), waitSample)
	if err != nil {
		return 0, fmt.Errorf("recent pickups: %w", err)
	}
	defer rows.Close()
	var sum, n int64
	for rows.Next() {
		var us int64
		if err := rows.Scan(&us); err != nil {
			return 0, fmt.Errorf("recent pickups: %w", err)
		}
		sum += us
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("recent pickups: %w", err)
	}
	if n == 0 {
		return defaultWait, nil
	}
	return time.Duration(sum/n) * time.Microsecond, nil
}

// queuePosition is 1 for the oldest queued chat.
func queuePosition(ctx context.Context, tx *db.Tx, c *Chat) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM chats WHERE status = 'queued' AND (created_at < $1 OR (created_at = $1 AND id <= $2))`,
		c.CreatedAt.UnixMicro(), c.ID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("queue position: %w", err)
	}
	return n, nil
}

// QueuePosition returns the chat's place in the queue (1 = next) and the expected wait:
// the recent average pickup time for each place. A chat not queued has position 0.
//
// Errors: unauthenticated, not_found.
func (s *Service) QueuePosition(ctx context.Context, p Participant, chatID string) (int, time.Duration, error) {
	var pos int
	var wait time.Duration
	err := s.db.Read(ctx, func(tx *db.Tx) error {
		c, err := loadChat(ctx, tx, chatID, false)
		if err != nil {
			return err
		}
		if err := canSee(p, c); err != nil {
			return err
		}
		if c.Status != StatusQueued {
			return nil
		}
		if pos, err = queuePosition(ctx, tx, c); err != nil {
			return err
		}
		avg, err := avgPickup(ctx, tx)
		if err != nil {
			return err
		}
		wait = min(avg*time.Duration(pos), maxWait)
		return nil
	})
	return pos, wait, err
}

// ExpectedWait is the wait a new chat would have now: one more place than the queue.
// Errors: internal only.
func (s *Service) ExpectedWait(ctx context.Context) (time.Duration, error) {
	var wait time.Duration
	err := s.db.Read(ctx, func(tx *db.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM chats WHERE status = 'queued' LIMIT $1) q`, MaxQueue).Scan(&n); err != nil {
			return fmt.Errorf("queue length: %w", err)
		}
		avg, err := avgPickup(ctx, tx)
		if err != nil {
			return err
		}
		wait = min(avg*time.Duration(n+1), maxWait)
		return nil
	})
	return wait, err
}

// Queue lists the waiting chats, oldest first, with their first message, for agents.
//
// Errors: unauthenticated, forbidden (not staff).
func (s *Service) Queue(ctx context.Context, agent Participant) ([]QueueEntry, error) {
	if err := requireStaff(agent); err != nil {
		return nil, err
	}
	var out []QueueEntry
	err := s.db.Read(ctx, func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT c.id, c.customer_id, c.created_at, COALESCE(m.body, '') FROM chats c
			LEFT JOIN chat_messages m ON m.chat_id = c.id AND m.seq = 1
			WHERE c.status = 'queued' ORDER BY c.created_at, c.id LIMIT $1`, MaxQueue)
		if err != nil {
			return fmt.Errorf("chat queue: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var e QueueEntry
			var at int64
			if err := rows.Scan(&e.ChatID, &e.CustomerID, &at, &e.Preview); err != nil {
				return fmt.Errorf("chat queue: %w", err)
			}
			e.WaitingSince = db.Micros(at)
			e.Position = len(out) + 1
			if r := []rune(e.Preview); len(r) > 140 {
				e.Preview = string(r[:140]) + "…"
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// LeftMessage is the result of LeaveMessage: the ticket it became, or the chat it was kept
// as when no ticket system is wired.
type LeftMessage struct {
	TicketID string `json:"ticket_id,omitempty"`
	ChatID   string `json:"chat_id,omitempty"`
}

// LeaveMessage takes a message left when chat is closed (or the queue full) and turns it
// into a ticket through the TicketOpener; without one it is kept as a chat in status
// "left" for agents to answer.
//
// Errors: unauthenticated, validation_failed (body), and the TicketOpener's errors.
func (s *Service) LeaveMessage(ctx context.Context, p Participant, body string) (*LeftMessage, error) {
	if p.ID == "" {
		return nil, unauthenticated()
	}
	body, err := checkBody(body)
	if err != nil {
		return nil, err
	}
	if s.cfg.Tickets != nil {
		subj, _, _ := strings.Cut(body, "\n")
		if r := []rune(subj); len(r) > 60 {
			subj = string(r[:60]) + "…"
		}
		id, err := s.cfg.Tickets.OpenFromChat(ctx, p.ID, p.Lang, subj, body)
		if err != nil {
			return nil, fmt.Errorf("leave message: %w", err)
		}
		return &LeftMessage{TicketID: id}, nil
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	err = s.tx(ctx, func(tx *db.Tx, pub func(Event) error) error {
		lang := p.Lang
		if lang == "" {
			lang = "zh-CN"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO chats (id, customer_id, status, lang, created_at) VALUES ($1, $2, 'left', $3, $4)`,
			id, p.ID, lang, tx.NowMicros()); err != nil {
			return fmt.Errorf("leave message: %w", err)
		}
		_, err := addMessage(ctx, tx, id, FromCustomer, p.ID, body)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &LeftMessage{ChatID: id}, nil
}

// EmailTranscript mails the chat's transcript to the customer's address (through the
// outbox, so it is sent after commit) and leaves a note in their inbox. Once per chat per
// ten minutes.
//
// Errors: unauthenticated, not_found, forbidden (only the customer asks for their own),
// chat_transcript_recent, and the Contacts dependency's errors.
func (s *Service) EmailTranscript(ctx context.Context, p Participant, chatID string) error {
	c, err := s.Get(ctx, p, chatID)
	if err != nil {
		return err
	}
	if c.CustomerID != p.ID {
		return apperr.New(apperr.CodeForbidden)
	}
	if s.cfg.Contacts == nil {
		return fmt.Errorf("email transcript: no contacts source configured")
	}
	email, lang, err := s.cfg.Contacts(ctx, p.ID)
	if err != nil {
		return fmt.Errorf("email transcript: %w", err)
	}
	return s.tx(ctx, func(tx *db.Tx, _ func(Event) error) error {
		res, err := tx.ExecContext(ctx, `UPDATE chats SET transcript_sent_at = $1 WHERE id = $2 AND transcript_sent_at <= $3`,
			tx.NowMicros(), c.ID, tx.Now.Add(-transcriptEvery).UnixMicro())
		if err != nil {
			return fmt.Errorf("email transcript: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(CodeTranscript)
		}
		msgs, err := messagesAfter(ctx, tx, c.ID, 0, MaxTranscriptMessages)
		if err != nil {
			return err
		}
		subject, text := s.transcript(c, msgs, lang)
		if _, err := notify.EnqueueEmail(ctx, tx, notify.Email{To: email, Lang: lang, Subject: subject, Text: text,
			UserID: p.ID, Kind: "chat_transcript"}); err != nil {
			return fmt.Errorf("email transcript: %w", err)
		}
		_, err = notify.Notify(ctx, tx, p.ID, notify.InboxChat, notify.InboxMessage{Key: "chat.transcript_sent",
			Params: map[string]string{"email": email}, Link: "/chat/" + c.ID})
		return err
	})
}

func init() {
	notify.RegisterInboxText("chat.transcript_sent", notify.InboxText{
		Title: apperr.Text{En: "Chat transcript sent", Zh: "对话记录已发送"},
		Body:  apperr.Text{En: "We emailed the transcript of your chat to {email}.", Zh: "我们已将对话记录发送至 {email}。"},
	})
}

// SystemText is what a system message says, in lang.
func SystemText(body, lang string) string {
	t, ok := systemTexts[body]
	if !ok {
		return body
	}
	return t.In(lang, nil)
}

var systemTexts = map[string]apperr.Text{
	"agent_joined":       {En: "An agent has joined the chat.", Zh: "客服已接入对话。"},
	"closed_by_customer": {En: "The customer ended the chat.", Zh: "客户结束了对话。"},
	"closed_by_agent":    {En: "The agent ended the chat.", Zh: "客服结束了对话。"},
}

func (s *Service) transcript(c *Chat, msgs []Message, lang string) (subject, text string) {
	zh := strings.HasPrefix(lang, "zh")
	names := map[string]string{FromCustomer: "You", FromAgent: "OKPay support", FromSystem: "OKPay"}
	subject = "Your OKPay chat transcript"
	head := "Chat started " + c.CreatedAt.In(s.cfg.Location).Format("2006-01-02 15:04 MST")
	if zh {
		names = map[string]string{FromCustomer: "您", FromAgent: "OKPay 客服", FromSystem: "OKPay"}
		subject = "您的 OKPay 在线客服对话记录"
		head = "对话开始于 " + c.CreatedAt.In(s.cfg.Location).Format("2006-01-02 15:04 MST")
	}
	var b strings.Builder
	b.WriteString(head + "\n\n")
	for _, m := range msgs {
		body := m.Body
		if m.From == FromSystem {
			body = SystemText(m.Body, lang)
		}
		line := fmt.Sprintf("[%s] %s: %s\n", m.At.In(s.cfg.Location).Format("15:04"), names[m.From], body)
		if b.Len()+len(line) > notify.MaxTextBytes-200 {
			b.WriteString("…\n")
			break
		}
		b.WriteString(line)
	}
	return subject, b.String()
}
