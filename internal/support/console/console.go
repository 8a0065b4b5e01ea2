// Package console is the agent console's domain: the queues an agent works (tickets by
// response deadline, chats waiting), the customer view (status and restrictions, recent
// activity, devices, tickets, chats, the troubleshooter's diagnosis, notes), the identity
// check an agent must pass before any sensitive action, the actions themselves (unlock,
// unfreeze, resend verification, approve or reject identity documents — each with a
// reason, audited) and canned replies.
//
// It owns the identity checks (console_checks, console_codes) and the customer notes
// (console_notes). Everything else it reads or changes through the owning services:
// identity's Agent* methods do the actions and write their audit entries, tickets and chat
// give the queues, troubleshoot gives the diagnosis and the recent activity. It knows
// nothing of HTTP.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/identity"
	"okpay/internal/support/chat"
	"okpay/internal/support/tickets"
	"okpay/internal/support/troubleshoot"
)

// Error codes of the console.
const (
	CodeCheckRequired    = "identity_check_required"
	CodeCheckLocked      = "identity_check_locked"
	CodeCheckUnavailable = "identity_check_unavailable"
	CodeCodeCooldown     = "identity_check_code_cooldown"
	CodeNoCustomer       = "customer_not_found"
)

func init() {
	apperr.Register(
		apperr.Def{Code: CodeCheckRequired, Status: http.StatusForbidden,
			Message: apperr.Text{En: "Check the caller's identity first: this action needs a passed identity check from the last {minutes} minutes.", Zh: "请先核实来电者身份：此操作需要最近 {minutes} 分钟内通过的身份核验。"},
			Fix:     apperr.Text{En: "Send a code to the customer's verified email or phone and enter what they read back, or check both the last 4 digits of a bound card and the amount of a recent transaction.", Zh: "请向客户已验证的邮箱或手机发送验证码并输入客户读回的验证码，或同时核对绑定银行卡的后 4 位和一笔近期交易的金额。"}},
		apperr.Def{Code: CodeCheckLocked, Status: http.StatusTooManyRequests,
			Message: apperr.Text{En: "Too many failed identity checks for this customer.", Zh: "该客户的身份核验失败次数过多。"},
			Fix:     apperr.Text{En: "Stop here: the caller may not be the owner. Checks can be tried again after {until}; escalate to risk review if in doubt.", Zh: "请停止操作：来电者可能不是账户本人。{until} 之后可再次核验；如有疑问请转交风控审核。"}},
		apperr.Def{Code: CodeCheckUnavailable, Status: http.StatusConflict,
			Message: apperr.Text{En: "This check cannot be done for this customer: {why}.", Zh: "无法对该客户进行此项核验：{why}。"},
			Fix:     apperr.Text{En: "Use another check.", Zh: "请使用其他核验方式。"}},
		apperr.Def{Code: CodeCodeCooldown, Status: http.StatusTooManyRequests,
			Message: apperr.Text{En: "A code was sent to this customer moments ago.", Zh: "刚刚已向该客户发送验证码。"},
			Fix:     apperr.Text{En: "Ask the customer to read back the code already sent (check the spam folder); a new one can be sent after {next_at}.", Zh: "请让客户读出已发送的验证码（可查看垃圾邮件）；{next_at} 之后可重新发送。"}},
		apperr.Def{Code: CodeNoCustomer, Status: http.StatusNotFound,
			Message: apperr.Text{En: "No customer matches this email, phone number or reference.", Zh: "没有与该邮箱、手机号或参考号匹配的客户。"},
			Fix:     apperr.Text{En: "Check the spelling; phone numbers need the country code (+86…).", Zh: "请检查拼写；手机号需包含国家代码（+86…）。"}},
	)
}

// Agent is the staff member acting, as authn resolved them.
type Agent struct {
	ID         string
	Role       identity.Role
	Lang       string
	ClientAddr string
	UserAgent  string
}

func (a Agent) client() identity.Client {
	return identity.Client{IP: a.ClientAddr, UserAgent: a.UserAgent}
}

