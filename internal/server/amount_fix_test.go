package server_test

import (
	"strings"
	"testing"

	"okpay/internal/identity"
	"okpay/internal/server"
)

// Every amount a person types is refused with the same fix, naming the asset's decimal
// places. Paths that parsed amounts on their own left the fix's {scale} placeholder raw
// ("at most {scale} decimal places") in both languages.
func TestAmountInvalidFixNamesDecimalPlaces(t *testing.T) {
	walletEngines(t, func(t *testing.T, app *server.App, _ *syncBuffer) {
		alice := newPerson(t, app, "alice@example.com", identity.RoleCustomer)
		bob := newPerson(t, app, "bob@example.com", identity.RoleCustomer)
		cases := []struct {
			name, want string
			call       func(lang string) apiError
		}{
			{"withdrawal fee quote", "2", func(lang string) apiError {
				alice.Header.Set("Accept-Language", lang)
				_, e := alice.do("GET", "/withdrawals/fee?asset=CNY&amount=abc", nil, nil)
				return e
			}},
			{"simulated deposit", "6", func(lang string) apiError {
				alice.Header.Set("Accept-Language", lang)
				return alice.sendFails("amount_invalid", "dep-abc-"+lang, "POST", "/deposits/simulate", map[string]string{"asset": "USDT", "amount": "abc"})
			}},
			{"transfer", "2", func(lang string) apiError {
				alice.Header.Set("Accept-Language", lang)
				return alice.sendFails("amount_invalid", "xfer-abc-"+lang, "POST", "/transfers", map[string]string{"to": bob.u.Email, "amount": "abc", "asset": "CNY"})
			}},
		}
		for _, c := range cases {
			for _, lang := range []string{"en", "zh-CN"} {
				e := c.call(lang)
				if e.Error.Code != "amount_invalid" {
					t.Fatalf("%s (%s): code %q, want amount_invalid", c.name, lang, e.Error.Code)
				}
				if strings.Contains(e.Error.Fix, "{") || !strings.Contains(e.Error.Fix, c.want) {
					t.Errorf("%s (%s): fix %q: want the asset's %s decimal places filled in", c.name, lang, e.Error.Fix, c.want)
				}
			}
		}
		alice.Header.Del("Accept-Language")
	})
}
