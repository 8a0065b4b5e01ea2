package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// purpose separates the kinds of one-time codes; a code for one never works for another.
type purpose string

const (
	purposeVerifyEmail purpose = "verify_email"
	purposeVerifyPhone purpose = "verify_phone"
	purposeReset       purpose = "reset_password"
	purposeUnfreeze    purpose = "unfreeze"
	purposeFreezeLink  purpose = "freeze_link"
)

// issued is a freshly made code; Code and Link are shown once (in the message) and only
// their hashes are stored.
type issued struct {
	ID        string
	Code      string
	Link      string
	ExpiresAt time.Time
}

func sixDigits() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(fmt.Sprintf("identity: random: %v", err))
	}
	return fmt.Sprintf("%06d", n.Int64())
}

// normalizeCode lets people paste "123 456" or "123-456".
func normalizeCode(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}

// codeLen is the length of every code issueCode makes (sixDigits).
const codeLen = 6

// maxRawCode caps what is looked at in a typed code, so a hostile field costs nothing.
const maxRawCode = 32

// checkCodeShape refuses a typed code that cannot be one of ours: after the spaces and
// dashes people paste with it, it must be codeLen ASCII digits. It runs before any code
// is looked up, so a typo of the wrong shape ("abc", five digits) uses up no try.
//
// Errors: code_malformed (field code).
func checkCodeShape(code string) error {
	if len(code) <= maxRawCode {
		c := normalizeCode(code)
		if len(c) == codeLen && strings.Trim(c, "0123456789") == "" {
			return nil
		}
	}
	return apperr.New(CodeCodeMalformed).Field("code", CodeCodeMalformed)
}

