package db_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"okpay/internal/db"
	"okpay/internal/db/dbtest"
)

func TestMigrateIdempotentAndReady(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		n, err := d.Migrate(ctx)
		if err != nil || n != 0 {
			t.Fatalf("second migrate applied %d, err %v", n, err)
		}
		p, err := d.PendingMigrations(ctx)
		if err != nil || p != 0 {
			t.Fatalf("pending %d err %v", p, err)
		}
	})
}

func TestTxCommitRollbackAndNow(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clock := d.Clock.(*dbtest.Clock)
		err := d.InTx(ctx, func(tx *db.Tx) error {
			if !tx.Now.Equal(clock.Now()) {
				t.Errorf("tx now %v, clock %v", tx.Now, clock.Now())
			}
			return db.SetMetaTx(ctx, tx, "a", "1")
		})
		if err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		err = d.InTx(ctx, func(tx *db.Tx) error {
			if err := db.SetMetaTx(ctx, tx, "a", "2"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("want boom, got %v", err)
		}
		v, ok, err := d.GetMeta(ctx, "a")
		if err != nil || !ok || v != "1" {
			t.Fatalf("rolled-back write visible: %q %v %v", v, ok, err)
		}
		var seen int64
		err = d.Read(ctx, func(tx *db.Tx) error {
			return tx.QueryRowContext(ctx, `SELECT updated_at FROM meta WHERE key = $1`, "a").Scan(&seen)
		})
		if err != nil || seen != clock.Now().UnixMicro() {
			t.Fatalf("updated_at %d, want %d (%v)", seen, clock.Now().UnixMicro(), err)
		}
	})
}

func TestUniqueViolationDetected(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		ins := func() error {
			return d.InTx(ctx, func(tx *db.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO job_leases (name, holder, expires_at) VALUES ($1, $2, $3)`, "x", "h", 1)
				return err
			})
		}
		if err := ins(); err != nil {
			t.Fatal(err)
		}
		if err := ins(); !db.IsUniqueViolation(err) {
			t.Fatalf("want unique violation, got %v", err)
		}
	})
}

func TestLeaseExclusive(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clock := d.Clock.(*dbtest.Clock)
		var wg sync.WaitGroup
		var mu sync.Mutex
		winners := 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				ok, err := d.TryLease(ctx, "sweep", string(rune('a'+i)), time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					winners++
					mu.Unlock()
				}
			}(i)
		}
		wg.Wait()
		if winners != 1 {
			t.Fatalf("%d holders of one lease", winners)
		}
		clock.Advance(2 * time.Minute)
		ok, err := d.TryLease(ctx, "sweep", "late", time.Minute)
		if err != nil || !ok {
			t.Fatalf("expired lease not taken over: %v %v", ok, err)
		}
	})
}

func TestConcurrentMigratePostgres(t *testing.T) {
	u := dbtest.NewSchema(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d, err := db.Open(ctx, db.Config{URL: u})
			if err != nil {
				errs[i] = err
				return
			}
			defer d.Close()
			_, errs[i] = d.Migrate(ctx)
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
}

func TestRedact(t *testing.T) {
	if got := db.Redact("postgres://u:hunter2@h/db"); got != "postgres://u:xxxxx@h/db" {
		t.Fatal(got)
	}
}

func TestTxOnEnd(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		var got []string
		if err := d.InTx(ctx, func(tx *db.Tx) error {
			tx.OnEnd(func(c bool) { got = append(got, fmt.Sprintf("a%v", c)) })
			tx.OnEnd(func(c bool) { got = append(got, fmt.Sprintf("b%v", c)) })
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		if err := d.InTx(ctx, func(tx *db.Tx) error {
			tx.OnEnd(func(c bool) { got = append(got, fmt.Sprintf("c%v", c)) })
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		func() {
			defer func() { _ = recover() }()
			_ = d.InTx(ctx, func(tx *db.Tx) error {
				tx.OnEnd(func(c bool) { got = append(got, fmt.Sprintf("p%v", c)) })
				panic("in fn")
			})
		}()
		if want := "[atrue btrue cfalse pfalse]"; fmt.Sprint(got) != want {
			t.Fatalf("hooks ran %v, want %s", got, want)
		}
	})
}
