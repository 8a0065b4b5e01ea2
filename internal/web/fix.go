package web

import (
	"net/http"
	"sync"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/support/console"
	"okpay/internal/support/troubleshoot"
)

// Console is the troubleshooter ("fix my problem") and the agent console, as the server
// built them.
type Console struct {
	Troubleshoot *troubleshoot.Service
	Console      *console.Service
}

// The troubleshooter's pages: /fix lists the problems (and the ones the account's recent
// events suggest), /fix/{problem} shows the diagnosis with its one next step, and when a
// person is needed, the form that opens a ticket carrying the diagnosis.
func init() {
	addFeature(func(u *UI, mux *http.ServeMux) {
		if u.cfg.Console == nil || u.cfg.Console.Troubleshoot == nil {
			return
		}
		fixMuxes.Store(u, mux)
		mux.HandleFunc("GET /fix", u.fixHome)
		mux.HandleFunc("GET /fix/{problem}", u.fixProblem)
		mux.Handle("POST /fix/{problem}/ticket", u.post(u.signedIn(u.fixTicket)))
	})
}

func (u *UI) fixSvc() *troubleshoot.Service { return u.cfg.Console.Troubleshoot }

// fixMuxes remembers each UI's mux, so a next step is a button only when its page is
// served: the wallet's top-up and card pages come with the wallet's own web feature.
var fixMuxes sync.Map // *UI → *http.ServeMux

// served reports whether a GET of path reaches a page rather than the not-found
// catch-all.
func (u *UI) served(path string) bool {
	m, ok := fixMuxes.Load(u)
	if !ok {
		return true
	}
	r, err := http.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		return false
	}
	_, pattern := m.(*http.ServeMux).Handler(r)
	return pattern != "" && pattern != "/"
}

// fixItem is a problem as the list shows it.
type fixItem struct {
	ID, Title, Hint, Why string
}

type fixHomePage struct {
	Suggested []fixItem
	Problems  []fixItem
	SignedIn  bool
}

func (u *UI) fixHome(w http.ResponseWriter, r *http.Request) {
	lang := httpx.Lang(r.Context())
	pg := fixHomePage{}
	for _, p := range troubleshoot.Problems() {
		pg.Problems = append(pg.Problems, fixItem{ID: p.ID, Title: p.Title.In(lang), Hint: p.Hint.In(lang)})
	}
	if p := authn.From(r.Context()); p != nil && p.Session != nil {
		pg.SignedIn = true
		sg, err := u.fixSvc().Suggest(r.Context(), p.User.ID)
		if err != nil {
			u.RenderError(w, r, err)
			return
		}
		for _, s := range sg {
			pg.Suggested = append(pg.Suggested, fixItem{ID: s.Problem, Title: s.Title.In(lang), Why: s.Why.In(lang)})
		}
	}
	u.Render(w, r, http.StatusOK, "fix", pg)
}

// fixStep is the next step as a button (Href for a link, Post for a form) or a sentence.
type fixStep struct {
	Action string
	Label  string
	Href   string
	Post   string
	Text   string // for steps that are not buttons (wait until, nothing to do)
}

type fixPage struct {
	form
	Problem     string
	Title       string
	Cause       string
	Step        fixStep
	Article     string // help article slug for further reading
	NeedsPerson bool
	OfferTicket bool
	TicketWhen  string
	Related     []string
	SignedIn    bool
	Rule        string
}

// stepHrefs are where each action's button goes; the wallet's own pages for top-ups and
// cards, the account pages for the rest.
var stepHrefs = map[string]string{
	troubleshoot.ActionVerifyEmail:   "/verify-email",
	troubleshoot.ActionTopUp:         "/wallet/top-up",
	troubleshoot.ActionChangeCard:    "/wallet/cards",
	troubleshoot.ActionUnfreeze:      "/account/unfreeze",
	troubleshoot.ActionFreeze:        "/account/freeze",
	troubleshoot.ActionResetPassword: "/forgot-password",
	troubleshoot.ActionRaiseLevel:    "/account/identity",
	troubleshoot.ActionRetry:         "/wallet",
}

