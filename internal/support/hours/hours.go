package hours

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Channel is a way to reach support.
type Channel string

// The channels, in the order the contact page lists them: the fastest first.
const (
	ChannelChat   Channel = "chat"
	ChannelPhone  Channel = "phone"
	ChannelWeb    Channel = "web" // web tickets (and API tickets)
	ChannelEmail  Channel = "email"
	ChannelSocial Channel = "social"
)

// Channels lists every channel in display order.
var Channels = []Channel{ChannelChat, ChannelPhone, ChannelWeb, ChannelEmail, ChannelSocial}

// Priority orders work: urgent first.
type Priority string

const (
	PriorityLow    Priority = "low"
	PriorityNormal Priority = "normal"
	PriorityHigh   Priority = "high"
	PriorityUrgent Priority = "urgent"
)

// Priorities lists every priority from the lowest.
var Priorities = []Priority{PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent}

// Valid reports whether p is a known priority.
func (p Priority) Valid() bool {
	for _, x := range Priorities {
		if p == x {
			return true
		}
	}
	return false
}

// Target is a first-response target: Minutes of business time, or BusinessDays (whole
// regular working days of the channel's calendar). Exactly one is set.
type Target struct {
	Minutes      int `json:"minutes,omitempty"`
	BusinessDays int `json:"business_days,omitempty"`
}

// MaxTicketBusinessDays is the promise the desk never breaks in its configuration: no
// written channel may take longer than three business days to answer first.
const MaxTicketBusinessDays = 3

// maxTargetMinutes bounds minute targets (a week of minutes); longer targets are days.
const maxTargetMinutes = 7 * 24 * 60

// SocialAccount is one official account on a social network.
type SocialAccount struct {
	Network string `json:"network"` // "wechat", "weibo", "x", …
	Handle  string `json:"handle"`
	URL     string `json:"url,omitempty"`
}

// ChannelConfig is one channel's settings.
type ChannelConfig struct {
	ID Channel `json:"id"`
	// Disabled hides the channel from the contact page; tickets by web stay possible.
	Disabled bool `json:"disabled,omitempty"`
	// Calendar names an entry of Config.Calendars.
	Calendar string `json:"calendar"`
	// Address is how to reach the channel: the hotline number, the support mailbox, or the
	// path of the page (chat, web tickets).
	Address string `json:"address,omitempty"`
	// Accounts are the social accounts (social channel only).
	Accounts []SocialAccount     `json:"accounts,omitempty"`
	Targets  map[Priority]Target `json:"targets"`
}

// CalendarConfig is a calendar as written in configuration.
type CalendarConfig struct {
	// TimeZone overrides Config.TimeZone, e.g. "Asia/Shanghai".
	TimeZone string `json:"time_zone,omitempty"`
	// Week maps "mon" … "sun" to blocks like "09:00-12:00"; a missing day is closed.
	Week map[string][]string `json:"week"`
	// ExtraBlocks are the hours of an extra working day; Monday's when empty.
	ExtraBlocks   []string `json:"extra_blocks,omitempty"`
	Holidays      []string `json:"holidays,omitempty"`       // YYYY-MM-DD
	ExtraWorkdays []string `json:"extra_workdays,omitempty"` // YYYY-MM-DD
}

// Config is the whole service-hours configuration. DefaultConfig gives OKPay's.
type Config struct {
	TimeZone  string                    `json:"time_zone"`
	Calendars map[string]CalendarConfig `json:"calendars"`
	Channels  []ChannelConfig           `json:"channels"`
}

// cnHolidays2026 and cnWorkdays2026 are the default holiday calendar: China's public
// holidays of 2026 and the weekend days worked in exchange. Operators should check them
// against the official notice and replace them each year in their configuration.
var (
	cnHolidays2026 = []string{
		"2026-01-01", "2026-01-02", "2026-01-03",
		"2026-02-15", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-21", "2026-02-22", "2026-02-23",
		"2026-04-04", "2026-04-05", "2026-04-06",
		"2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04", "2026-05-05",
		"2026-06-19", "2026-06-20", "2026-06-21",
		"2026-09-25", "2026-09-26", "2026-09-27",
		"2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07",
	}
	cnWorkdays2026 = []string{"2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"}
)

