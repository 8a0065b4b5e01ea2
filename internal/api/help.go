package api

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/support/help"
)

// The help center's public API: anyone may read and search articles and vote, signed in or
// not, because the people who need help most may be the ones who cannot sign in.
//
// The wire types below are flat copies of the help package's types: the OpenAPI generator
// does not flatten embedded structs, so embedding would document a shape the JSON lacks.

// HelpArticleSummary is an article as listed.
type HelpArticleSummary struct {
	Slug     string `json:"slug"`
	Category string `json:"category"`
	Lang     string `json:"lang" doc:"language of title and summary: zh-CN or en"`
	Title    string `json:"title"`
	Summary  string `json:"summary"`
	Fallback bool   `json:"fallback" doc:"true when the article is not in the requested language and is given in the other"`
	URL      string `json:"url" doc:"the article's web page"`
}

// HelpCategory is a group of articles.
type HelpCategory struct {
	Slug  string `json:"slug"`
	Title string `json:"title"`
	Blurb string `json:"blurb"`
}

// HelpArticlesResponse lists articles (all, or one category's) in display order.
type HelpArticlesResponse struct {
	Categories []HelpCategory       `json:"categories"`
	Articles   []HelpArticleSummary `json:"articles"`
}

// HelpArticle is one article.
type HelpArticle struct {
	Slug         string               `json:"slug"`
	Category     string               `json:"category"`
	Lang         string               `json:"lang" doc:"language of title and summary: zh-CN or en"`
	Title        string               `json:"title"`
	Summary      string               `json:"summary"`
	Fallback     bool                 `json:"fallback" doc:"true when the article is not in the requested language and is given in the other"`
	URL          string               `json:"url" doc:"the article's web page"`
	Keywords     string               `json:"keywords"`
	BodyMarkdown string               `json:"body_markdown"`
	BodyHTML     string               `json:"body_html" doc:"sanitized HTML rendered from body_markdown"`
	Codes        []string             `json:"codes" doc:"error codes this article explains"`
	Related      []HelpArticleSummary `json:"related"`
	Version      int64                `json:"version"`
	UpdatedAt    time.Time            `json:"updated_at"`
}

// HelpSearchResult is one article found.
type HelpSearchResult struct {
	Slug        string  `json:"slug"`
	Category    string  `json:"category"`
	Lang        string  `json:"lang" doc:"language of title and summary: zh-CN or en"`
	Title       string  `json:"title"`
	Summary     string  `json:"summary"`
	Fallback    bool    `json:"fallback" doc:"true when the article is not in the requested language and is given in the other"`
	URL         string  `json:"url" doc:"the article's web page"`
	TitleHTML   string  `json:"title_html" doc:"escaped title with matches in <mark>"`
	SnippetHTML string  `json:"snippet_html" doc:"escaped excerpt with matches in <mark>"`
	Score       float64 `json:"score" doc:"relevance; only the order means anything"`
}

// HelpSearchResponse is the answer to a search, best match first.
type HelpSearchResponse struct {
	Query   string             `json:"query"`
	Results []HelpSearchResult `json:"results"`
}

// HelpVoteRequest says whether an article helped.
type HelpVoteRequest struct {
	Helpful bool `json:"helpful"`
	// VisitorID lets clients without cookies vote once per article: send back the id from
	// the first vote's response.
	VisitorID string `json:"visitor_id,omitempty" doc:"from an earlier vote's response; browsers use the okpay_vid cookie instead"`
}

// HelpVoteResponse confirms a vote.
type HelpVoteResponse struct {
	Recorded  bool   `json:"recorded"`
	VisitorID string `json:"visitor_id" doc:"send it with later votes to keep one vote per article; empty when signed in (the vote is the account's)"`
}

// The same cookie as the web pages, so a browser has one vote per article either way.
const (
	helpVisitorCookie       = "okpay_vid"
	helpVisitorCookieMaxAge = 365 * 24 * 60 * 60 // seconds
)

