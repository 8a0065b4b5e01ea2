package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"okpay/internal/browsertest"
	"okpay/internal/identity"
	"okpay/internal/wallet"
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
	ids := map[string]string{}
	for _, e := range []string{alice, bob} {
		u, err := app.Identity.CreateUser(ctx, identity.CreateUserInput{Email: e, Password: walletPW, Lang: "en", Role: identity.RoleCustomer, Verified: true})
		if err != nil {
			t.Fatal(err)
		}
		ids[e] = u.ID
	}
	b := browsertest.New(t, app.URL())
	b.Go("/signin?next=/wallet")
	b.Fill("#email", alice)
	b.Fill("#password", walletPW)
	b.Click(`form[action="/signin"] button[type="submit"]`)
	b.WaitText("main h1", "Wallet")
	b.Screenshot("w01-wallet-empty-en")

	// A card: Luhn error first, shown at the number field.
	b.Go("/wallet/cards")
	b.Fill("#card-number", "4242 4242 4242 4241")
	b.Fill("#card-exp-month", "12")
	b.Fill("#card-exp-year", "2031")
	b.Fill("#card-cvv", "123")
	b.Fill("#card-holder", "Alice W")
	b.Click("#card-submit")
	b.Wait("#err-number")
	b.Screenshot("w02-card-luhn-en")
	b.Fill("#card-number", "4242 4242 4242 4242")
	b.Fill("#card-cvv", "123")
	b.Click("#card-submit")
	b.Wait("#sandbox-statement")
	line := b.Text("#sandbox-statement .statement-line")
	code, ok := strings.CutPrefix(strings.TrimSpace(line), "OKPAY*VERIFY ")
	if !ok {
		t.Fatalf("statement line %q", line)
	}
	b.Screenshot("w03-card-verify-en")
	b.Fill("#verify-code", code)
	b.Click("#verify-submit")
	b.WaitText("#w-done", "Card verified")
	b.Screenshot("w04-cards-en")

	// Top up.
	b.Go("/wallet/top-up")
	b.Fill("#topup-amount", "300")
	// The top-up form carries an Idempotency-Key, so a second click cannot charge twice.
	b.ClickUntil("#topup-submit", "#w-done, #w-error")
	b.WaitText("#w-done", "Top-up completed")
	b.Go("/wallet")
	b.WaitText(`.w-balance[data-asset="CNY"] [data-field="available"]`, "300.00")

	// Transfer with the confirmation step.
	b.Go("/wallet/transfer")
	b.Fill("#transfer-to", bob)
	b.Fill("#transfer-amount", "88.8")
	b.Fill("#transfer-memo", "三月房租")
	// Both steps may be clicked again while their page is still shown without a result:
	// "next" only shows the confirmation, and the confirmation sends the key the form was
	// shown with, so the wallet answers a second send with the first one's record.
	b.ClickUntil("#transfer-next", "#confirm-amount, #w-error")
	b.WaitText("#confirm-amount", "88.80 CNY")
	b.Screenshot("w05-transfer-confirm-en")
	b.ClickUntil("#transfer-send", "#w-done, #w-error")
	b.WaitText("#w-done", "Money sent")
	b.WaitText("#receipt-memo", "三月房租")
	b.Screenshot("w06-receipt-en")
	sentOnce := func() {
		t.Helper()
		for who, want := range map[string]string{alice: "211.20", bob: "88.80"} {
			bs, err := app.Wallet.Balances(ctx, ids[who])
			if err != nil {
				t.Fatal(err)
			}
			var got string
			for _, bal := range bs {
				if bal.Asset == "CNY" {
					got = bal.Available
				}
			}
			if got != want {
				t.Fatalf("%s has %s CNY available, want %s: the transfer did not move the money exactly once", who, got, want)
			}
		}
		page, err := app.Wallet.ListActivity(ctx, ids[alice], wallet.Filter{Types: []string{wallet.TypeTransferOut}}, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 {
			t.Fatalf("%d transfers out, want 1", len(page.Items))
		}
	}
	sentOnce()
	// A refusal shows the message, the fix and the next step as a button.
	b.Go("/wallet/transfer")
	b.Fill("#transfer-to", bob)
	b.Fill("#transfer-amount", "500")
	b.ClickUntil("#transfer-next", "#confirm-amount, #w-error")
	b.ClickUntil("#transfer-send", "#w-done, #w-error")
	b.Wait(`#w-error[data-code="insufficient_funds"] a.w-next[href="/wallet/top-up"]`)
	b.Screenshot("w07-refusal-en")
	sentOnce()

	// History: filter by type and text, then export the filtered rows.
	b.Go("/activity")
	b.Wait(`.w-act[data-type="top_up"]`)
	b.Go("/activity?type=transfer_out&q=" + urlq("房租"))
	b.Wait(`.w-act[data-type="transfer_out"]`)
	if n := b.Eval(`document.querySelectorAll(".w-act").length`); n != "1" {
		t.Fatalf("filtered rows: %s", n)
	}
	b.Screenshot("w08-activity-filtered-en")
	b.Click("#export-link")
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
	b.Click(`form[action="/lang"] button[value="zh-CN"]`)
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
