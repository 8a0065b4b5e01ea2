package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db/dbtest"
	"okpay/internal/identity"
	"okpay/internal/ledger"
	"okpay/internal/rail"
	"okpay/internal/server"
	"okpay/internal/support/notice"
	"okpay/internal/wallet"
)

// walletEngines runs fn against a real server on SQLite and, when a test PostgreSQL is
// configured, on PostgreSQL.
func walletEngines(t *testing.T, fn func(t *testing.T, app *server.App, logs *syncBuffer)) {
	// Step-ups last a few seconds here, so a test can see one lapse (long enough for a step
	// and the request after it under -race on a busy machine).
	t.Cleanup(server.SetIdentityTuning(func(c *identity.Config) {
		c.Argon2 = identity.TestArgon2
		c.RateLimits = identity.RateLimits{
			SignIn: identity.Rate{Burst: 1000, Every: time.Millisecond}, Code: identity.Rate{Burst: 1000, Every: time.Millisecond},
			Register: identity.Rate{Burst: 1000, Every: time.Millisecond}, Reset: identity.Rate{Burst: 1000, Every: time.Millisecond},
		}
		c.StepUpWindow = stepUpWindow
	}))
	restore := server.SetSandboxTuning(func(c *rail.SandboxConfig) {
		c.PayoutProcessingAfter, c.PayoutDelay, c.PayoutFailDelay = 50*time.Millisecond, 400*time.Millisecond, 300*time.Millisecond
	})
	t.Cleanup(restore)
	t.Run("sqlite", func(t *testing.T) {
		cfg := sqliteConfig(t)
		cfg.Dev = true
		app, logs := startLogged(t, cfg)
		fn(t, app, logs)
	})
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv("OKPAY_TEST_DATABASE_URL") == "" {
			t.Skip("OKPAY_TEST_DATABASE_URL not set")
		}
		cfg := sqliteConfig(t)
		cfg.Dev = true
		cfg.DatabaseURL = dbtest.NewSchema(t)
		cfg.SecretKey = strings.Repeat("cd", 32)
		app, logs := startLogged(t, cfg)
		fn(t, app, logs)
	})
}

const walletPW = "Wallet-Kettle-2026!"

// stepUpWindow is how long a step-up lasts in these tests: short, because tests wait it
// out to see a step-up lapse. Under CI every package's tests share two cores with -race,
// and the step-up form, its redirect and the next request took over 6 s there (a card
// refused with step_up_required), so it is longer there.
var stepUpWindow = func() time.Duration {
	if os.Getenv("CI") != "" {
		return 15 * time.Second
	}
	return 6 * time.Second
}()

// person is a signed-in API user.
type person struct {
	*client
	u *identity.User
}

func newPerson(t *testing.T, app *server.App, email string, role identity.Role) *person {
	t.Helper()
	u, err := app.Identity.CreateUser(context.Background(), identity.CreateUserInput{Email: email, Password: walletPW, Lang: "en", Role: role, Verified: true})
	if err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	c := newClient(t, app.URL())
	c.must(200, "POST", "/auth/signin", map[string]string{"email": email, "password": walletPW}, nil)
	return &person{client: c, u: u}
}

// send posts with an Idempotency-Key.
func (p *person) send(key, method, path string, body, out any) (*http.Response, apiError) {
	p.t.Helper()
	p.Header.Set("Idempotency-Key", key)
	defer p.Header.Del("Idempotency-Key")
	return p.do(method, path, body, out)
}

func (p *person) sendOK(want int, key, method, path string, body, out any) *http.Response {
	p.t.Helper()
	resp, e := p.send(key, method, path, body, out)
	if resp.StatusCode != want {
		p.t.Fatalf("%s %s: got %d %+v, want %d", method, path, resp.StatusCode, e.Error, want)
	}
	return resp
}

