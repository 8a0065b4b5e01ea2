package api

import (
	"io"
	"net/http"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
)

// The minimal support endpoints of the accounts issue: look a person up, end a lockout or a
// freeze with a reason, review level-2 documents. The service checks the staff role's
// permissions on every call; the role gate here only keeps customers out early.

var staffRoles = []identity.Role{identity.RoleAgent, identity.RoleRiskReviewer, identity.RoleAdmin}

// AgentUserResponse is a looked-up account with its status.
type AgentUserResponse struct {
	User   identity.User           `json:"user"`
	Status *identity.AccountStatus `json:"status"`
}

// ReasonRequest carries the reason every staff action records in the audit log.
type ReasonRequest struct {
	Reason string `json:"reason"`
}

// AgentFreezeRequest freezes someone's account.
type AgentFreezeRequest struct {
	Reason string    `json:"reason"`
	Until  time.Time `json:"until,omitzero"`
}

// DocumentsResponse is the review queue.
type DocumentsResponse struct {
	Documents []identity.Document `json:"documents"`
}

// ReviewRequest approves or rejects a document; a rejection needs a reason (shown to the owner).
type ReviewRequest struct {
	Approve bool   `json:"approve"`
	Reason  string `json:"reason,omitempty"`
}

func (a *API) agentRoutes() {
	rt := a.router
	staff := func(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
		return authn.RequireRole(httpx.WriteError, staffRoles, func(w http.ResponseWriter, r *http.Request) {
			p := authn.From(r.Context())
			if p.Session == nil {
				// Staff powers are for people at a browser, not for scripts holding a key.
				httpx.WriteError(w, r, apperr.New(apperr.CodeUnauthenticated))
				return
			}
			h(w, r, p)
		})
	}
	mut := func(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
		return a.idem(staff(h))
	}
	denied := []string{apperr.CodeUnauthenticated, apperr.CodeForbidden}
	rt.Handle(Route{Method: "GET", Path: "/agent/users", ID: "agentFindUser", Tag: "agent", Auth: "session",
		Summary: "Look an account up by email, with its status", Query: map[string]string{"email": "the account's email address"},
		Response: AgentUserResponse{}, Errors: append(denied, apperr.CodeNotFound),
		Handler: staff(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			svc := a.deps.Accounts.Service
			email := r.URL.Query().Get("email")
			if len(email) > 254 {
				httpx.WriteError(w, r, apperr.New(apperr.CodeValidation).Field("email", identity.FieldEmailInvalid))
				return
			}
			u, err := svc.FindUserByEmail(r.Context(), p.User.ID, email)
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			st, err := svc.AgentAccountStatus(r.Context(), p.User.ID, u.ID)
			reply(w, r, AgentUserResponse{User: *u, Status: st}, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/agent/users/{id}/unlock", ID: "agentUnlock", Tag: "agent", Auth: "session", Status: http.StatusNoContent,
		Summary: "End a lockout early after checking the caller's identity (audited with the reason)", Request: ReasonRequest{},
		Errors: append(denied, apperr.CodeValidation, apperr.CodeNotFound),
		Handler: mut(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in ReasonRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			replyEmpty(w, r, a.deps.Accounts.Service.AgentUnlock(r.Context(), p.User.ID, r.PathValue("id"), in.Reason, authn.Client(r)))
		})})
	rt.Handle(Route{Method: "POST", Path: "/agent/users/{id}/unfreeze", ID: "agentUnfreeze", Tag: "agent", Auth: "session", Status: http.StatusNoContent,
		Summary: "Lift every freeze after checking the owner's identity (audited with the reason)", Request: ReasonRequest{},
		Errors: append(denied, apperr.CodeValidation, apperr.CodeNotFound, identity.CodeNotFrozen),
		Handler: mut(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in ReasonRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			replyEmpty(w, r, a.deps.Accounts.Service.AgentUnfreeze(r.Context(), p.User.ID, r.PathValue("id"), in.Reason, authn.Client(r)))
		})})
	rt.Handle(Route{Method: "POST", Path: "/agent/users/{id}/freeze", ID: "agentFreeze", Tag: "agent", Auth: "session", Status: http.StatusCreated,
		Summary: "Freeze an account on the owner's behalf or for a risk reason", Request: AgentFreezeRequest{}, Response: identity.Restriction{},
		Errors: append(denied, apperr.CodeValidation, apperr.CodeNotFound, identity.CodeAlreadyFrozen),
		Handler: mut(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in AgentFreezeRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			res, err := a.deps.Accounts.Service.AgentFreeze(r.Context(), p.User.ID, r.PathValue("id"), in.Reason, in.Until, authn.Client(r))
			replyStatus(w, r, http.StatusCreated, res, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/agent/documents", ID: "agentPendingDocuments", Tag: "agent", Auth: "session",
		Summary: "Level-2 documents waiting for review, oldest first (at most 100)", Response: DocumentsResponse{}, Errors: denied,
		Handler: staff(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			ds, err := a.deps.Accounts.Service.PendingDocuments(r.Context(), p.User.ID, 100)
			reply(w, r, DocumentsResponse{Documents: nonNil(ds)}, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/agent/documents/{id}/file", ID: "agentDocumentFile", Tag: "agent", Auth: "session",
		Summary: "The uploaded file of a pending document (image/jpeg, image/png or application/pdf)",
		Errors:  append(denied, apperr.CodeNotFound),
		Handler: staff(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			ServePendingDocument(w, r, a.deps.Accounts.Service, a.deps.Accounts.Documents, p.User.ID, r.PathValue("id"), httpx.WriteError)
		})})
	rt.Handle(Route{Method: "POST", Path: "/agent/documents/{id}/review", ID: "agentReviewDocument", Tag: "agent", Auth: "session",
		Summary: "Approve (raises the owner to level 2) or reject with a reason", Request: ReviewRequest{}, Response: identity.Document{},
		Errors: append(denied, apperr.CodeValidation, apperr.CodeNotFound, identity.CodeReviewConflict),
		Handler: mut(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in ReviewRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			d, err := a.deps.Accounts.Service.ReviewDocument(r.Context(), p.User.ID, r.PathValue("id"), in.Approve, in.Reason, authn.Client(r))
			reply(w, r, d, err)
		})})
}

// ServePendingDocument sends the file of a document in the review queue. Only pending
// documents can be opened (the queue is what the service lets a reviewer see); the file is
// sent with its content-checked type under a sandboxing CSP, so a browser never runs it
// as a page of this site.
func ServePendingDocument(w http.ResponseWriter, r *http.Request, svc *identity.Service, store DocumentStore, agentID, docID string,
	onErr func(http.ResponseWriter, *http.Request, error)) {
	docs, err := svc.PendingDocuments(r.Context(), agentID, 100)
	if err != nil {
		onErr(w, r, err)
		return
	}
	for _, d := range docs {
		if d.ID != docID {
			continue
		}
		f, err := store.Open(d.StorageRef)
		if err != nil {
			onErr(w, r, err)
			return
		}
		defer f.Close()
		h := w.Header()
		h.Set("Content-Type", d.ContentType)
		h.Set("Content-Disposition", `inline; filename="document-`+d.ID+`"`)
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox")
		io.Copy(w, f)
		return
	}
	onErr(w, r, apperr.New(apperr.CodeNotFound))
}
