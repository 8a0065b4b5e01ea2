package api

import (
	"net/http"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/support/console"
	"okpay/internal/support/tickets"
)

// The agent console: queues, the customer view, identity checks, the actions they unlock,
// notes and canned replies. Staff only, from a browser session (never an API key).

// ConsoleSearchResponse names the customer found.
type ConsoleSearchResponse struct {
	CustomerID string `json:"customer_id"`
}

// ConsoleCodeRequest sends a check code to the customer.
type ConsoleCodeRequest struct {
	Channel string `json:"channel" doc:"email or phone (the customer's verified address)"`
}

// ConsoleNoteRequest adds an internal note.
type ConsoleNoteRequest struct {
	Body string `json:"body"`
}

// ConsoleReplyRequest answers a ticket: Body, or when empty the canned reply CannedID in
// the ticket's language.
type ConsoleReplyRequest struct {
	Body     string `json:"body,omitempty"`
	CannedID string `json:"canned_id,omitempty"`
	Status   string `json:"status,omitempty" doc:"after the reply: waiting_on_customer (default), open or resolved"`
}

// ConsoleCannedResponse lists the canned replies.
type ConsoleCannedResponse struct {
	Canned []console.Canned `json:"canned"`
}

func consoleAgentOf(r *http.Request, p *authn.Principal) console.Agent {
	c := authn.Client(r)
	return console.Agent{ID: p.User.ID, Role: p.User.Role, Lang: httpx.Lang(r.Context()), ClientAddr: c.IP, UserAgent: c.UserAgent}
}

