package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
)

// pendingCookie carries the sign-in's pending token from the password page to the 2-step
// page. It is scoped to /signin and lives as long as the challenge.
const pendingCookie = "okpay_pending"

func (u *UI) authRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /register", u.registerPage)
	mux.Handle("POST /register", u.post(u.register))
	mux.HandleFunc("GET /signin", u.signinPage)
	mux.Handle("POST /signin", u.post(u.signin))
	mux.HandleFunc("GET /signin/second-step", u.secondStepPage)
	mux.Handle("POST /signin/second-step", u.post(u.secondStep))
	mux.Handle("POST /signout", u.post(u.signout))
	mux.HandleFunc("GET /forgot-password", u.forgotPage)
	mux.Handle("POST /forgot-password", u.post(u.forgot))
	mux.HandleFunc("GET /reset-password", u.resetPage)
	mux.Handle("POST /reset-password", u.post(u.reset))
	mux.HandleFunc("GET /verify-email", u.verifyPage)
	mux.Handle("POST /verify-email", u.post(u.signedIn(u.verify)))
	mux.Handle("POST /verify-email/link", u.post(u.verifyLink))
	mux.Handle("POST /verify-email/resend", u.post(u.signedIn(u.resend)))
	mux.HandleFunc("GET /freeze", u.freezeLinkPage)
	mux.Handle("POST /freeze", u.post(u.freezeLink))
}

// registerPage is the sign-up form with the password rules shown before typing.
type registerPage struct {
	form
	Lang string
}

func (u *UI) registerPage(w http.ResponseWriter, r *http.Request) {
	u.Render(w, r, http.StatusOK, "auth-register", registerPage{form: form{Values: url.Values{}}, Lang: httpx.Lang(r.Context())})
}

func (u *UI) register(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	res, err := u.svc().Register(r.Context(), identity.RegisterInput{Email: f.Get("email"), Phone: f.Get("phone"),
		Password: f.Get("password"), Lang: f.Get("lang")}, authn.Client(r))
	if err == nil {
		err = authn.SignedIn(r.Context(), w, r, u.svc().SignOut, res.Token, res.DeviceCookie)
	}
	if err != nil {
		st, status := u.failed(w, r, err, "register")
		u.Render(w, r, status, "auth-register", registerPage{form: st, Lang: f.Get("lang")})
		return
	}
	// The pages follow the language chosen at sign-up from now on.
	setLangCookie(w, r, res.User.Lang)
	http.Redirect(w, r, "/verify-email?sent=1&resend_at="+unixStr(res.VerificationResend), http.StatusSeeOther)
}

func setLangCookie(w http.ResponseWriter, r *http.Request, lang string) {
	if lang != "zh-CN" && lang != "en" {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: httpx.LangCookie, Value: lang, Path: "/", MaxAge: langCookieMaxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

// signinPage is the sign-in form.
type signinPage struct {
	form
	Next string
	Done string
}

func (u *UI) signinPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if p := authn.From(r.Context()); p != nil && p.Session != nil && r.URL.Query().Get("done") == "" {
		http.Redirect(w, r, afterSignin(next, p.User.Role), http.StatusSeeOther)
		return
	}
	u.Render(w, r, http.StatusOK, "auth-signin", signinPage{form: form{Values: url.Values{}}, Next: next, Done: u.done(r)})
}

// afterSignin is where a sign-in lands: the page that sent the person here, else the
// agent console for staff (their work is there, and nothing else links to it from the
// account pages) and the account for everyone else.
func afterSignin(next string, role identity.Role) string {
	if next == "/" || next == "" {
		if role.Staff() {
			return "/agent"
		}
		return "/account"
	}
	return next
}

func (u *UI) signin(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostForm.Get("next"))
	si, err := u.svc().SignIn(r.Context(), identity.SignInInput{Email: r.PostForm.Get("email"), Password: r.PostForm.Get("password")}, authn.Client(r))
	if err != nil {
		st, status := u.failed(w, r, err, "signin")
		u.Render(w, r, status, "auth-signin", signinPage{form: st, Next: next})
		return
	}
	if si.SecondStep {
		authn.SetDevice(w, r, si.DeviceCookie)
		http.SetCookie(w, &http.Cookie{Name: pendingCookie, Value: si.PendingToken, Path: "/signin",
			MaxAge: int(time.Until(si.PendingExpiresAt).Seconds()) + 1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/signin/second-step?next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	u.completeSignin(w, r, si, next)
}

func (u *UI) completeSignin(w http.ResponseWriter, r *http.Request, si *identity.SignIn, next string) {
	if err := authn.SignedIn(r.Context(), w, r, u.svc().SignOut, si.Token, si.DeviceCookie); err != nil {
		u.RenderError(w, r, err)
		return
	}
	var role identity.Role
	if usr, err := u.svc().GetUser(r.Context(), si.Session.UserID); err == nil {
		setLangCookie(w, r, usr.Lang)
		role = usr.Role
	}
	http.Redirect(w, r, afterSignin(next, role), http.StatusSeeOther)
}

func (u *UI) secondStepPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if c, err := r.Cookie(pendingCookie); err != nil || c.Value == "" {
		st, status := u.failed(w, r, apperr.New(identity.CodeSigninExpired), "signin")
		u.Render(w, r, status, "auth-second-step", signinPage{form: st, Next: next})
		return
	}
	u.Render(w, r, http.StatusOK, "auth-second-step", signinPage{form: form{Values: url.Values{}}, Next: next})
}

func (u *UI) secondStep(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostForm.Get("next"))
	var tok string
	if c, err := r.Cookie(pendingCookie); err == nil {
		tok = c.Value
	}
	si, err := u.svc().SignInSecondStep(r.Context(), tok, r.PostForm.Get("code"), authn.Client(r))
	if err != nil {
		st, status := u.failed(w, r, err, "signin")
		u.Render(w, r, status, "auth-second-step", signinPage{form: st, Next: next})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: pendingCookie, Value: "", Path: "/signin", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil})
	u.completeSignin(w, r, si, next)
}

