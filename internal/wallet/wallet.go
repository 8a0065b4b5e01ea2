// Package wallet owns the money flows people see: wallets per asset, transfers between
// users, payment requests, merchant checkouts and refunds, top-ups and withdrawals through a
// rail, bank cards, crypto deposits, limits, and the activity history with its export and
// spending analysis. Every movement of money is one or more ledger transfers; the wallet
// never writes a balance. Its own tables hold the business records (activity, requests,
// checkouts, cards, usage counters) that explain those transfers.
//
// Every exported method is one service call: decode → one call → encode in the HTTP
// layers. A call that moves money runs in one database transaction that holds the checks
// (identity restrictions, limits, step-up, idempotency key), the business rows and the
// ledger transfers (SubmitTx), so a refused or crashed call leaves nothing behind and a
// retried call with the same key never moves money twice: transfer ids are derived from
// (user, key), and the key's first result is stored. On SQLite, concurrent transfers
// share one database transaction, each call in its own savepoint (group.go), so the
// commit is paid once per group while each call still happens whole or not at all.
//
// It knows nothing of HTTP, sessions' cookies or templates; it asks identity whether a
// user may send/receive/withdraw inside its own transaction and implements
// identity.UsageSource for the status page.
package wallet

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/identity"
	"okpay/internal/ledger"
	"okpay/internal/money"
	"okpay/internal/notify"
	"okpay/internal/rail"
)

// Ledger account codes (ledger.Account.Code): what an account is for.
const (
	AcctWallet     int32 = 1  // a user's wallet in one asset (credit-normal, no overdraft)
	AcctSettlement int32 = 10 // money at a rail's bank/custodian, per rail and asset
	AcctFees       int32 = 11 // fees earned by the platform
	AcctDispute    int32 = 12 // funds held while a dispute is open
	AcctEscrow     int32 = 13 // funds held for escrow trades
)

// Ledger transfer codes (ledger.Transfer.Code): what kind of movement.
const (
	TrP2P        int32 = 1
	TrRequest    int32 = 2
	TrPayment    int32 = 3
	TrRefund     int32 = 4
	TrTopUp      int32 = 5
	TrWithdrawal int32 = 6
	TrFee        int32 = 7
	TrDeposit    int32 = 8
)

// PlatformOwner is the ledger owner of every platform account.
const PlatformOwner = "platform"

// Rate converts minor units of an asset to minor units of the limit asset:
// limitMinor = ceil(minor × Num / Den). A fixed table is enough for limits and the
// step-up threshold; it is never used to move money.
type Rate struct{ Num, Den int64 }

