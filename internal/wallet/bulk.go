package wallet

import (
	"strconv"
	"strings"

	"okpay/internal/db"
)

// bulk builds a multi-row statement's VALUES list. On SQLite the parameters are
// anonymous "?": SQLite looks "$N" parameters up by name in a list, at parse and at bind
// (modernc's driver asks every parameter's name), which costs O(n²) in the statement's
// parameters — for a feed batch's thousand-parameter inserts, more than the inserts
// themselves. PostgreSQL numbers them ("$N") as usual.
type bulk struct {
	q      strings.Builder
	args   []any
	sqlite bool
	rows   int
}

func newBulk(tx *db.Tx, head string, capArgs int) *bulk {
	b := &bulk{sqlite: tx.Dialect.Name() == db.SQLite, args: make([]any, 0, capArgs)}
	b.q.WriteString(head)
	return b
}

// row appends one "(…)" of vals; a string val of the form sqlLit is written as is.
func (b *bulk) row(vals ...any) {
	if b.rows > 0 {
		b.q.WriteString(", ")
	}
	b.rows++
	b.q.WriteByte('(')
	for i, v := range vals {
		if i > 0 {
			b.q.WriteString(", ")
		}
		if l, ok := v.(sqlLit); ok {
			b.q.WriteString(string(l))
			continue
		}
		b.param(v)
	}
	b.q.WriteByte(')')
}

// param writes one placeholder for v.
func (b *bulk) param(v any) {
	b.args = append(b.args, v)
	if b.sqlite {
		b.q.WriteByte('?')
		return
	}
	b.q.WriteByte('$')
	b.q.WriteString(strconv.Itoa(len(b.args)))
}

// sqlLit is a literal written into the statement instead of a parameter.
type sqlLit string

func (b *bulk) String() string { return b.q.String() }

// chunk is how many of n rows the next statement of a batch takes: the largest power of
// two ≤ min(n, max). A batch of any size is then a few statements of a few shapes, each
// prepared once and kept in the statement cache instead of parsed per batch.
func chunk(n, max int) int {
	c := 1
	for c*2 <= n && c*2 <= max {
		c *= 2
	}
	return c
}
