package server_test

import (
	"strings"
	"testing"

	"okpay/internal/identity"
	"okpay/internal/server"
	"okpay/internal/wallet"
)

// A transfer in an asset the sender holds no wallet of must fail without opening one for
// either person: a refusal changes nothing, and empty USD or BTC rows appearing on both
// wallet pages after a failed payment look like a half-done movement.
func TestRefusedTransferOpensNoWallets(t *testing.T) {
	walletEngines(t, func(t *testing.T, app *server.App, _ *syncBuffer) {
		alice := newPerson(t, app, "alice@example.com", identity.RoleCustomer)
		bob := newPerson(t, app, "bob@example.com", identity.RoleCustomer)
		assets := func(p *person) string {
			var bs struct{ Balances []wallet.Balance }
			p.must(200, "GET", "/wallet/balances", nil, &bs)
			var out []string
			for _, b := range bs.Balances {
				out = append(out, b.Asset)
			}
			return strings.Join(out, ",")
		}
		beforeA, beforeB := assets(alice), assets(bob)
		for i, c := range []struct{ asset, amount string }{{"USD", "1"}, {"BTC", "0.0001"}} {
			e := bob.sendFails(wallet.CodeInsufficientFunds, "nowallet-"+c.asset, "POST", "/transfers",
				map[string]string{"to": alice.u.Email, "amount": c.amount, "asset": c.asset})
			if asset := c.asset; !strings.Contains(e.Error.Fix, "0.00") || strings.Contains(e.Error.Fix, "{") {
				t.Errorf("%d %s: fix %q: want the available 0 filled in", i, asset, e.Error.Fix)
			}
			// Cards top up CNY only: a crypto wallet short of money needs the way in that works.
			if c.asset == "BTC" && !strings.Contains(e.Error.Fix, "deposit") {
				t.Errorf("BTC: fix %q does not point to a deposit", e.Error.Fix)
			}
		}
		if a, b := assets(alice), assets(bob); a != beforeA || b != beforeB {
			t.Fatalf("wallets after refused transfers: alice %q (was %q), bob %q (was %q)", a, beforeA, b, beforeB)
		}
		reconcile(t, app)
	})
}
