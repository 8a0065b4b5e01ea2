package api

import (
	"net/http"
	"strconv"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/notify"
)

// ReadAllResponse says how many notifications were marked read.
type ReadAllResponse struct {
	Marked int `json:"marked"`
}

func (a *API) inboxRoutes(in *notify.Inbox) {
	a.router.Handle(Route{Method: "GET", Path: "/inbox", ID: "listInbox", Tag: "inbox", Auth: "either",
		Summary:  "The caller's notifications, newest first, with live announcements and the unread count",
		Response: notify.InboxPage{}, Query: map[string]string{"after": "cursor from the previous page's next", "limit": "page size, at most 100"},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeValidation},
		Handler: signedIn(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
			page, err := in.List(r.Context(), p.User.ID, httpx.Lang(r.Context()), r.URL.Query().Get("after"), limit)
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			httpx.WriteJSON(w, http.StatusOK, page)
		})})
	a.router.Handle(Route{Method: "POST", Path: "/inbox/{id}/read", ID: "markInboxRead", Tag: "inbox", Auth: "either",
		Summary: "Mark one notification (or notice:<id> announcement) read", Status: http.StatusNoContent,
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeNotFound},
		Handler: a.mutate(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			if err := in.MarkRead(r.Context(), p.User.ID, r.PathValue("id")); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})})
	a.router.Handle(Route{Method: "POST", Path: "/inbox/read-all", ID: "markInboxAllRead", Tag: "inbox", Auth: "either",
		Summary: "Mark every notification and live announcement read", Response: ReadAllResponse{},
		Errors: []string{apperr.CodeUnauthenticated},
		Handler: a.mutate(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			n, err := in.MarkAllRead(r.Context(), p.User.ID)
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			httpx.WriteJSON(w, http.StatusOK, ReadAllResponse{Marked: n})
		})})
}
