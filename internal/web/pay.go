package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/wallet"
)

// payRoutes are payment requests (收款: create, share as link and QR, pay once) and the
// hosted checkout page of merchants' orders. The pay pages are public; paying needs a
// signed-in browser.
func (u *UI) payRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /wallet/request", u.signedIn(u.requestPage))
	mux.Handle("POST /wallet/request", u.post(u.signedIn(u.createRequest)))
	mux.HandleFunc("GET /wallet/requests/{token}", u.signedIn(u.requestShow))
	mux.Handle("POST /wallet/requests/{id}/cancel", u.post(u.signedIn(u.cancelRequest)))
	mux.HandleFunc("GET /pay/r/{token}", u.payRequestPage)
	mux.Handle("POST /pay/r/{token}", u.post(u.signedIn(u.payRequest)))
	mux.HandleFunc("GET /pay/c/{token}", u.checkoutPage)
	mux.Handle("POST /pay/c/{token}", u.post(u.signedIn(u.payCheckout)))
}

// requestExpiries are the choices of the request form, in hours.
var requestExpiries = map[string]time.Duration{"1": time.Hour, "24": 24 * time.Hour, "168": 7 * 24 * time.Hour, "720": 30 * 24 * time.Hour}

func (u *UI) requestPage(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u.requestWith(w, r, p, wdata{form: form{Values: url.Values{"asset": {"CNY"}, "expires": {"168"}}}}, http.StatusOK)
}

func (u *UI) requestWith(w http.ResponseWriter, r *http.Request, p *authn.Principal, d wdata, status int) {
	rs, err := u.wsvc().ListRequests(r.Context(), p.User.ID, 20)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	lang := httpx.Lang(r.Context())
	for _, q := range rs {
		d.Reqs = append(d.Reqs, reqView{PaymentRequest: q, StatusLabel: u.tr(r, "w.req."+q.Status), Expires: when(q.ExpiresAt, lang, time.Now())})
	}
	u.wrender(w, r, status, "request", d)
}

func (u *UI) createRequest(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	exp, ok := requestExpiries[r.PostForm.Get("expires")]
	if !ok {
		exp = 0
	}
	pr, err := u.wsvc().CreateRequest(r.Context(), wallet.RequestInput{UserID: p.User.ID, Key: formKey(r), Amount: strings.TrimSpace(r.PostForm.Get("amount")),
		Asset: r.PostForm.Get("asset"), Memo: strings.TrimSpace(r.PostForm.Get("memo")), ExpiresIn: exp})
	if err != nil {
		d, status := u.wfail(w, r, err)
		u.requestWith(w, r, p, d, status)
		return
	}
	http.Redirect(w, r, "/wallet/requests/"+url.PathEscape(pr.Token), http.StatusSeeOther)
}

// payLink is the absolute link of a pay page, for sharing and the QR code.
func payLink(r *http.Request, path string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path
}

func (u *UI) requestShow(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	pr, err := u.wsvc().GetRequest(r.Context(), r.PathValue("token"))
	if err != nil || pr.RequesterID != p.User.ID {
		u.RenderError(w, r, apperr.New(apperr.CodeNotFound))
		return
	}
	d := wdata{Req: pr, Link: payLink(r, "/pay/r/"+url.PathEscape(pr.Token))}
	if qr, err := identity.QRSVG(d.Link); err == nil {
		d.QR = template.HTML(qr) // drawn by us from our own link
	}
	d.Reqs = []reqView{{PaymentRequest: *pr, StatusLabel: u.tr(r, "w.req."+pr.Status), Expires: when(pr.ExpiresAt, httpx.Lang(r.Context()), time.Now())}}
	u.wrender(w, r, http.StatusOK, "request-show", d)
}

func (u *UI) cancelRequest(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if err := u.wsvc().CancelRequest(r.Context(), p.User.ID, r.PathValue("id")); err != nil {
		d, status := u.wfail(w, r, err)
		u.requestWith(w, r, p, d, status)
		return
	}
	redirectDone(w, r, "/wallet/request", "request_cancelled")
}

// refusal is why a request or checkout cannot be paid any more, as a coded error.
func requestRefusal(pr *wallet.PaymentRequest) error {
	switch {
	case pr.Status == wallet.RequestPaid:
		return apperr.New(wallet.CodeRequestAlreadyPaid)
	case pr.Status == wallet.RequestCancelled:
		return apperr.New(wallet.CodeRequestCancelled)
	case pr.Status == wallet.RequestExpired || time.Now().After(pr.ExpiresAt):
		return apperr.New(wallet.CodeRequestExpired)
	}
	return nil
}

