package server_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/server"
	"okpay/internal/support/notice"
)

// statusBody is GET /api/v1/status as a client reads it.
type statusBody struct {
	Status      string `json:"status"`
	Maintenance *struct {
		Title    string    `json:"title"`
		StartsAt time.Time `json:"starts_at"`
		EndsAt   time.Time `json:"ends_at"`
		Paused   []string  `json:"paused"`
		Message  string    `json:"message"`
	} `json:"maintenance"`
}

// serverTimeRE finds the server time on the status page.
var serverTimeRE = regexp.MustCompile(`(?s)<dd><time datetime="[^"]+">([^<]*)</time></dd>`)

// While a maintenance window is in force the status API and the status page say so —
// which services are paused and until when, in the reader's language and time zone —
// instead of "all systems operational"; when it is withdrawn they are back to normal.
func TestStatusDuringMaintenance(t *testing.T) {
	walletEngines(t, func(t *testing.T, app *server.App, _ *syncBuffer) {
		ctx := context.Background()
		anon := newClient(t, app.URL())
		var st statusBody
		anon.must(200, "GET", "/status", nil, &st)
		if st.Status != "operational" || st.Maintenance != nil {
			t.Fatalf("before maintenance: %+v", st)
		}

		admin := notice.Actor{ID: "admin-1", Role: notice.RoleAdmin}
		n, err := app.Support.Notices.Create(ctx, admin, notice.Input{Kind: notice.KindMaintenance,
			Title:  apperr.Text{En: "Bank maintenance", Zh: "银行维护"},
			Body:   apperr.Text{En: "Money movements pause for a bank upgrade.", Zh: "银行升级期间暂停资金操作。"},
			EndsAt: time.Now().Add(90 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		// The maintenance check caches windows for a moment.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			st = statusBody{}
			anon.must(200, "GET", "/status", nil, &st)
			if st.Status != "operational" || time.Now().After(deadline) {
				break
			}
		}
		m := st.Maintenance
		if st.Status != "maintenance" || m == nil {
			t.Fatalf("during maintenance: %+v", st)
		}
		if !m.EndsAt.Equal(n.EndsAt) || !m.StartsAt.Equal(n.StartsAt) || m.Title != "Bank maintenance" {
			t.Errorf("window %+v, want %v – %v", m, n.StartsAt, n.EndsAt)
		}
		for _, p := range []string{"payments", "transfers", "top_ups", "withdrawals", "refunds"} {
			if !slices.Contains(m.Paused, p) {
				t.Errorf("paused %v lacks %s", m.Paused, p)
			}
		}
		enEnd := n.EndsAt.UTC().Format("2 Jan 2006 15:04 UTC")
		if !strings.Contains(m.Message, enEnd) || !strings.Contains(strings.ToLower(m.Message), "transfers") {
			t.Errorf("en message %q lacks the end %q or what is paused", m.Message, enEnd)
		}
		beijing := time.FixedZone("UTC+8", 8*3600)
		zhEnd := n.EndsAt.In(beijing).Format("2006-01-02 15:04") + "（北京时间）"
		anon.Header.Set("Accept-Language", "zh-CN")
		var zh statusBody
		anon.must(200, "GET", "/status", nil, &zh)
		if zh.Maintenance == nil || !strings.Contains(zh.Maintenance.Message, zhEnd) || !strings.Contains(zh.Maintenance.Message, "转账") ||
			zh.Maintenance.Title != "银行维护" {
			t.Errorf("zh maintenance %+v, want the end %q", zh.Maintenance, zhEnd)
		}

		// The page, in English (UTC) and in Chinese (Beijing time, labelled).
		_, en := get(t, app.URL()+"/status", map[string]string{"Accept-Language": "en"})
		must(t, en, "Maintenance in progress", "paused until "+enEnd, "Signing in")
		if strings.Contains(en, "All systems operational") {
			t.Error("en status page says all systems operational during maintenance")
		}
		_, zhPage := get(t, app.URL()+"/status", map[string]string{"Accept-Language": "zh-CN"})
		must(t, zhPage, "系统维护中", "暂停至 "+zhEnd, n.StartsAt.In(beijing).Format("2006-01-02 15:04")+"（北京时间）")
		if strings.Contains(zhPage, "所有服务运行正常") {
			t.Error("zh status page says all services normal during maintenance")
		}
		if sm := serverTimeRE.FindStringSubmatch(zhPage); sm == nil || !strings.Contains(sm[1], "（北京时间）") {
			t.Errorf("zh server time is not labelled Beijing time: %q", sm)
		}

		if err := app.Support.Notices.Withdraw(ctx, admin, n.ID); err != nil {
			t.Fatal(err)
		}
		anon.Header.Del("Accept-Language")
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			st = statusBody{}
			anon.must(200, "GET", "/status", nil, &st)
			if st.Status == "operational" || time.Now().After(deadline) {
				break
			}
		}
		if st.Status != "operational" || st.Maintenance != nil {
			t.Fatalf("after the window was withdrawn: %+v", st)
		}
		_, en = get(t, app.URL()+"/status", map[string]string{"Accept-Language": "en"})
		must(t, en, "All systems operational")
	})
}
