package db

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// walProgress reads, without checkpointing, how many frames the log holds and how many
// of them are copied into the database (WalIndexHdr.mxFrame, WalCkptInfo.nBackfill in the
// -shm file, native byte order).
func walProgress(t *testing.T, path string) (frames, backfilled uint32) {
	t.Helper()
	b, err := os.ReadFile(path + "-shm")
	if err != nil {
		t.Fatalf("read shm: %v", err)
	}
	if len(b) < 100 {
		t.Fatalf("shm has %d bytes", len(b))
	}
	return binary.LittleEndian.Uint32(b[16:20]), binary.LittleEndian.Uint32(b[96:100])
}

func TestCheckpointerCopiesLogOffTheWriter(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var auto int
	if err := d.W.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != backstopPages {
		t.Fatalf("writer wal_autocheckpoint = %d, want the backstop %d", auto, backstopPages)
	}
	if _, err := d.W.ExecContext(ctx, `CREATE TABLE t (v BLOB)`); err != nil {
		t.Fatal(err)
	}
	// ~3,000 pages in 100 commits: past SQLite's default autocheckpoint (1,000), far
	// below the writer's backstop, so only the checkpointer can have copied them.
	blob := []byte(strings.Repeat("x", 120_000))
	for i := 0; i < 100; i++ {
		if _, err := d.W.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, blob); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		frames, done := walProgress(t, d.Path)
		if frames < 2000 {
			t.Fatalf("log holds %d frames: the writer checkpointed or restarted it itself", frames)
		}
		if done == frames {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpointer copied %d of %d frames in 5 s", done, frames)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var n int
	if err := d.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err != nil || n != 100 {
		t.Fatalf("rows after checkpoint: %d, %v", n, err)
	}
}

func TestInTxSyncLaterOnlyForItsTransaction(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.W.ExecContext(ctx, `CREATE TABLE t (v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	syncMode := func(q interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}) int {
		var v int
		if err := q.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	const normal, full = 1, 2
	for _, fail := range []bool{false, true} {
		err := d.InTxSyncLater(ctx, func(tx *Tx) error {
			if m := syncMode(tx); m != normal {
				t.Errorf("inside: synchronous = %d, want NORMAL", m)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (1)`); err != nil {
				return err
			}
			if fail {
				return errors.New("refused")
			}
			return nil
		})
		if (err != nil) != fail {
			t.Fatalf("fail=%v: %v", fail, err)
		}
		// Every other writer commits with FULL again.
		if m := syncMode(d.W); m != full {
			t.Fatalf("after (fail=%v): writer synchronous = %d, want FULL", fail, m)
		}
	}
	if err := d.SyncLog(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := d.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows: %d, %v (the failed transaction must have rolled back)", n, err)
	}
}

// Each connection kind gets its own page cache: a 64 MB cache on the checkpointer (the
// writer's size, had its DSN's own setting lost) added 60 MB to the ledger bench's RSS.
func TestSQLiteCacheSizes(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, c := range []struct {
		name string
		q    *sql.DB
		want int
	}{{"writer", d.W, -65536}, {"reader", d.R, -8192}, {"checkpointer", d.ckpt.conn, -1024}} {
		var got int
		if err := c.q.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s cache_size = %d, want %d", c.name, got, c.want)
		}
	}
}
