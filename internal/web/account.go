package web

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
)

// Accounts is what the sign-in and account pages need from the server.
type Accounts struct {
	Service *identity.Service
	// Documents keeps level-2 uploads outside any web root.
	Documents DocumentStore
}

// DocumentStore stores identity documents (checked by content and size) and opens them for
// review.
type DocumentStore interface {
	Save(ctx context.Context, userID string, r io.Reader) (identity.DocumentInput, error)
	Open(ref string) (io.ReadCloser, error)
}

// Each product area registers its pages; the account area only when the server gave it an
// identity service (tests of the bare UI run without one).
func init() {
	addFeature(func(u *UI, mux *http.ServeMux) {
		if u.cfg.Accounts == nil {
			return
		}
		u.authRoutes(mux)
		u.accountRoutes(mux)
		u.securityRoutes(mux)
		u.agentRoutes(mux)
	})
}

func (u *UI) svc() *identity.Service { return u.cfg.Accounts.Service }

// form is the state every form page carries: the failure with its way out, a confirmation,
// the values to show again (never passwords or codes) and per-field messages.
type form struct {
	Err    *pageErr
	OK     string // a confirmation, translated
	Values url.Values
	Fields map[string]string
}

// V is a value to re-fill.
func (f form) V(name string) string { return f.Values.Get(name) }

// F is the message for a field ("" when it is fine).
func (f form) F(name string) string { return f.Fields[name] }

// pageErr is a failure as a page shows it: message, fix and the next steps.
type pageErr struct {
	Code      string
	Message   string
	Fix       string
	RequestID string
	Actions   []pageAction
	// StepUp asks the page to show the "confirm it's you" form.
	StepUp bool
}

// pageAction is a next step: a link (Href) or a button posting to Post.
type pageAction struct {
	Key   string // translation key of the label
	Label string // filled by failed
	Href  string
	Post  string
}

// keepFields are the form fields that may be shown again after a failure.
var keepFields = []string{"email", "phone", "lang", "real_name", "id_type", "id_number", "birth_date", "name", "reason", "until", "channel", "kind"}

// failed turns err into the form state for the page, logging internal errors. It returns the
// HTTP status to answer with. where names the page, for choosing the next steps.
func (u *UI) failed(w http.ResponseWriter, r *http.Request, err error, where string) (form, int) {
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
	shown := localize(e, lang, time.Now())
	f := form{Values: url.Values{}, Fields: map[string]string{}}
	for _, k := range keepFields {
		if v := r.PostFormValue(k); v != "" && len(v) < 300 {
			f.Values.Set(k, v)
		}
	}
	for _, fe := range e.Fields {
		// The field's own next step too, when its code has one: "the security code is
		// not valid" alone does not say it is the 3 digits on the back.
		msg := fe.Message.In(lang, shown.Params)
		if d, ok := apperr.Lookup(fe.Code); ok && !d.Fix.IsZero() {
			msg += " " + d.Fix.In(lang, shown.Params)
		}
		f.Fields[fe.Field] = msg
	}
	f.Err = &pageErr{Code: e.Code, Message: shown.Message(lang), Fix: shown.Fix(lang), RequestID: id,
		Actions: actionsFor(e.Code, where), StepUp: e.Code == identity.CodeStepUpRequired}
	for i := range f.Err.Actions {
		f.Err.Actions[i].Label = u.tr(r, f.Err.Actions[i].Key)
	}
	return f, e.Status()
}

// tr translates a key chosen in Go (confirmations, next steps, enumerations). Templates use
// literal keys so a test can check them; these keys are checked by TestAccountKeys.
func (u *UI) tr(r *http.Request, key string) string {
	if key == "" {
		return ""
	}
	lang := httpx.Lang(r.Context())
	b, err := u.current()
	if err == nil {
		if s, ok := b.text[lang][key]; ok {
			return s
		}
	}
	u.log.Error("web: missing translation", "key", key, "lang", lang, "request_id", httpx.RequestID(r.Context()))
	return key
}

// done is the translated confirmation named by ?done=.
func (u *UI) done(r *http.Request) string { return u.tr(r, doneKey(r)) }

// Keys of enumerations shown on the account pages, by value.
func roleKey(r identity.Role) string   { return "acct.role." + string(r) }
func scopeKey(s identity.Scope) string { return "acct.scope." + string(s) }
func kindKey(kind string) string       { return "acct.status.kind." + kind }
func byKey(by string) string           { return "acct.status.by." + by }
func keyScopeKey(s string) string      { return "acct.keyscope." + s }
func docKindKey(k string) string       { return "acct.dockind." + k }
func docStatusKey(s string) string     { return "acct.docstatus." + s }
func idTypeKey(t string) string        { return "acct.idtype." + t }

// list translates values and joins them with the language's list separator.
func (u *UI) list(r *http.Request, keys []string) string {
	sep := ", "
	if httpx.Lang(r.Context()) == "zh-CN" {
		sep = "、"
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = u.tr(r, k)
	}
	return strings.Join(out, sep)
}

// localize returns a copy of e whose time parameters (RFC 3339 from the services) read
// naturally: "15:04" today, with the date otherwise, in Beijing time for Chinese readers.
func localize(e *apperr.Error, lang string, now time.Time) *apperr.Error {
	c := *e
	c.Params = map[string]string{}
	for k, v := range e.Params {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			v = when(t, lang, now)
		}
		c.Params[k] = v
	}
	return &c
}

