package identity

import (
	"context"
	"fmt"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// ResetRequest asks for a password reset by email, or by SMS to a verified phone.
type ResetRequest struct {
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// ResetRequested is the same for every request, registered address or not.
type ResetRequested struct {
	Channel      string `json:"channel"`
	ValidMinutes int    `json:"valid_minutes"`
}

// RequestPasswordReset sends a reset code and link (email) or code (SMS) when the address
// belongs to an account — and answers exactly the same, doing the same database work, when
// it does not, so the page cannot be used to learn who has an account. Cooldown and daily
// cap apply silently for the same reason.
//
// Errors: rate_limited, validation_failed (email: email_invalid / phone: phone_invalid;
// email: required when neither is given).
func (s *Service) RequestPasswordReset(ctx context.Context, in ResetRequest, c Client) (*ResetRequested, error) {
	if err := s.limiter.allow(bucketReset, c.IP); err != nil {
		return nil, err
	}
	var email, phone, channel string
	switch {
	case in.Email != "":
		if email = NormalizeEmail(in.Email); email == "" {
			return nil, invalid("email", FieldEmailInvalid)
		}
		channel = "email"
	case in.Phone != "":
		if phone = NormalizePhone(in.Phone); phone == "" {
			return nil, invalid("phone", FieldPhoneInvalid)
		}
		channel = "sms"
	default:
		return nil, required("email")
	}
	out := &ResetRequested{Channel: channel, ValidMinutes: int(s.cfg.ResetTTL.Minutes())}
	err := s.inTx(ctx, "request password reset", func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO reset_requests (target_hash, at) VALUES ($1, $2)`,
			s.codeHash("reset", email, phone), tx.NowMicros()); err != nil {
			return fmt.Errorf("record reset request: %w", err)
		}
		var u *userRow
		var err error
		if email != "" {
			u, err = userByEmail(ctx, tx, email, true)
		} else {
			u, err = userByVerifiedPhone(ctx, tx, phone)
		}
		if err != nil || u == nil {
			return err
		}
		if err := s.throttle(ctx, tx, u.ID, purposeReset); err != nil {
			if isCoded(err) {
				return nil // silently: see the doc comment
			}
			return err
		}
		if email != "" {
			is, err := s.issueCode(ctx, tx, u.ID, purposeReset, "email", u.Email, s.cfg.ResetTTL, true)
			if err != nil {
				return err
			}
			if err := s.sendMail(ctx, tx, u, mailReset, map[string]any{"Code": is.Code,
				"Link": s.link(s.cfg.Links.ResetPassword, is.Link), "Minutes": out.ValidMinutes}); err != nil {
				return err
			}
		} else {
			is, err := s.issueCode(ctx, tx, u.ID, purposeReset, "sms", phone, s.cfg.ResetTTL, true)
			if err != nil {
				return err
			}
			if err := s.sendSMS(ctx, tx, u, phone, mailReset, map[string]any{"Code": is.Code, "Minutes": out.ValidMinutes}); err != nil {
				return err
			}
		}
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: u.ID, Action: "password.reset_request", Subject: u.ID,
			ClientAddr: c.IP, Details: map[string]string{"channel": channel}})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// userByVerifiedPhone finds the account whose verified phone is phone. Several accounts may
// list one number, but only a verified one counts, and the newest verification wins.
func userByVerifiedPhone(ctx context.Context, tx *db.Tx, phone string) (*userRow, error) {
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE phone = $1 AND phone_verified_at > 0
		ORDER BY phone_verified_at DESC LIMIT 1`, phone))
	if err != nil {
		if db.IsNoRows(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("find user by phone: %w", err)
	}
	return u, nil
}

// ResetInput completes a reset: either Token (from the emailed link), or Email/Phone plus
// Code, and the new password.
type ResetInput struct {
	Token       string `json:"token,omitempty"`
	Email       string `json:"email,omitempty"`
	Phone       string `json:"phone,omitempty"`
	Code        string `json:"code,omitempty"`
	NewPassword string `json:"new_password"`
}

// ResetPassword sets a new password with a reset code or link. It ends every session,
// clears the lockout, and mails "your password was changed". An unknown address gives
// code_expired, the same as a known one without an open code.
//
// Errors: rate_limited, validation_failed (password rules; code: required),
// code_malformed, code_invalid, code_attempts_exceeded, code_expired.
func (s *Service) ResetPassword(ctx context.Context, in ResetInput, c Client) error {
	if err := s.limiter.allow(bucketCode, c.IP); err != nil {
		return err
	}
	email := NormalizeEmail(in.Email)
	// The rule is checked against the typed address first, identically for registered and
	// unknown ones, so a weak-password error cannot reveal which addresses exist.
	if err := CheckPassword(in.NewPassword, email); err != nil {
		return err
	}
	if in.Token == "" && in.Code == "" {
		return required("code")
	}
	if in.Token == "" {
		// Before the password is hashed: a code of the wrong shape costs no work and no try.
		if err := checkCodeShape(in.Code); err != nil {
			return err
		}
	}
	hash, err := hashPassword(in.NewPassword, s.cfg.Argon2)
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	return s.inTxKeep(ctx, "reset password", func(tx *db.Tx) error {
		var u *userRow
		var err error
		if in.Token != "" {
			userID, _, err := s.useLink(ctx, tx, purposeReset, in.Token)
			if err != nil {
				return err
			}
			if u, err = loadUser(ctx, tx, userID, true); err != nil {
				return err
			}
		} else {
			if email != "" {
				u, err = userByEmail(ctx, tx, email, true)
			} else if p := NormalizePhone(in.Phone); p != "" {
				u, err = userByVerifiedPhone(ctx, tx, p)
			}
			if err != nil {
				return err
			}
			if u == nil {
				return apperr.New(CodeCodeExpired)
			}
			if _, err := s.checkCode(ctx, tx, u.ID, purposeReset, in.Code); err != nil {
				return err
			}
		}
		// The link path did not know the email before; apply that part of the rule now.
		if err := CheckPassword(in.NewPassword, u.Email); err != nil {
			return err
		}
		return s.setPassword(ctx, tx, u, hash, c, "password.reset")
	})
}

// setPassword stores a new hash, ends every session, clears the lockout and any open
// reset codes, and sends the "password changed" notice with a freeze link.
func (s *Service) setPassword(ctx context.Context, tx *db.Tx, u *userRow, hash string, c Client, action string) error {
	now := tx.NowMicros()
	if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $1, password_changed_at = $2, updated_at = $2 WHERE id = $3`,
		hash, now, u.ID); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if err := endSessions(ctx, tx, u.ID, "password_changed"); err != nil {
		return err
	}
	if err := unlock(ctx, tx, u.ID); err != nil {
		return err
	}
	if err := retireCodes(ctx, tx, u.ID, purposeReset); err != nil {
		return err
	}
	link, err := s.freezeLink(ctx, tx, u)
	if err != nil {
		return err
	}
	if err := s.sendMail(ctx, tx, u, mailPasswordChanged, map[string]any{"When": fmtTime(tx.Now, u.Lang), "IP": orDash(c.IP),
		"Place": s.cfg.Places.Place(c.IP), "FreezeLink": link}); err != nil {
		return err
	}
	return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: u.ID, Action: action, Subject: u.ID, ClientAddr: c.IP})
}

// ChangePasswordInput is a signed-in password change.
type ChangePasswordInput struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// ChangePassword replaces the password of the session's account. It needs a recent
// step-up and the current password; every session ends (the caller signs in again, which
// also rotates the session token) and a notice is mailed.
//
// Errors: rate_limited, unauthenticated, step_up_required, password_incorrect,
// account_locked, validation_failed (password rules).
func (s *Service) ChangePassword(ctx context.Context, sessionID string, in ChangePasswordInput, c Client) error {
	if err := s.limiter.allow(bucketSignIn, c.IP); err != nil {
		return err
	}
	u, err := s.sessionUser(ctx, sessionID)
	if err != nil {
		return err
	}
	if err := s.read(ctx, "change password", func(tx *db.Tx) error {
		_, err := s.RequireStepUp(ctx, tx, sessionID)
		return err
	}); err != nil {
		return err
	}
	if err := CheckPassword(in.NewPassword, u.Email); err != nil {
		return err
	}
	if err := s.verifyPasswordCounted(ctx, u, in.CurrentPassword, c); err != nil {
		return err
	}
	hash, err := hashPassword(in.NewPassword, s.cfg.Argon2)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	return s.inTx(ctx, "change password", func(tx *db.Tx) error {
		if _, err := s.RequireStepUp(ctx, tx, sessionID); err != nil {
			return err
		}
		u, err := loadUser(ctx, tx, u.ID, true)
		if err != nil {
			return err
		}
		return s.setPassword(ctx, tx, u, hash, c, "password.change")
	})
}
