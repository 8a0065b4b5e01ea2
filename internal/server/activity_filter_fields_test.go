package server_test

import (
	"strings"
	"testing"

	"okpay/internal/identity"
	"okpay/internal/server"
	"okpay/internal/wallet"
)

// A bad history filter names the query parameter the caller sent (min, not min_amount;
// type, not types) and says what is wrong with it: "filter value not valid" on a field
// the caller never sent left them guessing.
func TestActivityFilterErrorsNameTheParameter(t *testing.T) {
	walletEngines(t, func(t *testing.T, app *server.App, _ *syncBuffer) {
		alice := newPerson(t, app, "alice@example.com", identity.RoleCustomer)
		cases := []struct{ query, field, code string }{
			{"min=5", "asset", wallet.FieldFilterNeedsAsset},
			{"asset=CNY&min=abc", "min", wallet.FieldFilterAmount},
			{"asset=CNY&min=9&max=5", "max", wallet.FieldFilterAmount},
			{"type=bogus", "type", wallet.FieldFilterInvalid},
			{"status=bogus", "status", wallet.FieldFilterInvalid},
			{"from=2026-13-01", "from", wallet.FieldFilterDate},
			{"from=2026-11-20&to=2026-11-01", "to", wallet.FieldFilterDate},
			{"q=" + urlq("!!"), "q", wallet.FieldTextInvalid},
		}
		// The page marks the same field, in words, next to its input.
		if page := alice.pageStatus(422, "/activity?asset=CNY&min=abc"); !strings.Contains(page, `id="f-min" name="min" inputmode="decimal" value="abc" maxlength="24"><span class="field-error">Enter an amount`) {
			t.Errorf("activity page does not mark the min field:\n%s", page)
		}
		for _, path := range []string{"/activity?", "/activity/export.csv?"} {
			for _, c := range cases {
				e := alice.fails("validation_failed", "GET", path+c.query, nil)
				if len(e.Error.Fields) != 1 || e.Error.Fields[0].Field != c.field || e.Error.Fields[0].Code != c.code {
					t.Errorf("%s%s: fields %+v, want %s: %s", path, c.query, e.Error.Fields, c.field, c.code)
				}
			}
		}
	})
}
