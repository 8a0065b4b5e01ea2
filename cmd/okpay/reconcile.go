package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"okpay/internal/db"
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
	fs := flag.NewFlagSet("okpay reconcile", flag.ContinueOnError)
	defData := os.Getenv("OKPAY_DATA")
	if defData == "" {
		defData = "okpay-data"
	}
	dataDir := fs.String("data", defData, "data folder holding the SQLite database (env OKPAY_DATA)")
	dbURL := fs.String("database", os.Getenv("OKPAY_DATABASE_URL"), "postgres://… URL; empty uses SQLite in --data (env OKPAY_DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	where := db.Redact(*dbURL)
	if *dbURL == "" {
		path := filepath.Join(*dataDir, "okpay.db")
		// db.Open would create an empty database, and an empty ledger always reconciles.
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("no database at %s (use --data or --database): %w", path, err)
		}
		where = "sqlite " + path
	}
	d, err := db.Open(ctx, db.Config{URL: *dbURL, DataDir: *dataDir, MaxConns: 2})
	if err != nil {
		return err
	}
	defer d.Close()
	pending, err := d.PendingMigrations(ctx)
	if err != nil {
		return fmt.Errorf("%s is not an OKPay database, or cannot be read: %w", where, err)
	}
	if pending > 0 {
		return fmt.Errorf("%s is %d migrations behind this okpay; run okpay migrate first (reconcile never changes the database)", where, pending)
	}
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
