package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"okpay/internal/browsertest"
	"okpay/internal/identity"
)

// The wallet walk in a real browser: sign in → add a test card (verified with the code on
// the sandbox statement) → top up → transfer to another user (with the confirmation) →
// filter the history → export the filtered CSV (streamed, with progress) → see the
// spending chart. Then the same pages in Chinese at phone width, and a refusal with its
// next-step button. Screenshots go to OKPAY_SCREENSHOTS.
func TestBrowserWalletJourney(t *testing.T) {
	relaxed(t)
	cfg := sqliteConfig(t)
	cfg.Dev = true
	app := start(t, cfg)
	ctx := context.Background()
	const alice, bob = "alice.w@example.com", "bob.w@example.com"
	for _, e := range []string{alice, bob} {
		if _, err := app.Identity.CreateUser(ctx, identity.CreateUserInput{Email: e, Password: walletPW, Lang: "en", Role: identity.RoleCustomer, Verified: true}); err != nil {
			t.Fatal(err)
		}
	}
	b := browsertest.New(t, app.URL())
	b.Go("/signin?next=/wallet")
	wfill(t, b, "#email", alice)
	wfill(t, b, "#password", walletPW)
	click(t, b, `form[action="/signin"] button[type="submit"]`)
	b.WaitText("main h1", "Wallet")
	b.Screenshot("w01-wallet-empty-en")

	// A card: Luhn error first, shown at the number field.
	b.Go("/wallet/cards")
	wfill(t, b, "#card-number", "4242 4242 4242 4241")
	wfill(t, b, "#card-exp-month", "12")
	wfill(t, b, "#card-exp-year", "2031")
	wfill(t, b, "#card-cvv", "123")
	wfill(t, b, "#card-holder", "Alice W")
	click(t, b, "#card-submit")
	b.Wait("#err-number")
	b.Screenshot("w02-card-luhn-en")
	wfill(t, b, "#card-number", "4242 4242 4242 4242")
	wfill(t, b, "#card-cvv", "123")
	click(t, b, "#card-submit")
	b.Wait("#sandbox-statement")
	line := b.Text("#sandbox-statement .statement-line")
	code, ok := strings.CutPrefix(strings.TrimSpace(line), "OKPAY*VERIFY ")
	if !ok {
		t.Fatalf("statement line %q", line)
	}
	b.Screenshot("w03-card-verify-en")
	wfill(t, b, "#verify-code", code)
	click(t, b, "#verify-submit")
	b.WaitText("#w-done", "Card verified")
	b.Screenshot("w04-cards-en")

	// Top up.
	b.Go("/wallet/top-up")
	wfill(t, b, "#topup-amount", "300")
	click(t, b, "#topup-submit")
	b.WaitText("#w-done", "Top-up completed")
	b.Go("/wallet")
	b.WaitText(`.w-balance[data-asset="CNY"] [data-field="available"]`, "300.00")

	// Transfer with the confirmation step.
	b.Go("/wallet/transfer")
	wfill(t, b, "#transfer-to", bob)
	wfill(t, b, "#transfer-amount", "88.8")
	wfill(t, b, "#transfer-memo", "三月房租")
	click(t, b, "#transfer-next")
	b.WaitText("#confirm-amount", "88.80 CNY")
	b.Screenshot("w05-transfer-confirm-en")
	click(t, b, "#transfer-send")
	b.WaitText("#w-done", "Money sent")
	b.WaitText("#receipt-memo", "三月房租")
	b.Screenshot("w06-receipt-en")
	// A refusal shows the message, the fix and the next step as a button.
	b.Go("/wallet/transfer")
	wfill(t, b, "#transfer-to", bob)
	wfill(t, b, "#transfer-amount", "500")
	click(t, b, "#transfer-next")
	click(t, b, "#transfer-send")
	b.Wait(`#w-error[data-code="insufficient_funds"] a.w-next[href="/wallet/top-up"]`)
	b.Screenshot("w07-refusal-en")

	// History: filter by type and text, then export the filtered rows.
	b.Go("/activity")
	b.Wait(`.w-act[data-type="top_up"]`)
	b.Go("/activity?type=transfer_out&q=" + urlq("房租"))
	b.Wait(`.w-act[data-type="transfer_out"]`)
	if n := b.Eval(`document.querySelectorAll(".w-act").length`); n != "1" {
		t.Fatalf("filtered rows: %s", n)
	}
	b.Screenshot("w08-activity-filtered-en")
	click(t, b, "#export-link")
	deadline := time.Now().Add(b.Step)
	for b.Eval(`document.getElementById("export-progress").dataset.rows || ""`) != "1" {
		if time.Now().After(deadline) {
			t.Fatalf("export progress: %q", b.Text("#export-progress"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Screenshot("w09-export-en")

	// The spending chart.
	b.Go("/activity/analysis")
	b.Wait("#chart-months rect.bar-out")
	b.Wait("#chart-cat rect.bar-out")
	b.Screenshot("w10-analysis-en")

	// Chinese at phone width: nothing wider than the screen.
	b.Go("/")
	click(t, b, `form[action="/lang"] button[value="zh-CN"]`)
	b.Wait(`html[lang="zh-CN"]`)
	cctx, cancel := context.WithTimeout(b.Context(), b.Step)
	if err := chromedp.Do(cctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	cancel()
	for _, p := range []struct{ path, name string }{{"/wallet", "p-wallet-zh"}, {"/wallet/cards", "p-cards-zh"}, {"/wallet/transfer", "p-transfer-zh"},
		{"/activity", "p-activity-zh"}, {"/activity/analysis", "p-analysis-zh"}, {"/wallet/request", "p-request-zh"}, {"/wallet/deposit", "p-deposit-zh"},
		{"/wallet/withdraw", "p-withdraw-zh"}} {
		b.Go(p.path)
		b.Screenshot(p.name)
		if w := b.Eval(`document.documentElement.scrollWidth <= window.innerWidth`); w != "true" {
			t.Errorf("%s: page wider than the phone screen", p.path)
		}
	}
	b.WaitText("main h1", "提现")
}

// wfill is fill retried when the page replaced the input between finding and typing (a
// navigation finishing, or the chat widget re-rendering), as click does.
func wfill(t *testing.T, b *browsertest.Browser, sel, value string) {
	t.Helper()
	var err error
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithTimeout(b.Context(), b.Step)
		err = chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), value))
		cancel()
		if err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Screenshot("failure")
	t.Fatal(fmt.Sprintf("browser: fill %s: %v (at %s)", sel, err, b.Location()))
}
