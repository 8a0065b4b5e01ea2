package api

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/httpx"
	"okpay/internal/wallet"
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
		m.serve(w, r, sc, key, requestHash(r, body), body, h)
	}
}

func requestHash(r *http.Request, body []byte) string {
	sum := sha256.Sum256([]byte(r.Method + " " + r.URL.Path + "\n" + string(body)))
	return hex.EncodeToString(sum[:])
}

// serve is Wrap's guard once the body is read: claim the key (waiting while another
// request holds it), run h, store its response.
func (m *Idempotency) serve(w http.ResponseWriter, r *http.Request, sc, key, hash string, body []byte, h http.HandlerFunc) {
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
			writeStored(w, rec)
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

func writeStored(w http.ResponseWriter, rec idemRecord) {
	w.Header().Set("Idempotent-Replayed", "true")
	if rec.contentType != "" {
		w.Header().Set("Content-Type", rec.contentType)
	}
	w.WriteHeader(rec.status)
	io.WriteString(w, rec.body)
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
		rec, owned, err = m.claimTx(ctx, tx, scope, key, hash)
		return err
	})
	if err != nil {
		return rec, false, fmt.Errorf("idempotency: %w", err)
	}
	return rec, owned, nil
}

// claimTx is claim inside tx.
func (m *Idempotency) claimTx(ctx context.Context, tx *db.Tx, scope, key, hash string) (rec idemRecord, owned bool, err error) {
	now := tx.NowMicros()
	lock := now + m.Lock.Microseconds()
	res, err := tx.ExecCached(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at, locked_until)
		VALUES ($1, $2, $3, 'running', $4, $5)
		ON CONFLICT (scope, key) DO UPDATE SET locked_until = excluded.locked_until
		WHERE idempotency_keys.state = 'running' AND idempotency_keys.locked_until < $4
		  AND idempotency_keys.request_hash = excluded.request_hash`, scope, key, hash, now, lock)
	if err != nil {
		return rec, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return rec, true, nil
	}
	err = tx.QueryRowCached(ctx, `SELECT request_hash, state, status, content_type, body FROM idempotency_keys WHERE scope = $1 AND key = $2`,
		scope, key).Scan(&rec.hash, &rec.state, &rec.status, &rec.contentType, &rec.body)
	if err != nil {
		return rec, false, fmt.Errorf("read idempotency key: %w", err)
	}
	return rec, false, nil
}

func (m *Idempotency) finish(ctx context.Context, scope, key string, status int, ct, body string) error {
	return m.DB.InTx(ctx, func(tx *db.Tx) error {
		return finishTx(ctx, tx, scope, key, status, ct, body)
	})
}

func finishTx(ctx context.Context, tx *db.Tx, scope, key string, status int, ct, body string) error {
	_, err := tx.ExecCached(ctx, `UPDATE idempotency_keys SET state = 'done', status = $3, content_type = $4, body = $5
		WHERE scope = $1 AND key = $2`, scope, key, status, ct, body)
	if err != nil {
		return fmt.Errorf("store idempotent response: %w", err)
	}
	return nil
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

// TxGuard is the Idempotency-Key guard of one request whose service call runs it inside
// its own transaction (it implements wallet.Guard): the key's claim, the work and the
// stored response commit together, so a money request is one write transaction instead
// of three. Semantics are Wrap's: the same key and request answer the first stored
// response, a different request under the key is idempotency_conflict, and a duplicate
// arriving while the first runs waits for it (on SQLite behind the one writer, on
// PostgreSQL on the claimed row) and then answers its response.
type TxGuard struct {
	m                *Idempotency
	scope, key, hash string
	status           int // the route's success status

	replay   *idemRecord // Begin found the key done: answer with it
	conflict bool        // Begin found the key used by another request
	body     []byte      // the response Finish stored
}

// errKeyBusy: Begin found the key claimed by a request outside a TxGuard (Wrap) that is
// still running; the request falls back to Wrap's waiting.
var errKeyBusy = errors.New("idempotency: key held by a running request")

// Begin claims the key in tx. Errors: idempotency_conflict, errKeyBusy, database errors.
func (g *TxGuard) Begin(ctx context.Context, tx *db.Tx) (bool, error) {
	g.replay, g.conflict, g.body = nil, false, nil
	rec, owned, err := g.m.claimTx(ctx, tx, g.scope, g.key, g.hash)
	switch {
	case err != nil:
		return false, err
	case owned:
		return false, nil
	case rec.hash != g.hash:
		g.conflict = true
		return false, apperr.New(apperr.CodeIdempotencyConflict)
	case rec.state == "done":
		g.replay = &rec
		return true, nil
	}
	return false, errKeyBusy
}

// Finish stores v, encoded as the response, in tx.
func (g *TxGuard) Finish(ctx context.Context, tx *db.Tx, v any) error {
	var err error
	if g.body, err = encodeStored(v); err != nil {
		return err
	}
	if len(g.body) > maxStoredBody { // too large to keep: free the key, as Wrap does
		_, err := tx.ExecCached(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND state = 'running'`, g.scope, g.key)
		return err
	}
	return finishTx(ctx, tx, g.scope, g.key, g.status, jsonContentType, string(g.body))
}

