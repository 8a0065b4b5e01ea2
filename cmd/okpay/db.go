package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"okpay/internal/db"
	"okpay/internal/server"
)

// openDB opens the database named by cfg (SQLite in the data folder, or PostgreSQL).
func openDB(ctx context.Context, cfg server.Config) (*db.DB, error) {
	return db.Open(ctx, db.Config{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxConns: cfg.MaxConns})
}

// openExisting parses --data / --database for a read-only command and opens that database
// without changing it. A missing SQLite file is refused (db.Open would create an empty one,
// and an empty ledger or audit log always checks out), and so is a database whose schema is
// behind this binary. where names the database for reports, with any password hidden.
func openExisting(ctx context.Context, name string, args []string) (d *db.DB, where string, err error) {
	fs := flag.NewFlagSet("okpay "+name, flag.ContinueOnError)
	defData := os.Getenv("OKPAY_DATA")
	if defData == "" {
		defData = "okpay-data"
	}
	dataDir := fs.String("data", defData, "data folder holding the SQLite database (env OKPAY_DATA)")
	dbURL := fs.String("database", os.Getenv("OKPAY_DATABASE_URL"), "postgres://… URL; empty uses SQLite in --data (env OKPAY_DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return nil, "", err
	}
	if fs.NArg() > 0 {
		return nil, "", fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	where = db.Redact(*dbURL)
	if *dbURL == "" {
		path := filepath.Join(*dataDir, "okpay.db")
		if _, err := os.Stat(path); err != nil {
			return nil, "", fmt.Errorf("no database at %s (use --data or --database): %w", path, err)
		}
		where = "sqlite " + path
	}
	d, err = db.Open(ctx, db.Config{URL: *dbURL, DataDir: *dataDir, MaxConns: 2})
	if err != nil {
		return nil, "", err
	}
	pending, err := d.PendingMigrations(ctx)
	if err != nil {
		d.Close()
		return nil, "", fmt.Errorf("%s is not an OKPay database, or cannot be read: %w", where, err)
	}
	if pending > 0 {
		d.Close()
		return nil, "", fmt.Errorf("%s is %d migrations behind this okpay; run okpay migrate first (%s never changes the database)", where, pending, name)
	}
	return d, where, nil
}
