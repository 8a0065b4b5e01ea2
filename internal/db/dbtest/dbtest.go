// Package dbtest runs store tests against both engines: SQLite always, PostgreSQL when
// OKPAY_TEST_DATABASE_URL is set (CI always sets it; with CI=true a missing URL fails the
// test instead of skipping, so PostgreSQL coverage cannot silently disappear).
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"okpay/internal/db"
)

// Clock is a settable clock for tests; safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at a fixed, readable instant.
func NewClock() *Clock {
	return &Clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

// Now returns the current fake time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// PostgresURL returns the base URL for PostgreSQL tests, skipping (or failing under CI) when
// it is not configured.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("OKPAY_TEST_DATABASE_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("OKPAY_TEST_DATABASE_URL is not set under CI: PostgreSQL tests must run")
		}
		t.Skip("PostgreSQL: set OKPAY_TEST_DATABASE_URL to run (scripts/pg-start.sh starts one)")
	}
	return u
}

// Engines runs fn once per engine as subtests named "sqlite" and "postgres", each on a new,
// migrated, empty database using clock (a new Clock when nil).
func Engines(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	for _, e := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(e), func(t *testing.T) {
			fn(t, Open(t, e, nil))
		})
	}
}

// Open returns a new migrated database of engine, closed and removed when t ends.
func Open(t testing.TB, engine db.Engine, clock db.Clock) *db.DB {
	t.Helper()
	if clock == nil {
		clock = NewClock()
	}
	cfg := db.Config{Clock: clock}
	if engine == db.Postgres {
		cfg.URL = NewSchema(t)
	} else {
		cfg.DataDir = t.TempDir()
	}
	d, err := db.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open %s: %v", engine, err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", engine, err)
	}
	return d
}

// NewSchema creates an empty PostgreSQL schema for one test and returns a URL whose
// connections use it; the schema is dropped when t ends.
func NewSchema(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatalf("postgres: create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("postgres URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
