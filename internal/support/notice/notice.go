// Package notice owns announcements and maintenance windows: notices of kind info,
// maintenance or incident, with a start and an end and their text in zh-CN and en, created
// and withdrawn by admins. Live notices are shown as a banner on every page, on the public
// status page and in every inbox (by query, see notify.Inbox). A maintenance notice is also
// a window during which money-moving calls fail with the `maintenance` error and the
// expected end; MoneyAllowed is the one check the wallet makes.
//
// Windows live in the database with their start and end, so every node agrees on when one
// begins and ends without any message between nodes; MoneyAllowed caches the list of
// current and coming windows for a moment and evaluates it against the clock on each call.
// It knows nothing of HTTP, users beyond an actor's id and role, or money.
package notice

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// Kind says what a notice is about.
type Kind string

const (
	KindInfo        Kind = "info"
	KindMaintenance Kind = "maintenance"
	KindIncident    Kind = "incident"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindInfo || k == KindMaintenance || k == KindIncident }

// Limits. A notice is a sentence or two for a banner; a window longer than a week is a
// mistake in the form, not a plan.
const (
	MaxTitleRunes = 120
	MaxBodyRunes  = 2000
	MaxDuration   = 7 * 24 * time.Hour
	// MaxLive bounds how many current-or-coming notices are read for banners and for the
	// maintenance check; more than this at once would be unreadable anyway.
	MaxLive = 20
	// MaxList bounds the admin list.
	MaxList = 200
	// cacheTTL is how long MoneyAllowed trusts its copy of the windows: a window created on
	// another node takes effect on this one at most this much late.
	cacheTTL = 2 * time.Second
)

// Error codes of this package (besides the shared validation_failed, forbidden, not_found
// and maintenance).
const (
	// FieldEndsBeforeStart is the field code when the end is not after the start.
	FieldEndsBeforeStart = "notice_ends_before_start"
	// FieldTooLong is the field code when a window is longer than MaxDuration.
	FieldTooLong = "notice_too_long"
	// FieldEnded is the field code when the end is already in the past.
	FieldEnded = "notice_already_ended"
)

func init() {
	apperr.Register(
		apperr.Def{Code: FieldEndsBeforeStart, Status: http.StatusUnprocessableEntity,
			Message: apperr.Text{En: "The end must be after the start.", Zh: "结束时间必须晚于开始时间。"}},
		apperr.Def{Code: FieldTooLong, Status: http.StatusUnprocessableEntity,
			Message: apperr.Text{En: "A notice can last at most 7 days.", Zh: "公告最长持续 7 天。"}},
		apperr.Def{Code: FieldEnded, Status: http.StatusUnprocessableEntity,
			Message: apperr.Text{En: "The end is already in the past.", Zh: "结束时间已经过去。"}},
	)
}

// Notice is one announcement.
type Notice struct {
	ID          string      `json:"id"`
	Kind        Kind        `json:"kind" doc:"info, maintenance or incident"`
	Title       apperr.Text `json:"title"`
	Body        apperr.Text `json:"body"`
	StartsAt    time.Time   `json:"starts_at"`
	EndsAt      time.Time   `json:"ends_at"`
	CreatedBy   string      `json:"created_by,omitempty"`
	CreatedAt   time.Time   `json:"created_at"`
	WithdrawnAt time.Time   `json:"withdrawn_at,omitzero"`
}

// ActiveAt reports whether the notice is shown at t.
func (n *Notice) ActiveAt(t time.Time) bool {
	return n.WithdrawnAt.IsZero() && !t.Before(n.StartsAt) && t.Before(n.EndsAt)
}

// Input is a new notice.
type Input struct {
	Kind     Kind        `json:"kind" doc:"info, maintenance or incident"`
	Title    apperr.Text `json:"title" doc:"both languages required"`
	Body     apperr.Text `json:"body" doc:"both languages required"`
	StartsAt time.Time   `json:"starts_at" doc:"zero means now"`
	EndsAt   time.Time   `json:"ends_at"`
}

// Actor is who asks: the caller's id and role (from the session). Only admins manage
// notices.
type Actor struct {
	ID   string
	Role string
}

// RoleAdmin is the role allowed to manage notices.
const RoleAdmin = "admin"

