package api

import (
	"net/http"
	"strconv"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/wallet"
)

// CreateRequestRequest asks for money (收款): a link and a QR code anyone signed in can pay once.
type CreateRequestRequest struct {
	Amount string `json:"amount"`
	Asset  string `json:"asset"`
	Memo   string `json:"memo,omitempty"`
	// ExpiresInSeconds: 300 .. 30 days; 0 takes the default (7 days).
	ExpiresInSeconds int64 `json:"expires_in_seconds,omitempty"`
}

// PaymentRequestsResponse lists the caller's own requests, newest first.
type PaymentRequestsResponse struct {
	Requests []wallet.PaymentRequest `json:"requests"`
}

// maxExpirySeconds keeps the Duration conversion far from overflow; the wallet applies
// the real bound (30 days).
const maxExpirySeconds = 366 * 24 * 3600

func (a *API) requestRoutes() {
	rt := a.router
	rt.Handle(Route{Method: "POST", Path: "/payment-requests", ID: "createPaymentRequest", Tag: "payments", Auth: "either", Status: http.StatusCreated,
		Summary: "Request money: a link (/pay/r/{token}) and QR code that one payer pays once before it expires",
		Request: CreateRequestRequest{}, Response: wallet.PaymentRequest{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeForbidden, apperr.CodeValidation, apperr.CodeAmountInvalid,
			apperr.CodeCurrencyUnsupported, apperr.CodeIdempotencyConflict},
		Handler: a.money(identity.KeyScopePayments, func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in CreateRequestRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			if in.ExpiresInSeconds < 0 || in.ExpiresInSeconds > maxExpirySeconds {
				httpx.WriteError(w, r, apperr.New(apperr.CodeValidation).Field("expires_in_seconds", wallet.FieldExpiryInvalid))
				return
			}
			pr, err := a.wsvc().CreateRequest(r.Context(), wallet.RequestInput{UserID: p.User.ID, Key: idemKey(r), Amount: in.Amount,
				Asset: in.Asset, Memo: in.Memo, ExpiresIn: time.Duration(in.ExpiresInSeconds) * time.Second})
			replyStatus(w, r, http.StatusCreated, pr, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/payment-requests", ID: "listPaymentRequests", Tag: "payments", Auth: "either",
		Summary: "Your own payment requests, newest first", Response: PaymentRequestsResponse{}, Query: map[string]string{"limit": "1..100 (20)"},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeForbidden},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			prs, err := a.wsvc().ListRequests(r.Context(), p.User.ID, pageLimit(r, 20, 100))
			reply(w, r, PaymentRequestsResponse{Requests: nonNil(prs)}, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/payment-requests/{token}", ID: "getPaymentRequest", Tag: "payments",
		Summary: "A payment request by its public token (what the pay page shows)", Response: wallet.PaymentRequest{},
		Errors: []string{apperr.CodeNotFound},
		Handler: func(w http.ResponseWriter, r *http.Request) {
			pr, err := a.wsvc().GetRequest(r.Context(), r.PathValue("token"))
			reply(w, r, pr, err)
		}})
	rt.Handle(Route{Method: "POST", Path: "/payment-requests/{token}/pay", ID: "payPaymentRequest", Tag: "payments", Auth: "either", Status: http.StatusCreated,
		Summary: "Pay a payment request once (API keys need the payouts scope)", Response: wallet.Activity{},
		Errors: append([]string{apperr.CodeNotFound, wallet.CodeRequestAlreadyPaid, wallet.CodeRequestExpired, wallet.CodeRequestCancelled,
			wallet.CodeCannotPaySelf}, moveErrors...),
		Handler: a.moneyTx(identity.KeyScopePayouts, http.StatusCreated, func(w http.ResponseWriter, r *http.Request, p *authn.Principal, g wallet.Guard) (any, error) {
			return a.wsvc().PayRequest(r.Context(), wallet.PayRequestInput{PayerID: p.User.ID, SessionID: p.SessionID(), Key: idemKey(r),
				Token: r.PathValue("token"), Guard: g})
		})})
	rt.Handle(Route{Method: "POST", Path: "/payment-requests/{id}/cancel", ID: "cancelPaymentRequest", Tag: "payments", Auth: "either", Status: http.StatusNoContent,
		Summary: "Stop one of your open requests from being paid",
		Errors:  []string{apperr.CodeUnauthenticated, apperr.CodeNotFound, wallet.CodeRequestAlreadyPaid, wallet.CodeRequestExpired},
		Handler: a.money(identity.KeyScopePayments, func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			replyEmpty(w, r, a.wsvc().CancelRequest(r.Context(), p.User.ID, r.PathValue("id")))
		})})
}

// pageLimit reads ?limit= within 1..max (def when absent or bad).
func pageLimit(r *http.Request, def, max int) int {
	n, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || n < 1 {
		return def
	}
	return min(n, max)
}
