package web

import (
	"context"
	"net/http"

	"okpay/internal/identity"
	"okpay/internal/wallet"
)

// Wallet is what the wallet pages need from the server.
type Wallet struct {
	Service  *wallet.Service
	Identity *identity.Service
	// Sandbox is set in dev/demo mode only: the card's sandbox statement is shown next to
	// the verification form, and the deposit page can simulate a deposit.
	Sandbox *WalletSandbox
}

// WalletSandbox are the dev/demo helpers of the sandbox rail.
type WalletSandbox struct {
	Statement func(ctx context.Context, userID, cardID string) ([]string, error)
	Deposit   func(ctx context.Context, userID, asset, amount string) error
}

func init() {
	addFeature(func(u *UI, mux *http.ServeMux) {
		if u.cfg.Wallet == nil || u.cfg.Accounts == nil {
			return
		}
		u.walletRoutes(mux)
	})
}

func (u *UI) wsvc() *wallet.Service { return u.cfg.Wallet.Service }

func (u *UI) walletRoutes(mux *http.ServeMux) {}
