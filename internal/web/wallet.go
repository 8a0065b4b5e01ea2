package web

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/money"
	"okpay/internal/rail"
	"okpay/internal/wallet"
)

// Wallet is what the wallet pages need from the server.
type Wallet struct {
	Service  *wallet.Service
	Identity *identity.Service
	// Sandbox is set in dev/demo mode only: the card's sandbox statement is shown next to
	// the verification form, and the deposit page can simulate a deposit.
	Sandbox *WalletSandbox
}

// WalletSandbox are the dev/demo helpers of the sandbox rail.
type WalletSandbox struct {
	Statement func(ctx context.Context, userID, cardID string) ([]string, error)
	Deposit   func(ctx context.Context, userID, asset, amount string) error
}

func init() {
	addFeature(func(u *UI, mux *http.ServeMux) {
		if u.cfg.Wallet == nil || u.cfg.Accounts == nil {
			return
		}
		u.walletRoutes(mux)
		u.payRoutes(mux)
		u.cardRoutes(mux)
		u.activityRoutes(mux)
	})
}

func (u *UI) wsvc() *wallet.Service { return u.cfg.Wallet.Service }

// wdata is the data of every wallet page; each page fills what it shows. One type keeps
// the shared partials (alert, step-up, key) working on every page.
type wdata struct {
	form
	// Key is the Idempotency-Key of the form on the page: a double-click or a reload of
	// the post sends the same key, and the wallet moves the money once.
	Key string
	// StepUpNext is where the step-up form comes back to.
	StepUpNext string
	Sandbox    bool

	Balances  []balView
	Assets    []string
	Cards     []wallet.Card
	Card      *wallet.Card
	Statement []string
	Act       *actView
	Acts      []actView
	NextPage  string
	Op        *wallet.RailOp
	OpAct     *actView
	Req       *wallet.PaymentRequest
	Reqs      []reqView
	Checkout  *wallet.Checkout
	QR        template.HTML
	Link      string
	Deposit   *wallet.DepositAddress
	Confirm   bool
	Quote     *quote
	Recipient string
	Filter    filterView
	Query     string
	ExportURL string
	Charts    *charts
	SignInURL string
	CanPay    bool
	// OpStatus is Op's status, translated; CardStatus translates card statuses.
	OpStatus   string
	CardStatus map[string]string
}

// balView is one wallet's balance as the home page shows it.
type balView struct {
	Asset, Available, OnHold, Total, Incoming string
}

type quote struct {
	Amount, Fee, Total string
}

type reqView struct {
	wallet.PaymentRequest
	StatusLabel, Expires string
}

// newKey is a fresh Idempotency-Key for a form.
func newKey() string { return uuid.Must(uuid.NewV7()).String() }

// formKey is the key the form sent, or a fresh one (a hand-made post): the wallet needs one.
func formKey(r *http.Request) string {
	if k := r.PostFormValue("key"); k != "" && len(k) <= 128 {
		return k
	}
	return newKey()
}

// noRefill are the fields never shown again after a failure.
var noRefill = map[string]bool{"number": true, "cvv": true, "password": true, "code": true, "key": true}

// wfail turns err into the page's failure with the wallet's next steps first, and keeps
// what the person typed (never card numbers, CVVs, passwords or codes).
func (u *UI) wfail(w http.ResponseWriter, r *http.Request, err error) (wdata, int) {
	f, status := u.failed(w, r, err, "wallet")
	for k, vs := range r.PostForm {
		if !noRefill[k] && len(vs) > 0 && len(vs[0]) < 300 {
			f.Values.Set(k, vs[0])
		}
	}
	if f.Err != nil {
		acts := walletActions(f.Err.Code)
		for i := range acts {
			acts[i].Label = u.tr(r, acts[i].Key)
		}
		f.Err.Actions = append(acts, f.Err.Actions...)
	}
	return wdata{form: f, Key: newKey(), StepUpNext: r.URL.Path}, status
}

