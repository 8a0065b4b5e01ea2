package api

import (
	"context"
	"net/http"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/rail"
	"okpay/internal/wallet"
)

// Wallet is what the wallet resources need: the service, the Idempotency-Key store (the
// outer guard; the wallet is idempotent by the same key underneath) and, in dev/demo
// mode, the sandbox helpers.
type Wallet struct {
	Service     *wallet.Service
	Idempotency *Idempotency
	// Sandbox is nil in production: no statement peeking, no simulated deposits.
	Sandbox *WalletSandbox
}

// WalletSandbox are the dev/demo helpers of the sandbox rail.
type WalletSandbox struct {
	// Statement returns the card's sandbox bank statement lines (the verification code).
	Statement func(ctx context.Context, userID, cardID string) ([]string, error)
	// Deposit simulates a crypto deposit to the user's address.
	Deposit func(ctx context.Context, userID, asset, amount string) error
}

// BalancesResponse lists the caller's wallets, CNY first.
type BalancesResponse struct {
	Balances []wallet.Balance `json:"balances"`
}

// OpenWalletRequest opens a wallet in another asset.
type OpenWalletRequest struct {
	Asset string `json:"asset" doc:"CNY, USD, USDT or BTC"`
}

// LimitsResponse is every flow's daily and monthly limit with what is used.
type LimitsResponse struct {
	Limits []wallet.Usage `json:"limits"`
}

// Codes every money movement can meet, for the route table.
var moveErrors = []string{apperr.CodeUnauthenticated, apperr.CodeForbidden, apperr.CodeValidation, apperr.CodeAmountInvalid,
	apperr.CodeCurrencyUnsupported, apperr.CodeMaintenance, apperr.CodeIdempotencyConflict, "idempotency_key_invalid", "idempotency_in_progress",
	identity.CodeEmailNotVerified, identity.CodeAccountFrozen, identity.CodeSendingRestricted, identity.CodeStepUpRequired,
	wallet.CodeLimitExceeded, wallet.CodeInsufficientFunds, wallet.CodeRecipientCannotReceive}

// money wraps a call that moves money or changes wallet state: a signed-in caller (an API
// key needs scope), behind the Idempotency-Key guard per user.
func (a *API) money(scope string, h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
	inner := authn.RequireUser(httpx.WriteError, func(w http.ResponseWriter, r *http.Request) {
		p := authn.From(r.Context())
		if p.APIKey != nil && (scope == "" || !p.APIKey.Allows(scope)) {
			httpx.WriteError(w, r, apperr.New(apperr.CodeForbidden))
			return
		}
		h(w, r, p)
	})
	idem := a.deps.Wallet.Idempotency
	if idem == nil {
		return inner
	}
	return idem.Wrap(func(r *http.Request) string {
		if p := authn.From(r.Context()); p != nil {
			return "user:" + p.User.ID
		}
		return ""
	}, inner)
}

// moneyTx is money for a route whose service call takes the Idempotency-Key guard into
// its own transaction (wallet.Guard): h hands g to the service and returns the result,
// answered with status. One request is then one write transaction.
func (a *API) moneyTx(scope string, status int, h func(w http.ResponseWriter, r *http.Request, p *authn.Principal, g wallet.Guard) (any, error)) http.HandlerFunc {
	call := func(w http.ResponseWriter, r *http.Request, g *TxGuard) (any, error) {
		p, err := authn.User(r.Context())
		if err != nil {
			return nil, err
		}
		if p.APIKey != nil && (scope == "" || !p.APIKey.Allows(scope)) {
			return nil, apperr.New(apperr.CodeForbidden)
		}
		var wg wallet.Guard
		if g != nil { // a nil *TxGuard must not become a non-nil interface
			wg = g
		}
		return h(w, r, p, wg)
	}
	idem := a.deps.Wallet.Idempotency
	if idem == nil {
		return func(w http.ResponseWriter, r *http.Request) {
			v, err := call(w, r, nil)
			replyStatus(w, r, status, v, err)
		}
	}
	return idem.WrapTx(func(r *http.Request) string {
		if p := authn.From(r.Context()); p != nil {
			return "user:" + p.User.ID
		}
		return ""
	}, status, call)
}

// idemKey is the request's Idempotency-Key, handed to the wallet so the money layer is
// idempotent by the same key (a missing key is refused there: every movement needs one).
func idemKey(r *http.Request) string { return r.Header.Get("Idempotency-Key") }

func (a *API) wsvc() *wallet.Service { return a.deps.Wallet.Service }