// Config holds the wallet's tunables. Zero fields take DefaultConfig's values.
type Config struct {
	// LimitAsset is the asset limits and the step-up threshold are counted in; it must be
	// the identity limit table's asset.
	LimitAsset string
	// Rates converts each supported asset into LimitAsset ("or equivalent").
	Rates map[string]Rate
	// StepUpMinor: a movement worth at least this (in LimitAsset) needs a recent step-up
	// on the session (5,000.00 CNY).
	StepUpMinor int64
	// FlowLimits scales the identity level's daily/monthly limits per flow, in percent
	// (100 = the level's limit). A flow missing here uses 100.
	FlowLimits map[Flow]int64
	// RequestTTL bounds payment requests' expiry (default 7 days, at most 30 days).
	RequestTTL time.Duration
	// CheckoutTTL is how long a checkout can be paid (30 min).
	CheckoutTTL time.Duration
	// Withdrawal rules, per asset in its minor units.
	WithdrawMin, WithdrawMax, WithdrawFeeFixed map[string]int64
	// WithdrawFeeBps is the percentage part of the withdrawal fee, in basis points.
	WithdrawFeeBps int64
	// MaxCards caps the cards one user can bind (5).
	MaxCards int
	// NotifyPaymentReceived writes a "payment received" email for each incoming transfer.
	NotifyPaymentReceived bool
	// MaintenanceCheck, when set, is asked before any money moves; its error (normally
	// apperr maintenance) refuses the call. The support package provides it.
	MaintenanceCheck func(ctx context.Context) error
	// SecretKey (32 bytes) seals rail card tokens (AES-256-GCM); required with a rail.
	// The server passes a key derived from OKPAY_SECRET_KEY.
	SecretKey []byte
	// NodeID names this process in job leases.
	NodeID string
	Logger *slog.Logger
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	return Config{
		LimitAsset: "CNY",
		Rates: map[string]Rate{
			"CNY":  {1, 1},
			"USD":  {72, 10},     // 1 USD = 7.20 CNY, both in cents
			"USDT": {72, 100000}, // 1 USDT (10^6 units) = 7.20 CNY (720 fen)
			"BTC":  {6, 10},      // 1 BTC (10^8 sat) = 600,000 CNY
		},
		StepUpMinor:      5_000_00,
		FlowLimits:       map[Flow]int64{FlowSend: 100, FlowWithdraw: 100, FlowTopUp: 100},
		RequestTTL:       7 * 24 * time.Hour,
		CheckoutTTL:      30 * time.Minute,
		WithdrawMin:      map[string]int64{"CNY": 10_00, "USD": 5_00, "USDT": 10_000000, "BTC": 100000},
		WithdrawMax:      map[string]int64{"CNY": 50_000_00, "USD": 10_000_00, "USDT": 50_000_000000, "BTC": 100000000},
		WithdrawFeeFixed: map[string]int64{"CNY": 1_00, "USD": 50, "USDT": 1_000000, "BTC": 10000},
		WithdrawFeeBps:   10,
		MaxCards:         5,

		NotifyPaymentReceived: true,
		NodeID:                "node",
	}
}

