package identity

import (
	"context"
	"strings"
	"testing"
	"time"

	"okpay/internal/audit"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
)

// The real outbox and audit chain receive identity's effects, the chain verifies, and no
// password, code, token or secret reaches the audit log (agents read it for years).
func TestEffectsReachOutboxAndAuditWithoutSecrets(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, rec, clock := newTestService(t, d)
		c := laptop
		alice := registerVerified(t, s, rec, "alice@example.com", &c)
		secrets := []string{goodPassword, alice.Token, alice.DeviceCookie}
		en, err := s.BeginTOTP(ctx, alice.Session.ID)
		must(t, err)
		code := totpNow(t, en.Secret, clock.Now())
		rc, err := s.ConfirmTOTP(ctx, alice.Session.ID, code, c)
		must(t, err)
		secrets = append(secrets, en.Secret, code, rc.Codes[0])
		_, err = s.RequestPasswordReset(ctx, ResetRequest{Email: "alice@example.com"}, c)
		must(t, err)
		m := rec.last(t, mailReset, "alice@example.com")
		newPw := "N3w-Password-2026"
		must(t, s.ResetPassword(ctx, ResetInput{Token: linkTokenOf(t, m), NewPassword: newPw}, c))
		secrets = append(secrets, codeOf(t, m), linkTokenOf(t, m), newPw)

		var n int
		must(t, d.Read(ctx, func(tx *db.Tx) error {
			return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND kind IN ($2, $3, $4)`,
				"alice@example.com", mailVerifyEmail, mailReset, mailPasswordChanged).Scan(&n)
		}))
		if n != 3 {
			t.Fatalf("outbox has %d of the 3 mails", n)
		}
		rep, err := audit.Verify(ctx, d)
		if err != nil || !rep.OK() || rep.HeadSeq < 5 {
			t.Fatalf("audit chain: %+v %v", rep, err)
		}
		recs, err := audit.List(ctx, d, audit.Filter{})
		must(t, err)
		for _, r := range recs {
			blob := r.ActorID + r.Action + r.SubjectID + r.Reason + r.ClientAddr + string(r.Details)
			for _, sec := range secrets {
				if sec != "" && strings.Contains(blob, sec) {
					t.Fatalf("audit entry %d (%s) contains a secret", r.Seq, r.Action)
				}
			}
		}

		// Cleanup keeps what still matters and removes what expired long ago.
		clock.Advance(RetainExpired + 25*time.Hour)
		deleted, err := s.Cleanup(ctx)
		if err != nil || deleted == 0 {
			t.Fatalf("cleanup %d %v", deleted, err)
		}
	})
}
