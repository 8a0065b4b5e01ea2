package web

import (
	"crypto/rand"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/support/help"
)

// The help center's public pages: the front page with search and categories, search
// results, and one page per article with "was this helpful?". They are the same for
// visitors and signed-in people, so anyone locked out of an account can read them.

func init() {
	addFeature(func(u *UI, mux *http.ServeMux) {
		if u.cfg.Help == nil {
			return
		}
		mux.HandleFunc("GET /help", u.helpHome)
		mux.HandleFunc("GET /help/search", u.helpSearch)
		mux.HandleFunc("GET /help/{slug}", u.helpArticle)
		mux.Handle("POST /help/{slug}/vote", u.csrf.Handler(http.HandlerFunc(u.helpVote)))
	})
}

// visitorCookie gives anonymous readers a stable, meaningless id so each can vote once per
// article. It is not a session and identifies nobody.
const (
	visitorCookie       = "okpay_vid"
	visitorCookieMaxAge = 365 * 24 * 60 * 60 // seconds: one year
)

type helpHomePage struct {
	Home *help.Home
}

func (u *UI) helpHome(w http.ResponseWriter, r *http.Request) {
	h, err := u.cfg.Help.HomePage(r.Context(), httpx.Lang(r.Context()))
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	u.Render(w, r, http.StatusOK, "help", helpHomePage{Home: h})
}

// helpResult is a search result with its highlighted parts trusted as HTML: the help
// package escapes the text and adds only <mark>.
type helpResult struct {
	help.SearchResult
	Title   template.HTML
	Snippet template.HTML
}

type helpSearchPage struct {
	Query    string
	Results  []helpResult
	Searched bool   // a query was run (even with no results)
	Problem  string // why the query was refused, in the reader's language
	Fix      string
	MaxRunes int
}

func (u *UI) helpSearch(w http.ResponseWriter, r *http.Request) {
	lang := httpx.Lang(r.Context())
	q := r.URL.Query().Get("q")
	p := helpSearchPage{Query: q, MaxRunes: help.MaxQueryRunes}
	if utf8.RuneCountInString(q) > 4*help.MaxQueryRunes {
		// Do not echo an absurdly long query back into the page.
		p.Query = string([]rune(q)[:help.MaxQueryRunes])
	}
	if strings.TrimSpace(q) == "" {
		u.Render(w, r, http.StatusOK, "help-search", p)
		return
	}
	res, err := u.cfg.Help.Search(r.Context(), q, lang, help.DefaultResults)
	if err != nil {
		e, ok := apperr.As(err)
		if !ok {
			u.RenderError(w, r, err)
			return
		}
		p.Problem, p.Fix = e.Message(lang), e.Fix(lang)
		u.Render(w, r, e.Status(), "help-search", p)
		return
	}
	p.Searched = true
	for _, x := range res.Results {
		p.Results = append(p.Results, helpResult{SearchResult: x,
			Title: template.HTML(x.TitleHTML), Snippet: template.HTML(x.SnippetHTML)})
	}
	u.Render(w, r, http.StatusOK, "help-search", p)
}

type helpArticlePage struct {
	Article  *help.Article
	Body     template.HTML // sanitized by the help package
	Category help.Category
	Voted    string // "yes" or "no" right after voting
}

func (u *UI) helpArticle(w http.ResponseWriter, r *http.Request) {
	lang := httpx.Lang(r.Context())
	a, err := u.cfg.Help.Get(r.Context(), r.PathValue("slug"), lang)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	cat, _ := help.CategoryFor(a.Category, lang)
	p := helpArticlePage{Article: a, Body: template.HTML(a.BodyHTML), Category: cat}
	if v := r.URL.Query().Get("voted"); v == "yes" || v == "no" {
		p.Voted = v
	}
	u.Render(w, r, http.StatusOK, "help-article", p)
}

func (u *UI) helpVote(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		u.RenderError(w, r, apperr.New(apperr.CodeBadRequest).Wrap(err))
		return
	}
	var helpful bool
	switch r.PostForm.Get("helpful") {
	case "yes":
		helpful = true
	case "no":
	default:
		u.RenderError(w, r, apperr.New(apperr.CodeBadRequest))
		return
	}
	slug := r.PathValue("slug")
	// A signed-in reader votes as themselves (one vote per account per article, whatever
	// the browser); visitors vote by the cookie.
	var voter string
	if p := authn.From(r.Context()); p != nil && p.User != nil && help.ValidVoter("u:"+p.User.ID) {
		voter = "u:" + p.User.ID
	} else {
		voter = "v:" + visitorID(w, r)
	}
	if err := u.cfg.Help.Vote(r.Context(), slug, voter, httpx.Lang(r.Context()), helpful); err != nil {
		u.RenderError(w, r, err)
		return
	}
	v := "no"
	if helpful {
		v = "yes"
	}
	// Post/redirect/get: reloading the thank-you page does not post again.
	http.Redirect(w, r, "/help/"+url.PathEscape(slug)+"?voted="+v+"#feedback", http.StatusSeeOther)
}

// visitorID returns the visitor cookie's id, setting a new cookie when there is none (or
// it was tampered with). The JSON API reads the same cookie, so a browser votes once.
func visitorID(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(visitorCookie); err == nil && help.ValidVoter("v:"+c.Value) {
		return c.Value
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{
		Name:     visitorCookie,
		Value:    id,
		Path:     "/",
		MaxAge:   visitorCookieMaxAge,
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
	return id
}