// throttle enforces the resend cooldown and the daily cap for (user, purpose). It returns
// when the next code could be sent after one is sent now.
func (s *Service) throttle(ctx context.Context, tx *db.Tx, userID string, p purpose) error {
	now := tx.NowMicros()
	dayAgo := now - (24 * time.Hour).Microseconds()
	var count int
	var oldest, latest int64
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MIN(created_at), 0), COALESCE(MAX(created_at), 0)
		FROM identity_codes WHERE user_id = $1 AND purpose = $2 AND created_at > $3`, userID, string(p), dayAgo).Scan(&count, &oldest, &latest)
	if err != nil {
		return fmt.Errorf("count codes: %w", err)
	}
	if count >= s.cfg.DailyCodeCap {
		next := db.Micros(oldest).Add(24 * time.Hour)
		return apperr.New(CodeDailyCap).With("next_at", next.Format(time.RFC3339)).
			With("retry_after", strconv.FormatInt(int64(next.Sub(tx.Now).Seconds())+1, 10))
	}
	if latest != 0 {
		next := db.Micros(latest).Add(s.cfg.ResendCooldown)
		if next.After(tx.Now) {
			return apperr.New(CodeResendCooldown).With("next_at", next.Format(time.RFC3339)).
				With("retry_after", strconv.FormatInt(int64((next.Sub(tx.Now)+time.Second-1)/time.Second), 10))
		}
	}
	return nil
}

// issueCode makes a new code of purpose p for the user and retires the older open ones, so
// only the newest message counts: people otherwise type the code of a stale email and
// burn their tries. withCode false makes a link-only token (the freeze link).
func (s *Service) issueCode(ctx context.Context, tx *db.Tx, userID string, p purpose, channel, target string, ttl time.Duration, withCode bool) (*issued, error) {
	now := tx.NowMicros()
	if p != purposeFreezeLink {
		// Freeze links are not superseded: each alert's link must keep working.
		if _, err := tx.ExecContext(ctx, `UPDATE identity_codes SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at = 0`,
			now, userID, string(p)); err != nil {
			return nil, fmt.Errorf("retire old codes: %w", err)
		}
	}
	is := &issued{ID: newID(), Link: randomToken(24), ExpiresAt: tx.Now.Add(ttl)}
	codeHash := ""
	if withCode {
		is.Code = sixDigits()
		codeHash = s.codeHash(is.ID, is.Code)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO identity_codes (id, user_id, purpose, channel, target, code_hash, link_hash,
		created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		is.ID, userID, string(p), channel, target, codeHash, tokenHash(is.Link), now, micros(is.ExpiresAt))
	if err != nil {
		return nil, fmt.Errorf("insert code: %w", err)
	}
	return is, nil
}

// checkCode checks a typed code against the newest open code of purpose p. A wrong code
// counts against that code's tries; the caller must commit even when the result is an
// error (use inTxKeep). It returns the code's target (the address it was sent to).
//
// Errors: code_malformed (not 6 digits: no try used), code_expired (none open, expired
// or used), code_attempts_exceeded, code_invalid.
func (s *Service) checkCode(ctx context.Context, tx *db.Tx, userID string, p purpose, code string) (string, error) {
	if err := checkCodeShape(code); err != nil {
		return "", err
	}
	var id, hash, target string
	var attempts int
	var expires int64
	err := tx.QueryRowContext(ctx, `SELECT id, code_hash, target, attempts, expires_at FROM identity_codes
		WHERE user_id = $1 AND purpose = $2 AND used_at = 0 AND code_hash <> ''
		ORDER BY created_at DESC LIMIT 1 `+tx.Dialect.ForUpdate(), userID, string(p)).Scan(&id, &hash, &target, &attempts, &expires)
	if err != nil {
		if db.IsNoRows(err) {
			return "", apperr.New(CodeCodeExpired)
		}
		return "", fmt.Errorf("find code: %w", err)
	}
	if expires <= tx.NowMicros() {
		return "", apperr.New(CodeCodeExpired)
	}
	if attempts >= s.cfg.CodeAttempts {
		return "", apperr.New(CodeCodeAttempts)
	}
	got := s.codeHash(id, normalizeCode(code))
	if subtle.ConstantTimeCompare([]byte(got), []byte(hash)) != 1 {
		attempts++
		if _, err := tx.ExecContext(ctx, `UPDATE identity_codes SET attempts = $1 WHERE id = $2`, attempts, id); err != nil {
			return "", fmt.Errorf("count code attempt: %w", err)
		}
		if attempts >= s.cfg.CodeAttempts {
			return "", apperr.New(CodeCodeAttempts)
		}
		return "", apperr.New(CodeCodeInvalid).With("remaining", strconv.Itoa(s.cfg.CodeAttempts-attempts))
	}
	if err := markUsed(ctx, tx, id); err != nil {
		return "", err
	}
	return target, nil
}

// useLink redeems a link token of purpose p and returns the user it belongs to and the
// target. Link tokens have 192 random bits, so wrong guesses need no counting.
//
// Errors: code_expired (unknown, used or expired).
func (s *Service) useLink(ctx context.Context, tx *db.Tx, p purpose, token string) (userID, target string, err error) {
	var id string
	var expires, used int64
	err = tx.QueryRowContext(ctx, `SELECT id, user_id, target, expires_at, used_at FROM identity_codes
		WHERE link_hash = $1 AND purpose = $2 `+tx.Dialect.ForUpdate(), tokenHash(strings.TrimSpace(token)), string(p)).
		Scan(&id, &userID, &target, &expires, &used)
	if err != nil {
		if db.IsNoRows(err) {
			return "", "", apperr.New(CodeCodeExpired)
		}
		return "", "", fmt.Errorf("find link: %w", err)
	}
	if used != 0 || expires <= tx.NowMicros() {
		return "", "", apperr.New(CodeCodeExpired)
	}
	if err := markUsed(ctx, tx, id); err != nil {
		return "", "", err
	}
	return userID, target, nil
}

func markUsed(ctx context.Context, tx *db.Tx, id string) error {
	// used_at = 0 in the WHERE makes a concurrent second use lose even on SQLite.
	r, err := tx.ExecContext(ctx, `UPDATE identity_codes SET used_at = $1 WHERE id = $2 AND used_at = 0`, tx.NowMicros(), id)
	if err != nil {
		return fmt.Errorf("use code: %w", err)
	}
	if n, _ := r.RowsAffected(); n != 1 {
		return apperr.New(CodeCodeExpired)
	}
	return nil
}

// retireCodes ends every open code of purpose p for the user (e.g. after a reset).
func retireCodes(ctx context.Context, tx *db.Tx, userID string, p purpose) error {
	_, err := tx.ExecContext(ctx, `UPDATE identity_codes SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at = 0`,
		tx.NowMicros(), userID, string(p))
	if err != nil {
		return fmt.Errorf("retire codes: %w", err)
	}
	return nil
}

// inTxKeep runs fn in a transaction that commits even when fn returns a coded error, then
// returns that error. It is for failures that must leave a trace — a wrong code's try, a
// wrong password's count, the lockout it triggers — which a rollback would erase.
func (s *Service) inTxKeep(ctx context.Context, what string, fn func(*db.Tx) error) error {
	var fail error
	err := s.inTx(ctx, what, func(tx *db.Tx) error {
		fail = nil
		if e := fn(tx); e != nil {
			if isCoded(e) {
				fail = e
				return nil
			}
			return e
		}
		return nil
	})
	if err != nil {
		return err
	}
	return fail
}
