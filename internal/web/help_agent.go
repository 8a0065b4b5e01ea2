package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/support/help"
)

// The help center's staff pages: /agent/help lists every article with its "was this
// helpful?" votes and last change; /agent/help/{slug}/edit?lang= edits one translation's
// Markdown with a preview rendered through the same sanitizer readers get, a change note,
// the version it started from (a stale one is a conflict, not an overwrite), a revert to
// the built-in text and the history. The help service decides who may edit; u.staff only
// keeps the pages from customers.
func init() {
	addFeature(func(u *UI, mux *http.ServeMux) {
		if u.cfg.Help == nil {
			return
		}
		mux.HandleFunc("GET /agent/help", u.staff(u.helpAgentList))
		mux.HandleFunc("GET /agent/help/{slug}/edit", u.staff(u.helpAgentEdit))
		mux.Handle("POST /agent/help/{slug}/edit", u.post(u.staff(u.helpAgentSave)))
		mux.Handle("POST /agent/help/{slug}/revert", u.post(u.staff(u.helpAgentRevert)))
	})
}

func helpEditor(p *authn.Principal) help.Editor {
	return help.Editor{ID: p.User.ID, Role: string(p.User.Role)}
}

// helpEditLang is the translation being edited: ?lang= (or the form's lang) when valid,
// else the page's language.
func helpEditLang(r *http.Request) string {
	l := r.URL.Query().Get("lang")
	if r.Method == http.MethodPost {
		l = r.PostFormValue("lang")
	}
	if l == help.LangZh || l == help.LangEn {
		return l
	}
	return httpx.Lang(r.Context())
}

func helpEditURL(slug, lang string) string {
	return "/agent/help/" + url.PathEscape(slug) + "/edit?lang=" + url.QueryEscape(lang)
}

type helpAgentRow struct {
	Slug, Title, Category string
	Yes, No               int64
	LastAt, LastBy        string
	LastRole              string
	Edited                bool
}

type helpAgentListPage struct {
	Rows []helpAgentRow
	Lang string
}

func (u *UI) helpAgentList(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	ctx := r.Context()
	lang := httpx.Lang(ctx)
	stats, err := u.cfg.Help.Stats(ctx, string(p.User.Role))
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	list, err := u.cfg.Help.List(ctx, lang, "")
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	titles := map[string]string{}
	for _, s := range list {
		titles[s.Slug] = s.Title
	}
	now := time.Now()
	pg := helpAgentListPage{Lang: lang}
	for _, s := range stats {
		row := helpAgentRow{Slug: s.Slug, Title: titles[s.Slug], Yes: s.Votes.Yes, No: s.Votes.No}
		if row.Title == "" {
			row.Title = s.Slug
		}
		if c, ok := help.CategoryFor(s.Category, lang); ok {
			row.Category = c.Title
		}
		// The last change in either language: one short query per translation, for a
		// list of a few dozen articles read by staff.
		var last *help.Edit
		for _, l := range help.Langs {
			hs, err := u.cfg.Help.History(ctx, string(p.User.Role), s.Slug, l, 1)
			if err != nil {
				if apperr.HasCode(err, apperr.CodeNotFound) {
					continue
				}
				u.RenderError(w, r, err)
				return
			}
			if len(hs) > 0 && (last == nil || hs[0].At.After(last.At)) {
				last = &hs[0]
			}
		}
		if last != nil {
			row.LastAt, row.LastBy, row.LastRole = when(last.At, lang, now), last.EditorID, last.EditorRole
			row.Edited = last.EditorRole != "system"
		}
		pg.Rows = append(pg.Rows, row)
	}
	u.Render(w, r, http.StatusOK, "help-agent", pg)
}

type helpAgentHistoryRow struct {
	Version          int64
	At, By, Role     string
	Note, Title      string
	System, Reverted bool
}

type helpAgentEditPage struct {
	form
	Slug, Lang, OtherLang string
	Title, Summary        string
	Keywords, Body, Note  string
	Version               int64
	Preview               template.HTML // sanitized by the help package
	Missing               bool          // the translation does not exist yet
	Edited                bool
	Conflict              bool
	Saved, Reverted       bool
	PublicURL, ReloadURL  string
	History               []helpAgentHistoryRow
}

func (u *UI) helpAgentEdit(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u.renderHelpEdit(w, r, p, nil, form{Values: url.Values{}}, http.StatusOK)
}