// walletActions are the next steps of the wallet's refusals, as buttons.
func walletActions(code string) []pageAction {
	topUp := pageAction{Key: "w.act.top_up", Href: "/wallet/top-up"}
	cards := pageAction{Key: "w.act.change_card", Href: "/wallet/cards"}
	identityLvl := pageAction{Key: "w.act.verify_identity", Href: "/account/identity"}
	switch code {
	case wallet.CodeInsufficientFunds:
		return []pageAction{topUp}
	case wallet.CodeLimitExceeded, wallet.CodeRealNameRequired:
		return []pageAction{identityLvl}
	case rail.CodeCardExpired, rail.CodeCardDeclined, rail.CodeCardReportedStolen, wallet.CodeCardNotVerified, wallet.CodeCardNameMismatch,
		rail.CodeCardInsufficientFunds, wallet.CodeCurrencyMismatch:
		return []pageAction{cards}
	case identity.CodeSendingRestricted, identity.CodeReceivingRestricted, identity.CodeWithdrawRestricted:
		return []pageAction{{Key: "w.act.status", Href: "/account/status"}}
	case apperr.CodeMaintenance:
		return []pageAction{{Key: "w.act.service_status", Href: "/status"}}
	case wallet.CodeRequestAlreadyPaid, wallet.CodeCheckoutAlreadyPaid:
		return []pageAction{{Key: "w.act.activity", Href: "/activity"}}
	case wallet.CodeCardLimit:
		return []pageAction{cards}
	}
	return nil
}

// wrender renders a wallet page with the sandbox flag and a fresh key when none is set.
func (u *UI) wrender(w http.ResponseWriter, r *http.Request, status int, page string, d wdata) {
	if d.Key == "" {
		d.Key = newKey()
	}
	if d.Values == nil {
		d.Values = url.Values{}
	}
	if d.StepUpNext == "" {
		d.StepUpNext = r.URL.Path
	}
	d.Sandbox = u.cfg.Wallet.Sandbox != nil
	if d.Op != nil {
		d.OpStatus = u.tr(r, "w.op."+d.Op.Status)
	}
	d.CardStatus = map[string]string{}
	for _, st := range []string{wallet.CardVerifying, wallet.CardVerified, wallet.CardFailed} {
		d.CardStatus[st] = u.tr(r, "w.card.status."+st)
	}
	if d.OK == "" {
		d.OK = u.wdone(r)
	}
	u.Render(w, r, status, page, d)
}

// wdoneKeys are the confirmations a redirect may ask for (?done=), by their keys.
var wdoneKeys = map[string]string{
	"sent": "w.done.sent", "topped_up": "w.done.topped_up", "top_up_pending": "w.done.top_up_pending", "card_added": "w.done.card_added",
	"card_verified": "w.done.card_verified", "card_default": "w.done.card_default", "card_removed": "w.done.card_removed",
	"stepped_up": "w.done.stepped_up", "paid": "w.done.paid", "request_cancelled": "w.done.request_cancelled",
	"withdrawal_requested": "w.done.withdrawal_requested", "deposit_sent": "w.done.deposit_sent", "opened": "w.done.opened",
	"card_changing": "w.done.card_changing",
}

func (u *UI) wdone(r *http.Request) string {
	if k, ok := wdoneKeys[r.URL.Query().Get("done")]; ok {
		return u.tr(r, k)
	}
	return ""
}

func (u *UI) walletRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /wallet", u.signedIn(u.walletHome))
	mux.Handle("POST /wallet/open", u.post(u.signedIn(u.walletOpen)))
	mux.Handle("POST /wallet/step-up", u.post(u.signedIn(u.walletStepUp)))
	mux.HandleFunc("GET /wallet/top-up", u.signedIn(u.topUpPage))
	mux.Handle("POST /wallet/top-up", u.post(u.signedIn(u.topUp)))
	mux.HandleFunc("GET /wallet/top-up/{id}", u.signedIn(u.topUpStatus))
	mux.Handle("POST /wallet/top-up/{id}/otp", u.post(u.signedIn(u.topUpOTP)))
	mux.HandleFunc("GET /wallet/transfer", u.signedIn(u.transferPage))
	mux.Handle("POST /wallet/transfer", u.post(u.signedIn(u.transfer)))
	mux.HandleFunc("GET /wallet/withdraw", u.signedIn(u.withdrawPage))
	mux.Handle("POST /wallet/withdraw", u.post(u.signedIn(u.withdraw)))
	mux.HandleFunc("GET /wallet/withdrawals/{id}", u.signedIn(u.withdrawalStatus))
	mux.HandleFunc("GET /wallet/deposit", u.signedIn(u.depositPage))
	mux.Handle("POST /wallet/deposit/simulate", u.post(u.signedIn(u.depositSimulate)))
}

