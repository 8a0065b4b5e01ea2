package api

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/httpx"
)

func TestIdempotency(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		m := &Idempotency{DB: d, Lock: 5 * time.Second, Keep: 24 * time.Hour}
		var calls atomic.Int64
		fail := atomic.Bool{}
		h := m.Wrap(func(r *http.Request) string { return r.Header.Get("X-User") }, func(w http.ResponseWriter, r *http.Request) {
			n := calls.Add(1)
			b, _ := io.ReadAll(r.Body)
			time.Sleep(50 * time.Millisecond) // let duplicates arrive while this one runs
			if fail.Load() {
				http.Error(w, "boom", 500)
				return
			}
			httpx.WriteJSON(w, 201, map[string]any{"call": n, "body": string(b)})
		})
		do := func(user, key, body string) *httptest.ResponseRecorder {
			r := httptest.NewRequest("POST", "/api/v1/transfers", strings.NewReader(body))
			r.Header.Set("Idempotency-Key", key)
			r.Header.Set("X-User", user)
			rec := httptest.NewRecorder()
			h(rec, r)
			return rec
		}
		// Ten concurrent duplicates: the work runs once, everyone gets the first answer.
		var wg sync.WaitGroup
		recs := make([]*httptest.ResponseRecorder, 10)
		for i := range recs {
			wg.Add(1)
			go func(i int) { defer wg.Done(); recs[i] = do("u1", "k1", `{"amount":"1.00"}`) }(i)
		}
		wg.Wait()
		if calls.Load() != 1 {
			t.Fatalf("handler ran %d times", calls.Load())
		}
		for _, rec := range recs {
			if rec.Code != 201 || rec.Body.String() != recs[0].Body.String() {
				t.Fatalf("replay differs: %d %s vs %s", rec.Code, rec.Body, recs[0].Body)
			}
		}
		// Same key, different body: conflict, nothing runs.
		if rec := do("u1", "k1", `{"amount":"2.00"}`); rec.Code != 409 || !strings.Contains(rec.Body.String(), "idempotency_conflict") {
			t.Fatalf("conflict: %d %s", rec.Code, rec.Body)
		}
		// Another caller's key space is separate.
		if rec := do("u2", "k1", `{"amount":"2.00"}`); rec.Code != 201 || calls.Load() != 2 {
			t.Fatalf("scopes not separate: %d calls=%d", rec.Code, calls.Load())
		}
		// A server error frees the key so the retry runs again.
		fail.Store(true)
		if rec := do("u1", "k2", `{}`); rec.Code != 500 {
			t.Fatal(rec.Code)
		}
		fail.Store(false)
		if rec := do("u1", "k2", `{}`); rec.Code != 201 || calls.Load() != 4 {
			t.Fatalf("retry after 500: %d calls=%d", rec.Code, calls.Load())
		}
		if rec := do("u1", strings.Repeat("x", 300), `{}`); rec.Code != 400 {
			t.Fatalf("long key: %d", rec.Code)
		}
		// Old responses are purged.
		d.Clock.(*dbtest.Clock).Advance(25 * time.Hour)
		n, err := m.Purge(t.Context())
		if err != nil || n != 3 {
			t.Fatalf("purged %d, %v", n, err)
		}
		_ = fmt.Sprint()
	})
}