func (p *person) sendFails(code, key, method, path string, body any) apiError {
	p.t.Helper()
	resp, e := p.send(key, method, path, body, nil)
	if e.Error.Code != code {
		p.t.Fatalf("%s %s: got %d %q (%s), want %q", method, path, resp.StatusCode, e.Error.Code, e.Error.Message, code)
	}
	return e
}

// bindCard steps up, adds a test card and verifies it with the code on its sandbox statement.
func (p *person) bindCard(number, holder string) wallet.Card {
	p.t.Helper()
	p.must(200, "POST", "/me/step-up", map[string]string{"password": walletPW}, nil)
	var c wallet.Card
	p.sendOK(201, fmt.Sprintf("card-%s-%d", number[len(number)-4:], time.Now().UnixNano()), "POST", "/cards", map[string]string{"number": number, "exp_month": "12", "exp_year": "2031", "holder": holder, "cvv": "123"}, &c)
	var st struct{ Lines []string }
	p.must(200, "GET", "/cards/"+c.ID+"/sandbox-statement", nil, &st)
	code := ""
	for _, l := range st.Lines {
		if s, ok := strings.CutPrefix(l, "OKPAY*VERIFY "); ok {
			code = s
		}
	}
	if code == "" {
		p.t.Fatalf("no verification code on the statement: %v", st.Lines)
	}
	p.sendOK(200, "verify-"+c.ID, "POST", "/cards/"+c.ID+"/verify", map[string]string{"code": code}, &c)
	if c.Status != wallet.CardVerified {
		p.t.Fatalf("card not verified: %+v", c)
	}
	return c
}

func (p *person) available(asset string) string {
	p.t.Helper()
	var bs struct{ Balances []wallet.Balance }
	p.must(200, "GET", "/wallet/balances", nil, &bs)
	for _, b := range bs.Balances {
		if b.Asset == asset {
			return b.Available
		}
	}
	return ""
}

// reconcile checks the ledger's invariants after the flows.
func reconcile(t *testing.T, app *server.App) {
	t.Helper()
	rep, err := ledger.Reconcile(context.Background(), app.DB)
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("reconcile: %+v", rep)
	}
}

