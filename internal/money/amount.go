package money

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Amount is a signed count of an asset's minor units: Amount(1230) is 12.30 CNY
// or 1230 JPY. It carries no asset, so it has no String or MarshalText; format
// it with the asset it belongs to.
type Amount int64

var (
	// ErrSyntax: the string is not a plain decimal number.
	ErrSyntax = errors.New("money: malformed amount (want digits with an optional leading minus and decimal point, e.g. 12.30)")
	// ErrTooManyDecimals: more decimal places than the asset's scale.
	ErrTooManyDecimals = errors.New("money: too many decimal places")
	// ErrOverflow: the amount does not fit in an int64 count of minor units.
	ErrOverflow = errors.New("money: amount out of range")
	// ErrNotPositive: zero or a negative amount where a positive one is required.
	ErrNotPositive = errors.New("money: amount must be positive")
)

// Parse reads a decimal string in units of a (for CNY, "12.30" is 1230 fen).
//
// The grammar is deliberately narrow, because amounts arrive from forms and
// APIs where a lenient parser turns typos into payments: an optional "-", then
// "0" or digits without leading zeros, then optionally "." and one to a.Scale
// digits. Only ASCII digits; no "+", spaces, exponents, group separators, or
// bare "." at either end. Fewer decimals than the scale are fine ("12.3");
// more are an error even if they are zeros ("12.300" for CNY), so that no
// input is silently rounded.
//
// Errors: ErrSyntax, ErrTooManyDecimals, ErrOverflow; ErrInvalidAsset if
// a.Scale is outside 0..MaxScale. All are wrapped with the input and asset.
func Parse(s string, a Asset) (Amount, error) {
	m, err := parse(s, a.Scale)
	if err != nil {
		return 0, fmt.Errorf("parse amount %s as %s (%d decimals): %w", quote(s), a.Code, a.Scale, err)
	}
	return m, nil
}

// ParsePositive is Parse for amounts that must be above zero, such as a
// transfer or a top-up.
//
// Errors: those of Parse, and ErrNotPositive.
func ParsePositive(s string, a Asset) (Amount, error) {
	m, err := Parse(s, a)
	if err != nil {
		return 0, err
	}
	if m <= 0 {
		return 0, fmt.Errorf("parse amount %s as %s: %w", quote(s), a.Code, ErrNotPositive)
	}
	return m, nil
}

func parse(s string, scale int) (Amount, error) {
	if scale < 0 || scale > MaxScale {
		return 0, ErrInvalidAsset
	}
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	intPart, frac, point := strings.Cut(s, ".")
	if intPart == "" || (point && frac == "") || !isDigits(intPart) || !isDigits(frac) {
		return 0, ErrSyntax
	}
	if len(intPart) > 1 && intPart[0] == '0' {
		return 0, ErrSyntax
	}
	if len(frac) > scale {
		return 0, ErrTooManyDecimals
	}

	// Accumulate the magnitude in uint64 so that the one value whose magnitude
	// exceeds MaxInt64, MinInt64 itself, still parses.
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	var u uint64
	push := func(c byte) bool {
		d := uint64(c - '0')
		if u > (limit-d)/10 {
			return false
		}
		u = u*10 + d
		return true
	}
	for i := 0; i < len(intPart); i++ {
		if !push(intPart[i]) {
			return 0, ErrOverflow
		}
	}
	for i := 0; i < scale; i++ {
		c := byte('0')
		if i < len(frac) {
			c = frac[i]
		}
		if !push(c) {
			return 0, ErrOverflow
		}
	}
	if neg {
		return Amount(-u), nil
	}
	return Amount(u), nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// quote keeps error messages short when the input is long, since the input
// may be attacker-sized and errors end up in logs.
func quote(s string) string {
	const maxLen = 40
	if len(s) > maxLen {
		return strconv.Quote(s[:maxLen]) + "…"
	}
	return strconv.Quote(s)
}

// Format writes m in units of a with exactly a.Scale decimals ("12.30",
// "-0.05", "1230" for JPY), the form Parse accepts. It panics if a.Scale is
// outside 0..MaxScale, which no registered asset has.
func (m Amount) Format(a Asset) string {
	scale := a.Scale
	if scale < 0 || scale > MaxScale {
		panic(fmt.Sprintf("money: format %s: scale %d outside 0..%d", a.Code, scale, MaxScale))
	}
	// Negating in uint64 is exact for every int64, MinInt64 included.
	u := uint64(m)
	if m < 0 {
		u = -u
	}
	// Sign, up to 19 digits padded to at most MaxScale+1, and the point.
	var buf [1 + 19 + 1]byte
	i := len(buf)
	for n := 0; u > 0 || n <= scale; n++ {
		if n == scale && scale > 0 {
			i--
			buf[i] = '.'
		}
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
	}
	if m < 0 {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

// Add returns a+b. Errors: ErrOverflow.
func Add(a, b Amount) (Amount, error) {
	if (b > 0 && a > math.MaxInt64-b) || (b < 0 && a < math.MinInt64-b) {
		return 0, fmt.Errorf("add %d + %d: %w", a, b, ErrOverflow)
	}
	return a + b, nil
}

// Sub returns a-b. Errors: ErrOverflow.
func Sub(a, b Amount) (Amount, error) {
	if (b < 0 && a > math.MaxInt64+b) || (b > 0 && a < math.MinInt64+b) {
		return 0, fmt.Errorf("subtract %d - %d: %w", a, b, ErrOverflow)
	}
	return a - b, nil
}

// Mul returns a*n, for quantities and instalments; there is no division here
// because splitting money needs a rounding rule, which the caller owns.
// Errors: ErrOverflow.
func Mul(a Amount, n int64) (Amount, error) {
	if a == 0 || n == 0 {
		return 0, nil
	}
	p := int64(a) * n
	// In Go MinInt64 / -1 wraps to MinInt64 instead of trapping, so the
	// overflowing MinInt64 * -1 passes the division check and needs its own.
	if p/n != int64(a) || (n == -1 && a == math.MinInt64) {
		return 0, fmt.Errorf("multiply %d * %d: %w", a, n, ErrOverflow)
	}
	return Amount(p), nil
}

// Neg returns -m. Errors: ErrOverflow for math.MinInt64, which has no positive
// counterpart.
func (m Amount) Neg() (Amount, error) {
	if m == math.MinInt64 {
		return 0, fmt.Errorf("negate %d: %w", m, ErrOverflow)
	}
	return -m, nil
}
