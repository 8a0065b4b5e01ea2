package ledger_test

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/ledger"
)

// rowSums reads an account's row as stored, bypassing the ledger.
func rowSums(t *testing.T, d *db.DB, a uuid.UUID) [4]int64 {
	t.Helper()
	var s [4]int64
	if err := d.R.QueryRowContext(context.Background(), `SELECT debits_pending, debits_posted, credits_pending, credits_posted
		FROM ledger_accounts WHERE id = $1`, a[:]).Scan(&s[0], &s[1], &s[2], &s[3]); err != nil {
		t.Fatal(err)
	}
	return s
}

// openDir opens and migrates the SQLite database in dir (a second call opens a second
// handle on the same file, as another process would); the caller closes it.
func openDir(t *testing.T, dir string) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, db.Config{DataDir: dir, Clock: db.SystemClock{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Migrate(ctx); err != nil {
		d.Close()
		t.Fatal(err)
	}
	return d
}

func sumsOf(a ledger.Account) [4]int64 {
	return [4]int64{a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted}
}

// On SQLite account rows lag behind the committed sums (they are checkpoints), yet every
// reader and reconcile see exact sums while the ledger runs, and Close writes every row.
func TestSQLiteRowsLagButReadsAreExact(t *testing.T) {
	d := dbtest.Open(t, db.SQLite, dbtest.NewClock())
	h := start(t, d, ledger.Options{})
	sys := h.account("CNY", 0)
	accts := make([]uuid.UUID, 300)
	want := map[uuid.UUID]int64{}
	for i := range accts {
		accts[i] = h.account("CNY", 0)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 600; i++ {
		a := accts[rng.IntN(len(accts))]
		h.fund(sys, a, 1+int64(i%7))
		want[a] += 1 + int64(i%7)
	}
	lagging := 0
	for _, a := range accts {
		acc, err := h.l.Account(h.ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if acc.CreditsPosted != want[a] {
			t.Fatalf("account credits %d, want %d", acc.CreditsPosted, want[a])
		}
		if rowSums(t, d, a) != sumsOf(acc) {
			lagging++
		}
	}
	if lagging == 0 {
		t.Fatal("no account row lags its sums: the rows are being written per batch")
	}
	// The test's owners share a prefix, so one owner lists many accounts.
	owned, err := h.l.AccountsByOwner(h.ctx, "owner-"+accts[0].String()[:8], uuid.Nil, ledger.MaxPage)
	if err != nil || len(owned) == 0 {
		t.Fatalf("by owner: %v", err)
	}
	for _, acc := range owned {
		if w, ok := want[acc.ID]; ok && acc.CreditsPosted != w {
			t.Fatalf("by owner: credits %d, want %d", acc.CreditsPosted, w)
		}
	}
	h.reconcile() // while rows lag
	if err := h.l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, a := range accts {
		if got := rowSums(t, d, a); got != [4]int64{0, 0, 0, want[a]} {
			t.Fatalf("after Close row %v, want credits %d", got, want[a])
		}
	}
	h.reconcile()
}

// Two ledgers on one SQLite file (as two processes would be) take turns on the same
// accounts: each sees the other's commits (PRAGMA data_version) and replays them before
// deciding, so no update is lost and no overdraft slips through.
func TestSQLiteTwoLedgersOneFile(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d1, d2 := openDir(t, dir), openDir(t, dir)
	t.Cleanup(func() { d1.Close(); d2.Close() })
	h1 := start(t, d1, ledger.Options{})
	h2 := start(t, d2, ledger.Options{})
	sys := h1.account("CNY", 0)
	a := h1.account("CNY", ledger.NoOverdraft)
	b := h1.account("CNY", ledger.NoOverdraft)
	h1.fund(sys, a, 100)
	h2.fund(sys, b, 100)
	ok := 0
	for i := 0; i < 150; i++ {
		h := h1
		if i%3 == 1 {
			h = h2
		}
		if h.one(xfer(a, b, 1)) == ledger.OK {
			ok++
		}
		if i%2 == 0 {
			if h.one(xfer(b, a, 1)) != ledger.OK {
				t.Fatal("b pays a back: refused")
			}
		}
	}
	h1.fund(sys, a, 1)
	acc, err := h1.l.Account(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(100 - ok + 75 + 1); acc.CreditsPosted-acc.DebitsPosted != want {
		t.Fatalf("a's balance %d, want %d (%d debits ok)", acc.CreditsPosted-acc.DebitsPosted, want, ok)
	}
	h1.reconcile()
	if err := h2.l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h1.l.Close(); err != nil {
		t.Fatal(err)
	}
	h1.reconcile()
}

// A caller that rolls back to a savepoint after SubmitTx undoes the transfers behind the
// ledger's back; the ledger notices after the commit and reads the truth again.
func TestSQLiteSubmitTxUndoneBySavepoint(t *testing.T) {
	d := dbtest.Open(t, db.SQLite, dbtest.NewClock())
	h := start(t, d, ledger.Options{})
	sys := h.account("CNY", 0)
	a := h.account("CNY", 0)
	h.fund(sys, a, 10)
	err := d.InTx(h.ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(h.ctx, `SAVEPOINT s`); err != nil {
			return err
		}
		res, err := h.l.SubmitTx(h.ctx, tx, []ledger.Transfer{xfer(sys, a, 5)})
		if err != nil || res[0].Code != ledger.OK {
			return errors.Join(err, errors.New("submit refused"))
		}
		_, err = tx.ExecContext(h.ctx, `ROLLBACK TO s`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	h.sums(a, 0, 0, 0, 10)
	h.fund(sys, a, 1)
	h.sums(a, 0, 0, 0, 11)
	h.reconcile()
}

// The history file is derived data: deleted, or left over from another database, it is
// rebuilt from the transfers at the next start and lookups list every transfer.
func TestSQLiteHistoryFileRebuilt(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d := openDir(t, dir)
	h := start(t, d, ledger.Options{MergeEvery: 10})
	sys := h.account("CNY", 0)
	a := h.account("CNY", 0)
	for i := 0; i < 35; i++ {
		h.fund(sys, a, 1)
	}
	count := func(h *harness) int {
		t.Helper()
		n, cur := 0, ""
		for {
			page, next, err := h.l.TransfersByAccount(ctx, a, time.Time{}, time.Time{}, cur, 8)
			if err != nil {
				t.Fatal(err)
			}
			n += len(page)
			if next == "" {
				return n
			}
			cur = next
		}
	}
	if n := count(h); n != 35 {
		t.Fatalf("history lists %d transfers, want 35", n)
	}
	restart := func(change func()) *harness {
		t.Helper()
		if err := h.l.Close(); err != nil {
			t.Fatal(err)
		}
		d.Close()
		change()
		d = openDir(t, dir)
		t.Cleanup(func() { d.Close() })
		return start(t, d, ledger.Options{MergeEvery: 10})
	}
	h = restart(func() {
		for _, f := range []string{"okpay-history.db", "okpay-history.db-wal", "okpay-history.db-shm"} {
			if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
	})
	if h.l.StatsSnapshot().Merges == 0 {
		t.Fatal("start did not rebuild the deleted history file")
	}
	if n := count(h); n != 35 {
		t.Fatalf("after deleting the history file: %d transfers, want 35", n)
	}
	h.fund(sys, a, 1)
	h = restart(func() {
		// Another database's history file (a restored backup of okpay.db next to it).
		hd, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "okpay-history.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer hd.Close()
		if _, err := hd.Exec(`UPDATE history_state SET main_id = 'someone-else'; DELETE FROM history_blocks`); err != nil {
			t.Fatal(err)
		}
	})
	if n := count(h); n != 36 {
		t.Fatalf("after a foreign history file: %d transfers, want 36", n)
	}
}

// History lookups run while the committer records and hands off entries and the merger
// writes them (race detector), and always list every acknowledged transfer once.
func TestSQLiteHistoryDuringMerges(t *testing.T) {
	d := dbtest.Open(t, db.SQLite, dbtest.NewClock())
	h := start(t, d, ledger.Options{MergeEvery: 16})
	sys := h.account("CNY", 0)
	a := h.account("CNY", 0)
	const n = 400
	var acked atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < n/8; i++ {
					res, err := h.l.Submit(h.ctx, []ledger.Transfer{xfer(sys, a, 1)})
					if err != nil || res[0].Code != ledger.OK {
						t.Errorf("submit: %v %v", res, err)
						return
					}
					acked.Add(1)
				}
			}()
		}
		wg.Wait()
	}()
	list := func() int {
		seen := map[uuid.UUID]bool{}
		cur := ""
		for {
			page, next, err := h.l.TransfersByAccount(h.ctx, a, time.Time{}, time.Time{}, cur, 50)
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range page {
				if seen[tr.ID] {
					t.Fatalf("transfer %s listed twice", tr.ID)
				}
				seen[tr.ID] = true
			}
			if next == "" {
				return len(seen)
			}
			cur = next
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		before := acked.Load()
		if got := list(); int64(got) < before {
			t.Fatalf("history lists %d transfers, %d were acknowledged before the lookup", got, before)
		}
	}
	if got := list(); got != n {
		t.Fatalf("history lists %d transfers, want %d", got, n)
	}
}
