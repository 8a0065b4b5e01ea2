package api

import (
	"errors"
	"net/http"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
)

// Lists under /me are short by construction (the service caps sessions and devices at 200,
// keys at 50 active, documents at 100), so they come whole rather than paginated.

// SessionsResponse lists the caller's signed-in sessions.
type SessionsResponse struct {
	Sessions []identity.Session `json:"sessions"`
}

// DevicesResponse lists the browsers and apps that signed in.
type DevicesResponse struct {
	Devices []identity.Device `json:"devices"`
}

// APIKeysResponse lists the caller's keys, revoked ones included.
type APIKeysResponse struct {
	Keys []identity.APIKey `json:"keys"`
}

// RevokedResponse says how many sessions ended.
type RevokedResponse struct {
	Revoked int `json:"revoked"`
}

// UpdateMeRequest changes preferences.
type UpdateMeRequest struct {
	Lang string `json:"lang" doc:"zh-CN or en"`
}

// TwoStepResponse is the 2-step state.
type TwoStepResponse struct {
	Enabled           bool `json:"enabled"`
	RecoveryCodesLeft int  `json:"recovery_codes_left"`
}

// DisableTwoStepRequest needs both the password and a current code.
type DisableTwoStepRequest struct {
	Password string `json:"password"`
	Code     string `json:"code" doc:"authenticator code or recovery code"`
}

// FreezeRequest freezes the caller's own account.
type FreezeRequest struct {
	Reason string    `json:"reason,omitempty"`
	Until  time.Time `json:"until,omitzero" doc:"optional automatic unfreeze"`
}

// PhoneRequest sets a phone number (a code is texted to it).
type PhoneRequest struct {
	Phone string `json:"phone" doc:"E.164, e.g. +8613800138000"`
}

// IdentityResponse is the identity level with the level-1 details and level-2 documents.
type IdentityResponse struct {
	Level     int                       `json:"level"`
	Profile   *identity.IdentityProfile `json:"profile,omitempty"`
	Documents []identity.Document       `json:"documents"`
}