// DefaultConfig is OKPay's out-of-the-box service: chat and phone every day with a lunch
// break; written channels answered on working days; Beijing time.
func DefaultConfig() Config {
	weekday := []string{"09:00-12:00", "13:00-21:00"}
	every := map[string][]string{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		every[d] = weekday
	}
	return Config{
		TimeZone: "Asia/Shanghai",
		Calendars: map[string]CalendarConfig{
			// Live chat and the hotline: every day, closed on public holidays.
			"daily": {Week: every, Holidays: cnHolidays2026},
			// Tickets and email: working days, including the make-up working weekends.
			"workdays": {Week: map[string][]string{"mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday, "fri": weekday},
				Holidays: cnHolidays2026, ExtraWorkdays: cnWorkdays2026},
		},
		Channels: []ChannelConfig{
			{ID: ChannelChat, Calendar: "daily", Address: "/chat", Targets: map[Priority]Target{
				PriorityUrgent: {Minutes: 1}, PriorityHigh: {Minutes: 2}, PriorityNormal: {Minutes: 3}, PriorityLow: {Minutes: 5}}},
			{ID: ChannelPhone, Calendar: "daily", Address: "+86 400-820-0000", Targets: map[Priority]Target{
				PriorityUrgent: {Minutes: 1}, PriorityHigh: {Minutes: 2}, PriorityNormal: {Minutes: 5}, PriorityLow: {Minutes: 10}}},
			{ID: ChannelWeb, Calendar: "workdays", Address: "/tickets/new", Targets: map[Priority]Target{
				PriorityUrgent: {Minutes: 120}, PriorityHigh: {Minutes: 240}, PriorityNormal: {BusinessDays: 1}, PriorityLow: {BusinessDays: 3}}},
			{ID: ChannelEmail, Calendar: "workdays", Address: "support@okpay.example", Targets: map[Priority]Target{
				PriorityUrgent: {Minutes: 120}, PriorityHigh: {Minutes: 240}, PriorityNormal: {BusinessDays: 1}, PriorityLow: {BusinessDays: 3}}},
			{ID: ChannelSocial, Calendar: "workdays", Accounts: []SocialAccount{
				{Network: "wechat", Handle: "OKPay客服"},
				{Network: "weibo", Handle: "@OKPay官方", URL: "https://weibo.com/okpay"},
				{Network: "x", Handle: "@OKPaySupport", URL: "https://x.com/OKPaySupport"},
			}, Targets: map[Priority]Target{
				PriorityUrgent: {BusinessDays: 1}, PriorityHigh: {BusinessDays: 1}, PriorityNormal: {BusinessDays: 1}, PriorityLow: {BusinessDays: 2}}},
		},
	}
}

// maxConfigBytes bounds a configuration file.
const maxConfigBytes = 1 << 20

// LoadConfig reads a JSON configuration file. Fields it leaves out keep DefaultConfig's
// values: a file naming only "time_zone" changes only the zone.
//
// Errors: a plain error naming the file and the problem.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	f, err := os.Open(path)
	if err != nil {
		return cfg, fmt.Errorf("support hours %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return cfg, fmt.Errorf("support hours %s: %w", path, err)
	}
	if len(data) > maxConfigBytes {
		return cfg, fmt.Errorf("support hours %s: larger than %d bytes", path, maxConfigBytes)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("support hours %s: %w", path, err)
	}
	return cfg, nil
}

// Desk answers questions about the channels: open or not, when they open, when a reply is
// due. Build it with New; it is immutable and safe for concurrent use.
type Desk struct {
	channels []ChannelInfo
	byID     map[Channel]*ChannelInfo
}

// ChannelInfo is a channel with its parsed calendar.
type ChannelInfo struct {
	ChannelConfig
	Cal *Calendar
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// New checks cfg and builds the desk.
//
// Errors: a plain error naming the bad setting (unknown zone, overlapping blocks, a
// missing target, a written channel promising more than three business days, …).
func New(cfg Config) (*Desk, error) {
	cals := map[string]*Calendar{}
	for name, cc := range cfg.Calendars {
		zone := cc.TimeZone
		if zone == "" {
			zone = cfg.TimeZone
		}
		loc, err := time.LoadLocation(zone)
		if err != nil || zone == "" {
			return nil, fmt.Errorf("calendar %s: time zone %q: unknown", name, zone)
		}
		spec := CalendarSpec{Loc: loc, Week: map[time.Weekday][]Block{}}
		parse := func(ss []string) ([]Block, error) {
			var out []Block
			for _, s := range ss {
				b, err := ParseBlock(s)
				if err != nil {
					return nil, fmt.Errorf("calendar %s: %w", name, err)
				}
				out = append(out, b)
			}
			return out, nil
		}
		for day, ss := range cc.Week {
			wd, ok := weekdays[strings.ToLower(day)]
			if !ok {
				return nil, fmt.Errorf("calendar %s: weekday %q: use mon … sun", name, day)
			}
			if spec.Week[wd], err = parse(ss); err != nil {
				return nil, err
			}
		}
		if spec.ExtraBlocks, err = parse(cc.ExtraBlocks); err != nil {
			return nil, err
		}
		for _, s := range cc.Holidays {
			d, err := ParseDate(s)
			if err != nil {
				return nil, fmt.Errorf("calendar %s: holiday: %w", name, err)
			}
			spec.Holidays = append(spec.Holidays, d)
		}
		for _, s := range cc.ExtraWorkdays {
			d, err := ParseDate(s)
			if err != nil {
				return nil, fmt.Errorf("calendar %s: extra working day: %w", name, err)
			}
			spec.ExtraWorkdays = append(spec.ExtraWorkdays, d)
		}
		c, err := NewCalendar(spec)
		if err != nil {
			return nil, fmt.Errorf("calendar %s: %w", name, err)
		}
		cals[name] = c
	}
	d := &Desk{byID: map[Channel]*ChannelInfo{}}
	for _, ch := range cfg.Channels {
		known := false
		for _, x := range Channels {
			known = known || x == ch.ID
		}
		if !known {
			return nil, fmt.Errorf("channel %q: unknown (use chat, phone, web, email, social)", ch.ID)
		}
		if d.byID[ch.ID] != nil {
			return nil, fmt.Errorf("channel %s: configured twice", ch.ID)
		}
		cal := cals[ch.Calendar]
		if cal == nil {
			return nil, fmt.Errorf("channel %s: calendar %q is not defined", ch.ID, ch.Calendar)
		}
		for _, p := range Priorities {
			t, ok := ch.Targets[p]
			switch {
			case !ok:
				return nil, fmt.Errorf("channel %s: no first-response target for priority %s", ch.ID, p)
			case (t.Minutes > 0) == (t.BusinessDays > 0) || t.Minutes < 0 || t.BusinessDays < 0:
				return nil, fmt.Errorf("channel %s %s: give exactly one of minutes or business_days", ch.ID, p)
			case t.Minutes > maxTargetMinutes:
				return nil, fmt.Errorf("channel %s %s: more than %d minutes; use business_days", ch.ID, p, maxTargetMinutes)
			}
			if (ch.ID == ChannelWeb || ch.ID == ChannelEmail) && targetDuration(t, cal) > MaxTicketBusinessDays*cal.BusinessDay() {
				return nil, fmt.Errorf("channel %s %s: written channels answer within %d business days", ch.ID, p, MaxTicketBusinessDays)
			}
		}
		if len(ch.Accounts) > 20 {
			return nil, fmt.Errorf("channel %s: at most 20 social accounts", ch.ID)
		}
		d.channels = append(d.channels, ChannelInfo{ChannelConfig: ch, Cal: cal})
	}
	for i := range d.channels {
		d.byID[d.channels[i].ID] = &d.channels[i]
	}
	for _, need := range []Channel{ChannelWeb, ChannelEmail} {
		if d.byID[need] == nil {
			return nil, fmt.Errorf("channel %s must be configured: tickets need its calendar and targets", need)
		}
	}
	return d, nil
}

func targetDuration(t Target, c *Calendar) time.Duration {
	if t.BusinessDays > 0 {
		return time.Duration(t.BusinessDays) * c.BusinessDay()
	}
	return time.Duration(t.Minutes) * time.Minute
}

// ErrUnknownChannel is returned for a channel that is not configured.
var ErrUnknownChannel = errors.New("hours: channel not configured")

// Channel returns a channel's settings and calendar.
//
// Errors: ErrUnknownChannel.
func (d *Desk) Channel(id Channel) (*ChannelInfo, error) {
	c := d.byID[id]
	if c == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownChannel, id)
	}
	return c, nil
}

