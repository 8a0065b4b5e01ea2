package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
)

func (u *UI) securityRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /account/security", u.signedIn(u.securityPage))
	mux.Handle("POST /account/step-up", u.post(u.signedIn(u.stepUp)))
	mux.Handle("POST /account/2fa/setup", u.post(u.signedIn(u.twoStepSetup)))
	mux.Handle("POST /account/2fa/confirm", u.post(u.signedIn(u.twoStepConfirm)))
	mux.Handle("POST /account/2fa/recovery-codes", u.post(u.signedIn(u.recoveryCodes)))
	mux.Handle("POST /account/2fa/disable", u.post(u.signedIn(u.twoStepDisable)))
	mux.Handle("POST /account/password", u.post(u.signedIn(u.changePassword)))
	mux.Handle("POST /account/sessions/{id}/revoke", u.post(u.signedIn(u.revokeSession)))
	mux.Handle("POST /account/sessions/revoke-others", u.post(u.signedIn(u.revokeOthers)))
	mux.Handle("POST /account/api-keys", u.post(u.signedIn(u.createKey)))
	mux.Handle("POST /account/api-keys/{id}/revoke", u.post(u.signedIn(u.revokeKey)))
	mux.Handle("POST /account/phone", u.post(u.signedIn(u.setPhone)))
	mux.Handle("POST /account/phone/verify", u.post(u.signedIn(u.verifyPhone)))
	mux.Handle("POST /account/language", u.post(u.signedIn(u.saveLanguage)))
}

// sessionRow and deviceRow carry times already formatted for the reader.
type sessionRow struct {
	identity.Session
	Created, LastSeen, PlaceLabel string
}

type deviceRow struct {
	identity.Device
	FirstSeen, LastSeen, PlaceLabel string
}

// placeLabel translates the built-in place of private addresses; other places are
// network names, the same in every language.
func (u *UI) placeLabel(r *http.Request, place string) string {
	if place == identity.PlaceLocal {
		return u.tr(r, "acct.place.local")
	}
	return place
}

type keyRow struct {
	identity.APIKey
	Created, LastUsed, Revoked string
	ScopesLabel                string
}

// option is a choice in a form.
type option struct {
	Value, Label string
}

// securityPage is 2-step, password, phone, sessions, devices and API keys. Section names
// the part a failure belongs to, so the message shows next to the form that caused it.
type securityPage struct {
	form
	Section        string
	User           *identity.User
	SteppedUpUntil string
	RecoveryLeft   int
	Sessions       []sessionRow
	Devices        []deviceRow
	Keys           []keyRow
	KeyScopes      []option
	Done           string
	PhoneCodeSent  bool
}

func (u *UI) securityPage(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u.renderSecurity(w, r, p, "", form{Values: url.Values{}}, http.StatusOK)
}

func (u *UI) renderSecurity(w http.ResponseWriter, r *http.Request, p *authn.Principal, section string, st form, status int) {
	ctx := r.Context()
	lang, now := httpx.Lang(ctx), time.Now()
	svc := u.svc()
	usr, err := svc.GetUser(ctx, p.User.ID)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	pg := securityPage{form: st, Section: section, User: usr, Done: u.done(r), PhoneCodeSent: r.URL.Query().Get("phone") == "sent"}
	for _, s := range identity.KeyScopes {
		pg.KeyScopes = append(pg.KeyScopes, option{Value: s, Label: u.tr(r, keyScopeKey(s))})
	}
	// Session in the context was read at the start of the request; a step-up in this same
	// request is not in it, which only matters for the "confirmed until" note.
	if su := p.Session.SteppedUpAt; !su.IsZero() {
		if until := su.Add(svc.Config().StepUpWindow); until.After(now) {
			pg.SteppedUpUntil = when(until, lang, now)
		}
	}
	if usr.TwoStep {
		if pg.RecoveryLeft, err = svc.RecoveryCodesLeft(ctx, usr.ID); err != nil {
			u.RenderError(w, r, err)
			return
		}
	}
	ss, err := svc.ListSessions(ctx, usr.ID, p.SessionID())
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	for _, s := range ss {
		pg.Sessions = append(pg.Sessions, sessionRow{Session: s, Created: when(s.CreatedAt, lang, now), LastSeen: when(s.LastSeenAt, lang, now),
			PlaceLabel: u.placeLabel(r, s.Place)})
	}
	ds, err := svc.ListDevices(ctx, usr.ID, p.Session.DeviceID)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	for _, d := range ds {
		pg.Devices = append(pg.Devices, deviceRow{Device: d, FirstSeen: when(d.FirstSeenAt, lang, now), LastSeen: when(d.LastSeenAt, lang, now),
			PlaceLabel: u.placeLabel(r, d.LastPlace)})
	}
	ks, err := svc.ListAPIKeys(ctx, usr.ID)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	for _, k := range ks {
		pg.Keys = append(pg.Keys, keyRow{APIKey: k, Created: when(k.CreatedAt, lang, now), LastUsed: when(k.LastUsedAt, lang, now),
			Revoked: when(k.RevokedAt, lang, now), ScopesLabel: u.scopes(r, k.Scopes)})
	}
	u.Render(w, r, status, "account-security", pg)
}

