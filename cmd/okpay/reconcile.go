package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"okpay/internal/ledger"
)

func init() {
	register(Command{Name: "reconcile", Summary: "check the ledger's invariants over the whole database; exit 1 if any fails",
		Run: func(ctx context.Context, args []string) error { return runReconcile(ctx, args, os.Stdout) }})
}

// errReconcileFailed is returned when a check failed, so the exit status is non-zero.
var errReconcileFailed = errors.New("ledger reconcile failed")

// runReconcile reads the whole ledger in one snapshot and prints a report. It never
// changes the database: it does not create a SQLite file or migrate.
func runReconcile(ctx context.Context, args []string, out io.Writer) error {
	d, where, err := openExisting(ctx, "reconcile", args)
	if err != nil {
		return err
	}
	defer d.Close()
	rep, err := ledger.Reconcile(ctx, d)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "reconcile %s\n%s", where, rep)
	if !rep.OK() {
		fmt.Fprintln(out, "FAILED")
		return errReconcileFailed
	}
	fmt.Fprintln(out, "OK")
	return nil
}
