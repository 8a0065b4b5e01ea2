package server

import "okpay/internal/support/troubleshoot"

// consoleWalletHook gives the troubleshooter a wallet source while the server builds no
// wallet of its own yet; tests set it. Once the server wires the wallet, consoleWallet
// returns walletsrc.WalletSource over it and the hook goes.
var consoleWalletHook func(a *App) troubleshoot.Wallet

// consoleWallet is the wallet source of the troubleshooter: nil (answers from the account
// status alone, saying honestly that the history could not be read) until the server
// wires the wallet.
func consoleWallet(a *App) troubleshoot.Wallet {
	if consoleWalletHook != nil {
		return consoleWalletHook(a)
	}
	return nil
}
