package console

import (
	"context"
	"strings"
	"unicode/utf8"

	"okpay/internal/apperr"
	"okpay/internal/audit"
	"okpay/internal/db"
	"okpay/internal/identity"
)

// Actions an agent can take on a customer's account from the console.
const (
	ActionUnlock         = "unlock"
	ActionUnfreeze       = "unfreeze"
	ActionResendVerify   = "resend_verification"
	ActionApproveDoc     = "approve_document"
	ActionRejectDoc      = "reject_document"
	maxReasonRunes       = 500
	auditReasonSeparator = " · identity check: "
)

// Actions lists the console's actions.
var Actions = []string{ActionUnlock, ActionUnfreeze, ActionResendVerify, ActionApproveDoc, ActionRejectDoc}

// ActionInput is one action with its reason; DocumentID is for the document actions.
type ActionInput struct {
	Action     string `json:"action" doc:"unlock, unfreeze, resend_verification, approve_document or reject_document"`
	Reason     string `json:"reason"`
	DocumentID string `json:"document_id,omitempty"`
}

// Act performs a sensitive action on the customer's account after checking that this
// agent passed an identity check for this customer within the check window. The reason
// and the checks that backed it go to the audit log with identity's own entry.
//
// Errors: unauthenticated, forbidden, customer_not_found, validation_failed (action;
// reason: required or too long; document_id: required), identity_check_required,
// identity_check_locked, and identity's errors: not_frozen (unfreeze),
// email_already_verified, resend_cooldown, code_daily_cap (resend), not_found and
// review_conflict (documents).
func (s *Service) Act(ctx context.Context, a Agent, customerID string, in ActionInput) error {
	if _, err := s.requireStaff(ctx, a); err != nil {
		return err
	}
	known := false
	for _, x := range Actions {
		known = known || x == in.Action
	}
	if !known {
		return apperr.New(apperr.CodeValidation).Field("action", apperr.CodeBadRequest)
	}
	reason := strings.TrimSpace(in.Reason)
	if reason == "" {
		return apperr.New(apperr.CodeValidation).Field("reason", apperr.CodeRequired)
	}
	if utf8.RuneCountInString(reason) > maxReasonRunes {
		return apperr.New(apperr.CodeValidation).Field("reason", apperr.CodeBadRequest)
	}
	if (in.Action == ActionApproveDoc || in.Action == ActionRejectDoc) && in.DocumentID == "" {
		return apperr.New(apperr.CodeValidation).Field("document_id", apperr.CodeRequired)
	}
	if _, err := s.customer(ctx, customerID); err != nil {
		return err
	}
	st, err := s.RequireVerified(ctx, a, customerID)
	if err != nil {
		return err
	}
	// identity writes the audit entry with this reason: it says which checks backed it.
	audited := reason + auditReasonSeparator + st.Summary()
	id := s.cfg.Identity
	switch in.Action {
	case ActionUnlock:
		return id.AgentUnlock(ctx, a.ID, customerID, audited, a.client())
	case ActionUnfreeze:
		return id.AgentUnfreeze(ctx, a.ID, customerID, audited, a.client())
	case ActionResendVerify:
		// identity's resend is the owner's call and audits nothing: the console records
		// that an agent asked for it, and why, after it succeeded.
		if _, err := id.ResendVerification(ctx, customerID, a.client()); err != nil {
			return err
		}
		return s.inTx(ctx, "audit resend", func(tx *db.Tx) error {
			return audit.Append(ctx, tx, audit.Entry{ActorKind: s.actorKind(a), ActorID: a.ID, Action: "console.resend_verification",
				SubjectID: customerID, Reason: audited, ClientAddr: a.ClientAddr})
		})
	default:
		docs, err := id.ListDocuments(ctx, customerID)
		if err != nil {
			return err
		}
		mine := false
		for _, d := range docs {
			mine = mine || d.ID == in.DocumentID
		}
		if !mine {
			// Only this customer's documents from this customer's page.
			return apperr.New(apperr.CodeNotFound)
		}
		// The reason of a rejection is shown to the owner: it goes to identity as written,
		// and the console's own entry records the checks behind the decision.
		if _, err := id.ReviewDocument(ctx, a.ID, in.DocumentID, in.Action == ActionApproveDoc, reason, a.client()); err != nil {
			return err
		}
		return s.inTx(ctx, "audit review", func(tx *db.Tx) error {
			return audit.Append(ctx, tx, audit.Entry{ActorKind: s.actorKind(a), ActorID: a.ID, Action: "console." + in.Action,
				SubjectID: customerID, Reason: audited, ClientAddr: a.ClientAddr, Details: map[string]string{"document": in.DocumentID}})
		})
	}
}

// Documents returns the customer's identity documents, newest first.
//
// Errors: unauthenticated, forbidden, customer_not_found.
func (s *Service) Documents(ctx context.Context, a Agent, customerID string) ([]identity.Document, error) {
	if _, err := s.requireStaff(ctx, a); err != nil {
		return nil, err
	}
	if _, err := s.customer(ctx, customerID); err != nil {
		return nil, err
	}
	return s.cfg.Identity.ListDocuments(ctx, customerID)
}
