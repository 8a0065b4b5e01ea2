package db

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// Statement cache (SQLite). The pure-Go SQLite driver parses a statement's text every
// time it is run through Tx.ExecContext/QueryContext: on the wallet's hot path that was
// about a quarter of all CPU (docs/PERFORMANCE.md, "Wallet API"). ExecCached,
// QueryCached and QueryRowCached run a statement prepared once per pool and bound to the
// transaction instead. PostgreSQL needs none of this: pgx already keeps prepared
// statements per connection, so there the methods are the plain ones.
//
// A statement is never prepared on the pool from inside a transaction: SQLite's writer
// pool has one connection, which the transaction holds, so that would wait on itself.
// The first use of a text runs it the plain way and prepares it on the pool in the
// background (the preparing goroutine gets a connection once one is free); later uses
// find it ready. Only callers that opt in use the cache, with a bounded number of texts.

// maxCachedStmts bounds the statements kept per pool; texts beyond it run unprepared.
const maxCachedStmts = 512

type stmtCache struct {
	pool *sql.DB

	mu     sync.Mutex
	m      map[string]*sql.Stmt
	busy   map[string]bool // being prepared in the background
	closed bool
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, m: map[string]*sql.Stmt{}, busy: map[string]bool{}}
}

// get returns the pool's prepared statement for query bound to tx, or nil when it is not
// prepared yet (then it starts preparing it).
func (c *stmtCache) get(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	st := c.pooled(query)
	if st == nil {
		return nil
	}
	return tx.StmtContext(ctx, st)
}

// pooled returns the pool's prepared statement for query, or nil when it is not prepared
// yet (then it starts preparing it).
func (c *stmtCache) pooled(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.m[query]
	if !ok && !c.closed && !c.busy[query] && len(c.m)+len(c.busy) < maxCachedStmts {
		c.busy[query] = true
		go c.prepare(query)
	}
	return st
}

func (c *stmtCache) prepare(query string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := c.pool.PrepareContext(ctx, query)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.busy, query)
	if err != nil {
		return // runs unprepared; a later use tries again
	}
	if c.closed {
		st.Close()
		return
	}
	c.m[query] = st
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for q, st := range c.m {
		st.Close()
		delete(c.m, q)
	}
}

// ExecCached is ExecContext through the statement cache (see above).
func (t *Tx) ExecCached(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if t.sc != nil {
		if st := t.sc.get(ctx, t.Tx, query); st != nil {
			return st.ExecContext(ctx, args...)
		}
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryCached is QueryContext through the statement cache (see above).
func (t *Tx) QueryCached(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if t.sc != nil {
		if st := t.sc.get(ctx, t.Tx, query); st != nil {
			return st.QueryContext(ctx, args...)
		}
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

// QueryRowCached is QueryRowContext through the statement cache (see above).
func (t *Tx) QueryRowCached(ctx context.Context, query string, args ...any) *sql.Row {
	if t.sc != nil {
		if st := t.sc.get(ctx, t.Tx, query); st != nil {
			return st.QueryRowContext(ctx, args...)
		}
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

// ReadRowCached runs one read statement on the reader pool outside any transaction (a
// single statement sees one snapshot on both engines), through the reader's statement
// cache on SQLite. Hot single-statement reads use it to skip BEGIN and COMMIT: two
// round trips on PostgreSQL.
func (d *DB) ReadRowCached(ctx context.Context, query string, args ...any) *sql.Row {
	if d.rc != nil {
		if st := d.rc.pooled(query); st != nil {
			return st.QueryRowContext(ctx, args...)
		}
	}
	return d.R.QueryRowContext(ctx, query, args...)
}
