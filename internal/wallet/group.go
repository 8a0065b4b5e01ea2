package wallet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// Group commit (SQLite). SQLite has one writer: every call's transaction waits for the
// ones before it, and each pays its own COMMIT (WAL frames + fsync). Concurrent transfers
// therefore queue here and run many to a transaction, each in its own SAVEPOINT, so the
// commit, the fsync and the hand-off of the writer connection are paid once per batch.
// Each call keeps its own outcome: a call that fails is rolled back to its savepoint and
// answered with its error; the others commit. Results are answered only after COMMIT.
//
// Calls queue in a leaderQueue with one slot (leader.go): there is no committer
// goroutine, a caller leads.
//
// The ledger is the one thing a savepoint must not undo: SubmitTx and CreateAccountsTx
// keep in-memory state for their transaction that a ROLLBACK TO would not rewind. So a
// call that fails after it reached the ledger ("touched") rolls back the whole batch;
// it is answered errAlone and runs again in a transaction of its own, and the others run
// again without it (see commit). Several SubmitTx calls in one transaction are fine on
// SQLite (one writer, no lock order to keep); PostgreSQL keeps one transaction per call.
// Running a call again is safe because every call is idempotent by its key: one that did
// commit answers its first result.

// maxGroup bounds the calls in one transaction.
const maxGroup = 128

// errAlone: run the call again in a transaction of its own.
var errAlone = errors.New("wallet: run alone")

type groupJob struct {
	ctx     context.Context
	fn      func(ctx context.Context, tx *db.Tx) error
	touched bool // reached the ledger in the current attempt
	err     error
	queued
}

type groupCommit struct {
	d   *db.DB
	log *slog.Logger

	leaderQueue[*groupJob]

	// batches and poisoned count transactions and whole-batch rollbacks (for tests).
	batches, poisoned atomic.Int64
}

type jobKey struct{}

// touchLedger notes that the current group call reached the ledger (see above).
func touchLedger(ctx context.Context) {
	if j, ok := ctx.Value(jobKey{}).(*groupJob); ok {
		j.touched = true
	}
}

// do runs fn in a group transaction and returns its error, errAlone when fn must run
// again alone, or the batch's error.
func (g *groupCommit) do(ctx context.Context, fn func(ctx context.Context, tx *db.Tx) error) error {
	j := &groupJob{ctx: ctx, fn: fn}
	g.leaderQueue.do(j, 1, maxGroup, g.commit)
	return j.err
}

// commit runs batch in as few transactions as it can and answers every job.
func (g *groupCommit) commit(batch []*groupJob) {
	defer func() {
		// A panic outside the calls (a hook after COMMIT, say) must neither leave callers
		// waiting nor stop the leader's hand-over: each call runs again alone and meets it
		// there, on its own goroutine.
		if p := recover(); p != nil {
			g.log.Error("wallet: group commit panicked; its calls run again alone", "panic", fmt.Sprint(p))
			for _, j := range batch {
				j.err = errAlone
			}
		}
		for _, j := range batch {
			close(j.done)
		}
	}()
	// todo holds runs of jobs still to commit, in order. A job that fails after the
	// ledger rolls its whole transaction back: it is answered errAlone, the jobs before
	// it run again without it, the ones after it (not run yet) follow. So every job runs
	// at most twice here, however many fail.
	todo := [][]*groupJob{batch}
	for len(todo) > 0 {
		run := todo[0]
		todo = todo[1:]
		k, err := g.attempt(run)
		g.batches.Add(1)
		switch {
		case k >= 0:
			g.poisoned.Add(1)
			run[k].err = errAlone
			var next [][]*groupJob
			if k > 0 {
				next = append(next, run[:k])
			}
			if k+1 < len(run) {
				next = append(next, run[k+1:])
			}
			todo = append(next, todo...)
		case err != nil:
			// Nothing committed (a failed BEGIN, SAVEPOINT or COMMIT): each job runs
			// again alone and meets its own outcome.
			for _, j := range run {
				j.err = errAlone
			}
		}
	}
}

// errPoison: job k failed after reaching the ledger; its transaction must roll back.
type errPoison struct{ k int }

func (errPoison) Error() string { return "wallet: group call failed after the ledger" }

// attempt runs jobs in one transaction, each in its own savepoint, and commits. It returns
// the index of a job that failed after reaching the ledger (everything rolled back), or
// -1 and the transaction's error.
func (g *groupCommit) attempt(jobs []*groupJob) (int, error) {
	ctx := context.Background()
	err := g.d.InTx(ctx, func(tx *db.Tx) error {
		for k, j := range jobs {
			j.touched, j.err = false, nil
			if err := j.ctx.Err(); err != nil {
				j.err = err
				continue
			}
			if _, err := tx.ExecCached(ctx, `SAVEPOINT call`); err != nil {
				return err
			}
			// The call's own cancellation must not interrupt the shared transaction.
			jctx := context.WithValue(context.WithoutCancel(j.ctx), jobKey{}, j)
			err := runJob(jctx, tx, j.fn)
			if err != nil {
				if j.touched {
					return errPoison{k}
				}
				if _, rerr := tx.ExecCached(ctx, `ROLLBACK TO call`); rerr != nil {
					return errPoison{k}
				}
			}
			if _, err := tx.ExecCached(ctx, `RELEASE call`); err != nil {
				return err
			}
			j.err = err
		}
		return nil
	})
	var p errPoison
	if errors.As(err, &p) {
		return p.k, nil
	}
	return -1, err
}

// runJob runs fn, turning a panic into an error for this call (the batch goes on
// without it: it rolls back whole, since nothing says the ledger was not reached).
func runJob(ctx context.Context, tx *db.Tx, fn func(context.Context, *db.Tx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			touchLedger(ctx)
			err = fmt.Errorf("wallet: panic in group call: %v", p)
		}
	}()
	return fn(ctx, tx)
}

// inGroupTx is inTx for hot money calls: on SQLite the call joins a group transaction
// (see above), on PostgreSQL it has its own. fn gets the context to use inside tx.
func (s *Service) inGroupTx(ctx context.Context, what string, fn func(ctx context.Context, tx *db.Tx) error) error {
	var err error
	if s.group != nil {
		err = s.group.do(ctx, fn)
		if errors.Is(err, errAlone) {
			err = s.d.InTx(ctx, func(tx *db.Tx) error { return fn(ctx, tx) })
		}
	} else {
		err = s.d.InTx(ctx, func(tx *db.Tx) error { return fn(ctx, tx) })
	}
	if err != nil {
		if _, ok := apperr.As(err); ok {
			s.fillAvailable(ctx, err)
			return err
		}
		return fmt.Errorf("wallet: %s: %w", what, err)
	}
	return nil
}
