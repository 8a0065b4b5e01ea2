package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"okpay/internal/api"
	"okpay/internal/apperr"
	"okpay/internal/identity"
	"okpay/internal/ledger"
	"okpay/internal/money"
	"okpay/internal/rail"
	"okpay/internal/support/troubleshoot"
	"okpay/internal/support/troubleshoot/walletsrc"
	"okpay/internal/wallet"
	"okpay/internal/web"
)

// Labels of the keys derived from the node's secret key. Changing one changes every
// deposit address (or makes every stored card token unreadable), so they are fixed.
const (
	keyLabelSandboxAddresses = "okpay/rail/sandbox/deposit-addresses/v1"
	keyLabelCardTokens       = "okpay/wallet/card-tokens/v1"
)

// railUpdatesEvery is how often the wallet reads the rail's update feed. Every node runs
// the loop; the wallet's own database lease lets one of them apply updates.
const railUpdatesEvery = 1500 * time.Millisecond

// Test hooks, nil in production: tests shorten the sandbox's bank delays and adjust the
// wallet's tunables before the services are built.
var (
	sandboxTuning func(*rail.SandboxConfig)
	walletTuning  func(*wallet.Config)
	ledgerTuning  func(*ledger.Options)
)

// deriveKey is HMAC-SHA256(secret, label): one independent 32-byte key per purpose, so a
// leak of one (say, deposit addresses are public) says nothing of the others.
func deriveKey(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// buildWallet starts the ledger, the sandbox rail and the wallet over them, and the job
// that moves top-ups, withdrawals and deposits on from the rail's feed. Call it after
// buildSupportLive (the wallet asks announcements whether money may move). The ledger is
// closed by Close after the HTTP server drained and the jobs stopped, before the database.
func (a *App) buildWallet() error {
	if consoleWalletHook != nil {
		// A test brings its own ledger and wallet over this database; a second ledger
		// beside it would keep its own account cache, so none is built here.
		return nil
	}
	ctx := a.jobCtx
	lopts := ledger.Options{Logger: a.Log}
	if ledgerTuning != nil {
		ledgerTuning(&lopts)
	}
	l, err := ledger.New(a.DB, lopts)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if err := l.Start(ctx); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	a.Ledger = l
	scfg := rail.DefaultSandboxConfig()
	scfg.AddressKey = deriveKey(a.SecretKey, keyLabelSandboxAddresses)
	if sandboxTuning != nil {
		sandboxTuning(&scfg)
	}
	sb, err := rail.NewSandbox(a.DB, scfg)
	if err != nil {
		return fmt.Errorf("sandbox rail: %w", err)
	}
	a.Rail = sb
	wcfg := wallet.DefaultConfig()
	wcfg.SecretKey = deriveKey(a.SecretKey, keyLabelCardTokens)
	wcfg.NodeID = a.NodeID
	wcfg.Logger = a.Log
	wcfg.MaintenanceCheck = func(ctx context.Context) error {
		if a.Support == nil || a.Support.Notices == nil {
			return nil
		}
		return a.Support.Notices.MoneyAllowed(ctx)
	}
	if walletTuning != nil {
		walletTuning(&wcfg)
	}
	w, err := wallet.New(a.DB, l, a.Identity, sb, wcfg)
	if err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	if err := w.Start(ctx); err != nil {
		return err
	}
	a.Wallet = w
	a.usage.w = w
	a.Go("wallet-rail-updates", func(ctx context.Context) {
		t := time.NewTicker(railUpdatesEvery)
		defer t.Stop()
		for {
			if _, err := w.ProcessRailUpdates(ctx); err != nil && ctx.Err() == nil {
				a.Log.Warn("wallet rail updates", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return nil
}

// closeLedger drains the ledger's queue: every acknowledged transfer is written before
// the database closes.
func (a *App) closeLedger() {
	if a.Ledger == nil {
		return
	}
	if err := a.Ledger.Close(); err != nil {
		a.Log.Error("ledger close", "err", err)
	}
}

// usageSource gives identity's status page the wallet's limit usage. Identity is built
// before the wallet (the wallet needs it), so the source is filled in afterwards; until
// then, and without a wallet, it reports nothing used.
type usageSource struct{ w *wallet.Service }

func (u *usageSource) LimitsUsed(ctx context.Context, userID, asset string) (int64, int64, error) {
	if u == nil || u.w == nil {
		return 0, 0, nil
	}
	return u.w.LimitsUsed(ctx, userID, asset)
}

var _ identity.UsageSource = (*usageSource)(nil)

// walletConsoleSource is the troubleshooter's view of the wallet (nil without one).
func (a *App) walletConsoleSource() troubleshoot.Wallet {
	if a.Wallet == nil {
		return nil
	}
	return walletsrc.WalletSource{W: a.Wallet}
}

// walletAPI and walletWeb hand the wallet to the API and the pages; nil leaves them out.
func (a *App) walletAPI(accts *api.Accounts) *api.Wallet {
	if a.Wallet == nil {
		return nil
	}
	out := &api.Wallet{Service: a.Wallet}
	if accts != nil {
		out.Idempotency = accts.Idempotency
	}
	if a.Cfg.Dev || a.Cfg.Demo {
		t := a.sandboxTools()
		out.Sandbox = &api.WalletSandbox{Statement: t.Statement, Deposit: t.Deposit}
	}
	return out
}

func (a *App) walletWeb() *web.Wallet {
	if a.Wallet == nil {
		return nil
	}
	out := &web.Wallet{Service: a.Wallet, Identity: a.Identity}
	if a.Cfg.Dev || a.Cfg.Demo {
		t := a.sandboxTools()
		out.Sandbox = &web.WalletSandbox{Statement: t.Statement, Deposit: t.Deposit}
	}
	return out
}

// SandboxTools are the dev/demo helpers of the sandbox rail.
type SandboxTools struct {
	// Statement returns the lines of the card's sandbox bank statement that matter to
	// the holder: the verification charge with its code.
	Statement func(ctx context.Context, userID, cardID string) ([]string, error)
	// Deposit simulates a crypto deposit to the user's address.
	Deposit func(ctx context.Context, userID, asset, amount string) error
}

// sandboxTools are the dev/demo helpers: the card's sandbox bank statement (where the
// verification code is read) and a simulated crypto deposit.
func (a *App) sandboxTools() *SandboxTools {
	sb, w := a.Rail, a.Wallet
	return &SandboxTools{
		Statement: func(ctx context.Context, userID, cardID string) ([]string, error) {
			cards, err := w.ListCards(ctx, userID)
			if err != nil {
				return nil, err
			}
			if !slices.ContainsFunc(cards, func(c wallet.Card) bool { return c.ID == cardID }) {
				return nil, apperr.New(apperr.CodeNotFound)
			}
			// The wallet names a card's verification "v-" + the card id on the rail.
			op, err := sb.Get(ctx, "v-"+cardID)
			if err != nil {
				return nil, err
			}
			return []string{op.Descriptor}, nil
		},
		Deposit: func(ctx context.Context, userID, asset, amount string) error {
			da, err := w.DepositAddressFor(ctx, userID, asset)
			if err != nil {
				return err
			}
			_, m, err := wallet.ParseAmount(amount, asset)
			if err != nil {
				return err
			}
			_, err = sb.SimulateDeposit(ctx, da.Address, money.Amount(m), asset)
			return err
		},
	}
}

// verifyCardFromStatement reads the code off the sandbox statement and verifies the card,
// as a person would (demo data, bench).
func (a *App) verifyCardFromStatement(ctx context.Context, userID string, c *wallet.Card) error {
	lines, err := a.sandboxTools().Statement(ctx, userID, c.ID)
	if err != nil {
		return err
	}
	for _, l := range lines {
		if code, ok := strings.CutPrefix(l, "OKPAY*VERIFY "); ok {
			_, err := a.Wallet.VerifyCard(ctx, userID, c.ID, code)
			return err
		}
	}
	return errors.New("no verification line on the sandbox statement")
}

func init() {
	RegisterDemo(DemoSeeder{Name: "wallet", Seed: seedWalletDemo})
}

// seedWalletDemo gives the demo customers what a person would have after a few weeks:
// a verified test card, CNY topped up from it, a USDT deposit on its way, transfers both
// ways with memos, a paid request and a paid (partly refunded) shop order. Everything
// goes through the services, as a person's clicks would.
// parallel runs fn(0..n-1) concurrently and returns their errors joined.
func parallel(n int, fn func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func seedWalletDemo(ctx context.Context, a *App) error {
	if a.Wallet == nil {
		return nil
	}
	// Sign-ins and each user's set-up run in parallel: every sign-in and step-up pays a
	// deliberately slow password hash, and serve --demo waits for this before listening.
	users := map[string]*identity.User{}
	sessions, tokens := map[string]string{}, map[string]string{}
	var mu sync.Mutex
	err := parallel(len(DemoAccounts), func(i int) error {
		d := DemoAccounts[i]
		si, err := a.Identity.SignIn(ctx, identity.SignInInput{Email: d.Email, Password: DemoPassword}, identity.Client{IP: demoSeederIP, UserAgent: "okpay demo seeder"})
		if err != nil {
			return fmt.Errorf("sign in %s: %w", d.Email, err)
		}
		if si.Session == nil {
			return fmt.Errorf("sign in %s: no session", d.Email)
		}
		u, err := a.Identity.GetUser(ctx, si.Session.UserID)
		if err != nil {
			return err
		}
		mu.Lock()
		users[d.Email], sessions[d.Email], tokens[d.Email] = u, si.Session.ID, si.Token
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	alice, bob, shop := users["alice@demo.okpay.test"], users["bob@demo.okpay.test"], users["shop@demo.okpay.test"]
	key := func(parts ...string) string { return "demo-" + strings.Join(parts, "-") }
	people := []struct {
		u    *identity.User
		name string
		amt  string
	}{{alice, "Alice Demo", "900.00"}, {bob, "Bob Demo", "800.00"}, {shop, "Demo Shop", "300.00"}}
	err = parallel(len(people), func(i int) error {
		p := people[i]
		sess := sessions[p.u.Email]
		// A verified real name (level 1) lets the demo withdraw to the card in that name.
		if _, err := a.Identity.SubmitIdentity(ctx, p.u.ID, identity.IdentityInput{RealName: p.name, IDType: identity.IDTypePassport,
			IDNumber: "E1234567" + fmt.Sprint(len(p.name)%10), BirthDate: "1990-05-01"}, identity.Client{IP: demoSeederIP}); err != nil {
			a.Log.Warn("demo: real name not set", "user", p.u.Email, "err", err)
		}
		if _, err := a.Identity.StepUp(ctx, sess, identity.StepUpInput{Password: DemoPassword}, identity.Client{IP: demoSeederIP}); err != nil {
			return fmt.Errorf("step up %s: %w", p.u.Email, err)
		}
		c, err := a.Wallet.AddCard(ctx, wallet.AddCardInput{UserID: p.u.ID, SessionID: sess, Number: "4242424242424242",
			ExpMonth: "12", ExpYear: fmt.Sprint(time.Now().Year() + 3), Holder: p.name, CVV: "123"})
		if err != nil {
			return fmt.Errorf("add card %s: %w", p.u.Email, err)
		}
		if err := a.verifyCardFromStatement(ctx, p.u.ID, c); err != nil {
			return fmt.Errorf("verify card %s: %w", p.u.Email, err)
		}
		if _, err := a.Wallet.TopUp(ctx, wallet.TopUpInput{UserID: p.u.ID, Key: key("topup", p.u.ID), CardID: c.ID, Amount: p.amt, Asset: "CNY"}); err != nil {
			return fmt.Errorf("top up %s: %w", p.u.Email, err)
		}
		if p.u != shop {
			if err := a.sandboxTools().Deposit(ctx, p.u.ID, "USDT", "250"); err != nil {
				return fmt.Errorf("deposit %s: %w", p.u.Email, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	transfers := []struct {
		from, to *identity.User
		amt      string
		memo     string
	}{
		{alice, bob, "128.50", "晚饭 AA"},
		{bob, alice, "60.00", "Movie tickets"},
		{alice, bob, "230.00", "三月房租"},
		{bob, alice, "35.20", "咖啡"},
		{alice, bob, "15.00", "=SUM(A1) is only text"},
	}
	for i, t := range transfers {
		if _, err := a.Wallet.Transfer(ctx, wallet.TransferInput{SenderID: t.from.ID, SessionID: sessions[t.from.Email], Key: key("p2p", fmt.Sprint(i)),
			To: t.to.Email, Amount: t.amt, Asset: "CNY", Memo: t.memo}); err != nil {
			return fmt.Errorf("demo transfer %d: %w", i, err)
		}
	}
	req, err := a.Wallet.CreateRequest(ctx, wallet.RequestInput{UserID: bob.ID, Key: key("req"), Amount: "42.00", Asset: "CNY", Memo: "电影票"})
	if err != nil {
		return fmt.Errorf("demo request: %w", err)
	}
	if _, err := a.Wallet.PayRequest(ctx, wallet.PayRequestInput{PayerID: alice.ID, SessionID: sessions[alice.Email], Key: key("payreq"), Token: req.Token}); err != nil {
		return fmt.Errorf("demo pay request: %w", err)
	}
	co, err := a.Wallet.CreateCheckout(ctx, wallet.CheckoutInput{MerchantID: shop.ID, Key: key("co"), Amount: "199.00", Asset: "CNY",
		OrderRef: "DEMO-1001", ReturnURL: "https://shop.example/orders/DEMO-1001", Description: "Tea set 茶具", MerchantName: "Demo Tea Shop", Category: "shopping"})
	if err != nil {
		return fmt.Errorf("demo checkout: %w", err)
	}
	if _, err := a.Wallet.PayCheckout(ctx, wallet.PayCheckoutInput{PayerID: alice.ID, SessionID: sessions[alice.Email], Key: key("payco"), Token: co.Token}); err != nil {
		return fmt.Errorf("demo pay checkout: %w", err)
	}
	if _, err := a.Wallet.Refund(ctx, wallet.RefundInput{MerchantID: shop.ID, Key: key("refund"), CheckoutID: co.ID, Amount: "49.00", Reason: "One cup arrived broken"}); err != nil {
		return fmt.Errorf("demo refund: %w", err)
	}
	// The demo's own sign-ins are not people's sessions: end them.
	for _, tok := range tokens {
		_ = a.Identity.SignOut(ctx, tok)
	}
	return nil
}

// TuneForBench makes servers built afterwards in this process cheap to populate for
// `okpay bench api`: test-strength password hashing and roomy per-address rate limits
// (every bench client is 127.0.0.1). Never call it in `serve`.
func TuneForBench() {
	identityTuning = func(c *identity.Config) {
		c.Argon2 = identity.TestArgon2
		r := identity.Rate{Burst: 1 << 20, Every: time.Microsecond}
		c.RateLimits = identity.RateLimits{SignIn: r, Code: r, Register: r, Reset: r}
	}
}

// FundWithCard gives a signed-in user a balance the way a person gets one: bind the
// sandbox's always-successful test card, verify it with the code on its statement and top
// up amount CNY from it (used by `okpay bench api`).
func (a *App) FundWithCard(ctx context.Context, userID, sessionID, holder, amount string) error {
	if a.Wallet == nil {
		return errors.New("no wallet")
	}
	c, err := a.Wallet.AddCard(ctx, wallet.AddCardInput{UserID: userID, SessionID: sessionID, Number: "4242424242424242",
		ExpMonth: "12", ExpYear: fmt.Sprint(time.Now().Year() + 3), Holder: holder, CVV: "123"})
	if err != nil {
		return fmt.Errorf("add card: %w", err)
	}
	if err := a.verifyCardFromStatement(ctx, userID, c); err != nil {
		return fmt.Errorf("verify card: %w", err)
	}
	op, err := a.Wallet.TopUp(ctx, wallet.TopUpInput{UserID: userID, Key: "fund-" + userID, CardID: c.ID, Amount: amount, Asset: "CNY"})
	if err != nil {
		return fmt.Errorf("top up: %w", err)
	}
	if op.Status != "completed" {
		return fmt.Errorf("top up is %s", op.Status)
	}
	return nil
}

// demoSeederIP is the client address the wallet's demo seeder signs in from: a loopback
// address of its own, so seeding never uses up the per-address sign-in allowance of
// 127.0.0.1, where the first real visitor of a demo comes from.
const demoSeederIP = "127.0.0.3"
