// Package troubleshoot is the "fix my problem" assistant: the signed-in user picks a
// problem (or one is suggested from recent events), the package takes a Snapshot of the
// real account state — restrictions and their reasons, lockout, email verification, 2-step,
// recent activity with failure codes, withdrawals in flight and their rail status, pending
// holds, cards and their expiry, limits used, maintenance — and answers with a Diagnosis:
// the cause in plain words (zh-CN and en), the one next step the user can take, and only
// when the cause needs a person, the offer of a ticket that carries the diagnosis and the
// related records so nobody asks the user for "materials" again.
//
// Each diagnosis rule is a small pure function of a Snapshot (rules.go), tested on its own;
// the Service only gathers the snapshot and opens tickets. The package reads other domains'
// state through their services (identity, wallet, notice) and never changes it; the one
// thing it writes is a ticket, through the tickets service. It knows nothing of HTTP: the
// web and api packages turn a Step's action into a button.
package troubleshoot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"okpay/internal/apperr"
	"okpay/internal/identity"
	"okpay/internal/support/hours"
	"okpay/internal/support/tickets"
)

// Problems the user can pick. The ids are stable: they are URL segments and API values.
const (
	ProblemSignIn       = "cannot_sign_in"
	ProblemRestricted   = "account_restricted"
	ProblemNoEmail      = "no_registration_email"
	ProblemPayment      = "payment_failed"
	ProblemWithdrawal   = "withdrawal_failed"
	ProblemUnauthorized = "unauthorized_payment"
	ProblemCoins        = "coins_not_released"
	ProblemCard         = "change_card"
	ProblemAutoPay      = "cancel_automatic_payment"
	ProblemOther        = "something_else"
)

// Actions are the next steps a Diagnosis can name. The UI renders each one the user can
// take as a button; ActionWaitUntil and ActionNone are shown as text.
const (
	ActionVerifyEmail   = "verify_email"        // enter the emailed code
	ActionResendEmail   = "resend_verification" // send a new verification email
	ActionTopUp         = "top_up"
	ActionChangeCard    = "change_card"
	ActionUnfreeze      = "unfreeze"       // the owner lifts their own freeze
	ActionFreeze        = "freeze"         // protect the account now
	ActionResetPassword = "reset_password" // also ends a lockout
	ActionWaitUntil     = "wait_until"     // it resolves by itself at Step.Until
	ActionRaiseLevel    = "raise_level"    // verify identity for higher limits
	ActionOpenArticle   = "open_article"   // the help article Step.Article
	ActionOpenTicket    = "open_ticket"    // a person must look: open a ticket with the diagnosis
	ActionRetry         = "retry"          // the cause is gone: try again
	ActionNone          = "none"           // nothing is wrong that we can see
)

// Error codes of the troubleshooter.
const (
	CodeProblemUnknown = "troubleshoot_problem_unknown"
	CodeSelfService    = "troubleshoot_self_service"
)

func init() {
	apperr.Register(
		apperr.Def{Code: CodeProblemUnknown, Status: http.StatusNotFound,
			Message: apperr.Text{En: "There is no such problem in the troubleshooter.", Zh: "问题助手中没有这个问题。"},
			Fix:     apperr.Text{En: "Pick one of the problems listed, or choose \"Something else\".", Zh: "请从列出的问题中选择，或选择“其他问题”。"}},
		apperr.Def{Code: CodeSelfService, Status: http.StatusConflict,
			Message: apperr.Text{En: "You can fix this yourself, so no ticket was opened.", Zh: "这个问题您可以自行解决，因此未创建工单。"},
			Fix:     apperr.Text{En: "Take the next step shown. If it does not work, choose \"Something else\" to reach a person.", Zh: "请按页面显示的下一步操作。如果仍未解决，请选择“其他问题”联系人工客服。"}},
	)
}

// Text is a sentence in both languages.
type Text struct {
	En string `json:"en"`
	Zh string `json:"zh-CN"`
}

