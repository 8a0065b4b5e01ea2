package rail

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/money"
)

// Chain configures crypto deposits of one asset in the sandbox.
type Chain struct {
	// Network is shown next to addresses ("TRC20", "Bitcoin testnet").
	Network string
	// AddressFormat is FormatTRON, FormatBech32Test or FormatBech32Main.
	AddressFormat string
	// Confirmations a deposit needs before it is credited (1..MaxConfirmations).
	Confirmations int
	// Interval between confirmations (one block).
	Interval time.Duration
}

// MaxConfirmations bounds Chain.Confirmations; it also bounds the events one deposit emits.
const MaxConfirmations = 100

// SandboxConfig sets the sandbox's timings. DefaultSandboxConfig gives the documented ones.
type SandboxConfig struct {
	// AddressKey (≥ 16 bytes, e.g. derived from OKPAY_SECRET_KEY) makes deposit addresses
	// unguessable; changing it changes every address.
	AddressKey []byte
	// SettleDelay: a slow card's captured top-up succeeds this long after capture.
	SettleDelay time.Duration
	// OTPTimeout: a charge waiting for the bank's one-time code fails after this.
	OTPTimeout time.Duration
	// AuthorizationTTL: an authorisation not captured is released after this.
	AuthorizationTTL time.Duration
	// VerificationTTL: a verification whose code is not entered fails after this.
	VerificationTTL time.Duration
	// A payout is processing after PayoutProcessingAfter, and completes PayoutDelay
	// (or fails PayoutFailDelay) after submission; both must exceed PayoutProcessingAfter.
	PayoutProcessingAfter time.Duration
	PayoutDelay           time.Duration
	PayoutFailDelay       time.Duration
	// Chains per asset code; only these assets get deposit addresses.
	Chains map[string]Chain
}

// DefaultSandboxConfig returns the timings documented in docs/SANDBOX.md. AddressKey is
// left empty: the caller must supply it.
func DefaultSandboxConfig() SandboxConfig {
	return SandboxConfig{
		SettleDelay:           2 * time.Minute,
		OTPTimeout:            10 * time.Minute,
		AuthorizationTTL:      7 * 24 * time.Hour,
		VerificationTTL:       24 * time.Hour,
		PayoutProcessingAfter: 5 * time.Second,
		PayoutDelay:           time.Minute,
		PayoutFailDelay:       30 * time.Second,
		Chains: map[string]Chain{
			"USDT": {Network: "TRC20", AddressFormat: FormatTRON, Confirmations: 3, Interval: 30 * time.Second},
			"BTC":  {Network: "Bitcoin testnet", AddressFormat: FormatBech32Test, Confirmations: 3, Interval: 10 * time.Minute},
		},
	}
}

func (c SandboxConfig) validate() error {
	if len(c.AddressKey) < 16 {
		return fmt.Errorf("address key must be at least 16 bytes, got %d", len(c.AddressKey))
	}
	for name, d := range map[string]time.Duration{"settle delay": c.SettleDelay, "OTP timeout": c.OTPTimeout,
		"authorization TTL": c.AuthorizationTTL, "verification TTL": c.VerificationTTL,
		"payout processing": c.PayoutProcessingAfter, "payout delay": c.PayoutDelay, "payout fail delay": c.PayoutFailDelay} {
		if d <= 0 {
			return fmt.Errorf("%s must be positive", name)
		}
	}
	if c.PayoutDelay <= c.PayoutProcessingAfter || c.PayoutFailDelay <= c.PayoutProcessingAfter {
		return fmt.Errorf("payout delays must exceed the processing delay")
	}
	for code, ch := range c.Chains {
		a, ok := money.Lookup(code)
		if !ok || a.Kind != money.Crypto {
			return fmt.Errorf("chain %s: not a registered crypto asset", code)
		}
		// Intervals under a second would let one poll emit a burst of confirmations; they
		// are also below the microsecond-free range the schedule arithmetic relies on.
		if ch.Confirmations < 1 || ch.Confirmations > MaxConfirmations || ch.Interval < time.Second {
			return fmt.Errorf("chain %s: confirmations must be 1..%d and interval at least 1s", code, MaxConfirmations)
		}
		switch ch.AddressFormat {
		case FormatTRON, FormatBech32Test, FormatBech32Main:
		default:
			return fmt.Errorf("chain %s: unknown address format %q", code, ch.AddressFormat)
		}
	}
	return nil
}

// Sandbox is the built-in Rail: a simulated card network, bank and blockchain whose
// state is in the platform database (tables rail_*), so in-flight operations survive a
// restart and several nodes share one sandbox. Time comes only from the database clock:
// nothing runs in the background; operations move on when they are next looked at
// (Updates, Get, any call on them, or Process), as if the bank had moved them at the
// scheduled moment. Tests therefore advance a fake clock instead of sleeping.
//
// Every write takes the lock on the feed counter first. That serialises sandbox writes
// (fine: top-ups and withdrawals are not the hot path) and is what makes the Updates
// feed gapless on PostgreSQL.
type Sandbox struct {
	db  *db.DB
	cfg SandboxConfig
}

var _ Rail = (*Sandbox)(nil)

