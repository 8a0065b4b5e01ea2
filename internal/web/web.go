// Package web is the server-rendered UI of OKPay: pages built with html/template, the static
// assets and the zh-CN / en translations, all embedded in the binary.
//
// It is a thin adapter over the domain services: a handler decodes the form, calls one
// service method and renders a page. It knows HTTP, templates and the error model
// (apperr); it runs no SQL and holds no business rules.
//
// Adding a page: write templates/<page>.html defining the blocks "title" and "content"
// (and optionally "head"), put every visible string in locales/<area>.en.json and
// locales/<area>.zh-CN.json and use it as {{.T "key"}}, register the area's handlers from
// its own file with addFeature (called in init), and call
// Render with the page's data, which templates read as .Data. Failures go through
// RenderError. Mutating routes are wrapped in u.csrf.Handler. No inline scripts or styles:
// the CSP forbids them; put them in static/ and link them with {{asset "name"}}.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/httpx"
	"okpay/internal/notify"
	"okpay/internal/support/help"
	"okpay/internal/support/tickets"
)

// Config is what the UI needs from the server.
type Config struct {
	// Version is shown in the footer and on the status page. (Asset URLs carry a content
	// hash instead, so a rebuild with unchanged files keeps browser caches warm.)
	Version string
	// Log receives internal errors (with request id) and missing translations.
	Log *slog.Logger
	// Ready reports whether the database is reachable and migrated; the status page shows
	// "degraded" when it returns an error. Nil means there is nothing to check.
	Ready func(ctx context.Context) error
	// Dev turns on the developer conveniences: the dev mailbox and the sandbox bank's
	// statement page. Demo mode sets it too.
	Dev bool
	// Reload re-reads templates, translations and static files from the source tree on every
	// request (when it can be found) and turns off long asset caching, so edits show on
	// reload. Only --dev sets it: a demo binary serves what it embeds.
	Reload bool
	// Mailbox lists mail from the outbox for the dev mailbox page (Dev mode only).
	Mailbox func(ctx context.Context, to string, limit int) ([]notify.Mail, error)
	// Help serves the help center pages (/help…); nil leaves them out.
	Help *help.Service
	// Accounts serves sign-in, account and security pages; nil leaves them out.
	Accounts *Accounts
	// Tickets serves /contact, the ticket pages and the agents' ticket pages; nil leaves
	// them out.
	Tickets *tickets.Service
	// Support serves live chat, announcements and the inbox; nil leaves them out.
	Support *SupportLive
	// Console serves the troubleshooter (/fix…) and the agent console (/agent…); nil
	// leaves them out.
	Console *Console
	// Wallet serves the wallet, payment, card, history and analysis pages; nil leaves
	// them out.
	Wallet *Wallet
}

// UI serves the web pages. Create it with New.
type UI struct {
	cfg    Config
	log    *slog.Logger
	bundle *bundle // parsed once at New
	devDir string  // Dev mode: reload the bundle from here on every request
	csrf   *http.CrossOriginProtection
}

// New parses the embedded templates, translations and assets. Any template or translation
// error fails New, so a broken page is found at start-up rather than by a user.
func New(cfg Config) (*UI, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	u := &UI{cfg: cfg, log: cfg.Log}
	b, err := loadBundle(embedded)
	if err != nil {
		return nil, err
	}
	u.bundle = b
	if cfg.Reload {
		if dir := findSource(); dir != "" {
			u.devDir = dir
			cfg.Log.Info("web: dev mode, reading templates and assets from the source tree", "dir", dir)
		} else {
			cfg.Log.Warn("web: dev mode, but the source tree was not found; using embedded files")
		}
	}
	// Browsers say where a form came from; a post from another site is refused with the
	// HTML error page rather than Go's plain-text default.
	u.csrf = http.NewCrossOriginProtection()
	u.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.RenderError(w, r, apperr.New(apperr.CodeCrossOrigin))
	}))
	return u, nil
}

// Register adds the UI routes to mux. It claims the catch-all "/" so unknown paths get the
// HTML not-found page; the JSON API, /healthz, /readyz and /metrics register their own,
// more specific patterns, which the mux prefers.
func (u *UI) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", u.home)
	mux.HandleFunc("GET /status", u.status)
	mux.Handle("POST /lang", u.csrf.Handler(http.HandlerFunc(u.setLang)))
	mux.HandleFunc("GET /static/", u.static)
	mux.HandleFunc("/", u.notFound)
	for _, f := range features {
		f(u, mux)
	}
}

// features are the page groups of each product area (account, wallet, help, …), each in its
// own file that calls addFeature from init, so areas are added without editing this file.
var features []func(u *UI, mux *http.ServeMux)

func addFeature(f func(u *UI, mux *http.ServeMux)) { features = append(features, f) }

func (u *UI) home(w http.ResponseWriter, r *http.Request) {
	u.Render(w, r, http.StatusOK, "home", nil)
}

func (u *UI) notFound(w http.ResponseWriter, r *http.Request) {
	u.RenderError(w, r, apperr.New(apperr.CodeNotFound))
}

// Announcement is one notice on the status page (maintenance, incidents).
type Announcement struct {
	Title string
	Body  string
	At    time.Time
	Kind  string    // info, maintenance, incident
	Ends  time.Time // when it stops being shown
}

type statusPage struct {
	Operational   bool
	ServerTime    time.Time
	Announcements []Announcement
	// Maintenance is the maintenance window in force, nil when none: money cannot move
	// until its end, so the page must not say that everything works.
	Maintenance *Announcement
}

// readyTimeout bounds the status page's database check: a hung database must show as
// degraded quickly instead of hanging the page that explains the outage.
const readyTimeout = 2 * time.Second

func (u *UI) status(w http.ResponseWriter, r *http.Request) {
	lang := httpx.Lang(r.Context())
	p := statusPage{Operational: true, ServerTime: time.Now(), Announcements: u.statusAnnouncements(r, lang)}
	if u.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		err := u.cfg.Ready(ctx)
		cancel()
		if err != nil {
			p.Operational = false
			u.log.Warn("status page: not ready", "request_id", httpx.RequestID(r.Context()), "err", err.Error())
		}
	}
	if p.Operational {
		p.Maintenance, p.Operational = u.statusMaintenance(r, lang)
	}
	// 200 either way: this page is for people; machines read /readyz.
	u.Render(w, r, http.StatusOK, "status", p)
}

const langCookieMaxAge = 365 * 24 * 60 * 60 // seconds: one year

func (u *UI) setLang(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		u.RenderError(w, r, apperr.New(apperr.CodeBadRequest).Wrap(err))
		return
	}
	lang := r.PostForm.Get("lang")
	if lang != "zh-CN" && lang != "en" {
		u.RenderError(w, r, apperr.New(apperr.CodeBadRequest))
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     httpx.LangCookie,
		Value:    lang,
		Path:     "/",
		MaxAge:   langCookieMaxAge,
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
}

// safeNext returns next when it is a path on this site, else "/". Anything a browser could
// read as another origin is refused: "//host", "/\host" (browsers treat "\" as "/"),
// schemes, and control characters that some browsers strip before parsing.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\") {
		return "/"
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f {
			return "/"
		}
	}
	p, err := url.Parse(next)
	if err != nil || p.Scheme != "" || p.Host != "" || p.User != nil {
		return "/"
	}
	return next
}