// Config tunes the service.
type Config struct {
	// Location is the time zone the maintenance error states the end time in (the
	// platform's business time zone); Asia/Shanghai when nil.
	Location *time.Location
}

// Service manages notices. Create it with New; safe for concurrent use.
type Service struct {
	db  *db.DB
	loc *time.Location

	mu       sync.Mutex
	windows  []Notice  // maintenance windows ending after loadedAt (by the db clock)
	loadedAt time.Time // wall time of the load, for the cache's age
	loaded   bool

	banner       []Notice
	bannerAt     time.Time
	bannerLoaded bool
}

// New returns the service.
func New(d *db.DB, cfg Config) *Service {
	loc := cfg.Location
	if loc == nil {
		var err error
		if loc, err = time.LoadLocation("Asia/Shanghai"); err != nil {
			// No tz database on this machine: a fixed +08:00 says the same thing.
			loc = time.FixedZone("CST", 8*3600)
		}
	}
	return &Service{db: d, loc: loc}
}

func clean(s string) string { return strings.TrimSpace(s) }

func checkText(field string, t apperr.Text, max int) *apperr.Error {
	var e *apperr.Error
	for lang, s := range map[string]string{"en": t.En, "zh": t.Zh} {
		f := field + "." + lang
		switch {
		case s == "":
			e = addField(e, f, apperr.CodeRequired)
		case !utf8.ValidString(s) || utf8.RuneCountInString(s) > max || strings.ContainsRune(s, 0):
			e = addField(e, f, apperr.CodeValidation)
		}
	}
	return e
}

func addField(e *apperr.Error, field, code string) *apperr.Error {
	if e == nil {
		e = apperr.New(apperr.CodeValidation)
	}
	return e.Field(field, code)
}

func requireAdmin(a Actor) error {
	if a.ID == "" {
		return apperr.New(apperr.CodeUnauthenticated)
	}
	if a.Role != RoleAdmin {
		return apperr.New(apperr.CodeForbidden)
	}
	return nil
}