// NewSandbox returns the sandbox rail over an open, migrated database.
// Errors: a description of the first invalid config field (a start-up mistake, no code).
func NewSandbox(d *db.DB, cfg SandboxConfig) (*Sandbox, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("rail: sandbox config: %w", err)
	}
	chains := make(map[string]Chain, len(cfg.Chains))
	for k, v := range cfg.Chains {
		chains[k] = v
	}
	cfg.Chains = chains
	cfg.AddressKey = append([]byte(nil), cfg.AddressKey...)
	return &Sandbox{db: d, cfg: cfg}, nil
}

// Name is "sandbox".
func (s *Sandbox) Name() string { return "sandbox" }

// Limits of the sandbox's own work.
const (
	maxAmountMinor   = money.Amount(1_000_000_000_000_000) // 10^15 minor units: no bank moves more at once
	maxCodeAttempts  = 3                                   // wrong OTP / verification codes before the operation fails
	maxTokenLen      = 128
	processBatch     = 100 // operations advanced per transaction
	processMaxRounds = 20  // transactions per Process call; the rest waits for the next call
	maxStatement     = 100
)

// ---- cards ----

type cardRow struct {
	id, brand, last4, holder string
	expMonth, expYear        int
	behaviour                behaviour
	deleted                  bool
}

// TokenizeCard stores brand, last four, expiry, holder name and the test behaviour its
// number selects (see TestCards); never the number or CVV.
// Errors: CodeCardExpired if the card's expiry month has passed; ErrInvalidRequest for a
// Card not made by ParseCard.
func (s *Sandbox) TokenizeCard(ctx context.Context, c Card) (CardToken, error) {
	if c.number == "" || c.cvv == "" || c.Brand == "" {
		return CardToken{}, fmt.Errorf("tokenize card: %w: card not from ParseCard", ErrInvalidRequest)
	}
	token := "tok_sandbox_" + randomToken(24)
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if expired(c.ExpMonth, c.ExpYear, tx.Now) {
			return apperr.New(CodeCardExpired)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO rail_cards (id, token_hash, brand, last4, exp_month, exp_year, holder, behaviour, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			newID(), tokenHash(token), string(c.Brand), c.Last4, c.ExpMonth, c.ExpYear, c.Holder, string(behaviourOf(c.number)), tx.NowMicros())
		if err != nil {
			return fmt.Errorf("tokenize card: insert: %w", err)
		}
		return nil
	})
	if err != nil {
		return CardToken{}, err
	}
	return CardToken{Token: token, Brand: c.Brand, Last4: c.Last4, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear}, nil
}

// DeleteCard forgets token; unknown or already deleted tokens are fine.
// Errors: only internal ones.
func (s *Sandbox) DeleteCard(ctx context.Context, token string) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE rail_cards SET deleted_at = $1 WHERE token_hash = $2 AND deleted_at IS NULL`,
			tx.NowMicros(), tokenHash(token))
		if err != nil {
			return fmt.Errorf("delete card: %w", err)
		}
		return nil
	})
}

func (s *Sandbox) cardByToken(ctx context.Context, tx *db.Tx, token string) (cardRow, error) {
	if token == "" || len(token) > maxTokenLen {
		return cardRow{}, apperr.New(CodeCardNotFound)
	}
	return s.card(ctx, tx, `token_hash = $1`, tokenHash(token))
}

func (s *Sandbox) card(ctx context.Context, tx *db.Tx, where string, arg any) (cardRow, error) {
	var c cardRow
	var b string
	var deleted sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT id, brand, last4, holder, exp_month, exp_year, behaviour, deleted_at
		FROM rail_cards WHERE `+where, arg).Scan(&c.id, &c.brand, &c.last4, &c.holder, &c.expMonth, &c.expYear, &b, &deleted)
	if db.IsNoRows(err) {
		return c, apperr.New(CodeCardNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("read card: %w", err)
	}
	c.behaviour, c.deleted = behaviour(b), deleted.Valid
	if c.deleted {
		return c, apperr.New(CodeCardNotFound)
	}
	return c, nil
}

// expired: a card is valid through the last day of its expiry month.
func expired(month, year int, now time.Time) bool {
	return year < now.Year() || (year == now.Year() && month < int(now.Month()))
}

// ---- operations: storage ----

type opRow struct {
	id, reference, kind, requestHash string
	cardID                           sql.NullString
	owner, address, asset            string
	amount                           int64
	status, failureCode, planned     string
	secretCode                       string
	attempts, confs, confsRequired   int
	stepUs                           int64
	descriptor                       string
	createdAt, updatedAt             int64
	nextAt                           sql.NullInt64
}

const opColumns = `id, reference, kind, request_hash, card_id, owner, address, asset, amount, status, failure_code,
	planned_failure, secret_code, attempts, confirmations, confirmations_required, step_us, descriptor, created_at, updated_at, next_at`

func (o *opRow) scanArgs() []any {
	return []any{&o.id, &o.reference, &o.kind, &o.requestHash, &o.cardID, &o.owner, &o.address, &o.asset, &o.amount,
		&o.status, &o.failureCode, &o.planned, &o.secretCode, &o.attempts, &o.confs, &o.confsRequired, &o.stepUs,
		&o.descriptor, &o.createdAt, &o.updatedAt, &o.nextAt}
}

