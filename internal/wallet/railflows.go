package wallet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/ledger"
	"okpay/internal/money"
	"okpay/internal/rail"
)

func newUUID() string { return uuid.Must(uuid.NewV7()).String() }

// Rail op kinds and the wallet's statuses for them.
const (
	opTopUp      = "top_up"
	opWithdrawal = "withdrawal"
	opDeposit    = "deposit"

	opPending    = "pending"      // booked (hold placed), the rail has not answered yet
	opNeedsOTP   = "requires_otp" // top-up waits for the bank's one-time code
	opProcessing = "processing"
	opConfirming = "confirming"
	opCompleted  = "completed"
	opFailed     = "failed"
)

// RailOp is a top-up, withdrawal or deposit as the user sees it.
type RailOp struct {
	ID          string `json:"id"` // the rail reference
	Kind        string `json:"kind"`
	Status      string `json:"status"`
	Asset       string `json:"asset"`
	AmountMinor int64  `json:"amount_minor"`
	Amount      string `json:"amount"`
	FeeMinor    int64  `json:"fee_minor"`
	CardID      string `json:"card_id,omitempty"`
	FailureCode string `json:"failure_code,omitempty"`
	// NextStep is the code of what the user must do next (card_otp_required), if any.
	NextStep            string    `json:"next_step,omitempty"`
	Confirmations       int       `json:"confirmations,omitempty"`
	ConfirmationsNeeded int       `json:"confirmations_needed,omitempty"`
	ActivityID          string    `json:"activity_id"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`

	userID string
}

const railOpCols = `ref, kind, user_id, card_id, asset, amount, fee, status, failure_code, activity_id, confirmations, confirmations_needed, created_at, updated_at`

func scanRailOp(sc scanner) (*RailOp, error) {
	var o RailOp
	var c, u int64
	if err := sc.Scan(&o.ID, &o.Kind, &o.userID, &o.CardID, &o.Asset, &o.AmountMinor, &o.FeeMinor, &o.Status, &o.FailureCode, &o.ActivityID,
		&o.Confirmations, &o.ConfirmationsNeeded, &c, &u); err != nil {
		return nil, err
	}
	o.Amount = formatMinor(o.AmountMinor, o.Asset)
	o.CreatedAt, o.UpdatedAt = db.Micros(c), db.Micros(u)
	if o.Status == opNeedsOTP {
		o.NextStep = rail.CodeCardOTPRequired
	}
	return &o, nil
}