func (u *UI) signout(w http.ResponseWriter, r *http.Request) {
	if tok := authn.SessionToken(r); tok != "" {
		if err := u.svc().SignOut(r.Context(), tok); err != nil {
			u.RenderError(w, r, err)
			return
		}
	}
	authn.ClearSession(w, r)
	redirectDone(w, r, "/signin", "signed_out")
}

// forgotPage asks where to send a reset code; Sent shows the same answer for every address.
type forgotPage struct {
	form
	Sent    *identity.ResetRequested
	Channel string
}

func (u *UI) forgotPage(w http.ResponseWriter, r *http.Request) {
	ch := r.URL.Query().Get("channel")
	if ch != "sms" {
		ch = "email"
	}
	u.Render(w, r, http.StatusOK, "auth-forgot", forgotPage{form: form{Values: url.Values{}}, Channel: ch})
}

func (u *UI) forgot(w http.ResponseWriter, r *http.Request) {
	in := identity.ResetRequest{}
	ch := r.PostForm.Get("channel")
	if ch == "sms" {
		in.Phone = r.PostForm.Get("phone")
	} else {
		ch, in.Email = "email", r.PostForm.Get("email")
	}
	res, err := u.svc().RequestPasswordReset(r.Context(), in, authn.Client(r))
	if err != nil {
		st, status := u.failed(w, r, err, "forgot")
		u.Render(w, r, status, "auth-forgot", forgotPage{form: st, Channel: ch})
		return
	}
	st := form{Values: url.Values{}}
	st.Values.Set("email", in.Email)
	st.Values.Set("phone", in.Phone)
	u.Render(w, r, http.StatusOK, "auth-forgot", forgotPage{form: st, Sent: res, Channel: ch})
}

// resetPage sets a new password with the emailed link (Token) or a typed code.
type resetPage struct {
	form
	Token   string
	Channel string
}

func (u *UI) resetPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	st := form{Values: url.Values{}}
	st.Values.Set("email", q.Get("email"))
	st.Values.Set("phone", q.Get("phone"))
	ch := "email"
	if q.Get("channel") == "sms" {
		ch = "sms"
	}
	tok := q.Get("token")
	if len(tok) > 200 {
		tok = ""
	}
	u.Render(w, r, http.StatusOK, "auth-reset", resetPage{form: st, Token: tok, Channel: ch})
}

func (u *UI) reset(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	in := identity.ResetInput{Token: f.Get("token"), Code: f.Get("code"), NewPassword: f.Get("password")}
	ch := f.Get("channel")
	if in.Token == "" {
		if ch == "sms" {
			in.Phone = f.Get("phone")
		} else {
			ch, in.Email = "email", f.Get("email")
		}
	}
	if err := u.svc().ResetPassword(r.Context(), in, authn.Client(r)); err != nil {
		st, status := u.failed(w, r, err, "reset")
		u.Render(w, r, status, "auth-reset", resetPage{form: st, Token: in.Token, Channel: ch})
		return
	}
	authn.ClearSession(w, r)
	redirectDone(w, r, "/signin", "password_reset")
}