func (o *opRow) operation() Operation {
	op := Operation{ID: o.id, Reference: o.reference, Kind: Kind(o.kind), Status: Status(o.status),
		FailureCode: o.failureCode, Amount: money.Amount(o.amount), Asset: o.asset, Descriptor: o.descriptor,
		Owner: o.owner, Address: o.address, CreatedAt: db.Micros(o.createdAt), UpdatedAt: db.Micros(o.updatedAt)}
	if o.kind == string(KindDeposit) {
		op.Confirmations, op.ConfirmationsRequired = o.confs, o.confsRequired
	}
	return op
}

func loadOp(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, reference string) (opRow, bool, error) {
	var o opRow
	err := q.QueryRowContext(ctx, `SELECT `+opColumns+` FROM rail_operations WHERE reference = $1`, reference).Scan(o.scanArgs()...)
	if db.IsNoRows(err) {
		return o, false, nil
	}
	if err != nil {
		return o, false, fmt.Errorf("read rail operation: %w", err)
	}
	if err := o.check(); err != nil {
		return o, false, fmt.Errorf("read rail operation: %w", err)
	}
	return o, true, nil
}

// lockFeed takes the feed counter's row lock for the rest of tx. Every sandbox write takes
// it first, so writes are serialised and event seqs are assigned in commit order.
func lockFeed(ctx context.Context, tx *db.Tx) error {
	var v int64
	if err := tx.QueryRowContext(ctx, `SELECT value FROM rail_event_seq WHERE id = 1 `+tx.Dialect.ForUpdate()).Scan(&v); err != nil {
		return fmt.Errorf("lock rail feed: %w", err)
	}
	return nil
}

// emit appends o's current state to the feed.
func emit(ctx context.Context, tx *db.Tx, o *opRow) error {
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE rail_event_seq SET value = value + 1 WHERE id = 1 RETURNING value`).Scan(&seq); err != nil {
		return fmt.Errorf("rail feed seq: %w", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO rail_events (seq, operation_id, status, failure_code, confirmations, at)
		VALUES ($1, $2, $3, $4, $5, $6)`, seq, o.id, o.status, o.failureCode, o.confs, o.updatedAt)
	if err != nil {
		return fmt.Errorf("rail feed insert: %w", err)
	}
	return nil
}

