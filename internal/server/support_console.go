package server

import (
	"context"
	"fmt"

	"okpay/internal/api"
	"okpay/internal/identity"
	"okpay/internal/support/console"
	"okpay/internal/support/troubleshoot"
	"okpay/internal/wallet"
	"okpay/internal/web"
)

// supportConsole is the troubleshooter and the agent console as built for this node, in
// the shapes the API and the pages take.
type supportConsole struct {
	ts *troubleshoot.Service
	cs *console.Service
}

func (c *supportConsole) api() *api.Console {
	if c == nil {
		return nil
	}
	return &api.Console{Troubleshoot: c.ts, Console: c.cs}
}

func (c *supportConsole) web() *web.Console {
	if c == nil {
		return nil
	}
	return &web.Console{Troubleshoot: c.ts, Console: c.cs}
}

// buildConsole wires the troubleshooter over identity, the wallet (its history, balances
// and limits), maintenance windows and the ticket desk, and the agent console over those
// plus live chat. Call it after buildSupportDesk and buildSupportLive.
func (a *App) buildConsole() (*supportConsole, error) {
	cfg := troubleshoot.Config{Identity: a.Identity, Now: a.DB.Clock.Now}
	if a.Support != nil {
		cfg.Maintenance = troubleshoot.NoticeSource{N: a.Support.Notices}
	}
	if a.Tickets != nil {
		cfg.Tickets = a.Tickets
	}
	if w := consoleWallet(a); w != nil {
		cfg.Wallet = w
	}
	ts, err := troubleshoot.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("troubleshooter: %w", err)
	}
	ccfg := console.Config{DB: a.DB, SecretKey: a.SecretKey, Identity: a.Identity, Troubleshoot: ts, Tickets: a.Tickets}
	if a.Support != nil {
		ccfg.Chat = a.Support.Chat
	}
	cs, err := console.New(ccfg)
	if err != nil {
		return nil, fmt.Errorf("agent console: %w", err)
	}
	return &supportConsole{ts: ts, cs: cs}, nil
}

// demoTroubleshootEmail is the demo customer whose withdrawal the sandbox bank bounces,
// so /fix has something real to explain right after `serve --demo`.
const demoTroubleshootEmail = "dana@demo.okpay.test"

func init() {
	RegisterDemo(DemoSeeder{Name: "support-troubleshooter", Seed: seedTroubleshootDemo})
}

// seedTroubleshootDemo creates a customer with a verified card in her name and a
// withdrawal of 100.14 — the sandbox bank's "name does not match" amount — which fails
// about half a minute after start and comes back to her wallet. Everything goes through
// the services, as a person would do it.
func seedTroubleshootDemo(ctx context.Context, a *App) error {
	if a.Wallet == nil {
		return nil
	}
	u, err := a.Identity.CreateUser(ctx, identity.CreateUserInput{Email: demoTroubleshootEmail, Password: DemoPassword, Verified: true,
		Role: identity.RoleCustomer, Lang: identity.LangEn})
	if err != nil {
		return fmt.Errorf("demo troubleshooter user: %w", err)
	}
	// Its own loopback address: the demo sign-ins must not use up 127.0.0.1's sign-in
	// allowance that people and tests then meet.
	c := identity.Client{IP: "127.0.0.2", UserAgent: "okpay demo seeder"}
	si, err := a.Identity.SignIn(ctx, identity.SignInInput{Email: u.Email, Password: DemoPassword}, c)
	if err != nil || si.Session == nil {
		return fmt.Errorf("demo troubleshooter sign-in: %v", err)
	}
	defer a.Identity.SignOut(ctx, si.Token)
	if _, err := a.Identity.SubmitIdentity(ctx, u.ID, identity.IdentityInput{RealName: "Dana Demo", IDType: identity.IDTypePassport,
		IDNumber: "E12345670", BirthDate: "1990-05-01"}, c); err != nil {
		return fmt.Errorf("demo troubleshooter real name: %w", err)
	}
	card, err := a.Wallet.AddCard(ctx, wallet.AddCardInput{UserID: u.ID, SessionID: si.Session.ID, Number: "4242424242424242",
		ExpMonth: "12", ExpYear: "2030", Holder: "Dana Demo", CVV: "123"})
	if err != nil {
		return fmt.Errorf("demo troubleshooter card: %w", err)
	}
	if err := a.verifyCardFromStatement(ctx, u.ID, card); err != nil {
		return fmt.Errorf("demo troubleshooter card: %w", err)
	}
	if _, err := a.Wallet.TopUp(ctx, wallet.TopUpInput{UserID: u.ID, Key: "demo-fix-topup", CardID: card.ID, Amount: "600", Asset: "CNY"}); err != nil {
		return fmt.Errorf("demo troubleshooter top-up: %w", err)
	}
	if _, err := a.Wallet.Withdraw(ctx, wallet.WithdrawInput{UserID: u.ID, SessionID: si.Session.ID, Key: "demo-fix-withdraw", CardID: card.ID,
		Amount: "100.14", Asset: "CNY"}); err != nil {
		return fmt.Errorf("demo troubleshooter withdrawal: %w", err)
	}
	a.Log.Info("demo: a customer whose withdrawal the sandbox bank bounces (see /fix once it failed, about 30 s)", "email", u.Email, "password", DemoPassword)
	return nil
}
