package identity

import (
	"context"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// Action codes name the steps that lift a restriction. They are stable: the web pages turn
// each into a button or a link, the API documents them.
const (
	ActionVerifyEmail     = "verify_email" // enter the emailed code
	ActionResendEmail     = "resend_verification"
	ActionResetPassword   = "reset_password"
	ActionWaitUntil       = "wait_until" // it lifts by itself at Until
	ActionUnfreeze        = "unfreeze"   // owner: password + second step
	ActionContactSupport  = "contact_support"
	ActionRaiseLevel      = "raise_level"
	ActionSubmitIdentity  = "submit_identity" // level 1 form
	ActionUploadDocument  = "upload_document" // level 2
	ActionAwaitReview     = "await_review"    // a document is waiting for an agent
	ActionEnableTwoStep   = "enable_two_step"
	ActionSignInElsewhere = "sign_in"
)

// Status item kinds.
const (
	StatusEmailNotVerified = "email_not_verified"
	StatusLocked           = "locked"
	StatusFrozenByOwner    = "frozen_by_owner"
	StatusFrozen           = "frozen"
	StatusRestricted       = "restricted"
)

// StatusItem is one thing limiting the account, with the way out.
type StatusItem struct {
	Kind string `json:"kind"`
	// Code is the error code a blocked call returns, so pages can reuse its message and fix.
	Code          string    `json:"code"`
	RestrictionID string    `json:"restriction_id,omitempty"`
	Scopes        []Scope   `json:"scopes,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	By            string    `json:"by,omitempty"` // user, agent, admin, system
	Since         time.Time `json:"since,omitzero"`
	Until         time.Time `json:"until,omitzero"`
	Actions       []string  `json:"actions"`
}

// LevelStatus is the identity level, its limits, what was used, and how to go higher.
type LevelStatus struct {
	Level  int         `json:"level"`
	Limits LevelLimits `json:"limits"`
	// UsedKnown is false when no UsageSource is wired yet.
	UsedKnown    bool         `json:"used_known"`
	DailyUsed    int64        `json:"daily_used_minor"`
	MonthlyUsed  int64        `json:"monthly_used_minor"`
	Next         *LevelLimits `json:"next,omitempty"`
	NextActions  []string     `json:"next_actions,omitempty"`
	PendingDocs  int          `json:"pending_documents"`
	RejectedNote string       `json:"last_rejection_reason,omitempty"`
}

// AccountStatus is everything that limits an account right now.
type AccountStatus struct {
	UserID   string       `json:"user_id"`
	Items    []StatusItem `json:"items"`
	CanSend  bool         `json:"can_send"`
	TwoStep  bool         `json:"two_step_enabled"`
	Level    LevelStatus  `json:"level"`
	Computed time.Time    `json:"computed_at"`
}

// AccountStatus lists every restriction on the caller's own account — lockout, freezes,
// risk restrictions, unverified email — with reason, since, until and the action codes
// that lift it, plus the identity level's limits and usage.
//
// Errors: not_found.
func (s *Service) AccountStatus(ctx context.Context, userID string) (*AccountStatus, error) {
	var st *AccountStatus
	err := s.read(ctx, "account status", func(tx *db.Tx) error {
		var err error
		st, err = s.status(ctx, tx, userID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.cfg.Usage != nil {
		d, m, err := s.cfg.Usage.LimitsUsed(ctx, userID, st.Level.Limits.Asset)
		if err != nil {
			return nil, err
		}
		st.Level.UsedKnown, st.Level.DailyUsed, st.Level.MonthlyUsed = true, d, m
	}
	return st, nil
}

// AgentAccountStatus is AccountStatus of any account, for support and risk staff.
//
// Errors: unauthenticated, forbidden, not_found.
func (s *Service) AgentAccountStatus(ctx context.Context, agentID, userID string) (*AccountStatus, error) {
	if err := s.read(ctx, "agent account status", func(tx *db.Tx) error {
		_, err := s.requireRole(ctx, tx, agentID, PermViewUsers)
		return err
	}); err != nil {
		return nil, err
	}
	return s.AccountStatus(ctx, userID)
}

func (s *Service) status(ctx context.Context, tx *db.Tx, userID string) (*AccountStatus, error) {
	u, err := loadUser(ctx, tx, userID, false)
	if err != nil {
		return nil, err
	}
	st := &AccountStatus{UserID: u.ID, TwoStep: u.twoStep(), Computed: tx.Now, Items: []StatusItem{}}
	if u.EmailVerifiedAt == 0 {
		st.Items = append(st.Items, StatusItem{Kind: StatusEmailNotVerified, Code: CodeEmailNotVerified, Since: db.Micros(u.CreatedAt),
			Actions: []string{ActionVerifyEmail, ActionResendEmail}})
	}
	if u.LockedUntil > tx.NowMicros() {
		until := db.Micros(u.LockedUntil)
		st.Items = append(st.Items, StatusItem{Kind: StatusLocked, Code: CodeAccountLocked, By: ActorSystem,
			Reason: "too many wrong passwords", Scopes: []Scope{ScopeSignIn},
			Since: until.Add(-s.cfg.LockoutDuration), Until: until, Actions: []string{ActionWaitUntil, ActionResetPassword}})
	}
	rs, err := activeRestrictions(ctx, tx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		it := StatusItem{RestrictionID: r.ID, Scopes: r.Scopes, Reason: r.Reason, By: r.ByKind, Since: r.Since, Until: r.Until}
		switch {
		case r.Kind == KindFreeze && r.ByOwner:
			it.Kind, it.Code, it.Actions = StatusFrozenByOwner, CodeAccountFrozen, []string{ActionUnfreeze, ActionContactSupport}
		case r.Kind == KindFreeze:
			it.Kind, it.Code, it.Actions = StatusFrozen, CodeAccountFrozen, []string{ActionContactSupport}
		default:
			it.Kind, it.Code, it.Actions = StatusRestricted, blockedCode(r), []string{ActionContactSupport}
		}
		if !r.Until.IsZero() {
			it.Actions = append([]string{ActionWaitUntil}, it.Actions...)
		}
		st.Items = append(st.Items, it)
	}
	st.CanSend = u.EmailVerifiedAt != 0 && blockedBy(rs, ScopeSend) == nil

	ls := LevelStatus{Level: u.Level, Limits: s.LimitsFor(u.Level)}
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM identity_documents WHERE user_id = $1 AND status = $2`, u.ID, DocPending).Scan(&ls.PendingDocs); err != nil {
		return nil, err
	}
	var note string
	err = tx.QueryRowContext(ctx, `SELECT review_reason FROM identity_documents WHERE user_id = $1 AND status = $2 ORDER BY reviewed_at DESC LIMIT 1`,
		u.ID, DocRejected).Scan(&note)
	if err != nil && !db.IsNoRows(err) {
		return nil, err
	}
	ls.RejectedNote = note
	if u.Level < MaxLevel {
		next := s.LimitsFor(u.Level + 1)
		ls.Next = &next
		switch {
		case u.EmailVerifiedAt == 0:
			ls.NextActions = []string{ActionVerifyEmail}
		case u.Level == 0:
			ls.NextActions = []string{ActionRaiseLevel, ActionSubmitIdentity}
		case ls.PendingDocs > 0:
			ls.NextActions = []string{ActionAwaitReview}
		default:
			ls.NextActions = []string{ActionRaiseLevel, ActionUploadDocument}
		}
	}
	st.Level = ls
	return st, nil
}

// blockedCode is the error a risk restriction produces for its first scope.
func blockedCode(r *Restriction) string {
	for _, sc := range []Scope{ScopeSignIn, ScopeSend, ScopeWithdraw, ScopeReceive} {
		if r.has(sc) {
			if e, ok := apperr.As(blockedBy([]*Restriction{r}, sc)); ok {
				return e.Code
			}
		}
	}
	return CodeSendingRestricted
}
