package api

import (
	"net/http"
	"strconv"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/support/help"
)

// The help center's staff API: agents and admins see the "was this helpful?" counts, edit
// articles in Markdown (rendered through the sanitizer for readers), revert to the
// built-in text and read the history. The help service decides who may: this layer only
// establishes the signed-in person and passes their role on.

// HelpAgentArticle is an article in the editors' list, with its votes.
type HelpAgentArticle struct {
	Slug     string                     `json:"slug"`
	Category string                     `json:"category"`
	Lang     string                     `json:"lang" doc:"language of title: zh-CN or en"`
	Title    string                     `json:"title"`
	URL      string                     `json:"url" doc:"the article's public web page"`
	Votes    help.VoteCounts            `json:"votes" doc:"all languages together"`
	ByLang   map[string]help.VoteCounts `json:"by_lang" doc:"votes per language the reader read it in"`
}

// HelpAgentArticlesResponse lists every article in display order.
type HelpAgentArticlesResponse struct {
	Articles []HelpAgentArticle `json:"articles"`
}

// HelpEditRequest is a new text for one translation of an article.
type HelpEditRequest struct {
	Lang  string `json:"lang" doc:"zh-CN or en"`
	Title string `json:"title"`
	// Summary and Keywords keep their current text when left out.
	Summary  *string `json:"summary,omitempty" doc:"omit to keep the current summary"`
	Keywords *string `json:"keywords,omitempty" doc:"omit to keep the current keywords"`
	Body     string  `json:"body" doc:"Markdown; raw HTML is dropped and the result sanitized when rendered"`
	Version  int64   `json:"version" doc:"the version the edit started from (0 for a new translation); a stale one answers help_edit_conflict"`
	Note     string  `json:"note" doc:"what changed and why, for the history (at most 200 characters)"`
}

// HelpRevertRequest names the translation to put back to its built-in text.
type HelpRevertRequest struct {
	Lang string `json:"lang" doc:"zh-CN or en"`
}

// HelpHistoryResponse is an article translation's changes, newest first.
type HelpHistoryResponse struct {
	Edits []help.Edit `json:"edits"`
}

