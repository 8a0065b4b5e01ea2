package wallet

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"okpay/internal/db"
	"okpay/internal/notify"
)

// The payment feed. A transfer's transaction used to write both activity records (7
// indexes), their search terms, the recipient's email (outbox) and notification (inbox):
// rows keyed by random users and ids, whose index pages are dirtied at random by every
// payment and cost the single SQLite writer about as much as the money itself. Now the
// transaction appends one row to wallet_feed instead — the payment's facts, at its time —
// and those rows are derived from it later, many payments to a transaction, sorted by
// user, by expand. The feed row commits or rolls back with the money, so nothing is lost
// on a crash: whatever is still in the feed when the process starts is expanded then.
//
// Read-your-writes: every read of what the feed derives runs settle first, which expands
// whatever is owed (nothing, usually: a flag on SQLite, one indexed EXISTS on
// PostgreSQL) — history, receipts, analysis and export through the wallet, the inbox,
// the outbox worker and the dev mailbox through notify's settler. A replayed transfer
// whose records are still in the feed expands it inside its own transaction.
//
// Each feed row is expanded exactly once: an expansion deletes the rows it read with
// DELETE … RETURNING in the transaction that writes what they derive, and writes only
// what the rows it deleted derive. Two expansions of the same rows therefore serialise
// on them (SQLite's writer, PostgreSQL's row locks) and the second finds nothing left.

// feedBatch bounds the feed rows one expansion reads and writes.
const feedBatch = 1000

// feedDeleteChunk bounds the feed rows one DELETE takes.
const feedDeleteChunk = 256

// feedDelay lets a background expansion gather the payments committed around it: larger
// batches share more index pages per commit. Reads do not wait for it (they settle).
// Measured on the API bench (SQLite, 64 connections): 50 ms gave 921, 710, 730
// transfers/s against 806, 635 at 2 ms and 634 at 200 ms (whose longer writer turns
// also raised p99).
const feedDelay = 50 * time.Millisecond

