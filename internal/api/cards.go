package api

import (
	"net/http"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/rail"
	"okpay/internal/wallet"
)

// CardsResponse lists bound cards: brand and last four digits only.
type CardsResponse struct {
	Cards []wallet.Card `json:"cards"`
}

// StatementResponse is a card's sandbox bank statement (dev/demo only).
type StatementResponse struct {
	Lines []string `json:"lines"`
}

var addCardErrors = []string{apperr.CodeUnauthenticated, apperr.CodeUnavailable, identity.CodeStepUpRequired, wallet.CodeCardLimit,
	apperr.CodeCurrencyUnsupported, rail.CodeCardNumberInvalid, rail.CodeCardExpiryInvalid, rail.CodeCardExpired, rail.CodeCardCVVInvalid,
	rail.CodeCardHolderInvalid, rail.CodeCardBrandUnsupported, rail.CodeCardDeclined, rail.CodeCardReportedStolen}

// Cards are managed from a signed-in browser only: binding and removing need a step-up,
// which an API key cannot do.
func (a *API) cardRoutes() {
	rt := a.router
	sess := func(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
		return a.money("", func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			if p.Session == nil {
				httpx.WriteError(w, r, apperr.New(apperr.CodeUnauthenticated))
				return
			}
			h(w, r, p)
		})
	}
	rt.Handle(Route{Method: "GET", Path: "/cards", ID: "listCards", Tag: "cards", Auth: "either",
		Summary: "Bound cards, default first (brand, last 4, expiry, status)", Response: CardsResponse{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeForbidden},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			cs, err := a.wsvc().ListCards(r.Context(), p.User.ID)
			reply(w, r, CardsResponse{Cards: nonNil(cs)}, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/cards", ID: "addCard", Tag: "cards", Auth: "session", Status: http.StatusCreated,
		Summary: "Bind a card (needs a recent step-up). The number and CVV go to the bank and are never stored; verify with the code on the statement",
		Request: wallet.AddCardInput{}, Response: wallet.Card{}, Errors: addCardErrors,
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in wallet.AddCardInput
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			in.UserID, in.SessionID = p.User.ID, p.SessionID()
			c, err := a.wsvc().AddCard(r.Context(), in)
			replyStatus(w, r, http.StatusCreated, c, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/cards/{id}/verify", ID: "verifyCard", Tag: "cards", Auth: "session",
		Summary: "Verify a card with the 4-digit code of the small charge on its statement", Request: CodeRequest{}, Response: wallet.Card{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeNotFound, rail.CodeCardVerifyCodeMalformed, rail.CodeCardVerifyCodeInvalid,
			rail.CodeCardVerifyAttempts, rail.CodeCardVerifyExpired, rail.CodeOperationState},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in CodeRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			c, err := a.wsvc().VerifyCard(r.Context(), p.User.ID, r.PathValue("id"), in.Code)
			reply(w, r, c, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/cards/{id}/default", ID: "setDefaultCard", Tag: "cards", Auth: "session", Status: http.StatusNoContent,
		Summary: "Make a verified card the default", Errors: []string{apperr.CodeUnauthenticated, apperr.CodeNotFound, wallet.CodeCardNotVerified},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			replyEmpty(w, r, a.wsvc().SetDefaultCard(r.Context(), p.User.ID, r.PathValue("id")))
		})})
	rt.Handle(Route{Method: "DELETE", Path: "/cards/{id}", ID: "removeCard", Tag: "cards", Auth: "session", Status: http.StatusNoContent,
		Summary: "Remove a card (needs a recent step-up)", Errors: []string{apperr.CodeUnauthenticated, identity.CodeStepUpRequired, apperr.CodeNotFound},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			replyEmpty(w, r, a.wsvc().RemoveCard(r.Context(), p.User.ID, p.SessionID(), r.PathValue("id")))
		})})
	rt.Handle(Route{Method: "POST", Path: "/cards/{id}/change", ID: "changeCard", Tag: "cards", Auth: "session", Status: http.StatusCreated,
		Summary: "Replace a card: add the new one (step-up); once verified it takes over the default and the old card is removed",
		Request: wallet.AddCardInput{}, Response: wallet.Card{}, Errors: append([]string{apperr.CodeNotFound}, addCardErrors...),
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in wallet.AddCardInput
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			in.UserID, in.SessionID = p.User.ID, p.SessionID()
			c, err := a.wsvc().ChangeCard(r.Context(), wallet.ChangeCardInput{AddCardInput: in, OldCardID: r.PathValue("id")})
			replyStatus(w, r, http.StatusCreated, c, err)
		})})
	if sb := a.deps.Wallet.Sandbox; sb != nil {
		rt.Handle(Route{Method: "GET", Path: "/cards/{id}/sandbox-statement", ID: "getSandboxStatement", Tag: "cards", Auth: "session",
			Summary: "Dev/demo only: the card's sandbox bank statement, where the verification code is", Response: StatementResponse{},
			Errors: []string{apperr.CodeUnauthenticated, apperr.CodeNotFound},
			Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
				ls, err := sb.Statement(r.Context(), p.User.ID, r.PathValue("id"))
				reply(w, r, StatementResponse{Lines: nonNil(ls)}, err)
			})})
	}
}
