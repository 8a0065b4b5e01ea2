package money

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		code  string
		scale int
		kind  Kind
	}{
		{"CNY", 2, Fiat}, {"USD", 2, Fiat}, {"JPY", 0, Fiat}, {"KWD", 3, Fiat},
		{"USDT", 6, Crypto}, {"BTC", 8, Crypto},
	} {
		a, ok := Lookup(tc.code)
		if !ok || a.Code != tc.code || a.Scale != tc.scale || a.Kind != tc.kind || a.Name == "" {
			t.Errorf("Lookup(%q) = %+v, %v", tc.code, a, ok)
		}
	}
	for _, code := range []string{"", "cny", "Cny", " CNY", "ETH", "XAU", "XXX"} {
		if a, ok := Lookup(code); ok {
			t.Errorf("Lookup(%q) = %+v, want not found", code, a)
		}
	}
}

func TestMustLookupPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustLookup(\"NOPE\") did not panic")
		}
	}()
	MustLookup("NOPE")
}

func TestAllAndSupported(t *testing.T) {
	all := All()
	if !slices.IsSortedFunc(all, func(x, y Asset) int { return strings.Compare(x.Code, y.Code) }) {
		t.Error("All() not sorted by code")
	}
	seen := map[string]bool{}
	for _, a := range all {
		if seen[a.Code] {
			t.Errorf("All() lists %s twice", a.Code)
		}
		seen[a.Code] = true
		if err := a.validate(); err != nil {
			t.Errorf("built-in %s: %v", a.Code, err)
		}
	}
	if len(all) < len(iso4217)+2 {
		t.Errorf("All() has %d assets, want at least %d", len(all), len(iso4217)+2)
	}
	all[0].Code = "MUTATED"
	if _, ok := Lookup("MUTATED"); ok {
		t.Error("All() shares storage with the registry")
	}

	var codes []string
	for _, a := range Supported() {
		codes = append(codes, a.Code)
	}
	if want := []string{"CNY", "USD", "USDT", "BTC"}; !slices.Equal(codes, want) {
		t.Errorf("Supported() = %v, want %v", codes, want)
	}
}

func TestRegister(t *testing.T) {
	ok := Asset{Code: "TSTREG1", Scale: 9, Kind: Crypto, Name: "Test coin"}
	if err := Register(ok); err != nil {
		t.Fatal(err)
	}
	if got, found := Lookup("TSTREG1"); !found || got != ok {
		t.Errorf("Lookup after Register = %+v, %v", got, found)
	}
	if err := Register(ok); err != nil {
		t.Errorf("registering the same asset again: %v", err)
	}

	for _, tc := range []struct {
		a    Asset
		want error
	}{
		{Asset{Code: "TSTREG1", Scale: 8, Kind: Crypto, Name: "Test coin"}, ErrAssetExists},
		{Asset{Code: "CNY", Scale: 3, Kind: Fiat, Name: "Yuan Renminbi"}, ErrAssetExists},
		{Asset{Code: "BTC", Scale: 18, Kind: Crypto, Name: "Bitcoin"}, ErrAssetExists},
		{Asset{Code: "", Scale: 2, Kind: Crypto, Name: "x"}, ErrInvalidAsset},
		{Asset{Code: "A", Scale: 2, Kind: Crypto, Name: "x"}, ErrInvalidAsset},
		{Asset{Code: "ABCDEFGHIJKLM", Scale: 2, Kind: Crypto, Name: "x"}, ErrInvalidAsset},
		{Asset{Code: "eth", Scale: 2, Kind: Crypto, Name: "x"}, ErrInvalidAsset},
		{Asset{Code: "ET H", Scale: 2, Kind: Crypto, Name: "x"}, ErrInvalidAsset},
		{Asset{Code: "ÉTH", Scale: 2, Kind: Crypto, Name: "x"}, ErrInvalidAsset},
		{Asset{Code: "TSTNEG", Scale: -1, Kind: Crypto, Name: "x"}, ErrInvalidAsset},
		{Asset{Code: "TSTBIG", Scale: 19, Kind: Crypto, Name: "x"}, ErrInvalidAsset},
		{Asset{Code: "TSTKIND", Scale: 2, Kind: "stock", Name: "x"}, ErrInvalidAsset},
		{Asset{Code: "TSTNAME", Scale: 2, Kind: Crypto}, ErrInvalidAsset},
		{Asset{Code: "TSTLONG", Scale: 2, Kind: Crypto, Name: strings.Repeat("n", 65)}, ErrInvalidAsset},
	} {
		err := Register(tc.a)
		if !errors.Is(err, tc.want) {
			t.Errorf("Register(%+v) = %v, want %v", tc.a, err, tc.want)
		}
		if tc.want == ErrInvalidAsset {
			if _, found := Lookup(tc.a.Code); found {
				t.Errorf("invalid %+v was registered", tc.a)
			}
		}
	}
	if a := MustLookup("CNY"); a.Scale != 2 {
		t.Errorf("CNY scale changed to %d", a.Scale)
	}

	for _, scale := range []int{0, MaxScale} {
		a := Asset{Code: fmt.Sprintf("TSTS%d", scale), Scale: scale, Kind: Crypto, Name: "edge"}
		if err := Register(a); err != nil {
			t.Errorf("Register scale %d: %v", scale, err)
		}
	}
}

func TestRegisterConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			a := Asset{Code: fmt.Sprintf("TSTC%d", i), Scale: 4, Kind: Crypto, Name: "concurrent"}
			if err := Register(a); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			MustLookup("CNY")
			_ = All()
		})
	}
	wg.Wait()
	for i := range 8 {
		MustLookup(fmt.Sprintf("TSTC%d", i))
	}
}
