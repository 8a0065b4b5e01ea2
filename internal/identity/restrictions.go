package identity

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// Scope is one action a restriction can block. Restrictions are scoped so risk rules can
// stop one action (say withdrawals) without freezing everything.
type Scope string

const (
	ScopeSignIn   Scope = "signin"
	ScopeSend     Scope = "send"
	ScopeReceive  Scope = "receive"
	ScopeWithdraw Scope = "withdraw"
)

// Scopes lists every scope.
var Scopes = []Scope{ScopeSignIn, ScopeSend, ScopeReceive, ScopeWithdraw}

func (sc Scope) valid() bool {
	for _, x := range Scopes {
		if sc == x {
			return true
		}
	}
	return false
}

// Restriction kinds.
const (
	// KindFreeze stops money leaving (send and withdraw). Receiving still works so refunds
	// and incoming payments are not lost; signing in still works so the owner can see the
	// account and unfreeze it.
	KindFreeze = "freeze"
	// KindRestriction blocks exactly its scopes, set by risk review.
	KindRestriction = "restriction"
)

var freezeScopes = []Scope{ScopeSend, ScopeWithdraw}

// Restriction is one active or past limit on an account.
type Restriction struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Scopes    []Scope   `json:"scopes"`
	Reason    string    `json:"reason"`
	ByKind    string    `json:"by_kind"` // user (the owner), agent, admin, system
	ByID      string    `json:"-"`
	Since     time.Time `json:"since"`
	Until     time.Time `json:"until,omitzero"`
	LiftedAt  time.Time `json:"lifted_at,omitzero"`
	LiftedBy  string    `json:"-"`
	LiftNote  string    `json:"lift_reason,omitempty"`
	ByOwner   bool      `json:"by_owner"`
	untilUs   int64
	createdUs int64
}

func (r *Restriction) has(sc Scope) bool {
	for _, x := range r.Scopes {
		if x == sc {
			return true
		}
	}
	return false
}

const restrictionCols = `id, user_id, kind, scopes, reason, created_by_kind, created_by, created_at, until_at, lifted_at, lifted_by, lift_reason`

func scanRestriction(sc scanner) (*Restriction, string, error) {
	var r Restriction
	var userID, scopes string
	var lifted int64
	if err := sc.Scan(&r.ID, &userID, &r.Kind, &scopes, &r.Reason, &r.ByKind, &r.ByID, &r.createdUs, &r.untilUs, &lifted, &r.LiftedBy, &r.LiftNote); err != nil {
		return nil, "", err
	}
	for _, x := range strings.Split(scopes, ",") {
		if x != "" {
			r.Scopes = append(r.Scopes, Scope(x))
		}
	}
	r.Since, r.Until, r.LiftedAt = db.Micros(r.createdUs), timeOrZero(r.untilUs), timeOrZero(lifted)
	r.ByOwner = r.ByKind == ActorUser && r.ByID == userID
	return &r, userID, nil
}

