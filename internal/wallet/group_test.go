package wallet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// Concurrent transfers share transactions, and each keeps its own outcome: a refusal
// before the ledger (unknown recipient, limit) or at it (insufficient funds) is that
// call's alone, and the money, the records and the ledger's invariants come out as if
// every call had its own transaction.
func TestGroupCommitOutcomes(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		const n = 8
		users := make([]string, n)
		emails := make([]string, n)
		for i := range users {
			u := e.user(fmt.Sprint("g", i))
			users[i], emails[i] = u.ID, u.Email
			e.fund(u.ID, "CNY", 100_00)
		}
		poor := e.user("poor")
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[string]int{}
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				in := TransferInput{SenderID: users[i%n], Key: fmt.Sprint("gc-", i), To: emails[(i+1)%n], Amount: "0.50", Asset: "CNY"}
				switch i % 10 {
				case 3:
					in.To = "nobody@example.com" // refused before the ledger
				case 7:
					in.SenderID = poor.ID // refused by the ledger
				}
				_, err := e.w.Transfer(e.ctx, in)
				code := "ok"
				if err != nil {
					e, ok := apperr.As(err)
					if !ok {
						t.Errorf("transfer %d: %v", i, err)
						return
					}
					code = e.Code
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}(i)
		}
		wg.Wait()
		if codes["ok"] != 160 || codes[CodeRecipientNotFound] != 20 || codes[CodeInsufficientFunds] != 20 {
			t.Fatalf("outcomes %v", codes)
		}
		var total int64
		for _, u := range users {
			total += e.available(u, "CNY")
		}
		if total != n*100_00 || e.available(poor.ID, "CNY") != 0 {
			t.Fatalf("money created or lost: %d", total)
		}
		// The records are derived from the payment feed: written by the time any read
		// through the wallet returns; this raw count settles first, as such a read does.
		if err := e.w.Settle(e.ctx); err != nil {
			t.Fatal(err)
		}
		var acts int
		if err := e.d.R.QueryRow(`SELECT COUNT(*) FROM wallet_activity WHERE type IN ('transfer_in', 'transfer_out')`).Scan(&acts); err != nil || acts != 320 {
			t.Fatalf("activity rows %d %v", acts, err)
		}
		// Transfers run in batches (batch.go) on both engines; what a batch sends alone
		// runs in a group transaction on SQLite.
		b, alone := e.w.batch.batches.Load(), e.w.batch.alone.Load()
		t.Logf("200 calls in %d batches, %d of them alone after", b, alone)
		if b >= 200 {
			t.Fatalf("no call shared a transaction: %d batches", b)
		}
		e.reconcile()
	})
}

// A call whose context ended before its turn does not run; the others do.
func TestGroupCommitCancelled(t *testing.T) {
	e := newEnv(t, db.SQLite, nil)
	a, b := e.user("a"), e.user("b")
	e.fund(a.ID, "CNY", 10_00)
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if _, err := e.w.Transfer(ctx, TransferInput{SenderID: a.ID, Key: "c1", To: b.Email, Amount: "1", Asset: "CNY"}); err == nil {
		t.Fatal("cancelled call ran")
	}
	if _, err := e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, Key: "c2", To: b.Email, Amount: "1", Asset: "CNY"}); err != nil {
		t.Fatal(err)
	}
	if got := e.available(b.ID, "CNY"); got != 1_00 {
		t.Fatalf("received %d", got)
	}
	e.reconcile()
}

// A panic in a call, or after COMMIT in a hook, answers the calls errAlone (each then
// runs alone and meets the panic on its own goroutine) and leaves the group working.
func TestGroupCommitPanics(t *testing.T) {
	e := newEnv(t, db.SQLite, nil)
	g := &groupCommit{d: e.d, log: slog.Default()}
	if err := g.do(e.ctx, func(ctx context.Context, tx *db.Tx) error { panic("in the call") }); !errors.Is(err, errAlone) {
		t.Fatalf("panic in a call: %v", err)
	}
	err := g.do(e.ctx, func(ctx context.Context, tx *db.Tx) error {
		tx.OnEnd(func(bool) { panic("after commit") })
		return nil
	})
	if !errors.Is(err, errAlone) {
		t.Fatalf("panic after commit: %v", err)
	}
	ran := false
	if err := g.do(e.ctx, func(ctx context.Context, tx *db.Tx) error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("group stuck after panics: %v %v", err, ran)
	}
}