func (a Agent) ticketActor() tickets.Actor {
	return tickets.Actor{UserID: a.ID, Role: a.Role, ClientAddr: a.ClientAddr}
}

func (a Agent) participant() chat.Participant {
	return chat.Participant{ID: a.ID, Role: string(a.Role), Lang: a.Lang}
}

// Config wires the console.
type Config struct {
	DB *db.DB
	// SecretKey keys the hashes of the codes sent to customers (≥ 32 bytes).
	SecretKey    []byte
	Identity     *identity.Service
	Troubleshoot *troubleshoot.Service
	// Tickets and Chat are optional: without them the queues are empty.
	Tickets *tickets.Service
	Chat    *chat.Service
	// CheckTTL is how long a passed check counts; 15 minutes.
	CheckTTL time.Duration
	// CodeTTL is how long a sent code can be read back; 10 minutes.
	CodeTTL time.Duration
	// MaxFailures failed checks of one agent for one customer within CheckTTL lock the
	// checks for the rest of that window; 5.
	MaxFailures int
}

// Service is the console.
type Service struct {
	cfg     Config
	db      *db.DB
	codeKey []byte
}

// New builds the console.
//
// Errors: a plain error when a dependency is missing.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Identity == nil || cfg.Troubleshoot == nil {
		return nil, fmt.Errorf("console: database, identity and troubleshoot are required")
	}
	if len(cfg.SecretKey) < 32 {
		return nil, fmt.Errorf("console: secret key must be at least 32 bytes")
	}
	if cfg.CheckTTL <= 0 {
		cfg.CheckTTL = 15 * time.Minute
	}
	if cfg.CodeTTL <= 0 {
		cfg.CodeTTL = 10 * time.Minute
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	m := hmac.New(sha256.New, cfg.SecretKey)
	m.Write([]byte("okpay console codes v1"))
	return &Service{cfg: cfg, db: cfg.DB, codeKey: m.Sum(nil)}, nil
}

// CheckTTL is how long a passed identity check counts.
func (s *Service) CheckTTL() time.Duration { return s.cfg.CheckTTL }

// requireStaff loads the agent afresh, so a role removed a moment ago is not used.
func (s *Service) requireStaff(ctx context.Context, a Agent) (*identity.User, error) {
	if a.ID == "" {
		return nil, apperr.New(apperr.CodeUnauthenticated)
	}
	u, err := s.cfg.Identity.GetUser(ctx, a.ID)
	if err != nil {
		if apperr.HasCode(err, apperr.CodeNotFound) {
			return nil, apperr.New(apperr.CodeUnauthenticated)
		}
		return nil, err
	}
	if !u.Role.Staff() {
		return nil, apperr.New(apperr.CodeForbidden)
	}
	return u, nil
}

// customer loads the customer acted upon; staff accounts are not handled as customers.
func (s *Service) customer(ctx context.Context, customerID string) (*identity.User, error) {
	if customerID == "" || len(customerID) > 64 {
		return nil, apperr.New(CodeNoCustomer)
	}
	u, err := s.cfg.Identity.GetUser(ctx, customerID)
	if err != nil {
		if apperr.HasCode(err, apperr.CodeNotFound) {
			return nil, apperr.New(CodeNoCustomer)
		}
		return nil, err
	}
	return u, nil
}

func (s *Service) hash(parts ...string) string {
	m := hmac.New(sha256.New, s.codeKey)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

func newID() string {
	u, err := uuid.NewV7()
	if err != nil {
		panic(fmt.Sprintf("console: uuid: %v", err))
	}
	return u.String()
}

func (s *Service) inTx(ctx context.Context, what string, fn func(*db.Tx) error) error {
	if err := s.db.InTx(ctx, fn); err != nil {
		if _, ok := apperr.As(err); ok {
			return err
		}
		return fmt.Errorf("console: %s: %w", what, err)
	}
	return nil
}

func (s *Service) read(ctx context.Context, what string, fn func(*db.Tx) error) error {
	if err := s.db.Read(ctx, fn); err != nil {
		if _, ok := apperr.As(err); ok {
			return err
		}
		return fmt.Errorf("console: %s: %w", what, err)
	}
	return nil
}