// fail re-renders the security page with err next to section's form.
func (u *UI) securityFail(w http.ResponseWriter, r *http.Request, p *authn.Principal, section string, err error) {
	st, status := u.failed(w, r, err, "security")
	u.renderSecurity(w, r, p, section, st, status)
}

// stepUp confirms it is the owner and goes back to the page that asked.
func (u *UI) stepUp(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	in := identity.StepUpInput{Password: r.PostForm.Get("password"), Code: r.PostForm.Get("code")}
	section := r.PostForm.Get("section")
	if _, err := u.svc().StepUp(r.Context(), p.SessionID(), in, authn.Client(r)); err != nil {
		u.securityFail(w, r, p, section, err)
		return
	}
	next := "/account/security?done=stepped_up"
	if validSection(section) {
		next += "#" + section
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

var sections = []string{"two-step", "password", "phone", "sessions", "devices", "api-keys"}

func validSection(s string) bool {
	for _, x := range sections {
		if s == x {
			return true
		}
	}
	return false
}

// twoStepSetupPage shows the QR code and the secret, and asks for the first code.
type twoStepSetupPage struct {
	form
	QR     template.HTML
	Secret string
	URI    string
}

func (u *UI) twoStepSetup(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	enr, err := u.svc().BeginTOTP(r.Context(), p.SessionID())
	if err != nil {
		u.securityFail(w, r, p, "two-step", err)
		return
	}
	u.renderSetup(w, r, form{Values: url.Values{}}, http.StatusOK, enr.Secret, enr.URI, enr.QRSVG)
}

func (u *UI) renderSetup(w http.ResponseWriter, r *http.Request, st form, status int, secret, uri, svg string) {
	// The SVG is drawn by identity.QRSVG from our own otpauth URI: markup we made, not
	// anything a person typed, so it may go into the page as is.
	u.Render(w, r, status, "account-2fa-setup", twoStepSetupPage{form: st, QR: template.HTML(svg), Secret: secret, URI: uri})
}

// recoveryPage shows recovery codes once.
type recoveryPage struct {
	Codes []string
	Fresh bool // just turned on, rather than regenerated
}

func (u *UI) twoStepConfirm(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	codes, err := u.svc().ConfirmTOTP(r.Context(), p.SessionID(), r.PostForm.Get("code"), authn.Client(r))
	if err != nil {
		st, status := u.failed(w, r, err, "two-step")
		// Show the same QR code again: the pending secret is unchanged until set-up is
		// started over. The secret comes back from the form only to redraw it; the
		// service checks the code against the secret it stored.
		secret, uri := r.PostForm.Get("secret"), r.PostForm.Get("uri")
		if !strings.HasPrefix(uri, "otpauth://totp/") || len(uri) > 512 || len(secret) > 64 {
			u.securityFail(w, r, p, "two-step", err)
			return
		}
		svg, qerr := identity.QRSVG(uri)
		if qerr != nil {
			u.securityFail(w, r, p, "two-step", err)
			return
		}
		u.renderSetup(w, r, st, status, secret, uri, svg)
		return
	}
	u.Render(w, r, http.StatusOK, "account-codes", recoveryPage{Codes: codes.Codes, Fresh: true})
}

func (u *UI) recoveryCodes(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	codes, err := u.svc().RegenerateRecoveryCodes(r.Context(), p.SessionID())
	if err != nil {
		u.securityFail(w, r, p, "two-step", err)
		return
	}
	u.Render(w, r, http.StatusOK, "account-codes", recoveryPage{Codes: codes.Codes})
}

func (u *UI) twoStepDisable(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if err := u.svc().DisableTOTP(r.Context(), p.SessionID(), r.PostForm.Get("password"), r.PostForm.Get("code"), authn.Client(r)); err != nil {
		u.securityFail(w, r, p, "two-step", err)
		return
	}
	redirectDone(w, r, "/account/security", "two_step_off")
}

func (u *UI) changePassword(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	in := identity.ChangePasswordInput{CurrentPassword: r.PostForm.Get("current_password"), NewPassword: r.PostForm.Get("new_password")}
	if err := u.svc().ChangePassword(r.Context(), p.SessionID(), in, authn.Client(r)); err != nil {
		u.securityFail(w, r, p, "password", err)
		return
	}
	// Every session ended, this one included: sign in again with the new password.
	authn.ClearSession(w, r)
	redirectDone(w, r, "/signin", "password_changed")
}

func (u *UI) revokeSession(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	id := r.PathValue("id")
	if err := u.svc().RevokeSession(r.Context(), p.User.ID, id); err != nil {
		u.securityFail(w, r, p, "sessions", err)
		return
	}
	if id == p.SessionID() {
		authn.ClearSession(w, r)
		redirectDone(w, r, "/signin", "signed_out")
		return
	}
	redirectDone(w, r, "/account/security", "session_revoked")
}

func (u *UI) revokeOthers(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if _, err := u.svc().RevokeOtherSessions(r.Context(), p.User.ID, p.SessionID()); err != nil {
		u.securityFail(w, r, p, "sessions", err)
		return
	}
	redirectDone(w, r, "/account/security", "others_revoked")
}

// keyCreatedPage shows a new key's secret, once.
type keyCreatedPage struct {
	Key         *identity.NewAPIKey
	ScopesLabel string
}

func (u *UI) scopes(r *http.Request, scopes []string) string {
	keys := make([]string, len(scopes))
	for i, s := range scopes {
		keys[i] = keyScopeKey(s)
	}
	return u.list(r, keys)
}

func (u *UI) createKey(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	in := identity.CreateAPIKeyInput{Name: r.PostForm.Get("name"), Scopes: r.PostForm["scopes"]}
	if len(in.Scopes) > len(identity.KeyScopes) {
		in.Scopes = in.Scopes[:len(identity.KeyScopes)+1] // still invalid, but bounded
	}
	k, err := u.svc().CreateAPIKey(r.Context(), p.SessionID(), in)
	if err != nil {
		u.securityFail(w, r, p, "api-keys", err)
		return
	}
	u.Render(w, r, http.StatusCreated, "account-apikey", keyCreatedPage{Key: k, ScopesLabel: u.scopes(r, k.Scopes)})
}

func (u *UI) revokeKey(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if err := u.svc().RevokeAPIKey(r.Context(), p.User.ID, r.PathValue("id")); err != nil {
		u.securityFail(w, r, p, "api-keys", err)
		return
	}
	redirectDone(w, r, "/account/security", "key_revoked")
}

func (u *UI) setPhone(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if _, err := u.svc().SetPhone(r.Context(), p.SessionID(), r.PostForm.Get("phone"), authn.Client(r)); err != nil {
		u.securityFail(w, r, p, "phone", err)
		return
	}
	http.Redirect(w, r, "/account/security?phone=sent#phone", http.StatusSeeOther)
}

func (u *UI) verifyPhone(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if _, err := u.svc().VerifyPhone(r.Context(), p.User.ID, r.PostForm.Get("code"), authn.Client(r)); err != nil {
		u.securityFail(w, r, p, "phone", err)
		return
	}
	redirectDone(w, r, "/account/security", "phone_verified")
}

func (u *UI) saveLanguage(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	lang := r.PostForm.Get("lang")
	if err := u.svc().SetLanguage(r.Context(), p.User.ID, lang); err != nil {
		if _, ok := apperr.As(err); !ok {
			u.RenderError(w, r, err)
			return
		}
		u.securityFail(w, r, p, "", err)
		return
	}
	setLangCookie(w, r, lang)
	redirectDone(w, r, "/account", "lang_saved")
}
