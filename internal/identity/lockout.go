package identity

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// The lockout lives in the database (signin_failures, users.locked_until) so it holds
// across restarts and across every node sharing the database: an attacker cannot reset it
// by waiting for a deploy or by spreading tries over nodes.

// lockedErr is account_locked with the end of the lock as RFC 3339 (UTC), which pages and
// apps render in the reader's language and zone.
func (s *Service) lockedErr(untilMicros int64, _ string) error {
	until := db.Micros(untilMicros)
	return apperr.New(CodeAccountLocked).With("until", until.Format(time.RFC3339))
}

// recordFailure counts one wrong password (or wrong sign-in code) for u. It returns
// invalid_credentials, or account_locked when this failure reached the threshold; in that
// case the owner is mailed a reset link. The caller must commit (inTxKeep).
func (s *Service) recordFailure(ctx context.Context, tx *db.Tx, u *userRow, c Client) error {
	now := tx.NowMicros()
	windowStart := now - s.cfg.LockoutWindow.Microseconds()
	if _, err := tx.ExecContext(ctx, `DELETE FROM signin_failures WHERE user_id = $1 AND at <= $2`, u.ID, windowStart); err != nil {
		return fmt.Errorf("prune sign-in failures: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO signin_failures (user_id, at) VALUES ($1, $2)`, u.ID, now); err != nil {
		return fmt.Errorf("record sign-in failure: %w", err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM signin_failures WHERE user_id = $1 AND at > $2`, u.ID, windowStart).Scan(&n); err != nil {
		return fmt.Errorf("count sign-in failures: %w", err)
	}
	if n < s.cfg.LockoutThreshold {
		return apperr.New(CodeInvalidCredentials)
	}
	until := tx.Now.Add(s.cfg.LockoutDuration)
	if _, err := tx.ExecContext(ctx, `UPDATE users SET locked_until = $1, updated_at = $2 WHERE id = $3`, micros(until), now, u.ID); err != nil {
		return fmt.Errorf("lock account: %w", err)
	}
	if err := clearFailures(ctx, tx, u.ID); err != nil {
		return err
	}
	// The reset link is the way out the message promises; issuing it here skips the
	// request cooldown on purpose, since the owner did not ask and may need it now.
	is, err := s.issueCode(ctx, tx, u.ID, purposeReset, "email", u.Email, s.cfg.ResetTTL, true)
	if err != nil {
		return err
	}
	if err := s.sendMail(ctx, tx, u, mailLockout, map[string]any{
		"Attempts": n, "Until": fmtTime(until, u.Lang), "IP": c.IP, "Place": s.cfg.Places.Place(c.IP),
		"Link": s.link(s.cfg.Links.ResetPassword, is.Link), "Minutes": int(s.cfg.ResetTTL.Minutes()),
	}); err != nil {
		return err
	}
	if err := s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorSystem, Action: "user.lock", Subject: u.ID, ClientAddr: c.IP,
		Reason: "too many wrong passwords", Details: map[string]string{"failures": strconv.Itoa(n), "until": until.Format(time.RFC3339)}}); err != nil {
		return err
	}
	return s.lockedErr(micros(until), u.Lang)
}

func clearFailures(ctx context.Context, tx *db.Tx, userID string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM signin_failures WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("clear sign-in failures: %w", err)
	}
	return nil
}

func unlock(ctx context.Context, tx *db.Tx, userID string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE users SET locked_until = 0, updated_at = $1 WHERE id = $2`, tx.NowMicros(), userID); err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	return clearFailures(ctx, tx, userID)
}

// AgentUnlock ends a lockout early, after the agent has checked the caller's identity. The
// reason is kept in the audit log.
//
// Errors: validation_failed (reason: required), unauthenticated, forbidden (not an agent
// or admin), not_found.
func (s *Service) AgentUnlock(ctx context.Context, agentID, userID, reason string, c Client) error {
	if reason == "" {
		return required("reason")
	}
	return s.inTx(ctx, "agent unlock", func(tx *db.Tx) error {
		a, err := s.requireRole(ctx, tx, agentID, PermUnlock)
		if err != nil {
			return err
		}
		u, err := loadUser(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		if err := unlock(ctx, tx, u.ID); err != nil {
			return err
		}
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: a.Role.actorKind(), ActorID: a.ID, Action: "user.unlock", Subject: u.ID,
			Reason: reason, ClientAddr: c.IP, Details: map[string]string{"was_locked_until": timeOrZero(u.LockedUntil).Format(time.RFC3339)}})
	})
}
