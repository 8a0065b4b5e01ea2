package rail

import (
	"os"
	"strings"
	"testing"
	"time"
)

// docs/SANDBOX.md is what users read; it must list every test card and every code a user
// can meet, in both languages, with the timings the code uses.
func TestSandboxDocMatchesCode(t *testing.T) {
	b, err := os.ReadFile("../../docs/SANDBOX.md")
	if err != nil {
		t.Fatal(err)
	}
	en, zh, ok := strings.Cut(string(b), "## 中文")
	if !ok {
		t.Fatal("no Chinese section")
	}
	for _, half := range []string{en, zh} {
		for _, c := range TestCards() {
			if !strings.Contains(half, "`"+c.Number+"`") {
				t.Errorf("test card %s missing", c.Number)
			}
		}
		for _, code := range []string{CodeCardNumberInvalid, CodeCardExpired, CodeCardExpiryInvalid, CodeCardCVVInvalid,
			CodeCardHolderInvalid, CodeCardBrandUnsupported, CodeCardDeclined, CodeCardReportedStolen, CodeCardInsufficientFunds,
			CodeCardOTPRequired, CodeCardOTPInvalid, CodeCardOTPAttempts, CodeCardOTPMalformed, CodeCardOTPExpired,
			CodeCardAuthorizationExpired, CodeCardVerifyCodeInvalid, CodeCardVerifyAttempts, CodeCardVerifyCodeMalformed,
			CodeCardVerifyExpired, CodeCardNotFound, CodePayoutNameMismatch, CodePayoutRejected, CodeDepositAddressUnknown} {
			if !strings.Contains(half, "`"+code+"`") {
				t.Errorf("code %s missing", code)
			}
		}
		for _, s := range []string{SandboxOTP, ".13", ".14", "OKPAY*VERIFY"} {
			if !strings.Contains(half, s) {
				t.Errorf("%q missing", s)
			}
		}
	}
	cfg := DefaultSandboxConfig()
	for _, want := range []string{"2 minutes", "10 minutes", "7 days", "24 hours", "5 seconds", "30 seconds", "1 minute", "10 minutes"} {
		if !strings.Contains(strings.Join(strings.Fields(en), " "), want) {
			t.Errorf("timing %q missing", want)
		}
	}
	if cfg.SettleDelay != 2*time.Minute || cfg.OTPTimeout != 10*time.Minute || cfg.AuthorizationTTL != 7*24*time.Hour ||
		cfg.VerificationTTL != 24*time.Hour || cfg.PayoutProcessingAfter != 5*time.Second || cfg.PayoutDelay != time.Minute ||
		cfg.PayoutFailDelay != 30*time.Second || cfg.Chains["USDT"].Confirmations != 3 || cfg.Chains["USDT"].Interval != 30*time.Second ||
		cfg.Chains["BTC"].Confirmations != 3 || cfg.Chains["BTC"].Interval != 10*time.Minute {
		t.Errorf("default timings changed: update docs/SANDBOX.md and this test together")
	}
}