// stepPosts are actions done by posting a form.
var stepPosts = map[string]string{
	troubleshoot.ActionResendEmail: "/verify-email/resend",
}

// fixActionKey is the translation key of an action's button or sentence.
func fixActionKey(action string) string { return "fix.action." + action }

func (u *UI) fixStepOf(r *http.Request, d *troubleshoot.Diagnosis) fixStep {
	lang := httpx.Lang(r.Context())
	s := fixStep{Action: d.Step.Action, Label: u.tr(r, fixActionKey(d.Step.Action))}
	switch d.Step.Action {
	case troubleshoot.ActionWaitUntil:
		s.Text = s.Label + " " + when(d.Step.Until, lang, time.Now())
	case troubleshoot.ActionOpenArticle:
		s.Href = "/help/" + d.Step.Article
	case troubleshoot.ActionOpenTicket:
		s.Href = "#ticket"
	case troubleshoot.ActionNone:
		s.Text = s.Label
	default:
		s.Href, s.Post = stepHrefs[d.Step.Action], stepPosts[d.Step.Action]
		if s.Href != "" && !u.served(s.Href) {
			// The page for this step is not part of this server yet: the help article
			// says how, and the step is named without a dead button.
			s.Href = ""
			if d.Step.Article != "" {
				s.Href = "/help/" + d.Step.Article
				s.Label = s.Label + " — " + u.tr(r, "fix.how")
			}
		}
		if s.Href == "" && s.Post == "" {
			s.Text = s.Label
		}
	}
	return s
}

func (u *UI) fixPageOf(r *http.Request, d *troubleshoot.Diagnosis, signedIn bool) fixPage {
	lang := httpx.Lang(r.Context())
	p, _ := troubleshoot.ProblemByID(d.Problem)
	pg := fixPage{Problem: d.Problem, Title: p.Title.In(lang), Cause: d.Cause.In(lang), Step: u.fixStepOf(r, d), Article: d.Step.Article,
		NeedsPerson: d.NeedsPerson, OfferTicket: d.OfferTicket && signedIn, TicketWhen: d.TicketWhen.In(lang), Related: d.Related,
		SignedIn: signedIn, Rule: d.Rule}
	if pg.Step.Href == "/help/"+pg.Article {
		pg.Article = "" // the button already opens it
	}
	return pg
}

func (u *UI) fixProblem(w http.ResponseWriter, r *http.Request) {
	problem := r.PathValue("problem")
	if _, ok := troubleshoot.ProblemByID(problem); !ok {
		u.RenderError(w, r, apperr.New(troubleshoot.CodeProblemUnknown))
		return
	}
	p := authn.From(r.Context())
	if p == nil || p.Session == nil {
		if problem == troubleshoot.ProblemSignIn {
			// Someone who cannot sign in still gets an answer, just not about their account.
			u.Render(w, r, http.StatusOK, "fix-problem", u.fixPageOf(r, troubleshoot.AnonymousSignIn(time.Now()), false))
			return
		}
		u.signedIn(func(http.ResponseWriter, *http.Request, *authn.Principal) {})(w, r)
		return
	}
	d, err := u.fixSvc().Diagnose(r.Context(), p.User.ID, problem)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	u.Render(w, r, http.StatusOK, "fix-problem", u.fixPageOf(r, d, true))
}

func (u *UI) fixTicket(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	problem := r.PathValue("problem")
	t, d, err := u.fixSvc().OpenTicket(r.Context(), p.User.ID, problem, troubleshoot.TicketInput{Description: r.PostForm.Get("description")})
	if err != nil {
		if d == nil {
			if d, _ = u.fixSvc().Diagnose(r.Context(), p.User.ID, problem); d == nil {
				u.RenderError(w, r, err)
				return
			}
		}
		pg := u.fixPageOf(r, d, true)
		var status int
		pg.form, status = u.failed(w, r, err, "fix")
		if v := r.PostForm.Get("description"); len(v) < 16<<10 {
			pg.Values.Set("description", v)
		}
		u.Render(w, r, status, "fix-problem", pg)
		return
	}
	redirectDone(w, r, "/tickets/"+t.Number, "ticket_opened")
}