func loadRailOp(ctx context.Context, tx *db.Tx, ref string, lock bool) (*RailOp, error) {
	q := `SELECT ` + railOpCols + ` FROM wallet_rail_ops WHERE ref = $1`
	if lock {
		q += " " + tx.Dialect.ForUpdate()
	}
	o, err := scanRailOp(tx.QueryRowContext(ctx, q, ref))
	if db.IsNoRows(err) {
		return nil, apperr.New(apperr.CodeNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load rail op: %w", err)
	}
	return o, nil
}

// GetRailOp returns one of userID's top-ups, withdrawals or deposits.
//
// Errors: not_found.
func (s *Service) GetRailOp(ctx context.Context, userID, id string) (*RailOp, error) {
	var out *RailOp
	err := s.read(ctx, "get rail op", func(tx *db.Tx) error {
		o, err := loadRailOp(ctx, tx, id, false)
		if err != nil {
			return err
		}
		if o.userID != userID {
			return apperr.New(apperr.CodeNotFound)
		}
		out = o
		return nil
	})
	return out, err
}

// TopUpInput tops up a wallet from a bound card.
type TopUpInput struct {
	UserID string `json:"-"`
	Key    string `json:"-"`
	CardID string `json:"card_id"`
	Amount string `json:"amount"`
	Asset  string `json:"asset"`
}

// TopUp charges a verified card and credits the wallet in two phases: a pending transfer
// from the rail's settlement account holds the credit (shown as incoming) while the bank
// authorises, and is posted when the charge succeeds or voided when it fails. When the
// bank wants a one-time code the top-up waits (NextStep card_otp_required) for
// SubmitTopUpOTP. A failed charge returns the top-up (status failed, failure_code) and
// the bank's coded error; retrying the key returns the same.
//
// Errors: unavailable, validation_failed, amount_invalid, currency_not_supported,
// maintenance, idempotency_conflict, not_found (card), card_not_verified, card_expired,
// currency_mismatch, receiving_restricted, limit_exceeded; from the bank: card_declined,
// card_expired, card_reported_stolen, card_insufficient_funds.
func (s *Service) TopUp(ctx context.Context, in TopUpInput) (*RailOp, error) {
	if err := s.needRail(); err != nil {
		return nil, err
	}
	if err := validKey(in.Key); err != nil {
		return nil, err
	}
	asset, amount, err := parseAmount(in.Amount, in.Asset)
	if err != nil {
		return nil, err
	}
	if err := s.checkMaintenance(ctx); err != nil {
		return nil, err
	}
	op := opID(in.UserID, in.Key)
	ref := op.String()
	hash := hashReq("top_up", in.CardID, asset.Code, fmt.Sprint(amount))
	var token string
	var replay bool
	wallet := walletAcct(in.UserID, asset.Code)
	err = s.inTx(ctx, "top up", func(tx *db.Tx) error {
		var err error
		_, replay, err = beginOp(ctx, tx, op, in.UserID, "top_up", hash, ref)
		if err != nil || replay {
			return err
		}
		_, token, err = s.usableCard(ctx, tx, in.UserID, in.CardID, asset.Code)
		if err != nil {
			return err
		}
		if err := s.id.CanReceive(ctx, tx, in.UserID); err != nil {
			return err
		}
		if err := s.useLimit(ctx, tx, in.UserID, FlowTopUp, asset.Code, amount); err != nil {
			return err
		}
		if err := s.ensureWallets(ctx, tx, wallet); err != nil {
			return err
		}
		if err := s.submit(ctx, tx, ledger.Transfer{ID: derive(ref, "hold"), DebitAccountID: SettlementAccount(s.rl.Name(), asset.Code),
			CreditAccountID: wallet.ID, Amount: amount, Asset: asset.Code, Code: TrTopUp, Ref: "top_up:" + ref, Flags: ledger.Pending}); err != nil {
			return err
		}
		return s.insertRailOp(ctx, tx, ref, opTopUp, in.UserID, in.CardID, asset.Code, amount, 0, TypeTopUp, 1, CatTopUps, "", 0)
	})
	if err != nil {
		return nil, err
	}
	s.markKnown(wallet.ID)
	if replay {
		return s.railOpResult(ctx, in.UserID, ref)
	}
	rop, err := s.rl.Authorize(ctx, rail.ChargeRequest{Reference: ref, Token: token, Amount: money.Amount(amount), Asset: asset.Code})
	if err != nil {
		// The rail refused the request itself (card unknown there): nothing is authorised.
		if _, ok := apperr.As(err); ok {
			if aerr := s.applyCharge(ctx, ref, rail.Operation{Reference: ref, Status: rail.StatusFailed, FailureCode: codeOf(err)}); aerr != nil {
				return nil, aerr
			}
			return s.railOpResult(ctx, in.UserID, ref)
		}
		// Unknown outcome (network): the job asks the rail again by reference.
		return nil, fmt.Errorf("wallet: authorise top-up (the background job will resolve it): %w", err)
	}
	if err := s.driveCharge(ctx, ref, rop); err != nil {
		return nil, err
	}
	return s.railOpResult(ctx, in.UserID, ref)
}

// railOpResult returns the op, with its failure as the error when it failed.
func (s *Service) railOpResult(ctx context.Context, userID, ref string) (*RailOp, error) {
	o, err := s.GetRailOp(ctx, userID, ref)
	if err != nil {
		return nil, err
	}
	if o.Status == opFailed && o.FailureCode != "" {
		if _, ok := apperr.Lookup(o.FailureCode); ok {
			// Through the rail's mapping: a top-up that failed on its last wrong code
			// before card_otp_attempts_exceeded existed says so, not "{remaining} tries".
			return o, rail.FailureError(o.FailureCode)
		}
	}
	return o, nil
}

// SubmitTopUpOTP passes the bank's one-time code for a top-up waiting for it.
//
// A code that is not 6 digits uses up no try; the last wrong try fails the top-up.
//
// Errors: unavailable, not_found, top_up_state, card_otp_malformed (field code),
// card_otp_invalid (param remaining), card_otp_attempts_exceeded, card_otp_expired, and
// the bank's refusals as for TopUp.
func (s *Service) SubmitTopUpOTP(ctx context.Context, userID, topUpID, code string) (*RailOp, error) {
	if err := s.needRail(); err != nil {
		return nil, err
	}
	o, err := s.GetRailOp(ctx, userID, topUpID)
	if err != nil {
		return nil, err
	}
	if o.Kind != opTopUp || o.Status != opNeedsOTP {
		return o, topUpStateError(o.Status)
	}
	rop, err := s.rl.SubmitOTP(ctx, topUpID, code)
	if err != nil {
		if rop.Status == rail.StatusFailed {
			if aerr := s.applyCharge(ctx, topUpID, rop); aerr != nil {
				return nil, aerr
			}
		}
		return nil, err
	}
	if err := s.driveCharge(ctx, topUpID, rop); err != nil {
		return nil, err
	}
	return s.railOpResult(ctx, userID, topUpID)
}

// driveCharge moves a charge on: an authorised charge is captured (a network call,
// outside any transaction), then the outcome is applied.
func (s *Service) driveCharge(ctx context.Context, ref string, rop rail.Operation) error {
	if rop.Status == rail.StatusAuthorized {
		captured, err := s.rl.Capture(ctx, ref)
		if err != nil {
			if _, ok := apperr.As(err); !ok {
				return fmt.Errorf("wallet: capture top-up (the background job will resolve it): %w", err)
			}
			// Capture refused (failed or canceled meanwhile): read the state and apply it.
			if captured, err = s.rl.Get(ctx, ref); err != nil {
				return fmt.Errorf("wallet: read top-up: %w", err)
			}
		}
		rop = captured
	}
	return s.applyCharge(ctx, ref, rop)
}

// applyCharge books a charge's state, once: the op row is locked and its status checked
// in the same transaction as the post or void.
func (s *Service) applyCharge(ctx context.Context, ref string, rop rail.Operation) error {
	return s.inTx(ctx, "apply top-up", func(tx *db.Tx) error {
		o, err := loadRailOp(ctx, tx, ref, true)
		if err != nil {
			return err
		}
		if o.Status == opCompleted || o.Status == opFailed {
			return nil // final: a replayed update changes nothing
		}
		switch rop.Status {
		case rail.StatusSucceeded:
			if err := s.submit(ctx, tx, ledger.Transfer{ID: derive(ref, "post"), PendingID: derive(ref, "hold"), Flags: ledger.PostPending,
				Code: TrTopUp, Ref: "top_up:" + ref}); err != nil {
				return err
			}
			return s.setRailOp(ctx, tx, o, opCompleted, StatusCompleted, "", "")
		case rail.StatusFailed, rail.StatusCanceled:
			code := rop.FailureCode
			if code == "" {
				code = "canceled"
			}
			if err := s.submit(ctx, tx, ledger.Transfer{ID: derive(ref, "void"), PendingID: derive(ref, "hold"), Flags: ledger.VoidPending,
				Code: TrTopUp, Ref: "top_up:" + ref}); err != nil {
				return err
			}
			if err := s.releaseLimit(ctx, tx, o.userID, FlowTopUp, o.Asset, o.AmountMinor, o.CreatedAt); err != nil {
				return err
			}
			return s.setRailOp(ctx, tx, o, opFailed, StatusFailed, code, "")
		case rail.StatusRequiresOTP:
			return s.setRailOp(ctx, tx, o, opNeedsOTP, StatusPending, "", NoteOTPWait)
		case rail.StatusCapturing:
			return s.setRailOp(ctx, tx, o, opProcessing, StatusPending, "", NoteSettling)
		}
		return nil
	})
}

func (s *Service) insertRailOp(ctx context.Context, tx *db.Tx, ref, kind, userID, cardID, asset string, amount, fee int64,
	actType string, dir int, cat, cpty string, confNeeded int) error {
	actID := derive(ref, "activity")
	status := StatusPending
	if kind == opDeposit {
		status = StatusConfirming
	}
	if _, err := insertActivity(ctx, tx, newActivity{id: actID, userID: userID, typ: actType, status: status, direction: dir, asset: asset,
		amount: amount, fee: fee, category: cat, cpty: cpty, sourceKind: kind, sourceID: ref, confNeeded: confNeeded}); err != nil {
		return err
	}
	opStatus := opPending
	if kind == opDeposit {
		opStatus = opConfirming
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO wallet_rail_ops (`+railOpCols+`, rail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', $9, 0, $10, $11, $11, $12)`,
		ref, kind, userID, cardID, asset, amount, fee, opStatus, actID.String(), confNeeded, tx.NowMicros(), s.rl.Name())
	if err != nil {
		return fmt.Errorf("insert rail op: %w", err)
	}
	return nil
}

func (s *Service) setRailOp(ctx context.Context, tx *db.Tx, o *RailOp, status, actStatus, code, note string) error {
	if o.Status == status && note == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE wallet_rail_ops SET status = $1, failure_code = $2, updated_at = $3 WHERE ref = $4`,
		status, code, tx.NowMicros(), o.ID); err != nil {
		return fmt.Errorf("update rail op: %w", err)
	}
	if o.Status == status {
		note = ""
	}
	return updateActivity(ctx, tx, o.ActivityID, activityUpdate{status: actStatus, failureCode: code, note: note})
}

// releaseLimit gives back usage counted for a movement that did not happen, in the
// periods of when it was counted.
func (s *Service) releaseLimit(ctx context.Context, tx *db.Tx, userID string, flow Flow, asset string, amount int64, at time.Time) error {
	v, err := s.toLimit(asset, amount)
	if err != nil {
		return err
	}
	day, month := periods(at)
	_, err = tx.ExecContext(ctx, `UPDATE wallet_usage SET used = CASE WHEN used > $1 THEN used - $1 ELSE 0 END
		WHERE user_id = $2 AND flow = $3 AND period IN ($4, $5)`, v, userID, string(flow), day, month)
	if err != nil {
		return fmt.Errorf("release limit: %w", err)
	}
	return nil
}

// WithdrawInput withdraws to a bound card.
type WithdrawInput struct {
	UserID    string `json:"-"`
	SessionID string `json:"-"`
	Key       string `json:"-"`
	CardID    string `json:"card_id"`
	Amount    string `json:"amount"`
	Asset     string `json:"asset"`
}

// WithdrawalFee is the fee for withdrawing amountMinor of asset: fixed part plus
// Config.WithdrawFeeBps, rounded up.
func (s *Service) WithdrawalFee(asset string, amountMinor int64) int64 {
	return s.cfg.WithdrawFeeFixed[asset] + (amountMinor*s.cfg.WithdrawFeeBps+9999)/10000
}

// Withdraw sends money to a verified card in the user's own name. The amount and the fee
// are held at once (linked pending transfers to the rail's settlement and the fee
// account); the payout goes processing → completed (holds posted) or failed (holds voided:
// the money is back, with the bank's reason and fix). Emails say which.
//
// Errors: unavailable, validation_failed, amount_invalid, currency_not_supported,
// maintenance, idempotency_conflict, withdrawal_below_minimum, withdrawal_above_maximum
// (params minimum/maximum), not_found (card), card_not_verified, card_expired,
// currency_mismatch, email_not_verified, account_frozen, withdrawal_restricted,
// real_name_required, card_name_mismatch, step_up_required, limit_exceeded,
// insufficient_funds; failures reported by the bank arrive later as the op's
// failure_code (payout_name_mismatch, payout_rejected).
func (s *Service) Withdraw(ctx context.Context, in WithdrawInput) (*RailOp, error) {
	if err := s.needRail(); err != nil {
		return nil, err
	}
	if err := validKey(in.Key); err != nil {
		return nil, err
	}
	asset, amount, err := parseAmount(in.Amount, in.Asset)
	if err != nil {
		return nil, err
	}
	if m := s.cfg.WithdrawMin[asset.Code]; amount < m {
		return nil, apperr.New(CodeWithdrawalTooSmall).With("minimum", formatMinor(m, asset.Code))
	}
	if m, ok := s.cfg.WithdrawMax[asset.Code]; ok && amount > m {
		return nil, apperr.New(CodeWithdrawalTooLarge).With("maximum", formatMinor(m, asset.Code))
	}
	if err := s.checkMaintenance(ctx); err != nil {
		return nil, err
	}
	fee := s.WithdrawalFee(asset.Code, amount)
	op := opID(in.UserID, in.Key)
	ref := op.String()
	hash := hashReq("withdraw", in.CardID, asset.Code, fmt.Sprint(amount))
	var token, realName string
	var replay bool
	err = s.inTx(ctx, "withdraw", func(tx *db.Tx) error {
		var err error
		_, replay, err = beginOp(ctx, tx, op, in.UserID, "withdraw", hash, ref)
		if err != nil || replay {
			return err
		}
		if err := s.id.CanWithdraw(ctx, tx, in.UserID); err != nil {
			return err
		}
		var card *Card
		card, token, err = s.usableCard(ctx, tx, in.UserID, in.CardID, asset.Code)
		if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `SELECT real_name FROM identity_profiles WHERE user_id = $1`, in.UserID).Scan(&realName)
		if db.IsNoRows(err) {
			return apperr.New(CodeRealNameRequired)
		} else if err != nil {
			return fmt.Errorf("read real name: %w", err)
		}
		if !rail.SameName(card.Holder, realName) {
			return apperr.New(CodeCardNameMismatch)
		}
		if err := s.needStepUp(ctx, tx, in.SessionID, asset.Code, amount); err != nil {
			return err
		}
		if err := s.useLimit(ctx, tx, in.UserID, FlowWithdraw, asset.Code, amount); err != nil {
			return err
		}
		wallet := walletAcct(in.UserID, asset.Code)
		if err := s.ensureWallets(ctx, tx, wallet); err != nil {
			return err
		}
		ts := []ledger.Transfer{{ID: derive(ref, "hold"), DebitAccountID: wallet.ID, CreditAccountID: SettlementAccount(s.rl.Name(), asset.Code),
			Amount: amount, Asset: asset.Code, Code: TrWithdrawal, Ref: "withdrawal:" + ref, Flags: ledger.Pending}}
		if fee > 0 {
			ts[0].Flags |= ledger.Linked
			ts = append(ts, ledger.Transfer{ID: derive(ref, "fee-hold"), DebitAccountID: wallet.ID, CreditAccountID: PlatformAccount("fees", asset.Code),
				Amount: fee, Asset: asset.Code, Code: TrFee, Ref: "withdrawal:" + ref, Flags: ledger.Pending})
		}
		if err := s.submit(ctx, tx, ts...); err != nil {
			return err
		}
		return s.insertRailOp(ctx, tx, ref, opWithdrawal, in.UserID, in.CardID, asset.Code, amount, fee, TypeWithdrawal, -1, CatWithdrawals,
			card.Brand+" ••••"+card.Last4, 0)
	})
	if err != nil {
		return nil, err
	}
	if replay {
		return s.railOpResult(ctx, in.UserID, ref)
	}
	rop, err := s.rl.Payout(ctx, rail.PayoutRequest{Reference: ref, Token: token, Amount: money.Amount(amount), Asset: asset.Code, RecipientName: realName})
	if err != nil {
		if _, ok := apperr.As(err); ok {
			if aerr := s.applyPayout(ctx, ref, rail.Operation{Reference: ref, Status: rail.StatusFailed, FailureCode: codeOf(err)}); aerr != nil {
				return nil, aerr
			}
			return s.railOpResult(ctx, in.UserID, ref)
		}
		return nil, fmt.Errorf("wallet: payout (the background job will resolve it): %w", err)
	}
	if err := s.applyPayout(ctx, ref, rop); err != nil {
		return nil, err
	}
	return s.railOpResult(ctx, in.UserID, ref)
}

func (s *Service) applyPayout(ctx context.Context, ref string, rop rail.Operation) error {
	return s.inTx(ctx, "apply withdrawal", func(tx *db.Tx) error {
		o, err := loadRailOp(ctx, tx, ref, true)
		if err != nil {
			return err
		}
		if o.Status == opCompleted || o.Status == opFailed {
			return nil
		}
		p, err := loadPerson(ctx, tx, o.userID)
		if err != nil {
			return err
		}
		resolve := func(flag ledger.TransferFlags, suffix string) error {
			ts := []ledger.Transfer{{ID: derive(ref, suffix), PendingID: derive(ref, "hold"), Flags: flag, Code: TrWithdrawal, Ref: "withdrawal:" + ref}}
			if o.FeeMinor > 0 {
				ts[0].Flags |= ledger.Linked
				ts = append(ts, ledger.Transfer{ID: derive(ref, "fee-"+suffix), PendingID: derive(ref, "fee-hold"), Flags: flag, Code: TrFee, Ref: "withdrawal:" + ref})
			}
			return s.submit(ctx, tx, ts...)
		}
		amount := formatMinor(o.AmountMinor, o.Asset)
		switch rop.Status {
		case rail.StatusSucceeded:
			if err := resolve(ledger.PostPending, "post"); err != nil {
				return err
			}
			if err := s.setRailOp(ctx, tx, o, opCompleted, StatusCompleted, "", ""); err != nil {
				return err
			}
			return s.mail(ctx, tx, p, "withdrawal_completed", [2]string{"Withdrawal completed: " + amount, "提现成功：" + amount},
				[2]string{fmt.Sprintf("Your withdrawal of %s has been paid to your card.", amount), fmt.Sprintf("您提现的 %s 已转入您的银行卡。", amount)})
		case rail.StatusFailed, rail.StatusCanceled:
			code := rop.FailureCode
			if code == "" {
				code = rail.CodePayoutRejected
			}
			if err := resolve(ledger.VoidPending, "void"); err != nil {
				return err
			}
			if err := s.releaseLimit(ctx, tx, o.userID, FlowWithdraw, o.Asset, o.AmountMinor, o.CreatedAt); err != nil {
				return err
			}
			if err := s.setRailOp(ctx, tx, o, opFailed, StatusFailed, code, ""); err != nil {
				return err
			}
			reasonEn, reasonZh := code, code
			if d, ok := apperr.Lookup(code); ok {
				reasonEn, reasonZh = d.Message.En+" "+d.Fix.En, d.Message.Zh+d.Fix.Zh
			}
			return s.mail(ctx, tx, p, "withdrawal_failed", [2]string{"Withdrawal failed: " + amount, "提现失败：" + amount},
				[2]string{fmt.Sprintf("Your withdrawal of %s did not go through and the money (with the fee) is back in your wallet.\n\n%s", amount, reasonEn),
					fmt.Sprintf("您提现的 %s 未能完成，款项（含手续费）已退回您的钱包。\n\n%s", amount, reasonZh)})
		case rail.StatusProcessing, rail.StatusPending:
			return s.setRailOp(ctx, tx, o, opProcessing, StatusProcessing, "", "")
		}
		return nil
	})
}

// DepositAddress is where a user sends a crypto asset.
type DepositAddress struct {
	Address               string `json:"address"`
	Asset                 string `json:"asset"`
	Network               string `json:"network"`
	ConfirmationsRequired int    `json:"confirmations_required"`
}

// DepositAddressFor returns userID's deposit address for a crypto asset (the same one
// every time) and opens the wallet in that asset. Deposits show as "confirming n/N" and are
// credited once, at the last confirmation, by ProcessRailUpdates.
//
// Errors: unavailable, currency_not_supported, crypto_asset_required, not_found (user).
func (s *Service) DepositAddressFor(ctx context.Context, userID, asset string) (*DepositAddress, error) {
	if err := s.needRail(); err != nil {
		return nil, err
	}
	a, err := assetOf(asset)
	if err != nil {
		return nil, err
	}
	if a.Kind != money.Crypto {
		return nil, apperr.New(CodeCryptoOnly)
	}
	if _, err := s.OpenWallet(ctx, userID, asset); err != nil {
		return nil, err
	}
	da, err := s.rl.DepositAddress(ctx, userID, asset)
	if err != nil {
		return nil, err
	}
	return &DepositAddress{Address: da.Address, Asset: da.Asset, Network: da.Network, ConfirmationsRequired: da.ConfirmationsRequired}, nil
}

func (s *Service) applyDeposit(ctx context.Context, rop rail.Operation) error {
	if rop.Owner == "" || rop.Reference == "" {
		return nil
	}
	if _, err := assetOf(rop.Asset); err != nil {
		return nil // an asset the wallet does not hold: nothing to credit (operators see it on the rail)
	}
	ref := "dep:" + s.rl.Name() + ":" + rop.Reference
	if len(ref) > 200 {
		return fmt.Errorf("deposit reference too long")
	}
	var opened bool
	err := s.inTx(ctx, "apply deposit", func(tx *db.Tx) error {
		o, err := loadRailOp(ctx, tx, ref, true)
		if apperr.HasCode(err, apperr.CodeNotFound) {
			if err := userExists(ctx, tx, rop.Owner); err != nil {
				return nil // not one of ours
			}
			if err := s.insertRailOp(ctx, tx, ref, opDeposit, rop.Owner, "", rop.Asset, int64(rop.Amount), 0, TypeDeposit, 1, CatDeposits,
				shortAddr(rop.Address), rop.ConfirmationsRequired); err != nil {
				return err
			}
			o, err = loadRailOp(ctx, tx, ref, true)
		}
		if err != nil {
			return err
		}
		if o.Status == opCompleted || o.Status == opFailed {
			return nil
		}
		switch rop.Status {
		case rail.StatusConfirming:
			if rop.Confirmations > o.Confirmations {
				if _, err := tx.ExecContext(ctx, `UPDATE wallet_rail_ops SET confirmations = $1, updated_at = $2 WHERE ref = $3`,
					rop.Confirmations, tx.NowMicros(), ref); err != nil {
					return err
				}
				return updateActivity(ctx, tx, o.ActivityID, activityUpdate{confirmations: rop.Confirmations,
					note: NoteConfirmations(rop.Confirmations, rop.ConfirmationsRequired)})
			}
		case rail.StatusSucceeded:
			wallet := walletAcct(o.userID, o.Asset)
			if err := s.ensureWallets(ctx, tx, wallet); err != nil {
				return err
			}
			opened = true
			// The transfer id comes from the chain transaction: credited exactly once even
			// if this row were lost.
			if err := s.submit(ctx, tx, ledger.Transfer{ID: derive(ref, "credit"), DebitAccountID: SettlementAccount(s.rl.Name(), o.Asset),
				CreditAccountID: wallet.ID, Amount: o.AmountMinor, Asset: o.Asset, Code: TrDeposit, Ref: "deposit:" + rop.Reference}); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE wallet_rail_ops SET confirmations = $1 WHERE ref = $2`, rop.ConfirmationsRequired, ref); err != nil {
				return err
			}
			if err := updateActivity(ctx, tx, o.ActivityID, activityUpdate{confirmations: rop.ConfirmationsRequired}); err != nil {
				return err
			}
			return s.setRailOp(ctx, tx, o, opCompleted, StatusCompleted, "", "")
		case rail.StatusFailed:
			return s.setRailOp(ctx, tx, o, opFailed, StatusFailed, rop.FailureCode, "")
		}
		return nil
	})
	if err == nil && opened {
		s.markKnown(WalletAccount(rop.Owner, rop.Asset))
	}
	return err
}

