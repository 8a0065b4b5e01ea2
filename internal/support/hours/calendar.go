// Package hours owns OKPay's service hours and response times: the contact channels (live
// chat, web tickets, email, phone hotline, social accounts) with their numbers and handles,
// a business-hours calendar per channel (time zone, several blocks per weekday, holidays,
// extra working days), and first-response targets per channel and priority. Deadlines are
// computed in business time: a target of one business day set on Friday evening falls due
// on Monday, not on Saturday.
//
// It holds no state and knows nothing of tickets, chats, users or HTTP: the ticket desk
// asks it when a reply is due, the contact page asks it what is open now.
package hours

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Block is one opening period of a day in wall-clock minutes since midnight, [Start, End).
// End may be 24*60 (midnight at the end of the day).
type Block struct {
	Start, End int
}

// Date is a calendar day in the calendar's zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// String is the day as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// ParseDate reads YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse("2006-01-02", strings.TrimSpace(s))
	if err != nil {
		return Date{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

func dateOf(t time.Time) Date { return Date{t.Year(), t.Month(), t.Day()} }

// ParseBlock reads "09:00-12:00" (24:00 allowed as the end).
func ParseBlock(s string) (Block, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return Block{}, fmt.Errorf("block %q: want HH:MM-HH:MM", s)
	}
	start, err := parseClock(a)
	if err != nil {
		return Block{}, fmt.Errorf("block %q: %w", s, err)
	}
	end, err := parseClock(b)
	if err != nil {
		return Block{}, fmt.Errorf("block %q: %w", s, err)
	}
	if end <= start {
		return Block{}, fmt.Errorf("block %q: ends before it starts", s)
	}
	return Block{start, end}, nil
}

func parseClock(s string) (int, error) {
	s = strings.TrimSpace(s)
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("time %q: want HH:MM", s)
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("time %q: want HH:MM between 00:00 and 24:00", s)
	}
	return h*60 + m, nil
}

// String is the block as "09:00-12:00".
func (b Block) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", b.Start/60, b.Start%60, b.End/60, b.End%60)
}

// Calendar is when a channel is staffed. The zero value is never open; build one with
// NewCalendar. It is immutable and safe for concurrent use.
type Calendar struct {
	loc  *time.Location
	week [7][]Block // by time.Weekday
	// extra are the blocks of an extra working day (a weekend day worked in exchange for a
	// holiday, as the Chinese calendar does around Spring Festival and National Day).
	extra    []Block
	holidays map[Date]bool
	extraDay map[Date]bool
	// dayLen is the open time of a regular working day: what "one business day" means.
	dayLen time.Duration
}

// maxScanDays bounds every search through the calendar: a deadline more than ten years
// away, or a calendar with no working time at all, is a configuration error, not a loop.
const maxScanDays = 3660

// ErrNeverOpen is returned when no working time exists within the search bound.
var ErrNeverOpen = errors.New("hours: the calendar has no working time within ten years")

// CalendarSpec describes a calendar; NewCalendar checks it.
type CalendarSpec struct {
	Loc *time.Location
	// Week gives each weekday's blocks; a missing weekday is closed.
	Week map[time.Weekday][]Block
	// ExtraBlocks are the hours of an extra working day; Monday's when empty.
	ExtraBlocks   []Block
	Holidays      []Date
	ExtraWorkdays []Date
}

// NewCalendar validates spec: blocks in order, not overlapping, within the day; no date
// both a holiday and an extra working day; some working time in the week.
func NewCalendar(spec CalendarSpec) (*Calendar, error) {
	if spec.Loc == nil {
		return nil, errors.New("calendar: time zone missing")
	}
	c := &Calendar{loc: spec.Loc, holidays: map[Date]bool{}, extraDay: map[Date]bool{}}
	check := func(what string, bs []Block) ([]Block, error) {
		bs = append([]Block(nil), bs...)
		sort.Slice(bs, func(i, j int) bool { return bs[i].Start < bs[j].Start })
		if len(bs) > 12 {
			return nil, fmt.Errorf("calendar %s: at most 12 blocks a day", what)
		}
		for i, b := range bs {
			if b.Start < 0 || b.End > 24*60 || b.End <= b.Start {
				return nil, fmt.Errorf("calendar %s: block %s is not within one day", what, b)
			}
			if i > 0 && b.Start < bs[i-1].End {
				return nil, fmt.Errorf("calendar %s: blocks %s and %s overlap", what, bs[i-1], b)
			}
		}
		return bs, nil
	}
	var err error
	for d, bs := range spec.Week {
		if d < time.Sunday || d > time.Saturday {
			return nil, fmt.Errorf("calendar: bad weekday %d", d)
		}
		if c.week[d], err = check(d.String(), bs); err != nil {
			return nil, err
		}
	}
	extra := spec.ExtraBlocks
	if len(extra) == 0 {
		extra = spec.Week[time.Monday]
	}
	if c.extra, err = check("extra working day", extra); err != nil {
		return nil, err
	}
	if len(spec.Holidays)+len(spec.ExtraWorkdays) > 2000 {
		return nil, errors.New("calendar: at most 2000 holidays and extra working days")
	}
	for _, h := range spec.Holidays {
		c.holidays[h] = true
	}
	for _, x := range spec.ExtraWorkdays {
		if c.holidays[x] {
			return nil, fmt.Errorf("calendar: %s is both a holiday and an extra working day", x)
		}
		c.extraDay[x] = true
	}
	week := 0
	for _, bs := range c.week {
		for _, b := range bs {
			week += b.End - b.Start
		}
	}
	if week == 0 && len(c.extraDay) == 0 {
		return nil, errors.New("calendar: no working hours at all")
	}
	for _, d := range []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday} {
		if n := blocksLen(c.week[d]); n > 0 {
			c.dayLen = time.Duration(n) * time.Minute
			break
		}
	}
	if c.dayLen == 0 {
		c.dayLen = time.Duration(blocksLen(c.extra)) * time.Minute
	}
	return c, nil
}

