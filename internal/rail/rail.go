// Package rail owns the edge between OKPay and the money networks outside it: card input
// validation (ParseCard), the Rail interface a bank, card or crypto provider implements
// (tokenise a card, verify it with a small charge, charge it for a top-up, pay out to it,
// hand out crypto deposit addresses and report deposits), and Sandbox, the built-in rail
// that behaves like those networks, chosen by documented test cards and amounts.
//
// It must not know about wallets, balances, the ledger, users beyond an opaque owner
// string, or HTTP. The wallet calls a Rail and books what the rail reports; the rail never
// moves platform money itself. A full card number and CVV enter through Card, go to the
// network in TokenizeCard, and are never stored or logged by this package.
package rail

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/money"
)

// Rail is a provider of card and crypto money movement. Every method that starts money
// movement takes the wallet's Reference and is idempotent by it: sending the same request
// again returns the same Operation (never a second charge or payout), and the same
// reference with different fields fails with CodeReferenceConflict.
//
// Outcomes are asynchronous, as with a real network. A method returns the Operation as
// the network knows it at that moment; later changes (a settlement, a payout completing
// or bouncing, a deposit gaining confirmations) arrive through Updates. The intended use
// by the wallet's background job, which is crash-safe without any extra bookkeeping:
//
//	cursor := load()                               // 0 the first time
//	for {
//		ups, err := r.Updates(ctx, cursor, 100)
//		for _, u := range ups {
//			apply(u.Operation)                     // idempotent: keyed by Reference + Status
//			cursor = u.Seq; save(cursor)           // after apply; a crash replays, never skips
//		}
//	}
//
// Get gives the current state of one operation (for a page the user is looking at).
type Rail interface {
	// Name identifies the rail in ledger account names and logs, e.g. "sandbox".
	Name() string

	// TokenizeCard sends the full card (number and CVV) to the network and returns the
	// token the platform keeps instead. Each call returns a new token.
	// Errors: CodeCardExpired (the bank's records say so), CodeCardBrandUnsupported.
	TokenizeCard(ctx context.Context, c Card) (CardToken, error)

	// DeleteCard forgets a token (the user removed the card). Deleting twice is fine.
	// Later calls with the token fail with CodeCardNotFound.
	DeleteCard(ctx context.Context, token string) error

	// StartCardVerification places a small authorisation on the card whose statement
	// descriptor carries a 4-digit code; the holder reads it back with
	// ConfirmCardVerification. The authorisation is never captured. The Operation is
	// StatusRequiresCode, or StatusFailed with the bank's code (CodeCardDeclined,
	// CodeCardExpired, CodeCardReportedStolen).
	// Errors: CodeCardNotFound, CodeReferenceConflict, amount_invalid /
	// currency_not_supported for Asset.
	StartCardVerification(ctx context.Context, req VerifyRequest) (Operation, error)

	// ConfirmCardVerification checks the code read from the statement. Right: the
	// Operation succeeds. Wrong: CodeCardVerifyCodeInvalid with a "remaining" param; the
	// last wrong try fails the Operation with CodeCardVerifyAttempts and returns that
	// error. A right code after success returns the Operation again; any code after it
	// failed returns its failure (CodeCardVerifyAttempts, CodeCardVerifyExpired, …).
	// A code that is not 4 digits (spaces and dashes aside) cannot be right: it fails
	// with CodeCardVerifyCodeMalformed (field "code") and uses up no try.
	// Errors: CodeCardVerifyCodeMalformed, CodeCardVerifyCodeInvalid,
	// CodeCardVerifyAttempts, CodeCardVerifyExpired, CodeOperationNotFound,
	// CodeOperationState (canceled: start again).
	ConfirmCardVerification(ctx context.Context, reference, code string) (Operation, error)

	// Authorize reserves Amount on the card for a top-up. The Operation is
	// StatusAuthorized, StatusRequiresOTP (call SubmitOTP), or StatusFailed with
	// CodeCardDeclined, CodeCardExpired, CodeCardReportedStolen or CodeCardInsufficientFunds.
	// An authorisation not captured in time fails with CodeCardAuthorizationExpired.
	// Errors: CodeCardNotFound, CodeReferenceConflict, amount_invalid,
	// currency_not_supported.
	Authorize(ctx context.Context, req ChargeRequest) (Operation, error)

	// SubmitOTP passes the one-time code the bank sent the holder. Right: StatusAuthorized.
	// Wrong: CodeCardOTPInvalid with "remaining"; the last wrong try fails the Operation
	// with CodeCardOTPAttempts and returns that error. Not entered in time: the Operation
	// fails with CodeCardOTPExpired. Any code after the Operation failed returns its
	// failure. A code that is not 6 digits (spaces and dashes aside) fails with
	// CodeCardOTPMalformed (field "code") and uses up no try.
	// Errors: CodeCardOTPMalformed, CodeCardOTPInvalid, CodeCardOTPAttempts,
	// CodeCardOTPExpired and the other failures, CodeOperationNotFound,
	// CodeOperationState (canceled).
	SubmitOTP(ctx context.Context, reference, code string) (Operation, error)

	// Capture asks the bank to settle an authorised charge. The Operation becomes
	// StatusSucceeded, or StatusCapturing when the bank settles later (then Updates
	// reports StatusSucceeded). Capturing again returns the Operation unchanged.
	// Errors: CodeCardOTPRequired (SubmitOTP first), CodeOperationNotFound,
	// CodeOperationState (failed or canceled).
	Capture(ctx context.Context, reference string) (Operation, error)

	// Cancel releases an authorisation (or a verification or OTP wait) that will not be
	// captured; the Operation becomes StatusCanceled. Canceling twice is fine.
	// Errors: CodeOperationNotFound, CodeOperationState (already capturing or settled).
	Cancel(ctx context.Context, reference string) (Operation, error)

	// Payout sends Amount to the card. The Operation goes StatusPending → StatusProcessing
	// → StatusSucceeded, or StatusFailed with CodePayoutNameMismatch (the card's holder is
	// not RecipientName) or CodePayoutRejected.
	// Errors: CodeCardNotFound, CodeReferenceConflict, amount_invalid,
	// currency_not_supported.
	Payout(ctx context.Context, req PayoutRequest) (Operation, error)

	// DepositAddress returns owner's deposit address for a crypto asset, the same one on
	// every call. Deposits to it appear in Updates as KindDeposit Operations with Owner
	// set: StatusConfirming with Confirmations counting up to ConfirmationsRequired,
	// then StatusSucceeded, when the wallet credits it.
	// Errors: currency_not_supported.
	DepositAddress(ctx context.Context, owner, asset string) (DepositAddress, error)

	// Get returns the current state of the operation with this reference (for deposits,
	// the chain transaction id).
	// Errors: CodeOperationNotFound.
	Get(ctx context.Context, reference string) (Operation, error)

	// Updates returns, in order, the status changes with Seq > after, at most limit
	// (1..MaxUpdates). Each carries the Operation as it was at that change. The feed is
	// gapless and never reorders, so storing the last Seq applied is a complete cursor.
	Updates(ctx context.Context, after int64, limit int) ([]Update, error)
}

