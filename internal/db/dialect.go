package db

import (
	"fmt"
	"strings"
)

// Dialect holds the few places where SQLite and PostgreSQL really differ. Everything else
// is portable SQL written by the caller.
type Dialect interface {
	Name() Engine
	// ForUpdate is the row-lock suffix for SELECT: "FOR UPDATE" on PostgreSQL, "" on SQLite,
	// where the write transaction already holds the database lock.
	ForUpdate() string
	// BlobType is the column type for raw bytes in DDL built at run time.
	BlobType() string
	// TextSearch returns a query selecting (doc_id, score) — score higher is better — for
	// the rows of table matching any of terms, best first, at most limit rows. The caller
	// tokenises: terms and the indexed columns are already lists of tokens separated by
	// spaces (so the engine's own word splitting, which knows no Chinese, does nothing), and
	// each term must be letters and digits only. weights give the columns' importance in
	// the order they were indexed. How the index is built is the migration's business:
	//   - SQLite: an FTS5 table <table>_fts (content=table, content_rowid=doc_id) whose
	//     columns are the indexed columns, in that order;
	//   - PostgreSQL: a tsvector column "tsv" on table (with a GIN index) built with
	//     to_tsvector('simple', …) and setweight A, B, C, D for the columns in that order.
	// The terms are passed as one bound argument, $1: never spliced into the SQL.
	TextSearch(table string, weights []float64, terms []string, limit int) (query string, args []any)
}

type sqliteDialect struct{}

func (sqliteDialect) Name() Engine      { return SQLite }
func (sqliteDialect) ForUpdate() string { return "" }
func (sqliteDialect) BlobType() string  { return "BLOB" }

// TextSearch on SQLite: an FTS5 MATCH of quoted terms joined by OR. Quoting makes every
// term a plain string to FTS5, so no user text can become FTS5 syntax; bm25 is negated
// because FTS5 ranks better rows lower.
func (sqliteDialect) TextSearch(table string, weights []float64, terms []string, limit int) (string, []any) {
	quoted := make([]string, len(terms))
	for i, t := range terms {
		quoted[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
	}
	w := make([]string, len(weights))
	for i, x := range weights {
		w[i] = fmt.Sprintf("%g", x)
	}
	fts := table + "_fts"
	q := fmt.Sprintf(`SELECT rowid AS doc_id, -bm25(%s, %s) AS score FROM %s WHERE %s MATCH $1 ORDER BY score DESC LIMIT %d`,
		fts, strings.Join(w, ", "), fts, fts, limit)
	return q, []any{strings.Join(quoted, " OR ")}
}

type pgDialect struct{}

func (pgDialect) Name() Engine      { return Postgres }
func (pgDialect) ForUpdate() string { return "FOR UPDATE" }
func (pgDialect) BlobType() string  { return "BYTEA" }

// TextSearch on PostgreSQL: a tsquery of quoted lexemes joined by |, ranked with ts_rank
// using the weights as the A, B, C, D label weights. Terms are letters and digits, so the
// quoted lexemes cannot carry tsquery operators; quotes are still doubled to be sure.
func (pgDialect) TextSearch(table string, weights []float64, terms []string, limit int) (string, []any) {
	quoted := make([]string, len(terms))
	for i, t := range terms {
		quoted[i] = `'` + strings.ReplaceAll(strings.ReplaceAll(t, `\`, `\\`), `'`, `''`) + `'`
	}
	// ts_rank takes the weights as {D, C, B, A}; the caller gives them most important first.
	abcd := []float64{0.1, 0.2, 0.4, 1.0}
	for i := 0; i < len(weights) && i < 4; i++ {
		abcd[3-i] = weights[i]
	}
	max := 0.0
	for _, x := range abcd {
		if x > max {
			max = x
		}
	}
	w := make([]string, 4)
	for i, x := range abcd {
		if max > 0 {
			x /= max // ts_rank wants weights in 0..1
		}
		w[i] = fmt.Sprintf("%g", x)
	}
	q := fmt.Sprintf(`SELECT doc_id, ts_rank('{%s}'::real[], tsv, q) AS score FROM %s, to_tsquery('simple', $1) q WHERE tsv @@ q ORDER BY score DESC LIMIT %d`,
		strings.Join(w, ","), table, limit)
	return q, []any{strings.Join(quoted, " | ")}
}