func (u *UI) payRequestPage(w http.ResponseWriter, r *http.Request) {
	u.payRequestWith(w, r, wdata{}, http.StatusOK)
}

func (u *UI) payRequestWith(w http.ResponseWriter, r *http.Request, d wdata, status int) {
	pr, err := u.wsvc().GetRequest(r.Context(), r.PathValue("token"))
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	d.Req = pr
	if d.Err == nil {
		if rerr := requestRefusal(pr); rerr != nil {
			d, status = u.wfail(w, r, rerr)
			d.Req = pr
		} else {
			d.CanPay = true
		}
	}
	d.SignInURL = "/signin?next=" + url.QueryEscape(r.URL.Path)
	u.wrender(w, r, status, "pay-request", d)
}

func (u *UI) payRequest(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	key := formKey(r)
	act, err := u.wsvc().PayRequest(r.Context(), wallet.PayRequestInput{PayerID: p.User.ID, SessionID: p.SessionID(), Key: key, Token: r.PathValue("token")})
	if err != nil {
		d, status := u.wfail(w, r, err)
		d.Key = key
		if e, ok := apperr.As(err); ok && e.Code == identity.CodeStepUpRequired {
			d.CanPay = true
		}
		u.payRequestWith(w, r, d, status)
		return
	}
	redirectDone(w, r, "/activity/"+url.PathEscape(act.ID), "paid")
}

func checkoutRefusal(co *wallet.Checkout) error {
	switch {
	case co.Status == wallet.CheckoutPaid || co.Status == wallet.CheckoutRefunded || co.Status == wallet.CheckoutPartiallyRefunded:
		return apperr.New(wallet.CodeCheckoutAlreadyPaid)
	case co.Status == wallet.CheckoutExpired || time.Now().After(co.ExpiresAt):
		return apperr.New(wallet.CodeCheckoutExpired)
	}
	return nil
}

func (u *UI) checkoutPage(w http.ResponseWriter, r *http.Request) {
	u.checkoutWith(w, r, wdata{}, http.StatusOK)
}

func (u *UI) checkoutWith(w http.ResponseWriter, r *http.Request, d wdata, status int) {
	co, err := u.wsvc().GetCheckout(r.Context(), r.PathValue("token"))
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	co.Payer = ""
	d.Checkout = co
	if d.Err == nil {
		if cerr := checkoutRefusal(co); cerr != nil {
			d, status = u.wfail(w, r, cerr)
			d.Checkout = co
		} else {
			d.CanPay = true
		}
	}
	if p := authn.From(r.Context()); p != nil && p.Session != nil {
		if bs, err := u.wsvc().BalanceOf(r.Context(), p.User.ID, co.Asset); err == nil {
			d.Balances = balancesOf([]wallet.Balance{*bs})
		}
	}
	d.SignInURL = "/signin?next=" + url.QueryEscape(r.URL.Path)
	u.wrender(w, r, status, "checkout", d)
}

func (u *UI) payCheckout(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	key := formKey(r)
	_, err := u.wsvc().PayCheckout(r.Context(), wallet.PayCheckoutInput{PayerID: p.User.ID, SessionID: p.SessionID(), Key: key, Token: r.PathValue("token")})
	if err != nil {
		d, status := u.wfail(w, r, err)
		d.Key = key
		if e, ok := apperr.As(err); ok && e.Code == identity.CodeStepUpRequired {
			d.CanPay = true
		}
		u.checkoutWith(w, r, d, status)
		return
	}
	co, err := u.wsvc().GetCheckout(r.Context(), r.PathValue("token"))
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	// Back to the shop: the return URL was checked (http/https) when the merchant made the
	// checkout; the shop confirms the payment with its API key, never from this redirect.
	ret, err := url.Parse(co.ReturnURL)
	if err != nil || (ret.Scheme != "http" && ret.Scheme != "https") {
		redirectDone(w, r, "/activity", "paid")
		return
	}
	q := ret.Query()
	q.Set("okpay_checkout", co.ID)
	q.Set("order_ref", co.OrderRef)
	q.Set("status", co.Status)
	ret.RawQuery = q.Encode()
	http.Redirect(w, r, ret.String(), http.StatusSeeOther)
}