// Target returns the first-response target of a channel and priority as business time.
//
// Errors: ErrUnknownChannel; a plain error for an unknown priority.
func (d *Desk) Target(id Channel, p Priority) (time.Duration, error) {
	c, err := d.Channel(id)
	if err != nil {
		return 0, err
	}
	t, ok := c.Targets[p]
	if !ok {
		return 0, fmt.Errorf("hours: unknown priority %q", p)
	}
	return targetDuration(t, c.Cal), nil
}

// Due returns when the first response to something received at start through a channel
// with priority p is due: the target added in the channel's business time.
//
// Errors: as Target, and ErrNeverOpen.
func (d *Desk) Due(id Channel, p Priority, start time.Time) (time.Time, error) {
	t, err := d.Target(id, p)
	if err != nil {
		return time.Time{}, err
	}
	c, _ := d.Channel(id)
	due, err := c.Cal.AddBusiness(start, t)
	if err != nil {
		return time.Time{}, fmt.Errorf("due for %s: %w", id, err)
	}
	return due, nil
}

// Status is a channel as a visitor sees it at one moment.
type Status struct {
	Channel  Channel
	Config   ChannelConfig
	Open     bool
	ClosesAt time.Time // when open: the end of the current block
	NextOpen time.Time // when closed: the start of the next block (zero if never)
	// Target is the normal-priority first-response target in business time; TargetDays
	// is set when it is given in business days.
	Target     time.Duration
	TargetDays int
	// ExpectedBy is when a message sent now through the channel gets its first answer at
	// normal priority.
	ExpectedBy time.Time
	// Today lists today's blocks in the channel's zone (empty on a closed day).
	Today []Block
	Loc   *time.Location
}

// Statuses returns every enabled channel's status at now, in display order.
func (d *Desk) Statuses(now time.Time) []Status {
	var out []Status
	for _, c := range d.channels {
		if c.Disabled {
			continue
		}
		out = append(out, d.status(&c, now))
	}
	return out
}

func (d *Desk) status(c *ChannelInfo, now time.Time) Status {
	s := Status{Channel: c.ID, Config: c.ChannelConfig, Loc: c.Cal.loc}
	s.Open = c.Cal.OpenAt(now)
	if s.Open {
		s.ClosesAt = c.Cal.NextClose(now)
	} else if t, err := c.Cal.NextOpen(now); err == nil {
		s.NextOpen = t
	}
	t := c.Targets[PriorityNormal]
	s.Target, s.TargetDays = targetDuration(t, c.Cal), t.BusinessDays
	if due, err := c.Cal.AddBusiness(now, s.Target); err == nil {
		s.ExpectedBy = due
	}
	s.Today = c.Cal.blocksOn(dateOf(now.In(c.Cal.loc)))
	return s
}
