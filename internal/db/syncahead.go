package db

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"sync"
)

// Commit now, fsync next to the following transaction (SQLite).
//
// With synchronous=FULL every COMMIT on the one writer connection waits for an fsync of
// the log, and nothing else can be written meanwhile. A caller that batches many
// callers' work per transaction (the ledger's committer) can do better: commit with
// synchronous=NORMAL (the frames reach the log file, without fsync), start on its next
// batch at once, and answer the callers of the first only after SyncLog has made the log
// durable, from another goroutine. Nothing acknowledged can be lost: an fsync makes
// every frame written before it durable, the log is appended in commit order, and a
// transaction whose frames did not reach the disk is simply absent after a crash (SQLite
// checks frame checksums), as if it never committed — its callers were not answered.
//
// What changes is only what other connections see between COMMIT and the fsync (about a
// millisecond): a reader can see a transaction that a power loss in that window would
// undo. A writer that reads it and commits with FULL makes it durable first (log order),
// so no durable state ever depends on a lost one.

// PostgreSQL offers the same per transaction: with synchronous_commit off its COMMIT
// returns before the commit record is flushed, and any later commit that waits for its
// own flush (SyncLog's) flushes everything logged before it, across every session and
// node, since the log is one sequence.

// InTxSyncLater is InTx for such callers: fn's transaction commits without waiting for
// the log to reach the disk. The caller must call SyncLog, and have it return nil, before
// it tells anyone the transaction is durable. Other transactions keep waiting for their
// flush: on SQLite the setting is switched on the pinned writer connection for this
// transaction only, on PostgreSQL with SET LOCAL.
func (d *DB) InTxSyncLater(ctx context.Context, fn func(*Tx) error) error {
	if d.Engine == Postgres {
		return d.InTx(ctx, func(tx *Tx) error {
			if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
				return fmt.Errorf("set synchronous_commit: %w", err)
			}
			return fn(tx)
		})
	}
	return d.retry(ctx, func() error { return d.runTxSyncLater(ctx, fn) })
}

func (d *DB) runTxSyncLater(ctx context.Context, fn func(*Tx) error) (err error) {
	conn, err := d.W.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		// FULL again before the connection goes back to the pool: every other writer's
		// COMMIT must still wait for its fsync. If that fails the connection is
		// discarded rather than handed on with NORMAL.
		if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = FULL`); rerr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			err = errors.Join(err, fmt.Errorf("restore synchronous: %w", rerr))
		}
		conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
		return fmt.Errorf("set synchronous: %w", err)
	}
	return d.runTx(ctx, conn, false, fn)
}

// SyncLog makes everything committed so far durable. SQLite: one fsync of the log file
// (fsync is per file, so it covers frames written through any descriptor). PostgreSQL: a
// transaction that takes a transaction id and commits with the session's
// synchronous_commit (on by default), whose COMMIT waits until the log is flushed past
// its commit record. It is safe for concurrent use; callers usually have one goroutine
// gather waiting batches per call.
func (d *DB) SyncLog() error {
	if d.Engine == Postgres {
		// One statement outside BEGIN … COMMIT is its own transaction: one round trip
		// instead of three, and its commit waits for the flush all the same.
		if _, err := d.W.ExecContext(context.Background(), `SELECT txid_current()`); err != nil {
			return fmt.Errorf("sync log: %w", err)
		}
		return nil
	}
	d.logMu.Lock()
	defer d.logMu.Unlock()
	path := d.Path + "-wal"
	// The log file is reused, not replaced, while any connection is open; check anyway
	// (one stat): an fsync of a replaced file's old descriptor would sync nothing.
	if d.logFile != nil {
		fi, err1 := d.logFile.Stat()
		pi, err2 := os.Stat(path)
		if err1 != nil || err2 != nil || !os.SameFile(fi, pi) {
			d.logFile.Close()
			d.logFile = nil
		}
	}
	if d.logFile == nil {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("sync log: %w", err)
		}
		d.logFile = f
	}
	if err := d.logFile.Sync(); err != nil {
		return fmt.Errorf("sync log: %w", err)
	}
	return nil
}

type logSync struct {
	logMu   sync.Mutex
	logFile *os.File
}

func (l *logSync) closeLog() {
	l.logMu.Lock()
	defer l.logMu.Unlock()
	if l.logFile != nil {
		l.logFile.Close()
		l.logFile = nil
	}
}
