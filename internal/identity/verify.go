package identity

import (
	"context"
	"fmt"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// sendVerifyEmail issues a verification code + link and mails it; it returns when the
// next resend is allowed.
func (s *Service) sendVerifyEmail(ctx context.Context, tx *db.Tx, u *userRow) (time.Time, error) {
	is, err := s.issueCode(ctx, tx, u.ID, purposeVerifyEmail, "email", u.Email, s.cfg.VerifyTTL, true)
	if err != nil {
		return time.Time{}, err
	}
	err = s.sendMail(ctx, tx, u, mailVerifyEmail, map[string]any{
		"Code": is.Code, "Link": s.link(s.cfg.Links.VerifyEmail, is.Link), "Expires": fmtTime(is.ExpiresAt, u.Lang),
	})
	return tx.Now.Add(s.cfg.ResendCooldown), err
}

// Resend says where a code went and when another may be asked for.
type Resend struct {
	SentTo string    `json:"sent_to"`
	NextAt time.Time `json:"next_resend_at"`
}

// ResendVerification sends a new email verification code and link; older ones stop
// working. The page should tell people to look in the spam folder and show NextAt.
//
// Errors: rate_limited, not_found, email_already_verified, resend_cooldown and
// code_daily_cap (both with params next_at and retry_after).
func (s *Service) ResendVerification(ctx context.Context, userID string, c Client) (*Resend, error) {
	if err := s.limiter.allow(bucketCode, c.IP); err != nil {
		return nil, err
	}
	var out Resend
	err := s.inTx(ctx, "resend verification", func(tx *db.Tx) error {
		u, err := loadUser(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		if u.EmailVerifiedAt != 0 {
			return apperr.New(CodeEmailAlreadyVerified)
		}
		if err := s.throttle(ctx, tx, u.ID, purposeVerifyEmail); err != nil {
			return err
		}
		next, err := s.sendVerifyEmail(ctx, tx, u)
		out = Resend{SentTo: u.Email, NextAt: next}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// VerifyEmail checks the 6-digit code typed by the signed-in user.
//
// Errors: rate_limited, not_found, email_already_verified, code_malformed, code_invalid
// (param remaining), code_attempts_exceeded, code_expired.
func (s *Service) VerifyEmail(ctx context.Context, userID, code string, c Client) (*User, error) {
	if err := s.limiter.allow(bucketCode, c.IP); err != nil {
		return nil, err
	}
	var out User
	err := s.inTxKeep(ctx, "verify email", func(tx *db.Tx) error {
		u, err := loadUser(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		if u.EmailVerifiedAt != 0 {
			return apperr.New(CodeEmailAlreadyVerified)
		}
		target, err := s.checkCode(ctx, tx, u.ID, purposeVerifyEmail, code)
		if err != nil {
			return err
		}
		return s.markEmailVerified(ctx, tx, u, target, c, &out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// VerifyEmailLink redeems the link from the verification email; no sign-in is needed
// because the link itself is the proof of mailbox access.
//
// Errors: code_expired (unknown, used or expired link), email_already_verified.
func (s *Service) VerifyEmailLink(ctx context.Context, token string, c Client) (*User, error) {
	var out User
	err := s.inTx(ctx, "verify email link", func(tx *db.Tx) error {
		userID, target, err := s.useLink(ctx, tx, purposeVerifyEmail, token)
		if err != nil {
			return err
		}
		u, err := loadUser(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		if u.EmailVerifiedAt != 0 {
			return apperr.New(CodeEmailAlreadyVerified)
		}
		return s.markEmailVerified(ctx, tx, u, target, c, &out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (s *Service) markEmailVerified(ctx context.Context, tx *db.Tx, u *userRow, target string, c Client, out *User) error {
	// A code mailed to an address the account no longer has proves nothing about the
	// current one.
	if target != u.Email {
		return apperr.New(CodeCodeExpired)
	}
	now := tx.NowMicros()
	if _, err := tx.ExecContext(ctx, `UPDATE users SET email_verified_at = $1, updated_at = $1 WHERE id = $2`, now, u.ID); err != nil {
		return fmt.Errorf("mark email verified: %w", err)
	}
	if err := retireCodes(ctx, tx, u.ID, purposeVerifyEmail); err != nil {
		return err
	}
	u.EmailVerifiedAt = now
	*out = u.public()
	return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: u.ID, Action: "user.verify_email", Subject: u.ID, ClientAddr: c.IP})
}

// SetPhone records a phone number on the signed-in session's account and texts it a code;
// the number counts for password reset only once verified. Because a phone can reset the
// password, this needs a recent step-up.
//
// Errors: rate_limited, unauthenticated, step_up_required, validation_failed (phone:
// phone_invalid), resend_cooldown, code_daily_cap.
func (s *Service) SetPhone(ctx context.Context, sessionID, phone string, c Client) (*Resend, error) {
	if err := s.limiter.allow(bucketCode, c.IP); err != nil {
		return nil, err
	}
	p := NormalizePhone(phone)
	if p == "" {
		return nil, invalid("phone", FieldPhoneInvalid)
	}
	var out Resend
	err := s.inTx(ctx, "set phone", func(tx *db.Tx) error {
		sess, err := s.RequireStepUp(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		u, err := loadUser(ctx, tx, sess.UserID, true)
		if err != nil {
			return err
		}
		if err := s.throttle(ctx, tx, u.ID, purposeVerifyPhone); err != nil {
			return err
		}
		if p != u.Phone {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET phone = $1, phone_verified_at = 0, updated_at = $2 WHERE id = $3`,
				p, tx.NowMicros(), u.ID); err != nil {
				return fmt.Errorf("update phone: %w", err)
			}
		}
		is, err := s.issueCode(ctx, tx, u.ID, purposeVerifyPhone, "sms", p, s.cfg.ResetTTL, true)
		if err != nil {
			return err
		}
		if err := s.sendSMS(ctx, tx, u, p, "verify_phone", map[string]any{"Code": is.Code, "Minutes": int(s.cfg.ResetTTL.Minutes())}); err != nil {
			return err
		}
		out = Resend{SentTo: maskPhone(p), NextAt: tx.Now.Add(s.cfg.ResendCooldown)}
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: u.ID, Action: "user.set_phone", Subject: u.ID, ClientAddr: c.IP})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// VerifyPhone checks the code texted by SetPhone.
//
// Errors: rate_limited, not_found, code_malformed, code_invalid, code_attempts_exceeded, code_expired.
func (s *Service) VerifyPhone(ctx context.Context, userID, code string, c Client) (*User, error) {
	if err := s.limiter.allow(bucketCode, c.IP); err != nil {
		return nil, err
	}
	var out User
	err := s.inTxKeep(ctx, "verify phone", func(tx *db.Tx) error {
		u, err := loadUser(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		target, err := s.checkCode(ctx, tx, u.ID, purposeVerifyPhone, code)
		if err != nil {
			return err
		}
		if target != u.Phone {
			return apperr.New(CodeCodeExpired)
		}
		now := tx.NowMicros()
		if _, err := tx.ExecContext(ctx, `UPDATE users SET phone_verified_at = $1, updated_at = $1 WHERE id = $2`, now, u.ID); err != nil {
			return fmt.Errorf("mark phone verified: %w", err)
		}
		u.PhoneVerifiedAt = now
		out = u.public()
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: u.ID, Action: "user.verify_phone", Subject: u.ID, ClientAddr: c.IP})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// maskPhone shows enough of a number for its owner to recognise it.
func maskPhone(p string) string {
	if len(p) < 9 {
		return p
	}
	return p[:len(p)-8] + "****" + p[len(p)-4:]
}