func (a *API) helpAgentRoutes() {
	h := a.deps.Help
	if h == nil {
		return
	}
	rt := a.router
	// sess admits a person signed in at a browser; the role is the service's to judge.
	sess := func(fn func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
		return authn.RequireUser(httpx.WriteError, func(w http.ResponseWriter, r *http.Request) {
			p := authn.From(r.Context())
			if p.Session == nil {
				// Editing public pages is for people at a browser, not for scripts holding a key.
				httpx.WriteError(w, r, apperr.New(apperr.CodeUnauthenticated))
				return
			}
			fn(w, r, p)
		})
	}
	editor := func(p *authn.Principal) help.Editor { return help.Editor{ID: p.User.ID, Role: string(p.User.Role)} }
	denied := []string{apperr.CodeUnauthenticated, apperr.CodeForbidden}
	bodyErrs := []string{apperr.CodeInvalidJSON, apperr.CodeBodyTooLarge, apperr.CodeValidation}

	rt.Handle(Route{Method: "GET", Path: "/agent/help/articles", ID: "agentHelpArticles", Tag: "agent", Auth: "session",
		Summary:  "Every help article with its \"was this helpful?\" votes, for agents and admins",
		Query:    map[string]string{"lang": "language of the titles: zh-CN or en; default from Accept-Language"},
		Response: HelpAgentArticlesResponse{}, Errors: denied,
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			ctx := r.Context()
			stats, err := h.Stats(ctx, string(p.User.Role))
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			lang := helpLang(r)
			list, err := h.List(ctx, lang, "")
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			titles := make(map[string]help.ArticleSummary, len(list))
			for _, s := range list {
				titles[s.Slug] = s
			}
			out := HelpAgentArticlesResponse{Articles: make([]HelpAgentArticle, 0, len(stats))}
			for _, s := range stats {
				sm := titles[s.Slug]
				by := s.ByLang
				if by == nil {
					by = map[string]help.VoteCounts{}
				}
				out.Articles = append(out.Articles, HelpAgentArticle{Slug: s.Slug, Category: s.Category, Lang: sm.Lang,
					Title: sm.Title, URL: "/help/" + s.Slug, Votes: s.Votes, ByLang: by})
			}
			httpx.WriteJSON(w, http.StatusOK, out)
		})})

	rt.Handle(Route{Method: "PUT", Path: "/agent/help/articles/{slug}", ID: "agentEditHelpArticle", Tag: "agent", Auth: "session",
		Summary: "Save a new Markdown text for one translation of an article (agents and admins); recorded in the history",
		Request: HelpEditRequest{}, Response: HelpArticle{},
		Errors: append(append(denied, apperr.CodeNotFound, help.CodeEditConflict), bodyErrs...),
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in HelpEditRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			ed := help.EditInput{Slug: r.PathValue("slug"), Lang: in.Lang, Title: in.Title, Body: in.Body,
				Note: in.Note, BaseVersion: in.Version}
			if in.Summary == nil || in.Keywords == nil {
				// Only the current translation's own text is kept: a fallback in the other
				// language is not this translation's summary.
				cur, err := h.Get(r.Context(), ed.Slug, in.Lang)
				if err == nil && !cur.Fallback && cur.Lang == in.Lang {
					ed.Summary, ed.Keywords = cur.Summary, cur.Keywords
				}
			}
			if in.Summary != nil {
				ed.Summary = *in.Summary
			}
			if in.Keywords != nil {
				ed.Keywords = *in.Keywords
			}
			art, err := h.Edit(r.Context(), editor(p), ed)
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			httpx.WriteJSON(w, http.StatusOK, helpArticleOut(art))
		})})

	rt.Handle(Route{Method: "POST", Path: "/agent/help/articles/{slug}/revert", ID: "agentRevertHelpArticle", Tag: "agent", Auth: "session",
		Summary: "Put one translation of an article back to its built-in text (agents and admins); recorded in the history",
		Request: HelpRevertRequest{}, Response: HelpArticle{},
		Errors: append(append(denied, apperr.CodeNotFound, help.CodeNotBuiltin), bodyErrs...),
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in HelpRevertRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			art, err := h.RevertToBuiltin(r.Context(), editor(p), r.PathValue("slug"), in.Lang)
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			httpx.WriteJSON(w, http.StatusOK, helpArticleOut(art))
		})})

	rt.Handle(Route{Method: "GET", Path: "/agent/help/articles/{slug}/history", ID: "agentHelpArticleHistory", Tag: "agent", Auth: "session",
		Summary: "The changes to one translation of an article, newest first (agents and admins)",
		Query: map[string]string{"lang": "zh-CN or en; default from Accept-Language",
			"limit": "1–100, default 20"},
		Response: HelpHistoryResponse{}, Errors: append(denied, apperr.CodeNotFound, apperr.CodeValidation),
		Handler: sess(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			limit := 0
			if s := r.URL.Query().Get("limit"); s != "" {
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 || n > 100 {
					httpx.WriteError(w, r, apperr.New(apperr.CodeValidation).Field("limit", apperr.CodeValidation))
					return
				}
				limit = n
			}
			edits, err := h.History(r.Context(), string(p.User.Role), r.PathValue("slug"), helpLang(r), limit)
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			httpx.WriteJSON(w, http.StatusOK, HelpHistoryResponse{Edits: edits})
		})})
}

// helpArticleOut is the wire form of an article.
func helpArticleOut(art *help.Article) HelpArticle {
	sm := helpSummary(art.ArticleSummary)
	out := HelpArticle{Slug: sm.Slug, Category: sm.Category, Lang: sm.Lang, Title: sm.Title, Summary: sm.Summary,
		Fallback: sm.Fallback, URL: sm.URL, Keywords: art.Keywords,
		BodyMarkdown: art.BodyMarkdown, BodyHTML: art.BodyHTML, Codes: art.Codes,
		Related: make([]HelpArticleSummary, 0, len(art.Related)), Version: art.Version, UpdatedAt: art.UpdatedAt}
	for _, s := range art.Related {
		out.Related = append(out.Related, helpSummary(s))
	}
	return out
}
