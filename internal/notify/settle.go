package notify

import (
	"context"
	"fmt"
	"sync"

	"okpay/internal/db"
)

// Deferred writers. A caller may record its work in a narrow log of its own inside its
// transaction and write the outbox and inbox rows derived from it later, in batches (the
// wallet's payment feed: one log row per payment instead of an activity, search terms,
// an email and a notification written on random index pages by every payment). Such a
// caller registers a settler for its database: every read of the inbox and every claim
// of the outbox runs it first, so a message whose cause committed before the read is
// there to be read or sent.
var settlers sync.Map // *db.DB → func(context.Context) error

// RegisterSettler makes fn run before the inbox is read and before the outbox is claimed
// on d. fn writes whatever derived rows are still owed for transactions that committed
// before it was called; it must be safe to call concurrently. A later registration for
// the same database replaces an earlier one. The registration ends when d is closed.
func RegisterSettler(d *db.DB, fn func(ctx context.Context) error) {
	if _, loaded := settlers.Swap(d, fn); !loaded {
		d.OnClose(func() { settlers.Delete(d) })
	}
}

// settle runs d's settler, if any.
func settle(ctx context.Context, d *db.DB) error {
	fn, ok := settlers.Load(d)
	if !ok {
		return nil
	}
	if err := fn.(func(context.Context) error)(ctx); err != nil {
		return fmt.Errorf("settle deferred messages: %w", err)
	}
	return nil
}
