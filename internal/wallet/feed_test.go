package wallet

import (
	"strings"
	"sync"
	"testing"

	"okpay/internal/notify"
)

// rawCount counts rows by SQL, bypassing the wallet (and so its settle).
func (e *env) rawCount(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.d.R.QueryRow(q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// A transfer whose feed row committed but was never expanded (the process died right
// after the call returned) has its records, email and notification after a restart, as
// the call's answer described them; the first read expands it.
func TestFeedAfterCrash(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.w.feed.manual = true // no background expansion: the state a crash leaves
		a, b := e.user("alice"), e.user("bob")
		e.fund(a.ID, "CNY", 100_00)
		out, err := e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, Key: e.key(), To: b.Email, Amount: "3.21", Asset: "CNY", Memo: "午饭 lunch"})
		if err != nil {
			t.Fatal(err)
		}
		if n := e.rawCount(`SELECT COUNT(*) FROM wallet_feed`); n != 1 {
			t.Fatalf("feed rows %d", n)
		}
		if n := e.rawCount(`SELECT COUNT(*) FROM wallet_activity WHERE source_kind = 'transfer'`); n != 0 {
			t.Fatalf("records written with the money: %d", n)
		}
		if n := e.rawCount(`SELECT COUNT(*) FROM outbox WHERE kind = 'payment_received'`); n != 0 {
			t.Fatalf("mail written with the money: %d", n)
		}

		// Restart: a new wallet over the same database knows nothing of the feed.
		w2, err := New(e.d, e.l, e.id, e.rail, e.w.cfg)
		if err != nil {
			t.Fatal(err)
		}
		w2.feed.manual = true
		got, err := w2.GetActivity(e.ctx, a.ID, out.RefNo)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != out.ID || got.RefNo != out.RefNo || got.Type != TypeTransferOut || got.Status != StatusCompleted ||
			got.AmountMinor != 3_21 || got.Amount != out.Amount || got.Counterparty != out.Counterparty || got.Memo != out.Memo ||
			got.Category != out.Category || got.SourceID != out.SourceID || !got.CreatedAt.Equal(out.CreatedAt) ||
			len(got.Timeline) != 1 || !got.Timeline[0].At.Equal(out.Timeline[0].At) || got.Timeline[0].Status != StatusCompleted {
			t.Fatalf("record after restart %+v, answered %+v", got, out)
		}
		page, err := w2.ListActivity(e.ctx, b.ID, Filter{Text: "午饭"}, "", 10)
		if err != nil || len(page.Items) != 1 || page.Items[0].Type != TypeTransferIn || page.Items[0].CounterpartyID != a.ID {
			t.Fatalf("recipient's record %v %+v", err, page)
		}
		if n := e.rawCount(`SELECT COUNT(*) FROM wallet_feed`); n != 0 {
			t.Fatalf("feed rows after expansion %d", n)
		}
		if n := e.rawCount(`SELECT COUNT(*) FROM outbox WHERE kind = 'payment_received' AND recipient = $1 AND status = 'pending'`, b.Email); n != 1 {
			t.Fatalf("payment_received mails %d", n)
		}
		inbox, err := notify.NewInbox(e.d, nil).List(e.ctx, b.ID, "en", "", 10)
		if err != nil || len(inbox.Items) != 1 || !strings.HasPrefix(inbox.Items[0].Title, "Payment received: ") {
			t.Fatalf("inbox %v %+v", err, inbox)
		}
		e.reconcile()
	})
}

