package notice_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/support/notice"
)

var admin = notice.Actor{ID: "admin-1", Role: "admin"}

func text(s string) apperr.Text { return apperr.Text{En: s, Zh: s + "（中文）"} }

func open(t *testing.T, e db.Engine) (*notice.Service, *dbtest.Clock) {
	clock := dbtest.NewClock()
	d := dbtest.Open(t, e, clock)
	return notice.New(d, notice.Config{}), clock
}

func engines(t *testing.T, fn func(t *testing.T, s *notice.Service, c *dbtest.Clock)) {
	for _, e := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(e), func(t *testing.T) {
			s, c := open(t, e)
			fn(t, s, c)
		})
	}
}

// wallet is a tiny stand-in for a money-moving call: it asks MoneyAllowed first, as the
// wallet does, and only then "moves money".
type wallet struct {
	notices *notice.Service
	moved   int
}

func (w *wallet) Transfer(ctx context.Context) error {
	if err := w.notices.MoneyAllowed(ctx); err != nil {
		return err
	}
	w.moved++
	return nil
}

func TestMaintenanceWindow(t *testing.T) {
	engines(t, func(t *testing.T, s *notice.Service, clock *dbtest.Clock) {
		ctx := context.Background()
		start := clock.Now().Add(time.Hour)
		end := start.Add(2 * time.Hour)
		n, err := s.Create(ctx, admin, notice.Input{Kind: notice.KindMaintenance, Title: text("Upgrade"), Body: text("Money moves pause."),
			StartsAt: start, EndsAt: end})
		if err != nil {
			t.Fatal(err)
		}
		w := &wallet{notices: s}
		// Before the window: allowed, and the notice is upcoming but not active.
		if err := w.Transfer(ctx); err != nil {
			t.Fatalf("before window: %v", err)
		}
		if act, _ := s.Active(ctx); len(act) != 0 {
			t.Fatalf("active before start: %v", act)
		}
		if cur, _ := s.Current(ctx); len(cur) != 1 || cur[0].ID != n.ID {
			t.Fatalf("current: %v", cur)
		}
		// Inside: refused with the end time; reading still works.
		clock.Set(start.Add(time.Minute))
		err = w.Transfer(ctx)
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.CodeMaintenance {
			t.Fatalf("inside window: %v", err)
		}
		// The end is Beijing time labelled by its offset: "CST" would read as US Central
		// time to English readers.
		if e.Params["until_iso"] != end.UTC().Format(time.RFC3339) || e.Params["until"] != end.In(time.FixedZone("", 8*3600)).Format("2006-01-02 15:04")+" UTC+8" {
			t.Fatalf("until params: %v", e.Params)
		}
		if msg := e.Fix("en"); msg == "" || !strings.Contains(msg, e.Params["until"]) {
			t.Fatalf("fix does not carry the end: %q", msg)
		}
		if act, _ := s.Active(ctx); len(act) != 1 {
			t.Fatalf("active inside: %v", act)
		}
		// At the end instant: allowed again (the end is exclusive).
		clock.Set(end)
		if err := w.Transfer(ctx); err != nil {
			t.Fatalf("at end: %v", err)
		}
		if w.moved != 2 {
			t.Fatalf("moved %d", w.moved)
		}
		// Withdrawn in the middle of a window: allowed at once on this node.
		clock.Set(start.Add(time.Minute))
		if err := w.Transfer(ctx); !apperr.HasCode(err, apperr.CodeMaintenance) {
			t.Fatalf("expected maintenance: %v", err)
		}
		if err := s.Withdraw(ctx, admin, n.ID); err != nil {
			t.Fatal(err)
		}
		if err := w.Transfer(ctx); err != nil {
			t.Fatalf("after withdrawal: %v", err)
		}
		if err := s.Withdraw(ctx, admin, n.ID); !apperr.HasCode(err, apperr.CodeNotFound) {
			t.Fatalf("withdraw twice: %v", err)
		}
	})
}

