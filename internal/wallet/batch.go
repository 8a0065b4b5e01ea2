package wallet

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/google/uuid"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/identity"
	"okpay/internal/ledger"
)

// Batched transfers. Running each transfer's ~12 statements one call after the other
// (group.go) left SQLite's single writer ~0.4 ms per transfer and PostgreSQL a dozen
// round trips each. Here concurrent Transfer calls queue, and a batch of them runs as a
// handful of set-based statements for the whole batch, in one transaction:
//
//	claim every Idempotency-Key (GuardBatch.ClaimAll)    one multi-row upsert
//	which operations exist already (wallet_ops)          one read
//	senders and recipients                               one read (two with emails)
//	both sides' restrictions (identity.CheckTransfers)   one read
//	limit counters of the senders                        one read (PostgreSQL: lock)
//	    … refusals decided in Go, in queue order …
//	open unknown wallets (CreateAccountsTx)              when any
//	all the ledger transfers (SubmitTx)                  one call, in queue order
//	limit counters, aggregated per sender and period     one multi-row upsert
//	the operations' key records (wallet_ops)             one multi-row insert
//	payment feed rows                                    one multi-row insert
//	stored responses (GuardBatch.FinishAll)              one multi-row upsert
//
// Every call keeps Transfer's behaviour and error codes. Refusals are decided in queue
// order with what the earlier calls of the batch did: limits with a running sum per
// sender and period, funds by SubmitTx, which applies the batch's transfers in order and
// fails only those short of money. A refused call writes nothing (its claim is freed and
// the API stores the refusal after, as for a call of its own); limits are counted only for
// calls whose transfer was applied — a call refused for its limit after an earlier call
// of the same sender failed for funds runs again alone (the earlier usage it saw never
// happened). Nothing is answered before COMMIT.
//
// What the batch does not handle runs alone on the per-call path (transfer.go), which is
// the reference: a replay or conflicting reuse of a key (its claim or operation exists),
// two calls with one key in a batch (the second runs after the first committed and
// replays it), an amount needing step-up, a phone-number recipient, a guard without a
// batch form, and any surprise after the first write (the whole batch then rolls back
// and every call runs alone).
//
// PostgreSQL: one transaction per batch, and several batches at once (batchSlots): the
// statements lock keys, counters and accounts each in one global order (sorted rows,
// SubmitTx's sorted account locks), counters before accounts as on the per-call path,
// so concurrent batches and nodes wait on each other instead of deadlocking.

// batchSlots is how many batches run at once: one on SQLite (one writer), a few on
// PostgreSQL, whose batches spend most of their time in round trips.
func batchSlots(e db.Engine) int {
	if e == db.Postgres {
		return 4
	}
	return 1
}

// BatchGuard is a Guard whose records many calls can write with one statement each.
type BatchGuard interface {
	Guard
	// GuardBatch returns the writer shared by every guard of the same store.
	GuardBatch() GuardBatch
}

// GuardBatch writes the guard records of a batch of calls in their transaction. gs are
// guards of this GuardBatch. Neither may have effects outside tx; both may run again
// when the transaction is retried.
type GuardBatch interface {
	// ClaimAll claims every guard's key; owned[i] = false sends call i to the per-call
	// path (its key is taken: replay, conflict or in progress), where Guard.Begin
	// answers it.
	ClaimAll(ctx context.Context, tx *db.Tx, gs []Guard) (owned []bool, err error)
	// FinishAll stores results[i] as call i's response, as Guard.Finish does, and frees
	// the claim of every call whose result is nil (refused, or running alone).
	FinishAll(ctx context.Context, tx *db.Tx, gs []Guard, results []any) error
}

// xfer is one Transfer call in the batch queue.
type xfer struct {
	ctx    context.Context
	in     TransferInput
	asset  string
	amount int64
	limitV int64  // amount in the limit asset
	toKind string // "id" or "email"
	toVal  string
	op     uuid.UUID
	hash   string

	// Outcome, set by the leader before done closes.
	out    *Activity
	opened []uuid.UUID
	err    error // errAlone: run on the per-call path

	queued
}

type transferBatcher struct {
	s     *Service
	slots int

	leaderQueue[*xfer]

	// batches and alone count transactions and calls sent to the per-call path (tests).
	batches, alone atomic.Int64
}