// Create schedules a notice. A zero start means now.
//
// Errors: unauthenticated, forbidden (not an admin), validation_failed with field errors
// (kind; title.en/zh, body.en/zh: required or too long; ends_at: notice_ends_before_start,
// notice_too_long, notice_already_ended).
func (s *Service) Create(ctx context.Context, a Actor, in Input) (*Notice, error) {
	if err := requireAdmin(a); err != nil {
		return nil, err
	}
	in.Title = apperr.Text{En: clean(in.Title.En), Zh: clean(in.Title.Zh)}
	in.Body = apperr.Text{En: clean(in.Body.En), Zh: clean(in.Body.Zh)}
	var e *apperr.Error
	if !in.Kind.Valid() {
		e = addField(e, "kind", apperr.CodeValidation)
	}
	for _, fe := range []*apperr.Error{checkText("title", in.Title, MaxTitleRunes), checkText("body", in.Body, MaxBodyRunes)} {
		if fe != nil {
			for _, f := range fe.Fields {
				e = addField(e, f.Field, f.Code)
			}
		}
	}
	if e != nil {
		return nil, e
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("create notice: %w", err)
	}
	n := &Notice{ID: id.String(), Kind: in.Kind, Title: in.Title, Body: in.Body, CreatedBy: a.ID}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		start := in.StartsAt.Truncate(time.Microsecond)
		if start.IsZero() || start.Before(tx.Now) {
			// A start in the past is "now": the record says when it really began.
			start = tx.Now
		}
		end := in.EndsAt.Truncate(time.Microsecond)
		switch {
		case !end.After(tx.Now):
			return addField(nil, "ends_at", FieldEnded)
		case !end.After(start):
			return addField(nil, "ends_at", FieldEndsBeforeStart)
		case end.Sub(start) > MaxDuration:
			return addField(nil, "ends_at", FieldTooLong)
		}
		n.StartsAt, n.EndsAt, n.CreatedAt = start.UTC(), end.UTC(), tx.Now.UTC()
		_, err := tx.ExecContext(ctx, `INSERT INTO notices (id, kind, title_en, title_zh, body_en, body_zh, starts_at, ends_at, created_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			n.ID, string(n.Kind), n.Title.En, n.Title.Zh, n.Body.En, n.Body.Zh, start.UnixMicro(), end.UnixMicro(), a.ID, tx.NowMicros())
		if err != nil {
			return fmt.Errorf("create notice: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.invalidate()
	return n, nil
}

// Withdraw removes a notice from banners, the status page and inboxes; a maintenance window
// withdrawn ends at once. The row is kept.
//
// Errors: unauthenticated, forbidden, not_found (no such notice, or already withdrawn).
func (s *Service) Withdraw(ctx context.Context, a Actor, id string) error {
	if err := requireAdmin(a); err != nil {
		return err
	}
	if _, err := uuid.Parse(id); err != nil {
		return apperr.New(apperr.CodeNotFound)
	}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE notices SET withdrawn_at = $1, withdrawn_by = $2 WHERE id = $3 AND withdrawn_at = 0`,
			tx.NowMicros(), a.ID, id)
		if err != nil {
			return fmt.Errorf("withdraw notice: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("withdraw notice: %w", err)
		} else if n == 0 {
			return apperr.New(apperr.CodeNotFound)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.invalidate()
	return nil
}

const cols = `id, kind, title_en, title_zh, body_en, body_zh, starts_at, ends_at, created_by, created_at, withdrawn_at`

type scanner interface{ Scan(...any) error }

func scan(r scanner) (Notice, error) {
	var n Notice
	var kind string
	var start, end, created, withdrawn int64
	if err := r.Scan(&n.ID, &kind, &n.Title.En, &n.Title.Zh, &n.Body.En, &n.Body.Zh, &start, &end, &n.CreatedBy, &created, &withdrawn); err != nil {
		return n, err
	}
	n.Kind = Kind(kind)
	n.StartsAt, n.EndsAt, n.CreatedAt = db.Micros(start), db.Micros(end), db.Micros(created)
	if withdrawn > 0 {
		n.WithdrawnAt = db.Micros(withdrawn)
	}
	return n, nil
}

// query runs q; when q mentions $now it is replaced by the transaction's time, so a list is
// read against one "now".
func (s *Service) query(ctx context.Context, what, q string, args ...any) ([]Notice, time.Time, error) {
	var out []Notice
	var now time.Time
	err := s.db.Read(ctx, func(tx *db.Tx) error {
		now = tx.Now
		rows, err := tx.QueryContext(ctx, strings.ReplaceAll(q, "$now", strconv.FormatInt(tx.NowMicros(), 10)), args...)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			n, err := scan(rows)
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			out = append(out, n)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	})
	return out, now, err
}

// Active returns the notices shown now (started, not ended, not withdrawn), maintenance and
// incidents first, at most MaxLive. Errors: internal only.
func (s *Service) Active(ctx context.Context) ([]Notice, error) {
	out, _, err := s.query(ctx, "active notices", `SELECT `+cols+` FROM notices
		WHERE ends_at > $now AND starts_at <= $now AND withdrawn_at = 0
		ORDER BY CASE kind WHEN 'maintenance' THEN 0 WHEN 'incident' THEN 1 ELSE 2 END, starts_at DESC LIMIT $1`, MaxLive)
	return out, err
}

// Current returns the notices shown now and the ones scheduled to start later, soonest
// first, at most MaxLive: the status page lists both, so people can plan around a
// maintenance window. Errors: internal only.
func (s *Service) Current(ctx context.Context) ([]Notice, error) {
	out, _, err := s.query(ctx, "current notices", `SELECT `+cols+` FROM notices
		WHERE ends_at > $now AND withdrawn_at = 0 ORDER BY starts_at, id LIMIT $1`, MaxLive)
	return out, err
}

// List returns every notice, newest first, at most limit (≤ MaxList), for admins.
//
// Errors: unauthenticated, forbidden.
func (s *Service) List(ctx context.Context, a Actor, limit int) ([]Notice, error) {
	if err := requireAdmin(a); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxList {
		limit = MaxList
	}
	out, _, err := s.query(ctx, "list notices", `SELECT `+cols+` FROM notices ORDER BY created_at DESC, id DESC LIMIT $1`, limit)
	return out, err
}

func (s *Service) invalidate() {
	s.mu.Lock()
	s.loaded, s.bannerLoaded = false, false
	s.mu.Unlock()
}

// Banner is Active cached like the maintenance windows: every page shows it, so it must
// not cost a query per page view. Errors: internal only.
func (s *Service) Banner(ctx context.Context) ([]Notice, error) {
	s.mu.Lock()
	if s.bannerLoaded && time.Since(s.bannerAt) < cacheTTL {
		b := s.banner
		s.mu.Unlock()
		return b, nil
	}
	s.mu.Unlock()
	b, err := s.Active(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.banner, s.bannerAt, s.bannerLoaded = b, time.Now(), true
	s.mu.Unlock()
	return b, nil
}

// windowsNow returns the cached maintenance windows that had not ended at load time,
// reloading them when the copy is older than cacheTTL.
func (s *Service) windowsNow(ctx context.Context) ([]Notice, error) {
	s.mu.Lock()
	if s.loaded && time.Since(s.loadedAt) < cacheTTL {
		w := s.windows
		s.mu.Unlock()
		return w, nil
	}
	s.mu.Unlock()
	// Concurrent callers may load at once after expiry; that is a handful of cheap indexed
	// reads, cheaper than making everyone wait on one.
	w, _, err := s.query(ctx, "maintenance windows", `SELECT `+cols+` FROM notices
		WHERE ends_at > $now AND kind = 'maintenance' AND withdrawn_at = 0 ORDER BY starts_at LIMIT $1`, MaxLive)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.windows, s.loadedAt, s.loaded = w, time.Now(), true
	s.mu.Unlock()
	return w, nil
}

// MaintenanceNow returns the maintenance window in force now, or nil. Errors: internal only.
func (s *Service) MaintenanceNow(ctx context.Context) (*Notice, error) {
	w, err := s.windowsNow(ctx)
	if err != nil {
		return nil, err
	}
	now := s.db.Clock.Now()
	var cur *Notice
	for i := range w {
		if w[i].ActiveAt(now) {
			// Back-to-back or overlapping windows: report the latest end, the real one.
			if cur == nil || w[i].EndsAt.After(cur.EndsAt) {
				cur = &w[i]
			}
		}
	}
	if cur == nil {
		return nil, nil
	}
	c := *cur
	return &c, nil
}

// MoneyAllowed is nil unless a maintenance window is in force; the wallet calls it before
// every money-moving operation. It is cheap: the windows are cached for about two seconds
// and compared with the clock on every call, so a window starts and ends on time on every
// node, and one created or withdrawn on another node is seen within the cache's age.
//
// Errors: maintenance, with params "until" (the end in the platform's time zone labelled
// by its offset, "2006-01-02 15:04 UTC+8") and "until_iso" (RFC 3339, UTC). Any other error is internal (the
// database); callers should treat it as a failure, not as permission.
func (s *Service) MoneyAllowed(ctx context.Context) error {
	w, err := s.MaintenanceNow(ctx)
	if err != nil {
		return fmt.Errorf("maintenance check: %w", err)
	}
	if w == nil {
		return nil
	}
	return MaintenanceError(w.EndsAt, s.loc)
}

// MaintenanceError is the `maintenance` error for a window ending at until, stated in loc.
// The zone is named by its offset ("UTC+8"), not its abbreviation: Beijing's "CST" reads
// as US Central time to English readers, and the same text goes to both languages.
func MaintenanceError(until time.Time, loc *time.Location) *apperr.Error {
	t := until.In(loc)
	return apperr.New(apperr.CodeMaintenance).
		With("until", t.Format("2006-01-02 15:04")+" "+offsetLabel(t)).
		With("until_iso", until.UTC().Format(time.RFC3339))
}

// offsetLabel names t's zone by its offset from UTC: "UTC", "UTC+8", "UTC+5:30", "UTC-3".
func offsetLabel(t time.Time) string {
	_, off := t.Zone()
	if off == 0 {
		return "UTC"
	}
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	s := "UTC" + sign + strconv.Itoa(off/3600)
	if m := off % 3600 / 60; m != 0 {
		s += fmt.Sprintf(":%02d", m)
	}
	return s
}
