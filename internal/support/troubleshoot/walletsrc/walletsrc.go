// Package walletsrc fills the wallet part of a troubleshooter snapshot from the wallet
// service: recent activity (with the rail status of withdrawals in flight), balances,
// limits and bound cards. It is a package of its own so the troubleshooter's rules and
// the console do not link the wallet; the server wires it in.
package walletsrc

import (
	"context"
	"fmt"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/support/troubleshoot"
	"okpay/internal/wallet"
)

// Limits on one snapshot.
const (
	maxActivity    = 50
	activityWindow = 90 * 24 * time.Hour
)

// WalletSource reads the wallet part of a snapshot from the wallet service.
type WalletSource struct {
	W *wallet.Service
	// PayoutETA is how long a withdrawal normally takes from request to completion, for
	// "it should complete by HH:MM"; 30 minutes when zero (the sandbox takes one).
	PayoutETA time.Duration
}

// maxRailLookups bounds the rail operations read per snapshot (withdrawals in flight).
const maxRailLookups = 5

// Fill implements troubleshoot.Wallet: the recent history (newest first) with the rail
// status of withdrawals in flight, balances, limits and bound cards.
//
// Errors: internal ones from the wallet.
func (ws WalletSource) Fill(ctx context.Context, s *troubleshoot.Snapshot) error {
	if ws.W == nil {
		return nil
	}
	page, err := ws.W.ListActivity(ctx, s.UserID, wallet.Filter{From: s.Now.Add(-activityWindow)}, "", maxActivity)
	if err != nil {
		return fmt.Errorf("recent activity: %w", err)
	}
	eta := ws.PayoutETA
	if eta <= 0 {
		eta = 30 * time.Minute
	}
	lookups := 0
	for _, a := range page.Items {
		x := fromWallet(a)
		if a.Type == wallet.TypeWithdrawal && (a.Status == wallet.StatusPending || a.Status == wallet.StatusProcessing) {
			x.ExpectedBy = a.CreatedAt.Add(eta)
			if lookups < maxRailLookups && a.SourceID != "" {
				lookups++
				// The rail operation's own status is what the bank last reported.
				if op, err := ws.W.GetRailOp(ctx, s.UserID, a.SourceID); err == nil {
					x.RailStatus = op.Status
				} else if !apperr.HasCode(err, apperr.CodeNotFound) {
					return fmt.Errorf("withdrawal %s: %w", a.RefNo, err)
				}
			}
		}
		s.Activity = append(s.Activity, x)
	}
	s.Known.Activity = true
	bs, err := ws.W.Balances(ctx, s.UserID)
	if err != nil {
		return fmt.Errorf("balances: %w", err)
	}
	for _, b := range bs {
		s.Balances = append(s.Balances, troubleshoot.Balance{Asset: b.Asset, AvailableMinor: b.AvailableMinor, Available: b.Available, OnHoldMinor: b.OnHoldMinor})
	}
	s.Known.Balances = true
	ls, err := ws.W.Limits(ctx, s.UserID)
	if err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	for _, l := range ls {
		s.Limits = append(s.Limits, troubleshoot.Limit{Flow: string(l.Flow), Asset: l.Asset, DailyLimit: l.DailyLimit, DailyUsed: l.DailyUsed,
			MonthlyLimit: l.MonthlyLimit, MonthlyUsed: l.MonthlyUsed})
	}
	s.Known.Limits = true
	cards, err := ws.W.ListCards(ctx, s.UserID)
	if err != nil {
		return fmt.Errorf("cards: %w", err)
	}
	for _, c := range cards {
		tc := troubleshoot.Card{ID: c.ID, Brand: c.Brand, Last4: c.Last4, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear,
			Verified: c.Status == wallet.CardVerified}
		if c.Status == wallet.CardFailed {
			tc.FailureCode = c.FailureCode
			if tc.FailureCode == "" {
				tc.FailureCode = "card_declined"
			}
		}
		s.Cards = append(s.Cards, tc)
	}
	s.Known.Cards = true
	return nil
}

func fromWallet(a wallet.Activity) troubleshoot.Activity {
	return troubleshoot.Activity{Ref: a.RefNo, Type: a.Type, Status: a.Status, FailureCode: a.FailureCode, Direction: a.Direction,
		Asset: a.Asset, AmountMinor: a.AmountMinor, Amount: a.Amount, Counterparty: a.Counterparty,
		Confirmations: a.Confirmations, ConfirmationsRequired: a.ConfirmationsNeeded, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}
