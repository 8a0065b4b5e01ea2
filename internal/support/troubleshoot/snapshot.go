package troubleshoot

import (
	"context"
	"time"

	"okpay/internal/identity"
)

// Snapshot is the account state the rules read, taken once per answer. Rules are pure
// functions of it, so each can be tested with a hand-built snapshot and the table test
// builds real ones through the services.
type Snapshot struct {
	Now time.Time
	// Loc is the zone "HH:MM" is shown in.
	Loc *time.Location

	UserID        string
	Email         string
	EmailVerified bool
	TwoStep       bool
	Level         int
	// Items are identity's status items: lockout, freezes, risk restrictions, unverified
	// email — with reason, since, until and the actions that lift them.
	Items       []identity.StatusItem
	LevelStatus identity.LevelStatus

	// MaintenanceUntil is the end of the maintenance window in force (zero: none).
	MaintenanceUntil time.Time

	// Known says which wallet facts were read; a rule must not conclude "nothing is wrong"
	// from a source it could not read.
	Known Known
	// Activity is the recent history, newest first (at most maxActivity, last 90 days).
	Activity []Activity
	Balances []Balance
	Limits   []Limit
	Cards    []Card
}

// Known marks the wallet sources that were read.
type Known struct {
	Activity bool `json:"activity"`
	Balances bool `json:"balances"`
	Limits   bool `json:"limits"`
	Cards    bool `json:"cards"`
}

// Activity is one movement as the wallet recorded it.
type Activity struct {
	Ref         string // the receipt's reference number
	Type        string // top_up, transfer_out, payment, withdrawal, deposit, …
	Status      string // pending, processing, confirming, completed, failed, on_hold, …
	FailureCode string
	Direction   int // +1 in, -1 out
	Asset       string
	AmountMinor int64
	Amount      string // formatted in the asset
	// Counterparty is shown masked (a merchant name, "a***e@example.com", "card ****1234").
	Counterparty string
	// RailStatus is the bank's status of a withdrawal or top-up in flight, when known.
	RailStatus string
	// HoldUntil is when an on-hold movement is released (zero: unknown or none).
	HoldUntil time.Time
	// ExpectedBy is when a movement in flight is expected to complete (zero: unknown).
	ExpectedBy            time.Time
	Confirmations         int
	ConfirmationsRequired int
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// Out reports whether money left the account.
func (a Activity) Out() bool { return a.Direction < 0 }

// Balance is one wallet's balance.
type Balance struct {
	Asset          string
	AvailableMinor int64
	Available      string
	OnHoldMinor    int64
}

// Limit is one flow's limit and usage ("send", "withdraw", "top_up"), in Asset.
type Limit struct {
	Flow         string
	Asset        string
	DailyLimit   int64
	DailyUsed    int64
	MonthlyLimit int64
	MonthlyUsed  int64
}

// Card is a bound bank card.
type Card struct {
	ID       string
	Brand    string
	Last4    string
	ExpMonth int
	ExpYear  int
	Verified bool
	// FailureCode is why the bank refused to verify the card ("" unless it did).
	FailureCode string
}

// ExpiresAt is the first instant the card no longer works: the start of the month after
// its expiry month, in loc.
func (c Card) ExpiresAt(loc *time.Location) time.Time {
	return time.Date(c.ExpYear, time.Month(c.ExpMonth)+1, 1, 0, 0, 0, 0, loc)
}

// Wallet fills the wallet part of a snapshot. Implementations set Known for each source
// they could read and leave the others unknown (a source not built yet is not an error).
type Wallet interface {
	Fill(ctx context.Context, s *Snapshot) error
}

// Limits on what a snapshot holds.
const (
	maxActivity    = 50
	activityWindow = 90 * 24 * time.Hour
	maxSuggestions = 3
)

// item returns the first status item of kind.
func (s *Snapshot) item(kinds ...string) *identity.StatusItem {
	for i := range s.Items {
		for _, k := range kinds {
			if s.Items[i].Kind == k {
				return &s.Items[i]
			}
		}
	}
	return nil
}

// blocking returns the first restriction (freeze or risk restriction) covering scope.
func (s *Snapshot) blocking(scope identity.Scope) *identity.StatusItem {
	for i := range s.Items {
		it := &s.Items[i]
		if it.Kind != identity.StatusFrozen && it.Kind != identity.StatusFrozenByOwner && it.Kind != identity.StatusRestricted {
			continue
		}
		for _, sc := range it.Scopes {
			if sc == scope {
				return it
			}
		}
	}
	return nil
}

// latest returns the newest activity matching f within the last window.
func (s *Snapshot) latest(window time.Duration, f func(Activity) bool) *Activity {
	for i := range s.Activity {
		a := &s.Activity[i]
		if s.Now.Sub(a.CreatedAt) > window {
			break
		}
		if f(*a) {
			return a
		}
	}
	return nil
}
