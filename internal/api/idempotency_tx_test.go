package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
)

// WrapTx keeps Wrap's promises with the claim and the stored response inside the
// service's own transaction: duplicates (concurrent or later) get the first response and
// run nothing, a different request under the key is a conflict, a refusal (4xx) is kept,
// a server error is not, and a key held by a Wrap request is waited for.
func TestIdempotencyInTx(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if err := d.InTx(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `CREATE TABLE idem_work (k TEXT PRIMARY KEY, body TEXT NOT NULL)`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		m := &Idempotency{DB: d, Lock: 5 * time.Second, Keep: 24 * time.Hour}
		var calls atomic.Int64
		var failMu sync.Mutex
		var failErr error // what the work fails with, after writing
		setFail := func(err error) { failMu.Lock(); failErr = err; failMu.Unlock() }
		getFail := func() error { failMu.Lock(); defer failMu.Unlock(); return failErr }
		h := m.WrapTx(func(r *http.Request) string { return r.Header.Get("X-User") }, http.StatusCreated,
			func(w http.ResponseWriter, r *http.Request, g *TxGuard) (any, error) {
				b, _ := io.ReadAll(r.Body)
				var out map[string]any
				err := d.InTx(r.Context(), func(tx *db.Tx) error {
					out = nil
					if g != nil {
						if replay, err := g.Begin(r.Context(), tx); err != nil || replay {
							return err
						}
					}
					n := calls.Add(1)
					if _, err := tx.ExecContext(r.Context(), `INSERT INTO idem_work (k, body) VALUES ($1, $2)`, r.Header.Get("X-User")+":"+r.Header.Get("Idempotency-Key"), string(b)); err != nil {
						return err
					}
					time.Sleep(50 * time.Millisecond) // let duplicates arrive while this one runs
					if err := getFail(); err != nil {
						return err
					}
					out = map[string]any{"call": n, "body": string(b), "html": "<b>"}
					if g == nil {
						return nil
					}
					return g.Finish(r.Context(), tx, out)
				})
				return out, err
			})
		do := func(user, key, body string) *httptest.ResponseRecorder {
			r := httptest.NewRequest("POST", "/api/v1/transfers", strings.NewReader(body))
			if key != "" {
				r.Header.Set("Idempotency-Key", key)
			}
			r.Header.Set("X-User", user)
			rec := httptest.NewRecorder()
			h(rec, r)
			return rec
		}
		works := func() int {
			var n int
			if err := d.Read(ctx, func(tx *db.Tx) error {
				return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM idem_work`).Scan(&n)
			}); err != nil {
				t.Fatal(err)
			}
			return n
		}

		// Ten concurrent duplicates: the work runs once, everyone gets the first answer.
		var wg sync.WaitGroup
		recs := make([]*httptest.ResponseRecorder, 10)
		for i := range recs {
			wg.Add(1)
			go func(i int) { defer wg.Done(); recs[i] = do("u1", "k1", `{"amount":"1.00"}`) }(i)
		}
		wg.Wait()
		if calls.Load() != 1 || works() != 1 {
			t.Fatalf("work ran %d times, %d rows", calls.Load(), works())
		}
		replayed := 0
		for _, rec := range recs {
			if rec.Code != 201 || rec.Body.String() != recs[0].Body.String() || !strings.Contains(rec.Body.String(), `"html":"<b>"`) {
				t.Fatalf("replay differs: %d %s vs %s", rec.Code, rec.Body, recs[0].Body)
			}
			if rec.Header().Get("Idempotent-Replayed") == "true" {
				replayed++
			}
			if ct := rec.Header().Get("Content-Type"); ct != jsonContentType {
				t.Fatalf("content type %q", ct)
			}
		}
		if replayed != 9 {
			t.Fatalf("%d of 10 marked replayed", replayed)
		}
		// Same key, different body: conflict, nothing runs.
		if rec := do("u1", "k1", `{"amount":"2.00"}`); rec.Code != 409 || !strings.Contains(rec.Body.String(), "idempotency_conflict") {
			t.Fatalf("conflict: %d %s", rec.Code, rec.Body)
		}
		// Another caller's key space is separate.
		if rec := do("u2", "k1", `{"amount":"2.00"}`); rec.Code != 201 || calls.Load() != 2 {
			t.Fatalf("scopes not separate: %d calls=%d", rec.Code, calls.Load())
		}
		// A refusal is the key's answer from then on, even once the cause is gone.
		setFail(apperr.New(apperr.CodeAmountInvalid))
		first := do("u1", "k3", `{}`)
		if first.Code != 422 && first.Code != 400 {
			t.Fatalf("refusal: %d %s", first.Code, first.Body)
		}
		setFail(nil)
		again := do("u1", "k3", `{}`)
		if again.Code != first.Code || again.Body.String() != first.Body.String() || again.Header().Get("Idempotent-Replayed") != "true" || calls.Load() != 3 {
			t.Fatalf("refusal not replayed: %d %s calls=%d", again.Code, again.Body, calls.Load())
		}
		// A server error keeps nothing (its work rolled back): the retry runs again.
		setFail(errors.New("boom"))
		if rec := do("u1", "k4", `{}`); rec.Code != 500 {
			t.Fatal(rec.Code)
		}
		setFail(nil)
		if rec := do("u1", "k4", `{}`); rec.Code != 201 || calls.Load() != 5 {
			t.Fatalf("retry after 500: %d calls=%d", rec.Code, calls.Load())
		}
		// A key held by a request on the Wrap path is waited for, then answered.
		if _, owned, err := m.claim(ctx, "u1", "k5", requestHash(httptest.NewRequest("POST", "/api/v1/transfers", nil), []byte(`{}`))); err != nil || !owned {
			t.Fatalf("claim: %v %v", owned, err)
		}
		go func() {
			time.Sleep(150 * time.Millisecond)
			_ = m.finish(ctx, "u1", "k5", 201, jsonContentType, `{"from":"wrap"}`)
		}()
		if rec := do("u1", "k5", `{}`); rec.Code != 201 || rec.Body.String() != `{"from":"wrap"}` || calls.Load() != 5 {
			t.Fatalf("busy key: %d %s calls=%d", rec.Code, rec.Body, calls.Load())
		}
		// No key: the service runs without the guard (and is itself refusing or not).
		if rec := do("u3", "", `{}`); rec.Code != 201 || calls.Load() != 6 {
			t.Fatalf("no key: %d calls=%d", rec.Code, calls.Load())
		}
		if rec := do("u1", strings.Repeat("x", 300), `{}`); rec.Code != 400 {
			t.Fatalf("long key: %d", rec.Code)
		}
	})
}
