package db

import (
	"context"
	"fmt"
	"time"
)

// TryLease takes or renews the lease on job name for holder until now+ttl. It returns true
// when holder now owns the lease. The upsert only overwrites an expired lease or one the
// holder already owns, so at most one node holds it at a time.
func (d *DB) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	var got bool
	err := d.InTx(ctx, func(tx *Tx) error {
		now := tx.NowMicros()
		res, err := tx.ExecContext(ctx, `INSERT INTO job_leases (name, holder, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE job_leases.expires_at < $4 OR job_leases.holder = excluded.holder`,
			name, holder, now+ttl.Microseconds(), now)
		if err != nil {
			return fmt.Errorf("take lease %s: %w", name, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("take lease %s: %w", name, err)
		}
		got = n == 1
		return nil
	})
	return got, err
}

// GetMeta reads a setting; ok is false when it is not set.
func (d *DB) GetMeta(ctx context.Context, key string) (value string, ok bool, err error) {
	err = d.W.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&value)
	if err != nil {
		if isNoRows(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("read meta %s: %w", key, err)
	}
	return value, true, nil
}

// SetMetaTx writes a setting inside tx.
func SetMetaTx(ctx context.Context, tx *Tx, key, value string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, key, value, tx.NowMicros())
	if err != nil {
		return fmt.Errorf("write meta %s: %w", key, err)
	}
	return nil
}