func (a *API) walletRoutes() {
	rt := a.router
	rt.Handle(Route{Method: "GET", Path: "/wallet/balances", ID: "listBalances", Tag: "wallet", Auth: "either",
		Summary: "Balances per asset: available, on hold, total (and incoming)", Response: BalancesResponse{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeForbidden},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			bs, err := a.wsvc().Balances(r.Context(), p.User.ID)
			reply(w, r, BalancesResponse{Balances: nonNil(bs)}, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/wallet/balances", ID: "openWallet", Tag: "wallet", Auth: "session",
		Summary: "Open a wallet in another asset (idempotent)", Request: OpenWalletRequest{}, Response: wallet.Balance{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeCurrencyUnsupported},
		Handler: a.money("", func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in OpenWalletRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			b, err := a.wsvc().OpenWallet(r.Context(), p.User.ID, in.Asset)
			reply(w, r, b, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/wallet/limits", ID: "listLimits", Tag: "wallet", Auth: "either",
		Summary: "Daily and monthly limits per flow (send, withdraw, top-up) and what is used", Response: LimitsResponse{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeForbidden},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			ls, err := a.wsvc().Limits(r.Context(), p.User.ID)
			reply(w, r, LimitsResponse{Limits: nonNil(ls)}, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/transfers", ID: "createTransfer", Tag: "payments", Auth: "either", Status: http.StatusCreated,
		Summary: "Send money to another user by email, phone or account id (needs Idempotency-Key; API keys need the payouts scope)",
		Request: wallet.TransferInput{}, Response: wallet.Activity{},
		Errors: append([]string{wallet.CodeRecipientNotFound, wallet.CodeCannotPaySelf}, moveErrors...),
		Handler: a.moneyTx(identity.KeyScopePayouts, http.StatusCreated, func(w http.ResponseWriter, r *http.Request, p *authn.Principal, g wallet.Guard) (any, error) {
			var in wallet.TransferInput
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				return nil, err
			}
			in.SenderID, in.SessionID, in.Key, in.Guard = p.User.ID, p.SessionID(), idemKey(r), g
			return a.wsvc().Transfer(r.Context(), in)
		})})
	a.requestRoutes()
	a.checkoutRoutes()
	a.cardRoutes()
	a.railRoutes()
	a.activityRoutes()
}

// railRoutes are top-ups, withdrawals and deposits.
func (a *API) railRoutes() {
	rt := a.router
	railOp := func(w http.ResponseWriter, r *http.Request, status int, op *wallet.RailOp, err error) {
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		httpx.WriteJSON(w, status, op)
	}
	rt.Handle(Route{Method: "POST", Path: "/top-ups", ID: "createTopUp", Tag: "top-ups", Auth: "either", Status: http.StatusCreated,
		Summary: "Top up a wallet from a verified card. status requires_otp (next_step card_otp_required) waits for the bank's code; a refused charge answers with the bank's code",
		Request: wallet.TopUpInput{}, Response: wallet.RailOp{},
		Errors: append([]string{apperr.CodeUnavailable, apperr.CodeNotFound, wallet.CodeCardUnknown, wallet.CodeCardNotVerified, rail.CodeCardExpired, rail.CodeCardDeclined,
			rail.CodeCardReportedStolen, rail.CodeCardInsufficientFunds, wallet.CodeCurrencyMismatch, identity.CodeReceivingRestricted}, moveErrors...),
		Handler: a.money(identity.KeyScopePayments, func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in wallet.TopUpInput
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			in.UserID, in.Key = p.User.ID, idemKey(r)
			op, err := a.wsvc().TopUp(r.Context(), in)
			railOp(w, r, http.StatusCreated, op, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/top-ups/{id}", ID: "getTopUp", Tag: "top-ups", Auth: "either",
		Summary: "One top-up with its status", Response: wallet.RailOp{}, Errors: []string{apperr.CodeUnauthenticated, apperr.CodeNotFound},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			op, err := a.wsvc().GetRailOp(r.Context(), p.User.ID, r.PathValue("id"))
			railOp(w, r, http.StatusOK, op, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/top-ups/{id}/otp", ID: "submitTopUpOTP", Tag: "top-ups", Auth: "either",
		Summary: "Give the bank's one-time code for a top-up waiting for it", Request: CodeRequest{}, Response: wallet.RailOp{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeNotFound, wallet.CodeTopUpState, rail.CodeCardOTPMalformed, rail.CodeCardOTPInvalid,
			rail.CodeCardOTPAttempts, rail.CodeCardOTPExpired, rail.CodeCardDeclined},
		Handler: a.money(identity.KeyScopePayments, func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in CodeRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			op, err := a.wsvc().SubmitTopUpOTP(r.Context(), p.User.ID, r.PathValue("id"), in.Code)
			railOp(w, r, http.StatusOK, op, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/withdrawals/fee", ID: "quoteWithdrawalFee", Tag: "withdrawals", Auth: "either",
		Summary: "The fee for withdrawing an amount, shown before confirming", Response: FeeQuote{},
		Query:  map[string]string{"asset": "CNY, USD, …", "amount": "decimal amount"},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeAmountInvalid, apperr.CodeCurrencyUnsupported},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			q, err := QuoteFee(a.wsvc(), r.URL.Query().Get("asset"), r.URL.Query().Get("amount"))
			reply(w, r, q, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/withdrawals", ID: "createWithdrawal", Tag: "withdrawals", Auth: "either", Status: http.StatusCreated,
		Summary: "Withdraw to a verified card in your own name: held at once, then processing → completed, or failed with the money back",
		Request: wallet.WithdrawInput{}, Response: wallet.RailOp{},
		Errors: append([]string{apperr.CodeUnavailable, apperr.CodeNotFound, wallet.CodeWithdrawalTooSmall, wallet.CodeWithdrawalTooLarge,
			wallet.CodeCardUnknown, wallet.CodeCardNotVerified, rail.CodeCardExpired, wallet.CodeCurrencyMismatch, identity.CodeWithdrawRestricted,
			wallet.CodeRealNameRequired, wallet.CodeCardNameMismatch}, moveErrors...),
		Handler: a.money(identity.KeyScopePayouts, func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in wallet.WithdrawInput
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			in.UserID, in.SessionID, in.Key = p.User.ID, p.SessionID(), idemKey(r)
			op, err := a.wsvc().Withdraw(r.Context(), in)
			railOp(w, r, http.StatusCreated, op, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/withdrawals/{id}", ID: "getWithdrawal", Tag: "withdrawals", Auth: "either",
		Summary: "One withdrawal with its status and failure code", Response: wallet.RailOp{}, Errors: []string{apperr.CodeUnauthenticated, apperr.CodeNotFound},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			op, err := a.wsvc().GetRailOp(r.Context(), p.User.ID, r.PathValue("id"))
			railOp(w, r, http.StatusOK, op, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/deposits/address", ID: "getDepositAddress", Tag: "deposits", Auth: "either",
		Summary:  "Your deposit address for a crypto asset (always the same); deposits show confirming n/N until credited",
		Response: wallet.DepositAddress{}, Query: map[string]string{"asset": "USDT or BTC"},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeCurrencyUnsupported, wallet.CodeCryptoOnly, apperr.CodeUnavailable},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			da, err := a.wsvc().DepositAddressFor(r.Context(), p.User.ID, r.URL.Query().Get("asset"))
			reply(w, r, da, err)
		})})
	if sb := a.deps.Wallet.Sandbox; sb != nil {
		rt.Handle(Route{Method: "POST", Path: "/deposits/simulate", ID: "simulateDeposit", Tag: "deposits", Auth: "session", Status: http.StatusAccepted,
			Summary: "Dev/demo only: the sandbox chain sends a deposit to your address", Request: SimulateDepositRequest{},
			Errors: []string{apperr.CodeUnauthenticated, apperr.CodeAmountInvalid, wallet.CodeCryptoOnly},
			Handler: a.money("", func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
				var in SimulateDepositRequest
				if err := httpx.DecodeJSON(w, r, &in); err != nil {
					httpx.WriteError(w, r, err)
					return
				}
				if err := sb.Deposit(r.Context(), p.User.ID, in.Asset, in.Amount); err != nil {
					httpx.WriteError(w, r, err)
					return
				}
				httpx.WriteJSON(w, http.StatusAccepted, map[string]string{"status": "sent"})
			})})
	}
}

// SimulateDepositRequest is a sandbox deposit.
type SimulateDepositRequest struct {
	Asset  string `json:"asset"`
	Amount string `json:"amount"`
}

// FeeQuote is what a withdrawal costs: the amount reaches the card, the fee is taken on top.
type FeeQuote struct {
	Asset       string `json:"asset"`
	AmountMinor int64  `json:"amount_minor"`
	FeeMinor    int64  `json:"fee_minor"`
	TotalMinor  int64  `json:"total_minor" doc:"amount + fee: what leaves the wallet"`
	Amount      string `json:"amount"`
	Fee         string `json:"fee"`
	Total       string `json:"total"`
}