// renderHelpEdit shows the editor. posted is the agent's unsaved text (a preview, or a
// save that failed), shown instead of the stored one so nothing typed is lost.
func (u *UI) renderHelpEdit(w http.ResponseWriter, r *http.Request, p *authn.Principal, posted *helpAgentEditPage, f form, status int) {
	ctx := r.Context()
	slug, lang := r.PathValue("slug"), helpEditLang(r)
	// The history check comes first: it is the call that refuses non-editors, so a risk
	// reviewer gets "forbidden" rather than an editor.
	hist, err := u.cfg.Help.History(ctx, string(p.User.Role), slug, lang, 20)
	if err != nil && !apperr.HasCode(err, apperr.CodeNotFound) {
		u.RenderError(w, r, err)
		return
	}
	a, err := u.cfg.Help.Get(ctx, slug, lang)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	pg := helpAgentEditPage{form: f, Slug: a.Slug, Lang: lang, OtherLang: help.LangEn,
		PublicURL: "/help/" + url.PathEscape(a.Slug), ReloadURL: helpEditURL(a.Slug, lang)}
	if lang == help.LangEn {
		pg.OtherLang = help.LangZh
	}
	if a.Lang == lang && !a.Fallback {
		pg.Title, pg.Summary, pg.Keywords, pg.Body, pg.Version, pg.Edited = a.Title, a.Summary, a.Keywords, a.BodyMarkdown, a.Version, a.Edited
		pg.Preview = template.HTML(a.BodyHTML)
	} else {
		// A new translation starts from the other language's text, at version 0.
		pg.Missing = true
		pg.Title, pg.Summary, pg.Keywords, pg.Body = a.Title, a.Summary, a.Keywords, a.BodyMarkdown
		pg.Preview = template.HTML(a.BodyHTML)
	}
	if posted != nil {
		pg.Title, pg.Summary, pg.Keywords, pg.Body, pg.Note, pg.Version = posted.Title, posted.Summary, posted.Keywords, posted.Body, posted.Note, posted.Version
		pg.Preview = posted.Preview
		pg.Conflict = posted.Conflict
	}
	switch r.URL.Query().Get("ok") {
	case "saved":
		pg.Saved = posted == nil
	case "reverted":
		pg.Reverted = posted == nil
	}
	now := time.Now()
	for _, e := range hist {
		pg.History = append(pg.History, helpAgentHistoryRow{Version: e.Version, At: when(e.At, httpx.Lang(ctx), now),
			By: e.EditorID, Role: e.EditorRole, Note: e.Note, Title: e.Title, System: e.EditorRole == "system"})
	}
	u.Render(w, r, status, "help-agent-edit", pg)
}

func (u *UI) helpAgentSave(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	slug, lang := r.PathValue("slug"), helpEditLang(r)
	v, _ := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	posted := &helpAgentEditPage{Title: r.PostFormValue("title"), Summary: r.PostFormValue("summary"),
		Keywords: r.PostFormValue("keywords"), Body: r.PostFormValue("body"), Note: r.PostFormValue("note"), Version: v}
	if html, err := help.RenderMarkdown(posted.Body); err == nil {
		posted.Preview = template.HTML(html)
	}
	if r.PostFormValue("action") == "preview" {
		u.renderHelpEdit(w, r, p, posted, form{Values: url.Values{}}, http.StatusOK)
		return
	}
	_, err := u.cfg.Help.Edit(r.Context(), helpEditor(p), help.EditInput{Slug: slug, Lang: lang, Title: posted.Title,
		Summary: posted.Summary, Keywords: posted.Keywords, Body: posted.Body, Note: posted.Note, BaseVersion: v})
	if err != nil {
		if apperr.HasCode(err, apperr.CodeForbidden) || apperr.HasCode(err, apperr.CodeNotFound) {
			u.RenderError(w, r, err)
			return
		}
		f, status := u.failed(w, r, err, "help-edit")
		posted.Conflict = apperr.HasCode(err, help.CodeEditConflict)
		u.renderHelpEdit(w, r, p, posted, f, status)
		return
	}
	http.Redirect(w, r, helpEditURL(slug, lang)+"&ok=saved", http.StatusSeeOther)
}

func (u *UI) helpAgentRevert(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	slug, lang := r.PathValue("slug"), helpEditLang(r)
	if _, err := u.cfg.Help.RevertToBuiltin(r.Context(), helpEditor(p), slug, lang); err != nil {
		if apperr.HasCode(err, apperr.CodeForbidden) || apperr.HasCode(err, apperr.CodeNotFound) {
			u.RenderError(w, r, err)
			return
		}
		f, status := u.failed(w, r, err, "help-edit")
		u.renderHelpEdit(w, r, p, nil, f, status)
		return
	}
	http.Redirect(w, r, helpEditURL(slug, lang)+"&ok=reverted", http.StatusSeeOther)
}
