package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"net/url"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// TOTP per RFC 6238 with the parameters every authenticator app supports: HMAC-SHA-1,
// 30-second steps, 6 digits, accepting one step either side for clock drift.
const (
	totpPeriod    = 30
	totpDigits    = 6
	totpSkew      = 1
	totpSecretLen = 20 // 160 bits, RFC 4226's recommended key length for SHA-1
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// hotp is RFC 4226's HOTP with a selectable hash, so the RFC 6238 vectors for SHA-256
// and SHA-512 can be checked too.
func hotp(secret []byte, counter uint64, digits int, h func() hash.Hash) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(h, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for i := 0; i < digits; i++ {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// totpMatch returns the step whose code equals code within ±skew of now, considering only
// steps after lastStep (each code is accepted once), or 0.
func totpMatch(secret []byte, code string, now time.Time, lastStep int64) int64 {
	if len(code) != totpDigits {
		return 0
	}
	cur := totpStep(now)
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		st := cur + d
		if st <= lastStep || st <= 0 {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(hotp(secret, uint64(st), totpDigits, sha1.New)), []byte(code)) == 1 {
			return st
		}
	}
	return 0
}

func totpAAD(userID string) string { return "totp:" + userID }

// TOTPEnrolment is what the set-up page shows: the QR code, and the secret for typing in
// by hand. Neither is stored in clear.
type TOTPEnrolment struct {
	Secret string `json:"secret"`
	URI    string `json:"otpauth_uri"`
	QRSVG  string `json:"qr_svg"`
}

// BeginTOTP starts 2-step set-up for the session's account with a new secret. Changing
// 2-step settings needs a recent step-up (password re-entry, since 2-step is still off).
// Starting again replaces an unconfirmed secret.
//
// Errors: unauthenticated, step_up_required, totp_already_enabled.
func (s *Service) BeginTOTP(ctx context.Context, sessionID string) (*TOTPEnrolment, error) {
	var out *TOTPEnrolment
	err := s.inTx(ctx, "begin 2-step", func(tx *db.Tx) error {
		sess, err := s.RequireStepUp(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		u, err := loadUser(ctx, tx, sess.UserID, true)
		if err != nil {
			return err
		}
		if u.twoStep() {
			return apperr.New(CodeTOTPAlreadyEnabled)
		}
		secret := make([]byte, totpSecretLen)
		if _, err := io.ReadFull(rand.Reader, secret); err != nil {
			return fmt.Errorf("totp secret: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET totp_pending = $1, updated_at = $2 WHERE id = $3`,
			s.seal(secret, totpAAD(u.ID)), tx.NowMicros(), u.ID); err != nil {
			return fmt.Errorf("store totp secret: %w", err)
		}
		enc := b32.EncodeToString(secret)
		label := url.PathEscape(s.cfg.Issuer + ":" + u.Email)
		q := url.Values{"secret": {enc}, "issuer": {s.cfg.Issuer}, "algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"}}
		uri := "otpauth://totp/" + label + "?" + q.Encode()
		svg, err := QRSVG(uri)
		if err != nil {
			return err
		}
		out = &TOTPEnrolment{Secret: enc, URI: uri, QRSVG: svg}
		return nil
	})
	return out, err
}

// RecoveryCodes are shown once, right after they are made.
type RecoveryCodes struct {
	Codes []string `json:"codes"`
}

// ConfirmTOTP turns 2-step on once the first code from the app matches, and returns 10
// one-time recovery codes.
//
// Errors: unauthenticated, totp_already_enabled, totp_not_pending, totp_invalid.
func (s *Service) ConfirmTOTP(ctx context.Context, sessionID, code string, c Client) (*RecoveryCodes, error) {
	if err := s.limiter.allow(bucketCode, c.IP); err != nil {
		return nil, err
	}
	var out *RecoveryCodes
	err := s.inTx(ctx, "confirm 2-step", func(tx *db.Tx) error {
		sess, err := s.activeSession(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		u, err := loadUser(ctx, tx, sess.UserID, true)
		if err != nil {
			return err
		}
		if u.twoStep() {
			return apperr.New(CodeTOTPAlreadyEnabled)
		}
		if u.TOTPPending == "" {
			return apperr.New(CodeTOTPNotPending)
		}
		secret, err := s.open(u.TOTPPending, totpAAD(u.ID))
		if err != nil {
			return err
		}
		st := totpMatch(secret, normalizeCode(code), tx.Now, 0)
		if st == 0 {
			return apperr.New(CodeTOTPInvalid)
		}
		now := tx.NowMicros()
		if _, err := tx.ExecContext(ctx, `UPDATE users SET totp_secret = totp_pending, totp_pending = '', totp_enabled_at = $1,
			totp_last_step = $2, updated_at = $1 WHERE id = $3`, now, st, u.ID); err != nil {
			return fmt.Errorf("enable totp: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET stepped_up_at = $1 WHERE id = $2`, now, sess.ID); err != nil {
			return fmt.Errorf("step up: %w", err)
		}
		out, err = s.newRecoveryCodes(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: u.ID, Action: "two_step.enable", Subject: u.ID, ClientAddr: c.IP})
	})
	return out, err
}

const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789" // no 0/o, 1/l/i to misread

func newRecoveryCode() string {
	var b [10]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		panic(fmt.Sprintf("identity: random: %v", err))
	}
	out := make([]byte, 0, 11)
	for i, x := range b {
		if i == 5 {
			out = append(out, '-')
		}
		// 256 % 31 = 8: the bias is under 4 % per symbol, irrelevant at ~49 bits a code.
		out = append(out, recoveryAlphabet[int(x)%len(recoveryAlphabet)])
	}
	return string(out)
}

func normalizeRecovery(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(s)))
}

// newRecoveryCodes replaces the user's recovery codes with 10 new ones.
func (s *Service) newRecoveryCodes(ctx context.Context, tx *db.Tx, userID string) (*RecoveryCodes, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return nil, fmt.Errorf("delete recovery codes: %w", err)
	}
	out := &RecoveryCodes{}
	for len(out.Codes) < 10 {
		c := newRecoveryCode()
		_, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)`,
			userID, s.codeHash("recovery", userID, normalizeRecovery(c)), tx.NowMicros())
		if err != nil {
			if db.IsUniqueViolation(err) {
				continue // the same code drawn twice; draw again
			}
			return nil, fmt.Errorf("insert recovery code: %w", err)
		}
		out.Codes = append(out.Codes, c)
	}
	return out, nil
}

// RegenerateRecoveryCodes replaces the recovery codes (the old ones stop working).
//
// Errors: unauthenticated, step_up_required, totp_not_enabled.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, sessionID string) (*RecoveryCodes, error) {
	var out *RecoveryCodes
	err := s.inTx(ctx, "regenerate recovery codes", func(tx *db.Tx) error {
		sess, err := s.RequireStepUp(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		u, err := loadUser(ctx, tx, sess.UserID, true)
		if err != nil {
			return err
		}
		if !u.twoStep() {
			return apperr.New(CodeTOTPNotEnabled)
		}
		if out, err = s.newRecoveryCodes(ctx, tx, u.ID); err != nil {
			return err
		}
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: u.ID, Action: "two_step.recovery_regenerate", Subject: u.ID})
	})
	return out, err
}

// RecoveryCodesLeft counts the unused recovery codes, so the settings page can warn.
//
// Errors: none besides internal ones.
func (s *Service) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.read(ctx, "count recovery codes", func(tx *db.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at = 0`, userID).Scan(&n)
	})
	return n, err
}