// balancesOf formats the wallets for the page.
func balancesOf(bs []wallet.Balance) []balView {
	out := make([]balView, len(bs))
	for i, b := range bs {
		out[i] = balView{Asset: b.Asset, Available: b.Available, OnHold: b.OnHold, Total: b.Total}
		if b.IncomingMinor > 0 {
			out[i].Incoming = fmtMinor(b.IncomingMinor, b.Asset)
		}
	}
	return out
}

// unopened lists the supported assets the user has no wallet in yet.
func unopened(bs []wallet.Balance) []string {
	var out []string
	for _, a := range money.Supported() {
		found := false
		for _, b := range bs {
			found = found || b.Asset == a.Code
		}
		if !found {
			out = append(out, a.Code)
		}
	}
	return out
}

func (u *UI) walletHome(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u.walletHomeWith(w, r, p, wdata{}, http.StatusOK)
}

func (u *UI) walletHomeWith(w http.ResponseWriter, r *http.Request, p *authn.Principal, d wdata, status int) {
	bs, err := u.wsvc().Balances(r.Context(), p.User.ID)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	d.Balances, d.Assets = balancesOf(bs), unopened(bs)
	pg, err := u.wsvc().ListActivity(r.Context(), p.User.ID, wallet.Filter{}, "", 5)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	d.Acts = u.actViews(r, pg.Items)
	u.wrender(w, r, status, "wallet", d)
}

func (u *UI) walletOpen(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if _, err := u.wsvc().OpenWallet(r.Context(), p.User.ID, r.PostForm.Get("asset")); err != nil {
		d, status := u.wfail(w, r, err)
		u.walletHomeWith(w, r, p, d, status)
		return
	}
	redirectDone(w, r, "/wallet", "opened")
}

// walletStepUp confirms it is the owner (password, or the 2-step code) and goes back to the
// wallet page that asked, where the person sends the form again.
func (u *UI) walletStepUp(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	next := safeNext(r.PostForm.Get("next"))
	if !strings.HasPrefix(next, "/wallet") && !strings.HasPrefix(next, "/pay/") {
		next = "/wallet"
	}
	in := identity.StepUpInput{Password: r.PostForm.Get("password"), Code: r.PostForm.Get("code")}
	if _, err := u.cfg.Accounts.Service.StepUp(r.Context(), p.SessionID(), in, authn.Client(r)); err != nil {
		d, status := u.wfail(w, r, err)
		d.StepUpNext = next
		d.Err.StepUp = true
		u.wrender(w, r, status, "wallet-stepup", d)
		return
	}
	redirectDone(w, r, next, "stepped_up")
}

// verifiedCards are the cards money can move with, default first.
func (u *UI) verifiedCards(ctx context.Context, userID string) ([]wallet.Card, error) {
	cs, err := u.wsvc().ListCards(ctx, userID)
	if err != nil {
		return nil, err
	}
	var out []wallet.Card
	for _, c := range cs {
		if c.Status == wallet.CardVerified {
			out = append(out, c)
		}
	}
	return out, nil
}

func (u *UI) topUpPage(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u.topUpWith(w, r, p, wdata{}, http.StatusOK)
}

func (u *UI) topUpWith(w http.ResponseWriter, r *http.Request, p *authn.Principal, d wdata, status int) {
	cs, err := u.verifiedCards(r.Context(), p.User.ID)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	d.Cards = cs
	u.wrender(w, r, status, "wallet-topup", d)
}

func (u *UI) topUp(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	in := wallet.TopUpInput{UserID: p.User.ID, Key: formKey(r), CardID: r.PostForm.Get("card_id"), Amount: strings.TrimSpace(r.PostForm.Get("amount")),
		Asset: r.PostForm.Get("asset")}
	if in.Asset == "" {
		in.Asset = "CNY"
	}
	op, err := u.wsvc().TopUp(r.Context(), in)
	if err != nil {
		d, status := u.wfail(w, r, err)
		u.topUpWith(w, r, p, d, status)
		return
	}
	u.afterTopUp(w, r, op)
}

