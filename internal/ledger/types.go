package ledger

import (
	"time"

	"github.com/google/uuid"
)

// AccountFlags say what an account allows. They are set at creation.
type AccountFlags uint32

const (
	// NoOverdraft: debits (posted + pending) may not exceed posted credits, i.e. the
	// available balance of a credit-normal account never goes below zero.
	NoOverdraft AccountFlags = 1 << iota
	// DebitsBlocked refuses new transfers out of the account (a frozen wallet).
	DebitsBlocked
	// CreditsBlocked refuses new transfers into the account.
	CreditsBlocked
	// Closed refuses every new transfer and post; pending holds can still be voided or
	// expire, so a closed account's holds are always released.
	Closed

	accountFlagsAll = NoOverdraft | DebitsBlocked | CreditsBlocked | Closed
)

// TransferFlags say what kind of transfer it is.
type TransferFlags uint32

const (
	// Linked chains this transfer to the next one in the same Submit call: all of the
	// chain is applied or none of it. The chain ends at the first transfer without it.
	Linked TransferFlags = 1 << iota
	// Pending makes the transfer a hold: it counts against the debit account's available
	// balance until it is posted, voided or expires.
	Pending
	// PostPending posts the pending transfer PendingID, in full (Amount 0 or equal) or in
	// part (the rest is released).
	PostPending
	// VoidPending releases the pending transfer PendingID.
	VoidPending

	transferFlagsAll = Linked | Pending | PostPending | VoidPending
)

// Account holds one asset and four running sums. A customer's wallet is credit-normal:
// its available balance is CreditsPosted - DebitsPosted - DebitsPending.
type Account struct {
	ID    uuid.UUID
	Asset string // asset code, e.g. "CNY", "USDT"
	Code  int32  // kind of account, chosen by the caller (wallet, fees, system, …)
	// Owner is a reference to whoever owns the account (a user id, "system", …); the
	// ledger only indexes it.
	Owner string
	Flags AccountFlags

	DebitsPending, DebitsPosted, CreditsPending, CreditsPosted int64
	CreatedAt                                                  time.Time
}

// Balance is an account's balance as a credit-normal account sees it.
type Balance struct {
	Asset string
	// Posted is CreditsPosted - DebitsPosted.
	Posted int64
	// PendingDebits is the sum of holds against the account; PendingCredits of holds
	// that will credit it when posted.
	PendingDebits, PendingCredits int64
	// Available is Posted - PendingDebits: what may still be spent.
	Available int64
}

// Transfer moves Amount of Asset from DebitAccountID to CreditAccountID. Transfers are
// immutable once written; corrections are new transfers.
type Transfer struct {
	// ID is chosen by the caller (UUIDv7) and makes Submit idempotent.
	ID              uuid.UUID
	DebitAccountID  uuid.UUID
	CreditAccountID uuid.UUID
	// Amount in minor units, > 0. For PostPending, 0 means "the full pending amount";
	// for VoidPending it must be 0 or the pending amount. As stored, a post carries the
	// amount posted and a void the amount released.
	Amount int64
	Asset  string
	Code   int32  // kind of movement, chosen by the caller (top-up, payment, fee, …)
	Ref    string // reference to the business record that caused it (≤ 256 bytes)
	Flags  TransferFlags
	// PendingID names the pending transfer that a PostPending/VoidPending resolves. For
	// those, DebitAccountID, CreditAccountID and Asset may be left zero (taken from the
	// pending transfer); if given they must match it.
	PendingID uuid.UUID
	// Timeout, for a Pending transfer, is how long the hold may stay pending; 0 means it
	// never expires. Stored in whole microseconds.
	Timeout time.Duration
	// CreatedAt is set by the ledger: the time of the database transaction that wrote it.
	CreatedAt time.Time
}

// Code is the outcome of one transfer or account in a batch. The values are stable
// machine codes.
type Code string

const (
	OK                        Code = "ok"
	Exists                    Code = "exists"
	ExistsWithDifferentFields Code = "exists_with_different_fields"
	AmountInvalid             Code = "amount_invalid"
	SameAccount               Code = "same_account"
	AccountNotFound           Code = "account_not_found"
	AssetMismatch             Code = "asset_mismatch"
	InsufficientFunds         Code = "insufficient_funds"
	DebitsBlockedCode         Code = "debits_blocked"
	CreditsBlockedCode        Code = "credits_blocked"
	AccountClosed             Code = "account_closed"
	PendingNotFound           Code = "pending_not_found"
	PendingAlreadyPosted      Code = "pending_already_posted"
	PendingAlreadyVoided      Code = "pending_already_voided"
	PendingExpired            Code = "pending_expired"
	PostAmountExceedsPending  Code = "post_amount_exceeds_pending"
	LinkedChainFailed         Code = "linked_chain_failed"

	// Codes beyond the list, for input the list does not cover.

	// LinkedChainOpen: the last transfer of a Submit call has Linked set, so its chain
	// never ends; the whole open chain is refused.
	LinkedChainOpen Code = "linked_chain_open"
	// IDInvalid: the id is the zero UUID.
	IDInvalid Code = "id_invalid"
	// FlagsInvalid: a flag combination that means nothing (Pending with PostPending,
	// Timeout without Pending, unknown bits, …).
	FlagsInvalid Code = "flags_invalid"
	// AssetInvalid: the asset code is empty or not 1–16 of A–Z, 0–9.
	AssetInvalid Code = "asset_invalid"
	// RefTooLong: Ref or Owner is longer than 256 bytes.
	RefTooLong Code = "ref_too_long"
	// PendingMismatch: a post/void names accounts or an asset different from its pending.
	PendingMismatch Code = "pending_mismatch"
	// Overflow: applying the transfer would overflow an account's int64 sum.
	Overflow Code = "overflow"
	// BalancesInvalid: CreateAccounts was given non-zero running sums.
	BalancesInvalid Code = "balances_invalid"
)

// Result is the outcome of one transfer or account, in the order submitted.
type Result struct {
	Code Code
	// CreatedAt is when the transfer (or account) was written, for OK and Exists: for
	// Exists it is the first write's time, so every duplicate sees the same result.
	CreatedAt time.Time
}

// pending states as stored in ledger_pending.state.
const (
	statePending = 0
	statePosted  = 1
	stateVoided  = 2
	stateExpired = 3
)

const maxRefBytes = 256

func validAsset(s string) bool {
	if len(s) == 0 || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
