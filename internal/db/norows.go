package db

import (
	"database/sql"
	"errors"
)

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// IsNoRows reports whether err is sql.ErrNoRows.
func IsNoRows(err error) bool { return isNoRows(err) }