// Every read of what the feed derives sees a transfer as soon as its call returned, with
// no background expansion at all: history, receipts, analysis, the inbox, the outbox
// worker, the dev mailbox and the CSV export; and a replay of the call answers its record.
func TestFeedReadYourWrites(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.w.feed.manual = true
		a, b := e.user("alice"), e.user("bob")
		e.fund(a.ID, "CNY", 100_00)
		send := func(key string) *Activity {
			t.Helper()
			out, err := e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, Key: key, To: b.Email, Amount: "1.00", Asset: "CNY"})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}

		out := send("r1")
		if a, err := e.w.GetActivity(e.ctx, a.ID, out.ID); err != nil || a.ID != out.ID {
			t.Fatalf("receipt: %v %+v", err, a)
		}

		send("r2")
		if pg, err := e.w.ListActivity(e.ctx, b.ID, Filter{}, "", 10); err != nil || len(pg.Items) != 2 {
			t.Fatalf("history: %v %+v", err, pg)
		}

		send("r3")
		an, err := e.w.Analyze(e.ctx, a.ID, "CNY", e.clock.Now().AddDate(0, -1, 0), e.clock.Now().AddDate(0, 0, 1))
		if err != nil || an.SpendingMinor != 3_00 {
			t.Fatalf("analysis: %v %+v", err, an)
		}

		out3x := send("r3x")
		found := false
		if err := e.w.ExportActivity(e.ctx, a.ID, Filter{}, func(r Row) error { found = found || r.RefNo == out3x.RefNo; return nil }); err != nil || !found {
			t.Fatalf("export: %v; the transfer just made is in it: %v", err, found)
		}

		send("r4")
		inbox := notify.NewInbox(e.d, nil)
		if n, err := inbox.Unread(e.ctx, b.ID); err != nil || n != 5 {
			t.Fatalf("unread: %v %d", err, n)
		}

		send("r5")
		mail, err := notify.ListMail(e.ctx, e.d, b.Email, 10)
		if err != nil || len(mail) != 6 || mail[0].Kind != "payment_received" {
			t.Fatalf("dev mailbox: %v %d", err, len(mail))
		}

		send("r6")
		wk, err := notify.NewWorker(e.d, notify.WorkerConfig{Email: notify.DevMailbox{}})
		if err != nil {
			t.Fatal(err)
		}
		if sent, err := wk.RunOnce(e.ctx); err != nil || sent != 7 {
			t.Fatalf("worker: %v sent %d", err, sent)
		}

		// A replay while the first call's records are still in the feed.
		out7 := send("r7")
		if again := send("r7"); again.ID != out7.ID || again.RefNo != out7.RefNo || again.AmountMinor != out7.AmountMinor {
			t.Fatalf("replay %+v, first %+v", again, out7)
		}
		if got := e.available(a.ID, "CNY"); got != 92_00 {
			t.Fatalf("available %d", got)
		}
		if err := e.w.Settle(e.ctx); err != nil {
			t.Fatal(err)
		}
		if n := e.rawCount(`SELECT COUNT(*) FROM wallet_activity WHERE source_kind = 'transfer'`); n != 16 {
			t.Fatalf("records %d", n)
		}
		e.reconcile()
	})
}

// Concurrent expansions (background, reads, several nodes) expand each feed row once.
func TestFeedExpandsOnce(t *testing.T) {
	engines(t, func(t *testing.T, e *env) {
		e.w.feed.manual = true
		const n = 40
		a, b := e.user("alice"), e.user("bob")
		e.fund(a.ID, "CNY", 100_00)
		for i := 0; i < n; i++ {
			if _, err := e.w.Transfer(e.ctx, TransferInput{SenderID: a.ID, Key: e.key(), To: b.Email, Amount: "0.01", Asset: "CNY"}); err != nil {
				t.Fatal(err)
			}
		}
		// Another node's wallet over the same database, expanding at the same time.
		w2, err := New(e.d, e.l, e.id, e.rail, e.w.cfg)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := 0; i < 8; i++ {
			wg.Add(2)
			go func() { defer wg.Done(); errs <- e.w.drain(e.ctx) }()
			go func() { defer wg.Done(); _, err := w2.expand(e.ctx); errs <- err }()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := w2.Settle(e.ctx); err != nil {
			t.Fatal(err)
		}
		if got := e.rawCount(`SELECT COUNT(*) FROM wallet_activity WHERE source_kind = 'transfer'`); got != 2*n {
			t.Fatalf("records %d, want %d", got, 2*n)
		}
		if got := e.rawCount(`SELECT COUNT(*) FROM outbox WHERE kind = 'payment_received'`); got != n {
			t.Fatalf("mails %d, want %d", got, n)
		}
		if got := e.rawCount(`SELECT COUNT(*) FROM inbox WHERE user_id = $1`, b.ID); got != n {
			t.Fatalf("notifications %d, want %d", got, n)
		}
		if got := e.rawCount(`SELECT COUNT(*) FROM wallet_feed`); got != 0 {
			t.Fatalf("feed rows left %d", got)
		}
		e.reconcile()
	})
}
