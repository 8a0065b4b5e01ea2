package api

import (
	"net/http"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/wallet"
)

func (a *API) checkoutRoutes() {
	rt := a.router
	rt.Handle(Route{Method: "POST", Path: "/checkouts", ID: "createCheckout", Tag: "checkouts", Auth: "apikey", Status: http.StatusCreated,
		Summary: "Merchants: create a checkout (amount, order reference, return URL); send the customer to /pay/c/{token}. API keys need the payments scope",
		Request: wallet.CheckoutInput{}, Response: wallet.Checkout{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeForbidden, apperr.CodeValidation, apperr.CodeAmountInvalid, apperr.CodeCurrencyUnsupported,
			wallet.CodeMerchantOnly, apperr.CodeIdempotencyConflict, wallet.CodeOrderRefTaken},
		Handler: a.money(identity.KeyScopePayments, func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in wallet.CheckoutInput
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			in.MerchantID, in.Key = p.User.ID, idemKey(r)
			co, err := a.wsvc().CreateCheckout(r.Context(), in)
			replyStatus(w, r, http.StatusCreated, co, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/checkouts/{id}", ID: "getCheckout", Tag: "checkouts", Auth: "apikey",
		Summary: "Merchants: one checkout by id or order reference, with its payer (masked) and refunds", Response: wallet.Checkout{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeForbidden, apperr.CodeNotFound},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			co, err := a.wsvc().MerchantCheckout(r.Context(), p.User.ID, r.PathValue("id"))
			reply(w, r, co, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/checkouts/{id}/refunds", ID: "refundCheckout", Tag: "checkouts", Auth: "apikey", Status: http.StatusCreated,
		Summary: "Merchants: refund all (no amount) or part of a paid checkout; several partial refunds up to the paid amount",
		Request: RefundRequest{}, Response: wallet.Refund{},
		Errors: append([]string{apperr.CodeNotFound, wallet.CodeCheckoutNotPaid, wallet.CodeRefundExceedsPaid}, moveErrors...),
		Handler: a.money(identity.KeyScopePayments, func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in RefundRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			rf, err := a.wsvc().Refund(r.Context(), wallet.RefundInput{MerchantID: p.User.ID, Key: idemKey(r), CheckoutID: r.PathValue("id"),
				Amount: in.Amount, Reason: in.Reason})
			replyStatus(w, r, http.StatusCreated, rf, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/hosted-checkouts/{token}", ID: "getHostedCheckout", Tag: "checkouts",
		Summary: "A checkout as the hosted pay page shows it (public)", Response: wallet.Checkout{},
		Errors: []string{apperr.CodeNotFound},
		Handler: func(w http.ResponseWriter, r *http.Request) {
			co, err := a.wsvc().GetCheckout(r.Context(), r.PathValue("token"))
			if co != nil {
				co.Payer = "" // the payer is the merchant's business, not the link holder's
			}
			reply(w, r, co, err)
		}})
	rt.Handle(Route{Method: "POST", Path: "/hosted-checkouts/{token}/pay", ID: "payCheckout", Tag: "checkouts", Auth: "either", Status: http.StatusCreated,
		Summary:  "Customers: pay a checkout from the wallet (API keys need the payouts scope); then return to the merchant's return_url",
		Response: wallet.Activity{},
		Errors:   append([]string{apperr.CodeNotFound, wallet.CodeCheckoutAlreadyPaid, wallet.CodeCheckoutExpired, wallet.CodeCannotPaySelf}, moveErrors...),
		Handler: a.moneyTx(identity.KeyScopePayouts, http.StatusCreated, func(w http.ResponseWriter, r *http.Request, p *authn.Principal, g wallet.Guard) (any, error) {
			return a.wsvc().PayCheckout(r.Context(), wallet.PayCheckoutInput{PayerID: p.User.ID, SessionID: p.SessionID(), Key: idemKey(r),
				Token: r.PathValue("token"), Guard: g})
		})})
}

// RefundRequest refunds a checkout.
type RefundRequest struct {
	Amount string `json:"amount,omitempty" doc:"decimal; empty refunds everything not yet refunded"`
	Reason string `json:"reason,omitempty"`
}
