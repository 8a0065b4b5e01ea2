package api

import (
	"net/http"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/support/console"
	"okpay/internal/support/tickets"
	"okpay/internal/support/troubleshoot"
)

// Console is the troubleshooter and the agent console, as the server built them.
type Console struct {
	Troubleshoot *troubleshoot.Service
	Console      *console.Service
}

// The troubleshooter ("fix my problem"): the problems to pick from with the ones the
// account's state suggests, a diagnosis per problem, and a ticket opened from a diagnosis
// that needs a person.

// FixProblem is one problem in the caller's language.
type FixProblem struct {
	ID    string `json:"id" doc:"cannot_sign_in, account_restricted, no_registration_email, payment_failed, withdrawal_failed, unauthorized_payment, coins_not_released, change_card, cancel_automatic_payment or something_else"`
	Title string `json:"title"`
	Hint  string `json:"hint"`
}

// FixSuggestion is a problem the account's recent events point at.
type FixSuggestion struct {
	Problem string `json:"problem"`
	Title   string `json:"title"`
	Why     string `json:"why"`
}

// FixProblemsResponse lists the problems, and for a signed-in caller the suggested ones.
type FixProblemsResponse struct {
	Problems  []FixProblem    `json:"problems"`
	Suggested []FixSuggestion `json:"suggested"`
}

// FixDiagnosisResponse is a diagnosis with its texts in the caller's language; Diagnosis
// holds both languages and the facts the rule used.
type FixDiagnosisResponse struct {
	Cause      string                  `json:"cause"`
	NextStep   string                  `json:"next_step" doc:"the action: verify_email, resend_verification, top_up, change_card, unfreeze, freeze, reset_password, wait_until, raise_level, open_article, open_ticket, retry or none"`
	Until      string                  `json:"until,omitempty" doc:"RFC 3339, for wait_until"`
	Article    string                  `json:"article,omitempty" doc:"help article slug, /api/v1/help/articles/{slug}"`
	TicketWhen string                  `json:"ticket_when,omitempty"`
	Diagnosis  *troubleshoot.Diagnosis `json:"diagnosis"`
}

// FixTicketRequest opens a ticket from a diagnosis.
type FixTicketRequest struct {
	Description string `json:"description,omitempty" doc:"optional: the diagnosis already says what happened (≤ 4000 characters)"`
}

// FixTicketResponse is the ticket and the diagnosis it carries.
type FixTicketResponse struct {
	Ticket    *tickets.Ticket         `json:"ticket"`
	Diagnosis *troubleshoot.Diagnosis `json:"diagnosis"`
}

func (a *API) fixRoutes() {
	rt := a.router
	ts := a.deps.Console.Troubleshoot
	rt.Handle(Route{Method: "GET", Path: "/fix/problems", ID: "listFixProblems", Tag: "support", Auth: "none",
		Summary:  "The troubleshooter's problems, and the ones suggested by the signed-in account's recent events",
		Response: FixProblemsResponse{},
		Handler: func(w http.ResponseWriter, r *http.Request) {
			lang := httpx.Lang(r.Context())
			out := FixProblemsResponse{Problems: []FixProblem{}, Suggested: []FixSuggestion{}}
			for _, p := range troubleshoot.Problems() {
				out.Problems = append(out.Problems, FixProblem{ID: p.ID, Title: p.Title.In(lang), Hint: p.Hint.In(lang)})
			}
			if p := authn.From(r.Context()); p != nil && p.User != nil {
				sg, err := ts.Suggest(r.Context(), p.User.ID)
				if err != nil {
					httpx.WriteError(w, r, err)
					return
				}
				for _, s := range sg {
					out.Suggested = append(out.Suggested, FixSuggestion{Problem: s.Problem, Title: s.Title.In(lang), Why: s.Why.In(lang)})
				}
			}
			httpx.WriteJSON(w, http.StatusOK, out)
		}})
	diagnose := a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
		d, err := ts.Diagnose(r.Context(), p.User.ID, r.PathValue("problem"))
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, fixResponse(r, d))
	})
	rt.Handle(Route{Method: "GET", Path: "/fix/{problem}", ID: "diagnoseProblem", Tag: "support", Auth: "either",
		Summary:  "Diagnose a problem on the caller's account: the cause and the one next step (cannot_sign_in also answers visitors, without an account)",
		Response: FixDiagnosisResponse{}, Errors: []string{apperr.CodeUnauthenticated, troubleshoot.CodeProblemUnknown},
		Handler: func(w http.ResponseWriter, r *http.Request) {
			if p := authn.From(r.Context()); (p == nil || p.User == nil) && r.PathValue("problem") == troubleshoot.ProblemSignIn {
				// Someone who cannot sign in still gets an answer, just not about an account.
				httpx.WriteJSON(w, http.StatusOK, fixResponse(r, troubleshoot.AnonymousSignIn(time.Now())))
				return
			}
			diagnose(w, r)
		}})
	rt.Handle(Route{Method: "POST", Path: "/fix/{problem}/ticket", ID: "openFixTicket", Tag: "support", Auth: "session", Status: http.StatusCreated,
		Summary: "Open a ticket carrying the diagnosis and the related records (only when the diagnosis offers one)",
		Request: FixTicketRequest{}, Response: FixTicketResponse{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeValidation, apperr.CodeInvalidJSON, troubleshoot.CodeProblemUnknown,
			troubleshoot.CodeSelfService, apperr.CodeRateLimited},
		Handler: a.idemOpt(authn.RequireSession(httpx.WriteError, withPrincipal(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var in FixTicketRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			t, d, err := ts.OpenTicket(r.Context(), p.User.ID, r.PathValue("problem"), troubleshoot.TicketInput{Description: in.Description})
			replyStatus(w, r, http.StatusCreated, FixTicketResponse{Ticket: t, Diagnosis: d}, err)
		})))})
}

func fixResponse(r *http.Request, d *troubleshoot.Diagnosis) FixDiagnosisResponse {
	lang := httpx.Lang(r.Context())
	out := FixDiagnosisResponse{Cause: d.Cause.In(lang), NextStep: d.Step.Action, Article: d.Step.Article,
		TicketWhen: d.TicketWhen.In(lang), Diagnosis: d}
	if !d.Step.Until.IsZero() {
		out.Until = d.Step.Until.UTC().Format(time.RFC3339)
	}
	return out
}