// In returns the text in lang ("zh-CN" or anything else for English).
func (t Text) In(lang string) string {
	if strings.HasPrefix(strings.ToLower(lang), "zh") && t.Zh != "" {
		return t.Zh
	}
	return t.En
}

// Problem is one entry of the list the user picks from.
type Problem struct {
	ID    string `json:"id"`
	Title Text   `json:"title"`
	Hint  Text   `json:"hint"`
	// Category is the ticket category a ticket about this problem gets.
	Category string `json:"-"`
}

// problems in the order the page lists them: the most common first.
var problems = []Problem{
	{ID: ProblemSignIn, Category: "account",
		Title: Text{"I can't sign in / my account is locked", "无法登录 / 账户被锁定"},
		Hint:  Text{"Wrong passwords, lockout, 2-step codes", "密码错误、账户锁定、两步验证码"}},
	{ID: ProblemRestricted, Category: "account",
		Title: Text{"My account is frozen or restricted", "账户被冻结或受限"},
		Hint:  Text{"Money can't leave the account", "资金无法转出"}},
	{ID: ProblemNoEmail, Category: "verification",
		Title: Text{"I didn't get the registration email", "没有收到注册验证邮件"},
		Hint:  Text{"Verify your email address", "验证邮箱地址"}},
	{ID: ProblemPayment, Category: "payment",
		Title: Text{"A payment or top-up failed", "付款或充值失败"},
		Hint:  Text{"Why it failed and how to pay", "失败原因及解决方法"}},
	{ID: ProblemWithdrawal, Category: "withdrawal",
		Title: Text{"A withdrawal failed or hasn't arrived", "提现失败或未到账"},
		Hint:  Text{"Where the money is now", "资金现在在哪里"}},
	{ID: ProblemUnauthorized, Category: "unauthorized",
		Title: Text{"There is a payment I didn't make", "有一笔不是我本人的付款"},
		Hint:  Text{"Protect the account and report it", "保护账户并举报"}},
	{ID: ProblemCoins, Category: "transfer",
		Title: Text{"I paid for coins but they weren't released", "已付款但币未放行"},
		Hint:  Text{"Deposits, holds and trades", "充值、冻结款项与交易"}},
	{ID: ProblemCard, Category: "card",
		Title: Text{"I need to change my bank card", "需要更换银行卡"},
		Hint:  Text{"Expired or replaced cards", "过期或已更换的卡"}},
	{ID: ProblemAutoPay, Category: "payment",
		Title: Text{"Cancel an automatic payment", "取消自动扣款"},
		Hint:  Text{"Subscriptions and repeated charges", "订阅与重复扣款"}},
	{ID: ProblemOther, Category: "other",
		Title: Text{"Something else", "其他问题"},
		Hint:  Text{"Talk to a person", "联系人工客服"}},
}

// Problems lists the problems in display order.
func Problems() []Problem { return append([]Problem(nil), problems...) }

// ProblemByID returns the problem with id.
func ProblemByID(id string) (Problem, bool) {
	for _, p := range problems {
		if p.ID == id {
			return p, true
		}
	}
	return Problem{}, false
}

// Step is the one next step.
type Step struct {
	Action string `json:"action"`
	// Until is when a wait ends (ActionWaitUntil), shown as HH:MM in the user's zone.
	Until time.Time `json:"until,omitzero"`
	// Article is the help article's slug (ActionOpenArticle), also set as further
	// reading on other steps when one explains the cause.
	Article string `json:"article,omitempty"`
}

