package web

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/support/help"
)

// View is the data every template receives. Page-specific data is in Data. Inside
// {{range}} or {{with}} reach these through $ ({{$.T "key"}}).
type View struct {
	Lang      string // "zh-CN" or "en", also the <html lang>
	RequestID string
	Path      string // the request path, to mark the current navigation link
	Next      string // path and query, where the language switch comes back to
	Version   string
	User      *identity.User // the signed-in user; nil for visitors
	Data      any

	text map[string]string
	log  *slog.Logger
	// ui and req let layout helpers (Banners, InboxUnread, ChatWidget) read live state.
	ui  *UI
	req *http.Request
}

// T returns the translation of key in the request's language, with {name} placeholders
// filled from pairs given as name, value, name, value…:
//
//	{{.T "footer.version" "version" .Version}}
//
// A missing key renders as the key itself, visibly, and is logged: a page with one odd
// word is better than no page.
func (v *View) T(key string, pairs ...any) string {
	s, ok := v.text[key]
	if !ok {
		v.log.Error("web: missing translation", "key", key, "lang", v.Lang, "request_id", v.RequestID)
		return key
	}
	if len(pairs)%2 != 0 {
		v.log.Error("web: odd placeholder pairs", "key", key, "request_id", v.RequestID)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		s = strings.ReplaceAll(s, "{"+fmt.Sprint(pairs[i])+"}", fmt.Sprint(pairs[i+1]))
	}
	return s
}

var errNoPage = errors.New("web: no such page")

// current returns the bundle to render with: the one parsed at New, or in Dev mode a fresh
// one from the source tree.
func (u *UI) current() (*bundle, error) {
	if u.devDir == "" {
		return u.bundle, nil
	}
	return loadBundle(os.DirFS(u.devDir))
}

// Render writes page (templates/<page>.html inside templates/layout.html) with status.
// data becomes .Data in the template. If the page cannot be rendered, the visitor gets the
// internal error page instead and the cause is logged.
func (u *UI) Render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	if err := u.render(w, r, status, page, data); err != nil {
		u.RenderError(w, r, err)
	}
}

// render executes into a buffer first, so a template error never leaves half a page on
// the wire and the caller can still send an error page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) error {
	b, err := u.current()
	if err != nil {
		return err
	}
	t := b.pages[page]
	if t == nil {
		return fmt.Errorf("%w: %q", errNoPage, page)
	}
	lang := httpx.Lang(r.Context())
	v := &View{
		Lang:      lang,
		RequestID: httpx.RequestID(r.Context()),
		Path:      r.URL.Path,
		Next:      r.URL.RequestURI(),
		Version:   u.cfg.Version,
		Data:      data,
		text:      b.text[lang],
		log:       u.log,
		ui:        u,
		req:       r,
	}
	// Pages show the browser's own sign-in; an API key is not a signed-in person.
	if p := authn.From(r.Context()); p != nil && p.Session != nil {
		v.User = p.User
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("render page %s: %w", page, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Pages will carry balances and personal data; keep them out of shared and disk caches.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err = w.Write(buf.Bytes())
	return err
}

// ErrorPage is the data of templates/error.html.
type ErrorPage struct {
	Code    string
	Message string
	Fix     string
	// Article is the help-center slug that explains this code ("" when none does), so
	// every error page links to the longer answer.
	Article string
}

// RenderError writes the HTML error page for err in the request's language: its code,
// message, fix and the request id. Errors without a code are shown as "internal" and their
// detail goes only to the log, under the same request id.
func (u *UI) RenderError(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	lang, id := httpx.Lang(ctx), httpx.RequestID(ctx)
	e, ok := apperr.As(err)
	if !ok {
		e = apperr.New(apperr.CodeInternal)
	}
	if !ok || e.Status() >= 500 {
		u.log.Error("web: internal error", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err.Error())
	}
	if e.Code == apperr.CodeRateLimited && e.Params["retry_after"] != "" {
		w.Header().Set("Retry-After", e.Params["retry_after"])
	}
	page := ErrorPage{Code: e.Code, Message: e.Message(lang), Fix: e.Fix(lang)}
	if slug, ok := help.ArticleForCode(e.Code); ok {
		page.Article = slug
	}
	if rerr := u.render(w, r, e.Status(), "error", page); rerr != nil {
		// The error page itself failed: say the minimum, still with the id to quote.
		u.log.Error("web: error page failed", "request_id", id, "err", rerr.Error())
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "internal error; request id "+id, http.StatusInternalServerError)
	}
}

// static serves embedded files. A URL with the file's current hash (from {{asset}}) is
// immutable for a year; any other URL must revalidate, so a stale ?v never pins old CSS.
func (u *UI) static(w http.ResponseWriter, r *http.Request) {
	b, err := u.current()
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	a, ok := b.assets[name]
	if !ok {
		u.notFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", `"`+a.hash+`"`)
	if !u.cfg.Reload && r.URL.Query().Get("v") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	// Zero modtime: embedded files have none; the ETag does the revalidation.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.data))
}
