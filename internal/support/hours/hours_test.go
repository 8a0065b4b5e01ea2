package hours

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// shanghai: weekdays 09:00–12:00 and 13:00–21:00 (11 h a day), closed at weekends;
// 2026-10-01 … 10-07 holidays, Saturday 2026-10-10 an extra working day.
func shanghai(t testing.TB) *Calendar {
	t.Helper()
	day := []Block{{9 * 60, 12 * 60}, {13 * 60, 21 * 60}}
	var hol []Date
	for d := 1; d <= 7; d++ {
		hol = append(hol, Date{2026, 10, d})
	}
	c, err := NewCalendar(CalendarSpec{Loc: mustLoc(t, "Asia/Shanghai"),
		Week:     map[time.Weekday][]Block{time.Monday: day, time.Tuesday: day, time.Wednesday: day, time.Thursday: day, time.Friday: day},
		Holidays: hol, ExtraWorkdays: []Date{{2026, 10, 10}}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newYork: every day 01:00–04:00 and 09:00–17:00, to cross both 2026 DST changes
// (8 March: 02:00 → 03:00; 1 November: 02:00 → 01:00).
func newYork(t testing.TB) *Calendar {
	t.Helper()
	day := []Block{{60, 4 * 60}, {9 * 60, 17 * 60}}
	week := map[time.Weekday][]Block{}
	for d := time.Sunday; d <= time.Saturday; d++ {
		week[d] = day
	}
	c, err := NewCalendar(CalendarSpec{Loc: mustLoc(t, "America/New_York"), Week: week})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func at(t testing.TB, loc string, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, mustLoc(t, loc))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAddBusinessShanghai(t *testing.T) {
	c := shanghai(t)
	const sh = "Asia/Shanghai"
	cases := []struct {
		name, start string
		d           time.Duration
		want        string
	}{
		{"inside a block", "2026-03-02 09:30", time.Hour, "2026-03-02 10:30"},
		{"ends exactly at lunch", "2026-03-02 11:00", time.Hour, "2026-03-02 12:00"},
		{"across lunch", "2026-03-02 11:30", time.Hour, "2026-03-02 13:30"},
		{"started during lunch", "2026-03-02 12:15", 30 * time.Minute, "2026-03-02 13:30"},
		{"before opening", "2026-03-02 07:00", 10 * time.Minute, "2026-03-02 09:10"},
		{"after closing", "2026-03-02 22:00", time.Hour, "2026-03-03 10:00"},
		{"one business day", "2026-03-02 10:00", 11 * time.Hour, "2026-03-03 10:00"},
		{"friday evening to monday", "2026-03-06 20:00", 2 * time.Hour, "2026-03-09 10:00"},
		{"saturday start", "2026-03-07 11:00", time.Hour, "2026-03-09 10:00"},
		{"three business days over a weekend", "2026-03-05 15:00", 33 * time.Hour, "2026-03-10 15:00"},
		{"into a holiday week", "2026-09-30 20:00", 2 * time.Hour, "2026-10-08 10:00"},
		{"holiday start lands on the extra working saturday", "2026-10-09 20:00", 2 * time.Hour, "2026-10-10 10:00"},
		{"zero on a holiday is the next opening", "2026-10-03 10:00", 0, "2026-10-08 09:00"},
		{"zero inside a block is now", "2026-03-02 10:00", 0, "2026-03-02 10:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := at(t, sh, tc.start)
			got, err := c.AddBusiness(start, tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if want := at(t, sh, tc.want); !got.Equal(want) {
				t.Fatalf("AddBusiness(%s, %s) = %s, want %s", tc.start, tc.d, got.In(c.Location()).Format("2006-01-02 15:04 Mon"), tc.want)
			}
			if back := c.BusinessBetween(start, got); back != tc.d {
				t.Fatalf("BusinessBetween back = %s, want %s", back, tc.d)
			}
		})
	}
}

func TestBusinessBetweenShanghai(t *testing.T) {
	c := shanghai(t)
	const sh = "Asia/Shanghai"
	cases := []struct {
		a, b string
		want time.Duration
	}{
		{"2026-03-02 09:00", "2026-03-02 21:00", 11 * time.Hour},
		{"2026-03-02 12:00", "2026-03-02 13:00", 0},
		{"2026-03-02 11:00", "2026-03-02 14:00", 2 * time.Hour},
		{"2026-03-06 20:00", "2026-03-09 10:00", 2 * time.Hour},
		{"2026-03-07 00:00", "2026-03-09 00:00", 0},
		{"2026-03-02 00:00", "2026-03-09 00:00", 55 * time.Hour},
		{"2026-09-30 00:00", "2026-10-12 00:00", 3 * 11 * time.Hour}, // 30 Sep, 8–9 Oct, extra 10 Oct, minus… see below
		{"2026-03-02 10:00", "2026-03-02 09:00", 0},
	}
	// 30 Sep (Wed) 11 h + 8 Oct (Thu) 11 h + 9 Oct (Fri) 11 h + 10 Oct (extra Sat) 11 h = 44 h.
	cases[6].want = 44 * time.Hour
	for _, tc := range cases {
		if got := c.BusinessBetween(at(t, sh, tc.a), at(t, sh, tc.b)); got != tc.want {
			t.Errorf("BusinessBetween(%s, %s) = %s, want %s", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestOpenAtAndNextOpen(t *testing.T) {
	c := shanghai(t)
	const sh = "Asia/Shanghai"
	cases := []struct {
		t        string
		open     bool
		nextOpen string
	}{
		{"2026-03-02 08:59", false, "2026-03-02 09:00"},
		{"2026-03-02 09:00", true, "2026-03-02 09:00"},
		{"2026-03-02 11:59", true, "2026-03-02 11:59"},
		{"2026-03-02 12:00", false, "2026-03-02 13:00"},
		{"2026-03-02 21:00", false, "2026-03-03 09:00"},
		{"2026-03-07 10:00", false, "2026-03-09 09:00"},
		{"2026-10-01 10:00", false, "2026-10-08 09:00"},
		{"2026-10-10 10:00", true, "2026-10-10 10:00"},
	}
	for _, tc := range cases {
		tt := at(t, sh, tc.t)
		if got := c.OpenAt(tt); got != tc.open {
			t.Errorf("OpenAt(%s) = %v", tc.t, got)
		}
		n, err := c.NextOpen(tt)
		if err != nil || !n.Equal(at(t, sh, tc.nextOpen)) {
			t.Errorf("NextOpen(%s) = %s, %v; want %s", tc.t, n.In(c.Location()), err, tc.nextOpen)
		}
	}
	// An instant given in another zone is judged in the calendar's: 01:30 UTC is 09:30 in Shanghai.
	if !c.OpenAt(time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC)) {
		t.Error("01:30 UTC Monday should be open in Shanghai")
	}
}

func TestDSTNewYork(t *testing.T) {
	c := newYork(t)
	const ny = "America/New_York"
	// Spring forward, 8 March 2026: 02:00 does not exist, so the 01:00–04:00 block lasts
	// two real hours; the day has 10 business hours instead of 11.
	if got := c.BusinessBetween(at(t, ny, "2026-03-08 00:00"), at(t, ny, "2026-03-09 00:00")); got != 10*time.Hour {
		t.Errorf("spring-forward day = %s, want 10h", got)
	}
	// Fall back, 1 November 2026: 01:00–02:00 happens twice, the block lasts four hours.
	if got := c.BusinessBetween(at(t, ny, "2026-11-01 00:00"), at(t, ny, "2026-11-02 00:00")); got != 12*time.Hour {
		t.Errorf("fall-back day = %s, want 12h", got)
	}
	// A regular day has 11.
	if got := c.BusinessBetween(at(t, ny, "2026-03-10 00:00"), at(t, ny, "2026-03-11 00:00")); got != 11*time.Hour {
		t.Errorf("regular day = %s, want 11h", got)
	}
	// Two and a half business hours from 01:00 on spring-forward day: the early block gives
	// two (ends 04:00 EDT), the rest comes from the 09:00 block.
	start := at(t, ny, "2026-03-08 01:00")
	got, err := c.AddBusiness(start, 150*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if want := at(t, ny, "2026-03-08 09:30"); !got.Equal(want) {
		t.Errorf("AddBusiness across spring-forward = %s, want %s", got.In(c.Location()), want)
	}
	// Three business hours from 01:00 EDT on fall-back day end at 03:00 EST (four real
	// hours after 01:00 EDT would be 04:00 EST, one hour too late).
	start = time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC) // 01:00 EDT
	got, err = c.AddBusiness(start, 3*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC); !got.Equal(want) { // 03:00 EST
		t.Errorf("AddBusiness across fall-back = %s, want %s", got, want)
	}
	// 09:00 local is 13:00 UTC in summer and 14:00 UTC in winter.
	if n, _ := c.NextOpen(at(t, ny, "2026-07-01 05:00")); !n.Equal(time.Date(2026, 7, 1, 13, 0, 0, 0, time.UTC)) {
		t.Errorf("summer opening = %s", n.UTC())
	}
	if n, _ := c.NextOpen(at(t, ny, "2026-12-01 05:00")); !n.Equal(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)) {
		t.Errorf("winter opening = %s", n.UTC())
	}
}

func TestCalendarValidation(t *testing.T) {
	loc := mustLoc(t, "Asia/Shanghai")
	bad := []CalendarSpec{
		{},
		{Loc: loc},
		{Loc: loc, Week: map[time.Weekday][]Block{time.Monday: {{9 * 60, 12 * 60}, {11 * 60, 13 * 60}}}},
		{Loc: loc, Week: map[time.Weekday][]Block{time.Monday: {{9 * 60, 25 * 60}}}},
		{Loc: loc, Week: map[time.Weekday][]Block{time.Monday: {{9 * 60, 9 * 60}}}},
		{Loc: loc, Week: map[time.Weekday][]Block{time.Monday: {{9 * 60, 10 * 60}}}, Holidays: []Date{{2026, 1, 5}}, ExtraWorkdays: []Date{{2026, 1, 5}}},
	}
	for i, s := range bad {
		if _, err := NewCalendar(s); err == nil {
			t.Errorf("spec %d accepted", i)
		}
	}
	for _, s := range []string{"9-12", "09:00", "12:00-09:00", "24:30-25:00", "09:60-10:00"} {
		if _, err := ParseBlock(s); err == nil {
			t.Errorf("block %q accepted", s)
		}
	}
	if b, err := ParseBlock("13:00-24:00"); err != nil || b != (Block{13 * 60, 24 * 60}) {
		t.Errorf("13:00-24:00 = %v, %v", b, err)
	}
}

func TestNeverOpenIsBounded(t *testing.T) {
	loc := mustLoc(t, "UTC")
	// Open only on one extra working day in the past: the search must stop, not spin.
	c, err := NewCalendar(CalendarSpec{Loc: loc, ExtraBlocks: []Block{{0, 60}}, ExtraWorkdays: []Date{{2020, 1, 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddBusiness(time.Date(2026, 1, 1, 0, 0, 0, 0, loc), time.Minute); err != ErrNeverOpen {
		t.Fatalf("err = %v, want ErrNeverOpen", err)
	}
	if _, err := c.NextOpen(time.Date(2026, 1, 1, 0, 0, 0, 0, loc)); err != ErrNeverOpen {
		t.Fatalf("err = %v, want ErrNeverOpen", err)
	}
}

func TestDeskDefaults(t *testing.T) {
	d, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	const sh = "Asia/Shanghai"
	// A normal web ticket on Friday 20:00 is due one business day later: Monday 20:00.
	due, err := d.Due(ChannelWeb, PriorityNormal, at(t, sh, "2026-03-06 20:00"))
	if err != nil || !due.Equal(at(t, sh, "2026-03-09 20:00")) {
		t.Fatalf("due = %s, %v", due.In(mustLoc(t, sh)), err)
	}
	// A low-priority email before the National Day holiday waits out the holiday and counts
	// the make-up working Saturday (8, 9 and 10 October).
	due, err = d.Due(ChannelEmail, PriorityLow, at(t, sh, "2026-09-30 21:30"))
	if err != nil || !due.Equal(at(t, sh, "2026-10-10 21:00")) {
		t.Fatalf("low due = %s, %v", due.In(mustLoc(t, sh)), err)
	}
	// Chat is open on Sunday at 10:00, with a three-minute target.
	sts := d.Statuses(at(t, sh, "2026-03-08 10:00"))
	if len(sts) != 5 || sts[0].Channel != ChannelChat || !sts[0].Open || sts[0].Target != 3*time.Minute {
		t.Fatalf("statuses = %+v", sts[0])
	}
	if !sts[0].ExpectedBy.Equal(at(t, sh, "2026-03-08 10:03")) || !sts[0].ClosesAt.Equal(at(t, sh, "2026-03-08 12:00")) {
		t.Fatalf("chat expected %s closes %s", sts[0].ExpectedBy, sts[0].ClosesAt)
	}
	for _, s := range sts {
		if s.Channel == ChannelWeb && (s.Open || !s.NextOpen.Equal(at(t, sh, "2026-03-09 09:00")) || s.TargetDays != 1) {
			t.Fatalf("web on Sunday = %+v", s)
		}
	}
}

func TestDeskConfigErrors(t *testing.T) {
	mod := func(f func(*Config)) Config { c := DefaultConfig(); f(&c); return c }
	cases := map[string]Config{
		"zone":      mod(func(c *Config) { c.TimeZone = "Mars/Olympus" }),
		"calendar":  mod(func(c *Config) { c.Channels[0].Calendar = "nope" }),
		"target":    mod(func(c *Config) { delete(c.Channels[0].Targets, PriorityLow) }),
		"both":      mod(func(c *Config) { c.Channels[0].Targets[PriorityLow] = Target{Minutes: 1, BusinessDays: 1} }),
		"four days": mod(func(c *Config) { c.Channels[2].Targets[PriorityLow] = Target{BusinessDays: 4} }),
		"unknown":   mod(func(c *Config) { c.Channels[0].ID = "fax" }),
		"no web":    mod(func(c *Config) { c.Channels = c.Channels[:2] }),
		"bad weekday": mod(func(c *Config) {
			c.Calendars["x"] = CalendarConfig{Week: map[string][]string{"funday": {"09:00-10:00"}}}
		}),
	}
	for name, cfg := range cases {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "hours.json")
	os.WriteFile(p, []byte(`{"time_zone": "America/New_York"}`), 0o600)
	cfg, err := LoadConfig(p)
	if err != nil || cfg.TimeZone != "America/New_York" || len(cfg.Channels) != 5 {
		t.Fatalf("cfg = %+v, %v", cfg.TimeZone, err)
	}
	os.WriteFile(p, []byte(`{"timezone": "UTC"}`), 0o600)
	if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Fatalf("unknown field: %v", err)
	}
}

// FuzzRoundTrip: for any start and duration, AddBusiness then BusinessBetween gives the
// duration back, the deadline is never earlier than the start, and the deadline is open
// time or the end of a block.
func FuzzRoundTrip(f *testing.F) {
	f.Add(int64(0), int64(60), false)
	f.Add(int64(86400*200+3600*7), int64(11*3600), true)
	f.Add(int64(86400*66), int64(150*60), true)
	f.Add(int64(86400*304+3600*5), int64(3*3600), true)
	sh, ny := shanghai(f), newYork(f)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, offsetSec, durSec int64, useNY bool) {
		c := sh
		if useNY {
			c = ny
		}
		offsetSec = ((offsetSec % (400 * 86400)) + 400*86400) % (400 * 86400)
		durSec = ((durSec % (30 * 86400)) + 30*86400) % (30 * 86400)
		start := base.Add(time.Duration(offsetSec) * time.Second)
		d := time.Duration(durSec) * time.Second
		end, err := c.AddBusiness(start, d)
		if err != nil {
			t.Fatal(err)
		}
		if end.Before(start) {
			t.Fatalf("deadline %s before start %s", end, start)
		}
		if got := c.BusinessBetween(start, end); got != d {
			t.Fatalf("start %s + %s = %s, but BusinessBetween = %s", start, d, end, got)
		}
		if d > 0 && !c.OpenAt(end.Add(-time.Nanosecond)) {
			t.Fatalf("deadline %s does not end open time", end)
		}
	})
}