// feedPay is one payment as logged: what its two activity records and the recipient's
// mail are made of.
type feedPay struct {
	At       time.Time `json:"at"` // the payment transaction's now
	Op       string    `json:"op"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	FromName string    `json:"from_name"`
	ToName   string    `json:"to_name"`
	Asset    string    `json:"asset"`
	Amount   int64     `json:"amount"`
	Memo     string    `json:"memo,omitempty"`
	OutType  string    `json:"out_type"`
	InType   string    `json:"in_type"`
	OutCat   string    `json:"out_cat"`
	InCat    string    `json:"in_cat"`
	SrcKind  string    `json:"src_kind"`
	SrcID    string    `json:"src_id"`
	// Mail is the recipient's address book entry, when the payment-received mail is due.
	Mail *feedMail `json:"mail,omitempty"`
}

type feedMail struct {
	Email string `json:"email,omitempty"`
	Lang  string `json:"lang,omitempty"`
}

// sides are the payer's and the payee's activity records of p.
func (p *feedPay) sides() [2]newActivity {
	op := p.Op
	return [2]newActivity{
		{id: derive(op, "out"), userID: p.From, typ: p.OutType, status: StatusCompleted, direction: -1, asset: p.Asset, amount: p.Amount,
			category: p.OutCat, counterpartyID: p.To, cpty: p.ToName, memo: p.Memo, sourceKind: p.SrcKind, sourceID: p.SrcID},
		{id: derive(op, "in"), userID: p.To, typ: p.InType, status: StatusCompleted, direction: 1, asset: p.Asset, amount: p.Amount,
			category: p.InCat, counterpartyID: p.From, cpty: p.FromName, memo: p.Memo, sourceKind: p.SrcKind, sourceID: p.SrcID},
	}
}

// feed is the Service's state of the feed.
type feed struct {
	// appended counts payments logged by this process (after their commit); drained is
	// the value appended had when an expansion last found the feed empty. Equal means
	// nothing this process logged is owed. appended starts at 1: rows left by an earlier
	// run are owed until the first expansion.
	appended, drained atomic.Int64

	mu      sync.Mutex
	running bool // a background expansion is under way
	again   bool // payments were logged since it started

	// manual stops background expansion (tests: the feed then holds everything until a
	// read settles it, as after a crash).
	manual bool
}

// appendFeed logs p in tx (the payment's transaction).
func appendFeed(ctx context.Context, tx *db.Tx, p *feedPay) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("log payment: %w", err)
	}
	if _, err := tx.ExecCached(ctx, `INSERT INTO wallet_feed (body) VALUES ($1)`, string(b)); err != nil {
		return fmt.Errorf("log payment: %w", err)
	}
	return nil
}

// logged is called after a payment's transaction committed with a feed row: the
// expansion runs in the background shortly after.
func (s *Service) logged() { s.loggedN(1) }

// loggedN is logged for n payments committed together (a transfer batch).
func (s *Service) loggedN(n int) {
	f := &s.feed
	f.appended.Add(int64(n))
	if f.manual {
		return
	}
	f.mu.Lock()
	if f.running {
		f.again = true
		f.mu.Unlock()
		return
	}
	f.running = true
	f.mu.Unlock()
	go s.expandLoop()
}

func (s *Service) expandLoop() {
	f := &s.feed
	ctx := context.Background()
	for {
		time.Sleep(feedDelay)
		err := s.drain(ctx)
		// The rows stay in the feed, owed: the next payment, read or start expands them.
		// A database closed at shutdown is no news (database/sql's error is unexported).
		if err != nil && !strings.Contains(err.Error(), "sql: database is closed") {
			s.cfg.Logger.Error("wallet: expand payment feed; the rows stay in the feed", "err", err)
		}
		f.mu.Lock()
		if !f.again || err != nil {
			f.running, f.again = false, false
			f.mu.Unlock()
			return
		}
		f.again = false
		f.mu.Unlock()
	}
}

// Settle writes the activity records, search terms and mail still owed for payments that
// committed before it was called. Reads of history and receipts through the wallet, and
// of the inbox and outbox through notify, call it themselves; a caller reading those
// tables by other means (the CSV export) calls it first.
//
// Errors: internal (database) only.
func (s *Service) Settle(ctx context.Context) error {
	if err := s.settle(ctx); err != nil {
		return fmt.Errorf("wallet: settle payment feed: %w", err)
	}
	return nil
}

func (s *Service) settle(ctx context.Context) error {
	f := &s.feed
	if s.d.Engine == db.SQLite {
		// One process owns a SQLite database: what it has not logged is not there.
		if f.drained.Load() >= f.appended.Load() {
			return nil
		}
	} else {
		// Other nodes log payments too: ask the table (it holds only the last moments'
		// payments, so this is a probe of one index page).
		var owed int
		err := s.d.ReadRowCached(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM wallet_feed LIMIT 1) f`).Scan(&owed)
		if err != nil {
			return err
		}
		if owed == 0 {
			return nil
		}
	}
	return s.drain(ctx)
}

// drain expands the feed until an expansion finds it empty.
func (s *Service) drain(ctx context.Context) error {
	target := s.feed.appended.Load()
	for {
		n, err := s.expand(ctx)
		if err != nil {
			return err
		}
		if n < feedBatch {
			break
		}
	}
	// Every row committed before target was read was in the feed at the last read, which
	// found fewer than a batch: each was expanded by this drain or by an expansion that
	// committed before this one's DELETE.
	for {
		d := s.feed.drained.Load()
		if d >= target || s.feed.drained.CompareAndSwap(d, target) {
			return nil
		}
	}
}

type feedRow struct {
	seq int64
	pay feedPay
}

// expand expands up to feedBatch of the oldest feed rows in one transaction and returns
// how many it read. The rows are read and their derived rows prepared before the write
// transaction, so the writer spends its time on the inserts alone.
func (s *Service) expand(ctx context.Context) (int, error) {
	var rows []feedRow
	err := s.d.Read(ctx, func(tx *db.Tx) error {
		var err error
		rows, err = readFeed(ctx, tx)
		return err
	})
	if err != nil || len(rows) == 0 {
		return len(rows), err
	}
	b := s.prepareFeed(rows)
	err = s.d.InTx(ctx, func(tx *db.Tx) error { return b.write(ctx, tx) })
	return len(rows), err
}

// expandInTx expands the whole feed inside tx (a replayed transfer whose records may still
// be owed; rare).
func (s *Service) expandInTx(ctx context.Context, tx *db.Tx) error {
	for {
		rows, err := readFeed(ctx, tx)
		if err != nil || len(rows) == 0 {
			return err
		}
		if err := s.prepareFeed(rows).write(ctx, tx); err != nil {
			return err
		}
		if len(rows) < feedBatch {
			return nil
		}
	}
}

