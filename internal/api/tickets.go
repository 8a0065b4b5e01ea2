package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/support/tickets"
)

// Tickets: customers open and follow their own; agents work the queue. Creating a ticket
// or a message takes JSON, or multipart/form-data with the same fields plus up to five
// "attachments" files (PNG, JPEG or PDF by content, 5 MB each). JSON calls go through the
// Idempotency-Key guard; multipart ones do not (the guard buffers small bodies only).

// CreateTicketRequest opens a ticket.
type CreateTicketRequest struct {
	Category    string `json:"category" doc:"account, payment, withdrawal, top_up, transfer, card, unauthorized, verification, merchant or other"`
	Subject     string `json:"subject"`
	Description string `json:"description"`
	RelatedRef  string `json:"related_ref,omitempty" doc:"id of the transaction the ticket is about"`
}

// TicketMessageRequest adds to a thread.
type TicketMessageRequest struct {
	Body string `json:"body"`
}

// AgentReplyRequest is an agent's answer, mailed to the customer.
type AgentReplyRequest struct {
	Body   string `json:"body"`
	Status string `json:"status,omitempty" doc:"after the reply: waiting_on_customer (default), open or resolved"`
}

// TicketStatusRequest changes the status.
type TicketStatusRequest struct {
	Status string `json:"status" doc:"new, open, waiting_on_customer, resolved or closed"`
	Reason string `json:"reason,omitempty" doc:"for the audit log"`
}

// TicketAssignRequest assigns a ticket.
type TicketAssignRequest struct {
	AssigneeID string `json:"assignee_id" doc:"an agent's user id; empty unassigns"`
}

// TicketNoteRequest adds an internal note.
type TicketNoteRequest struct {
	Body string `json:"body"`
}

// deskRoles may work the ticket desk.
var deskRoles = []identity.Role{identity.RoleAgent, identity.RoleAdmin}

func actorOf(r *http.Request, p *authn.Principal) tickets.Actor {
	return tickets.Actor{UserID: p.User.ID, Role: p.User.Role, ClientAddr: authn.Client(r).IP}
}

// idemOpt is the Idempotency-Key guard when the server has one.
func (a *API) idemOpt(h http.HandlerFunc) http.HandlerFunc {
	if a.deps.Accounts == nil {
		return h
	}
	return a.idem(h)
}

func isMultipart(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}

// parseTicketForm reads a multipart body and its attachments.
func parseTicketForm(w http.ResponseWriter, r *http.Request) ([]tickets.Upload, func(), error) {
	r.Body = http.MaxBytesReader(w, r.Body, tickets.MaxFormBytes)
	if err := r.ParseMultipartForm(2 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, func() {}, apperr.New(apperr.CodeBodyTooLarge).Wrap(err)
		}
		return nil, func() {}, apperr.New(apperr.CodeBadRequest).Wrap(err)
	}
	ups, done, err := tickets.FormUploads(r.MultipartForm.File["attachments"])
	return ups, func() { done(); r.MultipartForm.RemoveAll() }, err
}

