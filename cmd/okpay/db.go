package main

import (
	"context"

	"okpay/internal/db"
	"okpay/internal/server"
)

// openDB opens the database named by cfg (SQLite in the data folder, or PostgreSQL).
func openDB(ctx context.Context, cfg server.Config) (*db.DB, error) {
	return db.Open(ctx, db.Config{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxConns: cfg.MaxConns})
}