// MaxUpdates caps one Updates page.
const MaxUpdates = 500

// CardToken is everything the platform learns from tokenising a card.
type CardToken struct {
	// Token stands for the card in later calls. It is a secret: whoever has it can charge
	// the card through this rail, so store it encrypted.
	Token    string `json:"-"`
	Brand    Brand  `json:"brand"`
	Last4    string `json:"last4"`
	ExpMonth int    `json:"exp_month"`
	ExpYear  int    `json:"exp_year"`
}

// VerifyRequest starts a card verification.
type VerifyRequest struct {
	Reference string
	Token     string
	// Asset is the card's currency, in which the small charge is made.
	Asset string
}

// ChargeRequest authorises a top-up.
type ChargeRequest struct {
	Reference string
	Token     string
	Amount    money.Amount
	Asset     string
}

// PayoutRequest sends money to a card.
type PayoutRequest struct {
	Reference string
	Token     string
	Amount    money.Amount
	Asset     string
	// RecipientName is the verified real name of the wallet's owner; the receiving bank
	// compares it with the name on the card.
	RecipientName string
}

// Kind says what an Operation is.
type Kind string

const (
	KindVerification Kind = "verification"
	KindCharge       Kind = "charge"
	KindPayout       Kind = "payout"
	KindDeposit      Kind = "deposit"
)

// Status is where an Operation stands. StatusSucceeded, StatusFailed and StatusCanceled
// are final: a final Operation never changes again.
type Status string

