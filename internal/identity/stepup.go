package identity

import (
	"context"
	"fmt"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// activeSession loads a session by id that is still signed in.
func (s *Service) activeSession(ctx context.Context, tx *db.Tx, sessionID string) (*sessionRow, error) {
	r, err := scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1`, sessionID))
	if err != nil {
		if db.IsNoRows(err) {
			return nil, unauthenticated()
		}
		return nil, fmt.Errorf("load session: %w", err)
	}
	if !r.active(tx.NowMicros(), s.cfg.SessionIdle) {
		return nil, unauthenticated()
	}
	return r, nil
}

// sessionUser reads the user of an active session.
func (s *Service) sessionUser(ctx context.Context, sessionID string) (*userRow, error) {
	var u *userRow
	err := s.read(ctx, "load session user", func(tx *db.Tx) error {
		sess, err := s.activeSession(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		u, err = loadUser(ctx, tx, sess.UserID, false)
		return err
	})
	return u, err
}

// RequireStepUp is the check before a sensitive change (email, password, 2-step
// settings, bank card, a large payment): the session must have proved a second factor —
// or the password, for accounts without 2-step — within the step-up window. Callers run it
// inside their own transaction so the check and the change commit together.
//
// Errors: unauthenticated, step_up_required.
func (s *Service) RequireStepUp(ctx context.Context, tx *db.Tx, sessionID string) (*Session, error) {
	r, err := s.activeSession(ctx, tx, sessionID)
	if err != nil {
		return nil, err
	}
	if r.steppedUp == 0 || r.steppedUp+s.cfg.StepUpWindow.Microseconds() < tx.NowMicros() {
		return nil, apperr.New(CodeStepUpRequired)
	}
	return &r.Session, nil
}

// StepUpInput carries the proof: Code (TOTP or recovery code) when 2-step is on, Password
// otherwise.
type StepUpInput struct {
	Code     string `json:"code,omitempty"`
	Password string `json:"password,omitempty"`
}

// StepUpResult says until when sensitive changes are allowed without asking again.
type StepUpResult struct {
	ValidUntil time.Time `json:"valid_until"`
}

// StepUp proves it is still the owner at the keyboard. Wrong proofs count towards the
// lockout, so a stolen session cannot guess the password or the code without limit.
//
// Errors: rate_limited, unauthenticated, totp_invalid, password_incorrect,
// account_locked.
func (s *Service) StepUp(ctx context.Context, sessionID string, in StepUpInput, c Client) (*StepUpResult, error) {
	if err := s.limiter.allow(bucketSignIn, c.IP); err != nil {
		return nil, err
	}
	u, err := s.sessionUser(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	if !u.twoStep() {
		if err := s.verifyPasswordCounted(ctx, u, in.Password, c); err != nil {
			return nil, err
		}
	}
	var out StepUpResult
	err = s.inTxKeep(ctx, "step up", func(tx *db.Tx) error {
		sess, err := s.activeSession(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		u, err := loadUser(ctx, tx, sess.UserID, true)
		if err != nil {
			return err
		}
		if u.twoStep() {
			if u.LockedUntil > tx.NowMicros() {
				return s.lockedErr(u.LockedUntil, u.Lang)
			}
			if err := s.verifySecondFactor(ctx, tx, u, in.Code); err != nil {
				if apperr.HasCode(err, CodeTOTPInvalid) {
					if lerr := s.recordFailure(ctx, tx, u, c); lockedOrInternal(lerr) {
						return lerr
					}
				}
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET stepped_up_at = $1 WHERE id = $2`, tx.NowMicros(), sess.ID); err != nil {
			return fmt.Errorf("record step-up: %w", err)
		}
		out.ValidUntil = tx.Now.Add(s.cfg.StepUpWindow)
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: u.ID, Action: "session.step_up", Subject: u.ID, ClientAddr: c.IP,
			Details: map[string]string{"session": sess.ID}})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// checkPasswordOf verifies the password without counting failures.
func (s *Service) checkPasswordOf(u *userRow, pw string) error {
	ok, _, err := checkPassword(pw, u.PasswordHash, s.cfg.Argon2)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.New(CodePasswordIncorrect)
	}
	return nil
}

// verifyPasswordCounted re-checks the password of a signed-in user; a wrong one counts
// towards the lockout and gives password_incorrect (or account_locked).
func (s *Service) verifyPasswordCounted(ctx context.Context, u *userRow, pw string, c Client) error {
	err := s.checkPasswordOf(u, pw)
	if !apperr.HasCode(err, CodePasswordIncorrect) {
		return err
	}
	ferr := s.inTxKeep(ctx, "count wrong password", func(tx *db.Tx) error {
		u, err := loadUser(ctx, tx, u.ID, true)
		if err != nil {
			return err
		}
		return s.recordFailure(ctx, tx, u, c)
	})
	if lockedOrInternal(ferr) {
		return ferr
	}
	return err
}

// lockedOrInternal picks, after a counted failure, the errors that must win over the
// plain "wrong" one: the lockout it triggered, or a storage failure.
func lockedOrInternal(err error) bool {
	return err != nil && (apperr.HasCode(err, CodeAccountLocked) || !isCoded(err))
}