// activeRestrictions returns the user's restrictions in force at tx.Now. Ones past their
// until date simply stop counting: the automatic unfreeze needs no background job.
func activeRestrictions(ctx context.Context, tx *db.Tx, userID string) ([]*Restriction, error) {
	now := tx.NowMicros()
	rows, err := tx.QueryCached(ctx, `SELECT `+restrictionCols+` FROM restrictions
		WHERE user_id = $1 AND lifted_at = 0 AND (until_at = 0 OR until_at > $2) ORDER BY created_at LIMIT 100`, userID, now)
	if err != nil {
		return nil, fmt.Errorf("load restrictions: %w", err)
	}
	defer rows.Close()
	var out []*Restriction
	for rows.Next() {
		r, _, err := scanRestriction(rows)
		if err != nil {
			return nil, fmt.Errorf("scan restriction: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// check returns the error for the first restriction blocking sc.
func blockedBy(rs []*Restriction, sc Scope) error {
	for _, r := range rs {
		if !r.has(sc) {
			continue
		}
		if r.Kind == KindFreeze {
			e := apperr.New(CodeAccountFrozen)
			if !r.Until.IsZero() {
				e.With("until", r.Until.Format(time.RFC3339))
			}
			return e
		}
		switch sc {
		case ScopeSignIn:
			return apperr.New(CodeSigninRestricted)
		case ScopeSend:
			return apperr.New(CodeSendingRestricted)
		case ScopeReceive:
			return apperr.New(CodeReceivingRestricted)
		default:
			return apperr.New(CodeWithdrawRestricted)
		}
	}
	return nil
}

func (s *Service) checkSignInAllowed(ctx context.Context, tx *db.Tx, userID string) error {
	rs, err := activeRestrictions(ctx, tx, userID)
	if err != nil {
		return err
	}
	return blockedBy(rs, ScopeSignIn)
}

func (s *Service) canMove(ctx context.Context, tx *db.Tx, userID string, sc Scope) error {
	u, err := loadUser(ctx, tx, userID, false)
	if err != nil {
		return err
	}
	if u.EmailVerifiedAt == 0 {
		return apperr.New(CodeEmailNotVerified)
	}
	rs, err := activeRestrictions(ctx, tx, userID)
	if err != nil {
		return err
	}
	return blockedBy(rs, sc)
}

// CanSend is asked by the wallet inside its own transaction before money leaves userID's
// account (payment, transfer).
//
// Errors: not_found, email_not_verified, account_frozen (param until when set),
// sending_restricted.
func (s *Service) CanSend(ctx context.Context, tx *db.Tx, userID string) error {
	return s.canMove(ctx, tx, userID, ScopeSend)
}

// CheckTransfer is CanSend(fromID) and CanReceive(toID) for a caller that has read both
// users in tx itself, so their existence and the sender's email verification
// (fromEmailVerified) are known: one statement reads both users' restrictions instead
// of four reading the users again and the restrictions once each. send is CanSend's
// refusal, receive CanReceive's; err is internal.
//
// Errors (send): email_not_verified, account_frozen (param until when set),
// sending_restricted. Errors (receive): receiving_restricted.
func (s *Service) CheckTransfer(ctx context.Context, tx *db.Tx, fromID string, fromEmailVerified bool, toID string) (send, receive, err error) {
	cs, err := s.CheckTransfers(ctx, tx, []TransferParties{{FromID: fromID, FromEmailVerified: fromEmailVerified, ToID: toID}})
	if err != nil {
		return nil, nil, err
	}
	return cs[0].Send, cs[0].Receive, nil
}

// TransferParties is one payment of a batch for CheckTransfers: the people as the caller
// read them in its transaction.
type TransferParties struct {
	FromID            string
	FromEmailVerified bool
	ToID              string
}

// TransferCheck is CheckTransfer's answer for one payment of a batch.
type TransferCheck struct{ Send, Receive error }

// CheckTransfers is CheckTransfer for many payments in one transaction (the wallet's
// batched transfers): one statement reads the restrictions of everyone involved, and
// each payment gets the answers CheckTransfer would have given it. err is internal.
//
// Errors (Send, Receive): as CheckTransfer.
func (s *Service) CheckTransfers(ctx context.Context, tx *db.Tx, ps []TransferParties) ([]TransferCheck, error) {
	out := make([]TransferCheck, len(ps))
	ids := make([]string, 0, 2*len(ps))
	seen := make(map[string]bool, 2*len(ps))
	for _, p := range ps {
		if !p.FromEmailVerified {
			continue // refused before its restrictions matter
		}
		for _, id := range [2]string{p.FromID, p.ToID} {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	byUser := make(map[string][]*Restriction)
	if len(ids) > 0 {
		now := tx.NowMicros()
		var q string
		var args []any
		if tx.Dialect.Name() == db.Postgres {
			q, args = `user_id = ANY($1)`, []any{ids}
		} else {
			// Padded to a power of two with the last id (IN ignores repeats), so a few
			// statement texts serve every batch size and stay in the statement cache.
			n := 1
			for n < len(ids) {
				n *= 2
			}
			args = make([]any, 0, n+1)
			for i := 0; i < n; i++ {
				args = append(args, ids[min(i, len(ids)-1)])
			}
			q = `user_id IN (` + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + `)`
		}
		nowArg := len(args) + 1
		args = append(args, now)
		ph := fmt.Sprintf("$%d", nowArg)
		if tx.Dialect.Name() != db.Postgres {
			ph = "?"
		}
		rows, err := tx.QueryCached(ctx, `SELECT `+restrictionCols+` FROM restrictions
			WHERE `+q+` AND lifted_at = 0 AND (until_at = 0 OR until_at > `+ph+`) ORDER BY created_at`, args...)
		if err != nil {
			return nil, fmt.Errorf("load restrictions: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			r, uid, err := scanRestriction(rows)
			if err != nil {
				return nil, fmt.Errorf("scan restriction: %w", err)
			}
			byUser[uid] = append(byUser[uid], r)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("load restrictions: %w", err)
		}
	}
	for i, p := range ps {
		if !p.FromEmailVerified {
			out[i].Send = apperr.New(CodeEmailNotVerified)
			continue
		}
		if err := blockedBy(byUser[p.FromID], ScopeSend); err != nil {
			out[i].Send = err
			continue
		}
		out[i].Receive = blockedBy(byUser[p.ToID], ScopeReceive)
	}
	return out, nil
}

// CanWithdraw is CanSend for withdrawals to a bank or card.
//
// Errors: not_found, email_not_verified, account_frozen, withdrawal_restricted.
func (s *Service) CanWithdraw(ctx context.Context, tx *db.Tx, userID string) error {
	return s.canMove(ctx, tx, userID, ScopeWithdraw)
}

// CanReceive is asked before crediting userID. A freeze does not block receiving, and an
// unverified email does not either (money waiting is better than money bounced).
//
// Errors: not_found, receiving_restricted.
func (s *Service) CanReceive(ctx context.Context, tx *db.Tx, userID string) error {
	if _, err := loadUser(ctx, tx, userID, false); err != nil {
		return err
	}
	rs, err := activeRestrictions(ctx, tx, userID)
	if err != nil {
		return err
	}
	return blockedBy(rs, ScopeReceive)
}

// FreezeInput is an owner's freeze; Until (optional) unfreezes automatically.
type FreezeInput struct {
	Reason string    `json:"reason,omitempty"`
	Until  time.Time `json:"until,omitzero"`
}

func (s *Service) freeze(ctx context.Context, tx *db.Tx, u *userRow, byKind, byID, reason string, until time.Time, c Client) (*Restriction, error) {
	if !until.IsZero() && !until.After(tx.Now) {
		return nil, invalid("until", FieldDateInvalid)
	}
	rs, err := activeRestrictions(ctx, tx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.Kind == KindFreeze {
			return nil, apperr.New(CodeAlreadyFrozen)
		}
	}
	r := &Restriction{ID: newID(), Kind: KindFreeze, Scopes: freezeScopes, Reason: reason, ByKind: byKind, ByID: byID,
		Since: tx.Now, Until: until, ByOwner: byKind == ActorUser && byID == u.ID}
	if err := insertRestriction(ctx, tx, u.ID, r); err != nil {
		return nil, err
	}
	if err := endSessions(ctx, tx, u.ID, "frozen"); err != nil {
		return nil, err
	}
	data := map[string]any{"When": fmtTime(tx.Now, u.Lang), "ByOwner": r.ByOwner, "Reason": reason, "Until": ""}
	if !until.IsZero() {
		data["Until"] = fmtTime(until, u.Lang)
	}
	if err := s.sendMail(ctx, tx, u, mailFrozen, data); err != nil {
		return nil, err
	}
	details := map[string]string{"restriction": r.ID}
	if !until.IsZero() {
		details["until"] = until.Format(time.RFC3339)
	}
	return r, s.fx.audit(ctx, tx, auditEntry{ActorKind: byKind, ActorID: byID, Action: "account.freeze", Subject: u.ID,
		Reason: reason, ClientAddr: c.IP, Details: details})
}

func insertRestriction(ctx context.Context, tx *db.Tx, userID string, r *Restriction) error {
	sc := make([]string, len(r.Scopes))
	for i, x := range r.Scopes {
		sc[i] = string(x)
	}
	var until int64
	if !r.Until.IsZero() {
		until = micros(r.Until)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO restrictions (id, user_id, kind, scopes, reason, created_by_kind, created_by, created_at, until_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, r.ID, userID, r.Kind, strings.Join(sc, ","), r.Reason, r.ByKind, r.ByID, tx.NowMicros(), until)
	if err != nil {
		return fmt.Errorf("insert restriction: %w", err)
	}
	return nil
}

// FreezeSelf freezes the caller's own account at once — no step-up, because freezing only
// ever protects the owner. Every session ends, including the caller's.
//
// Errors: not_found, already_frozen, validation_failed (until: date_invalid).
func (s *Service) FreezeSelf(ctx context.Context, userID string, in FreezeInput, c Client) (*Restriction, error) {
	var out *Restriction
	err := s.inTx(ctx, "freeze", func(tx *db.Tx) error {
		u, err := loadUser(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		out, err = s.freeze(ctx, tx, u, ActorUser, u.ID, trunc(in.Reason, 500), in.Until, c)
		return err
	})
	return out, err
}

// FreezeByLink freezes the account of a "this wasn't me" link from a security email; no
// sign-in is needed. Following a link when the account is already frozen succeeds.
//
// Errors: code_expired (unknown, used or expired link).
func (s *Service) FreezeByLink(ctx context.Context, token string, c Client) error {
	return s.inTx(ctx, "freeze by link", func(tx *db.Tx) error {
		userID, _, err := s.useLink(ctx, tx, purposeFreezeLink, token)
		if err != nil {
			return err
		}
		u, err := loadUser(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		_, err = s.freeze(ctx, tx, u, ActorUser, u.ID, "reported from a security email: this wasn't me", time.Time{}, c)
		if apperr.HasCode(err, CodeAlreadyFrozen) {
			return nil
		}
		return err
	})
}

// AgentFreeze freezes an account on the owner's behalf (they called in about a stolen
// phone) or for a risk reason.
//
// Errors: validation_failed (reason: required; until: date_invalid), unauthenticated,
// forbidden, not_found, already_frozen.
func (s *Service) AgentFreeze(ctx context.Context, agentID, userID, reason string, until time.Time, c Client) (*Restriction, error) {
	if reason == "" {
		return nil, required("reason")
	}
	var out *Restriction
	err := s.inTx(ctx, "agent freeze", func(tx *db.Tx) error {
		a, err := s.requireRole(ctx, tx, agentID, PermFreeze)
		if err != nil {
			return err
		}
		u, err := loadUser(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		out, err = s.freeze(ctx, tx, u, a.Role.actorKind(), a.ID, reason, until, c)
		return err
	})
	return out, err
}

// RequestUnfreezeCode emails an unfreeze code, the second factor for owners without
// 2-step (the password alone may be what leaked).
//
// Errors: unauthenticated, not_frozen, resend_cooldown, code_daily_cap.
func (s *Service) RequestUnfreezeCode(ctx context.Context, sessionID string, c Client) (*Resend, error) {
	if err := s.limiter.allow(bucketCode, c.IP); err != nil {
		return nil, err
	}
	var out Resend
	err := s.inTx(ctx, "request unfreeze code", func(tx *db.Tx) error {
		sess, err := s.activeSession(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		u, err := loadUser(ctx, tx, sess.UserID, true)
		if err != nil {
			return err
		}
		if _, err := ownerFreezes(ctx, tx, u.ID); err != nil {
			return err
		}
		if err := s.throttle(ctx, tx, u.ID, purposeUnfreeze); err != nil {
			return err
		}
		is, err := s.issueCode(ctx, tx, u.ID, purposeUnfreeze, "email", u.Email, s.cfg.ResetTTL, true)
		if err != nil {
			return err
		}
		out = Resend{SentTo: u.Email, NextAt: tx.Now.Add(s.cfg.ResendCooldown)}
		return s.sendMail(ctx, tx, u, mailUnfreezeCode, map[string]any{"Code": is.Code, "Minutes": int(s.cfg.ResetTTL.Minutes())})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ownerFreezes returns the active freezes the owner may lift themselves; a freeze by an
// agent or risk review needs support.
func ownerFreezes(ctx context.Context, tx *db.Tx, userID string) ([]*Restriction, error) {
	rs, err := activeRestrictions(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	var own, other int
	var out []*Restriction
	for _, r := range rs {
		if r.Kind != KindFreeze {
			continue
		}
		if r.ByOwner {
			own++
			out = append(out, r)
		} else {
			other++
		}
	}
	if other > 0 {
		return nil, apperr.New(CodeUnfreezeNeedsSupport)
	}
	if own == 0 {
		return nil, apperr.New(CodeNotFrozen)
	}
	return out, nil
}

// UnfreezeInput is the owner's proof: the password, plus the 2-step code (or a recovery
// code), or — without 2-step — the code from RequestUnfreezeCode.
type UnfreezeInput struct {
	Password string `json:"password"`
	Code     string `json:"code"`
}

// Unfreeze lifts the owner's own freeze. A freeze set by support or risk review can only
// be lifted by them.
//
// Errors: rate_limited, unauthenticated, not_frozen, unfreeze_needs_support,
// password_incorrect, account_locked, totp_invalid, code_malformed, code_invalid,
// code_expired, code_attempts_exceeded.
func (s *Service) Unfreeze(ctx context.Context, sessionID string, in UnfreezeInput, c Client) error {
	if err := s.limiter.allow(bucketSignIn, c.IP); err != nil {
		return err
	}
	u, err := s.sessionUser(ctx, sessionID)
	if err != nil {
		return err
	}
	if err := s.read(ctx, "unfreeze", func(tx *db.Tx) error {
		_, err := ownerFreezes(ctx, tx, u.ID)
		return err
	}); err != nil {
		return err
	}
	if err := s.verifyPasswordCounted(ctx, u, in.Password, c); err != nil {
		return err
	}
	return s.inTxKeep(ctx, "unfreeze", func(tx *db.Tx) error {
		u, err := loadUser(ctx, tx, u.ID, true)
		if err != nil {
			return err
		}
		rs, err := ownerFreezes(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if u.twoStep() {
			if err := s.verifySecondFactor(ctx, tx, u, in.Code); err != nil {
				if apperr.HasCode(err, CodeTOTPInvalid) {
					if lerr := s.recordFailure(ctx, tx, u, c); lockedOrInternal(lerr) {
						return lerr
					}
				}
				return err
			}
		} else if _, err := s.checkCode(ctx, tx, u.ID, purposeUnfreeze, in.Code); err != nil {
			return err
		}
		return s.lift(ctx, tx, u, rs, ActorUser, u.ID, "unfrozen by the owner", c)
	})
}

// lift ends restrictions rs and, when a freeze was among them, tells the owner.
func (s *Service) lift(ctx context.Context, tx *db.Tx, u *userRow, rs []*Restriction, byKind, byID, reason string, c Client) error {
	wasFreeze := false
	for _, r := range rs {
		if _, err := tx.ExecContext(ctx, `UPDATE restrictions SET lifted_at = $1, lifted_by_kind = $2, lifted_by = $3, lift_reason = $4
			WHERE id = $5 AND lifted_at = 0`, tx.NowMicros(), byKind, byID, reason, r.ID); err != nil {
			return fmt.Errorf("lift restriction: %w", err)
		}
		action := "account.restriction_lift"
		if r.Kind == KindFreeze {
			action, wasFreeze = "account.unfreeze", true
		}
		if err := s.fx.audit(ctx, tx, auditEntry{ActorKind: byKind, ActorID: byID, Action: action, Subject: u.ID, Reason: reason,
			ClientAddr: c.IP, Details: map[string]string{"restriction": r.ID}}); err != nil {
			return err
		}
	}
	if !wasFreeze {
		return nil
	}
	link, err := s.freezeLink(ctx, tx, u)
	if err != nil {
		return err
	}
	return s.sendMail(ctx, tx, u, mailUnfrozen, map[string]any{"When": fmtTime(tx.Now, u.Lang), "ByOwner": byKind == ActorUser, "FreezeLink": link})
}

// AgentUnfreeze lifts every freeze on an account after the agent checked the owner's
// identity; the reason goes to the audit log.
//
// Errors: validation_failed (reason: required), unauthenticated, forbidden, not_found,
// not_frozen.
func (s *Service) AgentUnfreeze(ctx context.Context, agentID, userID, reason string, c Client) error {
	if reason == "" {
		return required("reason")
	}
	return s.inTx(ctx, "agent unfreeze", func(tx *db.Tx) error {
		a, err := s.requireRole(ctx, tx, agentID, PermUnfreeze)
		if err != nil {
			return err
		}
		u, err := loadUser(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		rs, err := activeRestrictions(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		var freezes []*Restriction
		for _, r := range rs {
			if r.Kind == KindFreeze {
				freezes = append(freezes, r)
			}
		}
		if len(freezes) == 0 {
			return apperr.New(CodeNotFrozen)
		}
		return s.lift(ctx, tx, u, freezes, a.Role.actorKind(), a.ID, reason, c)
	})
}

// RestrictInput is a scoped restriction set by risk review.
type RestrictInput struct {
	Scopes []Scope   `json:"scopes"`
	Reason string    `json:"reason"`
	Until  time.Time `json:"until,omitzero"`
}

// Restrict blocks some actions on an account. A sign-in restriction also ends its sessions.
//
// Errors: validation_failed (scopes: scope_invalid; reason: required; until:
// date_invalid), unauthenticated, forbidden, not_found.
func (s *Service) Restrict(ctx context.Context, actorID, userID string, in RestrictInput, c Client) (*Restriction, error) {
	if in.Reason == "" {
		return nil, required("reason")
	}
	if len(in.Scopes) == 0 {
		return nil, invalid("scopes", FieldScopeInvalid)
	}
	seen := map[Scope]bool{}
	var scopes []Scope
	for _, sc := range in.Scopes {
		if !sc.valid() {
			return nil, invalid("scopes", FieldScopeInvalid)
		}
		if !seen[sc] {
			seen[sc] = true
			scopes = append(scopes, sc)
		}
	}
	sort.Slice(scopes, func(i, j int) bool { return scopes[i] < scopes[j] })
	var out *Restriction
	err := s.inTx(ctx, "restrict", func(tx *db.Tx) error {
		a, err := s.requireRole(ctx, tx, actorID, PermRestrict)
		if err != nil {
			return err
		}
		u, err := loadUser(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		if !in.Until.IsZero() && !in.Until.After(tx.Now) {
			return invalid("until", FieldDateInvalid)
		}
		r := &Restriction{ID: newID(), Kind: KindRestriction, Scopes: scopes, Reason: in.Reason, ByKind: a.Role.actorKind(), ByID: a.ID,
			Since: tx.Now, Until: in.Until}
		if err := insertRestriction(ctx, tx, u.ID, r); err != nil {
			return err
		}
		if seen[ScopeSignIn] {
			if err := endSessions(ctx, tx, u.ID, "signin_restricted"); err != nil {
				return err
			}
		}
		out = r
		sc := make([]string, len(scopes))
		for i, x := range scopes {
			sc[i] = string(x)
		}
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: a.Role.actorKind(), ActorID: a.ID, Action: "account.restrict", Subject: u.ID,
			Reason: in.Reason, ClientAddr: c.IP, Details: map[string]string{"restriction": r.ID, "scopes": strings.Join(sc, ",")}})
	})
	return out, err
}

// LiftRestriction ends one restriction or freeze of any kind, by staff with a reason.
//
// Errors: validation_failed (reason: required), unauthenticated, forbidden, not_found
// (unknown or already lifted).
func (s *Service) LiftRestriction(ctx context.Context, actorID, restrictionID, reason string, c Client) error {
	if reason == "" {
		return required("reason")
	}
	return s.inTx(ctx, "lift restriction", func(tx *db.Tx) error {
		r, userID, err := scanRestriction(tx.QueryRowContext(ctx, `SELECT `+restrictionCols+` FROM restrictions WHERE id = $1 AND lifted_at = 0`, restrictionID))
		if err != nil {
			if db.IsNoRows(err) {
				return notFound()
			}
			return fmt.Errorf("load restriction: %w", err)
		}
		perm := PermRestrict
		if r.Kind == KindFreeze {
			perm = PermUnfreeze
		}
		a, err := s.requireRole(ctx, tx, actorID, perm)
		if err != nil {
			return err
		}
		u, err := loadUser(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		return s.lift(ctx, tx, u, []*Restriction{r}, a.Role.actorKind(), a.ID, reason, c)
	})
}
