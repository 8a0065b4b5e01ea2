package identity

import (
	"context"
	"fmt"
	htmltemplate "html/template"
	"net/http"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// Changing the account's email address: RequestEmailChange (after a step-up) mails a
// 6-digit code to the new address, ConfirmEmailChange checks it and swaps the address.
// Proving access to the new mailbox is what makes it verified; the old address gets a
// notice with a one-click freeze link, because whoever controls the email controls
// password resets.

// purposeEmailChange codes are mailed to the new address (their target).
const purposeEmailChange purpose = "email_change"

// Mail kinds of the email change.
const (
	mailEmailChange  = "email_change"  // the code, to the new address
	mailEmailChanged = "email_changed" // the notice, to the old address
)

// emailChangeTTL is how long the code mailed to the new address works.
const emailChangeTTL = time.Hour

// CodeEmailUnchanged: the new address is the one the account already has.
const CodeEmailUnchanged = "email_unchanged"

func init() {
	apperr.Register(apperr.Def{Code: CodeEmailUnchanged, Status: http.StatusConflict,
		Message: txt{En: "This is already your email address.", Zh: "这已经是您当前的邮箱地址。"},
		Fix:     txt{En: "Enter a different address, or keep using this one.", Zh: "请输入其他邮箱地址，或继续使用当前邮箱。"}})
	for _, k := range []string{mailEmailChange, mailEmailChanged} {
		templates.text[k], templates.html[k] = mustParseMailKind(k)
	}
}

// mustParseMailKind parses one mail kind the way mustParseTemplates does, so the email
// change's texts render through renderMail like every other mail.
func mustParseMailKind(k string) (*texttemplate.Template, *htmltemplate.Template) {
	funcs := map[string]any{"button": func(url, label string) map[string]string {
		return map[string]string{"URL": url, "Label": label}
	}}
	tt, err := texttemplate.ParseFS(mailFS, "mail/"+k+".tmpl")
	if err != nil {
		panic(fmt.Sprintf("identity: mail template %s: %v", k, err))
	}
	ht, err := htmltemplate.New(k).Funcs(funcs).ParseFS(mailFS, "mail/layout.html.tmpl", "mail/"+k+".html.tmpl")
	if err != nil {
		panic(fmt.Sprintf("identity: mail template %s.html: %v", k, err))
	}
	for _, l := range mailLangs {
		for _, name := range []string{l + ".subject", l + ".text"} {
			if tt.Lookup(name) == nil {
				panic(fmt.Sprintf("identity: mail template %s lacks %q", k, name))
			}
		}
		if ht.Lookup(l) == nil {
			panic(fmt.Sprintf("identity: mail template %s.html lacks %q", k, l))
		}
	}
	return tt, ht
}

// MaskEmail shows enough of an address for its owner to recognise it: a***@example.com.
func MaskEmail(e string) string {
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" {
		return "***"
	}
	r, _ := utf8.DecodeRuneInString(local)
	return string(r) + "***@" + domain
}

// EmailChange says where the code went, until when it works and when another may be
// asked for.
type EmailChange struct {
	SentTo    string    `json:"sent_to"`
	ExpiresAt time.Time `json:"expires_at"`
	NextAt    time.Time `json:"next_resend_at"`
}

