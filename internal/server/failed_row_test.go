package server_test

import (
	"regexp"
	"strings"
	"testing"

	"okpay/internal/identity"
	"okpay/internal/server"
)

// A failed top-up moved no money: its activity row must not read like a credit (a green
// "+100.00 CNY") and must say why it failed, so the list alone answers "did I get it?".
func TestFailedActivityRowIsNotACredit(t *testing.T) {
	walletEngines(t, func(t *testing.T, app *server.App, _ *syncBuffer) {
		alice := newPerson(t, app, "alice@example.com", identity.RoleCustomer)
		card := alice.bindCard("4000000000000341", "Alice A") // verifies, then every top-up is declined
		alice.sendFails("card_declined", "top-declined", "POST", "/top-ups", map[string]string{"card_id": card.ID, "amount": "100.00", "asset": "CNY"})
		page := alice.page("/activity?status=failed")
		row := regexp.MustCompile(`(?s)<tr class="w-act"[^>]*data-status="failed">.*?</tr>`).FindString(page)
		if row == "" {
			t.Fatalf("no failed row on the activity page:\n%s", page)
		}
		if strings.Contains(row, "+100.00") || strings.Contains(row, "w-in") {
			t.Errorf("failed top-up shown as a credit:\n%s", row)
		}
		if !strings.Contains(row, "100.00 CNY") || !strings.Contains(row, "w-void") {
			t.Errorf("failed top-up: want the amount shown void (w-void):\n%s", row)
		}
		if !strings.Contains(row, "declined") {
			t.Errorf("failed top-up: the reason is not on the row:\n%s", row)
		}
	})
}

// The deposit page says which coin and network the address takes, in the reader's
// language: coins sent on another network are lost, and no later screen can say so.
func TestDepositPageWarnsCoinAndNetwork(t *testing.T) {
	walletEngines(t, func(t *testing.T, app *server.App, _ *syncBuffer) {
		alice := newPerson(t, app, "alice@example.com", identity.RoleCustomer)
		if page := alice.page("/wallet/deposit?asset=USDT"); !strings.Contains(page, "Send only USDT on the TRC20 network") {
			t.Errorf("en deposit page has no coin/network warning:\n%s", page)
		}
		alice.Header.Set("Accept-Language", "zh-CN")
		defer alice.Header.Del("Accept-Language")
		if page := alice.page("/wallet/deposit?asset=USDT"); !strings.Contains(page, "此地址只接收 TRC20 网络上的 USDT") {
			t.Errorf("zh deposit page has no coin/network warning:\n%s", page)
		}
	})
}