var beijing = httpx.Beijing

// when formats t for lang, always with its date: a time alone misleads on a receipt, a
// ticket or any page read (or kept) on another day. Chinese readers get Beijing time,
// others UTC, each labelled. The last parameter (now) is no longer read, since times
// stopped being shortened to the time of day for today; callers still pass it.
func when(t time.Time, lang string, _ time.Time) string {
	if t.IsZero() {
		return ""
	}
	return httpx.FormatTime(t, lang)
}

// When is {{$.When t}} for templates: t as every page states times (see when), in the
// page's language, so no template formats a time of its own in a zone nobody named.
func (v *View) When(t time.Time) string { return when(t, v.Lang, time.Now()) }

// actionsFor lists the next steps for a failure as buttons or links.
func actionsFor(code, where string) []pageAction {
	reset := pageAction{Key: "act.reset_password", Href: "/forgot-password"}
	signin := pageAction{Key: "act.signin", Href: "/signin"}
	support := pageAction{Key: "act.contact_support", Href: "/help"}
	switch code {
	case identity.CodeEmailTaken:
		return []pageAction{signin, reset}
	case identity.CodeInvalidCredentials, identity.CodeAccountLocked, identity.CodePasswordIncorrect:
		return []pageAction{reset}
	case identity.CodeEmailNotVerified:
		return []pageAction{{Key: "act.verify_email", Href: "/verify-email"}}
	case identity.CodeCodeExpired, identity.CodeCodeAttempts:
		switch where {
		case "verify":
			return []pageAction{{Key: "act.resend", Post: "/verify-email/resend"}}
		case "verify-link":
			return []pageAction{{Key: "act.verify_email", Href: "/verify-email"}}
		case "reset":
			return []pageAction{{Key: "act.new_reset_code", Href: "/forgot-password"}}
		case "unfreeze":
			return []pageAction{{Key: "act.send_unfreeze_code", Post: "/account/unfreeze/code"}}
		}
	case identity.CodeSigninExpired, apperr.CodeUnauthenticated:
		return []pageAction{signin}
	case identity.CodeAccountFrozen:
		return []pageAction{{Key: "act.unfreeze", Href: "/account/unfreeze"}, support}
	case identity.CodeUnfreezeNeedsSupport, identity.CodeSigninRestricted, identity.CodeSendingRestricted,
		identity.CodeWithdrawRestricted, identity.CodeReceivingRestricted:
		return []pageAction{support}
	case identity.CodeLevelRequirement:
		return []pageAction{{Key: "act.identity", Href: "/account/identity"}}
	case identity.CodeTOTPNotPending:
		return []pageAction{{Key: "act.security", Href: "/account/security#two-step"}}
	case identity.CodePhoneNotVerified:
		return []pageAction{{Key: "act.use_email", Href: "/forgot-password"}}
	}
	return nil
}

// parseForm reads a small urlencoded form (every account form is a few fields).
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		return apperr.New(apperr.CodeBadRequest).Wrap(err)
	}
	return nil
}

// signedIn wraps a page that needs a signed-in browser: a GET without one goes to the
// sign-in page and comes back afterwards; other methods get the error page.
func (u *UI) signedIn(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := authn.User(r.Context())
		if err == nil && p.Session == nil {
			err = apperr.New(apperr.CodeUnauthenticated)
		}
		if err != nil {
			if r.Method == http.MethodGet && apperr.HasCode(err, apperr.CodeUnauthenticated) {
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			u.RenderError(w, r, err)
			return
		}
		h(w, r, p)
	}
}

// post wraps a mutating handler: cross-site posts are refused and the form is parsed.
func (u *UI) post(h http.HandlerFunc) http.Handler {
	return u.csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			if err := parseForm(w, r); err != nil {
				u.RenderError(w, r, err)
				return
			}
		}
		h(w, r)
	}))
}

// done maps the ?done= confirmation shown after a redirect to its translation key; only
// known keys are shown, so the parameter cannot put arbitrary text on a page.
var doneKeys = map[string]string{
	"signed_out": "done.signed_out", "password_reset": "done.password_reset", "password_changed": "done.password_changed",
	"verified": "done.verified", "resent": "done.resent", "stepped_up": "done.stepped_up", "session_revoked": "done.session_revoked",
	"others_revoked": "done.others_revoked", "key_revoked": "done.key_revoked", "two_step_off": "done.two_step_off",
	"unfrozen": "done.unfrozen", "identity_saved": "done.identity_saved", "document_uploaded": "done.document_uploaded",
	"phone_verified": "done.phone_verified", "code_sent": "done.code_sent", "unlocked": "done.unlocked",
	"reviewed": "done.reviewed", "lang_saved": "done.lang_saved",
}

func doneKey(r *http.Request) string { return doneKeys[r.URL.Query().Get("done")] }

// redirectDone sends the browser to path with a confirmation.
func redirectDone(w http.ResponseWriter, r *http.Request, path, done string) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	http.Redirect(w, r, path+sep+"done="+done, http.StatusSeeOther)
}

// unixParam reads a Unix time from the query (for "next resend at" after a redirect).
func unixParam(r *http.Request, name string) time.Time {
	n, err := strconv.ParseInt(r.URL.Query().Get(name), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}
