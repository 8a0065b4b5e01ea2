package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"okpay/internal/browsertest"
	"okpay/internal/server"
)

// The acceptance walk in a real browser: register → read the code from the dev mailbox →
// verify → turn on 2-step (secret read from the page, code computed independently) → sign
// out → sign in with password and code → see the device list. Screenshots of both
// languages go to OKPAY_SCREENSHOTS.
func TestBrowserAccountJourney(t *testing.T) {
	relaxed(t)
	cfg := sqliteConfig(t)
	cfg.Dev = true
	app := start(t, cfg)
	b := browsertest.New(t, app.URL())
	const email, password = "carol@example.com", "Blue-Kettle-2026!"

	b.Go("/register")
	b.Screenshot("01-register-en")
	b.Fill("#email", email)
	b.Fill("#password", password)
	b.Click(`form[action="/register"] button[type="submit"]`)
	b.WaitText("main h1", "Verify your email")
	b.Screenshot("02-verify-en")

	b.Go("/dev/mailbox?to=" + email)
	text := b.Text(`.mail[data-kind="verify_email"] .mail-text`)
	m := codeRE.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no code in mail: %q", text)
	}
	b.Go("/verify-email")
	b.Fill("#code", m[1])
	b.Click(`form[action="/verify-email"] button[type="submit"]`)
	b.WaitText("main", "Your email address is verified")
	b.Screenshot("03-account-en")

	b.Go("/account/security")
	b.Click("#enable-2fa")
	b.Wait("#totp-secret")
	b.Screenshot("04-2fa-setup-en")
	secret := strings.TrimSpace(b.Text("#totp-secret"))
	now := time.Now()
	b.Fill("#code", totp(t, secret, now))
	b.Click("#confirm-2fa")
	b.Wait("#recovery-codes")
	b.Screenshot("05-recovery-codes-en")
	if codes := strings.Fields(b.Text("#recovery-codes")); len(codes) != 10 {
		t.Fatalf("want 10 recovery codes, got %q", codes)
	}

	b.Click("#nav-signout")
	b.WaitText("main", "You are signed out")
	b.Fill("#email", email)
	b.Fill("#password", password)
	b.Click(`form[action="/signin"] button[type="submit"]`)
	b.WaitText("main h1", "2-step verification")
	b.Screenshot("06-second-step-en")
	// The code of the next 30-second step: the one just used to confirm is spent (each
	// code works once), and the server accepts one step of drift.
	b.Fill("#code", totp(t, secret, now.Add(30*time.Second)))
	b.Click(`form[action="/signin/second-step"] button[type="submit"]`)
	b.WaitText("main h1", "My account")

	b.Go("/account/security")
	devices := b.Text("#device-list")
	if !strings.Contains(devices, "This device") {
		t.Fatalf("device list does not mark this device: %q", devices)
	}
	if state := b.Text("#two-step-state"); state != "On" {
		t.Fatalf("2-step state %q", state)
	}
	b.Screenshot("07-security-en")

	// The same pages in Chinese.
	b.Click(`form[action="/lang"] button[value="zh-CN"]`)
	b.Wait(`html[lang="zh-CN"]`)
	b.Go("/account/security")
	b.WaitText("main h1", "安全设置")
	b.Screenshot("08-security-zh")
	b.Go("/account/status")
	b.Screenshot("09-status-zh")
	b.Go("/account/identity")
	b.Screenshot("10-identity-zh")
	b.Go("/account/freeze")
	b.Screenshot("11-freeze-zh")
}

// The account pages on a phone-sized screen, in Chinese: nothing is wider than the screen,
// and the failure states (lockout, unverified email, frozen) show their way out.
func TestBrowserPhoneAccountPages(t *testing.T) {
	relaxed(t)
	cfg := sqliteConfig(t)
	app := start(t, cfg)
	b := browsertest.New(t, app.URL())
	ctx, cancel := context.WithTimeout(b.Context(), b.Step)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	cancel()
	b.Go("/")
	b.Click(`form[action="/lang"] button[value="zh-CN"]`)
	b.Wait(`html[lang="zh-CN"]`)
	fits := func(name string) {
		t.Helper()
		b.Screenshot(name)
		if w := b.Eval(`document.documentElement.scrollWidth <= window.innerWidth`); w != "true" {
			t.Errorf("%s: page wider than the phone screen", name)
		}
	}
	const email, password = "wang@example.com", "Blue-Kettle-2026!"
	b.Go("/register")
	fits("p01-register")
	b.Fill("#email", email)
	b.Fill("#password", password)
	b.Click(`form[action="/register"] button[type="submit"]`)
	b.WaitText("main h1", "验证邮箱")
	fits("p02-verify")
	b.Go("/account/status")
	b.WaitText("main", "邮箱未验证")
	fits("p03-status-unverified")
	b.Go("/account/security")
	fits("p04-security")
	b.Go("/account/freeze")
	b.Fill("#reason", "手机丢了")
	b.Click("#freeze-submit")
	b.Wait("#frozen")
	fits("p05-frozen")

	// Lockout: five wrong passwords, then the page says until when and offers a reset.
	b.Go("/signin")
	for i := 0; i < 5; i++ {
		b.Fill("#email", email)
		b.Fill("#password", "Wrong-Kettle-1!")
		b.Click(`form[action="/signin"] button[type="submit"]`)
		b.Wait(".alert-error")
		b.Go("/signin")
	}
	b.Fill("#email", email)
	b.Fill("#password", password)
	b.Click(`form[action="/signin"] button[type="submit"]`)
	b.WaitText(".alert-error", "锁定至")
	fits("p06-locked")
	if href := b.Attr(`.alert-error a.button`, "href"); href != "/forgot-password" {
		t.Errorf("locked page's next step: %q", href)
	}
	b.Go("/forgot-password")
	fits("p07-forgot")
}

// The demo agent finds a demo customer on the minimal agent page and unlocks the account
// with a reason.
func TestBrowserAgentPage(t *testing.T) {
	cfg := sqliteConfig(t)
	cfg.Demo = true
	app := start(t, cfg)
	b := browsertest.New(t, app.URL())
	b.Go("/signin")
	b.Fill("#email", "agent@demo.okpay.test")
	b.Fill("#password", server.DemoPassword)
	b.Click(`form[action="/signin"] button[type="submit"]`)
	b.WaitText("main h1", "Agent console") // staff land on their console
	b.Go("/agent/accounts")
	b.Fill("#agent-email", "alice@demo.okpay.test")
	b.Click(`form.inline-form button[type="submit"]`)
	b.Wait("#found-user")
	b.Screenshot("agent-found")
	b.Fill("#unlock-reason", "caller answered the security questions")
	b.Click(`form[action$="/unlock"] button[type="submit"]`)
	b.WaitText("main", "The account is unlocked")
	b.Screenshot("agent-unlocked")
}
