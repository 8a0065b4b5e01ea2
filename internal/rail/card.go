package rail

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"okpay/internal/apperr"
)

// Brand is a card network, derived from the card number (never taken from user input,
// so a mistyped brand cannot route a card to the wrong network).
type Brand string

const (
	Visa       Brand = "visa"
	Mastercard Brand = "mastercard"
	Amex       Brand = "amex"
	UnionPay   Brand = "unionpay"
	JCB        Brand = "jcb"
	Discover   Brand = "discover"
)

// DisplayName is the brand as printed on cards and in lists.
func (b Brand) DisplayName() string {
	switch b {
	case Visa:
		return "Visa"
	case Mastercard:
		return "Mastercard"
	case Amex:
		return "American Express"
	case UnionPay:
		return "UnionPay"
	case JCB:
		return "JCB"
	case Discover:
		return "Discover"
	}
	return string(b)
}

// Limits on card input. Raw input is capped before any work so a hostile form field costs
// nothing; the holder cap matches what card networks emboss and what lists can show.
const (
	maxRawNumberLen = 40
	minPANLen       = 12
	maxPANLen       = 19
	maxRawFieldLen  = 8
	MaxHolderLen    = 64 // characters (runes)
	// maxExpiryYears: issuers do not print expiries further out than this; a later year is
	// a typo (e.g. 2092 for 2029) that would otherwise be accepted silently.
	maxExpiryYears = 20
)

// Card is a validated card as typed by its holder. The full number and the CVV are
// unexported and every printing path (fmt verbs, slog, JSON) leaves them out, so a Card
// logged by mistake leaks only brand, last four digits and expiry. Pass it to a Rail's
// TokenizeCard and drop it; never store it.
type Card struct {
	Brand    Brand  `json:"brand"`
	Last4    string `json:"last4"`
	ExpMonth int    `json:"exp_month"`
	ExpYear  int    `json:"exp_year"` // four digits
	Holder   string `json:"holder"`   // trimmed, inner spaces collapsed

	number string
	cvv    string
}

// Number is the full card number, digits only. It exists for Rail implementations, which
// send it to the card network; nothing else should call it.
func (c Card) Number() string { return c.number }

// CVV is the security code, for Rail implementations only: it goes to the network with
// the tokenisation request and is never stored.
func (c Card) CVV() string { return c.cvv }

// String shows the card the way lists do: brand, last four, expiry.
func (c Card) String() string {
	return fmt.Sprintf("%s •••• %s %02d/%04d", c.Brand.DisplayName(), c.Last4, c.ExpMonth, c.ExpYear)
}

// Format makes every fmt verb (including %+v and %#v, which would otherwise print the
// unexported number and CVV) print String.
func (c Card) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue keeps the number and CVV out of structured logs.
func (c Card) LogValue() slog.Value {
	return slog.GroupValue(slog.String("brand", string(c.Brand)), slog.String("last4", c.Last4),
		slog.Int("exp_month", c.ExpMonth), slog.Int("exp_year", c.ExpYear))
}

// ParseCard validates a card as typed into a form and returns it with its brand.
//
// number may contain spaces and dashes; the rest must be 12–19 digits passing the Luhn
// check, of a supported brand and of a length that brand issues. expMonth is 1–12 (with or
// without a leading zero); expYear is YY or YYYY. The card is valid through the last day
// of its expiry month in now's location. holder is trimmed and must be 1–64 characters of
// letters, spaces and . ' - · (no digits, so a card number pasted into the name field is
// refused instead of stored). cvv is 3 digits, or 4 for American Express.
//
// Errors: one *apperr.Error whose code is the first failing check, in the order number,
// expiry, holder, cvv — CodeCardNumberInvalid, CodeCardBrandUnsupported, CodeCardExpiryInvalid,
// CodeCardExpired, CodeCardHolderInvalid, CodeCardCVVInvalid — and whose Fields list every
// failing field ("number", "expiry", "holder", "cvv"), so a form can mark all of them.
func ParseCard(number, expMonth, expYear, holder, cvv string, now time.Time) (Card, error) {
	var c Card
	var first *apperr.Error
	fail := func(field, code string) {
		if first == nil {
			first = apperr.New(code)
		}
		first.Field(field, code)
	}

	pan, brand, code := parseNumber(number)
	if code != "" {
		fail("number", code)
	} else {
		c.number, c.Brand, c.Last4 = pan, brand, pan[len(pan)-4:]
	}
	if m, y, code := parseExpiry(expMonth, expYear, now); code != "" {
		fail("expiry", code)
	} else {
		c.ExpMonth, c.ExpYear = m, y
	}
	if h, ok := normaliseHolder(holder); !ok {
		fail("holder", CodeCardHolderInvalid)
	} else {
		c.Holder = h
	}
	// The CVV length depends on the brand; without a brand only the shape can be checked.
	cvvOK := isDigits(cvv) && (len(cvv) == 3 || len(cvv) == 4)
	if brand != "" {
		cvvOK = isDigits(cvv) && len(cvv) == cvvLen(brand)
	}
	if !cvvOK {
		fail("cvv", CodeCardCVVInvalid)
	} else {
		c.cvv = cvv
	}
	if first != nil {
		return Card{}, first
	}
	return c, nil
}

