package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"okpay/internal/audit"
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
	d, where, err := openExisting(ctx, "audit verify", args)
	if err != nil {
		return err
	}
	defer d.Close()
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
