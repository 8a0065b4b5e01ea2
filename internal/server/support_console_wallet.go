package server

import "okpay/internal/support/troubleshoot"

// consoleWalletHook gives the troubleshooter a wallet source of a test's own; the server
// then builds no wallet (see buildWallet). Tests may instead use the server's wallet
// (App.Wallet) with sandboxTuning for quick bank answers.
var consoleWalletHook func(a *App) troubleshoot.Wallet

// consoleWallet is the wallet source of the troubleshooter: walletsrc over the server's
// wallet, or nil without one (answers from the account status alone).
func consoleWallet(a *App) troubleshoot.Wallet {
	if consoleWalletHook != nil {
		return consoleWalletHook(a)
	}
	return a.walletConsoleSource()
}
