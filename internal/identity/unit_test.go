package identity

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"okpay/internal/apperr"
)

func TestPasswordPolicy(t *testing.T) {
	if n := CommonPasswordCount(); n < 10000 {
		t.Fatalf("common password list has %d entries, want >= 10000", n)
	}
	cases := []struct {
		pw, email, field string
	}{
		{"Ab1!", "a@example.com", FieldPasswordLength},
		{strings.Repeat("Ab1!", 33), "a@example.com", FieldPasswordLength},
		{"abcdefgh1", "a@example.com", FieldPasswordClasses},
		{"abcdefgh!", "a@example.com", FieldPasswordClasses},
		{"12345678!", "a@example.com", FieldPasswordClasses},
		{"password1!", "a@example.com", FieldPasswordCommon}, // decorated common password
		{"Qwerty123!", "a@example.com", FieldPasswordCommon}, // case and symbols ignored
		{"zhangwei-88Lx!", "zhangwei@example.com", FieldPasswordEmail},
		{"Tr0ub4dor&3-horse", "a@example.com", ""},
		{"长城2024！安全", "a@example.com", ""}, // letters of any script; full-width symbol counts
	}
	for _, c := range cases {
		err := CheckPassword(c.pw, c.email)
		if c.field == "" {
			if err != nil {
				t.Errorf("%q: unexpected %v", c.pw, err)
			}
			continue
		}
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.CodeValidation || len(e.Fields) != 1 || e.Fields[0].Code != c.field {
			t.Errorf("%q: want field %s, got %v", c.pw, c.field, err)
		}
	}
}

func TestArgon2HashAndStale(t *testing.T) {
	h, err := hashPassword("s3cret!pass", TestArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("unexpected encoding %s", h)
	}
	ok, stale, err := checkPassword("s3cret!pass", h, TestArgon2)
	if err != nil || !ok || stale {
		t.Fatalf("ok=%v stale=%v err=%v", ok, stale, err)
	}
	if ok, _, _ := checkPassword("s3cret!pasS", h, TestArgon2); ok {
		t.Fatal("wrong password accepted")
	}
	stronger := TestArgon2
	stronger.Iterations = 2
	if _, stale, _ := checkPassword("s3cret!pass", h, stronger); !stale {
		t.Fatal("hash with old parameters not reported stale")
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"  Alice.Smith+pay@Example.COM ": "alice.smith+pay@example.com",
		"bob@example":                    "",
		"not an email":                   "",
		"Bob <bob@example.com>":          "",
		"@example.com":                   "",
	} {
		if got := NormalizeEmail(in); got != want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"138 0013 8000":     "+8613800138000",
		"+1 (415) 555-2671": "+14155552671",
		"0123":              "",
		"+0123456789":       "",
		"abc":               "",
	} {
		if got := NormalizePhone(in); got != want {
			t.Errorf("NormalizePhone(%q) = %q, want %q", in, got, want)
		}
	}
	if maskPhone("+8613800138000") != "+86138****8000" {
		t.Errorf("maskPhone: %s", maskPhone("+8613800138000"))
	}
}

// RFC 6238 appendix B: 8-digit codes for the three hash functions.
func TestTOTPRFC6238Vectors(t *testing.T) {
	seeds := map[string][]byte{
		"sha1":   []byte("12345678901234567890"),
		"sha256": []byte("12345678901234567890123456789012"),
		"sha512": []byte("1234567890123456789012345678901234567890123456789012345678901234"),
	}
	hashes := map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}
	vectors := []struct {
		unix             int64
		sha1, s256, s512 string
	}{
		{59, "94287082", "46119246", "90693936"},
		{1111111109, "07081804", "68084774", "25091201"},
		{1111111111, "14050471", "67062674", "99943326"},
		{1234567890, "89005924", "91819424", "93441116"},
		{2000000000, "69279037", "90698825", "38618901"},
		{20000000000, "65353130", "77737706", "47863826"},
	}
	for _, v := range vectors {
		step := uint64(v.unix / 30)
		for alg, want := range map[string]string{"sha1": v.sha1, "sha256": v.s256, "sha512": v.s512} {
			if got := hotp(seeds[alg], step, 8, hashes[alg]); got != want {
				t.Errorf("T=%d %s: got %s want %s", v.unix, alg, got, want)
			}
		}
	}
	// The 6-digit production code is the 8-digit one's last six digits.
	if got := hotp(seeds["sha1"], 1, 6, sha1.New); got != "287082" {
		t.Errorf("6-digit: %s", got)
	}
}

