package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"okpay/internal/db"
)

// Check is one reconcile check and its outcome.
type Check struct {
	Name   string
	OK     bool
	Detail string
}

// Report is the outcome of Reconcile.
type Report struct {
	Accounts, Transfers, Pending int64
	Checks                       []Check
}

// OK reports whether every check passed.
func (r *Report) OK() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ledger: %d accounts, %d transfers, %d pending transfers\n", r.Accounts, r.Transfers, r.Pending)
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "  %s %s", mark, c.Name)
		if c.Detail != "" {
			fmt.Fprintf(&b, ": %s", c.Detail)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// maxListed caps how many offending rows a check names.
const maxListed = 10

// Reconcile checks the ledger invariants over the whole database in one snapshot: per
// asset all debits equal all credits; every account's four sums equal the sums of its
// transfers and live holds; no account breaks its flags or has a negative sum; every
// pending transfer has exactly one state and at most one post or void matching it; every
// transfer's accounts exist and share its asset. It returns an error only when it could not
// read; failed checks are in the report.
func Reconcile(ctx context.Context, d *db.DB) (*Report, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if d.Engine == db.Postgres {
		// One snapshot for every query, or running committers would make sums disagree.
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := d.R.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("reconcile: begin: %w", err)
	}
	defer tx.Rollback()
	r := &Report{}
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM ledger_accounts), (SELECT COUNT(*) FROM ledger_transfers), (SELECT COUNT(*) FROM ledger_pending)`).
		Scan(&r.Accounts, &r.Transfers, &r.Pending); err != nil {
		return nil, fmt.Errorf("reconcile: count: %w", err)
	}

	// listing runs q and turns each row (first column a label, the rest anything) into a
	// line of the detail; the check passes when there are no rows.
	listing := func(name, q string) error {
		rows, err := tx.QueryContext(ctx, q)
		if err != nil {
			return fmt.Errorf("reconcile %s: %w", name, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var lines []string
		n := 0
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return fmt.Errorf("reconcile %s: %w", name, err)
			}
			n++
			if len(lines) < maxListed {
				parts := make([]string, len(vals))
				for i, v := range vals {
					if b, ok := v.([]byte); ok {
						if len(b) == 16 {
							v = fmt.Sprintf("%x", b)
						} else {
							v = string(b)
						}
					}
					parts[i] = fmt.Sprintf("%s=%v", cols[i], v)
				}
				lines = append(lines, strings.Join(parts, " "))
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reconcile %s: %w", name, err)
		}
		c := Check{Name: name, OK: n == 0}
		if n > 0 {
			c.Detail = fmt.Sprintf("%d offending: %s", n, strings.Join(lines, "; "))
		}
		r.Checks = append(r.Checks, c)
		return nil
	}

	// eff is every account with its true sums: on SQLite a row plus the transfers after
	// its sums_seq (rows are checkpoints there, see sums.go); on PostgreSQL the row.
	eff := `eff AS (SELECT id, asset, flags, debits_pending, debits_posted, credits_pending, credits_posted FROM ledger_accounts)`
	if d.Engine == db.SQLite {
		eff = `tl AS (
				SELECT t.seq, t.debit_account_id AS dr, t.credit_account_id AS cr,
					CASE WHEN (t.flags & 2) <> 0 THEN t.amount WHEN (t.flags & 12) <> 0 THEN -p.amount ELSE 0 END AS pend,
					CASE WHEN (t.flags & 10) = 0 THEN t.amount ELSE 0 END AS post
				FROM ledger_transfers t LEFT JOIN ledger_pending p ON p.id = t.pending_id AND (t.flags & 12) <> 0
				WHERE t.seq > (SELECT flushed_seq FROM ledger_state WHERE id = 1)),
			fx AS (SELECT dr AS acct, seq, pend AS dp, post AS dpo, 0 AS cp, 0 AS cpo FROM tl
				UNION ALL SELECT cr, seq, 0, 0, pend, post FROM tl),
			eff AS (SELECT a.id, a.asset, a.flags,
					a.debits_pending + COALESCE(SUM(fx.dp), 0) AS debits_pending,
					a.debits_posted + COALESCE(SUM(fx.dpo), 0) AS debits_posted,
					a.credits_pending + COALESCE(SUM(fx.cp), 0) AS credits_pending,
					a.credits_posted + COALESCE(SUM(fx.cpo), 0) AS credits_posted
				FROM ledger_accounts a LEFT JOIN fx ON fx.acct = a.id AND fx.seq > a.sums_seq
				GROUP BY a.id, a.asset, a.flags, a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)`
	}
	checks := []struct{ name, q string }{
		{"per asset, debits equal credits (posted and pending)", `
			WITH ` + eff + `
			SELECT asset, SUM(debits_posted) AS debits_posted, SUM(credits_posted) AS credits_posted,
				SUM(debits_pending) AS debits_pending, SUM(credits_pending) AS credits_pending
			FROM eff GROUP BY asset
			HAVING SUM(debits_posted) <> SUM(credits_posted) OR SUM(debits_pending) <> SUM(credits_pending)`},
		// Posted sums come from plain transfers and posts (not holds, not voids); pending
		// sums from holds still pending.
		{"every account's sums equal its transfers", `
			WITH ` + eff + `, moves AS (
				SELECT debit_account_id AS acct, amount AS dpo, 0 AS cpo FROM ledger_transfers WHERE (flags & 10) = 0
				UNION ALL
				SELECT credit_account_id, 0, amount FROM ledger_transfers WHERE (flags & 10) = 0
			), holds AS (
				SELECT debit_account_id AS acct, amount AS dp, 0 AS cp FROM ledger_pending WHERE state = 0
				UNION ALL
				SELECT credit_account_id, 0, amount FROM ledger_pending WHERE state = 0
			), m AS (SELECT acct, SUM(dpo) AS dpo, SUM(cpo) AS cpo FROM moves GROUP BY acct),
			h AS (SELECT acct, SUM(dp) AS dp, SUM(cp) AS cp FROM holds GROUP BY acct)
			SELECT a.id, a.debits_posted, COALESCE(m.dpo, 0) AS from_transfers_dpo, a.credits_posted, COALESCE(m.cpo, 0) AS from_transfers_cpo,
				a.debits_pending, COALESCE(h.dp, 0) AS from_holds_dp, a.credits_pending, COALESCE(h.cp, 0) AS from_holds_cp
			FROM eff a LEFT JOIN m ON m.acct = a.id LEFT JOIN h ON h.acct = a.id
			WHERE a.debits_posted <> COALESCE(m.dpo, 0) OR a.credits_posted <> COALESCE(m.cpo, 0)
				OR a.debits_pending <> COALESCE(h.dp, 0) OR a.credits_pending <> COALESCE(h.cp, 0)`},
		{"every transfer's accounts exist and hold its asset", `
			SELECT t.id, t.asset FROM ledger_transfers t
			LEFT JOIN ledger_accounts d ON d.id = t.debit_account_id
			LEFT JOIN ledger_accounts c ON c.id = t.credit_account_id
			WHERE d.id IS NULL OR c.id IS NULL OR d.asset <> t.asset OR c.asset <> t.asset OR t.amount <= 0`},
		{"no account breaks its flags or goes negative", `
			WITH ` + eff + `
			SELECT id, flags, debits_posted, debits_pending, credits_posted, credits_pending FROM eff
			WHERE ((flags & 1) <> 0 AND debits_posted + debits_pending > credits_posted)
				OR debits_posted < 0 OR debits_pending < 0 OR credits_posted < 0 OR credits_pending < 0`},
		{"every hold has one pending row that matches it", `
			SELECT t.id FROM ledger_transfers t LEFT JOIN ledger_pending p ON p.id = t.id
			WHERE (t.flags & 2) <> 0 AND (p.id IS NULL OR p.amount <> t.amount
				OR p.debit_account_id <> t.debit_account_id OR p.credit_account_id <> t.credit_account_id)
			UNION ALL
			SELECT p.id FROM ledger_pending p LEFT JOIN ledger_transfers t ON t.id = p.id
			WHERE t.id IS NULL OR (t.flags & 2) = 0`},
		// state 0 pending / 3 expired: no resolution; 1 posted: exactly one post of at most
		// the held amount; 2 voided: exactly one void.
		{"every hold is in exactly one state", `
			WITH res AS (
				SELECT pending_id, COUNT(*) AS n, SUM(CASE WHEN (flags & 4) <> 0 THEN 1 ELSE 0 END) AS posts,
					SUM(amount) AS amount
				FROM ledger_transfers WHERE (flags & 12) <> 0 GROUP BY pending_id
			)
			SELECT p.id, p.state, res.n AS resolutions, res.posts, p.resolved_by
			FROM ledger_pending p LEFT JOIN res ON res.pending_id = p.id
			WHERE (p.state IN (0, 3) AND res.n IS NOT NULL)
				OR (p.state = 1 AND (res.n IS NULL OR res.n <> 1 OR res.posts <> 1 OR res.amount > p.amount
					OR NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.id = p.resolved_by AND r.pending_id = p.id)))
				OR (p.state = 2 AND (res.n IS NULL OR res.n <> 1 OR res.posts <> 0
					OR NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.id = p.resolved_by AND r.pending_id = p.id)))
				OR p.state NOT IN (0, 1, 2, 3)
			UNION ALL
			SELECT res.pending_id, -1, res.n, res.posts, NULL FROM res LEFT JOIN ledger_pending p ON p.id = res.pending_id
			WHERE p.id IS NULL`},
	}
	for _, c := range checks {
		if err := listing(c.name, c.q); err != nil {
			return nil, err
		}
	}
	return r, nil
}