// RequestEmailChange starts changing the session's account to newEmail: it needs a recent
// step-up, refuses an address already registered or equal to the current one, and mails a
// 6-digit code (1 hour, 5 tries) to the new address. Asking again sends a new code (older
// ones stop working), within the resend cooldown and the daily cap.
//
// Errors: rate_limited, unauthenticated, step_up_required, validation_failed (email:
// email_invalid), email_unchanged, email_taken, resend_cooldown and code_daily_cap (both
// with params next_at and retry_after).
func (s *Service) RequestEmailChange(ctx context.Context, sessionID, newEmail string, c Client) (*EmailChange, error) {
	if err := s.limiter.allow(bucketCode, c.IP); err != nil {
		return nil, err
	}
	email := NormalizeEmail(newEmail)
	var out EmailChange
	err := s.inTx(ctx, "request email change", func(tx *db.Tx) error {
		// Step-up first: without it, the answer must not say whether an address is taken.
		sess, err := s.RequireStepUp(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		if email == "" {
			return invalid("email", FieldEmailInvalid)
		}
		u, err := loadUser(ctx, tx, sess.UserID, true)
		if err != nil {
			return err
		}
		if email == u.Email {
			return apperr.New(CodeEmailUnchanged)
		}
		other, err := userByEmail(ctx, tx, email, false)
		if err != nil {
			return err
		}
		if other != nil {
			return apperr.New(CodeEmailTaken)
		}
		if err := s.throttle(ctx, tx, u.ID, purposeEmailChange); err != nil {
			return err
		}
		is, err := s.issueCode(ctx, tx, u.ID, purposeEmailChange, "email", email, emailChangeTTL, true)
		if err != nil {
			return err
		}
		to := *u
		to.Email = email
		if err := s.sendMail(ctx, tx, &to, mailEmailChange, map[string]any{"Code": is.Code, "Expires": fmtTime(is.ExpiresAt, u.Lang),
			"Attempts": s.cfg.CodeAttempts}); err != nil {
			return err
		}
		out = EmailChange{SentTo: email, ExpiresAt: is.ExpiresAt, NextAt: tx.Now.Add(s.cfg.ResendCooldown)}
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: u.ID, Action: "user.email_change_request", Subject: u.ID,
			ClientAddr: c.IP, Details: map[string]string{"new_email": MaskEmail(email), "session": sess.ID}})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ConfirmEmailChange checks the code mailed by RequestEmailChange and makes its address the
// account's email, verified. Every other session ends (the one confirming stays), open
// verification and reset codes for the old address stop working, and the old address gets
// a notice with a one-click freeze link. A wrong code counts against the code's tries.
//
// Errors: rate_limited, unauthenticated, code_malformed, code_invalid (param remaining),
// code_attempts_exceeded, code_expired, email_taken (someone registered the address
// meanwhile).
func (s *Service) ConfirmEmailChange(ctx context.Context, sessionID, code string, c Client) (*User, error) {
	if err := s.limiter.allow(bucketCode, c.IP); err != nil {
		return nil, err
	}
	var out User
	err := s.inTxKeep(ctx, "confirm email change", func(tx *db.Tx) error {
		sess, err := s.activeSession(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		u, err := loadUser(ctx, tx, sess.UserID, true)
		if err != nil {
			return err
		}
		email, err := s.checkCode(ctx, tx, u.ID, purposeEmailChange, code)
		if err != nil {
			return err
		}
		if email == u.Email {
			return apperr.New(CodeCodeExpired)
		}
		other, err := userByEmail(ctx, tx, email, false)
		if err != nil {
			return err
		}
		if other != nil {
			return apperr.New(CodeEmailTaken)
		}
		now := tx.NowMicros()
		if _, err := tx.ExecContext(ctx, `UPDATE users SET email = $1, email_verified_at = $2, updated_at = $2 WHERE id = $3`,
			email, now, u.ID); err != nil {
			return fmt.Errorf("change email: %w", err)
		}
		r, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = $1, revoke_reason = 'email_changed'
			WHERE user_id = $2 AND id <> $3 AND revoked_at = 0`, now, u.ID, sess.ID)
		if err != nil {
			return fmt.Errorf("end other sessions: %w", err)
		}
		ended, _ := r.RowsAffected()
		if _, err := tx.ExecContext(ctx, `UPDATE signin_challenges SET used_at = $1 WHERE user_id = $2 AND used_at = 0`, now, u.ID); err != nil {
			return fmt.Errorf("end sign-in challenges: %w", err)
		}
		// Codes and links mailed to the old address must not act on the account any more.
		for _, p := range []purpose{purposeVerifyEmail, purposeReset, purposeEmailChange} {
			if err := retireCodes(ctx, tx, u.ID, p); err != nil {
				return err
			}
		}
		// The notice goes to the old address, with a freeze link that needs no sign-in: if
		// someone else changed it, the owner can still stop money leaving.
		link, err := s.freezeLink(ctx, tx, u)
		if err != nil {
			return err
		}
		if err := s.sendMail(ctx, tx, u, mailEmailChanged, map[string]any{"NewEmail": MaskEmail(email), "When": fmtTime(tx.Now, u.Lang),
			"IP": orDash(c.IP), "Place": s.cfg.Places.Place(c.IP), "FreezeLink": link}); err != nil {
			return err
		}
		old := u.Email
		u.Email, u.EmailVerifiedAt = email, now
		out = u.public()
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: u.ID, Action: "user.email_change", Subject: u.ID, ClientAddr: c.IP,
			Details: map[string]string{"old_email": MaskEmail(old), "new_email": MaskEmail(email), "session": sess.ID,
				"sessions_ended": fmt.Sprint(ended)}})
	})
	if err != nil {
		if db.IsUniqueViolation(err) {
			// Registered by someone else between the check and the update.
			return nil, apperr.New(CodeEmailTaken).Wrap(err)
		}
		return nil, err
	}
	return &out, nil
}
