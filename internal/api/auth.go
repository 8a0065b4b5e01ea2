package api

import (
	"context"
	"io"
	"net/http"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
)

// Accounts is what the sign-in and account resources need: the identity service, where
// uploaded ID documents go, and the Idempotency-Key guard for mutating calls.
type Accounts struct {
	Service     *identity.Service
	Documents   DocumentStore
	Idempotency *Idempotency
}

// DocumentStore keeps uploaded identity documents outside any web root.
type DocumentStore interface {
	// Save checks the type by content and the size, stores the bytes, and returns the
	// metadata for identity.SubmitDocument (Kind left empty).
	Save(ctx context.Context, userID string, r io.Reader) (identity.DocumentInput, error)
	Open(ref string) (io.ReadCloser, error)
}

// RegisterRequest opens an account.
type RegisterRequest struct {
	Email    string `json:"email"`
	Phone    string `json:"phone,omitempty" doc:"E.164, e.g. +8613800138000"`
	Password string `json:"password" doc:"8-128 characters with letters, digits and a symbol; not a common password; not containing the email name"`
	Lang     string `json:"lang" doc:"zh-CN or en"`
}

// RegisterResponse is the new, signed-in account. The session cookie is set.
type RegisterResponse struct {
	User                 identity.User     `json:"user"`
	Session              *identity.Session `json:"session"`
	VerificationResendAt time.Time         `json:"verification_resend_at" doc:"when another verification email may be asked for"`
}

// SignInRequest is the first sign-in step.
type SignInRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// SecondStepRequest finishes a sign-in with 2-step on.
type SecondStepRequest struct {
	PendingToken string `json:"pending_token" doc:"from the first step"`
	Code         string `json:"code" doc:"6-digit authenticator code or a recovery code"`
}

// SignInResponse is either a finished sign-in (session cookie set, User and Session filled)
// or a request for the second step (PendingToken).
type SignInResponse struct {
	SecondStepRequired bool              `json:"second_step_required"`
	PendingToken       string            `json:"pending_token,omitempty" doc:"send to /auth/signin/second-step with the code"`
	PendingExpiresAt   time.Time         `json:"pending_expires_at,omitzero"`
	User               *identity.User    `json:"user,omitempty"`
	Session            *identity.Session `json:"session,omitempty"`
	NewDevice          bool              `json:"new_device" doc:"an alert email was sent"`
	NewPlace           bool              `json:"new_place" doc:"an alert email was sent"`
}

// CodeRequest carries a typed code.
type CodeRequest struct {
	Code string `json:"code"`
}

// TokenRequest carries the token of an emailed link.
type TokenRequest struct {
	Token string `json:"token" doc:"the token= value of the emailed link"`
}

// VerifiedResponse answers a verification by link.
type VerifiedResponse struct {
	Verified bool   `json:"verified"`
	Email    string `json:"email"`
}

func (a *API) authRoutes() {
	rt := a.router
	rt.Handle(Route{Method: "POST", Path: "/auth/register", ID: "register", Tag: "auth", Status: http.StatusCreated,
		Summary: "Open an account; sends the verification email and signs in (sets the session cookie)",
		Request: RegisterRequest{}, Response: RegisterResponse{},
		Errors:  []string{apperr.CodeRateLimited, apperr.CodeValidation, identity.CodeEmailTaken, apperr.CodeInvalidJSON},
		Handler: a.register})
	rt.Handle(Route{Method: "POST", Path: "/auth/signin", ID: "signIn", Tag: "auth",
		Summary: "Sign in with email and password; with 2-step on, answers second_step_required and a pending token",
		Request: SignInRequest{}, Response: SignInResponse{},
		Errors: []string{apperr.CodeRateLimited, identity.CodeInvalidCredentials, identity.CodeAccountLocked,
			identity.CodeSigninRestricted, apperr.CodeInvalidJSON},
		Handler: a.signIn})
	rt.Handle(Route{Method: "POST", Path: "/auth/signin/second-step", ID: "signInSecondStep", Tag: "auth",
		Summary: "Finish a sign-in with the 2-step code (or a recovery code)",
		Request: SecondStepRequest{}, Response: SignInResponse{},
		Errors: []string{apperr.CodeRateLimited, identity.CodeSigninExpired, identity.CodeTOTPInvalid,
			identity.CodeAccountLocked, identity.CodeSigninRestricted},
		Handler: a.signInSecondStep})
	rt.Handle(Route{Method: "POST", Path: "/auth/signout", ID: "signOut", Tag: "auth", Status: http.StatusNoContent,
		Summary: "End this session and clear the session cookie", Handler: a.signOut})
	rt.Handle(Route{Method: "POST", Path: "/auth/verify-email", ID: "verifyEmail", Tag: "auth", Auth: "session",
		Summary: "Verify the email address with the 6-digit code from the email",
		Request: CodeRequest{}, Response: identity.User{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeRateLimited, identity.CodeEmailAlreadyVerified, identity.CodeCodeMalformed,
			identity.CodeCodeInvalid, identity.CodeCodeExpired, identity.CodeCodeAttempts},
		Handler: authn.RequireSession(httpx.WriteError, a.verifyEmail)})
	rt.Handle(Route{Method: "POST", Path: "/auth/verify-email/link", ID: "verifyEmailLink", Tag: "auth",
		Summary: "Verify the email address with the emailed link's token (no sign-in needed)",
		Request: TokenRequest{}, Response: VerifiedResponse{},
		Errors:  []string{identity.CodeCodeExpired, identity.CodeEmailAlreadyVerified},
		Handler: a.verifyEmailLink})
	rt.Handle(Route{Method: "POST", Path: "/auth/resend-verification", ID: "resendVerification", Tag: "auth", Auth: "session",
		Summary:  "Send a new verification code and link; the response says when the next one is allowed (check the spam folder)",
		Response: identity.Resend{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeRateLimited, identity.CodeEmailAlreadyVerified,
			identity.CodeResendCooldown, identity.CodeDailyCap},
		Handler: authn.RequireSession(httpx.WriteError, a.resendVerification)})
	rt.Handle(Route{Method: "POST", Path: "/auth/password-reset/request", ID: "requestPasswordReset", Tag: "auth", Status: http.StatusAccepted,
		Summary: "Ask for a reset code by email (code + link) or SMS; the answer is the same whether or not the address is registered",
		Request: identity.ResetRequest{}, Response: identity.ResetRequested{},
		Errors:  []string{apperr.CodeRateLimited, apperr.CodeValidation},
		Handler: a.requestReset})
	rt.Handle(Route{Method: "POST", Path: "/auth/password-reset", ID: "resetPassword", Tag: "auth", Status: http.StatusNoContent,
		Summary: "Set a new password with the reset link's token, or the email/phone and code; ends every session",
		Request: identity.ResetInput{},
		Errors: []string{apperr.CodeRateLimited, apperr.CodeValidation, identity.CodeCodeMalformed, identity.CodeCodeInvalid,
			identity.CodeCodeAttempts, identity.CodeCodeExpired},
		Handler: a.resetPassword})
	rt.Handle(Route{Method: "POST", Path: "/auth/freeze-link", ID: "freezeByLink", Tag: "auth", Status: http.StatusNoContent,
		Summary: "\"This wasn't me\": freeze the account named by a security email's link (no sign-in needed)",
		Request: TokenRequest{}, Errors: []string{identity.CodeCodeExpired},
		Handler: a.freezeByLink})
}