func cvvLen(b Brand) int {
	if b == Amex {
		return 4
	}
	return 3
}

// parseNumber returns the digits, the brand, or the failing code.
func parseNumber(raw string) (pan string, brand Brand, code string) {
	if len(raw) > maxRawNumberLen {
		return "", "", CodeCardNumberInvalid
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		switch ch := raw[i]; {
		case ch >= '0' && ch <= '9':
			b.WriteByte(ch)
		case ch == ' ' || ch == '-':
		default:
			return "", "", CodeCardNumberInvalid
		}
	}
	pan = b.String()
	if len(pan) < minPANLen || len(pan) > maxPANLen || !Luhn(pan) {
		return "", "", CodeCardNumberInvalid
	}
	brand, lengths := brandOf(pan)
	if brand == "" {
		return "", "", CodeCardBrandUnsupported
	}
	for _, n := range lengths {
		if len(pan) == n {
			return pan, brand, ""
		}
	}
	// A Luhn-valid number of a length its network never issues is a typo (a digit dropped
	// or doubled), so it is reported as an invalid number, not an unsupported brand.
	return "", "", CodeCardNumberInvalid
}

// Luhn reports whether digits (ASCII digits only) pass the Luhn (mod 10) check.
func Luhn(digits string) bool {
	if digits == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if d < 0 || d > 9 {
			return false
		}
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// brandOf maps the issuer identification prefix to a brand and the lengths it issues.
// UnionPay owns all of 62 here (as the brief for China-facing wallets wants), which is why
// Discover's co-branded 622126–622925 range is not listed under Discover.
func brandOf(pan string) (Brand, []int) {
	p := func(n int) int { v, _ := strconv.Atoi(pan[:n]); return v }
	switch {
	case pan[0] == '4':
		return Visa, []int{13, 16, 19}
	case p(2) >= 51 && p(2) <= 55, p(4) >= 2221 && p(4) <= 2720:
		return Mastercard, []int{16}
	case p(2) == 34 || p(2) == 37:
		return Amex, []int{15}
	case p(2) == 62:
		return UnionPay, []int{16, 17, 18, 19}
	case p(4) >= 3528 && p(4) <= 3589:
		return JCB, []int{16, 17, 18, 19}
	case p(4) == 6011, p(3) >= 644 && p(3) <= 649, p(2) == 65:
		return Discover, []int{16, 17, 18, 19}
	}
	return "", nil
}

func parseExpiry(month, year string, now time.Time) (m, y int, code string) {
	month, year = strings.TrimSpace(month), strings.TrimSpace(year)
	if len(month) > maxRawFieldLen || len(year) > maxRawFieldLen || !isDigits(month) || !isDigits(year) {
		return 0, 0, CodeCardExpiryInvalid
	}
	m, _ = strconv.Atoi(month)
	y, _ = strconv.Atoi(year)
	switch len(year) {
	case 2:
		y += 2000
	case 4:
	default:
		return 0, 0, CodeCardExpiryInvalid
	}
	if len(month) > 2 || m < 1 || m > 12 {
		return 0, 0, CodeCardExpiryInvalid
	}
	ny, nm := now.Year(), int(now.Month())
	if y > ny+maxExpiryYears {
		return 0, 0, CodeCardExpiryInvalid
	}
	if y < ny || (y == ny && m < nm) {
		return 0, 0, CodeCardExpired
	}
	return m, y, ""
}

// normaliseHolder trims and collapses spaces so "  Li   Lei " and "Li Lei" are one name
// (the payout name check compares names in this form).
func normaliseHolder(s string) (string, bool) {
	if len(s) > MaxHolderLen*4 || !utf8.ValidString(s) {
		return "", false
	}
	s = strings.Join(strings.Fields(s), " ")
	n := utf8.RuneCountInString(s)
	if n == 0 || n > MaxHolderLen {
		return "", false
	}
	letters := 0
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.Is(unicode.Mn, r), unicode.Is(unicode.Mc, r):
		case r == ' ', r == '.', r == '\'', r == '-', r == '·', r == '•', r == '’':
		default:
			return "", false
		}
	}
	return s, letters > 0
}

// SameName compares two holder names the way the sandbox bank's payout name check does:
// case, spacing and the dot or middle dot between given and family names (common in
// transliterated Chinese and Uyghur names) do not matter. The wallet uses it to refuse a
// withdrawal card whose holder is not the verified real name before the bank bounces it.
func SameName(a, b string) bool {
	norm := func(s string) string {
		s = strings.Map(func(r rune) rune {
			switch r {
			case '.', '·', '•', '-', '\'', '’':
				return ' '
			}
			return unicode.ToLower(r)
		}, s)
		return strings.Join(strings.Fields(s), " ")
	}
	return norm(a) != "" && norm(a) == norm(b)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
