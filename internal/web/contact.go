package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"okpay/internal/httpx"
	"okpay/internal/support/hours"
)

// The contact page: every way to reach support, whether it is open now, when it opens
// next and how soon a message sent now gets its first answer. Public and phone-friendly:
// people who cannot sign in need it most.
func init() {
	addFeature(func(u *UI, mux *http.ServeMux) {
		if u.cfg.Tickets == nil {
			return
		}
		mux.HandleFunc("GET /contact", u.contactPage)
	})
}

type contactRow struct {
	ID       string
	Name     string // the channel's name
	Action   string // the label of the button
	Accounts []socialView
	Address  string
	Link     string // where the action button goes ("" for none)
	// Tel is the hotline's tel: link; built from digits and "+" only, so it is safe as a
	// URL (html/template would otherwise refuse the tel: scheme).
	Tel  template.URL
	Open bool
	// When is "until 21:00" or "opens Mon 09:00"; Hours is today's blocks.
	When     string
	Hours    string
	Expected string
}

// socialView is a social account with its network's name.
type socialView struct {
	hours.SocialAccount
	Label string
}

// contactNetworks are the networks with a translated name; others show as configured.
var contactNetworks = map[string]bool{"wechat": true, "weibo": true, "x": true}

type contactData struct {
	Channels []contactRow
	Zone     string
}

func (u *UI) contactPage(w http.ResponseWriter, r *http.Request) {
	svc := u.cfg.Tickets
	now := svc.Now()
	lang := httpx.Lang(r.Context())
	var data contactData
	for _, s := range svc.Hours().Statuses(now) {
		row := contactRow{ID: string(s.Channel), Address: s.Config.Address, Open: s.Open,
			Name: u.tr(r, "contact.channel."+string(s.Channel))}
		for _, a := range s.Config.Accounts {
			label := a.Network
			if contactNetworks[a.Network] {
				label = u.tr(r, "contact.network."+a.Network)
			}
			row.Accounts = append(row.Accounts, socialView{SocialAccount: a, Label: label})
		}
		switch s.Channel {
		case hours.ChannelPhone:
			row.Tel = template.URL("tel:" + strings.Map(func(c rune) rune {
				if c == '+' || (c >= '0' && c <= '9') {
					return c
				}
				return -1
			}, s.Config.Address))
		case hours.ChannelEmail:
			row.Link = "mailto:" + s.Config.Address
		case hours.ChannelChat, hours.ChannelWeb:
			row.Link = s.Config.Address
		}
		if row.Link != "" {
			row.Action = u.tr(r, "contact.action."+string(s.Channel))
		}
		if s.Open {
			row.When = u.trf(r, "contact.open_until", "time", deskTime(s.ClosesAt, lang, s.Loc, now))
		} else if !s.NextOpen.IsZero() {
			row.When = u.trf(r, "contact.opens_at", "time", deskTime(s.NextOpen, lang, s.Loc, now))
		}
		var blocks []string
		for _, b := range s.Today {
			blocks = append(blocks, b.String())
		}
		if len(blocks) == 0 {
			row.Hours = u.tr(r, "contact.closed_today")
		} else {
			row.Hours = strings.Join(blocks, ", ")
		}
		row.Expected = u.expected(r, s, now)
		if w, ok := u.chatWait(r, s); ok {
			row.Expected = w
		}
		data.Channels = append(data.Channels, row)
		data.Zone = zoneName(s.Loc, lang)
	}
	u.Render(w, r, http.StatusOK, "contact", data)
}

// expected says how soon a first answer comes: "within 3 minutes" while open, otherwise
// (or for day-long targets) the time it is due by.
func (u *UI) expected(r *http.Request, s hours.Status, now time.Time) string {
	lang := httpx.Lang(r.Context())
	target := targetText(u, r, s.Target, s.TargetDays)
	if s.Open && s.TargetDays == 0 {
		return u.trf(r, "contact.expect_within", "target", target)
	}
	if s.ExpectedBy.IsZero() {
		return target
	}
	return u.trf(r, "contact.expect_by", "target", target, "time", deskTime(s.ExpectedBy, lang, s.Loc, now))
}

// chatWait is the live chat's current expected wait, from the queue and recent pickup
// times, while chat is open: what a person about to start a chat wants to know, rather
// than the target. ok is false when it cannot be told (closed, no chat service, an error).
func (u *UI) chatWait(r *http.Request, s hours.Status) (string, bool) {
	if s.Channel != hours.ChannelChat || !s.Open || u.cfg.Support == nil || u.cfg.Support.Chat == nil {
		return "", false
	}
	wait, err := u.cfg.Support.Chat.ExpectedWait(r.Context())
	if err != nil {
		u.log.Warn("contact: chat wait", "err", err, "request_id", httpx.RequestID(r.Context()))
		return "", false
	}
	mins := int((wait + time.Minute - 1) / time.Minute)
	if mins < 1 {
		mins = 1
	}
	return u.trf(r, "contact.expect_chat_wait", "n", mins), true
}

func targetText(u *UI, r *http.Request, d time.Duration, days int) string {
	switch {
	case days > 0:
		return u.trf(r, "contact.target_days", "n", days)
	case d >= time.Hour && d%time.Hour == 0:
		return u.trf(r, "contact.target_hours", "n", int(d/time.Hour))
	default:
		return u.trf(r, "contact.target_minutes", "n", int(d/time.Minute))
	}
}

// trf is tr with {name} placeholders filled from name, value pairs.
func (u *UI) trf(r *http.Request, key string, pairs ...any) string {
	s := u.tr(r, key)
	for i := 0; i+1 < len(pairs); i += 2 {
		s = strings.ReplaceAll(s, "{"+fmt.Sprint(pairs[i])+"}", fmt.Sprint(pairs[i+1]))
	}
	return s
}

var zhWeekdays = []string{"周日", "周一", "周二", "周三", "周四", "周五", "周六"}

// deskTime shows t in the desk's zone: the time alone today, with the day otherwise.
func deskTime(t time.Time, lang string, loc *time.Location, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	t, now = t.In(loc), now.In(loc)
	same := t.Year() == now.Year() && t.YearDay() == now.YearDay()
	zh := strings.HasPrefix(lang, "zh")
	switch {
	case same:
		return t.Format("15:04")
	case zh:
		return fmt.Sprintf("%d月%d日%s %s", t.Month(), t.Day(), zhWeekdays[t.Weekday()], t.Format("15:04"))
	default:
		return t.Format("Mon 2 Jan 15:04")
	}
}

// zoneName names the desk's zone for people: "Beijing time" for Asia/Shanghai.
func zoneName(loc *time.Location, lang string) string {
	if loc.String() == "Asia/Shanghai" {
		if strings.HasPrefix(lang, "zh") {
			return "北京时间"
		}
		return "Beijing time"
	}
	return loc.String()
}
