package server

import "okpay/internal/support/troubleshoot"

// consoleWallet is the wallet source of the troubleshooter. The wallet service is not
// wired into the server yet; until it is, money problems are answered from the account
// status alone and say honestly that the history could not be read.
func consoleWallet(a *App) troubleshoot.Wallet {
	_ = a
	return nil
}
