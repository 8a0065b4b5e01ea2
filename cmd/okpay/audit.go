package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"okpay/internal/audit"
	"okpay/internal/db"
)

func init() {
	register(Command{Name: "audit", Summary: "audit log tools: okpay audit verify (recompute the hash chain)", Run: runAudit})
}

func runAudit(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(os.Stderr, "usage: okpay audit verify [--data DIR | --database URL]\n\n"+
			"  verify   recompute the audit log's hash chain; exit status 1 on any break")
		if len(args) == 0 {
			return errUsage
		}
		return flag.ErrHelp
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(ctx, args[1:], os.Stdout)
	}
	fmt.Fprintf(os.Stderr, "okpay audit: unknown subcommand %q (try okpay audit verify)\n", args[0])
	return errUsage
}

// runAuditVerify checks the chain without changing the database: it neither creates a
// SQLite file nor migrates, and refuses a database whose schema is behind this binary.
func runAuditVerify(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("okpay audit verify", flag.ContinueOnError)
	dataDir := fs.String("data", auditEnvOr("OKPAY_DATA", "okpay-data"), "data folder holding the SQLite database (env OKPAY_DATA)")
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
		// db.Open would create an empty database; verifying that would prove nothing.
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
		return fmt.Errorf("%s is %d migrations behind this okpay; run okpay migrate first (verify never changes the database)", where, pending)
	}
	rep, err := audit.Verify(ctx, d)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "audit log of %s\n", where)
	fmt.Fprintf(out, "head: seq %d, hash %s\n", rep.HeadSeq, rep.HeadHash)
	if rep.OK() {
		fmt.Fprintf(out, "OK: %d entries verified\n", rep.Entries)
		return nil
	}
	b := rep.Break
	fmt.Fprintf(out, "BROKEN at seq %d: %s\n  expected: %s\n  got:      %s\n%d entries before it verified\n",
		b.Seq, b.Problem, b.Expected, b.Got, rep.Entries)
	return errors.New("audit chain broken at seq " + fmt.Sprint(b.Seq) + ": " + b.Problem)
}

func auditEnvOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
