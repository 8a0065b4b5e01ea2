package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"okpay/internal/browsertest"
	"okpay/internal/identity"
	"okpay/internal/rail"
	"okpay/internal/support/troubleshoot"
	"okpay/internal/wallet"
)

// startWithWallet starts a real server on 127.0.0.1:0, with its own ledger, sandbox rail
// and wallet; the sandbox bank answers payouts in moments instead of half a minute.
func startWithWallet(t *testing.T) *App {
	t.Helper()
	return startWithWalletDemo(t, false)
}

func startWithWalletDemo(t *testing.T, demo bool) *App {
	t.Helper()
	restoreTuning, restoreSandbox := identityTuning, sandboxTuning
	identityTuning = func(c *identity.Config) {
		c.Argon2 = identity.TestArgon2
		c.RateLimits = identity.RateLimits{SignIn: identity.Rate{Burst: 1000, Every: time.Millisecond},
			Code: identity.Rate{Burst: 1000, Every: time.Millisecond}, Register: identity.Rate{Burst: 1000, Every: time.Millisecond},
			Reset: identity.Rate{Burst: 1000, Every: time.Millisecond}}
	}
	sandboxTuning = func(c *rail.SandboxConfig) {
		c.PayoutProcessingAfter, c.PayoutDelay, c.PayoutFailDelay = 50*time.Millisecond, 400*time.Millisecond, 300*time.Millisecond
	}
	t.Cleanup(func() { identityTuning, sandboxTuning = restoreTuning, restoreSandbox })
	cfg := Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Dev = true
	cfg.Demo = demo
	ctx, cancel := context.WithCancel(context.Background())
	app, err := New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatalf("new server: %v", err)
	}
	if app.Wallet == nil || app.Rail == nil {
		cancel()
		t.Fatal("the server built no wallet")
	}
	if err := app.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return app
}

const e2ePassword = "Blue-Kettle-2026!"