func shortAddr(a string) string {
	if len(a) <= 14 {
		return a
	}
	return a[:8] + "…" + a[len(a)-6:]
}

// Job limits.
const (
	railUpdatesPage  = 200
	railUpdatesPages = 10
	railLeaseTTL     = 30 * time.Second
	stuckAfter       = time.Minute
	stuckBatch       = 50
)

// ProcessRailUpdates moves top-ups, withdrawals and deposits forward from the rail's
// update feed, and asks the rail again about operations whose first call never got an
// answer (a crash or a network error between booking and calling). Run it every few
// seconds on every node: a database lease makes one node do the work. Applying is
// idempotent (each op row is locked and its status checked with the money movement) and
// the feed cursor is saved after applying, so a crash replays updates and never skips
// one. It returns how many updates it applied.
//
// Errors: internal only (the next run retries).
func (s *Service) ProcessRailUpdates(ctx context.Context) (int, error) {
	if s.rl == nil {
		return 0, nil
	}
	ok, err := s.d.TryLease(ctx, "wallet.rail_updates", s.cfg.NodeID, railLeaseTTL)
	if err != nil || !ok {
		return 0, err
	}
	applied := 0
	for page := 0; page < railUpdatesPages; page++ {
		var after int64
		err := s.d.R.QueryRowContext(ctx, `SELECT seq FROM wallet_rail_cursor WHERE rail = $1`, s.rl.Name()).Scan(&after)
		if err != nil && !db.IsNoRows(err) {
			return applied, fmt.Errorf("wallet: read rail cursor: %w", err)
		}
		ups, err := s.rl.Updates(ctx, after, railUpdatesPage)
		if err != nil {
			return applied, fmt.Errorf("wallet: rail updates: %w", err)
		}
		for _, u := range ups {
			if err := s.applyUpdate(ctx, u.Operation); err != nil {
				return applied, fmt.Errorf("wallet: apply rail update %d: %w", u.Seq, err)
			}
			if err := s.d.InTx(ctx, func(tx *db.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO wallet_rail_cursor (rail, seq) VALUES ($1, $2)
					ON CONFLICT (rail) DO UPDATE SET seq = excluded.seq WHERE wallet_rail_cursor.seq < excluded.seq`, s.rl.Name(), u.Seq)
				return err
			}); err != nil {
				return applied, fmt.Errorf("wallet: save rail cursor: %w", err)
			}
			applied++
		}
		if len(ups) < railUpdatesPage {
			break
		}
	}
	return applied, s.redriveStuck(ctx)
}

func (s *Service) applyUpdate(ctx context.Context, op rail.Operation) error {
	switch op.Kind {
	case rail.KindCharge:
		if op.Status == rail.StatusAuthorized {
			return s.driveCharge(ctx, op.Reference, op)
		}
		return s.ignoreUnknown(s.applyCharge(ctx, op.Reference, op))
	case rail.KindPayout:
		return s.ignoreUnknown(s.applyPayout(ctx, op.Reference, op))
	case rail.KindDeposit:
		return s.applyDeposit(ctx, op)
	}
	return nil // verifications are read when the user enters the code
}

// ignoreUnknown drops not_found: an update for an operation this wallet did not book
// (another system on the same rail account) is not ours to apply.
func (s *Service) ignoreUnknown(err error) error {
	if apperr.HasCode(err, apperr.CodeNotFound) {
		return nil
	}
	return err
}

// redriveStuck asks the rail about ops still pending a minute after booking, repeating
// the original request by its reference (idempotent on the rail), and applies the answer.
func (s *Service) redriveStuck(ctx context.Context) error {
	rows, err := s.d.R.QueryContext(ctx, `SELECT ref, kind FROM wallet_rail_ops WHERE status = $1 AND updated_at < $2 ORDER BY updated_at LIMIT $3`,
		opPending, s.d.Clock.Now().Add(-stuckAfter).UnixMicro(), stuckBatch)
	if err != nil {
		return fmt.Errorf("wallet: find stuck rail ops: %w", err)
	}
	type stuck struct{ ref, kind string }
	var list []stuck
	for rows.Next() {
		var x stuck
		if err := rows.Scan(&x.ref, &x.kind); err != nil {
			rows.Close()
			return err
		}
		list = append(list, x)
	}
	rows.Close()
	for _, x := range list {
		rop, err := s.rl.Get(ctx, x.ref)
		if apperr.HasCode(err, rail.CodeOperationNotFound) {
			rop, err = s.resubmit(ctx, x.ref)
		}
		if err != nil {
			if _, ok := apperr.As(err); ok {
				rop = rail.Operation{Reference: x.ref, Status: rail.StatusFailed, FailureCode: codeOf(err)}
			} else {
				return fmt.Errorf("wallet: re-drive %s: %w", x.ref, err)
			}
		}
		switch x.kind {
		case opTopUp:
			err = s.driveCharge(ctx, x.ref, rop)
		case opWithdrawal:
			err = s.applyPayout(ctx, x.ref, rop)
		}
		if err != nil {
			return fmt.Errorf("wallet: re-drive %s: %w", x.ref, err)
		}
	}
	return nil
}

// resubmit repeats the booking's rail request from the op row.
func (s *Service) resubmit(ctx context.Context, ref string) (rail.Operation, error) {
	var o *RailOp
	var c *Card
	var realName string
	err := s.read(ctx, "resubmit", func(tx *db.Tx) error {
		var err error
		if o, err = loadRailOp(ctx, tx, ref, false); err != nil {
			return err
		}
		if c, err = scanCard(tx.QueryRowContext(ctx, `SELECT `+cardCols+` FROM wallet_cards WHERE id = $1`, o.CardID)); err != nil {
			return err
		}
		if o.Kind == opWithdrawal {
			_ = tx.QueryRowContext(ctx, `SELECT real_name FROM identity_profiles WHERE user_id = $1`, o.userID).Scan(&realName)
		}
		return nil
	})
	if err != nil {
		return rail.Operation{}, err
	}
	tok, err := s.unseal(c.tokenSealed, c.ID)
	if err != nil {
		return rail.Operation{}, err
	}
	if o.Kind == opTopUp {
		return s.rl.Authorize(ctx, rail.ChargeRequest{Reference: ref, Token: tok, Amount: money.Amount(o.AmountMinor), Asset: o.Asset})
	}
	return s.rl.Payout(ctx, rail.PayoutRequest{Reference: ref, Token: tok, Amount: money.Amount(o.AmountMinor), Asset: o.Asset, RecipientName: realName})
}

// codeOf is err's apperr code ("" when it has none).
func codeOf(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Code
	}
	return ""
}

var _ = errors.New
