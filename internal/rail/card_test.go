package rail

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"okpay/internal/apperr"
)

var now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func TestLuhn(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"4242424242424242", true}, {"4242424242424241", false}, {"79927398713", true},
		{"79927398710", false}, {"0", true}, {"", false}, {"42a2", false}, {"378282246310005", true},
	} {
		if got := Luhn(tc.in); got != tc.want {
			t.Errorf("Luhn(%q) = %v", tc.in, got)
		}
	}
}

func TestParseCardNumberAndBrand(t *testing.T) {
	for _, tc := range []struct {
		number, cvv string
		brand       Brand
		code        string
	}{
		{"4242 4242 4242 4242", "123", Visa, ""},
		{"4242-4242-4242-4242", "123", Visa, ""},
		{"4222222222222", "123", Visa, ""}, // 13-digit Visa
		{"5555555555554444", "123", Mastercard, ""},
		{"5105105105105100", "123", Mastercard, ""},
		{"2223003122003222", "123", Mastercard, ""},
		{"2720990000000007", "123", Mastercard, ""},
		{"378282246310005", "1234", Amex, ""},
		{"371449635398431", "1234", Amex, ""},
		{"6200000000000005", "123", UnionPay, ""},
		{"6212345678901265", "123", UnionPay, ""},
		{"3566002020360505", "123", JCB, ""},
		{"3530111333300000", "123", JCB, ""},
		{"6011111111111117", "123", Discover, ""},
		{"6445644564456445", "123", Discover, ""},
		{"6500000000000002", "123", Discover, ""},
		{"4242424242424241", "123", "", CodeCardNumberInvalid},     // Luhn
		{"42424242424", "123", "", CodeCardNumberInvalid},          // 11 digits
		{"42424242424242424242", "123", "", CodeCardNumberInvalid}, // 20 digits
		{"4242 4242 4242 424x", "123", "", CodeCardNumberInvalid},
		{"4242.4242.4242.4242", "123", "", CodeCardNumberInvalid},
		{"", "123", "", CodeCardNumberInvalid},
		{"424242424242", "123", "", CodeCardNumberInvalid},      // Luhn-valid 12 digits, no Visa length
		{"5555555555555557", "123", Mastercard, ""},             // sanity
		{"55555555555555552", "123", "", CodeCardNumberInvalid}, // 17-digit Mastercard
		{"30569309025904", "123", "", CodeCardBrandUnsupported}, // Diners
		{"1234567812345670", "123", "", CodeCardBrandUnsupported},
		{"2220990000000002", "123", "", CodeCardBrandUnsupported}, // just below the 2-series
		{"2721000000000004", "123", "", CodeCardBrandUnsupported}, // just above
		{"3527000000000008", "123", "", CodeCardBrandUnsupported}, // just below JCB
		{strings.Repeat(" ", 50) + "4242424242424242", "123", "", CodeCardNumberInvalid},
		{"４２４２４２４２４２４２４２４２", "123", "", CodeCardNumberInvalid}, // full-width digits
	} {
		c, err := ParseCard(tc.number, "12", "2030", "Li Lei", tc.cvv, now)
		if tc.code != "" {
			if !apperr.HasCode(err, tc.code) {
				t.Errorf("%q: want %s, got %v", tc.number, tc.code, err)
			}
			continue
		}
		if tc.number == "5555555555555557" {
			continue // only checks the table itself is Luhn-sane
		}
		if err != nil {
			t.Errorf("%q: %v", tc.number, err)
			continue
		}
		if c.Brand != tc.brand || c.Last4 != digitsOnly(tc.number)[len(digitsOnly(tc.number))-4:] || c.Number() != digitsOnly(tc.number) {
			t.Errorf("%q: got %s %s", tc.number, c.Brand, c.Last4)
		}
	}
}