// maxTransferBatch bounds the calls of one batch.
const maxTransferBatch = 128

// do queues c and returns when it is answered.
func (b *transferBatcher) do(c *xfer) {
	b.leaderQueue.do(c, b.slots, maxTransferBatch, b.run)
}

// run executes one batch and answers every call in it.
func (b *transferBatcher) run(batch []*xfer) {
	defer func() {
		if p := recover(); p != nil {
			b.s.cfg.Logger.Error("wallet: transfer batch panicked; its calls run alone", "panic", fmt.Sprint(p))
			for _, c := range batch {
				c.out, c.opened, c.err = nil, nil, errAlone
			}
		}
		for _, c := range batch {
			close(c.done)
		}
	}()
	var live []*xfer
	ops := make(map[uuid.UUID]bool, len(batch))
	for _, c := range batch {
		switch {
		case c.ctx.Err() != nil:
			c.err = c.ctx.Err()
		case ops[c.op]:
			// The same key twice: the second runs after this batch committed and answers
			// the first's result (or idempotency_conflict).
			c.err = errAlone
		default:
			ops[c.op] = true
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		return
	}
	b.batches.Add(1)
	var logged int
	err := b.s.d.InTx(context.Background(), func(tx *db.Tx) error {
		var err error
		logged, err = b.s.runBatch(tx, live)
		return err
	})
	if err != nil {
		// Nothing committed (or a COMMIT failed): each call runs alone and meets its own
		// outcome there; keys and transfer ids make a second run safe.
		if !errors.Is(err, errBatchSurprise) {
			b.s.cfg.Logger.Warn("wallet: transfer batch failed; its calls run alone", "calls", len(live), "err", err)
		}
		for _, c := range live {
			c.out, c.opened, c.err = nil, nil, errAlone
		}
		return
	}
	for _, c := range live {
		if c.err == errAlone {
			b.alone.Add(1)
		}
	}
	for _, c := range live {
		if c.err == nil {
			b.s.markKnown(c.opened...)
		}
	}
	if logged > 0 {
		b.s.loggedN(logged)
	}
}

// errBatchSurprise: the batch met something only the per-call path handles after its
// first write; everything rolls back and every call runs alone.
var errBatchSurprise = errors.New("wallet: transfer batch: run the calls alone")

// runBatch is one attempt of a batch inside tx. It sets every call's outcome and returns
// how many payments it logged to the feed. It may run again (InTx retries), so it starts
// from the calls' inputs each time.
func (s *Service) runBatch(tx *db.Tx, calls []*xfer) (int, error) {
	ctx := context.Background()
	for _, c := range calls {
		c.out, c.opened, c.err = nil, nil, nil
	}
	active := func() []*xfer {
		var out []*xfer
		for _, c := range calls {
			if c.err == nil {
				out = append(out, c)
			}
		}
		return out
	}

	// Keys: claimed first, as on the per-call path (a concurrent duplicate on PostgreSQL
	// waits here until the first commits).
	groups := map[GuardBatch][]*xfer{}
	var gorder []GuardBatch
	for _, c := range calls {
		if c.in.Guard == nil {
			continue
		}
		gb := c.in.Guard.(BatchGuard).GuardBatch() // batchable() admitted only these
		if _, ok := groups[gb]; !ok {
			gorder = append(gorder, gb)
		}
		groups[gb] = append(groups[gb], c)
	}
	for _, gb := range gorder {
		cs := groups[gb]
		gs := make([]Guard, len(cs))
		for i, c := range cs {
			gs[i] = c.in.Guard
		}
		owned, err := gb.ClaimAll(ctx, tx, gs)
		if err != nil {
			return 0, err
		}
		for i, c := range cs {
			if !owned[i] {
				c.err = errAlone
			}
		}
	}

	// Operations already recorded (a replay, or the key reused for another request).
	if cs := active(); len(cs) > 0 {
		ids := make([]string, len(cs))
		for i, c := range cs {
			ids[i] = c.op.String()
		}
		in, args := inList(tx, 1, ids)
		found := map[string]bool{}
		err := queryEach(ctx, tx, `SELECT id FROM wallet_ops WHERE id `+in, args, func(sc func(...any) error) error {
			var id string
			err := sc(&id)
			found[id] = true
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("read operations: %w", err)
		}
		for _, c := range cs {
			if found[c.op.String()] {
				c.err = errAlone
			}
		}
	}

	// People.
	var byID, byEmail map[string]*person
	if cs := active(); len(cs) > 0 {
		var ids, emails []string
		for _, c := range cs {
			ids = append(ids, c.in.SenderID)
			if c.toKind == "id" {
				ids = append(ids, c.toVal)
			} else {
				emails = append(emails, c.toVal)
			}
		}
		var err error
		if byID, err = loadPeople(ctx, tx, "id", ids); err != nil {
			return 0, err
		}
		if byEmail, err = loadPeople(ctx, tx, "email", emails); err != nil {
			return 0, err
		}
	}
	type party struct{ from, to *person }
	parties := make(map[*xfer]party, len(calls))
	var checks []identity.TransferParties
	var checked []*xfer
	for _, c := range active() {
		from := byID[c.in.SenderID]
		to := byID[c.toVal]
		if c.toKind == "email" {
			to = byEmail[c.toVal]
		}
		switch {
		case from == nil:
			c.err = apperr.New(apperr.CodeNotFound)
		case to == nil:
			c.err = apperr.New(CodeRecipientNotFound)
		case from.ID == to.ID:
			c.err = apperr.New(CodeCannotPaySelf)
		default:
			parties[c] = party{from, to}
			checks = append(checks, identity.TransferParties{FromID: from.ID, FromEmailVerified: from.EmailVerifiedAt > 0, ToID: to.ID})
			checked = append(checked, c)
		}
	}
	if len(checks) > 0 {
		res, err := s.id.CheckTransfers(ctx, tx, checks)
		if err != nil {
			return 0, err
		}
		for i, c := range checked {
			if res[i].Send != nil {
				c.err = res[i].Send
			} else if res[i].Receive != nil {
				c.err = apperr.New(CodeRecipientCannotReceive).Wrap(res[i].Receive)
			}
		}
	}

	// A sender with no wallet in the asset has nothing to send. Refused here, before the
	// limits and before any wallet is opened, so the refusal leaves nothing behind.
	if cs := active(); len(cs) > 0 {
		have, err := s.walletsExist(ctx, tx, cs, func(c *xfer) uuid.UUID { return WalletAccount(parties[c].from.ID, c.asset) })
		if err != nil {
			return 0, err
		}
		for _, c := range cs {
			if id := WalletAccount(parties[c].from.ID, c.asset); !have[id] {
				c.err = apperr.New(CodeInsufficientFunds).Wrap(shortOf{id, c.asset})
			}
		}
	}

	// Limits: the senders' counters, then each call in order against a running sum.
	day, month := periods(tx.Now)
	used := map[usageKey]int64{}
	if cs := active(); len(cs) > 0 {
		var senders []string
		for _, c := range cs {
			senders = append(senders, c.in.SenderID)
		}
		if err := readUsage(ctx, tx, senders, day, month, used); err != nil {
			return 0, err
		}
	}
	limitRefused := map[*xfer]bool{}
	for _, c := range active() {
		p := parties[c]
		lim := s.id.LimitsFor(p.from.Level)
		pct, ok := s.cfg.FlowLimits[FlowSend]
		if !ok {
			pct = 100
		}
		daily, monthly := lim.DailyMinor*pct/100, lim.MonthlyMinor*pct/100
		for _, per := range []struct {
			period, name, zh string
			limit            int64
		}{{day, "daily", "每日", daily}, {month, "monthly", "每月", monthly}} {
			u := used[usageKey{p.from.ID, per.period}]
			if c.limitV <= per.limit && u+c.limitV <= per.limit {
				continue
			}
			left := max(per.limit-u, 0)
			c.err = apperr.New(CodeLimitExceeded).With("remaining", s.fromLimitString(left, c.asset)).
				With("period", per.name).With("period_zh", per.zh).With("remaining_minor", fmt.Sprint(left)).With("level", fmt.Sprint(p.from.Level))
			limitRefused[c] = true
			break
		}
		if c.err == nil {
			used[usageKey{p.from.ID, day}] += c.limitV
			used[usageKey{p.from.ID, month}] += c.limitV
		}
	}

	// Money: wallets opened where needed, then every transfer in queue order.
	moving := active()
	if len(moving) > 0 {
		var need []ledger.Account
		seen := map[uuid.UUID]bool{}
		for _, c := range moving {
			p := parties[c]
			for _, a := range [2]ledger.Account{walletAcct(p.from.ID, c.asset), walletAcct(p.to.ID, c.asset)} {
				if _, ok := s.known.Load(a.ID); !ok && !seen[a.ID] {
					seen[a.ID] = true
					need = append(need, a)
				}
			}
		}
		if err := s.ensureWallets(ctx, tx, need...); err != nil {
			return 0, err
		}
		ts := make([]ledger.Transfer, len(moving))
		for i, c := range moving {
			p := parties[c]
			ts[i] = ledger.Transfer{ID: derive(c.op.String(), "transfer"), DebitAccountID: WalletAccount(p.from.ID, c.asset),
				CreditAccountID: WalletAccount(p.to.ID, c.asset), Amount: c.amount, Asset: c.asset, Code: TrP2P, Ref: "transfer:" + c.op.String()}
		}
		res, err := s.l.SubmitTx(ctx, tx, ts)
		if err != nil {
			return 0, fmt.Errorf("ledger: %w", err)
		}
		short := map[string]bool{} // senders with a transfer refused in this batch
		for i, c := range moving {
			p := parties[c]
			switch res[i].Code {
			case ledger.OK, ledger.Exists:
				c.opened = []uuid.UUID{ts[i].DebitAccountID, ts[i].CreditAccountID}
				continue
			case ledger.InsufficientFunds:
				c.err = apperr.New(CodeInsufficientFunds).Wrap(shortOf{acct: ts[i].DebitAccountID, asset: ts[i].Asset})
			default:
				c.err = fmt.Errorf("wallet: transfer: ledger refused transfer %s (code %d): %s", ts[i].ID, ts[i].Code, res[i].Code)
			}
			short[p.from.ID] = true
			used[usageKey{p.from.ID, day}] -= c.limitV
			used[usageKey{p.from.ID, month}] -= c.limitV
		}
		for c := range limitRefused {
			if short[parties[c].from.ID] {
				c.err = errAlone
			}
		}
	}

	// Records of the calls whose money moved.
	done := active()
	if len(done) > 0 {
		add := map[usageKey]int64{}
		for _, c := range done {
			p := parties[c]
			add[usageKey{p.from.ID, day}] += c.limitV
			add[usageKey{p.from.ID, month}] += c.limitV
		}
		if err := addUsage(ctx, tx, add); err != nil {
			return 0, err
		}
		ops := make([][]any, len(done))
		feeds := make([]string, len(done))
		for i, c := range done {
			p := parties[c]
			ops[i] = []any{c.op.String(), c.in.SenderID, "transfer", c.hash, derive(c.op.String(), "out").String(), tx.NowMicros()}
			fp := &feedPay{At: tx.Now, Op: c.op.String(), From: p.from.ID, To: p.to.ID, FromName: p.from.display(), ToName: p.to.display(),
				Asset: c.asset, Amount: c.amount, Memo: c.in.Memo, OutType: TypeTransferOut, InType: TypeTransferIn, OutCat: CatTransfers, InCat: CatTransfers,
				SrcKind: "transfer", SrcID: c.op.String()}
			if s.cfg.NotifyPaymentReceived {
				fp.Mail = &feedMail{Email: p.to.Email, Lang: p.to.Lang}
			}
			b, err := json.Marshal(fp)
			if err != nil {
				return 0, fmt.Errorf("log payment: %w", err)
			}
			feeds[i] = string(b)
			c.out = makeActivity(fp.sides()[0], tx.Now).a
		}
		var n int
		var err error
		if tx.Dialect.Name() == db.Postgres {
			// One statement of arrays, rows in id order (the key lock order).
			cols := make([][]string, 4)
			for _, o := range ops {
				for k := range cols {
					cols[k] = append(cols[k], o[[]int{0, 1, 3, 4}[k]].(string))
				}
			}
			n, err = countRows(ctx, tx, `INSERT INTO wallet_ops (id, user_id, kind, req_hash, result_id, created_at)
				SELECT i, u, 'transfer', h, r, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(i, u, h, r) ORDER BY i
				ON CONFLICT (id) DO NOTHING RETURNING id`, cols[0], cols[1], cols[2], cols[3], tx.NowMicros())
		} else {
			n, err = insertRows(ctx, tx, `INSERT INTO wallet_ops (id, user_id, kind, req_hash, result_id, created_at) VALUES `,
				` ON CONFLICT (id) DO NOTHING RETURNING id`, ops)
		}
		if err != nil {
			return 0, fmt.Errorf("claim idempotency keys: %w", err)
		}
		if n != len(ops) {
			// Another request took one of the keys after the read above (PostgreSQL,
			// a call without an Idempotency-Key guard): only the per-call path sorts
			// that out.
			return 0, errBatchSurprise
		}
		if tx.Dialect.Name() == db.Postgres {
			// Rows take their seq in the array's order: the batch's order.
			if _, err := tx.ExecContext(ctx, `INSERT INTO wallet_feed (body) SELECT b FROM unnest($1::text[]) WITH ORDINALITY AS t(b, n) ORDER BY n`, feeds); err != nil {
				return 0, fmt.Errorf("log payment: %w", err)
			}
		} else {
			rows := make([][]any, len(feeds))
			for i, f := range feeds {
				rows[i] = []any{f}
			}
			if _, err := insertRows(ctx, tx, `INSERT INTO wallet_feed (body) VALUES `, "", rows); err != nil {
				return 0, fmt.Errorf("log payment: %w", err)
			}
		}
	}

	// Stored responses: the results of the calls that succeeded, claims freed for the
	// others (the API stores a refusal after, as for a call of its own).
	for _, gb := range gorder {
		cs := groups[gb]
		gs := make([]Guard, len(cs))
		results := make([]any, len(cs))
		for i, c := range cs {
			gs[i] = c.in.Guard
			if c.err == nil {
				results[i] = c.out
			}
		}
		if err := gb.FinishAll(ctx, tx, gs, results); err != nil {
			return 0, err
		}
	}
	return len(done), nil
}

type usageKey struct{ user, period string }

// readUsage reads the send counters of users for day and month into used. On
// PostgreSQL it creates the missing ones and locks them all, in (user, period) order,
// until the transaction ends: the limit decisions made from them then hold at commit.
func readUsage(ctx context.Context, tx *db.Tx, users []string, day, month string, used map[usageKey]int64) error {
	slices.Sort(users)
	users = slices.Compact(users)
	if tx.Dialect.Name() == db.Postgres {
		var us, ps []string
		for _, u := range users {
			for _, p := range []string{day, month} {
				us, ps = append(us, u), append(ps, p)
			}
		}
		rows, err := tx.QueryContext(ctx, `INSERT INTO wallet_usage (user_id, flow, period, used)
			SELECT u, 'send', p, 0 FROM unnest($1::text[], $2::text[]) AS t(u, p) ORDER BY u, p
			ON CONFLICT (user_id, flow, period) DO UPDATE SET used = wallet_usage.used
			RETURNING user_id, period, used`, us, ps)
		if err != nil {
			return fmt.Errorf("lock limit counters: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var u, p string
			var n int64
			if err := rows.Scan(&u, &p, &n); err != nil {
				return fmt.Errorf("lock limit counters: %w", err)
			}
			used[usageKey{u, p}] = n
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("lock limit counters: %w", err)
		}
		return nil
	}
	// SQLite: the one writer's transaction reads what holds at its commit.
	in, args := inList(tx, 3, users)
	err := queryEach(ctx, tx, `SELECT user_id, period, used FROM wallet_usage WHERE flow = 'send' AND period IN (?, ?) AND user_id `+in,
		append([]any{day, month}, args...), func(sc func(...any) error) error {
			var u, p string
			var n int64
			err := sc(&u, &p, &n)
			used[usageKey{u, p}] = n
			return err
		})
	if err != nil {
		return fmt.Errorf("read limit counters: %w", err)
	}
	return nil
}

// addUsage adds the batch's usage per sender and period (rows in key order).
func addUsage(ctx context.Context, tx *db.Tx, add map[usageKey]int64) error {
	keys := make([]usageKey, 0, len(add))
	for k, v := range add {
		if v > 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b usageKey) int {
		return cmp.Or(strings.Compare(a.user, b.user), strings.Compare(a.period, b.period))
	})
	if len(keys) == 0 {
		return nil
	}
	if tx.Dialect.Name() == db.Postgres {
		us, ps, xs := make([]string, len(keys)), make([]string, len(keys)), make([]int64, len(keys))
		for i, k := range keys {
			us[i], ps[i], xs[i] = k.user, k.period, add[k]
		}
		// The rows exist and are locked (readUsage): this only adds.
		_, err := tx.ExecContext(ctx, `INSERT INTO wallet_usage (user_id, flow, period, used)
			SELECT u, 'send', p, x FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(u, p, x) ORDER BY u, p
			ON CONFLICT (user_id, flow, period) DO UPDATE SET used = wallet_usage.used + excluded.used`, us, ps, xs)
		if err != nil {
			return fmt.Errorf("count limits: %w", err)
		}
		return nil
	}
	rows := make([][]any, len(keys))
	for i, k := range keys {
		rows[i] = []any{k.user, string(FlowSend), k.period, add[k]}
	}
	_, err := insertRows(ctx, tx, `INSERT INTO wallet_usage (user_id, flow, period, used) VALUES `,
		` ON CONFLICT (user_id, flow, period) DO UPDATE SET used = wallet_usage.used + excluded.used`, rows)
	if err != nil {
		return fmt.Errorf("count limits: %w", err)
	}
	return nil
}

// loadPeople reads the users whose col (id or email) is in vals, keyed by that value.
func loadPeople(ctx context.Context, tx *db.Tx, col string, vals []string) (map[string]*person, error) {
	out := map[string]*person{}
	if len(vals) == 0 {
		return out, nil
	}
	slices.Sort(vals)
	vals = slices.Compact(vals)
	in, args := inList(tx, 1, vals)
	err := queryEach(ctx, tx, `SELECT id, email, phone, lang, role, level, email_verified_at FROM users WHERE `+col+` `+in, args,
		func(sc func(...any) error) error {
			var p person
			if err := sc(&p.ID, &p.Email, &p.Phone, &p.Lang, &p.Role, &p.Level, &p.EmailVerifiedAt); err != nil {
				return err
			}
			if col == "email" {
				out[p.Email] = &p
			} else {
				out[p.ID] = &p
			}
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	return out, nil
}

// inList is "= ANY($start)" with vals as one array on PostgreSQL, and "IN (?, …)" on
// SQLite, padded to a power of two with the last value (IN ignores repeats) so a few
// statement texts serve every batch and stay in the statement cache.
func inList(tx *db.Tx, start int, vals []string) (string, []any) {
	if tx.Dialect.Name() == db.Postgres {
		return fmt.Sprintf("= ANY($%d)", start), []any{vals}
	}
	n := 1
	for n < len(vals) {
		n *= 2
	}
	args := make([]any, n)
	for i := range args {
		args[i] = vals[min(i, len(vals)-1)]
	}
	return "IN (" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")", args
}

// queryEach runs q and calls row for every row with the row's Scan.
func queryEach(ctx context.Context, tx *db.Tx, q string, args []any, row func(scan func(...any) error) error) error {
	rs, err := tx.QueryCached(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		if err := row(rs.Scan); err != nil {
			return err
		}
	}
	return rs.Err()
}

// insertRows writes rows (each one "(…)" of parameters) with head + VALUES list + tail,
// in power-of-two chunks (few statement texts, each prepared once). With a RETURNING
// tail it counts the rows returned, otherwise the rows affected.
func insertRows(ctx context.Context, tx *db.Tx, head, tail string, rows [][]any) (int, error) {
	total := 0
	for len(rows) > 0 {
		n := chunk(len(rows), maxTransferBatch)
		b := newBulk(tx, head, n*len(rows[0]))
		for _, r := range rows[:n] {
			b.row(r...)
		}
		q := b.String() + tail
		if strings.Contains(tail, "RETURNING") {
			rs, err := tx.QueryCached(ctx, q, b.args...)
			if err != nil {
				return total, err
			}
			for rs.Next() {
				total++
			}
			err = rs.Err()
			rs.Close()
			if err != nil {
				return total, err
			}
		} else {
			r, err := tx.ExecCached(ctx, q, b.args...)
			if err != nil {
				return total, err
			}
			k, _ := r.RowsAffected()
			total += int(k)
		}
		rows = rows[n:]
	}
	return total, nil
}

// countRows runs q and counts the rows it returns.
func countRows(ctx context.Context, tx *db.Tx, q string, args ...any) (int, error) {
	rs, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	defer rs.Close()
	n := 0
	for rs.Next() {
		n++
	}
	return n, rs.Err()
}
