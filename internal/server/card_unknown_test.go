package server_test

import (
	"testing"

	"okpay/internal/identity"
	"okpay/internal/server"
	"okpay/internal/wallet"
)

// A top-up or withdrawal naming a card the person does not have (removed, mistyped, or
// someone else's) says so and names the field, instead of the page-level not_found
// ("check the address, or go back to the home page").
func TestMoneyFlowsWithUnknownCard(t *testing.T) {
	walletEngines(t, func(t *testing.T, app *server.App, _ *syncBuffer) {
		alice := newPerson(t, app, "alice@example.com", identity.RoleCustomer)
		bob := newPerson(t, app, "bob@example.com", identity.RoleCustomer)
		bobs := bob.bindCard("4242424242424242", "Bob B")
		alice.must(200, "POST", "/me/step-up", map[string]string{"password": walletPW}, nil)
		for _, id := range []string{"no-such-card", bobs.ID} {
			for _, path := range []string{"/top-ups", "/withdrawals"} {
				e := alice.sendFails(wallet.CodeCardUnknown, "unknown-card-"+path+id, "POST", path,
					map[string]string{"card_id": id, "amount": "10.00", "asset": "CNY"})
				if len(e.Error.Fields) != 1 || e.Error.Fields[0].Field != "card_id" {
					t.Errorf("%s with card %q: fields %+v, want card_id", path, id, e.Error.Fields)
				}
			}
		}
	})
}

// A money call without an Idempotency-Key says the header is missing and what to send,
// not that the (absent) key has the wrong characters.
func TestMoneyCallWithoutKeySaysSo(t *testing.T) {
	walletEngines(t, func(t *testing.T, app *server.App, _ *syncBuffer) {
		alice := newPerson(t, app, "alice@example.com", identity.RoleCustomer)
		bob := newPerson(t, app, "bob@example.com", identity.RoleCustomer)
		e := alice.fails("validation_failed", "POST", "/transfers", map[string]string{"to": bob.u.Email, "amount": "1", "asset": "CNY"})
		if len(e.Error.Fields) != 1 || e.Error.Fields[0].Field != "idempotency_key" || e.Error.Fields[0].Code != wallet.FieldKeyRequired {
			t.Fatalf("fields %+v, want idempotency_key: %s", e.Error.Fields, wallet.FieldKeyRequired)
		}
	})
}
