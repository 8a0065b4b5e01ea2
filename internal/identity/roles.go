package identity

import (
	"context"
	"fmt"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// Role is what an account is for. One role per account: staff use separate accounts from
// their personal wallets, so a support agent's own money never mixes with their powers.
type Role string

const (
	RoleCustomer     Role = "customer"
	RoleMerchant     Role = "merchant"
	RoleAgent        Role = "agent"
	RoleRiskReviewer Role = "risk_reviewer"
	RoleAdmin        Role = "admin"
)

// Roles lists every role in display order.
var Roles = []Role{RoleCustomer, RoleMerchant, RoleAgent, RoleRiskReviewer, RoleAdmin}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// Staff reports whether the role acts on other people's accounts.
func (r Role) Staff() bool { return r == RoleAgent || r == RoleRiskReviewer || r == RoleAdmin }

// Perm is one thing a staff role may do to someone else's account. Ordinary users have no
// perms: every customer method acts only on the caller's own account.
type Perm string

const (
	PermViewUsers       Perm = "view_users"       // look accounts up, read their status
	PermUnlock          Perm = "unlock"           // end a lockout early
	PermFreeze          Perm = "freeze"           // freeze an account (caller reports theft)
	PermUnfreeze        Perm = "unfreeze"         // lift a freeze after identity checks
	PermRestrict        Perm = "restrict"         // add or lift scoped restrictions
	PermReviewDocuments Perm = "review_documents" // approve/reject level-2 documents
	PermManageRoles     Perm = "manage_roles"     // change roles, reset 2-step
)

var rolePerms = map[Role][]Perm{
	RoleAgent:        {PermViewUsers, PermUnlock, PermFreeze, PermUnfreeze, PermReviewDocuments},
	RoleRiskReviewer: {PermViewUsers, PermFreeze, PermUnfreeze, PermRestrict, PermReviewDocuments},
	RoleAdmin:        {PermViewUsers, PermUnlock, PermFreeze, PermUnfreeze, PermRestrict, PermReviewDocuments, PermManageRoles},
}

// Can reports whether role r has permission p.
func (r Role) Can(p Perm) bool {
	for _, x := range rolePerms[r] {
		if x == p {
			return true
		}
	}
	return false
}

// actorKind is how a staff member appears in the audit log.
func (r Role) actorKind() string {
	if r == RoleAdmin {
		return ActorAdmin
	}
	return ActorAgent
}

// requireRole loads the acting staff member and checks the permission in the same
// transaction as the action, so a role removed a moment ago is not used.
func (s *Service) requireRole(ctx context.Context, tx *db.Tx, actorID string, p Perm) (*userRow, error) {
	if actorID == "" {
		return nil, unauthenticated()
	}
	a, err := loadUser(ctx, tx, actorID, false)
	if err != nil {
		if apperr.HasCode(err, apperr.CodeNotFound) {
			return nil, unauthenticated()
		}
		return nil, err
	}
	if !a.Role.Can(p) {
		return nil, forbidden()
	}
	return a, nil
}

// SetRole changes a user's role; only admins may, with a reason, and never their own role
// (so the last admin cannot lock everyone out by accident).
//
// Errors: unauthenticated, forbidden, validation_failed (role: role_invalid; reason:
// required), not_found.
func (s *Service) SetRole(ctx context.Context, actorID, userID string, role Role, reason string) error {
	if !role.Valid() {
		return invalid("role", FieldRoleInvalid)
	}
	if reason == "" {
		return required("reason")
	}
	return s.inTx(ctx, "set role", func(tx *db.Tx) error {
		a, err := s.requireRole(ctx, tx, actorID, PermManageRoles)
		if err != nil {
			return err
		}
		if a.ID == userID {
			return forbidden()
		}
		u, err := loadUser(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET role = $1, updated_at = $2 WHERE id = $3`, string(role), tx.NowMicros(), u.ID); err != nil {
			return fmt.Errorf("update role: %w", err)
		}
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: a.Role.actorKind(), ActorID: a.ID, Action: "user.set_role", Subject: u.ID,
			Reason: reason, Details: map[string]string{"from": string(u.Role), "to": string(role)}})
	})
}