func TestInfoNoticeDoesNotBlockMoney(t *testing.T) {
	engines(t, func(t *testing.T, s *notice.Service, clock *dbtest.Clock) {
		ctx := context.Background()
		for _, k := range []notice.Kind{notice.KindInfo, notice.KindIncident} {
			if _, err := s.Create(ctx, admin, notice.Input{Kind: k, Title: text("t"), Body: text("b"), EndsAt: clock.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.MoneyAllowed(ctx); err != nil {
			t.Fatal(err)
		}
		act, err := s.Active(ctx)
		if err != nil || len(act) != 2 || act[0].Kind != notice.KindIncident {
			t.Fatalf("active: %v %v", act, err)
		}
	})
}

func TestWindowSeenByAnotherNode(t *testing.T) {
	// Two services on one database stand for two nodes: the second learns of a window
	// created on the first within the cache's age, without any message between them.
	clock := dbtest.NewClock()
	d := dbtest.Open(t, db.SQLite, clock)
	a, b := notice.New(d, notice.Config{}), notice.New(d, notice.Config{})
	ctx := context.Background()
	if err := b.MoneyAllowed(ctx); err != nil { // b caches "no windows"
		t.Fatal(err)
	}
	if _, err := a.Create(ctx, admin, notice.Input{Kind: notice.KindMaintenance, Title: text("t"), Body: text("b"), EndsAt: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := b.MoneyAllowed(ctx)
		if apperr.HasCode(err, apperr.CodeMaintenance) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("second node never saw the window: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestCreateValidation(t *testing.T) {
	engines(t, func(t *testing.T, s *notice.Service, clock *dbtest.Clock) {
		ctx := context.Background()
		now := clock.Now()
		good := notice.Input{Kind: notice.KindInfo, Title: text("t"), Body: text("b"), EndsAt: now.Add(time.Hour)}
		if _, err := s.Create(ctx, notice.Actor{ID: "u", Role: "agent"}, good); !apperr.HasCode(err, apperr.CodeForbidden) {
			t.Fatalf("agent created a notice: %v", err)
		}
		if _, err := s.Create(ctx, notice.Actor{}, good); !apperr.HasCode(err, apperr.CodeUnauthenticated) {
			t.Fatalf("anonymous: %v", err)
		}
		if _, err := s.List(ctx, notice.Actor{ID: "u", Role: "customer"}, 10); !apperr.HasCode(err, apperr.CodeForbidden) {
			t.Fatalf("customer listed: %v", err)
		}
		cases := map[string]struct {
			in    notice.Input
			field string
		}{
			"kind":      {notice.Input{Kind: "party", Title: text("t"), Body: text("b"), EndsAt: now.Add(time.Hour)}, "kind"},
			"zh title":  {notice.Input{Kind: "info", Title: apperr.Text{En: "t"}, Body: text("b"), EndsAt: now.Add(time.Hour)}, "title.zh"},
			"ended":     {notice.Input{Kind: "info", Title: text("t"), Body: text("b"), EndsAt: now.Add(-time.Hour)}, "ends_at"},
			"backwards": {notice.Input{Kind: "info", Title: text("t"), Body: text("b"), StartsAt: now.Add(2 * time.Hour), EndsAt: now.Add(time.Hour)}, "ends_at"},
			"too long":  {notice.Input{Kind: "info", Title: text("t"), Body: text("b"), EndsAt: now.Add(8 * 24 * time.Hour)}, "ends_at"},
		}
		for name, c := range cases {
			_, err := s.Create(ctx, admin, c.in)
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.CodeValidation || len(e.Fields) == 0 || e.Fields[0].Field != c.field {
				t.Errorf("%s: %v", name, err)
			}
		}
		list, err := s.List(ctx, admin, 10)
		if err != nil || len(list) != 0 {
			t.Fatalf("invalid notices were stored: %v %v", list, err)
		}
		if err := s.Withdraw(ctx, admin, "not-a-uuid"); !apperr.HasCode(err, apperr.CodeNotFound) {
			t.Fatal(err)
		}
	})
}

// The end time names its zone by the offset, which reads the same in every language and
// cannot be taken for another zone's abbreviation.
func TestMaintenanceErrorNamesZoneByOffset(t *testing.T) {
	end := time.Date(2026, 11, 22, 11, 17, 0, 0, time.UTC)
	for _, c := range []struct {
		loc  *time.Location
		want string
	}{
		{time.FixedZone("CST", 8*3600), "2026-11-22 19:17 UTC+8"},
		{time.UTC, "2026-11-22 11:17 UTC"},
		{time.FixedZone("IST", 5*3600+1800), "2026-11-22 16:47 UTC+5:30"},
		{time.FixedZone("", -3*3600), "2026-11-22 08:17 UTC-3"},
	} {
		if got := notice.MaintenanceError(end, c.loc).Params["until"]; got != c.want {
			t.Errorf("in %v: until %q, want %q", c.loc, got, c.want)
		}
	}
}
