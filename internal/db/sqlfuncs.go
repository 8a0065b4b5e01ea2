package db

import (
	"database/sql/driver"
	"fmt"

	"modernc.org/sqlite"
)

// okpay_int(blob, offset, width) reads the big-endian integer of width bytes (1–8) at the
// 0-based offset of blob: signed two's complement when width is 8, unsigned otherwise;
// NULL when blob is NULL. SQLite has no built-in way to read an integer out of a blob, and
// views over packed rows need one: the SQLite ledger stores each transfer's fields in one
// blob (binding one value instead of nine is most of its insert cost; see
// internal/ledger/store.go and migration 0051) and exposes the columns through a view.
// Registered for every SQLite connection this process opens; a database opened by another
// program (the sqlite3 shell) lacks it, so such a view fails there with "no such function".
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("okpay_int", 3, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		if args[0] == nil {
			return nil, nil
		}
		var b []byte
		switch v := args[0].(type) {
		case []byte:
			b = v
		case string:
			b = []byte(v)
		default:
			return nil, fmt.Errorf("okpay_int: want a blob, got %T", args[0])
		}
		off, ok1 := args[1].(int64)
		width, ok2 := args[2].(int64)
		if !ok1 || !ok2 || width < 1 || width > 8 || off < 0 || off+width > int64(len(b)) {
			return nil, fmt.Errorf("okpay_int: offset %v width %v outside a %d-byte blob", args[1], args[2], len(b))
		}
		var u uint64
		for _, c := range b[off : off+width] {
			u = u<<8 | uint64(c)
		}
		return int64(u), nil
	})
}
