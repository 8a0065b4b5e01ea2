package api

import (
	"net/http"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
)

// EmailChangeRequest asks to change the account's email; a code is mailed to the new
// address.
type EmailChangeRequest struct {
	Email string `json:"email" doc:"the new address"`
}

// accountEmailRoutes are the two steps of changing the account's email: ask (after a
// step-up; the code goes to the new address) and confirm with that code. Only a signed-in
// browser may do either: an API key cannot take over the account's mailbox.
func (a *API) accountEmailRoutes() {
	rt := a.router
	sess := func(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
		return a.idem(authn.RequireSession(httpx.WriteError, withPrincipal(h)))
	}
	rt.Handle(Route{Method: "POST", Path: "/me/email", ID: "requestEmailChange", Tag: "account", Auth: "session",
		Summary: "Change the email address (needs a recent step-up): mails a 6-digit code, valid 1 hour, to the new address",
		Request: EmailChangeRequest{}, Response: identity.EmailChange{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeRateLimited, identity.CodeStepUpRequired, apperr.CodeValidation,
			identity.CodeEmailUnchanged, identity.CodeEmailTaken, identity.CodeResendCooldown, identity.CodeDailyCap},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in EmailChangeRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			res, err := a.deps.Accounts.Service.RequestEmailChange(r.Context(), p.SessionID(), in.Email, authn.Client(r))
			reply(w, r, res, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/me/email/confirm", ID: "confirmEmailChange", Tag: "account", Auth: "session",
		Summary: "Confirm the new email with the mailed code: it becomes the verified sign-in address, every other session ends " +
			"and the old address is told (with a freeze link)",
		Request: CodeRequest{}, Response: identity.User{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeRateLimited, identity.CodeCodeMalformed, identity.CodeCodeInvalid,
			identity.CodeCodeAttempts, identity.CodeCodeExpired, identity.CodeEmailTaken},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in CodeRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			u, err := a.deps.Accounts.Service.ConfirmEmailChange(r.Context(), p.SessionID(), in.Code, authn.Client(r))
			reply(w, r, u, err)
		})})
}
