package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Migrations are numbered files NNNN_name.sql, shared by both engines, or a pair
// NNNN_name.sqlite.sql / NNNN_name.postgres.sql where the DDL must differ. Each is applied
// once, in its own transaction, in number order.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// migrationLockID is the PostgreSQL advisory lock key that serialises migrators, so two
// nodes starting at the same moment apply each migration once. Any fixed number works.
const migrationLockID = 0x0C0FFEE

// Migrations returns the migrations for engine in order.
func Migrations(engine Engine) ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	byVersion := map[int]Migration{}
	for _, e := range entries {
		name := e.Name()
		base := strings.TrimSuffix(name, ".sql")
		specific := ""
		for _, eng := range []Engine{SQLite, Postgres} {
			if strings.HasSuffix(base, "."+string(eng)) {
				specific = string(eng)
				base = strings.TrimSuffix(base, "."+string(eng))
			}
		}
		if specific != "" && specific != string(engine) {
			continue
		}
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		body, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		if old, dup := byVersion[v]; dup && specific == "" {
			return nil, fmt.Errorf("migration %d defined twice (%s, %s)", v, old.Name, base)
		}
		byVersion[v] = Migration{Version: v, Name: base, SQL: string(body)}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version BIGINT PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at BIGINT NOT NULL
)`

// Migrate applies every migration not yet applied and returns how many it applied.
func (d *DB) Migrate(ctx context.Context) (int, error) {
	ms, err := Migrations(d.Engine)
	if err != nil {
		return 0, err
	}
	conn, err := d.W.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close()
	if d.Engine == Postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockID); err != nil {
			return 0, fmt.Errorf("migrate: take lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockID)
	}
	if _, err := conn.ExecContext(ctx, createMigrationsTable); err != nil {
		return 0, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	applied := 0
	for _, m := range ms {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return applied, fmt.Errorf("migrate %04d: begin: %w", m.Version, err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&n); err != nil {
			tx.Rollback()
			return applied, fmt.Errorf("migrate %04d: check: %w", m.Version, err)
		}
		if n > 0 {
			tx.Rollback()
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return applied, fmt.Errorf("migrate %04d_%s: %w", m.Version, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.Version, m.Name, d.Clock.Now().UnixMicro()); err != nil {
			tx.Rollback()
			return applied, fmt.Errorf("migrate %04d: record: %w", m.Version, err)
		}
		if err := tx.Commit(); err != nil {
			return applied, fmt.Errorf("migrate %04d: commit: %w", m.Version, err)
		}
		applied++
	}
	return applied, nil
}

// PendingMigrations returns how many embedded migrations are not applied yet; /readyz
// reports not ready until it is zero.
func (d *DB) PendingMigrations(ctx context.Context) (int, error) {
	ms, err := Migrations(d.Engine)
	if err != nil {
		return 0, err
	}
	rows, err := d.R.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return len(ms), fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	done := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return len(ms), fmt.Errorf("scan schema_migrations: %w", err)
		}
		done[v] = true
	}
	if err := rows.Err(); err != nil {
		return len(ms), fmt.Errorf("read schema_migrations: %w", err)
	}
	pending := 0
	for _, m := range ms {
		if !done[m.Version] {
			pending++
		}
	}
	return pending, nil
}
