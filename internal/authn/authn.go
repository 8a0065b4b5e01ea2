// Package authn turns a request's credentials — the okpay_session cookie of a browser or an
// "Authorization: Bearer okp_…" API key — into a Principal in the request context, through
// identity.Service. Both the JSON API and the web pages read the caller from here, so there
// is one place that decides who is asking. It owns the session and device cookies (names
// and flags); it knows nothing of pages, routes or JSON shapes beyond writing an error.
package authn

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/identity"
)

// Cookie names. The session cookie carries the session token; the device cookie is the
// long-lived browser id behind "new device" alerts.
const (
	SessionCookie = "okpay_session"
	DeviceCookie  = "okpay_device"
)

// deviceMaxAge is how long a browser keeps its device id: a year, so a person signing in
// every few months is not alerted as a "new device" each time (browsers cap at 400 days).
const deviceMaxAge = 365 * 24 * time.Hour

// Principal is the authenticated caller.
type Principal struct {
	User *identity.User
	// Session is set for cookie sign-ins; nil when the caller used an API key.
	Session *identity.Session
	// APIKey is set for bearer calls; nil for browser sessions.
	APIKey *identity.APIKey
}

// SessionID is the session's id, "" for API keys (service calls needing a session then
// answer unauthenticated).
func (p *Principal) SessionID() string {
	if p == nil || p.Session == nil {
		return ""
	}
	return p.Session.ID
}

// Authenticator resolves credentials; *identity.Service implements it.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*identity.Session, *identity.User, error)
	AuthenticateAPIKey(ctx context.Context, secret string) (*identity.APIKey, *identity.User, error)
}

type ctxKey int

const (
	keyPrincipal ctxKey = iota
	keyFailure
)

// From returns the caller, or nil for an anonymous request.
func From(ctx context.Context) *Principal {
	p, _ := ctx.Value(keyPrincipal).(*Principal)
	return p
}

// WithPrincipal stores p in ctx (for tests and for handlers that have just signed in).
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, keyPrincipal, p)
}

// Failure returns why credentials that were sent did not authenticate (a coded error such
// as signin_restricted), or nil when none were sent or they worked.
func Failure(ctx context.Context) error {
	err, _ := ctx.Value(keyFailure).(error)
	return err
}

// Middleware resolves the caller on every request except static files. Bad or expired
// credentials leave the request anonymous — RequireUser then answers — so a stale cookie
// never breaks public pages such as sign-in. A dead session cookie is cleared.
func Middleware(auth Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/static/") || r.URL.Path == "/healthz" || r.URL.Path == "/metrics" {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		var p *Principal
		var fail error
		if secret, ok := bearer(r); ok {
			k, u, err := auth.AuthenticateAPIKey(ctx, secret)
			if err == nil {
				p = &Principal{User: u, APIKey: k}
			} else {
				fail = err
			}
		} else if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
			s, u, err := auth.Authenticate(ctx, c.Value)
			if err == nil {
				p = &Principal{User: u, Session: s}
			} else {
				fail = err
				if _, coded := apperr.As(err); coded {
					ClearSession(w, r)
				}
			}
		}
		if p != nil {
			ctx = WithPrincipal(ctx, p)
		}
		if fail != nil {
			ctx = context.WithValue(ctx, keyFailure, fail)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// bearer returns the token of an "Authorization: Bearer …" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	// Bound what reaches the hash and the database; real keys are about 50 characters.
	if tok == "" || len(tok) > 200 {
		return "", false
	}
	return tok, true
}

// User returns the caller or the error to show: the reason credentials failed when it has
// a code of its own (signin_restricted), otherwise unauthenticated.
func User(ctx context.Context) (*Principal, error) {
	if p := From(ctx); p != nil {
		return p, nil
	}
	if err := Failure(ctx); err != nil {
		if e, ok := apperr.As(err); ok && e.Code != apperr.CodeUnauthenticated {
			return nil, err
		}
	}
	return nil, apperr.New(apperr.CodeUnauthenticated)
}

// RequireUser wraps h so it runs only for a signed-in caller; others get onErr's answer
// (the API writes JSON, the web redirects to the sign-in page).
func RequireUser(onErr func(http.ResponseWriter, *http.Request, error), h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := User(r.Context()); err != nil {
			onErr(w, r, err)
			return
		}
		h(w, r)
	}
}

// RequireRole is RequireUser plus a role check: callers with another role get forbidden.
// The service layer checks permissions again; this only keeps staff pages from rendering.
func RequireRole(onErr func(http.ResponseWriter, *http.Request, error), allowed []identity.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := User(r.Context())
		if err != nil {
			onErr(w, r, err)
			return
		}
		for _, role := range allowed {
			if p.User.Role == role {
				h(w, r)
				return
			}
		}
		onErr(w, r, apperr.New(apperr.CodeForbidden))
	}
}

// RequireSession is RequireUser for calls that act on a browser session (2-step set-up,
// step-up, password change): an API key cannot do them.
func RequireSession(onErr func(http.ResponseWriter, *http.Request, error), h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := User(r.Context())
		if err == nil && p.Session == nil {
			// An API key is not a signed-in browser: these calls need the session cookie.
			err = apperr.New(apperr.CodeUnauthenticated)
		}
		if err != nil {
			onErr(w, r, err)
			return
		}
		h(w, r)
	}
}

// secure reports whether cookies must be Secure: the request came over TLS.
func secure(r *http.Request) bool { return r.TLS != nil }

// SetSession sets the session cookie after a sign-in. It lives as long as the browser
// session; the server enforces the idle and absolute timeouts.
func SetSession(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: token, Path: "/", HttpOnly: true,
		Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

// ClearSession deletes the session cookie.
func ClearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

// SetDevice (re)sets the long-lived device cookie.
func SetDevice(w http.ResponseWriter, r *http.Request, value string) {
	if value == "" {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: DeviceCookie, Value: value, Path: "/", MaxAge: int(deviceMaxAge.Seconds()),
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

// SessionToken returns the session cookie's value ("" when absent).
func SessionToken(r *http.Request) string {
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// Client describes the request for the identity service: address, browser and device id.
// The address is the TCP peer: OKPay does not trust X-Forwarded-For, since anyone can send
// it and it would let one client dodge the per-address limits.
func Client(r *http.Request) identity.Client {
	ip := r.RemoteAddr
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	c := identity.Client{IP: ip, UserAgent: r.UserAgent()}
	if ck, err := r.Cookie(DeviceCookie); err == nil && len(ck.Value) <= 64 {
		c.DeviceCookie = ck.Value
	}
	return c
}

// SignedIn applies a completed sign-in to the response: session and device cookies, after
// ending the session the browser had before, so a token planted before sign-in (session
// fixation) never becomes a signed-in session.
func SignedIn(ctx context.Context, w http.ResponseWriter, r *http.Request, signOut func(context.Context, string) error, token, device string) error {
	if old := SessionToken(r); old != "" && old != token {
		if err := signOut(ctx, old); err != nil {
			return err
		}
	}
	SetSession(w, r, token)
	SetDevice(w, r, device)
	return nil
}
