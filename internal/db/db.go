// Package db opens OKPay's storage — SQLite (embedded default) or PostgreSQL — applies the
// embedded migrations, and runs service calls in transactions with one "now" per
// transaction. The few real differences between the engines live in Dialect; callers write
// portable SQL with $1 placeholders. It knows nothing of accounts, users or money.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Engine names the database engine.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Clock gives "now"; tests inject a fake one.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time truncated to microseconds, the resolution stored.
func (SystemClock) Now() time.Time { return time.Now().Truncate(time.Microsecond) }

// Config says which database to open.
type Config struct {
	// URL is a postgres:// URL; empty means SQLite in DataDir.
	URL string
	// DataDir holds okpay.db for SQLite; created if missing.
	DataDir string
	// MaxConns caps the PostgreSQL pool and the SQLite reader pool.
	MaxConns int
	Clock    Clock
}

// DB is an open database. W is the pool for writes: on SQLite one connection, because SQLite
// has one writer and queueing in Go is cheaper than SQLITE_BUSY retries; R serves reads (WAL
// readers do not block the writer). On PostgreSQL both are the same pool.
type DB struct {
	W, R    *sql.DB
	Engine  Engine
	Dialect Dialect
	Clock   Clock
	// Path is the SQLite file, for messages.
	Path string

	// wc, rc cache prepared statements of W and R (SQLite only; see stmtcache.go).
	wc, rc *stmtCache
	// ckpt checkpoints the WAL off the writer (SQLite only; see checkpoint.go).
	ckpt    *checkpointer
	logSync // SyncLog's descriptor of the log file (syncahead.go)

	closeMu sync.Mutex
	onClose []func()
}

// OnClose runs fn when d is closed, before its connections are. Packages that keep state
// per database in a registry of their own use it to drop the entry, so a process that
// opens many databases (tests, tools) does not keep every closed one reachable.
func (d *DB) OnClose(fn func()) {
	d.closeMu.Lock()
	defer d.closeMu.Unlock()
	d.onClose = append(d.onClose, fn)
}

// Open opens and pings the database. It does not migrate; call Migrate.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 16
	}
	var d *DB
	var err error
	if cfg.URL != "" {
		d, err = openPostgres(cfg)
	} else {
		d, err = openSQLite(cfg)
	}
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.W.PingContext(pctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("open %s database: ping: %w", d.Engine, err)
	}
	return d, nil
}

func openPostgres(cfg Config) (*DB, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("open postgres: database URL must start with postgres://")
	}
	pool, err := sql.Open("pgx", cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pool.SetMaxOpenConns(cfg.MaxConns)
	pool.SetMaxIdleConns(cfg.MaxConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{W: pool, R: pool, Engine: Postgres, Dialect: pgDialect{}, Clock: cfg.Clock}, nil
}

func openSQLite(cfg Config) (*DB, error) {
	dir := cfg.DataDir
	if dir == "" {
		dir = "okpay-data"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite: create data folder: %w", err)
	}
	path := filepath.Join(dir, "okpay.db")
	// synchronous=FULL: this database holds money, a commit must survive power loss.
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "foreign_keys(1)", "busy_timeout(10000)", "synchronous(FULL)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	// The writer checkpoints only as a backstop (see checkpoint.go).
	// Each kind of connection names its own page cache (KiB, negative): the driver
	// sorts the DSN's pragmas, so a second cache_size in one DSN does not reliably win.
	w, err := sql.Open("sqlite", dsn+"&_pragma=cache_size(-65536)&_pragma=wal_autocheckpoint("+strconv.Itoa(backstopPages)+")")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Readers get a small page cache: a big one per reader connection multiplied the
	// process's memory (64 MB each) while the OS page cache serves re-reads anyway.
	r, err := sql.Open("sqlite", dsn+"&_pragma=cache_size(-8192)&mode=ro")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite reader: %w", err)
	}
	r.SetMaxOpenConns(cfg.MaxConns)
	r.SetMaxIdleConns(cfg.MaxConns)
	ck, err := startCheckpointer(dsn)
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	return &DB{W: w, R: r, Engine: SQLite, Dialect: sqliteDialect{}, Clock: cfg.Clock, Path: path,
		wc: newStmtCache(w), rc: newStmtCache(r), ckpt: ck}, nil
}

