package money

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
)

const isoCodesFile = "/usr/share/iso-codes/json/iso_4217.json"

// newerThanIsoCodes may be in our table without being in the system file,
// because older iso-codes releases predate them.
var newerThanIsoCodes = map[string]bool{"XCG": true, "ZWG": true}

func TestISO4217MatchesIsoCodes(t *testing.T) {
	raw, err := os.ReadFile(isoCodesFile)
	if errors.Is(err, fs.ErrNotExist) && os.Getenv("CI") != "true" {
		t.Skipf("%s missing (install iso-codes; with CI=true this fails)", isoCodesFile)
	}
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Currencies []struct {
			Alpha3 string `json:"alpha_3"`
		} `json:"4217"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("decode %s: %v", isoCodesFile, err)
	}
	if len(doc.Currencies) < 150 {
		t.Fatalf("%s lists only %d currencies; wrong file format?", isoCodesFile, len(doc.Currencies))
	}

	inFile := map[string]bool{}
	for _, c := range doc.Currencies {
		inFile[c.Alpha3] = true
		if slices.Contains(isoExcluded[:], c.Alpha3) {
			continue
		}
		if _, ok := lookupISO(c.Alpha3); !ok {
			t.Errorf("%s is in %s but not in iso4217", c.Alpha3, isoCodesFile)
		}
	}
	for _, e := range iso4217 {
		if !inFile[e.code] && !newerThanIsoCodes[e.code] {
			t.Errorf("%s is in iso4217 but not in %s", e.code, isoCodesFile)
		}
	}
}

func TestISO4217Table(t *testing.T) {
	for i, e := range iso4217 {
		if i > 0 && iso4217[i-1].code >= e.code {
			t.Errorf("iso4217 not sorted or duplicate at %s", e.code)
		}
		if len(e.code) != 3 || e.name == "" || e.scale < 0 || e.scale > 4 {
			t.Errorf("bad entry %+v", e)
		}
		a, ok := Lookup(e.code)
		if !ok || a.Kind != Fiat || a.Scale != e.scale || a.Name != e.name {
			t.Errorf("Lookup(%s) = %+v, %v", e.code, a, ok)
		}
	}
	for _, c := range isoExcluded {
		if _, ok := Lookup(c); ok {
			t.Errorf("%s has no ISO minor unit and must not be registered", c)
		}
	}
}

func TestISO4217KnownExponents(t *testing.T) {
	want := map[string]int{
		"JPY": 0, "KWD": 3, "CNY": 2, "USD": 2, "BHD": 3, "TND": 3, "CLP": 0, "KRW": 0, "ISK": 0,
		"VND": 0, "UGX": 0, "IQD": 3, "LYD": 3, "OMR": 3, "JOD": 3, "CLF": 4, "UYW": 4,
		"EUR": 2, "GBP": 2, "HKD": 2, "XOF": 0, "XAF": 0, "PYG": 0, "UYI": 0, "MGA": 2, "IDR": 2,
	}
	for code, scale := range want {
		e, ok := lookupISO(code)
		if !ok {
			t.Errorf("%s missing", code)
			continue
		}
		if e.scale != scale {
			t.Errorf("%s scale = %d, want %d", code, e.scale, scale)
		}
	}
}

func lookupISO(code string) (isoEntry, bool) {
	i, ok := slices.BinarySearchFunc(iso4217[:], code, func(e isoEntry, c string) int {
		return strings.Compare(e.code, c)
	})
	if !ok {
		return isoEntry{}, false
	}
	return iso4217[i], true
}
