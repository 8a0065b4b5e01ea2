package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"

	"okpay/internal/db"
)

// SweepExpired voids, through the committer, up to Options.SweepLimit pending transfers
// whose timeout has passed, and returns how many it expired. The holds' amounts are
// released from both accounts' pending sums and their state becomes expired; no transfer
// row is written (a later post or void gets PendingExpired). Errors: ErrClosed, the
// context's error, database errors.
func (l *Ledger) SweepExpired(ctx context.Context) (int, error) {
	c := &call{kind: kindSweep, done: make(chan struct{})}
	if err := l.enqueue(ctx, c); err != nil {
		return 0, err
	}
	return c.swept, nil
}

// sweepLoop runs SweepExpired every Options.SweepEvery, repeating at once while a pass
// hits its limit, until Close.
func (l *Ledger) sweepLoop() {
	defer l.bgDone.Done()
	t := time.NewTicker(l.opts.SweepEvery)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-l.stop; cancel() }()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		for {
			n, err := l.SweepExpired(ctx)
			if err != nil {
				if ctx.Err() == nil {
					l.opts.Logger.Error("ledger: sweep expired holds", "err", err)
				}
				break
			}
			if n < l.opts.SweepLimit {
				break
			}
		}
	}
}

// runSweep is the committer's half of SweepExpired.
func (l *Ledger) runSweep(c *call) {
	ctx := context.Background()
	err := l.d.InTx(ctx, func(tx *db.Tx) error {
		c.swept = 0
		b := newBatch(tx.NowMicros(), 0)
		rows, err := tx.QueryContext(ctx, `SELECT `+pendingCols+` FROM ledger_pending
			WHERE state = 0 AND expires_at > 0 AND expires_at <= $1 ORDER BY expires_at LIMIT $2`, b.now, l.opts.SweepLimit)
		if err != nil {
			return fmt.Errorf("find expired holds: %w", err)
		}
		var ids []uuid.UUID
		acctSet := map[uuid.UUID]struct{}{}
		if err := func(rows *sql.Rows) error {
			defer rows.Close()
			for rows.Next() {
				p, err := scanPending(rows)
				if err != nil {
					return err
				}
				ids = append(ids, p.id)
				b.pendings[p.id] = p
				acctSet[p.debit] = struct{}{}
				acctSet[p.credit] = struct{}{}
			}
			return rows.Err()
		}(rows); err != nil {
			return fmt.Errorf("find expired holds: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		accts := make([]uuid.UUID, 0, len(acctSet))
		for id := range acctSet {
			accts = append(accts, id)
		}
		sort.Slice(accts, func(i, j int) bool { return lessID(accts[i], accts[j]) })
		var ts *txSums
		if l.sums != nil {
			if ts, err = l.acquire(ctx, tx); err != nil {
				return err
			}
			if err := l.accountsFor(ctx, tx, ts, accts, b.accounts); err != nil {
				return err
			}
		} else if err := l.st.loadAccounts(ctx, tx, accts, b.accounts); err != nil {
			return err
		}
		if l.st.pg {
			// Re-read under the account locks: another node may have resolved some.
			clear(b.pendings)
			if err := l.st.loadPendings(ctx, tx, ids, b.pendings); err != nil {
				return err
			}
		}
		for _, p := range b.pendings {
			if b.expire(p) {
				c.swept++
			}
		}
		if err := l.st.write(ctx, tx, b); err != nil {
			return err
		}
		if ts == nil {
			return nil
		}
		// Expiries have no transfer row to replay, so their accounts' rows are written
		// now (see sums.go).
		ts.noteChanges(b)
		top, err := l.st.queryInt(ctx, tx, sqlLastSeq)
		if err != nil {
			return fmt.Errorf("read last seq: %w", err)
		}
		return l.flush(ctx, tx, ts, accts, 0, false, top)
	})
	if err != nil {
		c.err = fmt.Errorf("ledger: sweep: %w", err)
		c.swept = 0
	}
	close(c.done)
}