// Close closes both pools.
func (d *DB) Close() error {
	d.closeMu.Lock()
	hooks := d.onClose
	d.onClose = nil
	d.closeMu.Unlock()
	for _, fn := range hooks {
		fn()
	}
	if d.ckpt != nil {
		d.ckpt.stop()
	}
	d.closeLog()
	for _, c := range []*stmtCache{d.wc, d.rc} {
		if c != nil {
			c.close()
		}
	}
	err := d.W.Close()
	if d.R != d.W {
		err = errors.Join(err, d.R.Close())
	}
	return err
}

// Tx is one service call's transaction: "now" is read once so every row written in it
// carries the same time.
type Tx struct {
	*sql.Tx
	Now     time.Time
	Dialect Dialect

	onEnd []func(committed bool)
	sc    *stmtCache // the pool's statement cache (stmtcache.go); nil on PostgreSQL
}

// OnEnd registers fn to run once the transaction has ended, with whether it committed.
// It runs after the commit or rollback returned (the connection is back in its pool), in
// registration order. Code that mirrors the transaction's writes in memory uses it to
// publish them only if they committed, or to undo them.
func (t *Tx) OnEnd(fn func(committed bool)) { t.onEnd = append(t.onEnd, fn) }

func (t *Tx) end(committed bool) {
	for _, fn := range t.onEnd {
		fn(committed)
	}
}

// NowMicros is Now as stored: integer microseconds since the Unix epoch.
func (t *Tx) NowMicros() int64 { return t.Now.UnixMicro() }

// maxRetries bounds retries of transactions that failed only because another one won a race.
const maxRetries = 5

// InTx runs fn in a write transaction and commits if it returns nil. Serialization failures
// and deadlocks (PostgreSQL) and SQLITE_BUSY are retried a bounded number of times with the
// whole of fn, so fn must not have effects outside the transaction.
func (d *DB) InTx(ctx context.Context, fn func(*Tx) error) error {
	return d.retry(ctx, func() error { return d.runTx(ctx, d.W, false, fn) })
}

// retry runs attempt until it succeeds, fails for a reason other than losing a race, or
// maxRetries attempts have been made.
func (d *DB) retry(ctx context.Context, attempt func() error) error {
	var err error
	for i := 0; i < maxRetries; i++ {
		err = attempt()
		if err == nil || !d.retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(i+1) * 5 * time.Millisecond):
		}
	}
	return err
}

// Read runs fn in a read-only transaction on the reader pool, so reads see one snapshot.
func (d *DB) Read(ctx context.Context, fn func(*Tx) error) error {
	return d.runTx(ctx, d.R, true, fn)
}

// beginner is a pool or one of its connections.
type beginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

func (d *DB) runTx(ctx context.Context, pool beginner, readOnly bool, fn func(*Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: readOnly && d.Engine == Postgres}
	sqlTx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	tx := &Tx{Tx: sqlTx, Now: d.Clock.Now().Truncate(time.Microsecond), Dialect: d.Dialect, sc: d.rc}
	if !readOnly {
		tx.sc = d.wc
	}
	defer func() {
		// A panic in fn must still end the transaction and run the hooks (they may hold
		// locks); the panic goes on to the caller's recovery.
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			tx.end(false)
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		_ = sqlTx.Rollback()
		tx.end(false)
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		// A failed COMMIT leaves the transaction rolled back on both engines.
		tx.end(false)
		return fmt.Errorf("commit: %w", err)
	}
	tx.end(true)
	return nil
}

func (d *DB) retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

// IsUniqueViolation reports whether err is a unique-constraint failure on either engine.
func IsUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// Micros converts a stored timestamp back to time.
func Micros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// Redact hides the password in a database URL for logs and messages.
func Redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "(unparseable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// PgxConn gives raw access to the pgx connection behind a database/sql connection, for the
// bulk paths (COPY) that database/sql cannot express.
func PgxConn(driverConn any) (*stdlib.Conn, bool) {
	c, ok := driverConn.(*stdlib.Conn)
	return c, ok
}

// Placeholders returns "$start, $start+1, …" n times, for building multi-row statements.
func Placeholders(start, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", start+i)
	}
	return b.String()
}