// verifySecondFactor accepts a current TOTP code (once) or an unused recovery code, and
// records its use in tx.
func (s *Service) verifySecondFactor(ctx context.Context, tx *db.Tx, u *userRow, code string) error {
	if !u.twoStep() {
		return apperr.New(CodeTOTPNotEnabled)
	}
	c := normalizeCode(code)
	if len(c) == totpDigits {
		secret, err := s.open(u.TOTPSecret, totpAAD(u.ID))
		if err != nil {
			return err
		}
		st := totpMatch(secret, c, tx.Now, u.TOTPLastStep)
		if st == 0 {
			return apperr.New(CodeTOTPInvalid)
		}
		// The WHERE makes two concurrent uses of one code race to a single winner.
		r, err := tx.ExecContext(ctx, `UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1`, st, u.ID)
		if err != nil {
			return fmt.Errorf("record totp step: %w", err)
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return apperr.New(CodeTOTPInvalid)
		}
		u.TOTPLastStep = st
		return nil
	}
	r, err := tx.ExecContext(ctx, `UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at = 0`,
		tx.NowMicros(), u.ID, s.codeHash("recovery", u.ID, normalizeRecovery(code)))
	if err != nil {
		return fmt.Errorf("use recovery code: %w", err)
	}
	if n, _ := r.RowsAffected(); n != 1 {
		return apperr.New(CodeTOTPInvalid)
	}
	return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: u.ID, Action: "two_step.recovery_code_used", Subject: u.ID})
}