const (
	StatusRequiresCode Status = "requires_code" // verification: waiting for the statement code
	StatusRequiresOTP  Status = "requires_otp"  // charge: waiting for the bank's one-time code
	StatusAuthorized   Status = "authorized"    // charge: amount reserved, waiting for Capture
	StatusCapturing    Status = "capturing"     // charge: captured, the bank settles later
	StatusPending      Status = "pending"       // payout: submitted to the bank
	StatusProcessing   Status = "processing"    // payout: the bank is processing it
	StatusConfirming   Status = "confirming"    // deposit: seen on chain, not enough confirmations
	StatusSucceeded    Status = "succeeded"
	StatusFailed       Status = "failed"
	StatusCanceled     Status = "canceled"
)

// Final reports whether s never changes again.
func (s Status) Final() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCanceled
}

// Operation is one movement on the rail as the network reports it.
type Operation struct {
	// ID is the rail's own id; Reference is the wallet's (for deposits, which the wallet
	// does not start, the chain transaction id).
	ID        string `json:"id"`
	Reference string `json:"reference"`
	Kind      Kind   `json:"kind"`
	Status    Status `json:"status"`
	// FailureCode is the apperr code of a failed Operation (see Err), "" otherwise.
	FailureCode string       `json:"failure_code,omitempty"`
	Amount      money.Amount `json:"amount_minor"`
	Asset       string       `json:"asset"`
	// Descriptor is what the holder's bank statement shows for a card operation.
	Descriptor string `json:"descriptor,omitempty"`
	// Deposits: who the address belongs to, the address, and progress.
	Owner                 string    `json:"owner,omitempty"`
	Address               string    `json:"address,omitempty"`
	Confirmations         int       `json:"confirmations,omitempty"`
	ConfirmationsRequired int       `json:"confirmations_required,omitempty"`
	CreatedAt             time.Time `json:"created_at"`
	// UpdatedAt is when the network made the change reported, which after a pause in
	// polling can be earlier than when it was seen.
	UpdatedAt time.Time `json:"updated_at"`
}

// NextStep is the coded error for what the user must do before the operation can go on
// (CodeCardOTPRequired while it waits for the bank's one-time code), or nil.
func (o Operation) NextStep() error {
	if o.Status == StatusRequiresOTP {
		return apperr.New(CodeCardOTPRequired)
	}
	return nil
}

// DepositAddress is where an owner sends a crypto asset, with what a deposit page must
// say: the network to use and how many confirmations crediting waits for.
type DepositAddress struct {
	Address               string `json:"address"`
	Asset                 string `json:"asset"`
	Network               string `json:"network"`
	ConfirmationsRequired int    `json:"confirmations_required"`
}

// Err is the user-facing error of a failed Operation (with its message and fix), or nil.
func (o Operation) Err() error {
	if o.FailureCode == "" {
		return nil
	}
	if _, ok := apperr.Lookup(o.FailureCode); !ok {
		// A provider's code this package does not know: keep it visible to operators.
		return fmt.Errorf("rail operation %s failed: %s", o.ID, o.FailureCode)
	}
	return failureError(o.FailureCode)
}

// FailureError is the user-facing error for a FailureCode the platform stored from an
// Operation (a card's failed verification, a failed top-up), as Err gives it: nil for "",
// an uncoded error (shown as internal, logged in full) for a code no package registered.
func FailureError(code string) error {
	return Operation{FailureCode: code}.Err()
}

// Update is one change in the Updates feed.
type Update struct {
	Seq       int64
	Operation Operation
}

// Reference and owner shapes. The wallet passes UUIDs; the cap keeps index entries small
// and the charset keeps references safe to show and put in URLs.
const (
	MaxReferenceLen = 64
	MaxOwnerLen     = 64
)

var refPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`)

func checkReference(ref string) error {
	if !refPattern.MatchString(ref) {
		return fmt.Errorf("%w: reference must be 1–%d of A-Z a-z 0-9 _ . : - (got %d bytes)", ErrInvalidRequest, MaxReferenceLen, len(ref))
	}
	return nil
}

func checkOwner(owner string) error {
	if !refPattern.MatchString(owner) {
		return fmt.Errorf("%w: owner must be 1–%d of A-Z a-z 0-9 _ . : -", ErrInvalidRequest, MaxOwnerLen)
	}
	return nil
}
