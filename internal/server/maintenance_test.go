package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/identity"
	"okpay/internal/server"
	"okpay/internal/support/notice"
)

// A maintenance window announced by an admin stops money from moving on the real server —
// with the `maintenance` code, the end time and a fix — while signing in and reading keep
// working; withdrawing the window lets money move again.
func TestMaintenanceWindowStopsMoneyOnly(t *testing.T) {
	walletEngines(t, func(t *testing.T, app *server.App, _ *syncBuffer) {
		ctx := context.Background()
		alice := newPerson(t, app, "alice@example.com", identity.RoleCustomer)
		bob := newPerson(t, app, "bob@example.com", identity.RoleCustomer)
		card := alice.bindCard("4242424242424242", "Alice A")
		alice.sendOK(201, "top-1", "POST", "/top-ups", map[string]string{"card_id": card.ID, "amount": "50.00", "asset": "CNY"}, nil)

		admin := notice.Actor{ID: "admin-1", Role: notice.RoleAdmin}
		n, err := app.Support.Notices.Create(ctx, admin, notice.Input{Kind: notice.KindMaintenance,
			Title:  apperr.Text{En: "Planned maintenance", Zh: "计划维护"},
			Body:   apperr.Text{En: "Payments pause for an upgrade.", Zh: "升级期间暂停支付。"},
			EndsAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		transfer := map[string]string{"to": bob.u.Email, "amount": "1.00", "asset": "CNY"}
		// The check caches windows for a moment, so allow it to notice the new one.
		var resp *http.Response
		var e apiError
		for deadline := time.Now().Add(5 * time.Second); ; {
			resp, e = alice.send("t-"+time.Now().Format("150405.000000"), "POST", "/transfers", transfer, nil)
			if e.Error.Code == apperr.CodeMaintenance || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if resp.StatusCode != http.StatusServiceUnavailable || e.Error.Code != apperr.CodeMaintenance || e.Error.Fix == "" || e.Error.Params["until"] == "" {
			t.Fatalf("transfer during maintenance: %d %+v", resp.StatusCode, e.Error)
		}
		if alice.available("CNY") != "50.00" {
			t.Fatalf("money moved during maintenance: %s", alice.available("CNY"))
		}
		// Reading and signing in still work.
		alice.must(200, "GET", "/me", nil, nil)
		newPerson(t, app, "carol@example.com", identity.RoleCustomer)

		if err := app.Support.Notices.Withdraw(ctx, admin, n.ID); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); ; {
			resp, e = alice.send("after-"+time.Now().Format("150405.000000"), "POST", "/transfers", transfer, nil)
			if resp.StatusCode == http.StatusCreated || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if resp.StatusCode != http.StatusCreated || alice.available("CNY") != "49.00" {
			t.Fatalf("transfer after maintenance: %d %+v, balance %s", resp.StatusCode, e.Error, alice.available("CNY"))
		}
		reconcile(t, app)
	})
}
