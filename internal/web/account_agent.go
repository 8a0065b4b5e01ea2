package web

import (
	"io"
	"net/http"
	"net/url"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
)

// The minimal agent page of the accounts issue: find a person, unlock or unfreeze with a
// reason, review level-2 documents. The full agent console is its own issue. The service
// checks every permission; the role gate here only keeps the page from customers.

func (u *UI) agentRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /agent/accounts", u.staff(u.agentPage))
	if u.cfg.Console == nil || u.cfg.Console.Console == nil {
		// Without the agent console (agent_console.go), /agent is this page.
		mux.HandleFunc("GET /agent", u.staff(u.agentPage))
	}
	mux.Handle("POST /agent/users/{id}/unlock", u.post(u.staff(u.agentUnlock)))
	mux.Handle("POST /agent/users/{id}/unfreeze", u.post(u.staff(u.agentUnfreeze)))
	mux.HandleFunc("GET /agent/documents/{id}/file", u.staff(u.agentDocument))
	mux.Handle("POST /agent/documents/{id}/review", u.post(u.staff(u.agentReview)))
}

func (u *UI) staff(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
	return u.signedIn(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
		if !p.User.Role.Staff() {
			u.RenderError(w, r, apperr.New(apperr.CodeForbidden))
			return
		}
		h(w, r, p)
	})
}

type agentDoc struct {
	identity.Document
	Created   string
	KindLabel string
}

type agentPage struct {
	form
	Email     string
	Found     *identity.User
	RoleLabel string
	Items     []statusItem
	Docs      []agentDoc
	Done      string
	Locked    string
}

func (u *UI) agentPage(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u.renderAgent(w, r, p, r.URL.Query().Get("email"), form{Values: url.Values{}}, http.StatusOK)
}

func (u *UI) renderAgent(w http.ResponseWriter, r *http.Request, p *authn.Principal, email string, st form, status int) {
	ctx := r.Context()
	lang, now := httpx.Lang(ctx), time.Now()
	pg := agentPage{form: st, Email: email, Done: u.done(r)}
	if email != "" && len(email) <= 254 {
		usr, err := u.svc().FindUserByEmail(ctx, p.User.ID, email)
		switch {
		case err == nil:
			pg.Found, pg.RoleLabel = usr, u.tr(r, roleKey(usr.Role))
			if stt, err := u.svc().AgentAccountStatus(ctx, p.User.ID, usr.ID); err == nil {
				for _, it := range stt.Items {
					si := u.statusItem(r, it, lang, now)
					if def, ok := apperr.Lookup(it.Code); ok {
						si.Message = def.Message.In(lang, map[string]string{"until": si.Until})
					}
					pg.Items = append(pg.Items, si)
				}
			}
		case pg.Err == nil:
			pg.form, status = u.failed(w, r, err, "agent")
		}
	}
	docs, err := u.svc().PendingDocuments(ctx, p.User.ID, 100)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	for _, d := range docs {
		pg.Docs = append(pg.Docs, agentDoc{Document: d, Created: when(d.CreatedAt, lang, now), KindLabel: u.tr(r, docKindKey(d.Kind))})
	}
	u.Render(w, r, status, "account-agent", pg)
}

func (u *UI) agentUnlock(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	err := u.svc().AgentUnlock(r.Context(), p.User.ID, r.PathValue("id"), r.PostForm.Get("reason"), authn.Client(r))
	u.agentDone(w, r, p, err, "unlocked")
}

func (u *UI) agentUnfreeze(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	err := u.svc().AgentUnfreeze(r.Context(), p.User.ID, r.PathValue("id"), r.PostForm.Get("reason"), authn.Client(r))
	u.agentDone(w, r, p, err, "unfrozen")
}

func (u *UI) agentReview(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	approve := r.PostForm.Get("decision") == "approve"
	_, err := u.svc().ReviewDocument(r.Context(), p.User.ID, r.PathValue("id"), approve, r.PostForm.Get("reason"), authn.Client(r))
	u.agentDone(w, r, p, err, "reviewed")
}

func (u *UI) agentDone(w http.ResponseWriter, r *http.Request, p *authn.Principal, err error, done string) {
	email := r.PostForm.Get("email")
	if len(email) > 254 {
		email = ""
	}
	if err != nil {
		st, status := u.failed(w, r, err, "agent")
		u.renderAgent(w, r, p, email, st, status)
		return
	}
	// Back to the page the form was on: /agent/accounts always serves it; /agent does when
	// no agent console owns it.
	back := "/agent/accounts"
	if r.PostForm.Get("back") == "/agent" {
		back = "/agent"
	}
	redirectDone(w, r, back+"?email="+url.QueryEscape(email), done)
}

// agentDocument shows the file of a pending document: only documents in the review queue
// open, with the type checked at upload and a sandboxing CSP.
func (u *UI) agentDocument(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	docs, err := u.svc().PendingDocuments(r.Context(), p.User.ID, 100)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	for _, d := range docs {
		if d.ID != r.PathValue("id") {
			continue
		}
		f, err := u.cfg.Accounts.Documents.Open(d.StorageRef)
		if err != nil {
			u.RenderError(w, r, err)
			return
		}
		defer f.Close()
		h := w.Header()
		h.Set("Content-Type", d.ContentType)
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox")
		io.Copy(w, f)
		return
	}
	u.RenderError(w, r, apperr.New(apperr.CodeNotFound))
}
