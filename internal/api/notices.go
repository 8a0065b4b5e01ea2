package api

import (
	"net/http"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/notify"
	"okpay/internal/support/chat"
	"okpay/internal/support/notice"
)

// SupportLive is what the live-support resources need; each may be nil.
type SupportLive struct {
	Notices *notice.Service
	Inbox   *notify.Inbox
	Chat    *chat.Service
}

// NoticesResponse lists notices.
type NoticesResponse struct {
	Notices []notice.Notice `json:"notices"`
}

// supportLiveRoutes registers notices, inbox and chat history; call from New when
// deps.Support is set.
func (a *API) supportLiveRoutes() {
	sl := a.deps.Support
	if sl.Notices != nil {
		a.noticeRoutes(sl.Notices)
	}
	if sl.Inbox != nil {
		a.inboxRoutes(sl.Inbox)
	}
	if sl.Chat != nil {
		a.chatRoutes(sl.Chat)
	}
}

// mutate wraps a mutating call: a signed-in caller (an API key needs a scope other than
// read) behind the Idempotency-Key guard when one is configured.
func (a *API) mutate(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
	inner := authn.RequireUser(httpx.WriteError, withPrincipal(h))
	if a.deps.Accounts == nil || a.deps.Accounts.Idempotency == nil {
		return inner
	}
	return a.idem(inner)
}

// signedIn wraps a read: any signed-in caller.
func signedIn(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
	return authn.RequireUser(httpx.WriteError, withPrincipal(h))
}

func (a *API) noticeRoutes(svc *notice.Service) {
	actor := func(p *authn.Principal) notice.Actor { return notice.Actor{ID: p.User.ID, Role: string(p.User.Role)} }
	a.router.Handle(Route{Method: "GET", Path: "/notices", ID: "listNotices", Tag: "notices",
		Summary: "Current and upcoming announcements and maintenance windows (public)", Response: NoticesResponse{},
		Handler: func(w http.ResponseWriter, r *http.Request) {
			ns, err := svc.Current(r.Context())
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			if ns == nil {
				ns = []notice.Notice{}
			}
			for i := range ns {
				ns[i].CreatedBy = "" // staff ids are not public
			}
			httpx.WriteJSON(w, http.StatusOK, NoticesResponse{Notices: ns})
		}})
	a.router.Handle(Route{Method: "GET", Path: "/admin/notices", ID: "adminListNotices", Tag: "notices", Auth: "session",
		Summary: "Every notice, newest first (admins)", Response: NoticesResponse{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeForbidden},
		Handler: signedIn(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			ns, err := svc.List(r.Context(), actor(p), notice.MaxList)
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			if ns == nil {
				ns = []notice.Notice{}
			}
			httpx.WriteJSON(w, http.StatusOK, NoticesResponse{Notices: ns})
		})})
	a.router.Handle(Route{Method: "POST", Path: "/admin/notices", ID: "createNotice", Tag: "notices", Auth: "session",
		Summary: "Schedule an announcement or maintenance window (admins)", Request: notice.Input{}, Response: notice.Notice{},
		Status: http.StatusCreated,
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeForbidden, apperr.CodeValidation, apperr.CodeIdempotencyConflict},
		Handler: a.mutate(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in notice.Input
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			n, err := svc.Create(r.Context(), actor(p), in)
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			httpx.WriteJSON(w, http.StatusCreated, n)
		})})
	a.router.Handle(Route{Method: "DELETE", Path: "/admin/notices/{id}", ID: "withdrawNotice", Tag: "notices", Auth: "session",
		Summary: "Withdraw a notice; a maintenance window ends at once (admins)", Status: http.StatusNoContent,
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeForbidden, apperr.CodeNotFound},
		Handler: a.mutate(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			if err := svc.Withdraw(r.Context(), actor(p), r.PathValue("id")); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})})
}
