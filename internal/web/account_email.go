package web

import (
	"net/http"
	"time"

	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
)

// Changing the account's email: the "Email address" section of the security page asks
// for the new address (after the inline step-up, like the password change), the code page
// takes the code mailed to it, and the security page confirms the change.
func init() {
	sections = append(sections, "email")
	doneKeys["email_changed"] = "done.email_changed"
	addFeature(func(u *UI, mux *http.ServeMux) {
		if u.cfg.Accounts == nil {
			return
		}
		mux.Handle("POST /account/email", u.post(u.signedIn(u.requestEmailChange)))
		mux.Handle("POST /account/email/confirm", u.post(u.signedIn(u.confirmEmailChange)))
	})
}

// emailChangePage asks for the code mailed to the new address.
type emailChangePage struct {
	form
	SentTo  string
	Expires string
	NextAt  string
}

func (u *UI) requestEmailChange(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	res, err := u.svc().RequestEmailChange(r.Context(), p.SessionID(), r.PostForm.Get("email"), authn.Client(r))
	if err != nil {
		st, status := u.failed(w, r, err, "email")
		if st.Err.Code == identity.CodeEmailTaken {
			// The generic next steps (sign in, reset the password) are for registering;
			// here the person is signed in and only needs another address.
			st.Err.Actions = nil
		}
		u.renderSecurity(w, r, p, "email", st, status)
		return
	}
	lang, now := httpx.Lang(r.Context()), time.Now()
	u.Render(w, r, http.StatusOK, "account-email", emailChangePage{form: form{}, SentTo: res.SentTo,
		Expires: when(res.ExpiresAt, lang, now), NextAt: when(res.NextAt, lang, now)})
}

func (u *UI) confirmEmailChange(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if _, err := u.svc().ConfirmEmailChange(r.Context(), p.SessionID(), r.PostForm.Get("code"), authn.Client(r)); err != nil {
		st, status := u.failed(w, r, err, "email-change")
		// The address comes back from the form only to be shown and offered for a new
		// code; the service uses the address the code was mailed to.
		pg := emailChangePage{form: st, SentTo: identity.NormalizeEmail(st.V("email"))}
		u.Render(w, r, status, "account-email", pg)
		return
	}
	http.Redirect(w, r, "/account/security?done=email_changed#email", http.StatusSeeOther)
}