func TestParseCardExpiryHolderCVV(t *testing.T) {
	ok := "4242424242424242"
	for _, tc := range []struct {
		name, number, month, year, holder, cvv, code string
	}{
		{"this month is still valid", ok, "3", "2026", "Li Lei", "123", ""},
		{"two-digit year", ok, "03", "26", "Li Lei", "123", ""},
		{"last month", ok, "2", "2026", "Li Lei", "123", CodeCardExpired},
		{"last year", ok, "12", "25", "Li Lei", "123", CodeCardExpired},
		{"month 13", ok, "13", "2030", "Li Lei", "123", CodeCardExpiryInvalid},
		{"month 0", ok, "0", "2030", "Li Lei", "123", CodeCardExpiryInvalid},
		{"month 001", ok, "001", "2030", "Li Lei", "123", CodeCardExpiryInvalid},
		{"3-digit year", ok, "1", "203", "Li Lei", "123", CodeCardExpiryInvalid},
		{"too far", ok, "1", "2047", "Li Lei", "123", CodeCardExpiryInvalid},
		{"20 years is fine", ok, "1", "2046", "Li Lei", "123", ""},
		{"empty month", ok, "", "2030", "Li Lei", "123", CodeCardExpiryInvalid},
		{"sign", ok, "+1", "2030", "Li Lei", "123", CodeCardExpiryInvalid},
		{"chinese holder", ok, "1", "2030", "李雷", "123", ""},
		{"dotted holder", ok, "1", "2030", "Maimaiti·Aili", "123", ""},
		{"empty holder", ok, "1", "2030", "   ", "123", CodeCardHolderInvalid},
		{"digits in holder", ok, "1", "2030", "4242 4242 4242 4242", "123", CodeCardHolderInvalid},
		{"65 characters", ok, "1", "2030", strings.Repeat("a", 65), "123", CodeCardHolderInvalid},
		{"64 characters", ok, "1", "2030", strings.Repeat("李", 64), "123", ""},
		{"control char", ok, "1", "2030", "Li\x00Lei", "123", CodeCardHolderInvalid},
		{"invalid utf8", ok, "1", "2030", "Li\xffLei", "123", CodeCardHolderInvalid},
		{"only punctuation", ok, "1", "2030", "..", "123", CodeCardHolderInvalid},
		{"cvv 2", ok, "1", "2030", "Li Lei", "12", CodeCardCVVInvalid},
		{"cvv 4 on visa", ok, "1", "2030", "Li Lei", "1234", CodeCardCVVInvalid},
		{"cvv 3 on amex", "378282246310005", "1", "2030", "Li Lei", "123", CodeCardCVVInvalid},
		{"cvv letters", ok, "1", "2030", "Li Lei", "12a", CodeCardCVVInvalid},
		{"first failure wins", "1", "13", "2030", "", "", CodeCardNumberInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCard(tc.number, tc.month, tc.year, tc.holder, tc.cvv, now)
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Holder != strings.Join(strings.Fields(tc.holder), " ") || c.CVV() != tc.cvv {
					t.Fatalf("holder %q cvv %q", c.Holder, c.CVV())
				}
				return
			}
			if !apperr.HasCode(err, tc.code) {
				t.Fatalf("want %s, got %v", tc.code, err)
			}
		})
	}
}

func TestParseCardListsEveryBadField(t *testing.T) {
	_, err := ParseCard("1", "13", "2030", "", "", now)
	e, ok := apperr.As(err)
	if !ok || e.Code != CodeCardNumberInvalid {
		t.Fatalf("%v", err)
	}
	var fields []string
	for _, f := range e.Fields {
		fields = append(fields, f.Field+"="+f.Code)
	}
	want := "number=card_number_invalid expiry=card_expiry_invalid holder=card_holder_invalid cvv=card_cvv_invalid"
	if strings.Join(fields, " ") != want {
		t.Fatalf("fields %v", fields)
	}
}

// A Card printed, logged or marshalled by mistake shows brand, last 4 and expiry only.
func TestCardNeverPrintsNumberOrCVV(t *testing.T) {
	c, err := ParseCard("4000 0027 6000 3184", "8", "2031", "Li Lei", "987", now)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		fmt.Fprintf(&sb, f+"\n", c)
	}
	fmt.Fprintf(&sb, "%v %+v\n", []Card{c}, &c)
	j, _ := json.Marshal(c)
	sb.Write(j)
	// No timestamps: their digits could match the CVV by chance.
	h := slog.NewJSONHandler(&sb, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	slog.New(h).Info("card", "card", c)
	out := sb.String()
	if strings.Contains(out, "4000002760003184") || strings.Contains(out, "987") || strings.Contains(out, "6000") {
		t.Fatalf("number or CVV printed:\n%s", out)
	}
	if !strings.Contains(out, "3184") {
		t.Fatalf("last 4 missing:\n%s", out)
	}
}

