package ledger

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"okpay/internal/db"
	"okpay/internal/db/dbtest"
)

// The committer commits without waiting for the disk and the syncer answers after the
// flush: no call may be answered before the log holding it was synced, and a failed
// flush must reach the callers instead of an OK.
func TestAnswersOnlyAfterTheLogIsSynced(t *testing.T) {
	for _, engine := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(engine), func(t *testing.T) { testAnswersAfterSync(t, engine) })
	}
}

func testAnswersAfterSync(t *testing.T, engine db.Engine) {
	d := dbtest.Open(t, engine, dbtest.NewClock())
	var syncing, synced atomic.Int64
	var fail atomic.Bool
	orig := syncLog
	syncLog = func(d *db.DB) error {
		syncing.Add(1)
		time.Sleep(20 * time.Millisecond) // a slow disk: answers must wait for it
		if fail.Load() {
			return errors.New("disk gone")
		}
		err := orig(d)
		synced.Add(1)
		return err
	}
	t.Cleanup(func() { syncLog = orig })
	l, err := New(d, Options{SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sys, user := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	res, err := l.CreateAccounts(ctx, []Account{{ID: sys, Asset: "CNY", Code: 1, Owner: "sys"}, {ID: user, Asset: "CNY", Code: 2, Owner: "u"}})
	if err != nil || res[0].Code != OK || res[1].Code != OK {
		t.Fatalf("accounts: %v %v", res, err)
	}
	for i := 0; i < 5; i++ {
		before := synced.Load()
		r, err := l.Submit(ctx, []Transfer{{ID: uuid.Must(uuid.NewV7()), DebitAccountID: sys, CreditAccountID: user, Amount: 1, Asset: "CNY", Code: 1}})
		if err != nil || r[0].Code != OK {
			t.Fatalf("submit: %v %v", r, err)
		}
		if synced.Load() == before {
			t.Fatal("Submit answered before any fsync of the log after its commit")
		}
	}
	fail.Store(true)
	_, err = l.Submit(ctx, []Transfer{{ID: uuid.Must(uuid.NewV7()), DebitAccountID: sys, CreditAccountID: user, Amount: 1, Asset: "CNY", Code: 1}})
	if err == nil {
		t.Fatal("Submit answered OK although the fsync of its log failed")
	}
	_, err = l.Submit(ctx, []Transfer{{ID: uuid.Must(uuid.NewV7()), DebitAccountID: sys, CreditAccountID: user, Amount: 1, Asset: "CNY", Code: 1}})
	if err == nil {
		t.Fatal("a call after a failed fsync was answered OK: durability is unknown from then on")
	}
	if syncing.Load() < 6 {
		t.Fatalf("only %d fsyncs for 7 calls", syncing.Load())
	}
	if engine == db.Postgres {
		// The committer's SET LOCAL must not leak into the pool's sessions.
		var v string
		if err := d.W.QueryRowContext(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil || v != "on" {
			t.Fatalf("pool session synchronous_commit = %q, %v", v, err)
		}
	}
}