// verifyPage is the code entry page, or with ?token= the landing page of the emailed link.
type verifyPage struct {
	form
	Token    string
	Email    string
	Sent     bool
	ResendAt time.Time
	// ResendAtUnix drives the countdown on the resend button (account.js).
	ResendAtUnix int64
	ResendWhen   string
	Verified     bool
	Done         string
}

func (u *UI) verifyPage(w http.ResponseWriter, r *http.Request) {
	if tok := r.URL.Query().Get("token"); tok != "" {
		if len(tok) > 200 {
			tok = ""
		}
		// Landing page: one button, because mail scanners open links and a single-use
		// link spent by a scanner would leave the person with an "expired" page.
		u.Render(w, r, http.StatusOK, "auth-verify-link", verifyPage{form: form{Values: url.Values{}}, Token: tok})
		return
	}
	u.signedIn(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
		u.renderVerify(w, r, p, form{Values: url.Values{}}, http.StatusOK, unixParam(r, "resend_at"))
	})(w, r)
}

func (u *UI) renderVerify(w http.ResponseWriter, r *http.Request, p *authn.Principal, st form, status int, resendAt time.Time) {
	pg := verifyPage{form: st, Email: p.User.Email, Sent: r.URL.Query().Get("sent") == "1", Verified: p.User.EmailVerified, Done: u.done(r)}
	if resendAt.After(time.Now()) {
		pg.ResendAt, pg.ResendAtUnix, pg.ResendWhen = resendAt, resendAt.Unix(), when(resendAt, httpx.Lang(r.Context()), time.Now())
	}
	u.Render(w, r, status, "auth-verify", pg)
}

func (u *UI) verify(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if _, err := u.svc().VerifyEmail(r.Context(), p.User.ID, r.PostForm.Get("code"), authn.Client(r)); err != nil {
		st, status := u.failed(w, r, err, "verify")
		u.renderVerify(w, r, p, st, status, time.Time{})
		return
	}
	redirectDone(w, r, "/account", "verified")
}

func (u *UI) verifyLink(w http.ResponseWriter, r *http.Request) {
	tok := r.PostForm.Get("token")
	usr, err := u.svc().VerifyEmailLink(r.Context(), tok, authn.Client(r))
	if err != nil {
		st, status := u.failed(w, r, err, "verify-link")
		u.Render(w, r, status, "auth-verify-link", verifyPage{form: st})
		return
	}
	u.Render(w, r, http.StatusOK, "auth-verify-link", verifyPage{form: form{Values: url.Values{}}, Verified: true, Email: usr.Email})
}

func (u *UI) resend(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	res, err := u.svc().ResendVerification(r.Context(), p.User.ID, authn.Client(r))
	if err != nil {
		st, status := u.failed(w, r, err, "resend")
		var next time.Time
		if e, ok := apperr.As(err); ok {
			next, _ = time.Parse(time.RFC3339, e.Params["next_at"])
		}
		u.renderVerify(w, r, p, st, status, next)
		return
	}
	http.Redirect(w, r, "/verify-email?done=resent&resend_at="+unixStr(res.NextAt), http.StatusSeeOther)
}

func unixStr(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// freezeLinkPage is where "this wasn't me" in a security email lands.
type freezeLinkPage struct {
	form
	Token  string
	Frozen bool
}

func (u *UI) freezeLinkPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if len(tok) > 200 {
		tok = ""
	}
	u.Render(w, r, http.StatusOK, "auth-freeze-link", freezeLinkPage{form: form{Values: url.Values{}}, Token: tok})
}

func (u *UI) freezeLink(w http.ResponseWriter, r *http.Request) {
	if err := u.svc().FreezeByLink(r.Context(), r.PostForm.Get("token"), authn.Client(r)); err != nil {
		st, status := u.failed(w, r, err, "freeze-link")
		u.Render(w, r, status, "auth-freeze-link", freezeLinkPage{form: st})
		return
	}
	// The freeze ended every session; this browser's cookie is dead too.
	authn.ClearSession(w, r)
	u.Render(w, r, http.StatusOK, "auth-freeze-link", freezeLinkPage{form: form{Values: url.Values{}}, Frozen: true})
}