// Diagnosis is the troubleshooter's answer for one problem.
type Diagnosis struct {
	Problem string `json:"problem"`
	// Rule names the rule that matched, e.g. "withdrawal.name_mismatch"; agents read it.
	Rule  string `json:"rule"`
	Cause Text   `json:"cause"`
	Step  Step   `json:"next_step"`
	// NeedsPerson is set when only a person can resolve the cause; the ticket offer is
	// then the main way forward.
	NeedsPerson bool `json:"needs_person"`
	// OfferTicket is set when a ticket may be opened from this diagnosis: always with
	// NeedsPerson, and as a fallback when the user's own step may not be enough (a name
	// mismatch the user cannot fix).
	OfferTicket bool `json:"offer_ticket"`
	// TicketWhen says when the fallback ticket is the right choice.
	TicketWhen Text `json:"ticket_when,omitzero"`
	// Related are the activity reference numbers the diagnosis is about.
	Related []string `json:"related,omitempty"`
	// Facts are the state the rule relied on (failure code, rail status, until…), for
	// agents: they are what the user would otherwise be asked for.
	Facts      map[string]string `json:"facts,omitempty"`
	ComputedAt time.Time         `json:"computed_at"`
}

// JSON is the diagnosis as stored on a ticket.
func (d *Diagnosis) JSON() json.RawMessage {
	b, err := json.Marshal(d)
	if err != nil {
		// Only strings, times and maps of strings: marshalling cannot fail.
		panic(fmt.Sprintf("troubleshoot: marshal diagnosis: %v", err))
	}
	return b
}

// Suggestion is a problem the account's recent events point at.
type Suggestion struct {
	Problem string `json:"problem"`
	Title   Text   `json:"title"`
	// Why is the event that suggests it, in plain words.
	Why Text `json:"why"`
}

// Identity is what the troubleshooter reads from identity.
type Identity interface {
	GetUser(ctx context.Context, userID string) (*identity.User, error)
	AccountStatus(ctx context.Context, userID string) (*identity.AccountStatus, error)
}

// Maintenance reports the maintenance window in force, if any.
type Maintenance interface {
	// MaintenanceUntil returns when the window in force ends, or the zero time.
	MaintenanceUntil(ctx context.Context) (time.Time, error)
}

// Tickets opens tickets; *tickets.Service implements it.
type Tickets interface {
	Open(ctx context.Context, in tickets.OpenInput) (*tickets.Ticket, error)
}

// Config wires the service.
type Config struct {
	Identity Identity
	// Wallet is optional: without it, money problems are answered from the account status
	// alone and say that the history could not be read.
	Wallet Wallet
	// Maintenance is optional.
	Maintenance Maintenance
	// Tickets is optional: without it, OpenTicket fails with unavailable.
	Tickets Tickets
	// Location is the zone times are shown in; Asia/Shanghai when nil.
	Location *time.Location
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Service gathers snapshots, runs the rules and opens tickets.
type Service struct {
	cfg Config
}

// New returns the service.
//
// Errors: a plain error when Identity is missing.
func New(cfg Config) (*Service, error) {
	if cfg.Identity == nil {
		return nil, fmt.Errorf("troubleshoot: identity is required")
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			loc = time.FixedZone("CST", 8*3600)
		}
		cfg.Location = loc
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}, nil
}

// Location is the zone diagnoses show times in.
func (s *Service) Location() *time.Location { return s.cfg.Location }

// Snapshot reads the account state the rules look at. Sources that are not wired (or
// not built yet) are marked unknown in Snapshot.Known rather than failing the whole answer.
//
// Errors: not_found (no such user); internal ones from the sources.
func (s *Service) Snapshot(ctx context.Context, userID string) (*Snapshot, error) {
	u, err := s.cfg.Identity.GetUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	st, err := s.cfg.Identity.AccountStatus(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("troubleshoot: account status: %w", err)
	}
	now := s.cfg.Now()
	snap := &Snapshot{Now: now, Loc: s.cfg.Location, UserID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified,
		TwoStep: u.TwoStep, Level: u.Level, Items: st.Items, LevelStatus: st.Level}
	if s.cfg.Maintenance != nil {
		until, err := s.cfg.Maintenance.MaintenanceUntil(ctx)
		if err != nil {
			return nil, fmt.Errorf("troubleshoot: maintenance: %w", err)
		}
		snap.MaintenanceUntil = until
	}
	if s.cfg.Wallet != nil {
		if err := s.cfg.Wallet.Fill(ctx, snap); err != nil {
			return nil, fmt.Errorf("troubleshoot: wallet: %w", err)
		}
	}
	return snap, nil
}