// failedWithdrawal builds, through the services, a customer whose withdrawal to a card in
// their own name bounced at the bank for the name (the sandbox's amount ending in .14),
// and returns the withdrawal's reference number.
func failedWithdrawal(t *testing.T, app *App, u *identity.User) string {
	t.Helper()
	ctx := context.Background()
	w, sb := app.Wallet, app.Rail
	si, err := app.Identity.SignIn(ctx, identity.SignInInput{Email: u.Email, Password: e2ePassword}, identity.Client{IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	sess := si.Session.ID
	card, err := w.AddCard(ctx, wallet.AddCardInput{UserID: u.ID, SessionID: sess, Number: "4242424242424242", ExpMonth: "12", ExpYear: "2030",
		Holder: "张三", CVV: "123"})
	if err != nil {
		t.Fatal(err)
	}
	op, err := sb.Get(ctx, "v-"+card.ID)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := strings.CutPrefix(op.Descriptor, "OKPAY*VERIFY ")
	if _, err := w.VerifyCard(ctx, u.ID, card.ID, code); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Identity.SubmitIdentity(ctx, u.ID, identity.IdentityInput{RealName: "张三", IDType: identity.IDTypeCNResident,
		IDNumber: "11010519491231002X", BirthDate: "1949-12-31"}, identity.Client{}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.TopUp(ctx, wallet.TopUpInput{UserID: u.ID, Key: "e2e-top", CardID: card.ID, Amount: "500", Asset: "CNY"}); err != nil {
		t.Fatal(err)
	}
	wd, err := w.Withdraw(ctx, wallet.WithdrawInput{UserID: u.ID, SessionID: sess, Key: "e2e-wd", CardID: card.ID, Amount: "100.14", Asset: "CNY"})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := w.ProcessRailUpdates(ctx); err != nil {
			t.Fatal(err)
		}
		a, err := w.GetActivity(ctx, u.ID, wd.ActivityID)
		if err != nil {
			t.Fatal(err)
		}
		if a.Status == wallet.StatusFailed {
			if a.FailureCode != rail.CodePayoutNameMismatch {
				t.Fatalf("withdrawal failed with %s", a.FailureCode)
			}
			return a.RefNo
		}
		if time.Now().After(deadline) {
			t.Fatalf("withdrawal still %s", a.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func e2eSignIn(t *testing.T, b *browsertest.Browser, email string) {
	t.Helper()
	b.Go("/signin")
	b.Fill("#email", email)
	b.Fill("#password", e2ePassword)
	b.Click(`form[action="/signin"] button[type="submit"]`)
	deadline := time.Now().Add(b.Step)
	for strings.Contains(b.Location(), "/signin") {
		if time.Now().After(deadline) {
			t.Fatalf("still on the sign-in page: %s", b.Text("main"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var ticketPathRE = regexp.MustCompile(`/tickets/(T-[0-9]{4}-[0-9]{6,})`)

// TestBrowserWithdrawalTroubleshooterToAgent is the acceptance walk: a customer whose
// withdrawal failed opens the troubleshooter, sees why and what to do, and opens a ticket
// from it; an agent in a second browser sees the diagnosis in the console and answers
// with a canned reply; the customer sees the reply on the ticket and in the inbox.
func TestBrowserWithdrawalTroubleshooterToAgent(t *testing.T) {
	app := startWithWallet(t)
	ctx := context.Background()
	mei, err := app.Identity.CreateUser(ctx, identity.CreateUserInput{Email: "mei@example.com", Password: e2ePassword, Verified: true, Lang: "en",
		Role: identity.RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Identity.CreateUser(ctx, identity.CreateUserInput{Email: "agentli@example.com", Password: e2ePassword, Verified: true,
		Role: identity.RoleAgent, Lang: "en"}); err != nil {
		t.Fatal(err)
	}
	ref := failedWithdrawal(t, app, mei)

	// The customer.
	c := browsertest.New(t, app.URL())
	// Pages take seconds each under -race on a busy machine; a step still fails in a minute.
	c.Step = time.Minute
	e2eSignIn(t, c, mei.Email)
	c.Go("/fix")
	c.Wait(`#fix-suggested [data-problem="withdrawal_failed"]`)
	c.Screenshot("fix-01-suggested")
	c.Click(`#fix-suggested [data-problem="withdrawal_failed"] a`)
	cause := c.WaitText("#fix-cause", "name on the card")
	for _, want := range []string{ref, "100.14 CNY", "back in your wallet"} {
		if !strings.Contains(cause, want) {
			t.Fatalf("cause %q lacks %q", cause, want)
		}
	}
	// The button goes to the card page, or while the server has no wallet pages, to the
	// help article that explains the failure.
	if step := c.Text("#fix-step-button"); !strings.HasPrefix(step, "Change card") {
		t.Fatalf("next step %q", step)
	}
	if href := c.Attr("#fix-step-button", "href"); href != "/wallet/cards" && !strings.HasPrefix(href, "/help/") {
		t.Fatalf("next step goes to %q", href)
	}
	c.Screenshot("fix-02-diagnosis")
	c.Fill("#fix-desc", "The card is in my own name.")
	c.Click("#fix-open-ticket")
	c.WaitText("main", "The card is in my own name.")
	mt := ticketPathRE.FindStringSubmatch(c.Location())
	if mt == nil {
		t.Fatalf("not on a ticket page: %s", c.Location())
	}
	number := mt[1]
	c.Screenshot("fix-03-ticket")

	// The agent, in a second browser.
	a := browsertest.New(t, app.URL())
	a.Step = time.Minute
	e2eSignIn(t, a, "agentli@example.com")
	a.Go("/agent")
	row := `tr[data-number="` + number + `"]`
	a.Wait(row)
	a.Screenshot("console-01-queue")
	a.Click(row + ` a[href^="/agent/customers/"]`)
	card := `.console-ticket[data-number="` + number + `"]`
	stored := a.WaitText(card+` .console-diag[data-rule="withdrawal.latest"]`, "name on the card")
	for _, want := range []string{ref, "payout_name_mismatch"} {
		if !strings.Contains(stored, want) {
			t.Fatalf("agent's diagnosis %q lacks %q", stored, want)
		}
	}
	a.Screenshot("console-02-customer")
	a.Select(card+" select.console-canned", "name_mismatch")
	a.Click(card + " .console-send")
	a.WaitText("#console-done", "Reply sent")
	a.Screenshot("console-03-replied")

	// The customer sees the answer, and it is in the inbox.
	c.Go("/tickets/" + number)
	c.WaitText("#thread", "does not match your verified real name")
	c.Screenshot("fix-04-reply")
	c.Go("/inbox")
	reply := c.WaitText(".inbox-item.kind-ticket_reply.unread", number)
	if !strings.Contains(reply, "New reply") {
		t.Fatalf("inbox item: %q", reply)
	}
	// The bounced withdrawal told her too; both are counted unread.
	c.Wait(".inbox-item.kind-withdrawal_failed")
	if got := c.Text("#inbox-unread"); strings.HasPrefix(got, "0") {
		t.Fatalf("unread: %q", got)
	}
	c.Screenshot("fix-05-inbox")
}

// TestDemoTroubleshooter: after `serve --demo`, the demo customer's withdrawal bounces at
// the sandbox bank and the troubleshooter explains it through the API.
func TestDemoTroubleshooter(t *testing.T) {
	app := startWithWalletDemo(t, true)
	ctx := context.Background()
	si, err := app.Identity.SignIn(ctx, identity.SignInInput{Email: demoTroubleshootEmail, Password: DemoPassword}, identity.Client{IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		page, err := app.Wallet.ListActivity(ctx, si.Session.UserID, wallet.Filter{Types: []string{wallet.TypeWithdrawal}}, "", 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) == 1 && page.Items[0].Status == wallet.StatusFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo withdrawal did not fail: %+v", page.Items)
		}
	}
	req, _ := http.NewRequest("GET", app.URL()+"/api/v1/fix/withdrawal_failed", nil)
	req.AddCookie(&http.Cookie{Name: "okpay_session", Value: si.Token})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		NextStep  string                  `json:"next_step"`
		Diagnosis *troubleshoot.Diagnosis `json:"diagnosis"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 {
		t.Fatalf("fix: %d %v", res.StatusCode, err)
	}
	if out.Diagnosis.Facts["failure_code"] != rail.CodePayoutNameMismatch || out.NextStep != troubleshoot.ActionChangeCard || !out.Diagnosis.OfferTicket {
		t.Fatalf("diagnosis %+v", out.Diagnosis)
	}
}
