package web

import (
	"net/http"
	"strconv"
	"strings"

	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/notify"
)

func (u *UI) inboxRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /inbox", u.signedIn(u.inbox))
	mux.Handle("POST /inbox/{id}/read", u.post(u.signedIn(u.inboxRead)))
	mux.Handle("POST /inbox/read-all", u.post(u.signedIn(u.inboxReadAll)))
}

// InboxUnread is the unread count for the nav badge ("99+" beyond 99), "" when there is
// nothing unread or nobody signed in. A failure shows no badge and is logged.
func (v *View) InboxUnread() string {
	if v.User == nil || v.ui == nil || v.ui.cfg.Support == nil || v.ui.cfg.Support.Inbox == nil || v.req == nil {
		return ""
	}
	n, err := v.ui.cfg.Support.Inbox.Unread(v.req.Context(), v.User.ID)
	if err != nil {
		v.log.Error("web: inbox unread", "request_id", v.RequestID, "err", err.Error())
		return ""
	}
	switch {
	case n == 0:
		return ""
	case n > 99:
		return "99+"
	}
	return strconv.Itoa(n)
}

type inboxPage struct {
	Page   *notify.InboxPage
	Cursor string
}

func (u *UI) inbox(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	cursor := r.URL.Query().Get("after")
	page, err := u.cfg.Support.Inbox.List(r.Context(), p.User.ID, httpx.Lang(r.Context()), cursor, 30)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	u.Render(w, r, http.StatusOK, "inbox", inboxPage{Page: page, Cursor: cursor})
}

func (u *UI) inboxRead(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if err := u.cfg.Support.Inbox.MarkRead(r.Context(), p.User.ID, r.PathValue("id")); err != nil {
		u.RenderError(w, r, err)
		return
	}
	// Opening a notification's link marks it read on the way.
	if next := r.PostForm.Get("next"); next != "" && strings.HasPrefix(next, "/") {
		http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/inbox", http.StatusSeeOther)
}

func (u *UI) inboxReadAll(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if _, err := u.cfg.Support.Inbox.MarkAllRead(r.Context(), p.User.ID); err != nil {
		u.RenderError(w, r, err)
		return
	}
	http.Redirect(w, r, "/inbox", http.StatusSeeOther)
}
