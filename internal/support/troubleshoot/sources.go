package troubleshoot

import (
	"context"
	"fmt"
	"time"

	"okpay/internal/support/notice"
	"okpay/internal/wallet"
)

// WalletSource reads the wallet part of a snapshot from the wallet service.
type WalletSource struct {
	W *wallet.Service
}

// Fill implements Wallet: the recent history (newest first), balances and limits.
func (ws WalletSource) Fill(ctx context.Context, s *Snapshot) error {
	if ws.W == nil {
		return nil
	}
	page, err := ws.W.ListActivity(ctx, s.UserID, wallet.Filter{From: s.Now.Add(-activityWindow)}, "", maxActivity)
	if err != nil {
		return fmt.Errorf("recent activity: %w", err)
	}
	for _, a := range page.Items {
		s.Activity = append(s.Activity, fromWallet(a))
	}
	s.Known.Activity = true
	bs, err := ws.W.Balances(ctx, s.UserID)
	if err != nil {
		return fmt.Errorf("balances: %w", err)
	}
	for _, b := range bs {
		s.Balances = append(s.Balances, Balance{Asset: b.Asset, AvailableMinor: b.AvailableMinor, Available: b.Available, OnHoldMinor: b.OnHoldMinor})
	}
	s.Known.Balances = true
	ls, err := ws.W.Limits(ctx, s.UserID)
	if err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	for _, l := range ls {
		s.Limits = append(s.Limits, Limit{Flow: string(l.Flow), Asset: l.Asset, DailyLimit: l.DailyLimit, DailyUsed: l.DailyUsed,
			MonthlyLimit: l.MonthlyLimit, MonthlyUsed: l.MonthlyUsed})
	}
	s.Known.Limits = true
	return fillCards(ctx, ws.W, s)
}

func fromWallet(a wallet.Activity) Activity {
	return Activity{Ref: a.RefNo, Type: a.Type, Status: a.Status, FailureCode: a.FailureCode, Direction: a.Direction,
		Asset: a.Asset, AmountMinor: a.AmountMinor, Amount: a.Amount, Counterparty: a.Counterparty,
		Confirmations: a.Confirmations, ConfirmationsRequired: a.ConfirmationsNeeded, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// NoticeSource reads maintenance windows from the notice service.
type NoticeSource struct {
	N *notice.Service
}

// MaintenanceUntil implements Maintenance.
func (ns NoticeSource) MaintenanceUntil(ctx context.Context) (time.Time, error) {
	if ns.N == nil {
		return time.Time{}, nil
	}
	w, err := ns.N.MaintenanceNow(ctx)
	if err != nil || w == nil {
		return time.Time{}, err
	}
	return w.EndsAt, nil
}