func (a *API) register(w http.ResponseWriter, r *http.Request) {
	var in RegisterRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	svc := a.deps.Accounts.Service
	res, err := svc.Register(r.Context(), identity.RegisterInput{Email: in.Email, Phone: in.Phone, Password: in.Password, Lang: in.Lang}, authn.Client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := authn.SignedIn(r.Context(), w, r, svc.SignOut, res.Token, res.DeviceCookie); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, RegisterResponse{User: res.User, Session: res.Session, VerificationResendAt: res.VerificationResend})
}

func (a *API) signIn(w http.ResponseWriter, r *http.Request) {
	var in SignInRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	si, err := a.deps.Accounts.Service.SignIn(r.Context(), identity.SignInInput{Email: in.Email, Password: in.Password}, authn.Client(r))
	a.finishSignIn(w, r, si, err)
}

func (a *API) signInSecondStep(w http.ResponseWriter, r *http.Request) {
	var in SecondStepRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	si, err := a.deps.Accounts.Service.SignInSecondStep(r.Context(), in.PendingToken, in.Code, authn.Client(r))
	a.finishSignIn(w, r, si, err)
}

// finishSignIn sets the cookies of a completed sign-in. The session token goes only into
// the HttpOnly cookie, never into the body, so page scripts cannot read it.
func (a *API) finishSignIn(w http.ResponseWriter, r *http.Request, si *identity.SignIn, err error) {
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := SignInResponse{SecondStepRequired: si.SecondStep, PendingToken: si.PendingToken, PendingExpiresAt: si.PendingExpiresAt,
		NewDevice: si.NewDevice, NewPlace: si.NewPlace}
	svc := a.deps.Accounts.Service
	if !si.SecondStep {
		if err := authn.SignedIn(r.Context(), w, r, svc.SignOut, si.Token, si.DeviceCookie); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		u, err := svc.GetUser(r.Context(), si.Session.UserID)
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		out.User, out.Session = u, si.Session
	} else {
		authn.SetDevice(w, r, si.DeviceCookie)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *API) signOut(w http.ResponseWriter, r *http.Request) {
	if tok := authn.SessionToken(r); tok != "" {
		if err := a.deps.Accounts.Service.SignOut(r.Context(), tok); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
	}
	authn.ClearSession(w, r)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) verifyEmail(w http.ResponseWriter, r *http.Request) {
	var in CodeRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	p := authn.From(r.Context())
	u, err := a.deps.Accounts.Service.VerifyEmail(r.Context(), p.User.ID, in.Code, authn.Client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, u)
}

func (a *API) verifyEmailLink(w http.ResponseWriter, r *http.Request) {
	var in TokenRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	u, err := a.deps.Accounts.Service.VerifyEmailLink(r.Context(), in.Token, authn.Client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, VerifiedResponse{Verified: true, Email: u.Email})
}

func (a *API) resendVerification(w http.ResponseWriter, r *http.Request) {
	p := authn.From(r.Context())
	res, err := a.deps.Accounts.Service.ResendVerification(r.Context(), p.User.ID, authn.Client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, res)
}

func (a *API) requestReset(w http.ResponseWriter, r *http.Request) {
	var in identity.ResetRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	res, err := a.deps.Accounts.Service.RequestPasswordReset(r.Context(), in, authn.Client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusAccepted, res)
}

func (a *API) resetPassword(w http.ResponseWriter, r *http.Request) {
	var in identity.ResetInput
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := a.deps.Accounts.Service.ResetPassword(r.Context(), in, authn.Client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	// Every session ended, this browser's included.
	authn.ClearSession(w, r)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) freezeByLink(w http.ResponseWriter, r *http.Request) {
	var in TokenRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := a.deps.Accounts.Service.FreezeByLink(r.Context(), in.Token, authn.Client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
