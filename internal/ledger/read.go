package ledger

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"okpay/internal/db"
)

// MaxPage caps the page size of list lookups.
const MaxPage = 1000

// CreateAccounts creates accounts, each in its own right: one Result per account, in
// order. Codes: OK, Exists (same id and fields; CreatedAt is the first creation's),
// ExistsWithDifferentFields, IDInvalid, AssetInvalid, FlagsInvalid, RefTooLong (Owner),
// BalancesInvalid (running sums must be zero). Errors: ErrTooLarge, database errors
// (nothing was created).
func (l *Ledger) CreateAccounts(ctx context.Context, accounts []Account) ([]Result, error) {
	var res []Result
	err := l.d.InTx(ctx, func(tx *db.Tx) error {
		var err error
		res, err = l.CreateAccountsTx(ctx, tx, accounts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// AccountsExistTx reports which of ids are stored accounts, reading through tx: a caller
// holding a write transaction must not take a second connection for it (on PostgreSQL
// the pool is shared, and a full pool would wait on itself). Accounts are never deleted,
// so a yes stays true.
func (l *Ledger) AccountsExistTx(ctx context.Context, tx *db.Tx, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	found := make(map[uuid.UUID]bool, len(ids))
	scan := func(rows *sql.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				return err
			}
			id, err := scanID(b)
			if err != nil {
				return err
			}
			found[id] = true
		}
		return rows.Err()
	}
	if len(ids) == 0 {
		return found, nil
	}
	if l.st.pg {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM ledger_accounts WHERE id = ANY($1)`, idBytes(ids))
		if err != nil {
			return nil, fmt.Errorf("ledger: accounts exist: %w", err)
		}
		if err := scan(rows); err != nil {
			return nil, fmt.Errorf("ledger: accounts exist: %w", err)
		}
		return found, nil
	}
	err := forChunks(len(ids), func(lo, hi int) error {
		args := make([]any, 0, hi-lo)
		for i := lo; i < hi; i++ {
			args = append(args, ids[i][:])
		}
		rows, err := tx.QueryContext(ctx, `SELECT id FROM ledger_accounts WHERE id IN (`+qmarks(hi-lo)+`)`, args...)
		if err != nil {
			return err
		}
		return scan(rows)
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: accounts exist: %w", err)
	}
	return found, nil
}

// CreateAccountsTx is CreateAccounts inside the caller's transaction; results hold only
// if tx commits.
func (l *Ledger) CreateAccountsTx(ctx context.Context, tx *db.Tx, accounts []Account) ([]Result, error) {
	if len(accounts) > l.opts.MaxBatch {
		return nil, ErrTooLarge
	}
	res := make([]Result, len(accounts))
	now := tx.NowMicros()
	// New accounts start at zero sums with their row exact, so the in-memory sums
	// (SQLite, sums.go) need not know about them.
	for i := range accounts {
		a := &accounts[i]
		switch {
		case a.ID == uuid.Nil:
			res[i] = Result{Code: IDInvalid}
			continue
		case !validAsset(a.Asset):
			res[i] = Result{Code: AssetInvalid}
			continue
		case a.Flags&^accountFlagsAll != 0:
			res[i] = Result{Code: FlagsInvalid}
			continue
		case len(a.Owner) > maxRefBytes:
			res[i] = Result{Code: RefTooLong}
			continue
		case a.DebitsPending != 0 || a.DebitsPosted != 0 || a.CreditsPending != 0 || a.CreditsPosted != 0:
			res[i] = Result{Code: BalancesInvalid}
			continue
		}
		r, err := tx.ExecContext(ctx, `INSERT INTO ledger_accounts (`+accountCols+`)
			VALUES ($1, $2, $3, $4, $5, 0, 0, 0, 0, $6) ON CONFLICT (id) DO NOTHING`,
			a.ID[:], a.Asset, a.Code, a.Owner, int64(a.Flags), now)
		if err != nil {
			return nil, fmt.Errorf("create account: %w", err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return nil, fmt.Errorf("create account: %w", err)
		} else if n == 1 {
			res[i] = Result{Code: OK, CreatedAt: db.Micros(now)}
			continue
		}
		prev, err := scanAccount(tx.QueryRowContext(ctx, `SELECT `+accountCols+` FROM ledger_accounts WHERE id = $1`, a.ID[:]))
		if err != nil {
			return nil, fmt.Errorf("create account: read existing: %w", err)
		}
		if prev.Asset == a.Asset && prev.Code == a.Code && prev.Owner == a.Owner && prev.Flags == a.Flags {
			res[i] = Result{Code: Exists, CreatedAt: prev.CreatedAt}
		} else {
			res[i] = Result{Code: ExistsWithDifferentFields}
		}
	}
	return res, nil
}

// Account returns one account as last committed. Errors: ErrNotFound, database errors.
func (l *Ledger) Account(ctx context.Context, id uuid.UUID) (Account, error) {
	if l.sums != nil {
		// Live first, then the row: an account missing from live was not dirty at that
		// moment, so its row (read after) is at least as new as that moment.
		if a, ok := l.sums.lookupLive(id); ok {
			return a, nil
		}
	}
	a, err := scanAccount(l.d.R.QueryRowContext(ctx, `SELECT `+accountCols+` FROM ledger_accounts WHERE id = $1`, id[:]))
	if err != nil {
		if db.IsNoRows(err) {
			return Account{}, ErrNotFound
		}
		return Account{}, fmt.Errorf("read account: %w", err)
	}
	return a, nil
}

// AccountsByOwner returns up to limit (1..MaxPage) accounts of owner in id order, after
// the id `after` (uuid.Nil for the first page). Errors: database errors.
func (l *Ledger) AccountsByOwner(ctx context.Context, owner string, after uuid.UUID, limit int) ([]Account, error) {
	limit = clampLimit(limit)
	if l.sums == nil {
		return l.accountsByOwner(ctx, owner, after, limit)
	}
	// Rows first, then the live overlay: if a dirty row was written and dropped from
	// live in between, the row read may be older than the overlay knows, so read again.
	for attempt := 0; ; attempt++ {
		gen := l.sums.cleanGen.Load()
		out, err := l.accountsByOwner(ctx, owner, after, limit)
		if err != nil {
			return nil, err
		}
		l.sums.overlay(out)
		if l.sums.cleanGen.Load() == gen || attempt == 100 {
			return out, nil
		}
	}
}

func (l *Ledger) accountsByOwner(ctx context.Context, owner string, after uuid.UUID, limit int) ([]Account, error) {
	rows, err := l.d.R.QueryContext(ctx, `SELECT `+accountCols+` FROM ledger_accounts WHERE owner = $1 AND id > $2 ORDER BY id LIMIT $3`,
		owner, after[:], limit)
	if err != nil {
		return nil, fmt.Errorf("accounts by owner: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("accounts by owner: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("accounts by owner: %w", err)
	}
	return out, nil
}

// Balance returns the account's balance as a credit-normal account. Errors: ErrNotFound,
// database errors.
func (l *Ledger) Balance(ctx context.Context, id uuid.UUID) (Balance, error) {
	a, err := l.Account(ctx, id)
	if err != nil {
		return Balance{}, err
	}
	return BalanceOf(a), nil
}

// BalanceOf computes a credit-normal account's balance from its sums.
func BalanceOf(a Account) Balance {
	posted := a.CreditsPosted - a.DebitsPosted
	return Balance{Asset: a.Asset, Posted: posted, PendingDebits: a.DebitsPending,
		PendingCredits: a.CreditsPending, Available: posted - a.DebitsPending}
}

// Transfer returns one stored transfer. Errors: ErrNotFound, database errors.
func (l *Ledger) Transfer(ctx context.Context, id uuid.UUID) (Transfer, error) {
	t, err := scanTransfer(l.d.R.QueryRowContext(ctx, `SELECT `+transferCols+` FROM ledger_transfers WHERE id = $1`, id[:]))
	if err != nil {
		if db.IsNoRows(err) {
			return Transfer{}, ErrNotFound
		}
		return Transfer{}, fmt.Errorf("read transfer: %w", err)
	}
	return t, nil
}

func clampLimit(limit int) int {
	if limit <= 0 || limit > MaxPage {
		return MaxPage
	}
	return limit
}

// cursor is a position in an account's history: the last (time, id) returned.
type cursor struct {
	at int64
	id uuid.UUID
}

func (c cursor) String() string {
	var b [24]byte
	binary.BigEndian.PutUint64(b[:8], uint64(c.at))
	copy(b[8:], c.id[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func parseCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{at: math.MaxInt64, id: uuid.Max}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 24 {
		return cursor{}, ErrBadCursor
	}
	c := cursor{at: int64(binary.BigEndian.Uint64(b[:8]))}
	copy(c.id[:], b[8:])
	return c, nil
}

// TransfersByAccount returns the account's transfers with from <= CreatedAt < to, newest
// first, up to limit (1..MaxPage), continuing after cursor ("" for the first page). next
// is the cursor for the following page, "" when there is none. A zero from or to means
// unbounded. Errors: ErrBadCursor, database errors.
func (l *Ledger) TransfersByAccount(ctx context.Context, account uuid.UUID, from, to time.Time, cur string, limit int) (out []Transfer, next string, err error) {
	limit = clampLimit(limit)
	c, err := parseCursor(cur)
	if err != nil {
		return nil, "", err
	}
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !from.IsZero() {
		lo = from.UnixMicro()
	}
	if !to.IsZero() {
		hi = to.UnixMicro() - 1
	}
	if c.at < hi {
		hi = c.at
	}
	// Fetch one more than asked to know whether a next page exists.
	want := limit + 1
	if l.st.pg {
		err = l.d.Read(ctx, func(tx *db.Tx) error {
			var err error
			// Each side walks its (account, time) index backwards; a transfer never has
			// the same account on both sides (same_account), so none comes twice.
			out, err = queryTransfers(ctx, tx, `SELECT `+transferCols+` FROM (
				(SELECT `+transferCols+` FROM ledger_transfers
					WHERE debit_account_id = $1 AND created_at >= $2 AND created_at <= $3 AND (created_at < $4 OR id < $5)
					ORDER BY created_at DESC, id DESC LIMIT $6)
				UNION ALL
				(SELECT `+transferCols+` FROM ledger_transfers
					WHERE credit_account_id = $1 AND created_at >= $2 AND created_at <= $3 AND (created_at < $4 OR id < $5)
					ORDER BY created_at DESC, id DESC LIMIT $6)
				) h ORDER BY created_at DESC, id DESC LIMIT $6`, account[:], lo, hi, c.at, c.id[:], want)
			return err
		})
	} else {
		out, err = l.historySQLite(ctx, account, lo, hi, c, want)
	}
	if err != nil {
		return nil, "", fmt.Errorf("account history: %w", err)
	}
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = cursor{at: last.CreatedAt.UnixMicro(), id: last.ID}.String()
	}
	return out, next, nil
}

func queryTransfers(ctx context.Context, tx *db.Tx, q string, args ...any) ([]Transfer, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Transfer
	for rows.Next() {
		t, err := scanTransfer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func newer(a, b *Transfer) bool {
	au, bu := a.CreatedAt.UnixMicro(), b.CreatedAt.UnixMicro()
	if au != bu {
		return au > bu
	}
	return !lessID(a.ID, b.ID) && a.ID != b.ID
}

// mergeNewestFirst merges two newest-first lists into the first n of their union.
func mergeNewestFirst(a, b []Transfer, n int) []Transfer {
	out := make([]Transfer, 0, min(n, len(a)+len(b)))
	i, j := 0, 0
	for len(out) < n && (i < len(a) || j < len(b)) {
		if j >= len(b) || (i < len(a) && newer(&a[i], &b[j])) {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	return out
}
