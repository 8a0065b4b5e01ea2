package identity

import (
	"net/netip"
	"strings"
)

// PlaceLookup turns a client address into a coarse place name for the device list and for
// new-place alerts. A GeoIP implementation can replace the built-in one.
type PlaceLookup interface {
	Place(ip string) string
}

// PlaceLocal is the place of loopback and private addresses.
const PlaceLocal = "local network"

// LocalPlaces needs no data: loopback and private ranges are "local network", any other
// IPv4 address is its /16 network and IPv6 its /32, coarse enough that a phone moving
// between cells of one provider is not "a new place" every time.
type LocalPlaces struct{}

// Place implements PlaceLookup.
func (LocalPlaces) Place(ip string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return "unknown"
	}
	a = a.Unmap()
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified() {
		return PlaceLocal
	}
	bits := 16
	if a.Is6() {
		bits = 32
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return "unknown"
	}
	return p.String()
}

// DeviceName makes a short human name ("Chrome on Windows") from a User-Agent header. It
// only needs to let people recognise their own devices, so a few common families suffice.
func DeviceName(ua string) string {
	if strings.TrimSpace(ua) == "" {
		return "Unknown device"
	}
	l := strings.ToLower(ua)
	browser := "Browser"
	switch {
	case strings.Contains(l, "micromessenger"):
		browser = "WeChat"
	case strings.Contains(l, "okpay-cli"):
		browser = "OKPay CLI"
	case strings.HasPrefix(l, "curl/"):
		browser = "curl"
	case strings.Contains(l, "edg/") || strings.Contains(l, "edga/") || strings.Contains(l, "edgios/"):
		browser = "Edge"
	case strings.Contains(l, "opr/") || strings.Contains(l, "opera"):
		browser = "Opera"
	case strings.Contains(l, "firefox/") || strings.Contains(l, "fxios/"):
		browser = "Firefox"
	case strings.Contains(l, "headlesschrome"):
		browser = "Headless Chrome"
	case strings.Contains(l, "chrome/") || strings.Contains(l, "crios/") || strings.Contains(l, "chromium/"):
		browser = "Chrome"
	case strings.Contains(l, "safari/"):
		browser = "Safari"
	case strings.HasPrefix(l, "go-http-client"):
		browser = "Go client"
	}
	os := ""
	switch {
	case strings.Contains(l, "iphone"):
		os = "iPhone"
	case strings.Contains(l, "ipad"):
		os = "iPad"
	case strings.Contains(l, "android"):
		os = "Android"
	case strings.Contains(l, "windows"):
		os = "Windows"
	case strings.Contains(l, "mac os x") || strings.Contains(l, "macintosh"):
		os = "macOS"
	case strings.Contains(l, "cros"):
		os = "ChromeOS"
	case strings.Contains(l, "linux"):
		os = "Linux"
	}
	if os == "" {
		return browser
	}
	return browser + " on " + os
}