const jsonContentType = "application/json; charset=utf-8" // as httpx.WriteJSON

// encodeStored is the response body a guard stores for v, byte for byte what
// httpx.WriteJSON sends.
func encodeStored(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as httpx.WriteJSON
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return b.Bytes(), nil
}

// WrapTx is Wrap for a route whose service call takes the guard into its own transaction:
// h passes g (nil when the request has no key) to the service and returns the result
// instead of writing it; WrapTx writes status and the result, byte for byte what it
// stored, or the error.
func (m *Idempotency) WrapTx(scope func(*http.Request) string, status int, h func(w http.ResponseWriter, r *http.Request, g *TxGuard) (any, error)) http.HandlerFunc {
	plain := func(w http.ResponseWriter, r *http.Request) {
		v, err := h(w, r, nil)
		replyStatus(w, r, status, v, err)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		sc := scope(r)
		if key == "" || sc == "" || r.Method == http.MethodGet || r.Method == http.MethodHead {
			plain(w, r)
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
		hash := requestHash(r, body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		g := &TxGuard{m: m, scope: sc, key: key, hash: hash, status: status}
		v, err := h(w, r, g)
		switch {
		case errors.Is(err, errKeyBusy):
			m.serve(w, r, sc, key, hash, body, plain)
			return
		case err == nil && g.replay != nil:
			writeStored(w, *g.replay)
			return
		case err == nil && g.body != nil:
			w.Header().Set("Content-Type", jsonContentType)
			w.WriteHeader(status)
			w.Write(g.body)
			return
		case g.conflict: // as Wrap: refused before anything ran, nothing to keep
			httpx.WriteError(w, r, err)
			return
		}
		// The call failed before or after claiming (its transaction rolled back, taking
		// the claim with it), or ran without using the guard: keep its answer now, as Wrap
		// would have, unless another request under the key stored one first.
		rw := &bufWriter{h: http.Header{}}
		replyStatus(rw, r, status, v, err)
		if rw.status >= 500 || rw.buf.Len() > maxStoredBody {
			rw.copyTo(w) // not kept: a retry runs again
			return
		}
		rec, stored, serr := m.keep(context.WithoutCancel(r.Context()), sc, key, hash, rw.status, rw.h.Get("Content-Type"), rw.buf.String())
		switch {
		case serr != nil:
			httpx.WriteError(w, r, serr)
		case stored || rec.state != "done":
			rw.copyTo(w)
		case rec.hash != hash:
			httpx.WriteError(w, r, apperr.New(apperr.CodeIdempotencyConflict))
		default:
			writeStored(w, rec)
		}
	}
}

// keep stores a finished response under a key nobody holds. When the key is taken
// (stored = false), rec is what is there.
func (m *Idempotency) keep(ctx context.Context, scope, key, hash string, status int, ct, body string) (rec idemRecord, stored bool, err error) {
	err = m.DB.InTx(ctx, func(tx *db.Tx) error {
		now := tx.NowMicros()
		res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, state, status, content_type, body, created_at, locked_until)
			VALUES ($1, $2, $3, 'done', $4, $5, $6, $7, $7) ON CONFLICT (scope, key) DO NOTHING`, scope, key, hash, status, ct, body, now)
		if err != nil {
			return fmt.Errorf("store idempotent response: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			stored = true
			return nil
		}
		return tx.QueryRowContext(ctx, `SELECT request_hash, state, status, content_type, body FROM idempotency_keys WHERE scope = $1 AND key = $2`,
			scope, key).Scan(&rec.hash, &rec.state, &rec.status, &rec.contentType, &rec.body)
	})
	if err != nil {
		return rec, false, fmt.Errorf("idempotency: %w", err)
	}
	return rec, stored, nil
}

// bufWriter holds a response until it is known to be the one to send.
type bufWriter struct {
	h      http.Header
	status int
	buf    bytes.Buffer
}

func (b *bufWriter) Header() http.Header { return b.h }

func (b *bufWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.buf.Write(p)
}

func (b *bufWriter) copyTo(w http.ResponseWriter) {
	for k, v := range b.h {
		w.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	w.Write(b.buf.Bytes())
}

// GuardBatch lets the wallet claim and store the keys of a batch of transfers with one
// statement each (wallet.BatchGuard): every TxGuard of one store shares its writer.
func (g *TxGuard) GuardBatch() wallet.GuardBatch { return idemBatch{g.m} }

// idemBatch is wallet.GuardBatch over an Idempotency store.
type idemBatch struct{ m *Idempotency }

// ClaimAll is TxGuard.Begin for many guards: one upsert claims every free key (or takes
// over an expired claim of the same request). A key it could not claim is left to the
// call's own Begin on the per-call path, which answers the replay, the conflict or the
// wait as it always has. Rows go in (scope, key) order: concurrent batches on PostgreSQL
// then lock keys in one order.
func (b idemBatch) ClaimAll(ctx context.Context, tx *db.Tx, gs []wallet.Guard) ([]bool, error) {
	tgs := make([]*TxGuard, len(gs))
	for i, g := range gs {
		tgs[i] = g.(*TxGuard)
		tgs[i].replay, tgs[i].conflict, tgs[i].body = nil, false, nil
	}
	order := make([]int, len(gs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, c int) int {
		return cmp.Or(strings.Compare(tgs[a].scope, tgs[c].scope), strings.Compare(tgs[a].key, tgs[c].key))
	})
	now := tx.NowMicros()
	lock := now + b.m.Lock.Microseconds()
	owned := make([]bool, len(gs))
	pos := map[[2]string]int{}
	for _, i := range order {
		pos[[2]string{tgs[i].scope, tgs[i].key}] = i
	}
	claim := func(rs *sql.Rows) error {
		defer rs.Close()
		for rs.Next() {
			var sc, k string
			if err := rs.Scan(&sc, &k); err != nil {
				return err
			}
			owned[pos[[2]string{sc, k}]] = true
		}
		return rs.Err()
	}
	if tx.Dialect.Name() == db.Postgres {
		// One statement of arrays: one round trip for the batch.
		scopes, keys, hashes := make([]string, len(order)), make([]string, len(order)), make([]string, len(order))
		for j, i := range order {
			scopes[j], keys[j], hashes[j] = tgs[i].scope, tgs[i].key, tgs[i].hash
		}
		rs, err := tx.QueryContext(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at, locked_until)
			SELECT s, k, h, 'running', $4, $5 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(s, k, h) ORDER BY s, k
			ON CONFLICT (scope, key) DO UPDATE SET locked_until = excluded.locked_until
			WHERE idempotency_keys.state = 'running' AND idempotency_keys.locked_until < excluded.created_at
			  AND idempotency_keys.request_hash = excluded.request_hash
			RETURNING scope, key`, scopes, keys, hashes, now, lock)
		if err == nil {
			err = claim(rs)
		}
		if err != nil {
			return nil, fmt.Errorf("claim idempotency keys: %w", err)
		}
		return owned, nil
	}
	for len(order) > 0 {
		n := chunkOf(len(order))
		var q strings.Builder
		args := make([]any, 0, n*5+1)
		q.WriteString(`INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at, locked_until) VALUES `)
		for k, i := range order[:n] {
			if k > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(" + ph(tx, &args, tgs[i].scope) + ", " + ph(tx, &args, tgs[i].key) + ", " + ph(tx, &args, tgs[i].hash) +
				", 'running', " + ph(tx, &args, now) + ", " + ph(tx, &args, lock) + ")")
		}
		q.WriteString(` ON CONFLICT (scope, key) DO UPDATE SET locked_until = excluded.locked_until
			WHERE idempotency_keys.state = 'running' AND idempotency_keys.locked_until < excluded.created_at
			  AND idempotency_keys.request_hash = excluded.request_hash
			RETURNING scope, key`)
		rs, err := tx.QueryCached(ctx, q.String(), args...)
		if err == nil {
			err = claim(rs)
		}
		if err != nil {
			return nil, fmt.Errorf("claim idempotency keys: %w", err)
		}
		order = order[n:]
	}
	return owned, nil
}

// FinishAll is TxGuard.Finish for many guards: the responses of the calls that succeeded
// in one upsert over their claimed rows; the claims of the others deleted, so the refusal
// is kept after the rollback-free batch as Wrap keeps one (or the call runs alone and
// claims again).
func (b idemBatch) FinishAll(ctx context.Context, tx *db.Tx, gs []wallet.Guard, results []any) error {
	now := tx.NowMicros()
	type done struct {
		g    *TxGuard
		body []byte
	}
	var ok []done
	var free []*TxGuard
	for i, g := range gs {
		tg := g.(*TxGuard)
		if results[i] == nil {
			free = append(free, tg)
			continue
		}
		body, err := encodeStored(results[i])
		if err != nil {
			return err
		}
		if len(body) > maxStoredBody { // too large to keep: free the key, as Wrap does
			tg.body = body
			free = append(free, tg)
			continue
		}
		ok = append(ok, done{tg, body})
	}
	slices.SortFunc(ok, func(a, c done) int {
		return cmp.Or(strings.Compare(a.g.scope, c.g.scope), strings.Compare(a.g.key, c.g.key))
	})
	if tx.Dialect.Name() == db.Postgres && len(ok) > 0 {
		// One statement of arrays. The rows exist (claimed by ClaimAll in this
		// transaction): this only completes them.
		scopes, keys, hashes, bodies := make([]string, len(ok)), make([]string, len(ok)), make([]string, len(ok)), make([]string, len(ok))
		statuses := make([]int32, len(ok))
		for i, d := range ok {
			scopes[i], keys[i], hashes[i], bodies[i], statuses[i] = d.g.scope, d.g.key, d.g.hash, string(d.body), int32(d.g.status)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, state, status, content_type, body, created_at, locked_until)
			SELECT s, k, h, 'done', st, $6, b, $7, $7 FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[]) AS t(s, k, h, st, b) ORDER BY s, k
			ON CONFLICT (scope, key) DO UPDATE SET state = 'done', status = excluded.status,
			content_type = excluded.content_type, body = excluded.body`, scopes, keys, hashes, statuses, bodies, jsonContentType, now)
		if err != nil {
			return fmt.Errorf("store idempotent responses: %w", err)
		}
		for _, d := range ok {
			d.g.body = d.body
		}
		ok = nil
	}
	for len(ok) > 0 {
		n := chunkOf(len(ok))
		var q strings.Builder
		args := make([]any, 0, n*8)
		q.WriteString(`INSERT INTO idempotency_keys (scope, key, request_hash, state, status, content_type, body, created_at, locked_until) VALUES `)
		for k, d := range ok[:n] {
			if k > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(" + ph(tx, &args, d.g.scope) + ", " + ph(tx, &args, d.g.key) + ", " + ph(tx, &args, d.g.hash) + ", 'done', " +
				ph(tx, &args, d.g.status) + ", " + ph(tx, &args, jsonContentType) + ", " + ph(tx, &args, string(d.body)) + ", " +
				ph(tx, &args, now) + ", " + ph(tx, &args, now) + ")")
		}
		// The rows exist (claimed by ClaimAll in this transaction): this only completes them.
		q.WriteString(` ON CONFLICT (scope, key) DO UPDATE SET state = 'done', status = excluded.status,
			content_type = excluded.content_type, body = excluded.body`)
		if _, err := tx.ExecCached(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("store idempotent responses: %w", err)
		}
		for _, d := range ok[:n] {
			d.g.body = d.body
		}
		ok = ok[n:]
	}
	for _, g := range free {
		if _, err := tx.ExecCached(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND state = 'running'`, g.scope, g.key); err != nil {
			return fmt.Errorf("free idempotency key: %w", err)
		}
	}
	return nil
}

// chunkOf is how many of n rows the next multi-row statement takes: the largest power
// of two ≤ min(n, 128), so a few statement texts serve every batch.
func chunkOf(n int) int {
	c := 1
	for c*2 <= n && c*2 <= 128 {
		c *= 2
	}
	return c
}

// ph appends v to args and returns its placeholder: anonymous on SQLite (which looks
// "$N" up by name, quadratic in long statements), numbered on PostgreSQL.
func ph(tx *db.Tx, args *[]any, v any) string {
	*args = append(*args, v)
	if tx.Dialect.Name() == db.SQLite {
		return "?"
	}
	return "$" + strconv.Itoa(len(*args))
}