func blocksLen(bs []Block) int {
	n := 0
	for _, b := range bs {
		n += b.End - b.Start
	}
	return n
}

// Location is the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// BusinessDay is the open time of a regular working day (the first weekday from Monday that
// has hours): the length "one business day" stands for in targets.
func (c *Calendar) BusinessDay() time.Duration { return c.dayLen }

// Week returns the blocks of a weekday.
func (c *Calendar) Week(d time.Weekday) []Block { return append([]Block(nil), c.week[d]...) }

// blocksOn returns the blocks of a date: none on a holiday, the extra blocks on an extra
// working day, else the weekday's.
func (c *Calendar) blocksOn(d Date) []Block {
	switch {
	case c.holidays[d]:
		return nil
	case c.extraDay[d]:
		return c.extra
	}
	wd := time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
	return c.week[wd]
}

// interval is one block on one date as absolute instants. Converting each end with
// time.Date in the zone makes blocks follow wall-clock time across DST changes: on the day
// clocks spring forward, a block spanning 02:00–03:00 is an hour shorter in real time.
type interval struct{ from, to time.Time }

func (c *Calendar) intervals(d Date) []interval {
	bs := c.blocksOn(d)
	out := make([]interval, 0, len(bs))
	for _, b := range bs {
		from := time.Date(d.Year, d.Month, d.Day, b.Start/60, b.Start%60, 0, 0, c.loc)
		to := time.Date(d.Year, d.Month, d.Day, b.End/60, b.End%60, 0, 0, c.loc)
		if to.After(from) {
			out = append(out, interval{from, to})
		}
	}
	return out
}

// day returns the date i days after d.
func (c *Calendar) day(d Date, i int) Date {
	return dateOf(time.Date(d.Year, d.Month, d.Day+i, 12, 0, 0, 0, time.UTC))
}

// OpenAt reports whether t falls inside a block.
func (c *Calendar) OpenAt(t time.Time) bool {
	for _, iv := range c.intervals(dateOf(t.In(c.loc))) {
		if !t.Before(iv.from) && t.Before(iv.to) {
			return true
		}
	}
	return false
}

// NextOpen returns t itself when the calendar is open at t, else the start of the next
// block.
//
// Errors: ErrNeverOpen when no block starts within ten years.
func (c *Calendar) NextOpen(t time.Time) (time.Time, error) {
	start := dateOf(t.In(c.loc))
	for i := 0; i < maxScanDays; i++ {
		for _, iv := range c.intervals(c.day(start, i)) {
			if !t.Before(iv.to) {
				continue
			}
			if t.Before(iv.from) {
				return iv.from, nil
			}
			return t, nil
		}
	}
	return time.Time{}, ErrNeverOpen
}

// NextClose returns the end of the block open at t, or the zero time when closed at t.
func (c *Calendar) NextClose(t time.Time) time.Time {
	for _, iv := range c.intervals(dateOf(t.In(c.loc))) {
		if !t.Before(iv.from) && t.Before(iv.to) {
			return iv.to
		}
	}
	return time.Time{}
}

// AddBusiness returns the instant when d of business time has passed since start: time
// counts only inside blocks. A deadline that lands exactly on the end of a block is that
// end, not the start of the next block. d <= 0 gives NextOpen(start).
//
// Errors: ErrNeverOpen when the deadline is more than ten years of calendar away.
func (c *Calendar) AddBusiness(start time.Time, d time.Duration) (time.Time, error) {
	if d <= 0 {
		return c.NextOpen(start)
	}
	first := dateOf(start.In(c.loc))
	for i := 0; i < maxScanDays; i++ {
		for _, iv := range c.intervals(c.day(first, i)) {
			if !start.Before(iv.to) {
				continue
			}
			from := iv.from
			if start.After(from) {
				from = start
			}
			avail := iv.to.Sub(from)
			if d <= avail {
				return from.Add(d), nil
			}
			d -= avail
		}
	}
	return time.Time{}, ErrNeverOpen
}

// BusinessBetween returns the business time between a and b: the length of [a, b) that lies
// inside blocks. It is 0 when b is not after a. Spans over ten years are cut at ten years.
func (c *Calendar) BusinessBetween(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	var sum time.Duration
	first := dateOf(a.In(c.loc))
	for i := 0; i < maxScanDays; i++ {
		ivs := c.intervals(c.day(first, i))
		for _, iv := range ivs {
			from, to := iv.from, iv.to
			if from.Before(a) {
				from = a
			}
			if to.After(b) {
				to = b
			}
			if to.After(from) {
				sum += to.Sub(from)
			}
		}
		// Stop once the day after this one starts after b.
		next := c.day(first, i+1)
		if !time.Date(next.Year, next.Month, next.Day, 0, 0, 0, 0, c.loc).Before(b) {
			break
		}
	}
	return sum
}