func (a *API) consoleRoutes() {
	rt := a.router
	cs := a.deps.Console.Console
	staff := func(h func(http.ResponseWriter, *http.Request, console.Agent)) http.HandlerFunc {
		return authn.RequireRole(httpx.WriteError, []identity.Role{identity.RoleAgent, identity.RoleRiskReviewer, identity.RoleAdmin},
			func(w http.ResponseWriter, r *http.Request) {
				p := authn.From(r.Context())
				if p.Session == nil {
					httpx.WriteError(w, r, apperr.New(apperr.CodeUnauthenticated))
					return
				}
				h(w, r, consoleAgentOf(r, p))
			})
	}
	mut := func(h func(http.ResponseWriter, *http.Request, console.Agent)) http.HandlerFunc {
		return a.idemOpt(staff(h))
	}
	denied := []string{apperr.CodeUnauthenticated, apperr.CodeForbidden}
	notFound := append(denied, console.CodeNoCustomer)

	rt.Handle(Route{Method: "GET", Path: "/agent/console", ID: "consoleHome", Tag: "agent", Auth: "session",
		Summary: "The agent's queues: tickets by response deadline (breaches counted) and chats waiting", Response: console.Home{}, Errors: denied,
		Handler: staff(func(w http.ResponseWriter, r *http.Request, ag console.Agent) {
			h, err := cs.Home(r.Context(), ag)
			reply(w, r, h, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/agent/customers", ID: "consoleSearch", Tag: "agent", Auth: "session",
		Summary: "Find a customer by email, phone, ticket number or activity reference",
		Query:   map[string]string{"q": "email, +86 phone, T-2026-000123 or a reference number"}, Response: ConsoleSearchResponse{},
		Errors: append(notFound, apperr.CodeValidation),
		Handler: staff(func(w http.ResponseWriter, r *http.Request, ag console.Agent) {
			id, err := cs.Search(r.Context(), ag, r.URL.Query().Get("q"))
			reply(w, r, ConsoleSearchResponse{CustomerID: id}, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/agent/customers/{id}", ID: "consoleCustomer", Tag: "agent", Auth: "session",
		Summary:  "The customer view: status, activity, devices, tickets, chats, diagnosis, notes and this agent's identity checks",
		Response: console.Customer{}, Errors: notFound,
		Handler: staff(func(w http.ResponseWriter, r *http.Request, ag console.Agent) {
			c, err := cs.Customer(r.Context(), ag, r.PathValue("id"))
			reply(w, r, c, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/agent/customers/{id}/checks", ID: "consoleChecks", Tag: "agent", Auth: "session",
		Summary: "This agent's identity checks of the customer and which checks are possible", Response: console.CheckState{}, Errors: notFound,
		Handler: staff(func(w http.ResponseWriter, r *http.Request, ag console.Agent) {
			st, err := cs.Checks(r.Context(), ag, r.PathValue("id"))
			reply(w, r, st, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/agent/customers/{id}/checks/code", ID: "consoleSendCode", Tag: "agent", Auth: "session",
		Summary: "Send a 6-digit code to the customer's verified email or phone, to be read back", Request: ConsoleCodeRequest{}, Response: console.CodeSent{},
		Errors: append(notFound, apperr.CodeValidation, console.CodeCheckUnavailable, console.CodeCheckLocked, console.CodeCodeCooldown),
		Handler: mut(func(w http.ResponseWriter, r *http.Request, ag console.Agent) {
			var in ConsoleCodeRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			s, err := cs.SendCode(r.Context(), ag, r.PathValue("id"), in.Channel)
			reply(w, r, s, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/agent/customers/{id}/checks", ID: "consoleRecordChecks", Tag: "agent", Auth: "session",
		Summary: "Record what the customer told: the code read back, a card's last 4 digits, a recent amount", Request: console.CheckInput{},
		Response: console.CheckState{},
		Errors: append(notFound, apperr.CodeValidation, apperr.CodeCurrencyUnsupported, console.CodeCheckUnavailable, console.CodeCheckLocked,
			identity.CodeCodeExpired),
		Handler: mut(func(w http.ResponseWriter, r *http.Request, ag console.Agent) {
			var in console.CheckInput
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			st, err := cs.RecordChecks(r.Context(), ag, r.PathValue("id"), in)
			reply(w, r, st, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/agent/customers/{id}/actions", ID: "consoleAct", Tag: "agent", Auth: "session", Status: http.StatusNoContent,
		Summary: "Unlock, unfreeze, resend verification, approve or reject a document — with a reason, after a passed identity check (audited)",
		Request: console.ActionInput{},
		Errors: append(notFound, apperr.CodeValidation, console.CodeCheckRequired, console.CodeCheckLocked, identity.CodeNotFrozen,
			identity.CodeEmailAlreadyVerified, identity.CodeResendCooldown, identity.CodeReviewConflict, apperr.CodeNotFound),
		Handler: mut(func(w http.ResponseWriter, r *http.Request, ag console.Agent) {
			var in console.ActionInput
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			replyEmpty(w, r, cs.Act(r.Context(), ag, r.PathValue("id"), in))
		})})
	rt.Handle(Route{Method: "POST", Path: "/agent/customers/{id}/notes", ID: "consoleAddNote", Tag: "agent", Auth: "session", Status: http.StatusCreated,
		Summary: "Keep an internal note about the customer", Request: ConsoleNoteRequest{}, Response: console.Note{},
		Errors: append(notFound, apperr.CodeValidation),
		Handler: mut(func(w http.ResponseWriter, r *http.Request, ag console.Agent) {
			var in ConsoleNoteRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			n, err := cs.AddNote(r.Context(), ag, r.PathValue("id"), in.Body)
			replyStatus(w, r, http.StatusCreated, n, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/agent/canned", ID: "consoleCanned", Tag: "agent", Auth: "session",
		Summary: "Canned replies for the ticket reply box, in both languages", Response: ConsoleCannedResponse{}, Errors: denied,
		Handler: staff(func(w http.ResponseWriter, r *http.Request, ag console.Agent) {
			httpx.WriteJSON(w, http.StatusOK, ConsoleCannedResponse{Canned: console.CannedReplies()})
		})})
	rt.Handle(Route{Method: "POST", Path: "/agent/tickets/{number}/canned-reply", ID: "consoleReply", Tag: "agent", Auth: "session", Status: http.StatusCreated,
		Summary: "Answer a ticket with a body or a canned reply in the ticket's language", Request: ConsoleReplyRequest{}, Response: tickets.Message{},
		Errors: append(denied, apperr.CodeValidation, apperr.CodeNotFound, tickets.CodeTicketClosed, tickets.CodeTooLong),
		Handler: mut(func(w http.ResponseWriter, r *http.Request, ag console.Agent) {
			var in ConsoleReplyRequest
			if err := httpx.DecodeJSON(w, r, &in); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			m, err := cs.Reply(r.Context(), ag, r.PathValue("number"), in.Body, in.CannedID, tickets.Status(in.Status))
			replyStatus(w, r, http.StatusCreated, m, err)
		})})
}
