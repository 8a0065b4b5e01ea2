package server

import (
	"context"
	"fmt"
	"time"

	"okpay/internal/api"
	"okpay/internal/db"
	"okpay/internal/notify"
	"okpay/internal/support/chat"
	"okpay/internal/support/hours"
	"okpay/internal/support/notice"
	"okpay/internal/support/tickets"
	"okpay/internal/web"
)

// SupportLive is live chat, announcements and the inbox, as built for this node.
type SupportLive struct {
	Notices *notice.Service
	Inbox   *notify.Inbox
	Chat    *chat.Service
}

// chatOpenNowOverride lets tests open (or close) live chat regardless of the clock; nil in
// production.
var chatOpenNowOverride func(time.Time) bool

// buildSupportLive builds announcements, the inbox and live chat, and starts the chat
// listener (LISTEN/NOTIFY on PostgreSQL) as a background job. tk may be nil: messages left
// outside hours are then kept as chats for agents.
func (a *App) buildSupportLive(tk *tickets.Service) (*SupportLive, error) {
	notices := notice.New(a.DB, notice.Config{})
	inbox := notify.NewInbox(a.DB, func(ctx context.Context) ([]notify.Announcement, error) {
		ns, err := notices.Active(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]notify.Announcement, len(ns))
		for i, n := range ns {
			out[i] = notify.Announcement{ID: n.ID, Kind: string(n.Kind), Title: n.Title, Body: n.Body, StartsAt: n.StartsAt, EndsAt: n.EndsAt}
		}
		return out, nil
	})
	openNow, err := chatHours(tk)
	if err != nil {
		return nil, err
	}
	if chatOpenNowOverride != nil {
		openNow = chatOpenNowOverride
	}
	cfg := chat.Config{
		OpenNow:   openNow,
		ListenURL: a.Cfg.DatabaseURL,
		Contacts: func(ctx context.Context, userID string) (string, string, error) {
			if a.Identity == nil {
				return "", "", fmt.Errorf("contacts: no identity service")
			}
			u, err := a.Identity.GetUser(ctx, userID)
			if err != nil {
				return "", "", err
			}
			return u.Email, u.Lang, nil
		},
		Logf: func(format string, args ...any) { a.Log.Warn(fmt.Sprintf(format, args...)) },
	}
	if tk != nil {
		cfg.Tickets = chatTickets{tk}
	}
	cs := chat.New(a.DB, cfg)
	a.Go("chat-listener", func(ctx context.Context) {
		if err := cs.Run(ctx); err != nil {
			a.Log.Error("chat listener stopped", "err", err)
		}
	})
	if a.DB.Engine == db.Postgres {
		// Wait briefly for the listener so the node does not report ready while it would
		// miss other nodes' chat events (sessions re-read periodically anyway).
		select {
		case <-cs.Listening():
		case <-time.After(5 * time.Second):
			a.Log.Warn("chat listener not up yet; continuing")
		}
	}
	return &SupportLive{Notices: notices, Inbox: inbox, Chat: cs}, nil
}

// chatHours is the live chat channel's business-hours calendar: the configured one
// (--support-hours, through the ticket desk) so chat and the contact page agree, or the
// built-in hours when there is no desk.
func chatHours(tk *tickets.Service) (func(time.Time) bool, error) {
	var desk *hours.Desk
	if tk != nil {
		desk = tk.Hours()
	} else {
		d, err := hours.New(hours.DefaultConfig())
		if err != nil {
			return nil, fmt.Errorf("service hours: %w", err)
		}
		desk = d
	}
	ch, err := desk.Channel(hours.ChannelChat)
	if err != nil {
		return nil, fmt.Errorf("service hours: %w", err)
	}
	return ch.Cal.OpenAt, nil
}

// Web and API views of the same services.
func (s *SupportLive) web() *web.SupportLive {
	return &web.SupportLive{Chat: s.Chat, Notices: s.Notices, Inbox: s.Inbox}
}

func (s *SupportLive) api() *api.SupportLive {
	return &api.SupportLive{Chat: s.Chat, Notices: s.Notices, Inbox: s.Inbox}
}

// chatTickets opens a ticket from a message left outside service hours.
type chatTickets struct{ svc *tickets.Service }

func (c chatTickets) OpenFromChat(ctx context.Context, customerID, lang, subject, body string) (string, error) {
	t, err := c.svc.Open(ctx, tickets.OpenInput{CustomerID: customerID, Category: "other", Subject: subject, Description: body,
		Via: tickets.ViaWeb})
	if err != nil {
		return "", err
	}
	return t.Number, nil
}
