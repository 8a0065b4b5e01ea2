// Package money owns amounts and assets: the Amount type (a signed count of an
// asset's minor units), the Asset registry (ISO 4217 fiat plus configured
// crypto), parsing and formatting of decimal strings, and checked arithmetic.
//
// It must not know about accounts, balances, exchange rates, storage or
// transport, and it does no I/O.
package money

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Kind separates currencies issued by a state from crypto assets; rails and
// limits differ between the two.
type Kind string

const (
	Fiat   Kind = "fiat"
	Crypto Kind = "crypto"
)

// MaxScale is the largest scale an Asset may have. 10^18 is the largest power
// of ten an int64 holds; even so an 18-decimal asset tops out near 9.2 units,
// which is why ETH-style 18-decimal tokens are not built in.
const MaxScale = 18

// Asset is something an Amount counts. Scale is the number of decimal places
// of its minor unit: 2 for CNY (fen), 0 for JPY, 8 for BTC (satoshi).
type Asset struct {
	Code  string
	Scale int
	Kind  Kind
	Name  string
}

var (
	// ErrInvalidAsset: the asset's code, scale, kind or name is out of range.
	ErrInvalidAsset = errors.New("money: invalid asset")
	// ErrAssetExists: a different asset is already registered under the code.
	ErrAssetExists = errors.New("money: asset code already registered")
)

type isoEntry struct {
	code  string
	scale int
	name  string
}

// Limits on registered assets, so codes and names fit in columns and UIs.
const (
	maxCodeLen = 12
	maxNameLen = 64
)

// The registry is written at startup by Register and read on every request, so
// reads take only the read lock.
var registry = struct {
	sync.RWMutex
	byCode map[string]Asset
}{byCode: builtin()}

func builtin() map[string]Asset {
	m := make(map[string]Asset, len(iso4217)+2)
	for _, e := range iso4217 {
		m[e.code] = Asset{Code: e.code, Scale: e.scale, Kind: Fiat, Name: e.name}
	}
	for _, a := range []Asset{
		{Code: "USDT", Scale: 6, Kind: Crypto, Name: "Tether USD"},
		{Code: "BTC", Scale: 8, Kind: Crypto, Name: "Bitcoin"},
	} {
		m[a.Code] = a
	}
	return m
}

// Lookup returns the asset registered under code. Codes are case-sensitive
// (upper case, as ISO writes them) so that one asset has one spelling; callers
// that accept user input normalise it first.
func Lookup(code string) (Asset, bool) {
	registry.RLock()
	defer registry.RUnlock()
	a, ok := registry.byCode[code]
	return a, ok
}

// MustLookup is Lookup for codes written in the program itself; it panics if
// the code is unknown, because that is a bug, not bad input.
func MustLookup(code string) Asset {
	a, ok := Lookup(code)
	if !ok {
		panic(fmt.Sprintf("money: unknown asset %q", code))
	}
	return a
}

// All returns every known asset sorted by code. The slice is the caller's.
func All() []Asset {
	registry.RLock()
	out := make([]Asset, 0, len(registry.byCode))
	for _, a := range registry.byCode {
		out = append(out, a)
	}
	registry.RUnlock()
	slices.SortFunc(out, func(x, y Asset) int { return strings.Compare(x.Code, y.Code) })
	return out
}

// Supported returns the assets a wallet may hold, in display order. Other
// assets can be looked up (to read old records, or quote prices) but not held.
func Supported() []Asset {
	return []Asset{MustLookup("CNY"), MustLookup("USD"), MustLookup("USDT"), MustLookup("BTC")}
}

// Register adds an asset, typically a crypto asset from configuration, at
// startup. Registering an identical asset again is a no-op so that config can
// be applied twice.
//
// Errors: ErrInvalidAsset if the code is not 2 to 12 upper-case ASCII letters or
// digits, the scale is outside 0..MaxScale, the kind is unknown, or the name is
// empty or longer than 64 bytes; ErrAssetExists if a different asset already
// has the code (built-in ISO and crypto assets cannot be redefined).
func Register(a Asset) error {
	if err := a.validate(); err != nil {
		return fmt.Errorf("register asset %q: %w", a.Code, err)
	}
	registry.Lock()
	defer registry.Unlock()
	if old, ok := registry.byCode[a.Code]; ok {
		if old == a {
			return nil
		}
		return fmt.Errorf("register asset %q: %w", a.Code, ErrAssetExists)
	}
	registry.byCode[a.Code] = a
	return nil
}

func (a Asset) validate() error {
	if n := len(a.Code); n < 2 || n > maxCodeLen {
		return fmt.Errorf("%w: code must be 2 to %d characters", ErrInvalidAsset, maxCodeLen)
	}
	for _, c := range []byte(a.Code) {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return fmt.Errorf("%w: code must be upper-case ASCII letters and digits", ErrInvalidAsset)
		}
	}
	if a.Scale < 0 || a.Scale > MaxScale {
		return fmt.Errorf("%w: scale %d outside 0..%d", ErrInvalidAsset, a.Scale, MaxScale)
	}
	if a.Kind != Fiat && a.Kind != Crypto {
		return fmt.Errorf("%w: kind %q", ErrInvalidAsset, a.Kind)
	}
	if a.Name == "" || len(a.Name) > maxNameLen {
		return fmt.Errorf("%w: name must be 1 to %d bytes", ErrInvalidAsset, maxNameLen)
	}
	return nil
}
