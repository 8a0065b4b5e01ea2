package db

// Dialect holds the few places where SQLite and PostgreSQL really differ. Everything else
// is portable SQL written by the caller.
type Dialect interface {
	Name() Engine
	// ForUpdate is the row-lock suffix for SELECT: "FOR UPDATE" on PostgreSQL, "" on SQLite,
	// where the write transaction already holds the database lock.
	ForUpdate() string
	// BlobType is the column type for raw bytes in DDL built at run time.
	BlobType() string
}

type sqliteDialect struct{}

func (sqliteDialect) Name() Engine      { return SQLite }
func (sqliteDialect) ForUpdate() string { return "" }
func (sqliteDialect) BlobType() string  { return "BLOB" }

type pgDialect struct{}

func (pgDialect) Name() Engine      { return Postgres }
func (pgDialect) ForUpdate() string { return "FOR UPDATE" }
func (pgDialect) BlobType() string  { return "BYTEA" }
