package wallet

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/ledger"
)

// maxKeyBytes caps idempotency keys (the API's Idempotency-Key header).
const maxKeyBytes = 128

func validKey(k string) error {
	if k == "" {
		return invalid("idempotency_key", FieldKeyRequired)
	}
	if len(k) > maxKeyBytes {
		return invalid("idempotency_key", FieldKeyInvalid)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return invalid("idempotency_key", FieldKeyInvalid)
		}
	}
	return nil
}

// opID is the id of the request (userID, key): every transfer and record the request
// makes is derived from it, so a retry — even after a crash, even on another node —
// names the same transfers and cannot move money twice.
func opID(userID, key string) uuid.UUID { return derive("op", userID, key) }

// beginOp claims (userID, key) for a request of kind with hash inside tx. The insert comes
// first: a concurrent duplicate on PostgreSQL waits on it until the first commits and then
// sees the row. When the key was used before, it returns the first result's id (replay)
// or idempotency_conflict when the request differs.
func beginOp(ctx context.Context, tx *db.Tx, id uuid.UUID, userID, kind, hash, resultID string) (replayID string, replay bool, err error) {
	r, err := tx.ExecCached(ctx, `INSERT INTO wallet_ops (id, user_id, kind, req_hash, result_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO NOTHING`, id.String(), userID, kind, hash, resultID, tx.NowMicros())
	if err != nil {
		return "", false, fmt.Errorf("claim idempotency key: %w", err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return "", false, fmt.Errorf("claim idempotency key: %w", err)
	} else if n == 1 {
		return "", false, nil
	}
	var k, h, res string
	if err := tx.QueryRowCached(ctx, `SELECT kind, req_hash, result_id FROM wallet_ops WHERE id = $1`, id.String()).Scan(&k, &h, &res); err != nil {
		return "", false, fmt.Errorf("read idempotency key: %w", err)
	}
	if k != kind || h != hash {
		return "", false, apperr.New(apperr.CodeIdempotencyConflict)
	}
	return res, true, nil
}

// submit applies transfers in tx and turns ledger result codes into wallet errors.
// debitUser names whose wallet a failure is about, for the "available" parameter.
//
// Errors: insufficient_funds; anything else is internal (a bug or a broken invariant).
func (s *Service) submit(ctx context.Context, tx *db.Tx, ts ...ledger.Transfer) error {
	touchLedger(ctx)
	res, err := s.l.SubmitTx(ctx, tx, ts)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	for i, r := range res {
		switch r.Code {
		case ledger.OK, ledger.Exists:
			continue
		case ledger.InsufficientFunds:
			// The balance is read after the transaction ends (see inTx): reading it here
			// would need a second connection while this one is held, and a full pool
			// would wait on itself.
			return apperr.New(CodeInsufficientFunds).Wrap(shortOf{acct: ts[i].DebitAccountID, asset: ts[i].Asset})
		case ledger.LinkedChainFailed:
			continue // the failing link reports the cause
		default:
			return fmt.Errorf("ledger refused transfer %d (%s, code %d): %s", i, ts[i].ID, ts[i].Code, r.Code)
		}
	}
	// A chain whose failure was not reported above (cannot happen: the failing link has
	// its own code) must still not pass silently.
	for _, r := range res {
		if r.Code != ledger.OK && r.Code != ledger.Exists {
			return errors.New("ledger refused a linked chain")
		}
	}
	return nil
}

// shortOf names the account an insufficient_funds error is about.
type shortOf struct {
	acct  uuid.UUID
	asset string // for a wallet that does not exist (available 0)
}

func (shortOf) Error() string { return "insufficient funds" }

// fillAvailable adds the "available" parameter to an insufficient_funds error.
func (s *Service) fillAvailable(ctx context.Context, err error) {
	e, ok := apperr.As(err)
	if !ok || e.Code != CodeInsufficientFunds {
		return
	}
	var so shortOf
	if !errors.As(err, &so) {
		return
	}
	acct, lerr := s.l.Account(ctx, so.acct)
	switch {
	case lerr == nil:
		e.With("available", formatMinor(ledger.BalanceOf(acct).Available, acct.Asset))
	case errors.Is(lerr, ledger.ErrNotFound) && so.asset != "":
		e.With("available", formatMinor(0, so.asset))
	}
}

// walletsExist reports which of the wallets acct(c) of calls exist, known ones from
// memory and the rest in one read through tx (not a second connection: a write
// transaction holding one while waiting for another can starve a shared pool). A sender
// without a wallet has nothing to send: refusing before any wallet is opened keeps a
// refused payment from leaving both people with a new, empty wallet in that asset.
func (s *Service) walletsExist(ctx context.Context, tx *db.Tx, calls []*xfer, acct func(*xfer) uuid.UUID) (map[uuid.UUID]bool, error) {
	have := make(map[uuid.UUID]bool, len(calls))
	var ask []uuid.UUID
	for _, c := range calls {
		id := acct(c)
		if _, ok := s.known.Load(id); ok {
			have[id] = true
		} else if _, asked := have[id]; !asked {
			have[id] = false
			ask = append(ask, id)
		}
	}
	found, err := s.l.AccountsExistTx(ctx, tx, ask)
	if err != nil {
		return nil, fmt.Errorf("wallet: read wallets: %w", err)
	}
	for id := range found {
		have[id] = true
		s.known.Store(id, struct{}{}) // stored accounts are never deleted
	}
	return have, nil
}

// person is a user as the wallet needs them: to address, mask and notify, and the
// identity level their limits follow (read with the rest, in the call's transaction).
type person struct {
	ID, Email, Phone, Lang, Role string
	Level                        int
	// EmailVerifiedAt is the users row's (µs; 0 while unverified): identity's send
	// check needs it, and reading it here saves reading the row again.
	EmailVerifiedAt int64
}

func (p *person) display() string {
	if p.Email != "" {
		return maskEmail(p.Email)
	}
	return maskPhone(p.Phone)
}

func loadPerson(ctx context.Context, tx *db.Tx, userID string) (*person, error) {
	var p person
	err := tx.QueryRowCached(ctx, `SELECT id, email, phone, lang, role, level, email_verified_at FROM users WHERE id = $1`, userID).Scan(&p.ID, &p.Email, &p.Phone, &p.Lang, &p.Role, &p.Level, &p.EmailVerifiedAt)
	if db.IsNoRows(err) {
		return nil, apperr.New(apperr.CodeNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load user: %w", err)
	}
	return &p, nil
}

// normaliseRecipient turns what a payer typed into one lookup: ("email", addr),
// ("phone", e164) or ("id", id). Errors: validation_failed (to: recipient_invalid).
func normaliseRecipient(to string) (kind, value string, err error) {
	to = strings.TrimSpace(to)
	if to == "" || len(to) > 254 {
		return "", "", invalid("to", FieldRecipientInvalid)
	}
	if strings.Contains(to, "@") {
		e := normalizeEmail(to)
		if e == "" {
			return "", "", invalid("to", FieldRecipientInvalid)
		}
		return "email", e, nil
	}
	if _, err := uuid.Parse(to); err == nil {
		return "id", strings.ToLower(to), nil
	}
	if p := normalizePhone(to); p != "" {
		return "phone", p, nil
	}
	return "", "", invalid("to", FieldRecipientInvalid)
}

// findRecipient resolves to in tx. Only verified phone numbers address a person: an
// unverified number may belong to anyone.
//
// Errors: validation_failed, recipient_not_found.
func findRecipient(ctx context.Context, tx *db.Tx, to string) (*person, error) {
	kind, v, err := normaliseRecipient(to)
	if err != nil {
		return nil, err
	}
	q := `SELECT id, email, phone, lang, role, level, email_verified_at FROM users WHERE `
	switch kind {
	case "email":
		q += `email = $1`
	case "phone":
		q += `phone = $1 AND phone_verified_at > 0`
	default:
		q += `id = $1`
	}
	rows, err := tx.QueryCached(ctx, q+` LIMIT 2`, v)
	if err != nil {
		return nil, fmt.Errorf("find recipient: %w", err)
	}
	defer rows.Close()
	var found []person
	for rows.Next() {
		var p person
		if err := rows.Scan(&p.ID, &p.Email, &p.Phone, &p.Lang, &p.Role, &p.Level, &p.EmailVerifiedAt); err != nil {
			return nil, fmt.Errorf("find recipient: %w", err)
		}
		found = append(found, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find recipient: %w", err)
	}
	// Two verified accounts on one number cannot be told apart: refuse rather than guess.
	if len(found) != 1 {
		return nil, apperr.New(CodeRecipientNotFound)
	}
	return &found[0], nil
}
