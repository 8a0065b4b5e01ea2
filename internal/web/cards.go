package web

import (
	"net/http"
	"net/url"
	"strings"

	"okpay/internal/authn"
	"okpay/internal/wallet"
)

// cardRoutes are the bank card pages: list and add, verify with the statement code, set
// default, remove, and change card. Adding and removing need a recent step-up; the form
// for it appears in place and comes back here.
func (u *UI) cardRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /wallet/cards", u.signedIn(u.cardsPage))
	mux.Handle("POST /wallet/cards", u.post(u.signedIn(u.addCard)))
	mux.HandleFunc("GET /wallet/cards/{id}/verify", u.signedIn(u.verifyCardPage))
	mux.Handle("POST /wallet/cards/{id}/verify", u.post(u.signedIn(u.verifyCard)))
	mux.Handle("POST /wallet/cards/{id}/default", u.post(u.signedIn(u.defaultCard)))
	mux.Handle("POST /wallet/cards/{id}/remove", u.post(u.signedIn(u.removeCard)))
	mux.HandleFunc("GET /wallet/cards/{id}/change", u.signedIn(u.changeCardPage))
	mux.Handle("POST /wallet/cards/{id}/change", u.post(u.signedIn(u.changeCard)))
}

func (u *UI) cardsPage(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u.cardsWith(w, r, p, wdata{}, http.StatusOK)
}

func (u *UI) cardsWith(w http.ResponseWriter, r *http.Request, p *authn.Principal, d wdata, status int) {
	cs, err := u.wsvc().ListCards(r.Context(), p.User.ID)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	d.Cards = cs
	d.StepUpNext = "/wallet/cards"
	u.wrender(w, r, status, "cards", d)
}

func cardInput(r *http.Request, p *authn.Principal) wallet.AddCardInput {
	return wallet.AddCardInput{UserID: p.User.ID, SessionID: p.SessionID(), Number: r.PostForm.Get("number"), ExpMonth: strings.TrimSpace(r.PostForm.Get("exp_month")),
		ExpYear: strings.TrimSpace(r.PostForm.Get("exp_year")), Holder: strings.TrimSpace(r.PostForm.Get("holder")), CVV: r.PostForm.Get("cvv"),
		Asset: r.PostForm.Get("asset")}
}

func (u *UI) addCard(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	c, err := u.wsvc().AddCard(r.Context(), cardInput(r, p))
	if err != nil {
		d, status := u.wfail(w, r, err)
		u.cardsWith(w, r, p, d, status)
		return
	}
	redirectDone(w, r, "/wallet/cards/"+url.PathEscape(c.ID)+"/verify", "card_added")
}

func (u *UI) cardOf(r *http.Request, p *authn.Principal) (*wallet.Card, error) {
	cs, err := u.wsvc().ListCards(r.Context(), p.User.ID)
	if err != nil {
		return nil, err
	}
	for i := range cs {
		if cs[i].ID == r.PathValue("id") {
			return &cs[i], nil
		}
	}
	return nil, nil
}

func (u *UI) verifyCardPage(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u.verifyCardWith(w, r, p, wdata{}, http.StatusOK)
}

func (u *UI) verifyCardWith(w http.ResponseWriter, r *http.Request, p *authn.Principal, d wdata, status int) {
	c, err := u.cardOf(r, p)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	if c == nil {
		u.notFound(w, r)
		return
	}
	d.Card = c
	if sb := u.cfg.Wallet.Sandbox; sb != nil {
		if ls, err := sb.Statement(r.Context(), p.User.ID, c.ID); err == nil {
			d.Statement = ls
		}
	}
	u.wrender(w, r, status, "cards-verify", d)
}

func (u *UI) verifyCard(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if _, err := u.wsvc().VerifyCard(r.Context(), p.User.ID, r.PathValue("id"), strings.TrimSpace(r.PostForm.Get("code"))); err != nil {
		d, status := u.wfail(w, r, err)
		u.verifyCardWith(w, r, p, d, status)
		return
	}
	redirectDone(w, r, "/wallet/cards", "card_verified")
}

func (u *UI) defaultCard(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if err := u.wsvc().SetDefaultCard(r.Context(), p.User.ID, r.PathValue("id")); err != nil {
		d, status := u.wfail(w, r, err)
		u.cardsWith(w, r, p, d, status)
		return
	}
	redirectDone(w, r, "/wallet/cards", "card_default")
}

func (u *UI) removeCard(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if err := u.wsvc().RemoveCard(r.Context(), p.User.ID, p.SessionID(), r.PathValue("id")); err != nil {
		d, status := u.wfail(w, r, err)
		u.cardsWith(w, r, p, d, status)
		return
	}
	redirectDone(w, r, "/wallet/cards", "card_removed")
}

func (u *UI) changeCardPage(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u.changeCardWith(w, r, p, wdata{}, http.StatusOK)
}

func (u *UI) changeCardWith(w http.ResponseWriter, r *http.Request, p *authn.Principal, d wdata, status int) {
	c, err := u.cardOf(r, p)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	if c == nil {
		u.notFound(w, r)
		return
	}
	d.Card = c
	d.StepUpNext = "/wallet/cards/" + c.ID + "/change"
	u.wrender(w, r, status, "cards-change", d)
}

func (u *UI) changeCard(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	c, err := u.wsvc().ChangeCard(r.Context(), wallet.ChangeCardInput{AddCardInput: cardInput(r, p), OldCardID: r.PathValue("id")})
	if err != nil {
		d, status := u.wfail(w, r, err)
		u.changeCardWith(w, r, p, d, status)
		return
	}
	redirectDone(w, r, "/wallet/cards/"+url.PathEscape(c.ID)+"/verify", "card_changing")
}