func TestWalletAPIFlows(t *testing.T) {
	walletEngines(t, func(t *testing.T, app *server.App, logs *syncBuffer) {
		alice := newPerson(t, app, "alice@example.com", identity.RoleCustomer)
		bob := newPerson(t, app, "bob@example.com", identity.RoleCustomer)
		shop := newPerson(t, app, "shop@example.com", identity.RoleMerchant)

		// Money needs a key; a card needs a step-up.
		alice.fails("validation_failed", "POST", "/transfers", map[string]string{"to": bob.u.Email, "amount": "1", "asset": "CNY"})
		time.Sleep(stepUpWindow + 100*time.Millisecond) // the sign-in's own step-up lapses
		alice.sendFails(identity.CodeStepUpRequired, "k-card-0", "POST", "/cards", map[string]string{"number": "4242424242424242", "exp_month": "12", "exp_year": "2031", "holder": "Alice A", "cvv": "123"})
		alice.must(200, "POST", "/me/step-up", map[string]string{"password": walletPW}, nil)
		// Luhn and expiry errors name their fields.
		e := alice.sendFails(rail.CodeCardNumberInvalid, "k-card-1", "POST", "/cards", map[string]string{"number": "4242424242424241", "exp_month": "13", "exp_year": "2031", "holder": "Alice A", "cvv": "123"})
		fields := map[string]bool{}
		for _, f := range e.Error.Fields {
			fields[f.Field] = true
		}
		if !fields["number"] || !fields["expiry"] {
			t.Fatalf("card fields: %+v", e.Error.Fields)
		}
		// A card the bank refuses to verify is not kept: not listed, no card slot used.
		resp, de := alice.send("k-card-2", "POST", "/cards", map[string]string{"number": "4000000000000002", "exp_month": "12", "exp_year": "2031", "holder": "Alice A", "cvv": "123"}, nil)
		if de.Error.Code != rail.CodeCardDeclined {
			t.Fatalf("declined card: %d %+v", resp.StatusCode, de.Error)
		}
		card := alice.bindCard("4242424242424242", "Alice A")

		// Top-up, with the limit of identity level 0 (1,000 CNY a day).
		var op wallet.RailOp
		alice.sendOK(201, "top-1", "POST", "/top-ups", map[string]string{"card_id": card.ID, "amount": "500.00", "asset": "CNY"}, &op)
		if op.Status != "completed" || alice.available("CNY") != "500.00" {
			t.Fatalf("top-up: %+v, balance %s", op, alice.available("CNY"))
		}
		le := alice.sendFails(wallet.CodeLimitExceeded, "top-2", "POST", "/top-ups", map[string]string{"card_id": card.ID, "amount": "600.00", "asset": "CNY"})
		if le.Error.Fix == "" {
			t.Fatal("limit_exceeded without a fix")
		}
		var cards struct{ Cards []wallet.Card }
		alice.must(200, "GET", "/cards", nil, &cards)
		for _, c := range cards.Cards {
			if c.Last4 == "0002" || c.Status == wallet.CardFailed {
				t.Fatalf("declined card listed: %+v", cards.Cards)
			}
		}
		var unverified wallet.Card
		alice.must(200, "POST", "/me/step-up", map[string]string{"password": walletPW}, nil)
		alice.sendOK(201, "k-card-3", "POST", "/cards", map[string]string{"number": "5555555555554444", "exp_month": "12", "exp_year": "2031", "holder": "Alice A", "cvv": "123"}, &unverified)
		alice.sendFails(wallet.CodeCardNotVerified, "top-3", "POST", "/top-ups", map[string]string{"card_id": unverified.ID, "amount": "5", "asset": "CNY"})
		// The bank's one-time code.
		otpCard := alice.bindCard("4000002760003184", "Alice A")
		alice.sendOK(201, "top-otp", "POST", "/top-ups", map[string]string{"card_id": otpCard.ID, "amount": "20.00", "asset": "CNY"}, &op)
		if op.NextStep != rail.CodeCardOTPRequired {
			t.Fatalf("otp top-up: %+v", op)
		}
		alice.sendFails(rail.CodeCardOTPInvalid, "otp-1", "POST", "/top-ups/"+op.ID+"/otp", map[string]string{"code": "000000"})
		alice.sendOK(200, "otp-2", "POST", "/top-ups/"+op.ID+"/otp", map[string]string{"code": "123456"}, &op)
		if alice.available("CNY") != "520.00" {
			t.Fatalf("after otp top-up: %s (%+v)", alice.available("CNY"), op)
		}

		// Transfers and their refusals.
		body := map[string]string{"to": bob.u.Email, "amount": "100.00", "asset": "CNY", "memo": "三月房租"}
		var act, again wallet.Activity
		alice.sendOK(201, "p2p-1", "POST", "/transfers", body, &act)
		resp = alice.sendOK(201, "p2p-1", "POST", "/transfers", body, &again)
		if again.ID != act.ID || resp.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %s vs %s", again.ID, act.ID)
		}
		alice.sendFails("idempotency_conflict", "p2p-1", "POST", "/transfers", map[string]string{"to": bob.u.Email, "amount": "101.00", "asset": "CNY"})
		if alice.available("CNY") != "420.00" || bob.available("CNY") != "100.00" {
			t.Fatalf("balances: %s %s", alice.available("CNY"), bob.available("CNY"))
		}
		alice.sendFails(wallet.CodeInsufficientFunds, "p2p-2", "POST", "/transfers", map[string]string{"to": bob.u.Email, "amount": "900", "asset": "CNY"})
		alice.sendFails(wallet.CodeRecipientNotFound, "p2p-3", "POST", "/transfers", map[string]string{"to": "nobody@example.com", "amount": "1", "asset": "CNY"})
		alice.sendFails(wallet.CodeCannotPaySelf, "p2p-4", "POST", "/transfers", map[string]string{"to": alice.u.Email, "amount": "1", "asset": "CNY"})
		alice.sendFails("amount_invalid", "p2p-5", "POST", "/transfers", map[string]string{"to": bob.u.Email, "amount": "1.001", "asset": "CNY"})
		alice.sendFails("currency_not_supported", "p2p-6", "POST", "/transfers", map[string]string{"to": bob.u.Email, "amount": "1", "asset": "XYZ"})
		alice.sendOK(201, "p2p-formula", "POST", "/transfers", map[string]string{"to": bob.u.Email, "amount": "1.00", "asset": "CNY", "memo": "=HYPERLINK(\"x\")"}, nil)

		// Two requests with one key at once move the money once.
		var wg sync.WaitGroup
		var created atomic.Int32
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := newClient(t, app.URL())
				c.hc.Jar = alice.hc.Jar
				c.Header.Set("Idempotency-Key", "p2p-twice")
				resp, _ := c.do("POST", "/transfers", map[string]string{"to": bob.u.Email, "amount": "10.00", "asset": "CNY"}, nil)
				if resp.StatusCode == 201 {
					created.Add(1)
				}
			}()
		}
		wg.Wait()
		alice.sendOK(201, "p2p-twice", "POST", "/transfers", map[string]string{"to": bob.u.Email, "amount": "10.00", "asset": "CNY"}, nil)
		if got := alice.available("CNY"); got != "409.00" {
			t.Fatalf("after the doubled request alice has %s (201s: %d)", got, created.Load())
		}

		// Double spend: 50 parallel transfers of 10 from a wallet of 100 → exactly 10.
		carol := newPerson(t, app, "carol@example.com", identity.RoleCustomer)
		alice.sendOK(201, "to-carol", "POST", "/transfers", map[string]string{"to": carol.u.Email, "amount": "100.00", "asset": "CNY"}, nil)
		var ok, poor atomic.Int32
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				c := newClient(t, app.URL())
				c.hc.Jar = carol.hc.Jar
				c.Header.Set("Idempotency-Key", fmt.Sprintf("spend-%d", i))
				resp, e := c.do("POST", "/transfers", map[string]string{"to": bob.u.Email, "amount": "10.00", "asset": "CNY"}, nil)
				switch {
				case resp.StatusCode == 201:
					ok.Add(1)
				case e.Error.Code == wallet.CodeInsufficientFunds:
					poor.Add(1)
				default:
					t.Errorf("spend %d: %d %+v", i, resp.StatusCode, e.Error)
				}
			}(i)
		}
		wg.Wait()
		if ok.Load() != 10 || poor.Load() != 40 || carol.available("CNY") != "0.00" {
			t.Fatalf("double spend: %d ok, %d refused, carol %s", ok.Load(), poor.Load(), carol.available("CNY"))
		}

		// Request money: paid once; cancelled refuses.
		var pr wallet.PaymentRequest
		bob.sendOK(201, "req-1", "POST", "/payment-requests", map[string]any{"amount": "12.50", "asset": "CNY", "memo": "电影票"}, &pr)
		var pub wallet.PaymentRequest
		newClient(t, app.URL()).must(200, "GET", "/payment-requests/"+pr.Token, nil, &pub)
		if pub.AmountMinor != 1250 || pub.Status != "open" {
			t.Fatalf("public request: %+v", pub)
		}
		alice.sendOK(201, "pay-req-1", "POST", "/payment-requests/"+pr.Token+"/pay", nil, nil)
		alice.sendFails(wallet.CodeRequestAlreadyPaid, "pay-req-2", "POST", "/payment-requests/"+pr.Token+"/pay", nil)
		bob.sendOK(201, "req-2", "POST", "/payment-requests", map[string]any{"amount": "1", "asset": "CNY"}, &pr)
		bob.sendOK(204, "req-2-cancel", "POST", "/payment-requests/"+pr.ID+"/cancel", nil, nil)
		alice.sendFails(wallet.CodeRequestCancelled, "pay-req-3", "POST", "/payment-requests/"+pr.Token+"/pay", nil)
		bob.sendFails("validation_failed", "req-3", "POST", "/payment-requests", map[string]any{"amount": "1", "asset": "CNY", "expires_in_seconds": 10})

		// Merchant checkout with an API key; the customer pays on the hosted page's API.
		shop.must(200, "POST", "/me/step-up", map[string]string{"password": walletPW}, nil)
		var key identity.NewAPIKey
		shop.must(201, "POST", "/me/api-keys", map[string]any{"name": "shop", "scopes": []string{"read", "payments"}}, &key)
		merchant := newClient(t, app.URL())
		merchant.Header.Set("Authorization", "Bearer "+key.Secret)
		mp := &person{client: merchant, u: shop.u}
		var co wallet.Checkout
		mp.sendOK(201, "co-1", "POST", "/checkouts", map[string]string{"amount": "80.00", "asset": "CNY", "order_ref": "A-1", "return_url": "https://shop.example/done",
			"merchant_name": "Tea House", "category": "food"}, &co)
		mp.sendFails(wallet.CodeOrderRefTaken, "co-2", "POST", "/checkouts", map[string]string{"amount": "80.00", "asset": "CNY", "order_ref": "A-1", "return_url": "https://shop.example/done"})
		alice.sendFails(wallet.CodeMerchantOnly, "co-3", "POST", "/checkouts", map[string]string{"amount": "1", "asset": "CNY", "order_ref": "X", "return_url": "https://x.example/"})
		alice.sendOK(201, "pay-co", "POST", "/hosted-checkouts/"+co.Token+"/pay", nil, nil)
		alice.sendFails(wallet.CodeCheckoutAlreadyPaid, "pay-co-2", "POST", "/hosted-checkouts/"+co.Token+"/pay", nil)
		mp.must(200, "GET", "/checkouts/A-1", nil, &co)
		if co.Status != wallet.CheckoutPaid {
			t.Fatalf("merchant sees %+v", co)
		}
		var rf wallet.Refund
		mp.sendOK(201, "rf-1", "POST", "/checkouts/"+co.ID+"/refunds", map[string]string{"amount": "30.00", "reason": "one cup broken"}, &rf)
		mp.sendFails(wallet.CodeRefundExceedsPaid, "rf-2", "POST", "/checkouts/"+co.ID+"/refunds", map[string]string{"amount": "60.00"})
		mp.sendOK(201, "rf-3", "POST", "/checkouts/"+co.ID+"/refunds", map[string]string{}, &rf)
		if rf.AmountMinor != 5000 {
			t.Fatalf("rest refund: %+v", rf)
		}
		// A key without the payouts scope cannot send money.
		mp.sendFails("forbidden", "mp-p2p", "POST", "/transfers", map[string]string{"to": alice.u.Email, "amount": "1", "asset": "CNY"})
		var refunds struct{ Items []wallet.Activity }
		alice.must(200, "GET", "/activity?type=refund", nil, &refunds)
		if len(refunds.Items) != 2 {
			t.Fatalf("alice's refunds: %+v", refunds.Items)
		}

		// Withdrawal needs a real name; then the fee is held and the bank pays out.
		alice.sendFails(wallet.CodeRealNameRequired, "wd-0", "POST", "/withdrawals", map[string]string{"card_id": card.ID, "amount": "20.00", "asset": "CNY"})
		if _, err := app.Identity.SubmitIdentity(context.Background(), alice.u.ID, identity.IdentityInput{RealName: "Alice A", IDType: identity.IDTypePassport,
			IDNumber: "E12345678", BirthDate: "1990-01-02"}, identity.Client{IP: "127.0.0.1"}); err != nil {
			t.Fatalf("real name: %v", err)
		}
		var q struct {
			FeeMinor int64 `json:"fee_minor"`
		}
		alice.must(200, "GET", "/withdrawals/fee?asset=CNY&amount=20.00", nil, &q)
		if q.FeeMinor != 102 {
			t.Fatalf("fee quote %+v", q)
		}
		alice.sendFails(wallet.CodeWithdrawalTooSmall, "wd-1", "POST", "/withdrawals", map[string]string{"card_id": card.ID, "amount": "1.00", "asset": "CNY"})
		alice.sendOK(201, "wd-2", "POST", "/withdrawals", map[string]string{"card_id": card.ID, "amount": "20.00", "asset": "CNY"}, &op)
		alice.sendOK(201, "wd-3", "POST", "/withdrawals", map[string]string{"card_id": card.ID, "amount": "20.14", "asset": "CNY"}, nil)
		deadline := time.Now().Add(20 * time.Second)
		for {
			alice.must(200, "GET", "/withdrawals/"+op.ID, nil, &op)
			var failed struct{ Items []wallet.Activity }
			alice.must(200, "GET", "/activity?type=withdrawal&status=failed", nil, &failed)
			if op.Status == "completed" && len(failed.Items) == 1 {
				if failed.Items[0].FailureCode != rail.CodePayoutNameMismatch {
					t.Fatalf("failed withdrawal: %+v", failed.Items[0])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("withdrawals not settled: %+v, failed %d", op, len(failed.Items))
			}
			time.Sleep(200 * time.Millisecond)
		}

		// A deposit is confirming, then credited by the rail job (sandbox chain: 3 × 30 s,
		// so only "confirming" is checked here).
		var da wallet.DepositAddress
		alice.must(200, "GET", "/deposits/address?asset=USDT", nil, &da)
		alice.fails(wallet.CodeCryptoOnly, "GET", "/deposits/address?asset=CNY", nil)
		alice.sendOK(202, "dep-1", "POST", "/deposits/simulate", map[string]string{"asset": "USDT", "amount": "25"}, nil)
		var deps struct{ Items []wallet.Activity }
		for i := 0; i < 50 && len(deps.Items) == 0; i++ {
			alice.must(200, "GET", "/activity?type=deposit", nil, &deps)
			time.Sleep(100 * time.Millisecond)
		}
		if len(deps.Items) != 1 || deps.Items[0].Status != wallet.StatusConfirming {
			t.Fatalf("deposit: %+v", deps.Items)
		}
		// The activity page shows the status once, then the count ("Confirming 0/3", not
		// "Confirming confirming 0/3").
		if page := alice.page("/activity?type=deposit"); !strings.Contains(page, "Confirming</span> <span class=\"muted\">0/3") {
			t.Errorf("activity page: confirming deposit not shown as \"Confirming 0/3\":\n%s", page)
		}

		// History: filters, pages, detail, analysis.
		var pg wallet.ActivityPage
		alice.must(200, "GET", "/activity?q="+urlq("房租"), nil, &pg)
		if len(pg.Items) != 1 || pg.Items[0].Memo != "三月房租" {
			t.Fatalf("text filter: %+v", pg.Items)
		}
		alice.must(200, "GET", "/activity?limit=3", nil, &pg)
		if len(pg.Items) != 3 || pg.Next == "" {
			t.Fatalf("page: %d next %q", len(pg.Items), pg.Next)
		}
		var pg2 wallet.ActivityPage
		alice.must(200, "GET", "/activity?limit=3&cursor="+urlq(pg.Next), nil, &pg2)
		if len(pg2.Items) == 0 || pg2.Items[0].ID == pg.Items[0].ID {
			t.Fatalf("second page: %+v", pg2.Items)
		}
		alice.fails(wallet.CodeCursorInvalid, "GET", "/activity?cursor=garbage", nil)
		alice.fails("validation_failed", "GET", "/activity?from=yesterday", nil)
		var one wallet.Activity
		alice.must(200, "GET", "/activity/"+act.RefNo, nil, &one)
		if one.ID != act.ID || len(one.Timeline) == 0 {
			t.Fatalf("detail: %+v", one)
		}
		bob.fails("not_found", "GET", "/activity/"+act.ID, nil)
		var an wallet.Analysis
		alice.must(200, "GET", "/analysis?asset=CNY&months=3", nil, &an)
		if an.SpendingMinor == 0 || len(an.Categories) == 0 || len(an.TopCounterparties) == 0 {
			t.Fatalf("analysis: %+v", an)
		}

		// CSV export of the filtered history equals the filtered rows.
		checkExport(t, alice, "type=transfer_out", 0)
		rows := checkExport(t, alice, "", 0)
		joined := strings.Join(flatten(rows), "\n")
		if !strings.Contains(joined, "'=HYPERLINK") || strings.Contains(joined, "\n=HYPERLINK") {
			t.Fatalf("formula not neutralised")
		}

		// An unverified email cannot send; a frozen account cannot send.
		if _, err := app.Identity.CreateUser(context.Background(), identity.CreateUserInput{Email: "dave@example.com", Password: walletPW, Role: identity.RoleCustomer}); err != nil {
			t.Fatal(err)
		}
		dave := &person{client: newClient(t, app.URL())}
		dave.must(200, "POST", "/auth/signin", map[string]string{"email": "dave@example.com", "password": walletPW}, nil)
		dave.sendFails(identity.CodeEmailNotVerified, "d-1", "POST", "/transfers", map[string]string{"to": bob.u.Email, "amount": "1", "asset": "CNY"})
		alice.sendOK(201, "to-carol-2", "POST", "/transfers", map[string]string{"to": carol.u.Email, "amount": "5.00", "asset": "CNY"}, nil)
		carol.must(201, "POST", "/me/freeze", map[string]string{"reason": "lost my phone"}, nil)
		carol.must(200, "POST", "/auth/signin", map[string]string{"email": carol.u.Email, "password": walletPW}, nil)
		carol.sendFails(identity.CodeAccountFrozen, "c-1", "POST", "/transfers", map[string]string{"to": bob.u.Email, "amount": "1", "asset": "CNY"})

		reconcile(t, app)
		noCardNumbers(t, app, logs.String(), joined)

		// A maintenance window refuses money movements with the code and its fix.
		admin, err := app.Identity.CreateUser(context.Background(), identity.CreateUserInput{Email: "ops@example.com", Password: walletPW, Role: identity.RoleAdmin, Verified: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.Support.Notices.Create(context.Background(), notice.Actor{ID: admin.ID, Role: string(identity.RoleAdmin)}, notice.Input{Kind: notice.KindMaintenance,
			Title: apperr.Text{En: "Upgrade", Zh: "升级"}, Body: apperr.Text{En: "Back soon.", Zh: "稍后恢复。"}, EndsAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		deadline = time.Now().Add(15 * time.Second)
		for i := 0; ; i++ {
			resp, e := alice.send(fmt.Sprintf("maint-%d", i), "POST", "/transfers", map[string]string{"to": bob.u.Email, "amount": "1.00", "asset": "CNY"}, nil)
			if e.Error.Code == "maintenance" {
				if e.Error.Fix == "" {
					t.Fatal("maintenance without a fix")
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no maintenance refusal: %d %+v", resp.StatusCode, e.Error)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}

func urlq(s string) string {
	return strings.NewReplacer("%", "%25", "+", "%2B", "&", "%26", "=", "%3D", " ", "%20").Replace(s)
}

func flatten(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// checkExport downloads the CSV for query and compares it with every page of the list API
// for the same filter.
func checkExport(t *testing.T, p *person, query string, _ int) [][]string {
	t.Helper()
	req, _ := http.NewRequest("GET", p.base+"/api/v1/activity/export.csv?"+query, nil)
	resp, err := p.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export: %d %s", resp.StatusCode, raw)
	}
	if !bytes.HasPrefix(raw, []byte("\ufeff")) {
		t.Fatal("export without BOM")
	}
	rows, err := csv.NewReader(bytes.NewReader(raw[3:])).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v", err)
	}
	if strings.Join(rows[0], ",") != strings.Join(wallet.ExportHeader, ",") {
		t.Fatalf("header %v", rows[0])
	}
	var want []wallet.Activity
	cursor := ""
	for {
		var pg wallet.ActivityPage
		p.must(200, "GET", "/activity?limit=100&"+query+"&cursor="+urlq(cursor), nil, &pg)
		want = append(want, pg.Items...)
		if pg.Next == "" {
			break
		}
		cursor = pg.Next
	}
	if len(rows)-1 != len(want) {
		t.Fatalf("export has %d rows, list %d", len(rows)-1, len(want))
	}
	for i, a := range want {
		r := rows[i+1]
		amount := a.Amount
		if a.Direction < 0 {
			amount = "-" + amount
		}
		memo := a.Memo
		if strings.HasPrefix(memo, "=") {
			memo = "'" + memo
		}
		if r[1] != a.RefNo || r[2] != a.Type || r[3] != a.Status || r[4] != a.Asset || r[5] != amount || r[8] != memo {
			t.Fatalf("row %d: %v vs %+v", i, r, a)
		}
	}
	return rows
}

// digitRun is a run of 13–19 digits standing alone (a run inside a hex digest or an id is
// not a card number; the exact numbers typed are searched for separately).
var digitRun = regexp.MustCompile(`(?:^|[^0-9A-Za-z])([0-9]{13,19})(?:[^0-9A-Za-z]|$)`)

func luhn(s string) bool {
	sum, alt := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if alt {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		alt = !alt
	}
	return sum%10 == 0
}

// testCardNumbers are the full numbers the tests typed.
var testCardNumbers = []string{"5555555555554444", "4242424242424242", "4000000000000002", "4000002760003184", "4242424242424241"}

// noCardNumbers scans the database (SQLite files, or every text column on PostgreSQL is
// covered by the dump through the API-independent file scan when on SQLite), the log and
// the export for card numbers.
func noCardNumbers(t *testing.T, app *server.App, logs, export string) {
	t.Helper()
	check := func(where, s string) {
		for _, n := range testCardNumbers {
			if strings.Contains(s, n) {
				t.Errorf("%s contains the card number %s", where, n)
			}
		}
		for _, m := range digitRun.FindAllStringSubmatch(s, -1) {
			run := m[1]
			if luhn(run) && (strings.HasPrefix(run, "4") || strings.HasPrefix(run, "5") || strings.HasPrefix(run, "62")) && !looksLikeTime(run) {
				i := strings.Index(s, run)
				t.Errorf("%s has a Luhn-valid digit run %s… in %q", where, run[:6], s[max(0, i-80):min(len(s), i+40)])
			}
		}
	}
	check("log", logs)
	check("export", export)
	if app.DB.Path != "" {
		for _, suffix := range []string{"", "-wal"} {
			b, err := os.ReadFile(app.DB.Path + suffix)
			if err == nil {
				check(filepath.Base(app.DB.Path+suffix), string(b))
			}
		}
		return
	}
	// PostgreSQL: every text value of every table.
	rows, err := app.DB.R.QueryContext(context.Background(), `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying', 'bytea')`)
	if err != nil {
		t.Fatal(err)
	}
	var cols [][2]string
	for rows.Next() {
		var tn, cn string
		rows.Scan(&tn, &cn)
		cols = append(cols, [2]string{tn, cn})
	}
	rows.Close()
	for _, c := range cols {
		vr, err := app.DB.R.QueryContext(context.Background(), fmt.Sprintf(`SELECT CAST(%q AS text) FROM %q`, c[1], c[0]))
		if err != nil {
			t.Fatal(err)
		}
		for vr.Next() {
			var v *string
			vr.Scan(&v)
			if v != nil {
				check(c[0]+"."+c[1], *v)
			}
		}
		vr.Close()
	}
}

// looksLikeTime is a Unix time in µs or ns around now: the schema's timestamps.
func looksLikeTime(run string) bool {
	return (len(run) == 16 && strings.HasPrefix(run, "17")) || (len(run) == 19 && strings.HasPrefix(run, "17"))
}
