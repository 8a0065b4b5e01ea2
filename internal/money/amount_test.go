package money

import (
	"errors"
	"math"
	"math/big"
	"regexp"
	"strings"
	"testing"
)

var (
	jpy  = MustLookup("JPY")
	cny  = MustLookup("CNY")
	kwd  = MustLookup("KWD")
	usdt = MustLookup("USDT")
	btc  = MustLookup("BTC")
	s18  = Asset{Code: "S18", Scale: 18, Kind: Crypto, Name: "scale 18"}
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		a    Asset
		want Amount
		err  error
	}{
		{"12.30", cny, 1230, nil},
		{"12.3", cny, 1230, nil},
		{"0.01", cny, 1, nil},
		{"12", cny, 1200, nil},
		{"-5.00", cny, -500, nil},
		{"-0.5", cny, -50, nil},
		{"0", cny, 0, nil},
		{"0.00", cny, 0, nil},
		{"-0", cny, 0, nil},
		{"10", cny, 1000, nil},
		{"100.05", cny, 10005, nil},
		{"92233720368547758.07", cny, math.MaxInt64, nil},
		{"-92233720368547758.08", cny, math.MinInt64, nil},
		{"92233720368547758.08", cny, 0, ErrOverflow},
		{"-92233720368547758.09", cny, 0, ErrOverflow},
		{"92233720368547759", cny, 0, ErrOverflow},
		{"99999999999999999999999999", cny, 0, ErrOverflow},
		{"-" + strings.Repeat("9", 1000), cny, 0, ErrOverflow},

		{"1e3", cny, 0, ErrSyntax},
		{"1E3", cny, 0, ErrSyntax},
		{"12.345", cny, 0, ErrTooManyDecimals},
		{"12.300", cny, 0, ErrTooManyDecimals},
		{"0.001", cny, 0, ErrTooManyDecimals},
		{" 12", cny, 0, ErrSyntax},
		{"12 ", cny, 0, ErrSyntax},
		{"\t12", cny, 0, ErrSyntax},
		{"12\n", cny, 0, ErrSyntax},
		{"--1", cny, 0, ErrSyntax},
		{"-", cny, 0, ErrSyntax},
		{"+5", cny, 0, ErrSyntax},
		{"-+5", cny, 0, ErrSyntax},
		{"NaN", cny, 0, ErrSyntax},
		{"Inf", cny, 0, ErrSyntax},
		{"-Inf", cny, 0, ErrSyntax},
		{"", cny, 0, ErrSyntax},
		{".", cny, 0, ErrSyntax},
		{"-.", cny, 0, ErrSyntax},
		{"1.", cny, 0, ErrSyntax},
		{".5", cny, 0, ErrSyntax},
		{"-.5", cny, 0, ErrSyntax},
		{"1.2.3", cny, 0, ErrSyntax},
		{"1.-5", cny, 0, ErrSyntax},
		{"1,000", cny, 0, ErrSyntax},
		{"1_000", cny, 0, ErrSyntax},
		{"1'000", cny, 0, ErrSyntax},
		{"0x10", cny, 0, ErrSyntax},
		{"12,30", cny, 0, ErrSyntax},
		{"００１", cny, 0, ErrSyntax},      // full-width digits
		{"１２", cny, 0, ErrSyntax},       // full-width digits
		{"١٢", cny, 0, ErrSyntax},       // Arabic-Indic digits
		{"12.٣", cny, 0, ErrSyntax},     // Arabic-Indic digit in fraction
		{"\u221212", cny, 0, ErrSyntax}, // Unicode minus sign
		{"00012", cny, 0, ErrSyntax},
		{"012.5", cny, 0, ErrSyntax},
		{"00.5", cny, 0, ErrSyntax},
		{"-05", cny, 0, ErrSyntax},
		{"00", cny, 0, ErrSyntax},
		{"12\x00", cny, 0, ErrSyntax},
		{"¥12", cny, 0, ErrSyntax},
		{"12CNY", cny, 0, ErrSyntax},

		{"1230", jpy, 1230, nil},
		{"0", jpy, 0, nil},
		{"12.0", jpy, 0, ErrTooManyDecimals},
		{"9223372036854775807", jpy, math.MaxInt64, nil},
		{"-9223372036854775808", jpy, math.MinInt64, nil},
		{"9223372036854775808", jpy, 0, ErrOverflow},
		{"-9223372036854775809", jpy, 0, ErrOverflow},
		{"18446744073709551616", jpy, 0, ErrOverflow},

		{"1.234", kwd, 1234, nil},
		{"0.001", kwd, 1, nil},
		{"-0.5", kwd, -500, nil},
		{"1.2345", kwd, 0, ErrTooManyDecimals},

		{"1.000001", usdt, 1000001, nil},
		{"0.1", usdt, 100000, nil},
		{"0.0000001", usdt, 0, ErrTooManyDecimals},

		{"21000000", btc, 2_100_000_000_000_000, nil},
		{"0.00000001", btc, 1, nil},
		{"-92233720368.54775808", btc, math.MinInt64, nil},
		{"92233720368.54775807", btc, math.MaxInt64, nil},
		{"92233720368.54775808", btc, 0, ErrOverflow},
		{"0.000000001", btc, 0, ErrTooManyDecimals},

		{"9.223372036854775807", s18, math.MaxInt64, nil},
		{"-9.223372036854775808", s18, math.MinInt64, nil},
		{"0.000000000000000001", s18, 1, nil},
		{"10", s18, 0, ErrOverflow},
		{"9.223372036854775808", s18, 0, ErrOverflow},

		{"1", Asset{Code: "BAD", Scale: 19}, 0, ErrInvalidAsset},
		{"1", Asset{Code: "BAD", Scale: -1}, 0, ErrInvalidAsset},
	} {
		got, err := Parse(tc.in, tc.a)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("Parse(%q, %s) = %d, %v; want %d, %v", tc.in, tc.a.Code, got, err, tc.want, tc.err)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), tc.a.Code) {
			t.Errorf("Parse(%q, %s) error %q does not name the asset", tc.in, tc.a.Code, err)
		}
	}
}

