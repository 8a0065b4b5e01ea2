package ledger_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/ledger"
)

// TestHistoryWithSubmitTxBetweenBatches: transfers written by SubmitTx between the
// committer's batches leave gaps in the committer's in-memory tail. Merged history must
// still list every transfer exactly once, during the run and after a restart.
func TestHistoryWithSubmitTxBetweenBatches(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		opts := ledger.Options{MergeEvery: 4}
		h := start(t, d, opts)
		sys := h.account("CNY", 0)
		a := h.account("CNY", 0)
		want := map[uuid.UUID]bool{}
		for round := 0; round < 12; round++ {
			for i := 0; i < 3; i++ {
				tr := xfer(sys, a, 1)
				h.expect(tr, ledger.OK)
				want[tr.ID] = true
			}
			tr := xfer(sys, a, 1)
			submitTxOK(t, h, d, tr)
			want[tr.ID] = true
			time.Sleep(2 * time.Millisecond) // let merges run between rounds
		}
		listedOnce(t, h, a, want, 10, "live")
		if err := h.l.Close(); err != nil {
			t.Fatal(err)
		}
		h = start(t, d, opts)
		listedOnce(t, h, a, want, 10, "after restart")
		h.reconcile()
	})
}

// TestHistoryMergesSubmitTxWrites: a process that writes only through SubmitTx (the
// wallet) never fills a committer batch, so its transfers must still reach the history
// file while it runs — handed to the merger after a sweep — not pile up until the next
// Start, with every lookup scanning them in the table meanwhile.
func TestHistoryMergesSubmitTxWrites(t *testing.T) {
	d := dbtest.Open(t, db.SQLite, dbtest.NewClock())
	h := start(t, d, ledger.Options{MergeEvery: 8})
	sys := h.account("CNY", 0)
	a := h.account("CNY", 0)
	merges := func() int64 { return h.l.StatsSnapshot().Merges }
	before := merges()
	want := map[uuid.UUID]bool{}
	submit := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			tr := xfer(sys, a, 1)
			submitTxOK(t, h, d, tr)
			want[tr.ID] = true
		}
	}
	sweep := func() {
		t.Helper()
		if _, err := h.l.SweepExpired(h.ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitMerges := func(atLeast int64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); merges() < atLeast; {
			if time.Now().After(deadline) {
				t.Fatalf("merges: %d, want at least %d", merges(), atLeast)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	submit(5)
	sweep()
	time.Sleep(50 * time.Millisecond)
	if got := merges(); got != before {
		t.Fatalf("a sweep merged %d SubmitTx transfers, fewer than MergeEvery (merges %d → %d)", 5, before, got)
	}
	submit(20)
	sweep()
	waitMerges(before + 1)
	// The committer's own batches and SubmitTx mixed: both end up merged and listed once.
	for i := 0; i < 10; i++ {
		tr := xfer(sys, a, 1)
		h.expect(tr, ledger.OK)
		want[tr.ID] = true
	}
	submit(10)
	sweep()
	waitMerges(before + 2)
	listedOnce(t, h, a, want, 7, "live")
	h.reconcile()
}

// submitTxOK writes tr through SubmitTx in a transaction of its own and expects OK.
func submitTxOK(t *testing.T, h *harness, d *db.DB, tr ledger.Transfer) {
	t.Helper()
	if err := d.InTx(h.ctx, func(tx *db.Tx) error {
		res, err := h.l.SubmitTx(h.ctx, tx, []ledger.Transfer{tr})
		if err == nil && res[0].Code != ledger.OK {
			t.Fatalf("submit tx: %v", res[0].Code)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// listedOnce pages through account's whole history, limit transfers a page, and checks
// that it lists every transfer in want exactly once and nothing else.
func listedOnce(t *testing.T, h *harness, account uuid.UUID, want map[uuid.UUID]bool, limit int, when string) {
	t.Helper()
	seen := map[uuid.UUID]int{}
	cur := ""
	for {
		page, next, err := h.l.TransfersByAccount(h.ctx, account, time.Time{}, time.Time{}, cur, limit)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range page {
			seen[tr.ID]++
		}
		if next == "" {
			break
		}
		cur = next
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("%s: transfer %s listed %d times", when, id, seen[id])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%s: history lists %d transfers, want %d", when, len(seen), len(want))
	}
}