func readFeed(ctx context.Context, tx *db.Tx) ([]feedRow, error) {
	rs, err := tx.QueryCached(ctx, `SELECT seq, body FROM wallet_feed ORDER BY seq LIMIT `+fmt.Sprint(feedBatch))
	if err != nil {
		return nil, fmt.Errorf("read payment feed: %w", err)
	}
	defer rs.Close()
	var out []feedRow
	for rs.Next() {
		var r feedRow
		var body string
		if err := rs.Scan(&r.seq, &body); err != nil {
			return nil, fmt.Errorf("read payment feed: %w", err)
		}
		if err := json.Unmarshal([]byte(body), &r.pay); err != nil {
			// Written by appendFeed: a row that does not decode is a bug or damage, and
			// skipping it would lose a record silently.
			return nil, fmt.Errorf("payment feed row %d: %w", r.seq, err)
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// feedWrite is what a batch of feed rows derives, per row (seq).
type feedWrite struct {
	seqs   []int64
	acts   map[int64][]activityRow
	inbox  map[int64]notify.InboxRow
	outbox map[int64]notify.OutboxRow
}

func (s *Service) prepareFeed(rows []feedRow) *feedWrite {
	w := &feedWrite{acts: map[int64][]activityRow{}, inbox: map[int64]notify.InboxRow{}, outbox: map[int64]notify.OutboxRow{}}
	for i := range rows {
		r := &rows[i]
		p := &r.pay
		w.seqs = append(w.seqs, r.seq)
		sides := p.sides()
		w.acts[r.seq] = []activityRow{makeActivity(sides[0], p.At), makeActivity(sides[1], p.At)}
		if p.Mail == nil {
			continue
		}
		to := &person{ID: p.To, Email: p.Mail.Email, Lang: p.Mail.Lang}
		in, em := paymentReceivedMail(to, p.FromName, formatMinor(p.Amount, p.Asset), p.Memo)
		at := p.At.UnixMicro()
		// The payment checked what the mail is made of; a message that still fails
		// validation is logged and left out rather than holding up the feed.
		if in != nil {
			if ir, err := notify.PrepareNotify(to.ID, in.kind, in.msg, at); err != nil {
				s.cfg.Logger.Error("wallet: payment feed: notification", "seq", r.seq, "err", err)
			} else {
				w.inbox[r.seq] = ir
			}
		}
		if em != nil {
			if or, err := notify.PrepareEmail(*em, at); err != nil {
				s.cfg.Logger.Error("wallet: payment feed: email", "seq", r.seq, "err", err)
			} else {
				w.outbox[r.seq] = or
			}
		}
	}
	return w
}

// write deletes the batch's feed rows and writes what those of them it deleted derive.
func (w *feedWrite) write(ctx context.Context, tx *db.Tx) error {
	var mine []int64
	for seqs := w.seqs; len(seqs) > 0; {
		n := chunk(len(seqs), feedDeleteChunk)
		b := newBulk(tx, `DELETE FROM wallet_feed WHERE seq IN (`, n)
		for i, q := range seqs[:n] {
			if i > 0 {
				b.q.WriteString(", ")
			}
			b.param(q)
		}
		b.q.WriteString(`) RETURNING seq`)
		seqs = seqs[n:]
		rs, err := tx.QueryCached(ctx, b.String(), b.args...)
		if err != nil {
			return fmt.Errorf("take payment feed: %w", err)
		}
		for rs.Next() {
			var q int64
			if err := rs.Scan(&q); err != nil {
				rs.Close()
				return fmt.Errorf("take payment feed: %w", err)
			}
			mine = append(mine, q)
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return fmt.Errorf("take payment feed: %w", err)
		}
	}
	var acts []activityRow
	var in []notify.InboxRow
	var out []notify.OutboxRow
	for _, q := range mine {
		acts = append(acts, w.acts[q]...)
		if r, ok := w.inbox[q]; ok {
			in = append(in, r)
		}
		if r, ok := w.outbox[q]; ok {
			out = append(out, r)
		}
	}
	// Sorted by user (then time), so the inserts walk each user's index ranges in order.
	slices.SortFunc(acts, func(a, b activityRow) int {
		if c := strings.Compare(a.a.UserID, b.a.UserID); c != 0 {
			return c
		}
		return cmp.Compare(a.atMicros, b.atMicros)
	})
	if err := writeActivities(ctx, tx, acts); err != nil {
		return err
	}
	if err := notify.InsertInbox(ctx, tx, in); err != nil {
		return err
	}
	return notify.InsertOutbox(ctx, tx, out)
}