func (a *API) ticketRoutes() {
	rt := a.router
	svc := a.deps.Tickets
	sess := func(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
		return authn.RequireSession(httpx.WriteError, withPrincipal(h))
	}
	// jsonOrForm sends JSON bodies through the idempotency guard and multipart ones straight on.
	jsonOrForm := func(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
		guarded := a.idemOpt(sess(h))
		direct := sess(h)
		return func(w http.ResponseWriter, r *http.Request) {
			if isMultipart(r) {
				direct(w, r)
				return
			}
			guarded(w, r)
		}
	}
	staff := func(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
		return authn.RequireRole(httpx.WriteError, deskRoles, func(w http.ResponseWriter, r *http.Request) {
			p := authn.From(r.Context())
			if p.Session == nil {
				// Desk powers are for people at a browser, not for scripts holding a key.
				httpx.WriteError(w, r, apperr.New(apperr.CodeUnauthenticated))
				return
			}
			h(w, r, p)
		})
	}
	mut := func(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
		return a.idemOpt(staff(h))
	}
	fileErrs := []string{tickets.CodeAttachmentType, tickets.CodeAttachmentTooLarge, tickets.CodeTooManyAttachments, tickets.CodeAttachmentEmpty, apperr.CodeBodyTooLarge}
	denied := []string{apperr.CodeUnauthenticated, apperr.CodeForbidden}

	rt.Handle(Route{Method: "GET", Path: "/tickets", ID: "listTickets", Tag: "support", Auth: "either",
		Summary: "My tickets, newest first", Response: tickets.Page{},
		Query:  map[string]string{"cursor": "from the previous page's next", "limit": "1–100, default 20"},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeValidation},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
			page, err := svc.List(r.Context(), actorOf(r, p), r.URL.Query().Get("cursor"), limit)
			reply(w, r, page, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/tickets", ID: "createTicket", Tag: "support", Auth: "session", Status: http.StatusCreated,
		Summary: "Open a ticket (JSON, or multipart/form-data with the same fields and up to 5 \"attachments\" files)",
		Request: CreateTicketRequest{}, Response: tickets.Ticket{},
		Errors: append([]string{apperr.CodeUnauthenticated, apperr.CodeValidation, apperr.CodeInvalidJSON}, fileErrs...),
		Handler: jsonOrForm(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			in := tickets.OpenInput{CustomerID: p.User.ID, Via: tickets.ViaAPI}
			if isMultipart(r) {
				ups, done, err := parseTicketForm(w, r)
				defer done()
				if err != nil {
					httpx.WriteError(w, r, err)
					return
				}
				in.Category, in.Subject, in.Description, in.RelatedRef = r.FormValue("category"), r.FormValue("subject"),
					r.FormValue("description"), r.FormValue("related_ref")
				in.Attachments = ups
			} else {
				var req CreateTicketRequest
				if err := httpx.DecodeJSON(w, r, &req); err != nil {
					httpx.WriteError(w, r, err)
					return
				}
				in.Category, in.Subject, in.Description, in.RelatedRef = req.Category, req.Subject, req.Description, req.RelatedRef
			}
			t, err := svc.Open(r.Context(), in)
			replyStatus(w, r, http.StatusCreated, t, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/tickets/{number}", ID: "getTicket", Tag: "support", Auth: "either",
		Summary: "A ticket with its thread (agents also see internal notes and the diagnosis)", Response: tickets.Thread{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeNotFound},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			th, err := svc.Get(r.Context(), actorOf(r, p), r.PathValue("number"))
			if err == nil {
				th.Messages = nonNil(th.Messages)
			}
			reply(w, r, th, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/tickets/{number}/attachments/{id}", ID: "getTicketAttachment", Tag: "support", Auth: "either",
		Summary: "Download an attachment (always as a download, never rendered)",
		Errors:  []string{apperr.CodeUnauthenticated, apperr.CodeNotFound},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			f, err := svc.OpenAttachment(r.Context(), actorOf(r, p), r.PathValue("number"), r.PathValue("id"))
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			defer f.Content.Close()
			ServeAttachment(w, r, f)
		})})
	rt.Handle(Route{Method: "POST", Path: "/tickets/{number}/messages", ID: "addTicketMessage", Tag: "support", Auth: "session", Status: http.StatusCreated,
		Summary: "Add a message to my ticket (JSON, or multipart/form-data with body and up to 5 \"attachments\"); reopens a waiting or resolved ticket",
		Request: TicketMessageRequest{}, Response: tickets.Message{},
		Errors: append([]string{apperr.CodeUnauthenticated, apperr.CodeNotFound, apperr.CodeValidation, tickets.CodeTicketClosed, tickets.CodeThreadFull}, fileErrs...),
		Handler: jsonOrForm(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			in := tickets.ReplyInput{Via: tickets.ViaAPI}
			if isMultipart(r) {
				ups, done, err := parseTicketForm(w, r)
				defer done()
				if err != nil {
					httpx.WriteError(w, r, err)
					return
				}
				in.Body, in.Attachments = r.FormValue("body"), ups
			} else {
				var req TicketMessageRequest
				if err := httpx.DecodeJSON(w, r, &req); err != nil {
					httpx.WriteError(w, r, err)
					return
				}
				in.Body = req.Body
			}
			a := actorOf(r, p)
			if a.Staff() {
				// Agents answer through /agent/tickets/{number}/reply, which mails and audits.
				a.Role = identity.RoleCustomer
			}
			m, err := svc.Reply(r.Context(), a, r.PathValue("number"), in)
			replyStatus(w, r, http.StatusCreated, m, err)
		})})

	rt.Handle(Route{Method: "GET", Path: "/agent/tickets", ID: "agentTicketQueue", Tag: "agent", Auth: "session",
		Summary: "The ticket queue, most urgent response deadline first",
		Query: map[string]string{"status": "comma-separated statuses (default new,open,waiting_on_customer)",
			"assignee": "me, none or an agent id", "limit": "1–100, default 20"},
		Response: tickets.Page{}, Errors: append(denied, apperr.CodeValidation),
		Handler: staff(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			page, err := svc.Queue(r.Context(), actorOf(r, p), queueInput(r.URL.Query()))
			reply(w, r, page, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/agent/tickets/{number}/reply", ID: "agentReplyTicket", Tag: "agent", Auth: "session", Status: http.StatusCreated,
		Summary: "Answer the customer (sent by email too); JSON, or multipart/form-data with body, status and \"attachments\"",
		Request: AgentReplyRequest{}, Response: tickets.Message{},
		Errors: append(append(denied, apperr.CodeNotFound, apperr.CodeValidation, tickets.CodeTicketClosed, tickets.CodeStatusChange), fileErrs...),
		Handler: func(w http.ResponseWriter, r *http.Request) {
			h := func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
				in := tickets.ReplyInput{Via: tickets.ViaAPI}
				if isMultipart(r) {
					ups, done, err := parseTicketForm(w, r)
					defer done()
					if err != nil {
						httpx.WriteError(w, r, err)
						return
					}
					in.Body, in.Status, in.Attachments = r.FormValue("body"), tickets.Status(r.FormValue("status")), ups
				} else {
					var req AgentReplyRequest
					if err := httpx.DecodeJSON(w, r, &req); err != nil {
						httpx.WriteError(w, r, err)
						return
					}
					in.Body, in.Status = req.Body, tickets.Status(req.Status)
				}
				m, err := svc.Reply(r.Context(), actorOf(r, p), r.PathValue("number"), in)
				replyStatus(w, r, http.StatusCreated, m, err)
			}
			if isMultipart(r) {
				staff(h)(w, r)
				return
			}
			mut(h)(w, r)
		}})
	rt.Handle(Route{Method: "POST", Path: "/agent/tickets/{number}/status", ID: "agentTicketStatus", Tag: "agent", Auth: "session",
		Summary: "Change a ticket's status (the customer is told by email)", Request: TicketStatusRequest{}, Response: tickets.Ticket{},
		Errors: append(denied, apperr.CodeNotFound, apperr.CodeValidation, tickets.CodeStatusChange),
		Handler: mut(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var req TicketStatusRequest
			if err := httpx.DecodeJSON(w, r, &req); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			t, err := svc.SetStatus(r.Context(), actorOf(r, p), r.PathValue("number"), tickets.Status(req.Status), req.Reason)
			reply(w, r, t, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/agent/tickets/{number}/assign", ID: "agentAssignTicket", Tag: "agent", Auth: "session",
		Summary: "Assign a ticket to an agent (or unassign)", Request: TicketAssignRequest{}, Response: tickets.Ticket{},
		Errors: append(denied, apperr.CodeNotFound, apperr.CodeValidation, tickets.CodeTicketClosed),
		Handler: mut(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var req TicketAssignRequest
			if err := httpx.DecodeJSON(w, r, &req); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			t, err := svc.Assign(r.Context(), actorOf(r, p), r.PathValue("number"), req.AssigneeID)
			reply(w, r, t, err)
		})})
	rt.Handle(Route{Method: "POST", Path: "/agent/tickets/{number}/notes", ID: "agentTicketNote", Tag: "agent", Auth: "session", Status: http.StatusCreated,
		Summary: "Add an internal note (never shown to the customer)", Request: TicketNoteRequest{}, Response: tickets.Message{},
		Errors: append(denied, apperr.CodeNotFound, apperr.CodeValidation, tickets.CodeThreadFull),
		Handler: mut(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			var req TicketNoteRequest
			if err := httpx.DecodeJSON(w, r, &req); err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			m, err := svc.Note(r.Context(), actorOf(r, p), r.PathValue("number"), req.Body)
			replyStatus(w, r, http.StatusCreated, m, err)
		})})
}

// queueInput reads the queue filters from a query string.
func queueInput(q url.Values) tickets.QueueInput {
	in := tickets.QueueInput{Assignee: q.Get("assignee")}
	in.Limit, _ = strconv.Atoi(q.Get("limit"))
	if s := q.Get("status"); s != "" && len(s) < 200 {
		for _, st := range strings.Split(s, ",") {
			in.Statuses = append(in.Statuses, tickets.Status(strings.TrimSpace(st)))
		}
	}
	if len(in.Assignee) > 64 {
		in.Assignee = "-"
	}
	return in
}

// ServeAttachment sends a ticket file as a download: Content-Disposition attachment and
// nosniff keep a browser from rendering it, a sandboxing CSP covers the rest.
func ServeAttachment(w http.ResponseWriter, r *http.Request, f *tickets.File) {
	h := w.Header()
	h.Set("Content-Type", f.ContentType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.FileName}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Content-Length", fmt.Sprint(f.SizeBytes))
	if r.Method == http.MethodHead {
		return
	}
	io.Copy(w, f.Content)
}
