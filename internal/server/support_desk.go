package server

import (
	"context"
	"fmt"
	"net"
	"net/mail"
	"path/filepath"
	"time"

	"okpay/internal/db"
	"okpay/internal/identity"
	"okpay/internal/support/hours"
	"okpay/internal/support/tickets"
)

// Ticket desk jobs run on one node at a time, under a lease renewed each round.
const (
	deskJobLease    = "support.tickets"
	deskJobInterval = time.Minute
	deskJobTTL      = 3 * time.Minute
	// deskJobRounds bounds one round's work: at most this many batches of auto-closes.
	deskJobRounds = 10
	deskJobBatch  = 100
)

// buildSupportDesk builds the service hours and the ticket desk from the configuration,
// starts the auto-close and breach jobs, and the inbound SMTP listener when
// --smtp-inbound is set (binding fails start-up, so a wrong address is seen at once).
func (a *App) buildSupportDesk() (*tickets.Service, error) {
	hcfg := hours.DefaultConfig()
	if a.Cfg.SupportHours != "" {
		var err error
		if hcfg, err = hours.LoadConfig(a.Cfg.SupportHours); err != nil {
			return nil, fmt.Errorf("--support-hours: %w", err)
		}
	}
	// The email channel's address is the support mailbox, wherever it is configured.
	for i := range hcfg.Channels {
		if hcfg.Channels[i].ID == hours.ChannelEmail {
			hcfg.Channels[i].Address = a.Cfg.SupportEmail
		}
	}
	desk, err := hours.New(hcfg)
	if err != nil {
		return nil, fmt.Errorf("service hours: %w", err)
	}
	svc, err := tickets.New(a.DB, desk, identityDirectory{svc: a.Identity, d: a.DB}, tickets.Config{
		SupportAddress: a.Cfg.SupportEmail,
		BaseURL:        publicURL(a.Cfg),
		// In the data folder, never under a served path. Several nodes on one PostgreSQL
		// must share this folder (a network mount) to serve each other's attachments.
		FilesDir: filepath.Join(a.Cfg.DataDir, "ticket-files"),
		Logger:   a.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("tickets: %w", err)
	}
	a.Go("ticket-jobs", func(ctx context.Context) { a.runDeskJobs(ctx, svc) })
	if a.Cfg.SMTPInbound != "" {
		in := tickets.NewInbound(svc, tickets.InboundConfig{Addr: a.Cfg.SMTPInbound, Logger: a.Log})
		if err := in.Listen(); err != nil {
			return nil, fmt.Errorf("--smtp-inbound: %w", err)
		}
		a.Log.Info("inbound mail listening", "addr", in.Addr(), "mailbox", svc.SupportAddress())
		a.Go("smtp-inbound", func(ctx context.Context) {
			if err := in.Serve(ctx); err != nil && ctx.Err() == nil {
				a.Log.Error("inbound mail listener stopped", "err", err)
			}
		})
	}
	return svc, nil
}

// runDeskJobs closes tickets resolved a week ago and flags missed response deadlines,
// every minute, on the node holding the lease.
func (a *App) runDeskJobs(ctx context.Context, svc *tickets.Service) {
	t := time.NewTicker(deskJobInterval)
	defer t.Stop()
	for {
		if ok, err := a.DB.TryLease(ctx, deskJobLease, a.NodeID, deskJobTTL); err != nil {
			if ctx.Err() == nil {
				a.Log.Warn("ticket jobs: lease", "err", err)
			}
		} else if ok {
			for i := 0; i < deskJobRounds; i++ {
				n, err := svc.AutoClose(ctx, deskJobBatch)
				if err != nil {
					a.Log.Error("ticket auto-close", "err", err)
					break
				}
				if n > 0 {
					a.Log.Info("tickets closed automatically", "count", n)
				}
				if n < deskJobBatch {
					break
				}
			}
			if n, err := svc.MarkBreaches(ctx, 200); err != nil {
				a.Log.Error("ticket breach flags", "err", err)
			} else if n > 0 {
				a.Log.Warn("ticket response deadlines missed", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// identityDirectory lets the desk read users through identity. identity has no lookup by
// verified address for the system (its own lookup is for staff), so that one query is here,
// in the wiring, rather than in the tickets package, which must not know identity's tables.
type identityDirectory struct {
	svc *identity.Service
	d   *db.DB
}

func (i identityDirectory) GetUser(ctx context.Context, id string) (*identity.User, error) {
	return i.svc.GetUser(ctx, id)
}

func (i identityDirectory) UserByVerifiedEmail(ctx context.Context, email string) (*identity.User, error) {
	var id string
	err := i.d.R.QueryRowContext(ctx, `SELECT id FROM users WHERE email = $1 AND email_verified_at <> 0`,
		identity.NormalizeEmail(email)).Scan(&id)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("user by verified email: %w", err)
	}
	return i.svc.GetUser(ctx, id)
}

// validSupportConfig checks the support desk options.
func validSupportConfig(c *Config) []string {
	var errs []string
	if c.SupportEmail == "" {
		return errs // the desk's default mailbox
	}
	if a, err := mail.ParseAddress(c.SupportEmail); err != nil || a.Name != "" || a.Address != c.SupportEmail {
		errs = append(errs, "--support-email must be a bare address like support@example.com")
	}
	if c.SMTPInbound != "" {
		if _, _, err := net.SplitHostPort(c.SMTPInbound); err != nil {
			errs = append(errs, "--smtp-inbound must be host:port, e.g. 127.0.0.1:2525")
		}
	}
	return errs
}

// Demo: one answered ticket for the first demo customer, so a newcomer sees a thread, the
// agent queue and the inbox notification without writing one first.
func init() {
	RegisterDemo(DemoSeeder{Name: "support-tickets", Seed: func(ctx context.Context, a *App) error {
		dir := identityDirectory{svc: a.Identity, d: a.DB}
		customer, err := dir.UserByVerifiedEmail(ctx, DemoAccounts[0].Email)
		if err != nil || customer == nil {
			return fmt.Errorf("demo customer: %v", err)
		}
		agent, err := dir.UserByVerifiedEmail(ctx, "agent@demo.okpay.test")
		if err != nil || agent == nil {
			return fmt.Errorf("demo agent: %v", err)
		}
		t, err := a.Tickets.Open(ctx, tickets.OpenInput{CustomerID: customer.ID, Category: "withdrawal",
			Subject: "提现一直在处理中", Description: "我昨天提现到银行卡，到现在还显示处理中，请帮忙查一下。"})
		if err != nil {
			return err
		}
		_, err = a.Tickets.Reply(ctx, tickets.Actor{UserID: agent.ID, Role: agent.Role}, t.Number, tickets.ReplyInput{
			Body: "您好，这笔提现银行正在处理，预计今天 18:00 前到账。如未到账，请直接回复此工单。", Status: tickets.StatusWaiting})
		return err
	}})
}