func (a *API) accountRoutes() {
	rt := a.router
	sess := func(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
		return a.idem(authn.RequireSession(httpx.WriteError, withPrincipal(h)))
	}
	rt.Handle(Route{Method: "GET", Path: "/me", ID: "getMe", Tag: "account", Auth: "either",
		Summary: "The signed-in account", Response: identity.User{},
		Errors: []string{apperr.CodeUnauthenticated, identity.CodeSigninRestricted},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			httpx.WriteJSON(w, http.StatusOK, p.User)
		})})
	rt.Handle(Route{Method: "PATCH", Path: "/me", ID: "updateMe", Tag: "account", Auth: "session",
		Summary: "Change the language of pages and emails", Request: UpdateMeRequest{}, Response: identity.User{},
		Errors:  []string{apperr.CodeUnauthenticated, apperr.CodeValidation},
		Handler: sess(a.updateMe)})
	rt.Handle(Route{Method: "GET", Path: "/me/status", ID: "getAccountStatus", Tag: "account", Auth: "either",
		Summary:  "Every restriction on the account with reason, since, until and the actions that lift it; identity level limits and usage",
		Response: identity.AccountStatus{},
		Errors:   []string{apperr.CodeUnauthenticated},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			st, err := a.deps.Accounts.Service.AccountStatus(r.Context(), p.User.ID)
			reply(w, r, st, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/me/sessions", ID: "listSessions", Tag: "account", Auth: "either",
		Summary: "Signed-in sessions (device, IP, place, last seen); the current one is marked", Response: SessionsResponse{},
		Errors: []string{apperr.CodeUnauthenticated},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			ss, err := a.deps.Accounts.Service.ListSessions(r.Context(), p.User.ID, p.SessionID())
			reply(w, r, SessionsResponse{Sessions: nonNil(ss)}, err)
		})})
	rt.Handle(Route{Method: "DELETE", Path: "/me/sessions/{id}", ID: "revokeSession", Tag: "account", Auth: "session", Status: http.StatusNoContent,
		Summary: "Sign one session out", Errors: []string{apperr.CodeUnauthenticated, apperr.CodeNotFound},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			err := a.deps.Accounts.Service.RevokeSession(r.Context(), p.User.ID, r.PathValue("id"))
			if err == nil && r.PathValue("id") == p.SessionID() {
				authn.ClearSession(w, r)
			}
			replyEmpty(w, r, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/me/sessions/revoke-others", ID: "revokeOtherSessions", Tag: "account", Auth: "session",
		Summary: "Sign out every other session", Response: RevokedResponse{}, Errors: []string{apperr.CodeUnauthenticated},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			n, err := a.deps.Accounts.Service.RevokeOtherSessions(r.Context(), p.User.ID, p.SessionID())
			reply(w, r, RevokedResponse{Revoked: n}, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/me/devices", ID: "listDevices", Tag: "account", Auth: "either",
		Summary: "Browsers and apps that signed in, newest first", Response: DevicesResponse{},
		Errors: []string{apperr.CodeUnauthenticated},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			dev := ""
			if p.Session != nil {
				dev = p.Session.DeviceID
			}
			ds, err := a.deps.Accounts.Service.ListDevices(r.Context(), p.User.ID, dev)
			reply(w, r, DevicesResponse{Devices: nonNil(ds)}, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/me/api-keys", ID: "listAPIKeys", Tag: "account", Auth: "either",
		Summary: "API keys (the secrets are never shown again)", Response: APIKeysResponse{},
		Errors: []string{apperr.CodeUnauthenticated},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			ks, err := a.deps.Accounts.Service.ListAPIKeys(r.Context(), p.User.ID)
			reply(w, r, APIKeysResponse{Keys: nonNil(ks)}, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/me/api-keys", ID: "createAPIKey", Tag: "account", Auth: "session", Status: http.StatusCreated,
		Summary: "Create an API key; the secret is in this response only. Needs a recent step-up",
		Request: identity.CreateAPIKeyInput{}, Response: identity.NewAPIKey{},
		Errors: []string{apperr.CodeUnauthenticated, identity.CodeStepUpRequired, apperr.CodeValidation, apperr.CodeRateLimited},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in identity.CreateAPIKeyInput
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			k, err := a.deps.Accounts.Service.CreateAPIKey(r.Context(), p.SessionID(), in)
			replyStatus(w, r, http.StatusCreated, k, err)
		})})
	rt.Handle(Route{Method: "DELETE", Path: "/me/api-keys/{id}", ID: "revokeAPIKey", Tag: "account", Auth: "session", Status: http.StatusNoContent,
		Summary: "Revoke an API key at once", Errors: []string{apperr.CodeUnauthenticated, apperr.CodeNotFound},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			replyEmpty(w, r, a.deps.Accounts.Service.RevokeAPIKey(r.Context(), p.User.ID, r.PathValue("id")))
		})})
	rt.Handle(Route{Method: "POST", Path: "/me/step-up", ID: "stepUp", Tag: "account", Auth: "session",
		Summary: "Confirm it is you (2-step code, or the password without 2-step) before a sensitive change",
		Request: identity.StepUpInput{}, Response: identity.StepUpResult{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeRateLimited, identity.CodeTOTPInvalid, identity.CodePasswordIncorrect,
			identity.CodeAccountLocked},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in identity.StepUpInput
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			res, err := a.deps.Accounts.Service.StepUp(r.Context(), p.SessionID(), in, authn.Client(r))
			reply(w, r, res, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/me/password", ID: "changePassword", Tag: "account", Auth: "session", Status: http.StatusNoContent,
		Summary: "Change the password (needs a recent step-up); every session ends, sign in again",
		Request: identity.ChangePasswordInput{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeRateLimited, identity.CodeStepUpRequired, identity.CodePasswordIncorrect,
			identity.CodeAccountLocked, apperr.CodeValidation},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in identity.ChangePasswordInput
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			err := a.deps.Accounts.Service.ChangePassword(r.Context(), p.SessionID(), in, authn.Client(r))
			if err == nil {
				authn.ClearSession(w, r)
			}
			replyEmpty(w, r, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/me/2fa", ID: "getTwoStep", Tag: "account", Auth: "session",
		Summary: "Whether 2-step is on and how many recovery codes are left", Response: TwoStepResponse{},
		Errors: []string{apperr.CodeUnauthenticated},
		Handler: authn.RequireSession(httpx.WriteError, withPrincipal(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			n, err := a.deps.Accounts.Service.RecoveryCodesLeft(r.Context(), p.User.ID)
			reply(w, r, TwoStepResponse{Enabled: p.User.TwoStep, RecoveryCodesLeft: n}, err)
		}))})
	rt.Handle(Route{Method: "POST", Path: "/me/2fa/setup", ID: "beginTwoStep", Tag: "account", Auth: "session",
		Summary:  "Start 2-step set-up: a new secret, its otpauth URI and a QR code (SVG). Needs a recent step-up",
		Response: identity.TOTPEnrolment{},
		Errors:   []string{apperr.CodeUnauthenticated, identity.CodeStepUpRequired, identity.CodeTOTPAlreadyEnabled},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			res, err := a.deps.Accounts.Service.BeginTOTP(r.Context(), p.SessionID())
			reply(w, r, res, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/me/2fa/confirm", ID: "confirmTwoStep", Tag: "account", Auth: "session",
		Summary: "Turn 2-step on with the first code; returns 10 one-time recovery codes, shown once",
		Request: CodeRequest{}, Response: identity.RecoveryCodes{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeRateLimited, identity.CodeTOTPAlreadyEnabled, identity.CodeTOTPNotPending,
			identity.CodeTOTPInvalid},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in CodeRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			res, err := a.deps.Accounts.Service.ConfirmTOTP(r.Context(), p.SessionID(), in.Code, authn.Client(r))
			reply(w, r, res, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/me/2fa/recovery-codes", ID: "regenerateRecoveryCodes", Tag: "account", Auth: "session",
		Summary: "Replace the recovery codes (the old ones stop working). Needs a recent step-up", Response: identity.RecoveryCodes{},
		Errors: []string{apperr.CodeUnauthenticated, identity.CodeStepUpRequired, identity.CodeTOTPNotEnabled},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			res, err := a.deps.Accounts.Service.RegenerateRecoveryCodes(r.Context(), p.SessionID())
			reply(w, r, res, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/me/2fa/disable", ID: "disableTwoStep", Tag: "account", Auth: "session", Status: http.StatusNoContent,
		Summary: "Turn 2-step off with the password and a current code; a notice is emailed",
		Request: DisableTwoStepRequest{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeRateLimited, identity.CodeTOTPNotEnabled, identity.CodePasswordIncorrect,
			identity.CodeTOTPInvalid, identity.CodeAccountLocked},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in DisableTwoStepRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			replyEmpty(w, r, a.deps.Accounts.Service.DisableTOTP(r.Context(), p.SessionID(), in.Password, in.Code, authn.Client(r)))
		})})
	rt.Handle(Route{Method: "POST", Path: "/me/phone", ID: "setPhone", Tag: "account", Auth: "session",
		Summary: "Set the phone number and text it a code (needs a recent step-up)", Request: PhoneRequest{}, Response: identity.Resend{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeRateLimited, identity.CodeStepUpRequired, apperr.CodeValidation,
			identity.CodeResendCooldown, identity.CodeDailyCap},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in PhoneRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			res, err := a.deps.Accounts.Service.SetPhone(r.Context(), p.SessionID(), in.Phone, authn.Client(r))
			reply(w, r, res, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/me/phone/verify", ID: "verifyPhone", Tag: "account", Auth: "session",
		Summary: "Verify the phone with the texted code", Request: CodeRequest{}, Response: identity.User{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeRateLimited, identity.CodeCodeMalformed, identity.CodeCodeInvalid,
			identity.CodeCodeAttempts, identity.CodeCodeExpired},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in CodeRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			u, err := a.deps.Accounts.Service.VerifyPhone(r.Context(), p.User.ID, in.Code, authn.Client(r))
			reply(w, r, u, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/me/freeze", ID: "freezeMe", Tag: "account", Auth: "either", Status: http.StatusCreated,
		Summary: "Freeze the account at once: no money leaves it and every session ends (no step-up: it only protects)",
		Request: FreezeRequest{}, Response: identity.Restriction{},
		Errors: []string{apperr.CodeUnauthenticated, identity.CodeAlreadyFrozen, apperr.CodeValidation},
		Handler: a.idem(authn.RequireUser(httpx.WriteError, withPrincipal(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in FreezeRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			res, err := a.deps.Accounts.Service.FreezeSelf(r.Context(), p.User.ID, identity.FreezeInput{Reason: in.Reason, Until: in.Until}, authn.Client(r))
			if err == nil && p.Session != nil {
				authn.ClearSession(w, r)
			}
			replyStatus(w, r, http.StatusCreated, res, err)
		})))})
	rt.Handle(Route{Method: "POST", Path: "/me/unfreeze/code", ID: "requestUnfreezeCode", Tag: "account", Auth: "session",
		Summary:  "Email an unfreeze code (the second factor for accounts without 2-step)",
		Response: identity.Resend{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeRateLimited, identity.CodeNotFrozen, identity.CodeResendCooldown,
			identity.CodeDailyCap, identity.CodeUnfreezeNeedsSupport},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			res, err := a.deps.Accounts.Service.RequestUnfreezeCode(r.Context(), p.SessionID(), authn.Client(r))
			reply(w, r, res, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/me/unfreeze", ID: "unfreezeMe", Tag: "account", Auth: "session", Status: http.StatusNoContent,
		Summary: "Lift your own freeze with the password and the 2-step code (or the emailed unfreeze code)",
		Request: identity.UnfreezeInput{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeRateLimited, identity.CodeNotFrozen, identity.CodeUnfreezeNeedsSupport,
			identity.CodePasswordIncorrect, identity.CodeAccountLocked, identity.CodeTOTPInvalid, identity.CodeCodeMalformed,
			identity.CodeCodeInvalid, identity.CodeCodeExpired, identity.CodeCodeAttempts},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in identity.UnfreezeInput
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			replyEmpty(w, r, a.deps.Accounts.Service.Unfreeze(r.Context(), p.SessionID(), in, authn.Client(r)))
		})})
	rt.Handle(Route{Method: "GET", Path: "/me/identity", ID: "getIdentity", Tag: "account", Auth: "either",
		Summary: "Identity level, level-1 details (ID number masked) and level-2 documents", Response: IdentityResponse{},
		Errors: []string{apperr.CodeUnauthenticated},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			out, err := a.identityOf(r, p)
			reply(w, r, out, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/me/identity", ID: "submitIdentity", Tag: "account", Auth: "session",
		Summary: "Identity level 1: real name, ID type and number, date of birth (format-checked)",
		Request: identity.IdentityInput{}, Response: identity.IdentityProfile{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeValidation, identity.CodeEmailNotVerified},
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in identity.IdentityInput
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			res, err := a.deps.Accounts.Service.SubmitIdentity(r.Context(), p.User.ID, in, authn.Client(r))
			reply(w, r, res, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/me/identity/documents", ID: "uploadDocument", Tag: "account", Auth: "session", Status: http.StatusCreated,
		Summary:  "Identity level 2: upload an ID document as multipart/form-data (fields kind = id_front, id_back, passport or selfie; file = JPEG, PNG or PDF up to 5 MB, type checked by content)",
		Response: identity.Document{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeValidation, identity.CodeLevelRequirement, apperr.CodeBodyTooLarge,
			apperr.CodeRateLimited, apperr.CodeBadRequest},
		// Not behind the Idempotency guard: it buffers bodies of at most 1 MB.
		Handler: authn.RequireSession(httpx.WriteError, withPrincipal(a.uploadDocument))})
}

// withPrincipal adapts a handler that needs the caller (already checked by Require*).
func withPrincipal(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { h(w, r, authn.From(r.Context())) }
}

// read allows a signed-in browser or an API key with the read scope.
func (a *API) read(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
	return authn.RequireUser(httpx.WriteError, func(w http.ResponseWriter, r *http.Request) {
		p := authn.From(r.Context())
		if p.APIKey != nil && !p.APIKey.Allows(identity.KeyScopeRead) {
			httpx.WriteError(w, r, apperr.New(apperr.CodeForbidden))
			return
		}
		h(w, r, p)
	})
}

// idem puts a mutating call behind the Idempotency-Key guard, per user.
func (a *API) idem(h http.HandlerFunc) http.HandlerFunc {
	if a.deps.Accounts.Idempotency == nil {
		return h
	}
	return a.deps.Accounts.Idempotency.Wrap(func(r *http.Request) string {
		if p := authn.From(r.Context()); p != nil {
			return "user:" + p.User.ID
		}
		return ""
	}, h)
}

func (a *API) updateMe(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	var in UpdateMeRequest
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	svc := a.deps.Accounts.Service
	if err := svc.SetLanguage(r.Context(), p.User.ID, in.Lang); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	u, err := svc.GetUser(r.Context(), p.User.ID)
	reply(w, r, u, err)
}

func (a *API) identityOf(r *http.Request, p *authn.Principal) (*IdentityResponse, error) {
	svc := a.deps.Accounts.Service
	out := &IdentityResponse{Level: p.User.Level}
	prof, err := svc.GetIdentity(r.Context(), p.User.ID)
	switch {
	case err == nil:
		out.Profile = prof
	case !apperr.HasCode(err, apperr.CodeNotFound):
		return nil, err
	}
	docs, err := svc.ListDocuments(r.Context(), p.User.ID)
	if err != nil {
		return nil, err
	}
	out.Documents = nonNil(docs)
	return out, nil
}

// DocumentKinds are the level-2 document kinds, checked before the file is stored so a
// bad form leaves no orphan file behind.
var DocumentKinds = map[string]bool{"id_front": true, "id_back": true, "passport": true, "selfie": true}

// maxUploadBytes bounds the whole multipart request: the 5 MB file plus form overhead.
const maxUploadBytes = 5<<20 + 64<<10

func (a *API) uploadDocument(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if a.deps.Accounts.Documents == nil {
		httpx.WriteError(w, r, errors.New("document store not configured"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxUploadBytes)
	if err := r.ParseMultipartForm(maxUploadBytes); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			httpx.WriteError(w, r, apperr.New(apperr.CodeBodyTooLarge).Wrap(err))
			return
		}
		httpx.WriteError(w, r, apperr.New(apperr.CodeBadRequest).Wrap(err))
		return
	}
	defer r.MultipartForm.RemoveAll()
	f, _, err := r.FormFile("file")
	if err != nil {
		httpx.WriteError(w, r, apperr.New(apperr.CodeValidation).Field("file", apperr.CodeRequired).Wrap(err))
		return
	}
	defer f.Close()
	kind := r.FormValue("kind")
	if !DocumentKinds[kind] {
		httpx.WriteError(w, r, apperr.New(apperr.CodeValidation).Field("kind", identity.FieldDocumentInvalid))
		return
	}
	doc, err := a.deps.Accounts.Documents.Save(r.Context(), p.User.ID, f)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	doc.Kind = kind
	res, err := a.deps.Accounts.Service.SubmitDocument(r.Context(), p.User.ID, doc, authn.Client(r))
	replyStatus(w, r, http.StatusCreated, res, err)
}

func reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	replyStatus(w, r, http.StatusOK, v, err)
}

func replyStatus(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, status, v)
}

func replyEmpty(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
