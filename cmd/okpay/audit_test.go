package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"okpay/internal/audit"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
)

// auditDB fills a database with a few audit entries and closes it, as a server would leave it.
func auditDB(t *testing.T, cfg db.Config, n int) {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		err := d.InTx(ctx, func(tx *db.Tx) error {
			return audit.Append(ctx, tx, audit.Entry{ActorKind: audit.ActorAgent, ActorID: "agent-1", Action: "user.unlock",
				SubjectID: "user-9", Reason: "verified by phone", ClientAddr: "10.0.0.5"})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func auditExec(t *testing.T, d *db.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := d.W.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestAuditVerifySQLite(t *testing.T) {
	ctx := context.Background()
	t.Setenv("OKPAY_DATABASE_URL", "")
	dir := t.TempDir()
	auditDB(t, db.Config{DataDir: dir}, 5)

	var out bytes.Buffer
	if err := runAuditVerify(ctx, []string{"--data", dir}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "OK: 5 entries verified") {
		t.Fatalf("output: %s", out.String())
	}

	d, err := db.Open(ctx, db.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	auditExec(t, d, `DROP TRIGGER audit_log_no_update`, `UPDATE audit_log SET reason = 'routine' WHERE seq = 2`)
	d.Close()
	out.Reset()
	err = runAuditVerify(ctx, []string{"--data", dir}, &out)
	if err == nil || !strings.Contains(err.Error(), "seq 2") || !strings.Contains(out.String(), "BROKEN at seq 2") {
		t.Fatalf("tampered log: err %v\n%s", err, out.String())
	}
	if code := run(ctx, []string{"audit", "verify", "--data", dir}); code != 1 {
		t.Fatalf("exit status %d, want 1", code)
	}
}

func TestAuditVerifyChangesNothing(t *testing.T) {
	ctx := context.Background()
	t.Setenv("OKPAY_DATABASE_URL", "")
	empty := t.TempDir()
	if err := runAuditVerify(ctx, []string{"--data", empty}, &bytes.Buffer{}); err == nil {
		t.Fatal("verified a folder with no database")
	}
	if _, err := os.Stat(filepath.Join(empty, "okpay.db")); !os.IsNotExist(err) {
		t.Fatalf("verify created a database: %v", err)
	}

	// A database with no schema (or an older one) is refused, not migrated.
	bare := t.TempDir()
	d, err := db.Open(ctx, db.Config{DataDir: bare})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	err = runAuditVerify(ctx, []string{"--data", bare}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("verified an unmigrated database")
	}
	d, err = db.Open(ctx, db.Config{DataDir: bare})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int
	if err := d.R.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_migrations'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("verify migrated the database (%d, %v)", n, err)
	}
}

func TestAuditVerifyPostgres(t *testing.T) {
	ctx := context.Background()
	url := dbtest.NewSchema(t)
	auditDB(t, db.Config{URL: url}, 3)
	t.Setenv("OKPAY_DATABASE_URL", url)
	var out bytes.Buffer
	if err := runAuditVerify(ctx, nil, &out); err != nil || !strings.Contains(out.String(), "OK: 3 entries verified") {
		t.Fatalf("%v\n%s", err, out.String())
	}
	d, err := db.Open(ctx, db.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	auditExec(t, d, `DROP TRIGGER audit_log_append_only ON audit_log`, `DELETE FROM audit_log WHERE seq = 2`)
	out.Reset()
	if err := runAuditVerify(ctx, []string{"--database", url}, &out); err == nil || !strings.Contains(out.String(), "BROKEN at seq 2: entry missing") {
		t.Fatalf("%v\n%s", err, out.String())
	}
}

func TestAuditUsage(t *testing.T) {
	ctx := context.Background()
	if code := run(ctx, []string{"audit"}); code != 2 {
		t.Fatalf("bare audit: %d", code)
	}
	if code := run(ctx, []string{"audit", "frobnicate"}); code != 2 {
		t.Fatalf("unknown subcommand: %d", code)
	}
	if code := run(ctx, []string{"audit", "verify", "--bogus"}); code == 0 {
		t.Fatal("bad flag accepted")
	}
}
