package server_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"okpay/internal/identity"
	"okpay/internal/server"
	"okpay/internal/wallet"
)

// page is a browser-like client of the web pages: cookie jar, no redirects followed.
type page struct {
	*person
}

func (p page) get(path string) (*http.Response, string) {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.base+path, nil)
	for k, v := range p.Header {
		req.Header[k] = v
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (p page) post(path string, v url.Values) (*http.Response, string) {
	p.t.Helper()
	req, _ := http.NewRequest("POST", p.base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range p.Header {
		req.Header[k] = vs
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// follow posts and, on a redirect, gets where it points.
func (p page) follow(path string, v url.Values) (string, string) {
	p.t.Helper()
	resp, body := p.post(path, v)
	if resp.StatusCode != http.StatusSeeOther {
		return "", body
	}
	loc := resp.Header.Get("Location")
	if strings.HasPrefix(loc, "http") {
		return loc, ""
	}
	_, body = p.get(loc)
	return loc, body
}

func must(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Fatalf("page lacks %q:\n%s", w, body)
		}
	}
}

var statementRE = regexp.MustCompile(`OKPAY\*VERIFY (\d{4})`)

// dataCodeRE finds the error code a page shows, for failure messages.
var dataCodeRE = regexp.MustCompile(`data-code="[a-z_]+"`)

func TestWalletPages(t *testing.T) {
	walletEngines(t, func(t *testing.T, app *server.App, _ *syncBuffer) {
		ctx := context.Background()
		visitor := page{&person{client: newClient(t, app.URL())}}
		if resp, _ := visitor.get("/wallet"); resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/signin?next=") {
			t.Fatalf("visitor: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		a := page{newPerson(t, app, "ann@example.com", identity.RoleCustomer)}
		b := page{newPerson(t, app, "ben@example.com", identity.RoleCustomer)}
		time.Sleep(stepUpWindow + 100*time.Millisecond) // the sign-in's own step-up lapses

		card := url.Values{"number": {"4000 0000 0000 0069"}, "exp_month": {"12"}, "exp_year": {"2031"}, "cvv": {"123"}, "holder": {"Ann A"}}
		// Step-up asked in place, and back to the cards page.
		resp, body := a.post("/wallet/cards", card)
		must(t, body, `data-code="step_up_required"`, `id="stepup-form"`, `name="next" value="/wallet/cards"`)
		if strings.Contains(body, "4000 0000 0000 0069") {
			t.Fatal("the card number is shown again")
		}
		loc, _ := a.follow("/wallet/step-up", url.Values{"password": {walletPW}, "next": {"/wallet/cards"}})
		if loc != "/wallet/cards?done=stepped_up" {
			t.Fatalf("step-up went to %q", loc)
		}
		// The bank says the card expired: message, fix and the Change card button.
		resp, body = a.post("/wallet/cards", card)
		if resp.StatusCode != 422 {
			t.Fatalf("expired card: %d %s", resp.StatusCode, dataCodeRE.FindString(body))
		}
		must(t, body, `data-code="card_expired"`, `class="fix"`, `href="/wallet/cards">Change card</a>`)
		// A good card, verified with the code on the sandbox statement. Stepped up again
		// first: the window is short so the test can wait one out, and on a loaded CI
		// machine the pages above can outlast it.
		if loc, _ := a.follow("/wallet/step-up", url.Values{"password": {walletPW}, "next": {"/wallet/cards"}}); loc != "/wallet/cards?done=stepped_up" {
			t.Fatalf("second step-up went to %q", loc)
		}
		card.Set("number", "4242424242424242")
		loc, body = a.follow("/wallet/cards", card)
		must(t, body, `id="sandbox-statement"`)
		m := statementRE.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no statement code at %s", loc)
		}
		_, body = a.follow(strings.TrimSuffix(strings.Split(loc, "?")[0], "/verify")+"/verify", url.Values{"code": {m[1]}})
		must(t, body, "Card verified", `data-status="verified"`, "<strong>Visa ···· 4242</strong>")
		if strings.Contains(body, `data-status="failed"`) {
			t.Fatal("the card the bank refused is listed")
		}
		// Three wrong codes: the last says the verification failed and what to do, and the
		// list shows the reason in words, not as a bank refusal or a raw code.
		if loc, _ := a.follow("/wallet/step-up", url.Values{"password": {walletPW}, "next": {"/wallet/cards"}}); loc != "/wallet/cards?done=stepped_up" {
			t.Fatalf("third step-up went to %q", loc)
		}
		card.Set("number", "5555555555554444")
		loc, body = a.follow("/wallet/cards", card)
		m = statementRE.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no statement code at %s", loc)
		}
		wrong := "0000"
		if m[1] == wrong {
			wrong = "1111"
		}
		for i := 0; i < 3; i++ {
			_, body = a.post(strings.Split(loc, "?")[0], url.Values{"code": {wrong}})
		}
		must(t, body, `data-code="card_verification_attempts_exceeded"`, "Remove this card and add it again")
		_, body = a.get("/wallet/cards")
		must(t, body, "<strong>Mastercard ···· 4444</strong>", "Verification failed", "the code was entered wrong 3 times")
		if strings.Contains(body, "Refused by the bank") || strings.Contains(body, "<code>card_") {
			t.Fatalf("failed card shown as a bank refusal or a raw code:\n%s", body)
		}
		cards, _ := app.Wallet.ListCards(ctx, a.u.ID)
		var good wallet.Card
		for _, c := range cards {
			if c.Status == wallet.CardVerified {
				good = c
			}
		}

		// Top up from it; then the bank's one-time code step.
		_, body = a.get("/wallet/top-up")
		key := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(body)[1]
		_, body = a.follow("/wallet/top-up", url.Values{"key": {key}, "card_id": {good.ID}, "amount": {"300"}, "asset": {"CNY"}})
		must(t, body, "Top-up completed", `id="receipt"`)
		// The same form sent again (a double click) moves nothing more.
		a.follow("/wallet/top-up", url.Values{"key": {key}, "card_id": {good.ID}, "amount": {"300"}, "asset": {"CNY"}})
		if bal, _ := app.Wallet.BalanceOf(ctx, a.u.ID, "CNY"); bal.AvailableMinor != 30000 {
			t.Fatalf("after a repeated top-up form: %+v", bal)
		}

		// Transfer: confirmation, then the receipt; a refusal names its next step.
		_, body = a.post("/wallet/transfer", url.Values{"key": {"t-1"}, "to": {b.u.Email}, "amount": {"12.5"}, "asset": {"CNY"}, "memo": {"午饭"}})
		must(t, body, `id="transfer-confirm"`, "12.50 CNY", `name="confirm" value="1"`)
		_, body = a.follow("/wallet/transfer", url.Values{"key": {"t-1"}, "confirm": {"1"}, "to": {b.u.Email}, "amount": {"12.50"}, "asset": {"CNY"}, "memo": {"午饭"}})
		must(t, body, "Money sent", "午饭")
		_, body = a.post("/wallet/transfer", url.Values{"key": {"t-2"}, "confirm": {"1"}, "to": {b.u.Email}, "amount": {"900"}, "asset": {"CNY"}})
		must(t, body, `data-code="insufficient_funds"`, `href="/wallet/top-up">Top up</a>`)
		_, body = a.post("/wallet/transfer", url.Values{"key": {"t-3"}, "confirm": {"1"}, "to": {"nobody@example.com"}, "amount": {"1"}, "asset": {"CNY"}})
		must(t, body, `data-code="recipient_not_found"`)

		// Request money: link + QR; paid once; the second payer is refused.
		_, body = b.get("/wallet/request")
		loc, body = b.follow("/wallet/request", url.Values{"key": {"r-1"}, "amount": {"8.8"}, "asset": {"CNY"}, "memo": {"电影票"}, "expires": {"24"}})
		must(t, body, `<svg`, `id="request-link"`, "/pay/r/")
		token := strings.TrimPrefix(loc, "/wallet/requests/")
		_, body = visitor.get("/pay/r/" + token)
		must(t, body, "8.80 CNY", "电影票", `id="pay-signin"`)
		_, body = a.follow("/pay/r/"+token, url.Values{"key": {"pr-1"}})
		must(t, body, "Paid.", `id="receipt"`)
		c := page{newPerson(t, app, "cat@example.com", identity.RoleCustomer)}
		_, body = c.get("/pay/r/" + token)
		must(t, body, `data-code="request_already_paid"`)

		// Hosted checkout: pay, then back to the shop's return URL.
		shop := newPerson(t, app, "tea@example.com", identity.RoleMerchant)
		co, err := app.Wallet.CreateCheckout(ctx, wallet.CheckoutInput{MerchantID: shop.u.ID, Key: "co-1", Amount: "20.00", Asset: "CNY", OrderRef: "T-9",
			ReturnURL: "https://tea.example/orders/T-9", MerchantName: "Tea House"})
		if err != nil {
			t.Fatal(err)
		}
		_, body = a.get("/pay/c/" + co.Token)
		must(t, body, "Tea House", "20.00 CNY", `id="checkout-pay"`)
		loc, _ = a.follow("/pay/c/"+co.Token, url.Values{"key": {"co-pay"}})
		if !strings.HasPrefix(loc, "https://tea.example/orders/T-9?") || !strings.Contains(loc, "status=paid") {
			t.Fatalf("return URL %q", loc)
		}
		_, body = a.get("/pay/c/" + co.Token)
		must(t, body, `data-code="checkout_already_paid"`)

		// Withdraw: the fee before confirming, then the status page and its timeline.
		if _, err := app.Identity.SubmitIdentity(ctx, a.u.ID, identity.IdentityInput{RealName: "Ann A", IDType: identity.IDTypePassport, IDNumber: "E12345670",
			BirthDate: "1991-03-04"}, identity.Client{IP: "127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
		_, body = a.post("/wallet/withdraw", url.Values{"key": {"w-1"}, "card_id": {good.ID}, "amount": {"20"}, "asset": {"CNY"}})
		must(t, body, `id="withdraw-fee">1.02 CNY`, `id="withdraw-total">21.02 CNY`)
		_, body = a.follow("/wallet/withdraw", url.Values{"key": {"w-1"}, "confirm": {"1"}, "card_id": {good.ID}, "amount": {"20.00"}, "asset": {"CNY"}})
		must(t, body, `id="withdrawal-status"`, `id="timeline"`)

		// Crypto deposit: the address, and the sandbox deposit in dev mode.
		_, body = a.get("/wallet/deposit?asset=USDT")
		must(t, body, `id="deposit-address"`, "TRC20", `<svg`, `id="simulate-deposit"`)
		_, body = a.follow("/wallet/deposit/simulate", url.Values{"asset": {"USDT"}, "amount": {"5"}})
		must(t, body, "Deposit sent")

		// History with filters, detail, analysis; in Chinese too.
		_, body = a.get("/activity?type=transfer_out&q=" + url.QueryEscape("午饭"))
		if n := strings.Count(body, `class="w-act"`); n != 1 {
			t.Fatalf("filtered history has %d rows", n)
		}
		must(t, body, `href="/api/v1/activity/export.csv?q=`)
		_, body = a.get("/activity?from=nonsense")
		must(t, body, `data-code="validation_failed"`)
		_, body = a.get("/activity/analysis")
		must(t, body, `id="chart-months"`, `class="bar-out"`)
		a.Header.Set("Accept-Language", "zh-CN")
		_, body = a.get("/wallet")
		must(t, body, "钱包", "可用")
		a.Header.Del("Accept-Language")

		// A cross-site form post is refused.
		a.Header.Set("Sec-Fetch-Site", "cross-site")
		if resp, _ := a.post("/wallet/transfer", url.Values{"key": {"x"}, "confirm": {"1"}, "to": {b.u.Email}, "amount": {"1"}, "asset": {"CNY"}}); resp.StatusCode != 403 {
			t.Fatalf("cross-site post: %d", resp.StatusCode)
		}
		a.Header.Del("Sec-Fetch-Site")
		reconcile(t, app)
	})
}