func TestSameName(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"Li Lei", "li  lei", true}, {"Maimaiti·Aili", "MAIMAITI AILI", true}, {"李雷", "李雷", true},
		{"Li Lei", "Lei Li", false}, {"李雷", "李蕾", false}, {"", "", false}, {"J. Smith", "J Smith", true},
	} {
		if got := SameName(tc.a, tc.b); got != tc.want {
			t.Errorf("SameName(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

func TestTestCardsAreValid(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range TestCards() {
		cvv := strings.Repeat("1", cvvLen(tc.Brand))
		c, err := ParseCard(tc.Number, "12", "2030", "Li Lei", cvv, now)
		if err != nil {
			t.Errorf("%s: %v", tc.Number, err)
			continue
		}
		if c.Brand != tc.Brand {
			t.Errorf("%s: brand %s, documented %s", tc.Number, c.Brand, tc.Brand)
		}
		if seen[c.Number()] {
			t.Errorf("%s listed twice", tc.Number)
		}
		seen[c.Number()] = true
		if tc.Code != "" {
			if _, ok := apperr.Lookup(tc.Code); !ok {
				t.Errorf("%s: unregistered code %s", tc.Number, tc.Code)
			}
		}
	}
}

func TestEveryCodeHasMessageAndFix(t *testing.T) {
	for _, code := range []string{CodeCardNumberInvalid, CodeCardExpired, CodeCardExpiryInvalid, CodeCardCVVInvalid,
		CodeCardHolderInvalid, CodeCardBrandUnsupported, CodeCardDeclined, CodeCardReportedStolen, CodeCardInsufficientFunds,
		CodeCardOTPRequired, CodeCardOTPInvalid, CodeCardOTPAttempts, CodeCardOTPMalformed, CodeCardOTPExpired,
		CodeCardAuthorizationExpired, CodeCardVerifyCodeInvalid, CodeCardVerifyAttempts, CodeCardVerifyCodeMalformed,
		CodeCardVerifyExpired, CodeCardNotFound, CodePayoutNameMismatch, CodePayoutRejected, CodeDepositAddressUnknown,
		CodeReferenceConflict, CodeOperationNotFound, CodeOperationState} {
		d, ok := apperr.Lookup(code)
		if !ok || d.Fix.En == "" || d.Fix.Zh == "" || d.Message.En == "" || d.Message.Zh == "" {
			t.Errorf("%s: missing message or fix: %+v", code, d)
		}
	}
}

func FuzzParseCard(f *testing.F) {
	for _, tc := range TestCards() {
		f.Add(tc.Number, "12", "2030", "Li Lei", "123")
	}
	f.Add("4242-4242", "1", "26", "李雷", "1234")
	f.Add("", "", "", "", "")
	f.Add("6", "00", "99999", "\xff", "1")
	f.Fuzz(func(t *testing.T, number, month, year, holder, cvv string) {
		c, err := ParseCard(number, month, year, holder, cvv, now)
		if err != nil {
			if _, ok := apperr.As(err); !ok {
				t.Fatalf("uncoded error %v", err)
			}
			return
		}
		n := c.Number()
		if len(n) < 12 || len(n) > 19 || !isDigits(n) || !Luhn(n) {
			t.Fatalf("accepted bad number %q", n)
		}
		if c.Brand == "" || c.Last4 != n[len(n)-4:] || len(c.CVV()) != cvvLen(c.Brand) {
			t.Fatalf("accepted %q brand %q cvv %q", n, c.Brand, c.CVV())
		}
		if c.ExpMonth < 1 || c.ExpMonth > 12 || expired(c.ExpMonth, c.ExpYear, now) {
			t.Fatalf("accepted expiry %d/%d", c.ExpMonth, c.ExpYear)
		}
		if c.Holder == "" || utf8.RuneCountInString(c.Holder) > MaxHolderLen || strings.ContainsAny(c.Holder, "0123456789") {
			t.Fatalf("accepted holder %q", c.Holder)
		}
		if s := fmt.Sprintf("%+v %#v", c, c); strings.Contains(s, n) {
			t.Fatalf("number printed: %s", s)
		}
	})
}
