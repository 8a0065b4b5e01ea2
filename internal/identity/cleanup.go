package identity

import (
	"context"
	"fmt"
	"time"

	"okpay/internal/db"
)

// RetainExpired is how long spent codes, ended sessions and old challenges are kept after
// they stop working: long enough for support to see "a code was sent at …" and for the
// device list to explain a recent sign-out, short enough that the tables stay small.
const RetainExpired = 30 * 24 * time.Hour

// cleanupBatch bounds one Cleanup call's deletes per table so it never holds the writer
// for long; the job simply runs again.
const cleanupBatch = 5000

// Cleanup deletes rows that stopped mattering more than RetainExpired ago: one-time codes,
// sign-in challenges, ended sessions, reset-request records. Nothing here is needed for a
// rule (lockout counts the last 15 minutes, code caps the last 24 hours). The server runs
// it from a background job under a db lease; it returns how many rows it deleted.
//
// Errors: none besides internal ones.
func (s *Service) Cleanup(ctx context.Context) (int64, error) {
	var total int64
	err := s.inTx(ctx, "identity cleanup", func(tx *db.Tx) error {
		total = 0
		cut := tx.NowMicros() - RetainExpired.Microseconds()
		for _, q := range []string{
			`DELETE FROM identity_codes WHERE id IN (SELECT id FROM identity_codes WHERE expires_at < $1 LIMIT $2)`,
			`DELETE FROM signin_challenges WHERE id IN (SELECT id FROM signin_challenges WHERE expires_at < $1 LIMIT $2)`,
			`DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at < $1 LIMIT $2)`,
		} {
			r, err := tx.ExecContext(ctx, q, cut, cleanupBatch)
			if err != nil {
				return fmt.Errorf("cleanup: %w", err)
			}
			n, _ := r.RowsAffected()
			total += n
		}
		// reset_requests has no key column to batch by; it is small (one row per request).
		r, err := tx.ExecContext(ctx, `DELETE FROM reset_requests WHERE at < $1`, cut)
		if err != nil {
			return fmt.Errorf("cleanup reset requests: %w", err)
		}
		n, _ := r.RowsAffected()
		total += n
		return nil
	})
	return total, err
}
