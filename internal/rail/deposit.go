package rail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/money"
)

// DepositAddress: see Rail. Addresses are derived from owner, asset and AddressKey, and
// recorded so SimulateDeposit can find the owner.
// Errors: apperr.CodeCurrencyUnsupported for an asset without a Chain; ErrInvalidRequest
// for a malformed owner.
func (s *Sandbox) DepositAddress(ctx context.Context, owner, asset string) (DepositAddress, error) {
	if err := checkOwner(owner); err != nil {
		return DepositAddress{}, fmt.Errorf("deposit address: %w", err)
	}
	ch, ok := s.cfg.Chains[asset]
	if !ok {
		return DepositAddress{}, fmt.Errorf("deposit address %s: %w", asset, apperr.New(apperr.CodeCurrencyUnsupported))
	}
	addr := addressFor(s.cfg.AddressKey, ch.AddressFormat, owner, asset)
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rail_deposit_addresses (address, owner, asset, created_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, addr, owner, asset, tx.NowMicros()); err != nil {
			return fmt.Errorf("record: %w", err)
		}
		// Read back: an address must belong to exactly one owner and asset, or a deposit
		// would be credited to the wrong person (only a changed AddressKey can cause this).
		var gotOwner, gotAsset string
		if err := tx.QueryRowContext(ctx, `SELECT owner, asset FROM rail_deposit_addresses WHERE address = $1`, addr).Scan(&gotOwner, &gotAsset); err != nil {
			return fmt.Errorf("read back: %w", err)
		}
		if gotOwner != owner || gotAsset != asset {
			return fmt.Errorf("address %s already belongs to another owner or asset", addr)
		}
		return nil
	})
	if err != nil {
		return DepositAddress{}, fmt.Errorf("deposit address %s: %w", asset, err)
	}
	return DepositAddress{Address: addr, Asset: asset, Network: ch.Network, ConfirmationsRequired: ch.Confirmations}, nil
}

// Chain returns the sandbox configuration of asset's chain.
func (s *Sandbox) Chain(asset string) (Chain, bool) {
	ch, ok := s.cfg.Chains[asset]
	return ch, ok
}

// SimulateDeposit pretends someone sent amount of asset to address on chain, for tests,
// demo data and the dev page. The deposit is seen at once with 0 confirmations
// (StatusConfirming), gains one per Chain.Interval, and succeeds at Chain.Confirmations.
// Its Reference is a fresh transaction id, so each call is a new deposit.
// Errors: CodeDepositAddressUnknown (not an address DepositAddress gave out),
// apperr.CodeCurrencyUnsupported (asset has no chain, or the address is for another asset),
// apperr.CodeAmountInvalid.
func (s *Sandbox) SimulateDeposit(ctx context.Context, address string, amount money.Amount, asset string) (Operation, error) {
	ch, ok := s.cfg.Chains[asset]
	a, known := money.Lookup(asset)
	if !ok || !known {
		return Operation{}, fmt.Errorf("simulate deposit: %w", apperr.New(apperr.CodeCurrencyUnsupported))
	}
	if amount <= 0 || amount > maxAmountMinor {
		return Operation{}, fmt.Errorf("simulate deposit: %w", apperr.New(apperr.CodeAmountInvalid).With("scale", fmt.Sprint(a.Scale)))
	}
	if len(address) > 128 {
		return Operation{}, fmt.Errorf("simulate deposit: %w", apperr.New(CodeDepositAddressUnknown))
	}
	var txid [32]byte
	if _, err := rand.Read(txid[:]); err != nil {
		panic(fmt.Sprintf("rail: random: %v", err))
	}
	var out Operation
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := lockFeed(ctx, tx); err != nil {
			return err
		}
		var owner, addrAsset string
		err := tx.QueryRowContext(ctx, `SELECT owner, asset FROM rail_deposit_addresses WHERE address = $1`, address).Scan(&owner, &addrAsset)
		if db.IsNoRows(err) {
			return apperr.New(CodeDepositAddressUnknown)
		}
		if err != nil {
			return fmt.Errorf("read address: %w", err)
		}
		if addrAsset != asset {
			return apperr.New(apperr.CodeCurrencyUnsupported)
		}
		now := tx.NowMicros()
		o := &opRow{id: newID(), reference: hex.EncodeToString(txid[:]), kind: string(KindDeposit),
			requestHash: requestHash(string(KindDeposit), address, asset), owner: owner, address: address, asset: asset,
			amount: int64(amount), status: string(StatusConfirming), confsRequired: ch.Confirmations,
			stepUs: ch.Interval.Microseconds(), descriptor: ch.Network, createdAt: now, updatedAt: now,
			nextAt: schedule(now + ch.Interval.Microseconds())}
		if err := insertOp(ctx, tx, o); err != nil {
			return err
		}
		out = o.operation()
		return nil
	})
	if err != nil {
		return Operation{}, fmt.Errorf("simulate deposit: %w", err)
	}
	return out, nil
}