func TestParseErrorContext(t *testing.T) {
	_, err := Parse("12.345", cny)
	if want := `parse amount "12.345" as CNY (2 decimals): ` + ErrTooManyDecimals.Error(); err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
	// Long inputs are cut so a hostile body cannot flood the logs.
	_, err = Parse(strings.Repeat("x", 10_000), cny)
	if err == nil || len(err.Error()) > 250 {
		t.Errorf("error for a long input is %d bytes", len(err.Error()))
	}
}

func TestParsePositive(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Amount
		err  error
	}{
		{"0.01", 1, nil},
		{"12.30", 1230, nil},
		{"0", 0, ErrNotPositive},
		{"0.00", 0, ErrNotPositive},
		{"-0", 0, ErrNotPositive},
		{"-0.01", 0, ErrNotPositive},
		{"abc", 0, ErrSyntax},
		{"0.001", 0, ErrTooManyDecimals},
	} {
		got, err := ParsePositive(tc.in, cny)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("ParsePositive(%q) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		m    Amount
		a    Asset
		want string
	}{
		{1230, cny, "12.30"},
		{-500, cny, "-5.00"},
		{-5, cny, "-0.05"},
		{1, cny, "0.01"},
		{0, cny, "0.00"},
		{math.MaxInt64, cny, "92233720368547758.07"},
		{math.MinInt64, cny, "-92233720368547758.08"},
		{0, jpy, "0"},
		{1230, jpy, "1230"},
		{-7, jpy, "-7"},
		{math.MinInt64, jpy, "-9223372036854775808"},
		{math.MaxInt64, jpy, "9223372036854775807"},
		{-1, kwd, "-0.001"},
		{1234, kwd, "1.234"},
		{1000001, usdt, "1.000001"},
		{1, btc, "0.00000001"},
		{2_100_000_000_000_000, btc, "21000000.00000000"},
		{math.MinInt64, btc, "-92233720368.54775808"},
		{math.MaxInt64, s18, "9.223372036854775807"},
		{math.MinInt64, s18, "-9.223372036854775808"},
		{1, s18, "0.000000000000000001"},
		{0, s18, "0.000000000000000000"},
	} {
		if got := tc.m.Format(tc.a); got != tc.want {
			t.Errorf("Amount(%d).Format(%s) = %q, want %q", tc.m, tc.a.Code, got, tc.want)
		}
	}
}

func TestFormatPanicsOnBadScale(t *testing.T) {
	for _, scale := range []int{-1, MaxScale + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Format with scale %d did not panic", scale)
				}
			}()
			Amount(1).Format(Asset{Code: "BAD", Scale: scale})
		}()
	}
}

const (
	maxA = Amount(math.MaxInt64)
	minA = Amount(math.MinInt64)
)

func TestAddSub(t *testing.T) {
	for _, tc := range []struct {
		a, b       Amount
		sum, diff  Amount
		sumOK, dOK bool
	}{
		{1, 2, 3, -1, true, true},
		{-5, 5, 0, -10, true, true},
		{maxA, 0, maxA, maxA, true, true},
		{maxA, 1, 0, maxA - 1, false, true},
		{maxA, -1, maxA - 1, 0, true, false},
		{maxA, maxA, 0, 0, false, true},
		{minA, 0, minA, minA, true, true},
		{minA, -1, 0, minA + 1, false, true},
		{minA, 1, minA + 1, 0, true, false},
		{minA, minA, 0, 0, false, true},
		{minA, maxA, -1, 0, true, false},
		{maxA, minA, -1, 0, true, false},
		{0, minA, minA, 0, true, false},
		{-1, minA, 0, maxA, false, true},
		{0, maxA, maxA, -maxA, true, true},
	} {
		sum, err := Add(tc.a, tc.b)
		if tc.sumOK != (err == nil) || (tc.sumOK && sum != tc.sum) || (!tc.sumOK && !errors.Is(err, ErrOverflow)) {
			t.Errorf("Add(%d, %d) = %d, %v", tc.a, tc.b, sum, err)
		}
		diff, err := Sub(tc.a, tc.b)
		if tc.dOK != (err == nil) || (tc.dOK && diff != tc.diff) || (!tc.dOK && !errors.Is(err, ErrOverflow)) {
			t.Errorf("Sub(%d, %d) = %d, %v", tc.a, tc.b, diff, err)
		}
	}
}