func (a *API) helpRoutes() {
	h := a.deps.Help
	if h == nil {
		return
	}
	rt := a.router
	a.helpAgentRoutes()
	langDoc := "zh-CN or en; default from Accept-Language"
	rt.Handle(Route{Method: "GET", Path: "/help/articles", ID: "listHelpArticles", Tag: "help",
		Summary: "Help center articles, all or one category's, in display order", Response: HelpArticlesResponse{},
		Query:  map[string]string{"category": "category slug, e.g. account; empty for all", "lang": langDoc},
		Errors: []string{apperr.CodeNotFound},
		Handler: func(w http.ResponseWriter, r *http.Request) {
			lang := helpLang(r)
			list, err := h.List(r.Context(), lang, r.URL.Query().Get("category"))
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			out := HelpArticlesResponse{Categories: []HelpCategory{}, Articles: make([]HelpArticleSummary, 0, len(list))}
			for _, c := range help.Categories(lang) {
				out.Categories = append(out.Categories, HelpCategory{Slug: c.Slug, Title: c.Title, Blurb: c.Blurb})
			}
			for _, s := range list {
				out.Articles = append(out.Articles, helpSummary(s))
			}
			httpx.WriteJSON(w, http.StatusOK, out)
		}})
	rt.Handle(Route{Method: "GET", Path: "/help/articles/{slug}", ID: "getHelpArticle", Tag: "help",
		Summary: "One help article, in the requested language or else the other", Response: HelpArticle{},
		Query:  map[string]string{"lang": langDoc},
		Errors: []string{apperr.CodeNotFound},
		Handler: func(w http.ResponseWriter, r *http.Request) {
			art, err := h.Get(r.Context(), r.PathValue("slug"), helpLang(r))
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			sm := helpSummary(art.ArticleSummary)
			out := HelpArticle{Slug: sm.Slug, Category: sm.Category, Lang: sm.Lang, Title: sm.Title, Summary: sm.Summary,
				Fallback: sm.Fallback, URL: sm.URL, Keywords: art.Keywords,
				BodyMarkdown: art.BodyMarkdown, BodyHTML: art.BodyHTML, Codes: art.Codes,
				Related: make([]HelpArticleSummary, 0, len(art.Related)), Version: art.Version, UpdatedAt: art.UpdatedAt}
			for _, s := range art.Related {
				out.Related = append(out.Related, helpSummary(s))
			}
			httpx.WriteJSON(w, http.StatusOK, out)
		}})
	rt.Handle(Route{Method: "GET", Path: "/help/search", ID: "searchHelp", Tag: "help",
		Summary: "Full-text search of the help center (Chinese and English), best match first", Response: HelpSearchResponse{},
		Query: map[string]string{"q": "the words to find, 1 to " + strconv.Itoa(help.MaxQueryRunes) + " characters",
			"limit": "results, 1 to " + strconv.Itoa(help.MaxSearchResults) + "; default " + strconv.Itoa(help.DefaultResults), "lang": langDoc},
		Errors: []string{help.CodeQueryEmpty, help.CodeQueryTooLong, apperr.CodeValidation},
		Handler: func(w http.ResponseWriter, r *http.Request) {
			limit := 0
			if s := r.URL.Query().Get("limit"); s != "" {
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 || n > help.MaxSearchResults {
					httpx.WriteError(w, r, apperr.New(apperr.CodeValidation).Field("limit", apperr.CodeValidation))
					return
				}
				limit = n
			}
			res, err := h.Search(r.Context(), r.URL.Query().Get("q"), helpLang(r), limit)
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			out := HelpSearchResponse{Query: res.Query, Results: make([]HelpSearchResult, 0, len(res.Results))}
			for _, x := range res.Results {
				sm := helpSummary(x.ArticleSummary)
				out.Results = append(out.Results, HelpSearchResult{Slug: sm.Slug, Category: sm.Category, Lang: sm.Lang,
					Title: sm.Title, Summary: sm.Summary, Fallback: sm.Fallback, URL: sm.URL,
					TitleHTML: x.TitleHTML, SnippetHTML: x.SnippetHTML, Score: x.Score})
			}
			httpx.WriteJSON(w, http.StatusOK, out)
		}})
	rt.Handle(Route{Method: "POST", Path: "/help/articles/{slug}/vote", ID: "voteHelpArticle", Tag: "help",
		Summary: "Say whether an article helped; one vote per person (signed in) or visitor per article (voting again replaces it)",
		Request: HelpVoteRequest{}, Response: HelpVoteResponse{},
		Errors: []string{apperr.CodeNotFound, apperr.CodeInvalidJSON, apperr.CodeBodyTooLarge, apperr.CodeValidation},
		Handler: func(w http.ResponseWriter, r *http.Request) {
			var in HelpVoteRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			// A signed-in reader votes as themselves, so clearing cookies or switching
			// browsers does not add votes; visitors keep the cookie (or sent) id.
			voter, vid := "", ""
			if p := authn.From(r.Context()); p != nil && p.User != nil && help.ValidVoter("u:"+p.User.ID) {
				voter = "u:" + p.User.ID
			} else {
				vid = helpVisitorID(w, r, in.VisitorID)
				voter = "v:" + vid
			}
			if err := h.Vote(r.Context(), r.PathValue("slug"), voter, helpLang(r), in.Helpful); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			httpx.WriteJSON(w, http.StatusOK, HelpVoteResponse{Recorded: true, VisitorID: vid})
		}})
}

// helpLang is the lang query parameter when valid, else the negotiated language.
func helpLang(r *http.Request) string {
	switch l := r.URL.Query().Get("lang"); l {
	case help.LangZh, help.LangEn:
		return l
	}
	return httpx.Lang(r.Context())
}

func helpSummary(s help.ArticleSummary) HelpArticleSummary {
	return HelpArticleSummary{Slug: s.Slug, Category: s.Category, Lang: s.Lang, Title: s.Title,
		Summary: s.Summary, Fallback: s.Fallback, URL: "/help/" + s.Slug}
}

// helpVisitorID picks the voter: the cookie, else the id the client sent back, else a new
// one (set as the cookie and returned, so either kind of client can keep it).
func helpVisitorID(w http.ResponseWriter, r *http.Request, sent string) string {
	if c, err := r.Cookie(helpVisitorCookie); err == nil && help.ValidVoter("v:"+c.Value) {
		return c.Value
	}
	if sent != "" && help.ValidVoter("v:"+sent) {
		return sent
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{Name: helpVisitorCookie, Value: id, Path: "/", MaxAge: helpVisitorCookieMaxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	return id
}
