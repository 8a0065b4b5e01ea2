package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// WAL checkpoints off the writer.
//
// SQLite checkpoints a WAL database automatically: the connection whose commit pushes the
// log past wal_autocheckpoint pages (1,000 by default) copies the log into the database
// file and fsyncs it, inside that commit. Here that connection is the one writer, so every
// few hundred ledger batches or wallet calls one of them waited for a checkpoint, and
// everything queued behind the writer with it. A checkpointer goroutine on a connection of
// its own now does that work (PASSIVE: it never blocks the writer or readers, and copies
// only frames no reader still needs), so it runs on the other core while the writer goes
// on. The writer keeps an automatic checkpoint as a backstop at backstopPages, should the
// checkpointer fall behind (a reader holding an old snapshot, a stall): the log then stays
// bounded as before, only later.
//
// Durability is unchanged: a commit is durable once its frames are fsynced to the log
// (synchronous=FULL), which the writer still does; the checkpointer copies committed
// frames and fsyncs the database file before the log may be reused, as SQLite's own
// checkpoint does.

// backstopPages is the writer's wal_autocheckpoint (64 MB of 4 KB pages).
const backstopPages = 16384

// checkpointEvery is how often the checkpointer looks at the log when it is not behind.
const checkpointEvery = 50 * time.Millisecond

type checkpointer struct {
	conn   *sql.DB
	cancel context.CancelFunc
	done   chan struct{}
}

func startCheckpointer(dsn string) (*checkpointer, error) {
	// A small page cache: checkpointing reads each page once, and the DSN's 64 MB would
	// add to the process's memory for nothing.
	c, err := sql.Open("sqlite", dsn+"&_pragma=cache_size(-1024)")
	if err != nil {
		return nil, fmt.Errorf("open sqlite checkpointer: %w", err)
	}
	c.SetMaxOpenConns(1)
	c.SetMaxIdleConns(1)
	c.SetConnMaxLifetime(0)
	c.SetConnMaxIdleTime(0)
	ctx, cancel := context.WithCancel(context.Background())
	ck := &checkpointer{conn: c, cancel: cancel, done: make(chan struct{})}
	go ck.run(ctx)
	return ck, nil
}

func (ck *checkpointer) run(ctx context.Context) {
	defer close(ck.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Errors (the database being closed under us, a busy checkpointer lock) only
		// delay the work to the next tick or to the writer's backstop; nothing to report.
		var busy, logFrames, done int64
		_ = ck.conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &done)
	}
}

// stop ends the goroutine and closes its connection; the last connection to close
// (the writer's) checkpoints and removes the log as before.
func (ck *checkpointer) stop() {
	ck.cancel()
	<-ck.done
	ck.conn.Close()
}