// DisableTOTP turns 2-step off; it needs the password and a current code (or a recovery
// code), and mails the owner a notice with a freeze link.
//
// Errors: rate_limited, unauthenticated, totp_not_enabled, password_incorrect,
// totp_invalid, account_locked (wrong passwords and codes count towards the lockout).
func (s *Service) DisableTOTP(ctx context.Context, sessionID, password, code string, c Client) error {
	if err := s.limiter.allow(bucketSignIn, c.IP); err != nil {
		return err
	}
	u, err := s.sessionUser(ctx, sessionID)
	if err != nil {
		return err
	}
	if !u.twoStep() {
		return apperr.New(CodeTOTPNotEnabled)
	}
	if err := s.verifyPasswordCounted(ctx, u, password, c); err != nil {
		return err
	}
	return s.inTxKeep(ctx, "disable 2-step", func(tx *db.Tx) error {
		u, err := loadUser(ctx, tx, u.ID, true)
		if err != nil {
			return err
		}
		if err := s.verifySecondFactor(ctx, tx, u, code); err != nil {
			if apperr.HasCode(err, CodeTOTPInvalid) {
				if lerr := s.recordFailure(ctx, tx, u, c); lockedOrInternal(lerr) {
					return lerr
				}
			}
			return err
		}
		return s.disableTOTP(ctx, tx, u, c, auditEntry{ActorKind: ActorUser, ActorID: u.ID})
	})
}

func (s *Service) disableTOTP(ctx context.Context, tx *db.Tx, u *userRow, c Client, who auditEntry) error {
	if _, err := tx.ExecContext(ctx, `UPDATE users SET totp_secret = '', totp_pending = '', totp_enabled_at = 0, updated_at = $1 WHERE id = $2`,
		tx.NowMicros(), u.ID); err != nil {
		return fmt.Errorf("disable totp: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, u.ID); err != nil {
		return fmt.Errorf("delete recovery codes: %w", err)
	}
	link, err := s.freezeLink(ctx, tx, u)
	if err != nil {
		return err
	}
	if err := s.sendMail(ctx, tx, u, mailTwoStepDisabled, map[string]any{"When": fmtTime(tx.Now, u.Lang), "IP": orDash(c.IP),
		"Place": s.cfg.Places.Place(c.IP), "FreezeLink": link}); err != nil {
		return err
	}
	who.Action, who.Subject, who.ClientAddr = "two_step.disable", u.ID, c.IP
	return s.fx.audit(ctx, tx, who)
}

// AdminResetTwoStep turns 2-step off for a user who lost their phone and recovery codes,
// for the operator CLI (okpay admin reset-2fa) after an identity check outside OKPay. The
// owner is mailed a notice.
//
// Errors: validation_failed (reason: required), not_found.
func (s *Service) AdminResetTwoStep(ctx context.Context, email, reason string) error {
	if reason == "" {
		return required("reason")
	}
	return s.inTx(ctx, "reset 2-step", func(tx *db.Tx) error {
		u, err := userByEmail(ctx, tx, NormalizeEmail(email), true)
		if err != nil {
			return err
		}
		if u == nil {
			return notFound()
		}
		if !u.twoStep() {
			return apperr.New(CodeTOTPNotEnabled)
		}
		return s.disableTOTP(ctx, tx, u, Client{}, auditEntry{ActorKind: ActorAdmin, ActorID: "cli", Reason: reason})
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