func TestMul(t *testing.T) {
	for _, tc := range []struct {
		a    Amount
		n    int64
		want Amount
		ok   bool
	}{
		{1230, 3, 3690, true},
		{-5, 4, -20, true},
		{0, math.MinInt64, 0, true},
		{minA, 0, 0, true},
		{maxA, 1, maxA, true},
		{maxA, -1, -maxA, true},
		{minA, 1, minA, true},
		{minA, -1, 0, false},
		{-1, math.MinInt64, 0, false},
		{1, math.MinInt64, minA, true},
		{maxA, 2, 0, false},
		{minA, 2, 0, false},
		{math.MinInt64 / 2, 2, minA, true},
		{math.MinInt64 / 2, -2, 0, false},
		{math.MaxInt64/2 + 1, 2, 0, false},
		{3037000500, 3037000500, 0, false}, // just above sqrt(MaxInt64)
		{3037000499, 3037000499, 3037000499 * 3037000499, true},
		{-3037000500, 3037000500, 0, false},
	} {
		got, err := Mul(tc.a, tc.n)
		if tc.ok != (err == nil) || got != tc.want || (!tc.ok && !errors.Is(err, ErrOverflow)) {
			t.Errorf("Mul(%d, %d) = %d, %v; want %d, ok=%v", tc.a, tc.n, got, err, tc.want, tc.ok)
		}
	}
}

func TestNeg(t *testing.T) {
	for _, tc := range []struct {
		m, want Amount
		ok      bool
	}{
		{5, -5, true}, {-5, 5, true}, {0, 0, true}, {maxA, -maxA, true}, {minA + 1, maxA, true}, {minA, 0, false},
	} {
		got, err := tc.m.Neg()
		if tc.ok != (err == nil) || got != tc.want || (!tc.ok && !errors.Is(err, ErrOverflow)) {
			t.Errorf("Amount(%d).Neg() = %d, %v", tc.m, got, err)
		}
	}
}

// refGrammar is Parse's grammar written independently, for the fuzz oracle.
var refGrammar = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?$`)

// refParse computes Parse's result with math/big, to catch overflow and
// scaling mistakes that a round trip alone would not.
func refParse(s string, scale int) (Amount, error) {
	if !refGrammar.MatchString(s) {
		return 0, ErrSyntax
	}
	digits, neg := strings.CutPrefix(s, "-")
	intPart, frac, _ := strings.Cut(digits, ".")
	if len(frac) > scale {
		return 0, ErrTooManyDecimals
	}
	v, _ := new(big.Int).SetString(intPart+frac+strings.Repeat("0", scale-len(frac)), 10)
	if neg {
		v.Neg(v)
	}
	if !v.IsInt64() {
		return 0, ErrOverflow
	}
	return Amount(v.Int64()), nil
}

func FuzzParseFormat(f *testing.F) {
	for _, s := range []string{
		"12.30", "12.3", "0.01", "12", "-5.00", "0", "-0", "1e3", "12.345", " 12", "--1", "NaN", "",
		".", "1.", ".5", "1,000", "１２", "00012", "9223372036854775807", "-9223372036854775808",
		"92233720368547758.08", "-92233720368.54775808", "9.223372036854775807", "0.000000000000000001",
	} {
		f.Add(s, int64(0))
	}
	for _, n := range []int64{1, -1, 1230, math.MaxInt64, math.MinInt64, math.MinInt64 + 1, 1e18, -1e18} {
		f.Add("", n)
	}
	f.Fuzz(func(t *testing.T, s string, n int64) {
		for scale := 0; scale <= MaxScale; scale++ {
			a := Asset{Code: "FZ", Scale: scale, Kind: Crypto, Name: "fuzz"}

			m, err := Parse(s, a)
			want, wantErr := refParse(s, scale)
			if m != want || !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
				t.Fatalf("Parse(%q, scale %d) = %d, %v; reference %d, %v", s, scale, m, err, want, wantErr)
			}
			if err == nil {
				out := m.Format(a)
				if back, err := Parse(out, a); err != nil || back != m {
					t.Fatalf("Parse(%q, scale %d) = %d, formats as %q, parses back as %d, %v", s, scale, m, out, back, err)
				}
			}

			out := Amount(n).Format(a)
			if !refGrammar.MatchString(out) || strings.HasPrefix(out, "-") != (n < 0) {
				t.Fatalf("Amount(%d).Format(scale %d) = %q, not canonical", n, scale, out)
			}
			if _, frac, _ := strings.Cut(out, "."); len(frac) != scale {
				t.Fatalf("Amount(%d).Format(scale %d) = %q, wrong number of decimals", n, scale, out)
			}
			if back, err := Parse(out, a); err != nil || back != Amount(n) {
				t.Fatalf("Amount(%d).Format(scale %d) = %q, parses back as %d, %v", n, scale, out, back, err)
			}
		}
	})
}