func (c *Config) fill() {
	d := DefaultConfig()
	if c.LimitAsset == "" {
		c.LimitAsset = d.LimitAsset
	}
	if c.Rates == nil {
		c.Rates = d.Rates
	}
	if c.StepUpMinor == 0 {
		c.StepUpMinor = d.StepUpMinor
	}
	if c.FlowLimits == nil {
		c.FlowLimits = d.FlowLimits
	}
	if c.RequestTTL == 0 {
		c.RequestTTL = d.RequestTTL
	}
	if c.CheckoutTTL == 0 {
		c.CheckoutTTL = d.CheckoutTTL
	}
	if c.WithdrawMin == nil {
		c.WithdrawMin = d.WithdrawMin
	}
	if c.WithdrawMax == nil {
		c.WithdrawMax = d.WithdrawMax
	}
	if c.WithdrawFeeFixed == nil {
		c.WithdrawFeeFixed = d.WithdrawFeeFixed
	}
	if c.MaxCards == 0 {
		c.MaxCards = d.MaxCards
	}
	if c.NodeID == "" {
		c.NodeID = d.NodeID
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Service is the wallet. It is safe for concurrent use.
type Service struct {
	d   *db.DB
	l   *ledger.Ledger
	id  *identity.Service
	cfg Config

	rl rail.Rail
	// aead seals rail card tokens at rest.
	aead cipher.AEAD

	// known caches ledger accounts known to exist (accounts are never deleted), so the
	// hot path does not re-create them in every transaction.
	known sync.Map // uuid.UUID → struct{}

	// group commits concurrent transfers together (SQLite only; see group.go).
	group *groupCommit

	// batch runs concurrent transfers as batches of set-based statements (batch.go).
	batch *transferBatcher

	// feed is the payment feed's state (feed.go).
	feed feed
}

// New returns the wallet over a migrated database, a started ledger and identity. rail
// may be nil until cards, top-ups, withdrawals and deposits are needed.
func New(d *db.DB, l *ledger.Ledger, id *identity.Service, rl rail.Rail, cfg Config) (*Service, error) {
	if d == nil || l == nil || id == nil {
		return nil, errors.New("wallet: nil database, ledger or identity")
	}
	cfg.fill()
	if _, ok := money.Lookup(cfg.LimitAsset); !ok {
		return nil, fmt.Errorf("wallet: unknown limit asset %q", cfg.LimitAsset)
	}
	for _, a := range money.Supported() {
		r, ok := cfg.Rates[a.Code]
		if !ok || r.Num <= 0 || r.Den <= 0 {
			return nil, fmt.Errorf("wallet: no conversion rate for %s", a.Code)
		}
	}
	s := &Service{d: d, l: l, id: id, cfg: cfg, rl: rl}
	if d.Engine == db.SQLite {
		s.group = &groupCommit{d: d, log: cfg.Logger}
	}
	s.batch = &transferBatcher{s: s, slots: batchSlots(d.Engine)}
	// Payments an earlier run logged but did not expand are owed until the first settle.
	s.feed.appended.Store(1)
	notify.RegisterSettler(d, s.settle)
	if rl != nil {
		if len(cfg.SecretKey) != 32 {
			return nil, errors.New("wallet: a rail needs Config.SecretKey (32 bytes) to seal card tokens")
		}
		block, err := aes.NewCipher(cfg.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("wallet: secret key: %w", err)
		}
		if s.aead, err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("wallet: secret key: %w", err)
		}
	}
	return s, nil
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

// Start creates the platform accounts (idempotently), so every cent has somewhere to be
// before the first movement. Errors: database errors.
func (s *Service) Start(ctx context.Context) error {
	var accts []ledger.Account
	names := railNames
	if s.rl != nil && !slices.Contains(names, s.rl.Name()) {
		names = append(slices.Clone(names), s.rl.Name())
	}
	for _, a := range money.Supported() {
		for _, r := range names {
			accts = append(accts, ledger.Account{ID: SettlementAccount(r, a.Code), Asset: a.Code, Code: AcctSettlement, Owner: PlatformOwner})
		}
		accts = append(accts,
			ledger.Account{ID: PlatformAccount("fees", a.Code), Asset: a.Code, Code: AcctFees, Owner: PlatformOwner},
			ledger.Account{ID: PlatformAccount("dispute", a.Code), Asset: a.Code, Code: AcctDispute, Owner: PlatformOwner},
			ledger.Account{ID: PlatformAccount("escrow", a.Code), Asset: a.Code, Code: AcctEscrow, Owner: PlatformOwner},
		)
	}
	res, err := s.l.CreateAccounts(ctx, accts)
	if err != nil {
		return fmt.Errorf("wallet: create platform accounts: %w", err)
	}
	for i, r := range res {
		if r.Code != ledger.OK && r.Code != ledger.Exists {
			return fmt.Errorf("wallet: create platform account %s: %s", accts[i].ID, r.Code)
		}
		s.known.Store(accts[i].ID, struct{}{})
	}
	return nil
}

// railNames are the rails with settlement accounts. The sandbox is the only rail today;
// a real provider adds its name here (its Rail.Name()).
var railNames = []string{"sandbox"}

// ns is the namespace of every id the wallet derives (UUIDv5), so ids are reproducible
// from their inputs: the same request always names the same transfers.
var ns = uuid.MustParse("8f0b8a9e-51c4-4c5e-9d0e-0c4b5a7e6d21")

func derive(parts ...string) uuid.UUID {
	b := make([]byte, 0, 64)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return uuid.NewSHA1(ns, b)
}

// WalletAccount is the ledger account id of userID's wallet in asset.
func WalletAccount(userID, asset string) uuid.UUID { return derive("wallet", userID, asset) }

// SettlementAccount is the ledger account of money held at rail in asset.
func SettlementAccount(rail, asset string) uuid.UUID { return derive("settlement", rail, asset) }

// PlatformAccount is the platform's account of a kind ("fees", "dispute", "escrow").
func PlatformAccount(kind, asset string) uuid.UUID { return derive("platform", kind, asset) }

func hashReq(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// assetOf parses an asset code a wallet may hold. Errors: currency_not_supported.
func assetOf(code string) (money.Asset, error) {
	for _, a := range money.Supported() {
		if a.Code == code {
			return a, nil
		}
	}
	return money.Asset{}, apperr.New(apperr.CodeCurrencyUnsupported)
}

// ParseAmount reads a positive decimal amount of asset, for the HTTP layers: a form or
// query parameter is then refused with the same codes, and the same fix naming the
// asset's decimal places, as the money flows give. Errors: currency_not_supported,
// amount_invalid.
func ParseAmount(amount, asset string) (money.Asset, int64, error) {
	return parseAmount(amount, asset)
}

// parseAmount reads a positive decimal amount of asset. Errors: currency_not_supported,
// amount_invalid.
func parseAmount(amount, asset string) (money.Asset, int64, error) {
	a, err := assetOf(asset)
	if err != nil {
		return a, 0, err
	}
	m, err := money.ParsePositive(amount, a)
	if err != nil {
		return a, 0, apperr.New(apperr.CodeAmountInvalid).With("scale", fmt.Sprint(a.Scale)).Wrap(err)
	}
	return a, int64(m), nil
}

func formatMinor(minor int64, asset string) string {
	a, ok := money.Lookup(asset)
	if !ok {
		return fmt.Sprint(minor)
	}
	return money.Amount(minor).Format(a) + " " + asset
}

// checkMaintenance runs the maintenance hook. Errors: whatever the hook returns
// (maintenance).
func (s *Service) checkMaintenance(ctx context.Context) error {
	if s.cfg.MaintenanceCheck == nil {
		return nil
	}
	return s.cfg.MaintenanceCheck(ctx)
}

// ensureWallets creates the ledger accounts in tx when they are not known to exist.
// Call markKnown after the transaction commits.
func (s *Service) ensureWallets(ctx context.Context, tx *db.Tx, accts ...ledger.Account) error {
	var need []ledger.Account
	for _, a := range accts {
		if _, ok := s.known.Load(a.ID); !ok {
			need = append(need, a)
		}
	}
	if len(need) == 0 {
		return nil
	}
	touchLedger(ctx)
	res, err := s.l.CreateAccountsTx(ctx, tx, need)
	if err != nil {
		return fmt.Errorf("open wallet: %w", err)
	}
	for i, r := range res {
		if r.Code != ledger.OK && r.Code != ledger.Exists {
			return fmt.Errorf("open wallet %s/%s: %s", need[i].Owner, need[i].Asset, r.Code)
		}
	}
	return nil
}

func (s *Service) markKnown(ids ...uuid.UUID) {
	for _, id := range ids {
		s.known.Store(id, struct{}{})
	}
}

func walletAcct(userID, asset string) ledger.Account {
	return ledger.Account{ID: WalletAccount(userID, asset), Asset: asset, Code: AcctWallet, Owner: userID, Flags: ledger.NoOverdraft}
}

// inTx runs fn in a write transaction, wrapping uncoded errors with what.
func (s *Service) inTx(ctx context.Context, what string, fn func(*db.Tx) error) error {
	err := s.d.InTx(ctx, fn)
	if err != nil {
		if _, ok := apperr.As(err); ok {
			s.fillAvailable(ctx, err)
			return err
		}
		return fmt.Errorf("wallet: %s: %w", what, err)
	}
	return nil
}

func (s *Service) read(ctx context.Context, what string, fn func(*db.Tx) error) error {
	err := s.d.Read(ctx, fn)
	if err != nil {
		if _, ok := apperr.As(err); ok {
			return err
		}
		return fmt.Errorf("wallet: %s: %w", what, err)
	}
	return nil
}

// Balance is a wallet's balance, in minor units of Asset and as decimal strings.
type Balance struct {
	Asset string `json:"asset"`
	// AvailableMinor can be spent now; OnHoldMinor is held by pending movements
	// (withdrawals in flight, disputes); TotalMinor = available + on hold.
	AvailableMinor int64  `json:"available_minor"`
	OnHoldMinor    int64  `json:"on_hold_minor"`
	TotalMinor     int64  `json:"total_minor"`
	Available      string `json:"available"`
	OnHold         string `json:"on_hold"`
	Total          string `json:"total"`
	// Incoming is money on its way in (pending credits: a top-up being authorised).
	IncomingMinor int64 `json:"incoming_minor"`
}

func balanceOf(asset string, b ledger.Balance) Balance {
	a := money.MustLookup(asset)
	f := func(m int64) string { return money.Amount(m).Format(a) }
	return Balance{Asset: asset, AvailableMinor: b.Available, OnHoldMinor: b.PendingDebits, TotalMinor: b.Posted,
		Available: f(b.Available), OnHold: f(b.PendingDebits), Total: f(b.Posted), IncomingMinor: b.PendingCredits}
}

// OpenWallet opens userID's wallet in asset (idempotent) and returns its balance. The
// server calls it with CNY after registration; other assets are opened on demand.
//
// Errors: currency_not_supported, not_found (no such user).
func (s *Service) OpenWallet(ctx context.Context, userID, asset string) (*Balance, error) {
	if _, err := assetOf(asset); err != nil {
		return nil, err
	}
	a := walletAcct(userID, asset)
	err := s.inTx(ctx, "open wallet", func(tx *db.Tx) error {
		if err := userExists(ctx, tx, userID); err != nil {
			return err
		}
		return s.ensureWallets(ctx, tx, a)
	})
	if err != nil {
		return nil, err
	}
	s.markKnown(a.ID)
	b, err := s.l.Balance(ctx, a.ID)
	if err != nil {
		return nil, fmt.Errorf("wallet: read balance: %w", err)
	}
	out := balanceOf(asset, b)
	return &out, nil
}

// Balances returns userID's wallets, CNY first then the other supported assets the user
// has opened. CNY is always listed (zero until first use; opened on first movement).
//
// Errors: none besides internal ones.
func (s *Service) Balances(ctx context.Context, userID string) ([]Balance, error) {
	var out []Balance
	for _, a := range money.Supported() {
		acct, err := s.l.Account(ctx, WalletAccount(userID, a.Code))
		if errors.Is(err, ledger.ErrNotFound) {
			if a.Code == "CNY" {
				out = append(out, balanceOf(a.Code, ledger.Balance{}))
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("wallet: balances: %w", err)
		}
		out = append(out, balanceOf(a.Code, ledger.BalanceOf(acct)))
	}
	return out, nil
}

// BalanceOf returns one wallet's balance (zero when not opened).
//
// Errors: currency_not_supported.
func (s *Service) BalanceOf(ctx context.Context, userID, asset string) (*Balance, error) {
	if _, err := assetOf(asset); err != nil {
		return nil, err
	}
	acct, err := s.l.Account(ctx, WalletAccount(userID, asset))
	if errors.Is(err, ledger.ErrNotFound) {
		b := balanceOf(asset, ledger.Balance{})
		return &b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wallet: balance: %w", err)
	}
	b := balanceOf(asset, ledger.BalanceOf(acct))
	return &b, nil
}

func userExists(ctx context.Context, tx *db.Tx, userID string) error {
	var one int
	err := tx.QueryRowCached(ctx, `SELECT 1 FROM users WHERE id = $1`, userID).Scan(&one)
	if db.IsNoRows(err) {
		return apperr.New(apperr.CodeNotFound)
	}
	if err != nil {
		return fmt.Errorf("load user: %w", err)
	}
	return nil
}
