package ledger_test

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/ledger"
)

// TestPropertyRandomWorkload runs a seeded random mix of transfers, holds with timeouts,
// posts, voids, linked chains, invalid input, clock jumps and sweeps, with a small merge
// interval so history merges happen mid-run. Afterwards: the ledger reconciles, every OK
// transfer is stored and nothing else is, and each account's history lists exactly its
// stored transfers. Replay a failure with OKPAY_LEDGER_SEED=<seed>.
func TestPropertyRandomWorkload(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("OKPAY_LEDGER_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		defer func() {
			if t.Failed() {
				t.Logf("replay with OKPAY_LEDGER_SEED=%d", seed)
			}
		}()
		rng := rand.New(rand.NewPCG(seed, 1))
		h := start(t, d, ledger.Options{MergeEvery: 50})
		ctx := context.Background()
		sys := h.account("CNY", 0)
		var accts []uuid.UUID
		for i := 0; i < 6; i++ {
			flags := ledger.NoOverdraft
			if i == 5 {
				flags |= ledger.DebitsBlocked
			}
			a := h.account("CNY", flags)
			accts = append(accts, a)
			h.fund(sys, a, 500)
		}
		accts = append(accts, sys)
		var holds []uuid.UUID
		stored := map[uuid.UUID]bool{}
		refused := map[uuid.UUID]bool{}
		pick := func() uuid.UUID { return accts[rng.IntN(len(accts))] }
		for round := 0; round < 120; round++ {
			n := 1 + rng.IntN(6)
			ts := make([]ledger.Transfer, n)
			for i := range ts {
				tr := ledger.Transfer{ID: id(), DebitAccountID: pick(), CreditAccountID: pick(), Amount: rng.Int64N(120) - 5, Asset: "CNY", Code: 9}
				switch r := rng.IntN(10); {
				case r < 2:
					tr.Flags = ledger.Pending
					if rng.IntN(2) == 0 {
						tr.Timeout = time.Duration(1+rng.IntN(3)) * time.Second
					}
					holds = append(holds, tr.ID)
				case r < 4 && len(holds) > 0:
					tr = ledger.Transfer{ID: id(), Flags: ledger.PostPending, PendingID: holds[rng.IntN(len(holds))], Amount: rng.Int64N(60), Code: 9}
				case r < 5 && len(holds) > 0:
					tr = ledger.Transfer{ID: id(), Flags: ledger.VoidPending, PendingID: holds[rng.IntN(len(holds))], Code: 9}
				}
				if rng.IntN(3) == 0 && i < n-1 {
					tr.Flags |= ledger.Linked
				}
				ts[i] = tr
			}
			res, err := h.l.Submit(ctx, ts)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				if r.Code == ledger.OK {
					stored[ts[i].ID] = true
				} else {
					refused[ts[i].ID] = true
				}
			}
			if rng.IntN(10) == 0 {
				h.clock.Advance(time.Duration(rng.IntN(2000)) * time.Millisecond)
			}
			if rng.IntN(15) == 0 {
				if _, err := h.l.SweepExpired(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if rng.IntN(40) == 0 {
				h.reconcile()
			}
		}
		h.reconcile()
		for id := range stored {
			if _, err := h.l.Transfer(ctx, id); err != nil {
				t.Fatalf("OK transfer %s not stored: %v", id, err)
			}
		}
		for id := range refused {
			if _, err := h.l.Transfer(ctx, id); err == nil {
				t.Fatalf("refused transfer %s was stored", id)
			}
		}
		// History: each account's pages, newest first, hold exactly its transfers.
		var total int
		for _, a := range accts {
			seen := map[uuid.UUID]bool{}
			cur := ""
			var last time.Time
			for {
				page, next, err := h.l.TransfersByAccount(ctx, a, time.Time{}, time.Time{}, cur, 7)
				if err != nil {
					t.Fatal(err)
				}
				for _, tr := range page {
					if tr.DebitAccountID != a && tr.CreditAccountID != a {
						t.Fatalf("history of %s lists %s", a, tr.ID)
					}
					if seen[tr.ID] {
						t.Fatalf("history lists %s twice", tr.ID)
					}
					if !last.IsZero() && tr.CreatedAt.After(last) {
						t.Fatalf("history not newest first")
					}
					seen[tr.ID], last = true, tr.CreatedAt
				}
				if next == "" {
					break
				}
				cur = next
			}
			var want int
			if err := d.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM ledger_transfers WHERE debit_account_id = $1 OR credit_account_id = $1`, a[:]).Scan(&want); err != nil {
				t.Fatal(err)
			}
			if len(seen) != want {
				t.Fatalf("history of %s has %d transfers, stored %d", a, len(seen), want)
			}
			total += want
		}
		if total == 0 {
			t.Fatal("workload applied nothing")
		}
	})
}

// TestHistoryTimeRange pages a time window across a history merge.
func TestHistoryTimeRange(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		h := start(t, d, ledger.Options{MergeEvery: 4})
		sys := h.account("CNY", 0)
		a := h.account("CNY", 0)
		t0 := h.clock.Now()
		var ids []uuid.UUID
		for i := 0; i < 10; i++ {
			tr := xfer(sys, a, int64(i+1))
			h.expect(tr, ledger.OK)
			ids = append(ids, tr.ID)
			h.clock.Advance(time.Minute)
		}
		// Minutes 2..6 (inclusive from, exclusive to): transfers 2,3,4,5,6.
		from, to := t0.Add(2*time.Minute), t0.Add(7*time.Minute)
		var got []uuid.UUID
		cur := ""
		for {
			page, next, err := h.l.TransfersByAccount(h.ctx, a, from, to, cur, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range page {
				got = append(got, tr.ID)
			}
			if next == "" {
				break
			}
			cur = next
		}
		want := []uuid.UUID{ids[6], ids[5], ids[4], ids[3], ids[2]}
		if len(got) != len(want) {
			t.Fatalf("got %d transfers, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("position %d: got %s want %s", i, got[i], want[i])
			}
		}
		if _, _, err := h.l.TransfersByAccount(h.ctx, a, time.Time{}, time.Time{}, "garbage", 5); err != ledger.ErrBadCursor {
			t.Fatalf("bad cursor: %v", err)
		}
	})
}
