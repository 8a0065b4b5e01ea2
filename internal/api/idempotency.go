package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/httpx"
)

// Idempotency stores the first response of a mutating call under (scope, Idempotency-Key)
// and replays it for retries. It is the outer guard; money flows are also idempotent below
// it (ledger transfer ids derived from the key), so even a request re-run after a crash
// between commit and storing the response cannot move money twice.
type Idempotency struct {
	DB *db.DB
	// Lock is how long a request may hold a key before a retry may take it over (the first
	// attempt's process died). Also how long a concurrent duplicate waits for the first.
	Lock time.Duration
	// Keep is how long stored responses are kept.
	Keep time.Duration
}

const (
	maxKeyLen        = 255
	maxStoredBody    = 256 << 10
	idemPollInterval = 20 * time.Millisecond
)

func init() {
	apperr.Register(
		apperr.Def{Code: "idempotency_key_invalid", Status: http.StatusBadRequest,
			Message: apperr.Text{En: "The Idempotency-Key header is not valid.", Zh: "Idempotency-Key 请求头无效。"},
			Fix:     apperr.Text{En: "Send 1 to 255 visible ASCII characters, for example a UUID.", Zh: "请发送 1 到 255 个可见 ASCII 字符，例如一个 UUID。"}},
		apperr.Def{Code: "idempotency_in_progress", Status: http.StatusConflict,
			Message: apperr.Text{En: "A request with this Idempotency-Key is still being processed.", Zh: "使用该幂等键的请求仍在处理中。"},
			Fix:     apperr.Text{En: "Wait a few seconds and retry with the same key; you will get its result.", Zh: "请稍等几秒后用同一个键重试，将得到该请求的结果。"}},
	)
}

// Wrap makes h idempotent for the caller named by scope(r) ("" = anonymous: no storing).
// Requests without the header pass through unchanged.
func (m *Idempotency) Wrap(scope func(*http.Request) string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		sc := scope(r)
		if key == "" || sc == "" || r.Method == http.MethodGet || r.Method == http.MethodHead {
			h(w, r)
			return
		}
		if !validKey(key) {
			httpx.WriteError(w, r, apperr.New("idempotency_key_invalid"))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, httpx.MaxBodyBytes))
		if err != nil {
			httpx.WriteError(w, r, apperr.New(apperr.CodeBodyTooLarge).Wrap(err))
			return
		}
		sum := sha256.Sum256([]byte(r.Method + " " + r.URL.Path + "\n" + string(body)))
		hash := hex.EncodeToString(sum[:])
		ctx := r.Context()
		deadline := time.Now().Add(m.Lock)
		for {
			rec, owned, err := m.claim(ctx, sc, key, hash)
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			if owned {
				break
			}
			if rec.hash != hash {
				httpx.WriteError(w, r, apperr.New(apperr.CodeIdempotencyConflict))
				return
			}
			if rec.state == "done" {
				w.Header().Set("Idempotent-Replayed", "true")
				if rec.contentType != "" {
					w.Header().Set("Content-Type", rec.contentType)
				}
				w.WriteHeader(rec.status)
				io.WriteString(w, rec.body)
				return
			}
			if time.Now().After(deadline) {
				httpx.WriteError(w, r, apperr.New("idempotency_in_progress"))
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(idemPollInterval):
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rw := &recorder{ResponseWriter: w}
		h(rw, r)
		// A server error may have been rolled back: free the key so a retry can run again
		// (the money layer's own idempotency still prevents a double move).
		done := context.WithoutCancel(ctx)
		if rw.status >= 500 || rw.status == 0 || rw.buf.Len() > maxStoredBody {
			m.release(done, sc, key)
			return
		}
		if err := m.finish(done, sc, key, rw.status, rw.Header().Get("Content-Type"), rw.buf.String()); err != nil {
			httpx.WriteError(w, r, err)
		}
	}
}

func validKey(k string) bool {
	if len(k) == 0 || len(k) > maxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

type idemRecord struct {
	hash, state, contentType, body string
	status                         int
}

// claim inserts the key as in-progress, or takes over an in-progress key whose lock expired.
// owned is false when another request holds or finished it; rec describes that request.
func (m *Idempotency) claim(ctx context.Context, scope, key, hash string) (rec idemRecord, owned bool, err error) {
	err = m.DB.InTx(ctx, func(tx *db.Tx) error {
		now := tx.NowMicros()
		lock := now + m.Lock.Microseconds()
		res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at, locked_until)
			VALUES ($1, $2, $3, 'running', $4, $5)
			ON CONFLICT (scope, key) DO UPDATE SET locked_until = excluded.locked_until
			WHERE idempotency_keys.state = 'running' AND idempotency_keys.locked_until < $4
			  AND idempotency_keys.request_hash = excluded.request_hash`, scope, key, hash, now, lock)
		if err != nil {
			return fmt.Errorf("claim idempotency key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			owned = true
			return nil
		}
		return tx.QueryRowContext(ctx, `SELECT request_hash, state, status, content_type, body FROM idempotency_keys WHERE scope = $1 AND key = $2`,
			scope, key).Scan(&rec.hash, &rec.state, &rec.status, &rec.contentType, &rec.body)
	})
	if err != nil {
		return rec, false, fmt.Errorf("idempotency: %w", err)
	}
	return rec, owned, nil
}

func (m *Idempotency) finish(ctx context.Context, scope, key string, status int, ct, body string) error {
	return m.DB.InTx(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET state = 'done', status = $3, content_type = $4, body = $5
			WHERE scope = $1 AND key = $2`, scope, key, status, ct, body)
		if err != nil {
			return fmt.Errorf("store idempotent response: %w", err)
		}
		return nil
	})
}

func (m *Idempotency) release(ctx context.Context, scope, key string) {
	_ = m.DB.InTx(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND state = 'running'`, scope, key)
		return err
	})
}

// Purge deletes stored responses older than Keep; run it from a background job.
func (m *Idempotency) Purge(ctx context.Context) (int64, error) {
	var n int64
	err := m.DB.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1 AND state = 'done'`,
			tx.NowMicros()-m.Keep.Microseconds())
		if err != nil {
			return fmt.Errorf("purge idempotency keys: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}

// recorder captures the response while passing it through.
type recorder struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.buf.Len() <= maxStoredBody {
		r.buf.Write(b)
	}
	return r.ResponseWriter.Write(b)
}