// afterTopUp goes where a top-up's state leads: the bank's code form, the receipt, or the
// status page while the bank is slow.
func (u *UI) afterTopUp(w http.ResponseWriter, r *http.Request, op *wallet.RailOp) {
	switch {
	case op.NextStep == rail.CodeCardOTPRequired:
		http.Redirect(w, r, "/wallet/top-up/"+url.PathEscape(op.ID), http.StatusSeeOther)
	case op.Status == "completed":
		redirectDone(w, r, "/activity/"+url.PathEscape(op.ActivityID), "topped_up")
	default:
		redirectDone(w, r, "/wallet/top-up/"+url.PathEscape(op.ID), "top_up_pending")
	}
}

// topUpStatus is the page of one top-up: the bank's code form while it waits for one, else
// its status and timeline.
func (u *UI) topUpStatus(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u.topUpStatusWith(w, r, p, wdata{}, http.StatusOK)
}

func (u *UI) topUpStatusWith(w http.ResponseWriter, r *http.Request, p *authn.Principal, d wdata, status int) {
	op, err := u.wsvc().GetRailOp(r.Context(), p.User.ID, r.PathValue("id"))
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	d.Op = op
	if op.ActivityID != "" {
		if a, err := u.wsvc().GetActivity(r.Context(), p.User.ID, op.ActivityID); err == nil {
			v := u.actView(r, *a)
			d.OpAct = &v
		}
	}
	u.wrender(w, r, status, "wallet-topup-status", d)
}

func (u *UI) topUpOTP(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	op, err := u.wsvc().SubmitTopUpOTP(r.Context(), p.User.ID, r.PathValue("id"), strings.TrimSpace(r.PostForm.Get("code")))
	if err != nil {
		d, status := u.wfail(w, r, err)
		u.topUpStatusWith(w, r, p, d, status)
		return
	}
	u.afterTopUp(w, r, op)
}

func (u *UI) transferPage(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	d := wdata{form: form{Values: url.Values{}}}
	if to := r.URL.Query().Get("to"); len(to) < 200 {
		d.Values.Set("to", to)
	}
	d.Values.Set("asset", "CNY")
	u.wrender(w, r, http.StatusOK, "wallet-transfer", d)
}

// transfer is two steps: the form posts to a confirmation showing what will happen; the
// confirmation (same key) sends the money.
func (u *UI) transfer(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	in := wallet.TransferInput{SenderID: p.User.ID, SessionID: p.SessionID(), Key: formKey(r), To: strings.TrimSpace(r.PostForm.Get("to")),
		Amount: strings.TrimSpace(r.PostForm.Get("amount")), Asset: r.PostForm.Get("asset"), Memo: strings.TrimSpace(r.PostForm.Get("memo"))}
	if in.Asset == "" {
		in.Asset = "CNY"
	}
	if r.PostForm.Get("confirm") != "1" {
		// Check the amount before asking to confirm, so the confirmation shows a real number.
		d := wdata{form: form{Values: url.Values{}}, Key: in.Key, Confirm: true}
		for _, k := range []string{"to", "amount", "asset", "memo"} {
			d.Values.Set(k, r.PostForm.Get(k))
		}
		a, m, err := wallet.ParseAmount(in.Amount, in.Asset)
		if err != nil {
			d, status := u.wfail(w, r, err)
			u.wrender(w, r, status, "wallet-transfer", d)
			return
		}
		d.Values.Set("amount", money.Amount(m).Format(a))
		u.wrender(w, r, http.StatusOK, "wallet-transfer", d)
		return
	}
	act, err := u.wsvc().Transfer(r.Context(), in)
	if err != nil {
		d, status := u.wfail(w, r, err)
		d.Key = in.Key // after a step-up the same confirmation goes again
		if e, ok := apperr.As(err); ok && e.Code == identity.CodeStepUpRequired {
			d.Confirm = true
		}
		u.wrender(w, r, status, "wallet-transfer", d)
		return
	}
	redirectDone(w, r, "/activity/"+url.PathEscape(act.ID), "sent")
}

func (u *UI) withdrawPage(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u.withdrawWith(w, r, p, wdata{}, http.StatusOK)
}

func (u *UI) withdrawWith(w http.ResponseWriter, r *http.Request, p *authn.Principal, d wdata, status int) {
	cs, err := u.verifiedCards(r.Context(), p.User.ID)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	d.Cards = cs
	bs, err := u.wsvc().Balances(r.Context(), p.User.ID)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	d.Balances = balancesOf(bs)
	u.wrender(w, r, status, "wallet-withdraw", d)
}

