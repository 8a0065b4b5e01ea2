// Package tickets owns the support desk's tickets: opening them (web, API, troubleshooter,
// email), the thread of customer, agent, internal-note and system messages, attachments
// checked by content and stored in the data folder, statuses from new to closed, first
// response deadlines in business time (from package hours) with breach flags, the agents'
// queue and actions (assign, reply, status, note — audited), mail out through the notify
// outbox and mail in through an SMTP listener.
//
// It knows nothing of HTTP, sessions or templates: callers pass the acting user (Actor) as
// authn resolved it, and render what comes back. It reads users only through Directory.
package tickets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/identity"
	"okpay/internal/support/hours"
)

// Status is where a ticket stands.
type Status string

const (
	StatusNew      Status = "new"                 // nobody at the desk has acted yet
	StatusOpen     Status = "open"                // the desk is working on it
	StatusWaiting  Status = "waiting_on_customer" // the desk asked, the customer has the turn
	StatusResolved Status = "resolved"            // answered; closes by itself after AutoCloseAfter
	StatusClosed   Status = "closed"              // final: a new message needs a new ticket
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{StatusNew, StatusOpen, StatusWaiting, StatusResolved, StatusClosed}

// transitions are the status changes an agent may make. Closed is final: reopening a
// closed case would reset its history, so the customer opens a new ticket instead.
var transitions = map[Status][]Status{
	StatusNew:      {StatusOpen, StatusWaiting, StatusResolved, StatusClosed},
	StatusOpen:     {StatusWaiting, StatusResolved, StatusClosed},
	StatusWaiting:  {StatusOpen, StatusResolved, StatusClosed},
	StatusResolved: {StatusOpen, StatusClosed},
}

// CanChange reports whether an agent may move a ticket from one status to another.
func CanChange(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Message kinds.
const (
	KindCustomer = "customer"
	KindAgent    = "agent"
	KindNote     = "note" // internal: never shown to the customer nor mailed
	KindSystem   = "system"
)

// Where a ticket or message came from.
const (
	ViaWeb            = "web"
	ViaAPI            = "api"
	ViaEmail          = "email"
	ViaTroubleshooter = "troubleshooter"
	ViaSystem         = "system"
)

// Categories a customer picks from.
var Categories = []string{"account", "payment", "withdrawal", "top_up", "transfer", "card", "unauthorized", "verification", "merchant", "other"}

// Limits on what a ticket holds.
const (
	MaxSubjectRunes    = 200
	MaxBodyRunes       = 10000
	MaxRelatedRefBytes = 100
	MaxRelated         = 20
	MaxDiagnosisBytes  = 64 << 10
	MaxAttachmentBytes = 5 << 20
	MaxAttachments     = 5 // per message
	MaxFileNameRunes   = 120
	DefaultPageSize    = 20
	MaxPageSize        = 100
	DefaultAutoClose   = 7 * 24 * time.Hour
	// MaxTicketsPerHour bounds the tickets one customer opens in an hour.
	MaxTicketsPerHour    = 10
	maxJobBatch          = 200
	maxMessagesPerTicket = 1000
)

// Directory is how the desk learns about users; server wiring adapts identity.Service.
type Directory interface {
	// GetUser returns a user by id (not_found when there is none).
	GetUser(ctx context.Context, id string) (*identity.User, error)
	// UserByVerifiedEmail returns the user whose verified address is email, or nil.
	UserByVerifiedEmail(ctx context.Context, email string) (*identity.User, error)
}

// Config tunes the desk.
type Config struct {
	// SupportAddress is the mailbox customers write to; the inbound listener accepts mail
	// for it only. Mail from it is never answered (no loops).
	SupportAddress string
	// BaseURL is where links in mail point, e.g. "https://okpay.example".
	BaseURL string
	// FilesDir is the folder for attachments: inside the data folder, outside any web root.
	FilesDir string
	// AutoCloseAfter is how long a resolved ticket waits before it closes; 7 days.
	AutoCloseAfter time.Duration
	// MaxMailTicketsPerHour bounds tickets opened by one address by mail in an hour, so a
	// mail loop or a spammer cannot flood the queue; 10.
	MaxMailTicketsPerHour int
	Logger                *slog.Logger
}

// Service is the ticket desk.
type Service struct {
	d     *db.DB
	desk  *hours.Desk
	dir   Directory
	files *Store
	cfg   Config
	log   *slog.Logger
}

// New builds the desk.
//
// Errors: a plain error when a dependency or setting is missing.
func New(d *db.DB, desk *hours.Desk, dir Directory, cfg Config) (*Service, error) {
	if d == nil || desk == nil || dir == nil {
		return nil, fmt.Errorf("tickets: database, hours and directory are required")
	}
	if cfg.FilesDir == "" {
		return nil, fmt.Errorf("tickets: FilesDir is required")
	}
	if cfg.SupportAddress == "" {
		cfg.SupportAddress = "support@okpay.example"
	}
	if a, err := mail.ParseAddress(cfg.SupportAddress); err != nil || a.Name != "" {
		return nil, fmt.Errorf("tickets: support address %q must be a bare user@domain", cfg.SupportAddress)
	}
	cfg.SupportAddress = strings.ToLower(cfg.SupportAddress)
	if cfg.AutoCloseAfter <= 0 {
		cfg.AutoCloseAfter = DefaultAutoClose
	}
	if cfg.MaxMailTicketsPerHour <= 0 {
		cfg.MaxMailTicketsPerHour = 10
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{d: d, desk: desk, dir: dir, files: &Store{Dir: cfg.FilesDir}, cfg: cfg, log: cfg.Logger}, nil
}

// Hours is the desk's service-hours configuration.
func (s *Service) Hours() *hours.Desk { return s.desk }

// SupportAddress is the mailbox inbound mail must be addressed to.
func (s *Service) SupportAddress() string { return s.cfg.SupportAddress }

// Actor is who is calling, as authn resolved it.
type Actor struct {
	UserID string
	Role   identity.Role
	// ClientAddr goes to the audit log.
	ClientAddr string
}

// Staff reports whether the actor works the desk.
func (a Actor) Staff() bool { return a.Role == identity.RoleAgent || a.Role == identity.RoleAdmin }

func (a Actor) auditKind() string {
	if a.Role == identity.RoleAdmin {
		return "admin"
	}
	return "agent"
}

// Ticket is a ticket as its customer or an agent sees it.
type Ticket struct {
	ID           string          `json:"id"`
	Number       string          `json:"number" doc:"T-2026-000123"`
	CustomerID   string          `json:"customer_id,omitempty"`
	Verified     bool            `json:"verified" doc:"false for mail from an address no verified account has"`
	ContactEmail string          `json:"contact_email,omitempty"`
	Lang         string          `json:"lang"`
	Channel      string          `json:"channel" doc:"web, api, email or troubleshooter"`
	Category     string          `json:"category"`
	Subject      string          `json:"subject"`
	Description  string          `json:"description"`
	RelatedRef   string          `json:"related_ref,omitempty" doc:"the transaction the ticket is about"`
	Related      []string        `json:"related,omitempty"`
	Diagnosis    json.RawMessage `json:"diagnosis,omitempty" doc:"agents only"`
	Priority     hours.Priority  `json:"priority"`
	Status       Status          `json:"status"`
	AssigneeID   string          `json:"assignee_id,omitempty"`
	// FirstResponseDue is when the first answer is due (business time); ResponseDue when
	// the next one is (zero while the customer has the turn).
	FirstResponseDue time.Time `json:"first_response_due"`
	FirstRespondedAt time.Time `json:"first_responded_at,omitzero"`
	ResponseDue      time.Time `json:"response_due,omitzero"`
	// Breached is set once an answer came (or is still missing) after its deadline.
	Breached   bool      `json:"breached"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	ClosedAt   time.Time `json:"closed_at,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Message is one entry of the thread.
type Message struct {
	ID          string       `json:"id"`
	Seq         int          `json:"seq"`
	Kind        string       `json:"kind" doc:"customer, agent, note (agents only) or system"`
	AuthorID    string       `json:"author_id,omitempty"`
	Body        string       `json:"body"`
	Via         string       `json:"via"`
	CreatedAt   time.Time    `json:"created_at"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Attachment is a stored file's description; the bytes come from OpenAttachment.
type Attachment struct {
	ID          string    `json:"id"`
	MessageID   string    `json:"message_id"`
	FileName    string    `json:"file_name"`
	ContentType string    `json:"content_type"`
	SizeBytes   int64     `json:"size_bytes"`
	SHA256      string    `json:"sha256"`
	CreatedAt   time.Time `json:"created_at"`
	storageRef  string
}

// Thread is a ticket with its messages, as the caller may see them.
type Thread struct {
	Ticket   Ticket    `json:"ticket"`
	Messages []Message `json:"messages"`
}

var numberRE = regexp.MustCompile(`^T-[0-9]{4}-[0-9]{6,}$`)

// ValidNumber reports whether s looks like a ticket number.
func ValidNumber(s string) bool { return len(s) <= 20 && numberRE.MatchString(s) }

// refRE finds a ticket number in a mail subject: "[T-2026-000123]".
var refRE = regexp.MustCompile(`\[(T-[0-9]{4}-[0-9]{6,12})\]`)

func newID() string {
	u, err := uuid.NewV7()
	if err != nil {
		var b [16]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}
	return u.String()
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func timeOr0(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return db.Micros(us)
}

// inTx runs fn in a write transaction, wrapping uncoded errors with what was being done.
func (s *Service) inTx(ctx context.Context, what string, fn func(*db.Tx) error) error {
	if err := s.d.InTx(ctx, fn); err != nil {
		if _, ok := apperr.As(err); ok {
			return err
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func (s *Service) read(ctx context.Context, what string, fn func(*db.Tx) error) error {
	if err := s.d.Read(ctx, fn); err != nil {
		if _, ok := apperr.As(err); ok {
			return err
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Now is the desk's clock (the database's), for pages that show deadlines.
func (s *Service) Now() time.Time { return s.d.Clock.Now() }
