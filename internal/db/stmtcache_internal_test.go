package db

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// The cached methods give the plain methods' results on SQLite's one writer connection
// (first use inside a transaction must not wait on the pool it holds), from then on run
// the pool's prepared statement, and survive Close with statements still preparing.
func TestStmtCacheSQLite(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, Config{DataDir: t.TempDir(), MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.InTx(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	const ins = `INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = kv.v + excluded.v`
	const get = `SELECT v FROM kv WHERE k = $1`
	const list = `SELECT k FROM kv WHERE v >= $1 ORDER BY k`
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				err := d.InTx(ctx, func(tx *Tx) error {
					if _, err := tx.ExecCached(ctx, ins, fmt.Sprint("k", i%5), 1); err != nil {
						return err
					}
					var v int
					return tx.QueryRowCached(ctx, get, fmt.Sprint("k", i%5)).Scan(&v)
				})
				if err != nil {
					t.Error(err)
					return
				}
				err = d.Read(ctx, func(tx *Tx) error {
					rows, err := tx.QueryCached(ctx, list, 1)
					if err != nil {
						return err
					}
					defer rows.Close()
					for rows.Next() {
					}
					return rows.Err()
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	var total int
	if err := d.Read(ctx, func(tx *Tx) error {
		return tx.QueryRowCached(ctx, `SELECT SUM(v) FROM kv`).Scan(&total)
	}); err != nil || total != 400 {
		t.Fatalf("sum %d, err %v", total, err)
	}
	// A single statement outside a transaction, through the reader's cache.
	for i := 0; i < 3; i++ {
		var v int
		if err := d.ReadRowCached(ctx, `SELECT v FROM kv WHERE k = $1`, "k1").Scan(&v); err != nil || v != 80 {
			t.Fatalf("read row: %d %v", v, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		d.wc.mu.Lock()
		_, w1 := d.wc.m[ins]
		_, w2 := d.wc.m[get]
		d.wc.mu.Unlock()
		d.rc.mu.Lock()
		_, r1 := d.rc.m[list]
		d.rc.mu.Unlock()
		if w1 && w2 && r1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("statements not cached: %v %v %v", w1, w2, r1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Errors come back as from the plain methods.
	err = d.InTx(ctx, func(tx *Tx) error {
		_, err := tx.ExecCached(ctx, `INSERT INTO kv (k, v) VALUES ($1, NULL)`, "x")
		return err
	})
	if err == nil {
		t.Fatal("NOT NULL violation not reported")
	}
	// A statement still preparing when the database closes is dropped quietly.
	_ = d.InTx(ctx, func(tx *Tx) error {
		_, err := tx.ExecCached(ctx, `DELETE FROM kv WHERE k = $1`, "k0")
		return err
	})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}
