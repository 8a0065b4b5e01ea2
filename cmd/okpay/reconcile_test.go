package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"okpay/internal/db"
	"okpay/internal/ledger"
)

func TestReconcileCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var out bytes.Buffer
	if err := runReconcile(ctx, []string{"--data", dir}, &out); err == nil {
		t.Fatal("reconcile of a missing database must fail")
	}
	d, err := db.Open(ctx, db.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	l, _ := ledger.New(d, ledger.Options{SweepEvery: -1})
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	a, b := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	l.CreateAccounts(ctx, []ledger.Account{{ID: a, Asset: "CNY"}, {ID: b, Asset: "CNY"}})
	res, err := l.Submit(ctx, []ledger.Transfer{{ID: uuid.Must(uuid.NewV7()), DebitAccountID: a, CreditAccountID: b, Amount: 5, Asset: "CNY"}})
	if err != nil || res[0].Code != ledger.OK {
		t.Fatal(res, err)
	}
	l.Close()

	out.Reset()
	if err := runReconcile(ctx, []string{"--data", dir}, &out); err != nil {
		t.Fatalf("clean ledger: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "OK") {
		t.Fatalf("report: %s", out.String())
	}
	// Break an account's sums behind the ledger's back: reconcile must say so and fail.
	if _, err := d.W.ExecContext(ctx, `UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = $1`, b[:]); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = runReconcile(ctx, []string{"--data", dir}, &out)
	if !errors.Is(err, errReconcileFailed) || !strings.Contains(out.String(), "FAIL") {
		t.Fatalf("broken ledger: %v\n%s", err, out.String())
	}
}