// withdraw is two steps too: the confirmation shows the fee and the total before any hold.
func (u *UI) withdraw(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	in := wallet.WithdrawInput{UserID: p.User.ID, SessionID: p.SessionID(), Key: formKey(r), CardID: r.PostForm.Get("card_id"),
		Amount: strings.TrimSpace(r.PostForm.Get("amount")), Asset: r.PostForm.Get("asset")}
	if in.Asset == "" {
		in.Asset = "CNY"
	}
	if r.PostForm.Get("confirm") != "1" {
		a, minor, err := wallet.ParseAmount(in.Amount, in.Asset)
		if err != nil {
			d, status := u.wfail(w, r, err)
			u.withdrawWith(w, r, p, d, status)
			return
		}
		m := money.Amount(minor)
		fee := u.wsvc().WithdrawalFee(in.Asset, int64(m))
		d := wdata{form: form{Values: url.Values{}}, Key: in.Key, Confirm: true,
			Quote: &quote{Amount: fmtMinor(int64(m), in.Asset), Fee: fmtMinor(fee, in.Asset), Total: fmtMinor(int64(m)+fee, in.Asset)}}
		d.Values.Set("card_id", in.CardID)
		d.Values.Set("amount", m.Format(a))
		d.Values.Set("asset", in.Asset)
		u.withdrawWith(w, r, p, d, http.StatusOK)
		return
	}
	op, err := u.wsvc().Withdraw(r.Context(), in)
	if err != nil {
		d, status := u.wfail(w, r, err)
		d.Key = in.Key
		u.withdrawWith(w, r, p, d, status)
		return
	}
	redirectDone(w, r, "/wallet/withdrawals/"+url.PathEscape(op.ID), "withdrawal_requested")
}

// withdrawalStatus shows a withdrawal's timeline: processing → completed, or failed with
// the bank's reason and what to do.
func (u *UI) withdrawalStatus(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	op, err := u.wsvc().GetRailOp(r.Context(), p.User.ID, r.PathValue("id"))
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	d := wdata{Op: op}
	if op.ActivityID != "" {
		if a, err := u.wsvc().GetActivity(r.Context(), p.User.ID, op.ActivityID); err == nil {
			v := u.actView(r, *a)
			d.OpAct = &v
		}
	}
	u.wrender(w, r, http.StatusOK, "wallet-withdrawal", d)
}

// cryptoAssets are the assets with deposit addresses.
var cryptoAssets = []string{"USDT", "BTC"}

func (u *UI) depositPage(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u.depositWith(w, r, p, wdata{}, http.StatusOK)
}

func (u *UI) depositWith(w http.ResponseWriter, r *http.Request, p *authn.Principal, d wdata, status int) {
	asset := r.URL.Query().Get("asset")
	if asset == "" {
		asset = r.PostFormValue("asset")
	}
	if asset != "BTC" {
		asset = "USDT"
	}
	da, err := u.wsvc().DepositAddressFor(r.Context(), p.User.ID, asset)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	d.Deposit, d.Assets = da, cryptoAssets
	if qr, err := identity.QRSVG(da.Address); err == nil {
		d.QR = template.HTML(qr) // drawn by us from the address: no user markup
	}
	pg, err := u.wsvc().ListActivity(r.Context(), p.User.ID, wallet.Filter{Types: []string{wallet.TypeDeposit}, Asset: asset}, "", 10)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	d.Acts = u.actViews(r, pg.Items)
	if d.Values == nil {
		d.Values = url.Values{}
	}
	d.Values.Set("asset", asset)
	u.wrender(w, r, status, "wallet-deposit", d)
}

func (u *UI) depositSimulate(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	sb := u.cfg.Wallet.Sandbox
	if sb == nil {
		u.notFound(w, r)
		return
	}
	asset := r.PostForm.Get("asset")
	if err := sb.Deposit(r.Context(), p.User.ID, asset, strings.TrimSpace(r.PostForm.Get("amount"))); err != nil {
		d, status := u.wfail(w, r, err)
		u.depositWith(w, r, p, d, status)
		return
	}
	redirectDone(w, r, "/wallet/deposit?asset="+url.QueryEscape(asset), "deposit_sent")
}