// oathtool is an independent implementation: the codes it prints must be accepted.
func TestTOTPAgainstOathtool(t *testing.T) {
	path, err := exec.LookPath("oathtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("oathtool is required under CI (installed by .ci/run)")
		}
		t.Skip("oathtool not installed")
	}
	secret := []byte("an okpay test seed!!")
	enc := b32.EncodeToString(secret)
	for _, at := range []time.Time{time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), time.Unix(1111111109, 0), time.Unix(2000000000, 0)} {
		out, err := exec.Command(path, "--totp", "-b", "-N", at.UTC().Format("2006-01-02 15:04:05 UTC"), enc).Output()
		if err != nil {
			t.Fatalf("oathtool: %v", err)
		}
		code := strings.TrimSpace(string(out))
		if st := totpMatch(secret, code, at, 0); st != totpStep(at) {
			t.Errorf("at %v oathtool says %s; accepted step %d, want %d", at, code, st, totpStep(at))
		}
		// ±1 step of drift is accepted, 2 steps is not; a used step is not accepted again.
		if totpMatch(secret, code, at.Add(30*time.Second), 0) == 0 || totpMatch(secret, code, at.Add(-30*time.Second), 0) == 0 {
			t.Errorf("one step of drift refused")
		}
		if totpMatch(secret, code, at.Add(61*time.Second), 0) != 0 {
			t.Errorf("two steps of drift accepted")
		}
		if totpMatch(secret, code, at, totpStep(at)) != 0 {
			t.Errorf("replayed step accepted")
		}
	}
}

func TestCNResidentID(t *testing.T) {
	b, ok := ValidCNResidentID("11010519491231002X")
	if !ok || b.Format("2006-01-02") != "1949-12-31" {
		t.Fatalf("valid ID refused: %v %v", b, ok)
	}
	for _, bad := range []string{"110105194912310021", "11010519491331002X", "99010519491231002X", "1101051949123100", "11010519491231002Y"} {
		if _, ok := ValidCNResidentID(bad); ok {
			t.Errorf("%s accepted", bad)
		}
	}
	if !ValidPassportNumber("E12345678") || ValidPassportNumber("ABCDEFGH") || ValidPassportNumber("E1234") || ValidPassportNumber("E1234-678") {
		t.Error("passport check")
	}
}

func TestPlacesAndDeviceNames(t *testing.T) {
	p := LocalPlaces{}
	for ip, want := range map[string]string{"127.0.0.1": PlaceLocal, "192.168.1.9": PlaceLocal, "10.1.2.3": PlaceLocal, "::1": PlaceLocal,
		"203.0.113.7": "203.0.0.0/16", "::ffff:198.51.100.20": "198.51.0.0/16", "2001:db8:1::5": "2001:db8::/32", "nonsense": "unknown"} {
		if got := p.Place(ip); got != want {
			t.Errorf("Place(%s) = %s, want %s", ip, got, want)
		}
	}
	if n := DeviceName(laptop.UserAgent); n != "Chrome on Windows" {
		t.Errorf("laptop: %s", n)
	}
	if n := DeviceName(phone.UserAgent); n != "Safari on iPhone" {
		t.Errorf("phone: %s", n)
	}
}

func TestMailTemplatesComplete(t *testing.T) {
	data := map[string]any{"Code": "123456", "Link": "https://x/y?token=abc", "Expires": "soon", "Attempts": 5, "Until": "later",
		"IP": "203.0.113.7", "Place": "203.0.0.0/16", "Minutes": 15, "When": "now", "FreezeLink": "https://x/f?token=def",
		"NewDevice": true, "Device": "Chrome on Windows", "ByOwner": true, "Reason": "lost phone"}
	for _, k := range mailKinds {
		for _, l := range mailLangs {
			subj, text, html, err := renderMail(k, l, data)
			if err != nil {
				t.Fatalf("%s/%s: %v", k, l, err)
			}
			for _, part := range []string{subj, text, html} {
				if part == "" || strings.Contains(part, "<no value>") {
					t.Errorf("%s/%s: empty or missing value in %q", k, l, part)
				}
			}
			if l == LangZh && !strings.Contains(text, "OKPay") {
				t.Errorf("%s/%s: text lacks brand", k, l)
			}
		}
	}
	for _, k := range []string{"reset_password", "verify_phone"} {
		for _, l := range mailLangs {
			if s, err := renderSMS(k, l, data); err != nil || !strings.Contains(s, "123456") {
				t.Errorf("sms %s/%s: %q %v", k, l, s, err)
			}
		}
	}
}

func TestQRSVG(t *testing.T) {
	svg, err := QRSVG("otpauth://totp/OKPay:a%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=OKPay")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "<path") {
		t.Fatalf("not an SVG: %.80s", svg)
	}
}
