package api

import (
	"net/http"
	"time"

	"okpay/internal/httpx"
	"okpay/internal/support/hours"
)

// The contact endpoint: public, because people who cannot sign in need it most.

// ContactSocial is one official social account.
type ContactSocial struct {
	Network string `json:"network" doc:"wechat, weibo, x, …"`
	Handle  string `json:"handle"`
	URL     string `json:"url,omitempty"`
}

// ContactChannel is one way to reach support, as of the response's time.
type ContactChannel struct {
	ID       string          `json:"id" doc:"chat, phone, web, email or social"`
	Address  string          `json:"address,omitempty" doc:"hotline number, mailbox, or page path"`
	Accounts []ContactSocial `json:"accounts,omitempty"`
	Open     bool            `json:"open"`
	ClosesAt time.Time       `json:"closes_at,omitzero" doc:"when open: end of the current opening block"`
	NextOpen time.Time       `json:"next_open,omitzero" doc:"when closed: start of the next opening block"`
	// Targets are first-response targets of normal priority.
	TargetMinutes      int       `json:"target_minutes,omitempty" doc:"first-response target in business minutes"`
	TargetBusinessDays int       `json:"target_business_days,omitempty" doc:"first-response target in business days"`
	ExpectedBy         time.Time `json:"expected_by,omitzero" doc:"when a message sent now gets its first answer"`
	TimeZone           string    `json:"time_zone"`
	Today              []string  `json:"today" doc:"today's opening blocks, HH:MM-HH:MM in time_zone"`
}

// ContactResponse lists the channels.
type ContactResponse struct {
	Now      time.Time        `json:"now"`
	Channels []ContactChannel `json:"channels"`
}

// ContactChannels renders the desk's channel statuses for the wire.
func ContactChannels(sts []hours.Status) []ContactChannel {
	out := make([]ContactChannel, 0, len(sts))
	for _, s := range sts {
		c := ContactChannel{ID: string(s.Channel), Address: s.Config.Address, Open: s.Open, ClosesAt: s.ClosesAt, NextOpen: s.NextOpen,
			TargetBusinessDays: s.TargetDays, ExpectedBy: s.ExpectedBy, TimeZone: s.Loc.String(), Today: []string{}}
		if s.TargetDays == 0 {
			c.TargetMinutes = int(s.Target / time.Minute)
		}
		for _, a := range s.Config.Accounts {
			c.Accounts = append(c.Accounts, ContactSocial{Network: a.Network, Handle: a.Handle, URL: a.URL})
		}
		for _, b := range s.Today {
			c.Today = append(c.Today, b.String())
		}
		out = append(out, c)
	}
	return out
}

func (a *API) contactRoutes() {
	a.router.Handle(Route{Method: "GET", Path: "/contact", ID: "getContact", Tag: "support",
		Summary:  "Every way to reach support: open now or not, next opening, expected first-response time",
		Response: ContactResponse{},
		Handler: func(w http.ResponseWriter, r *http.Request) {
			now := a.deps.Tickets.Now()
			w.Header().Set("Cache-Control", "no-store")
			httpx.WriteJSON(w, http.StatusOK, ContactResponse{Now: now.UTC(), Channels: ContactChannels(a.deps.Tickets.Hours().Statuses(now))})
		}})
}