// actView is one activity record as pages show it: every label translated, amounts signed.
type actView struct {
	ID, RefNo, Type, TypeLabel, Status, StatusLabel string
	Amount, Fee, Counterparty, Memo, When           string
	Direction                                       int
	// Void: nothing moved (failed), so the amount is shown struck through, unsigned.
	Void                             bool
	Failure, FailureFix, FailureCode string
	Confirming                       string
	Refunded                         string
	Timeline                         []stepView
	Category                         string
}

type stepView struct {
	Status, Label, When, Note string
	Failed                    bool
}

func (u *UI) actViews(r *http.Request, as []wallet.Activity) []actView {
	out := make([]actView, len(as))
	for i, a := range as {
		out[i] = u.actView(r, a)
	}
	return out
}

// Timeline notes are stored in English (the API shows them as written); the page
// translates the shapes the wallet writes and shows anything else as stored.
var (
	noteConfirmations = regexp.MustCompile(`^(\d+)/(\d+) confirmations$`)
	noteRefund        = regexp.MustCompile(`^refund (\S+ \S+) (\S+)$`)
	noteKeys          = map[string]string{
		wallet.NoteOTPWait:  "w.note.otp",
		wallet.NoteSettling: "w.note.settling",
	}
)

func (u *UI) stepNote(r *http.Request, note string) string {
	if k, ok := noteKeys[note]; ok {
		return u.tr(r, k)
	}
	if m := noteConfirmations.FindStringSubmatch(note); m != nil {
		return u.trf(r, "w.note.confirmations", "n", m[1], "m", m[2])
	}
	if m := noteRefund.FindStringSubmatch(note); m != nil {
		return u.trf(r, "w.note.refund", "amount", m[1], "ref", m[2])
	}
	return note
}

// storedFailure is the error a failure code stored with an activity stands for. Through
// rail.FailureError, a per-try code stored by older versions (whose text needs a
// {remaining} count no longer known) reads as its final form, and a code no package
// registers is skipped instead of panicking the page.
func storedFailure(code string) (*apperr.Error, bool) {
	if code == "" {
		return nil, false
	}
	return apperr.As(rail.FailureError(code))
}

func (u *UI) actView(r *http.Request, a wallet.Activity) actView {
	lang := httpx.Lang(r.Context())
	now := time.Now()
	sign := "+"
	if a.Direction < 0 {
		sign = "−"
	}
	void := a.Status == wallet.StatusFailed
	if void {
		sign = ""
	}
	v := actView{ID: a.ID, RefNo: a.RefNo, Type: a.Type, TypeLabel: u.tr(r, "w.type."+a.Type), Status: a.Status, StatusLabel: u.tr(r, "w.status."+a.Status),
		Amount: sign + a.Amount + " " + a.Asset, Counterparty: a.Counterparty, Memo: a.Memo, When: when(a.CreatedAt, lang, now),
		Direction: a.Direction, Void: void, FailureCode: a.FailureCode, Category: a.Category}
	if a.FeeMinor > 0 {
		v.Fee = a.Fee + " " + a.Asset
	}
	if a.RefundedMinor > 0 {
		v.Refunded = fmtMinor(a.RefundedMinor, a.Asset)
	}
	if e, ok := storedFailure(a.FailureCode); ok {
		v.Failure, v.FailureFix = e.Message(lang), e.Fix(lang)
	}
	if a.Status == wallet.StatusConfirming && a.ConfirmationsNeeded > 0 {
		// Shown next to the status label ("Confirming"), so only the count.
		v.Confirming = itoa(a.Confirmations) + "/" + itoa(a.ConfirmationsNeeded)
	}
	for _, s := range a.Timeline {
		sv := stepView{Status: s.Status, Label: u.tr(r, "w.status."+s.Status), When: when(s.At, lang, now), Note: u.stepNote(r, s.Note), Failed: s.Code != ""}
		if e, ok := storedFailure(s.Code); ok {
			sv.Note = e.Message(lang)
		}
		v.Timeline = append(v.Timeline, sv)
	}
	return v
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// WalletOn reports whether this server has the wallet pages, for the navigation.
func (v *View) WalletOn() bool { return v.ui != nil && v.ui.cfg.Wallet != nil }
