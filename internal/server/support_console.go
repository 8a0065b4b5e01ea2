package server

import (
	"fmt"

	"okpay/internal/api"
	"okpay/internal/support/console"
	"okpay/internal/support/troubleshoot"
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