// Diagnose answers problem for userID from a fresh snapshot.
//
// Errors: troubleshoot_problem_unknown, not_found (user); internal ones from the sources.
func (s *Service) Diagnose(ctx context.Context, userID, problem string) (*Diagnosis, error) {
	if _, ok := ProblemByID(problem); !ok {
		return nil, apperr.New(CodeProblemUnknown)
	}
	snap, err := s.Snapshot(ctx, userID)
	if err != nil {
		return nil, err
	}
	return Diagnose(snap, problem), nil
}

// Suggest returns the problems the account's state points at, most pressing first, at
// most maxSuggestions.
//
// Errors: not_found (user); internal ones from the sources.
func (s *Service) Suggest(ctx context.Context, userID string) ([]Suggestion, error) {
	snap, err := s.Snapshot(ctx, userID)
	if err != nil {
		return nil, err
	}
	return Suggest(snap), nil
}

// TicketInput is what the user adds to a ticket opened from a diagnosis.
type TicketInput struct {
	// Description is optional: the diagnosis already says what happened.
	Description string
}

// maxTicketNoteRunes bounds the user's own words on a troubleshooter ticket.
const maxTicketNoteRunes = 4000

// OpenTicket diagnoses problem again (the state may have changed since the page was
// shown) and, when the diagnosis offers a ticket, opens one carrying the diagnosis and the
// related activity references.
//
// Errors: troubleshoot_problem_unknown, troubleshoot_self_service (the diagnosis offers no
// ticket: the user can fix it), validation_failed (description: ticket_text_too_long), unavailable (no
// ticket desk wired), and the tickets service's errors.
func (s *Service) OpenTicket(ctx context.Context, userID, problem string, in TicketInput) (*tickets.Ticket, *Diagnosis, error) {
	if utf8.RuneCountInString(in.Description) > maxTicketNoteRunes {
		return nil, nil, apperr.New(apperr.CodeValidation).Field("description", tickets.CodeTooLong)
	}
	if s.cfg.Tickets == nil {
		return nil, nil, apperr.New(apperr.CodeUnavailable)
	}
	d, err := s.Diagnose(ctx, userID, problem)
	if err != nil {
		return nil, nil, err
	}
	if !d.OfferTicket {
		return nil, d, apperr.New(CodeSelfService)
	}
	u, err := s.cfg.Identity.GetUser(ctx, userID)
	if err != nil {
		return nil, nil, err
	}
	p, _ := ProblemByID(problem)
	subject := p.Title.In(u.Lang)
	desc := strings.TrimSpace(in.Description)
	cause := d.Cause.In(u.Lang)
	if desc == "" {
		desc = cause
	} else {
		desc = desc + "\n\n— " + cause
	}
	related := d.Related
	if len(related) > tickets.MaxRelated {
		related = related[:tickets.MaxRelated]
	}
	in2 := tickets.OpenInput{CustomerID: userID, Category: p.Category, Subject: subject, Description: desc,
		Related: related, Via: tickets.ViaTroubleshooter, Diagnosis: d.JSON(), Priority: hours.PriorityNormal}
	if len(related) > 0 {
		in2.RelatedRef = related[0]
	}
	if problem == ProblemUnauthorized {
		// Money may still be leaving: this one jumps the queue.
		in2.Priority = hours.PriorityUrgent
	}
	t, err := s.cfg.Tickets.Open(ctx, in2)
	if err != nil {
		return nil, nil, err
	}
	return t, d, nil
}

// ParseDiagnosis reads a diagnosis stored on a ticket; ok is false for anything else
// (a ticket opened elsewhere stores "{}").
func ParseDiagnosis(raw json.RawMessage) (*Diagnosis, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	var d Diagnosis
	if err := json.Unmarshal(raw, &d); err != nil || d.Problem == "" || d.Rule == "" {
		return nil, false
	}
	return &d, true
}
