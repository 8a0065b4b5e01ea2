package notify

import (
	"context"
	"testing"

	"okpay/internal/db"
)

// A settler's registration must end with its database: the registry is global, and a
// process that opens many databases (tests, tools) would otherwise keep each one, with
// its connection pools' memory, reachable for ever.
func TestSettlerReleasedOnClose(t *testing.T) {
	ctx := context.Background()
	d, err := db.Open(ctx, db.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	RegisterSettler(d, func(context.Context) error { calls++; return nil })
	// A second registration replaces the first and must not add a second close hook
	// that would fail or double-delete.
	RegisterSettler(d, func(context.Context) error { calls += 10; return nil })
	if err := settle(ctx, d); err != nil || calls != 10 {
		t.Fatalf("settle before close: calls %d, err %v; want the second settler once", calls, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := settlers.Load(d); ok {
		t.Fatal("settler still registered after its database closed")
	}
	if err := settle(ctx, d); err != nil || calls != 10 {
		t.Fatalf("settle after close ran a settler: calls %d, err %v", calls, err)
	}
}