func insertOp(ctx context.Context, tx *db.Tx, o *opRow) error {
	if err := o.check(); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO rail_operations (`+opColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
		o.id, o.reference, o.kind, o.requestHash, o.cardID, o.owner, o.address, o.asset, o.amount, o.status, o.failureCode,
		o.planned, o.secretCode, o.attempts, o.confs, o.confsRequired, o.stepUs, o.descriptor, o.createdAt, o.updatedAt, o.nextAt)
	if err != nil {
		return fmt.Errorf("insert rail operation: %w", err)
	}
	return emit(ctx, tx, o)
}

// saveOp writes o's mutable state. from is the status o had when read: the guard turns a
// lost update (which lockFeed should make impossible) into an error instead of a silent
// double transition.
func saveOp(ctx context.Context, tx *db.Tx, o *opRow, from string, statusChanged bool) error {
	if err := o.check(); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `UPDATE rail_operations SET status = $1, failure_code = $2, attempts = $3, confirmations = $4,
		updated_at = $5, next_at = $6 WHERE id = $7 AND status = $8`,
		o.status, o.failureCode, o.attempts, o.confs, o.updatedAt, o.nextAt, o.id, from)
	if err != nil {
		return fmt.Errorf("update rail operation: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("update rail operation %s: status moved under us (from %s, %d rows, %v)", o.id, from, n, err)
	}
	if statusChanged {
		return emit(ctx, tx, o)
	}
	return nil
}

// check asserts the invariants of an operation's state before it is written.
func (o *opRow) check() error {
	st := Status(o.status)
	switch {
	case st.Final() && o.nextAt.Valid:
		return fmt.Errorf("rail operation %s: final status %s with a scheduled change", o.id, st)
	case (st == StatusFailed) != (o.failureCode != ""):
		return fmt.Errorf("rail operation %s: status %s with failure code %q", o.id, st, o.failureCode)
	case o.amount <= 0:
		return fmt.Errorf("rail operation %s: amount %d", o.id, o.amount)
	case o.confs < 0 || o.confs > o.confsRequired && o.kind == string(KindDeposit):
		return fmt.Errorf("rail operation %s: %d of %d confirmations", o.id, o.confs, o.confsRequired)
	}
	return nil
}

func (o *opRow) setStatus(st Status, failure string, at int64) {
	o.status, o.failureCode, o.updatedAt = string(st), failure, at
	if st.Final() {
		o.nextAt = sql.NullInt64{}
	}
}

func schedule(at int64) sql.NullInt64 { return sql.NullInt64{Int64: at, Valid: true} }

// ---- operations: submission ----

// submit is the idempotent front of every operation the wallet starts: a known reference
// returns the stored operation (moved on to now), a new one is built and stored.
func (s *Sandbox) submit(ctx context.Context, kind Kind, ref, requestHash string,
	build func(tx *db.Tx) (*opRow, error)) (Operation, error) {
	if err := checkReference(ref); err != nil {
		return Operation{}, fmt.Errorf("%s: %w", kind, err)
	}
	var out Operation
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := lockFeed(ctx, tx); err != nil {
			return err
		}
		old, found, err := loadOp(ctx, tx, ref)
		if err != nil {
			return err
		}
		if found {
			if old.kind != string(kind) || old.requestHash != requestHash {
				return apperr.New(CodeReferenceConflict)
			}
			if err := s.advance(ctx, tx, &old, tx.NowMicros()); err != nil {
				return err
			}
			out = old.operation()
			return nil
		}
		o, err := build(tx)
		if err != nil {
			return err
		}
		o.id, o.reference, o.kind, o.requestHash = newID(), ref, string(kind), requestHash
		o.createdAt, o.updatedAt = tx.NowMicros(), tx.NowMicros()
		if err := insertOp(ctx, tx, o); err != nil {
			return err
		}
		out = o.operation()
		return nil
	})
	if err != nil {
		return Operation{}, fmt.Errorf("%s %s: %w", kind, ref, err)
	}
	return out, nil
}

func requestHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		// Length-prefixed, so ("ab","c") and ("a","bc") differ.
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// cardAmount checks an amount for a card operation: a positive amount of a fiat asset.
func cardAmount(asset string, amount money.Amount) error {
	a, ok := money.Lookup(asset)
	if !ok || a.Kind != money.Fiat {
		return apperr.New(apperr.CodeCurrencyUnsupported)
	}
	if amount <= 0 || amount > maxAmountMinor {
		return apperr.New(apperr.CodeAmountInvalid).With("scale", strconv.Itoa(a.Scale))
	}
	return nil
}

// bankRefusal is what the card's bank answers to a charge (or, with verification, to the
// small verification charge), "" when it accepts.
func bankRefusal(c cardRow, now time.Time, verification bool) string {
	switch {
	case c.behaviour == behaveStolen:
		return CodeCardReportedStolen
	case c.behaviour == behaveExpired || expired(c.expMonth, c.expYear, now):
		return CodeCardExpired
	case c.behaviour == behaveDeclined:
		return CodeCardDeclined
	case verification:
		// The small charge passes on cards that only fail real top-ups.
		return ""
	case c.behaviour == behaveDeclinedCharge:
		return CodeCardDeclined
	case c.behaviour == behaveInsufficient:
		return CodeCardInsufficientFunds
	}
	return ""
}

// StartCardVerification: see Rail. In the sandbox the charge is 0.01 (one unit for
// currencies without decimals) and the code is on the card's Statement.
// Errors: CodeCardNotFound, CodeReferenceConflict, apperr.CodeCurrencyUnsupported,
// ErrInvalidRequest for a malformed reference.
func (s *Sandbox) StartCardVerification(ctx context.Context, req VerifyRequest) (Operation, error) {
	a, ok := money.Lookup(req.Asset)
	if !ok || a.Kind != money.Fiat {
		return Operation{}, apperr.New(apperr.CodeCurrencyUnsupported)
	}
	amount := money.Amount(1)
	for i := 2; i < a.Scale; i++ {
		amount *= 10
	}
	hash := requestHash(string(KindVerification), tokenHash(req.Token), req.Asset)
	return s.submit(ctx, KindVerification, req.Reference, hash, func(tx *db.Tx) (*opRow, error) {
		c, err := s.cardByToken(ctx, tx, req.Token)
		if err != nil {
			return nil, err
		}
		o := &opRow{cardID: sql.NullString{String: c.id, Valid: true}, asset: req.Asset, amount: int64(amount)}
		if code := bankRefusal(c, tx.Now, true); code != "" {
			o.setStatus(StatusFailed, code, tx.NowMicros())
			o.descriptor = "OKPAY*VERIFY"
			return o, nil
		}
		o.secretCode = randomDigits(4)
		o.descriptor = "OKPAY*VERIFY " + o.secretCode
		o.status = string(StatusRequiresCode)
		o.nextAt = schedule(tx.NowMicros() + s.cfg.VerificationTTL.Microseconds())
		return o, nil
	})
}

// Authorize: see Rail. The test card decides the answer (TestCards).
// Errors: CodeCardNotFound, CodeReferenceConflict, apperr.CodeAmountInvalid,
// apperr.CodeCurrencyUnsupported, ErrInvalidRequest for a malformed reference.
func (s *Sandbox) Authorize(ctx context.Context, req ChargeRequest) (Operation, error) {
	if err := cardAmount(req.Asset, req.Amount); err != nil {
		return Operation{}, fmt.Errorf("authorize %s: %w", req.Reference, err)
	}
	hash := requestHash(string(KindCharge), tokenHash(req.Token), req.Asset, strconv.FormatInt(int64(req.Amount), 10))
	return s.submit(ctx, KindCharge, req.Reference, hash, func(tx *db.Tx) (*opRow, error) {
		c, err := s.cardByToken(ctx, tx, req.Token)
		if err != nil {
			return nil, err
		}
		o := &opRow{cardID: sql.NullString{String: c.id, Valid: true}, asset: req.Asset, amount: int64(req.Amount),
			descriptor: "OKPAY*TOPUP"}
		now := tx.NowMicros()
		switch code := bankRefusal(c, tx.Now, false); {
		case code != "":
			o.setStatus(StatusFailed, code, now)
		case c.behaviour == behaveOTP:
			o.status = string(StatusRequiresOTP)
			o.nextAt = schedule(now + s.cfg.OTPTimeout.Microseconds())
		default:
			o.status = string(StatusAuthorized)
			o.nextAt = schedule(now + s.cfg.AuthorizationTTL.Microseconds())
		}
		return o, nil
	})
}

// Payout: see Rail. The outcome is decided at submission (test card, amount cents, name
// check) and shown when the bank gets to it: processing after PayoutProcessingAfter,
// then succeeded after PayoutDelay or failed after PayoutFailDelay.
// Errors: CodeCardNotFound, CodeReferenceConflict, apperr.CodeAmountInvalid,
// apperr.CodeCurrencyUnsupported, ErrInvalidRequest for a malformed reference or an
// empty or malformed RecipientName.
func (s *Sandbox) Payout(ctx context.Context, req PayoutRequest) (Operation, error) {
	if err := cardAmount(req.Asset, req.Amount); err != nil {
		return Operation{}, fmt.Errorf("payout %s: %w", req.Reference, err)
	}
	name, ok := normaliseHolder(req.RecipientName)
	if !ok {
		return Operation{}, fmt.Errorf("payout %s: %w: recipient name must be 1–%d letters", req.Reference, ErrInvalidRequest, MaxHolderLen)
	}
	hash := requestHash(string(KindPayout), tokenHash(req.Token), req.Asset, strconv.FormatInt(int64(req.Amount), 10), name)
	return s.submit(ctx, KindPayout, req.Reference, hash, func(tx *db.Tx) (*opRow, error) {
		c, err := s.cardByToken(ctx, tx, req.Token)
		if err != nil {
			return nil, err
		}
		o := &opRow{cardID: sql.NullString{String: c.id, Valid: true}, asset: req.Asset, amount: int64(req.Amount),
			descriptor: "OKPAY*WITHDRAWAL", status: string(StatusPending)}
		switch {
		case c.behaviour == behavePayoutRejected || c.behaviour == behaveStolen || c.behaviour == behaveExpired ||
			expired(c.expMonth, c.expYear, tx.Now):
			o.planned = CodePayoutRejected
		case !SameName(c.holder, name):
			o.planned = CodePayoutNameMismatch
		default:
			o.planned = payoutTrigger(req.Amount)
		}
		o.nextAt = schedule(tx.NowMicros() + s.cfg.PayoutProcessingAfter.Microseconds())
		return o, nil
	})
}

// ---- operations: the user's next step ----

// act runs fn on the operation ref of one of kinds after moving it on to now. fn's user
// error (a wrong code) is returned after the transaction commits, so the attempt it
// counted is kept.
func (s *Sandbox) act(ctx context.Context, what, ref string, kinds []Kind,
	fn func(tx *db.Tx, o *opRow) (changed bool, userErr error, err error)) (Operation, error) {
	if err := checkReference(ref); err != nil {
		return Operation{}, fmt.Errorf("%s: %w", what, err)
	}
	var out Operation
	var userErr error
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		userErr = nil
		if err := lockFeed(ctx, tx); err != nil {
			return err
		}
		o, found, err := loadOp(ctx, tx, ref)
		if err != nil {
			return err
		}
		kindOK := false
		for _, k := range kinds {
			kindOK = kindOK || o.kind == string(k)
		}
		if !found || !kindOK {
			return apperr.New(CodeOperationNotFound)
		}
		if err := s.advance(ctx, tx, &o, tx.NowMicros()); err != nil {
			return err
		}
		from := o.status
		changed, uerr, err := fn(tx, &o)
		if err != nil {
			return err
		}
		userErr = uerr
		if changed {
			if err := saveOp(ctx, tx, &o, from, o.status != from); err != nil {
				return err
			}
		}
		out = o.operation()
		return nil
	})
	if err != nil {
		return Operation{}, fmt.Errorf("%s %s: %w", what, ref, err)
	}
	if userErr != nil {
		return out, fmt.Errorf("%s %s: %w", what, ref, userErr)
	}
	return out, nil
}

func stateError(o *opRow) error { return StateError(Status(o.status)) }

// refusal answers a code sent to an operation that no longer waits for one: a failed
// operation gives its failure (what went wrong and what to do), anything else its state.
func refusal(o *opRow) error {
	if Status(o.status) == StatusFailed && o.failureCode != "" {
		return failureError(o.failureCode)
	}
	return stateError(o)
}

// Code formats: the sandbox's statement code is 4 digits, its bank's one-time code 6.
const (
	verifyCodeLen = 4
	otpLen        = len(SandboxOTP)
	// maxRawCode caps what is looked at in a typed code, so a hostile field costs nothing.
	maxRawCode = 32
)

// codeDigits returns the typed code without the spaces and dashes people copy with it
// ("12 34", "123-456"), and whether what is left is n ASCII digits. A code of any other
// shape cannot be right, so it is refused before it can use up a try.
func codeDigits(raw string, n int) (string, bool) {
	if len(raw) > maxRawCode {
		return "", false
	}
	c := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, raw)
	return c, len(c) == n && isDigits(c)
}

// malformed is the error for a code of the wrong shape; the code field carries it too,
// so a form can mark the field.
func malformed(code string) error {
	return apperr.New(code).Field("code", code)
}

// checkCode counts an attempt at a code. A wrong one answers invalidCode with the tries
// left; the last wrong one fails the operation with attemptsCode and answers that, so
// the holder learns the attempt is over (not "0 tries left") and what to do next.
func checkCode(o *opRow, got, want, invalidCode, attemptsCode string, now int64) (bool, error) {
	if len(got) == len(want) && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
		return true, nil
	}
	o.attempts++
	left := maxCodeAttempts - o.attempts
	if left <= 0 {
		o.setStatus(StatusFailed, attemptsCode, now)
		return false, apperr.New(attemptsCode)
	}
	return false, apperr.New(invalidCode).With("remaining", strconv.Itoa(left))
}

// ConfirmCardVerification: see Rail. maxCodeAttempts (3) wrong codes fail it.
// Errors: CodeCardVerifyCodeMalformed, CodeCardVerifyCodeInvalid, CodeCardVerifyAttempts,
// CodeCardVerifyExpired, CodeOperationNotFound, CodeOperationState, ErrInvalidRequest
// for a malformed reference.
func (s *Sandbox) ConfirmCardVerification(ctx context.Context, reference, code string) (Operation, error) {
	code, ok := codeDigits(code, verifyCodeLen)
	if !ok {
		return Operation{}, fmt.Errorf("confirm card verification %s: %w", reference, malformed(CodeCardVerifyCodeMalformed))
	}
	return s.act(ctx, "confirm card verification", reference, []Kind{KindVerification},
		func(tx *db.Tx, o *opRow) (bool, error, error) {
			switch Status(o.status) {
			case StatusSucceeded:
				return false, nil, nil
			case StatusRequiresCode:
			default:
				return false, refusal(o), nil
			}
			ok, uerr := checkCode(o, code, o.secretCode, CodeCardVerifyCodeInvalid, CodeCardVerifyAttempts, tx.NowMicros())
			if ok {
				o.setStatus(StatusSucceeded, "", tx.NowMicros())
			}
			return true, uerr, nil
		})
}

// SubmitOTP: see Rail. The sandbox bank's code is SandboxOTP; maxCodeAttempts (3) wrong
// codes fail the charge with CodeCardOTPAttempts.
// Errors: CodeCardOTPMalformed, CodeCardOTPInvalid, CodeCardOTPAttempts, the charge's
// failure, CodeOperationNotFound, CodeOperationState, ErrInvalidRequest for a malformed
// reference.
func (s *Sandbox) SubmitOTP(ctx context.Context, reference, code string) (Operation, error) {
	code, ok := codeDigits(code, otpLen)
	if !ok {
		return Operation{}, fmt.Errorf("submit OTP %s: %w", reference, malformed(CodeCardOTPMalformed))
	}
	return s.act(ctx, "submit OTP", reference, []Kind{KindCharge},
		func(tx *db.Tx, o *opRow) (bool, error, error) {
			switch Status(o.status) {
			case StatusAuthorized, StatusCapturing, StatusSucceeded:
				return false, nil, nil
			case StatusRequiresOTP:
			default:
				return false, refusal(o), nil
			}
			ok, uerr := checkCode(o, code, SandboxOTP, CodeCardOTPInvalid, CodeCardOTPAttempts, tx.NowMicros())
			if ok {
				o.setStatus(StatusAuthorized, "", tx.NowMicros())
				o.nextAt = schedule(tx.NowMicros() + s.cfg.AuthorizationTTL.Microseconds())
			}
			return true, uerr, nil
		})
}

// Capture: see Rail. Slow test cards settle SettleDelay after capture.
// Errors: CodeCardOTPRequired, CodeOperationNotFound, CodeOperationState,
// ErrInvalidRequest for a malformed reference.
func (s *Sandbox) Capture(ctx context.Context, reference string) (Operation, error) {
	op, err := s.act(ctx, "capture", reference, []Kind{KindCharge},
		func(tx *db.Tx, o *opRow) (bool, error, error) {
			switch Status(o.status) {
			case StatusCapturing, StatusSucceeded:
				return false, nil, nil
			case StatusRequiresOTP:
				return false, apperr.New(CodeCardOTPRequired), nil
			case StatusAuthorized:
			default:
				return false, stateError(o), nil
			}
			c, err := s.card(ctx, tx, `id = $1`, o.cardID.String)
			if err != nil && !apperr.HasCode(err, CodeCardNotFound) {
				return false, nil, err
			}
			// A card deleted after authorisation still settles: the bank already agreed.
			if c.behaviour == behaveSlow {
				o.setStatus(StatusCapturing, "", tx.NowMicros())
				o.nextAt = schedule(tx.NowMicros() + s.cfg.SettleDelay.Microseconds())
			} else {
				o.setStatus(StatusSucceeded, "", tx.NowMicros())
			}
			return true, nil, nil
		})
	return op, err
}

// Cancel: see Rail.
// Errors: CodeOperationNotFound, CodeOperationState, ErrInvalidRequest for a malformed
// reference.
func (s *Sandbox) Cancel(ctx context.Context, reference string) (Operation, error) {
	return s.act(ctx, "cancel", reference, []Kind{KindCharge, KindVerification},
		func(tx *db.Tx, o *opRow) (bool, error, error) {
			switch Status(o.status) {
			case StatusCanceled:
				return false, nil, nil
			case StatusRequiresOTP, StatusAuthorized, StatusRequiresCode:
				o.setStatus(StatusCanceled, "", tx.NowMicros())
				return true, nil, nil
			}
			return false, stateError(o), nil
		})
}

// ---- time ----

// maxStepsPerOp bounds the transitions one operation makes in one advance; the largest
// real need is a deposit's MaxConfirmations plus its final step.
const maxStepsPerOp = MaxConfirmations + 4

// advance applies every scheduled change of o due at or before now, each stamped with the
// moment it was due, emitting one event per status change (and per confirmation).
func (s *Sandbox) advance(ctx context.Context, tx *db.Tx, o *opRow, now int64) error {
	for step := 0; o.nextAt.Valid && o.nextAt.Int64 <= now; step++ {
		if step >= maxStepsPerOp {
			return fmt.Errorf("advance rail operation %s: more than %d steps", o.id, maxStepsPerOp)
		}
		at := o.nextAt.Int64
		from := o.status
		switch o.kind + "/" + o.status {
		case "verification/requires_code":
			o.setStatus(StatusFailed, CodeCardVerifyExpired, at)
		case "charge/requires_otp":
			o.setStatus(StatusFailed, CodeCardOTPExpired, at)
		case "charge/authorized":
			o.setStatus(StatusFailed, CodeCardAuthorizationExpired, at)
		case "charge/capturing":
			o.setStatus(StatusSucceeded, "", at)
		case "payout/pending":
			o.setStatus(StatusProcessing, "", at)
			done := s.cfg.PayoutDelay
			if o.planned != "" {
				done = s.cfg.PayoutFailDelay
			}
			o.nextAt = schedule(max(o.createdAt+done.Microseconds(), at+1))
		case "payout/processing":
			if o.planned != "" {
				o.setStatus(StatusFailed, o.planned, at)
			} else {
				o.setStatus(StatusSucceeded, "", at)
			}
		case "deposit/confirming":
			o.confs++
			o.updatedAt = at
			if o.confs >= o.confsRequired {
				o.setStatus(StatusSucceeded, "", at)
			} else {
				o.nextAt = schedule(at + o.stepUs)
			}
		default:
			return fmt.Errorf("advance rail operation %s: nothing scheduled for %s/%s", o.id, o.kind, o.status)
		}
		if err := saveOp(ctx, tx, o, from, true); err != nil {
			return err
		}
	}
	return nil
}

// Process applies every change due by now to every operation, as the bank would have.
// Updates calls it, so a wallet that polls Updates needs nothing else; it is exported for
// a dev page or a job that wants changes recorded promptly without reading them. It does
// at most processMaxRounds×processBatch operations per call and returns how many.
// Errors: only internal ones.
func (s *Sandbox) Process(ctx context.Context) (int, error) {
	total := 0
	for round := 0; round < processMaxRounds; round++ {
		// A cheap read first, so idle polling never takes the write lock.
		var due sql.NullInt64
		if err := s.db.R.QueryRowContext(ctx, `SELECT MIN(next_at) FROM rail_operations WHERE next_at IS NOT NULL`).Scan(&due); err != nil {
			return total, fmt.Errorf("process rail: %w", err)
		}
		if !due.Valid || due.Int64 > s.db.Clock.Now().UnixMicro() {
			return total, nil
		}
		n := 0
		err := s.db.InTx(ctx, func(tx *db.Tx) error {
			n = 0
			if err := lockFeed(ctx, tx); err != nil {
				return err
			}
			rows, err := tx.QueryContext(ctx, `SELECT `+opColumns+` FROM rail_operations WHERE next_at IS NOT NULL AND next_at <= $1
				ORDER BY next_at, id LIMIT $2`, tx.NowMicros(), processBatch)
			if err != nil {
				return fmt.Errorf("process rail: due: %w", err)
			}
			var ops []opRow
			for rows.Next() {
				var o opRow
				if err := rows.Scan(o.scanArgs()...); err != nil {
					rows.Close()
					return fmt.Errorf("process rail: scan: %w", err)
				}
				ops = append(ops, o)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("process rail: due: %w", err)
			}
			for i := range ops {
				if err := s.advance(ctx, tx, &ops[i], tx.NowMicros()); err != nil {
					return err
				}
			}
			n = len(ops)
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < processBatch {
			return total, nil
		}
	}
	return total, nil
}

// ---- reading ----

// Get: see Rail. It moves the operation on to now first.
// Errors: CodeOperationNotFound, ErrInvalidRequest for a malformed reference.
func (s *Sandbox) Get(ctx context.Context, reference string) (Operation, error) {
	if len(reference) > 2*MaxReferenceLen {
		return Operation{}, fmt.Errorf("get rail operation: %w", ErrInvalidRequest)
	}
	o, found, err := loadOp(ctx, s.db.R, reference)
	if err != nil {
		return Operation{}, fmt.Errorf("get rail operation %s: %w", reference, err)
	}
	if !found {
		return Operation{}, fmt.Errorf("get rail operation %s: %w", reference, apperr.New(CodeOperationNotFound))
	}
	if !o.nextAt.Valid || o.nextAt.Int64 > s.db.Clock.Now().UnixMicro() {
		return o.operation(), nil
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := lockFeed(ctx, tx); err != nil {
			return err
		}
		if o, _, err = loadOp(ctx, tx, reference); err != nil {
			return err
		}
		return s.advance(ctx, tx, &o, tx.NowMicros())
	})
	if err != nil {
		return Operation{}, fmt.Errorf("get rail operation %s: %w", reference, err)
	}
	return o.operation(), nil
}

// Updates: see Rail. It runs Process first, so time-driven changes are in the page.
// Errors: ErrInvalidRequest for after < 0 or limit outside 1..MaxUpdates.
func (s *Sandbox) Updates(ctx context.Context, after int64, limit int) ([]Update, error) {
	if after < 0 || limit < 1 || limit > MaxUpdates {
		return nil, fmt.Errorf("rail updates: %w: after %d, limit %d (1..%d)", ErrInvalidRequest, after, limit, MaxUpdates)
	}
	if _, err := s.Process(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT e.seq, e.status, e.failure_code, e.confirmations, e.at, o.id, o.reference, o.kind,
		o.owner, o.address, o.asset, o.amount, o.descriptor, o.confirmations_required, o.created_at
		FROM rail_events e JOIN rail_operations o ON o.id = e.operation_id WHERE e.seq > $1 ORDER BY e.seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("rail updates: %w", err)
	}
	defer rows.Close()
	var out []Update
	for rows.Next() {
		var u Update
		var o opRow
		if err := rows.Scan(&u.Seq, &o.status, &o.failureCode, &o.confs, &o.updatedAt, &o.id, &o.reference, &o.kind,
			&o.owner, &o.address, &o.asset, &o.amount, &o.descriptor, &o.confsRequired, &o.createdAt); err != nil {
			return nil, fmt.Errorf("rail updates: scan: %w", err)
		}
		// The feed is gapless (seqs come from one counter, rolled back with their
		// transaction), so anything but the next number means the invariant broke.
		if prev := after + int64(len(out)); u.Seq != prev+1 {
			return nil, fmt.Errorf("rail updates: feed out of order at seq %d", u.Seq)
		}
		u.Operation = o.operation()
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rail updates: %w", err)
	}
	return out, nil
}

// StatementLine is one line of the sandbox bank statement of a card.
type StatementLine struct {
	At         time.Time
	Descriptor string
	Amount     money.Amount
	Asset      string
	Kind       Kind
	Status     Status
}

// Statement is the sandbox "bank statement" of the card behind token, newest first, at
// most limit (1..100) lines: where a holder reads the verification code. Only the sandbox
// has it; a real card's statement is at the holder's bank.
// Errors: CodeCardNotFound, ErrInvalidRequest for limit out of range.
func (s *Sandbox) Statement(ctx context.Context, token string, limit int) ([]StatementLine, error) {
	if limit < 1 || limit > maxStatement {
		return nil, fmt.Errorf("statement: %w: limit %d (1..%d)", ErrInvalidRequest, limit, maxStatement)
	}
	var out []StatementLine
	err := s.db.Read(ctx, func(tx *db.Tx) error {
		c, err := s.cardByToken(ctx, tx, token)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT created_at, descriptor, amount, asset, kind, status FROM rail_operations
			WHERE card_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, c.id, limit)
		if err != nil {
			return fmt.Errorf("statement: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var l StatementLine
			var at int64
			if err := rows.Scan(&at, &l.Descriptor, &l.Amount, &l.Asset, &l.Kind, &l.Status); err != nil {
				return fmt.Errorf("statement: scan: %w", err)
			}
			l.At = db.Micros(at)
			out = append(out, l)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	return out, nil
}

// ---- helpers ----

func newID() string {
	u, err := uuid.NewV7()
	if err != nil {
		// crypto/rand does not fail on supported platforms; a duplicate id would be worse.
		panic(fmt.Sprintf("rail: uuid: %v", err))
	}
	return u.String()
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("rail: random: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomDigits returns n uniformly random decimal digits.
func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0' + byte(randIntn(10))
	}
	return string(b)
}

func randIntn(n int) int {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(fmt.Sprintf("rail: random: %v", err))
		}
		v := binary.BigEndian.Uint64(b[:])
		// Reject the top sliver so every digit is equally likely.
		if lim := ^uint64(0) - ^uint64(0)%uint64(n); v < lim {
			return int(v % uint64(n))
		}
	}
}

// tokenHash is how tokens are stored: high-entropy, so plain SHA-256 suffices.
func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}
