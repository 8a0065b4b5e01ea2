package web

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/support/hours"
	"okpay/internal/support/tickets"
)

// Ticket pages: a customer's list, the new-ticket form (multipart, attachments checked per
// file), the thread with the reply form; and the minimal agent pages (queue sorted by the
// response deadline, a ticket with reply, note, status and assign forms). The full agent
// console is another page set; these stay plain so it can reuse their pieces.
func init() {
	addFeature(func(u *UI, mux *http.ServeMux) {
		if u.cfg.Tickets == nil {
			return
		}
		mux.HandleFunc("GET /tickets", u.signedIn(u.ticketList))
		mux.HandleFunc("GET /tickets/new", u.signedIn(u.ticketNewForm))
		mux.Handle("POST /tickets/new", u.post(u.signedIn(u.ticketCreate)))
		mux.HandleFunc("GET /tickets/{number}", u.signedIn(u.ticketView))
		mux.Handle("POST /tickets/{number}/reply", u.post(u.signedIn(u.ticketReply)))
		mux.HandleFunc("GET /tickets/{number}/files/{id}", u.signedIn(u.ticketFile))
		mux.HandleFunc("GET /agent/tickets", u.desk(u.agentQueue))
		mux.HandleFunc("GET /agent/tickets/{number}", u.desk(u.agentTicket))
		mux.Handle("POST /agent/tickets/{number}/{action}", u.post(u.desk(u.agentTicketAction)))
	})
}

// desk wraps a page for agents and admins.
func (u *UI) desk(h func(http.ResponseWriter, *http.Request, *authn.Principal)) http.HandlerFunc {
	return u.signedIn(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
		if p.User.Role != identity.RoleAgent && p.User.Role != identity.RoleAdmin {
			u.RenderError(w, r, apperr.New(apperr.CodeForbidden))
			return
		}
		h(w, r, p)
	})
}

func ticketActor(r *http.Request, p *authn.Principal) tickets.Actor {
	return tickets.Actor{UserID: p.User.ID, Role: p.User.Role, ClientAddr: authn.Client(r).IP}
}

// ticketRow is a ticket as lists show it.
type ticketRow struct {
	tickets.Ticket
	StatusLabel   string
	CategoryLabel string
	PriorityLabel string
	Created       string
	Due           string // the current response deadline, "" when none is owed
	Overdue       bool
}

// ticketStatusKey is the translation key of a ticket status for its reader: the customer
// is "waiting for your reply" where the desk is "waiting for the customer".
func ticketStatusKey(st string, agent bool) string {
	if agent {
		return "tickets.agent.status." + st
	}
	return "tickets.status." + st
}

// rowOf is t as lists show it, worded for agents (agent) or for its customer.
func (u *UI) rowOf(r *http.Request, t tickets.Ticket, now time.Time, agent bool) ticketRow {
	lang := httpx.Lang(r.Context())
	row := ticketRow{Ticket: t, StatusLabel: u.tr(r, ticketStatusKey(string(t.Status), agent)),
		CategoryLabel: u.tr(r, "tickets.category."+t.Category), PriorityLabel: u.tr(r, "tickets.priority."+string(t.Priority)), Created: when(t.CreatedAt, lang, now)}
	if !t.ResponseDue.IsZero() {
		row.Due = when(t.ResponseDue, lang, now)
		row.Overdue = now.After(t.ResponseDue)
	}
	return row
}

type ticketListPage struct {
	Tickets []ticketRow
	Next    string
	Done    string
}

func (u *UI) ticketList(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	svc := u.cfg.Tickets
	page, err := svc.List(r.Context(), ticketActor(r, p), r.URL.Query().Get("cursor"), 20)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	now := svc.Now()
	data := ticketListPage{Next: page.Next}
	for _, t := range page.Tickets {
		data.Tickets = append(data.Tickets, u.rowOf(r, t, now, false))
	}
	u.Render(w, r, http.StatusOK, "tickets", data)
}

type ticketOption struct {
	Value, Label string
	Selected     bool
}

type ticketNewPage struct {
	Categories []ticketOption
	Subject    string
	Desc       string
	Related    string
	Err        *pageErr
	Fields     map[string]string // field → message
	FileErrs   []string          // "name: message" per refused file
	Expected   string
	MaxFiles   int
}

func (u *UI) newTicketPage(r *http.Request, category, subject, desc, related string) ticketNewPage {
	pg := ticketNewPage{Subject: subject, Desc: desc, Related: related, Fields: map[string]string{}, MaxFiles: tickets.MaxAttachments}
	for _, c := range tickets.Categories {
		pg.Categories = append(pg.Categories, ticketOption{Value: c, Label: u.tr(r, "tickets.category."+c), Selected: c == category})
	}
	svc := u.cfg.Tickets
	now := svc.Now()
	for _, s := range svc.Hours().Statuses(now) {
		if s.Channel == hours.ChannelWeb {
			pg.Expected = u.expected(r, s, now)
		}
	}
	return pg
}

func (u *UI) ticketNewForm(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	q := r.URL.Query()
	related := q.Get("related")
	if len(related) > tickets.MaxRelatedRefBytes {
		related = ""
	}
	u.Render(w, r, http.StatusOK, "ticket-new", u.newTicketPage(r, q.Get("category"), "", "", related))
}

// parseTicketForm reads a multipart form with up to MaxAttachments files.
func parseTicketForm(w http.ResponseWriter, r *http.Request) ([]tickets.Upload, []string, func(), error) {
	r.Body = http.MaxBytesReader(w, r.Body, tickets.MaxFormBytes)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		if err := r.ParseForm(); err != nil {
			return nil, nil, func() {}, apperr.New(apperr.CodeBadRequest).Wrap(err)
		}
		return nil, nil, func() {}, nil
	}
	if err := r.ParseMultipartForm(2 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, nil, func() {}, apperr.New(apperr.CodeBodyTooLarge).Wrap(err)
		}
		return nil, nil, func() {}, apperr.New(apperr.CodeBadRequest).Wrap(err)
	}
	var names []string
	for _, fh := range r.MultipartForm.File["attachments"] {
		if fh.Filename != "" || fh.Size > 0 {
			names = append(names, fh.Filename)
		}
	}
	ups, done, err := tickets.FormUploads(r.MultipartForm.File["attachments"])
	return ups, names, func() { done(); r.MultipartForm.RemoveAll() }, err
}

// formFailure turns a service error into the page's error box and per-field and per-file
// messages; it returns the HTTP status.
func (u *UI) formFailure(w http.ResponseWriter, r *http.Request, err error, names []string) (*pageErr, map[string]string, []string, int) {
	f, status := u.failed(w, r, err, "tickets")
	fields := map[string]string{}
	var files []string
	for k, v := range f.Fields {
		if i, ok := strings.CutPrefix(k, "attachments."); ok {
			n, _ := strconv.Atoi(i)
			name := "#" + strconv.Itoa(n+1)
			if n >= 0 && n < len(names) {
				name = names[n]
			}
			files = append(files, name+": "+v)
			continue
		}
		fields[k] = v
	}
	sortStrings(files)
	return f.Err, fields, files, status
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func (u *UI) ticketCreate(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	ups, names, done, err := parseTicketForm(w, r)
	defer done()
	var t *tickets.Ticket
	if err == nil {
		t, err = u.cfg.Tickets.Open(r.Context(), tickets.OpenInput{CustomerID: p.User.ID, Category: r.FormValue("category"),
			Subject: r.FormValue("subject"), Description: r.FormValue("description"), RelatedRef: r.FormValue("related_ref"),
			Via: tickets.ViaWeb, Attachments: ups})
	}
	if err != nil {
		pg := u.newTicketPage(r, r.FormValue("category"), r.FormValue("subject"), r.FormValue("description"), r.FormValue("related_ref"))
		var status int
		pg.Err, pg.Fields, pg.FileErrs, status = u.formFailure(w, r, err, names)
		u.Render(w, r, status, "ticket-new", pg)
		return
	}
	redirectDone(w, r, "/tickets/"+t.Number, "ticket_opened")
}

// threadView is a thread as the pages show it.
type threadView struct {
	Ticket      tickets.Ticket
	Row         ticketRow
	Messages    []messageView
	Done        string
	Err         *pageErr
	Fields      map[string]string
	FileErrs    []string
	Body        string
	Expected    string // when the desk owes an answer: by when
	Agent       bool
	Statuses    []ticketOption // agent: target statuses
	Diagnosis   string         // agent: indented JSON
	Related     string
	Assignee    string
	CanReply    bool
	FilesPrefix string
	// Agent pages only: who the customer is (their address, as the console shows it; the
	// id when it cannot be read), the console page about them, and the first answer's
	// deadline as every page states times.
	Customer     string
	CustomerHref string
	FirstDue     string
}

type messageView struct {
	tickets.Message
	Who   string
	At    string
	Text  string // system events in words
	Files []fileView
}

type fileView struct {
	tickets.Attachment
	Size string
}

var doneTicketKeys = map[string]string{"ticket_opened": "tickets.done.opened", "ticket_replied": "tickets.done.replied",
	"ticket_noted": "tickets.done.noted", "ticket_status": "tickets.done.status", "ticket_assigned": "tickets.done.assigned"}

func (u *UI) thread(r *http.Request, a tickets.Actor, number string) (*threadView, error) {
	svc := u.cfg.Tickets
	th, err := svc.Get(r.Context(), a, number)
	if err != nil {
		return nil, err
	}
	now := svc.Now()
	lang := httpx.Lang(r.Context())
	agent := a.Staff()
	v := &threadView{Ticket: th.Ticket, Row: u.rowOf(r, th.Ticket, now, agent), Agent: agent, Fields: map[string]string{},
		Done: u.tr(r, doneTicketKeys[r.URL.Query().Get("done")]), CanReply: th.Ticket.Status != tickets.StatusClosed,
		Related: strings.Join(th.Ticket.Related, ", "), Assignee: th.Ticket.AssigneeID, FilesPrefix: "/tickets/" + th.Ticket.Number + "/files/"}
	if doneTicketKeys[r.URL.Query().Get("done")] == "" {
		v.Done = ""
	}
	if !th.Ticket.ResponseDue.IsZero() {
		v.Expected = when(th.Ticket.ResponseDue, lang, now)
	}
	if agent {
		v.Customer = th.Ticket.ContactEmail
		if id := th.Ticket.CustomerID; id != "" {
			v.Customer = u.userLabel(r, id)
			if u.cfg.Console != nil && u.cfg.Console.Console != nil {
				v.CustomerHref = "/agent/customers/" + url.PathEscape(id)
			}
		}
		if id := th.Ticket.AssigneeID; id != "" {
			v.Assignee = u.userLabel(r, id)
		}
		v.FirstDue = when(th.Ticket.FirstResponseDue, lang, now)
	}
	for _, m := range th.Messages {
		mv := messageView{Message: m, At: when(m.CreatedAt, lang, now), Text: m.Body}
		switch m.Kind {
		case tickets.KindCustomer:
			// "You" is the customer only on the customer's own page.
			mv.Who = u.tr(r, "tickets.who.customer")
			if agent {
				mv.Who = u.trf(r, "tickets.agent.who.customer", "name", v.Customer)
			}
		case tickets.KindAgent:
			mv.Who = u.tr(r, "tickets.who.agent")
		case tickets.KindNote:
			mv.Who = u.tr(r, "tickets.who.note")
		default:
			mv.Who = u.tr(r, "tickets.who.system")
			mv.Text = u.event(r, m.Body, agent)
		}
		for _, f := range m.Attachments {
			mv.Files = append(mv.Files, fileView{Attachment: f, Size: fmt.Sprintf("%.1f KB", float64(f.SizeBytes)/1024)})
		}
		v.Messages = append(v.Messages, mv)
	}
	if v.Agent {
		if len(th.Ticket.Diagnosis) > 0 {
			v.Diagnosis = string(th.Ticket.Diagnosis)
		}
		for _, st := range tickets.Statuses {
			if tickets.CanChange(th.Ticket.Status, st) {
				v.Statuses = append(v.Statuses, ticketOption{Value: string(st), Label: u.tr(r, ticketStatusKey(string(st), true))})
			}
		}
	}
	return v, nil
}

// userLabel names a user for agents by their email address (the agent console shows it
// unmasked too), or by the id when the address cannot be read.
func (u *UI) userLabel(r *http.Request, id string) string {
	if u.cfg.Accounts == nil || u.cfg.Accounts.Service == nil {
		return id
	}
	usr, err := u.cfg.Accounts.Service.GetUser(r.Context(), id)
	if err != nil {
		if !apperr.HasCode(err, apperr.CodeNotFound) {
			u.log.Error("web: ticket user", "request_id", httpx.RequestID(r.Context()), "err", err.Error())
		}
		return id
	}
	return usr.Email
}

// event renders a system message ("status:open:resolved") in words, with statuses worded
// for agents (agent) or for the customer.
func (u *UI) event(r *http.Request, body string, agent bool) string {
	parts := strings.SplitN(body, ":", 3)
	st := func(s string) string { return u.tr(r, ticketStatusKey(s, agent)) }
	switch parts[0] {
	case tickets.EventStatus:
		if len(parts) == 3 {
			return u.trf(r, "tickets.event.status", "from", st(parts[1]), "to", st(parts[2]))
		}
	case tickets.EventAssigned:
		if len(parts) == 2 && parts[1] != "" {
			return u.tr(r, "tickets.event.assigned")
		}
		return u.tr(r, "tickets.event.unassigned")
	case tickets.EventAutoClosed:
		return u.tr(r, "tickets.event.auto_closed")
	case tickets.EventRejected:
		if len(parts) == 3 {
			msg := parts[1]
			if d, ok := apperr.Lookup(parts[1]); ok {
				msg = d.Message.In(httpx.Lang(r.Context()), nil)
			}
			return u.trf(r, "tickets.event.rejected", "file", parts[2], "reason", msg)
		}
	case tickets.EventFollowUp:
		if len(parts) == 2 {
			return u.trf(r, "tickets.event.follow_up", "number", parts[1])
		}
	}
	return body
}

func (u *UI) ticketView(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	a := ticketActor(r, p)
	a.Role = identity.RoleCustomer // the customer page shows the customer's view; agents use /agent/tickets
	if p.User.Role == identity.RoleAgent || p.User.Role == identity.RoleAdmin {
		http.Redirect(w, r, "/agent/tickets/"+url.PathEscape(r.PathValue("number")), http.StatusSeeOther)
		return
	}
	v, err := u.thread(r, a, r.PathValue("number"))
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	u.Render(w, r, http.StatusOK, "ticket", v)
}

func (u *UI) ticketReply(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	ups, names, done, err := parseTicketForm(w, r)
	defer done()
	number := r.PathValue("number")
	a := ticketActor(r, p)
	a.Role = identity.RoleCustomer
	if err == nil {
		_, err = u.cfg.Tickets.Reply(r.Context(), a, number, tickets.ReplyInput{Body: r.FormValue("body"), Attachments: ups})
	}
	if err != nil {
		v, terr := u.thread(r, a, number)
		if terr != nil {
			u.RenderError(w, r, terr)
			return
		}
		var status int
		v.Err, v.Fields, v.FileErrs, status = u.formFailure(w, r, err, names)
		v.Body = r.FormValue("body")
		u.Render(w, r, status, "ticket", v)
		return
	}
	redirectDone(w, r, "/tickets/"+number, "ticket_replied")
}

// ticketFile sends an attachment as a download to its customer or an agent.
func (u *UI) ticketFile(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	f, err := u.cfg.Tickets.OpenAttachment(r.Context(), ticketActor(r, p), r.PathValue("number"), r.PathValue("id"))
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	defer f.Content.Close()
	h := w.Header()
	h.Set("Content-Type", f.ContentType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.FileName}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-store")
	http.ServeContent(w, r, "", time.Time{}, f.Content)
}

type agentQueuePage struct {
	Tickets  []ticketRow
	Filter   string
	Statuses []ticketOption
}

func (u *UI) agentQueue(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	svc := u.cfg.Tickets
	q := r.URL.Query()
	in := tickets.QueueInput{Assignee: q.Get("assignee"), Limit: tickets.MaxPageSize}
	if st := q.Get("status"); st != "" {
		in.Statuses = []tickets.Status{tickets.Status(st)}
	}
	if len(in.Assignee) > 64 {
		in.Assignee = ""
	}
	page, err := svc.Queue(r.Context(), ticketActor(r, p), in)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	now := svc.Now()
	data := agentQueuePage{Filter: q.Get("assignee")}
	for _, st := range tickets.Statuses {
		data.Statuses = append(data.Statuses, ticketOption{Value: string(st), Label: u.tr(r, ticketStatusKey(string(st), true)), Selected: q.Get("status") == string(st)})
	}
	for _, t := range page.Tickets {
		data.Tickets = append(data.Tickets, u.rowOf(r, t, now, true))
	}
	u.Render(w, r, http.StatusOK, "ticket-agent-queue", data)
}

func (u *UI) agentTicket(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	v, err := u.thread(r, ticketActor(r, p), r.PathValue("number"))
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	u.Render(w, r, http.StatusOK, "ticket-agent", v)
}

func (u *UI) agentTicketAction(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	ups, names, done, err := parseTicketForm(w, r)
	defer done()
	number, a, svc := r.PathValue("number"), ticketActor(r, p), u.cfg.Tickets
	ctx := r.Context()
	doneKey := ""
	if err == nil {
		switch r.PathValue("action") {
		case "reply":
			_, err = svc.Reply(ctx, a, number, tickets.ReplyInput{Body: r.FormValue("body"), Status: tickets.Status(r.FormValue("status")), Attachments: ups})
			doneKey = "ticket_replied"
		case "note":
			_, err = svc.Note(ctx, a, number, r.FormValue("body"))
			doneKey = "ticket_noted"
		case "status":
			_, err = svc.SetStatus(ctx, a, number, tickets.Status(r.FormValue("status")), r.FormValue("reason"))
			doneKey = "ticket_status"
		case "assign":
			to := r.FormValue("assignee_id")
			if to == "me" {
				to = p.User.ID
			}
			_, err = svc.Assign(ctx, a, number, to)
			doneKey = "ticket_assigned"
		default:
			err = apperr.New(apperr.CodeNotFound)
		}
	}
	if err != nil {
		v, terr := u.thread(r, a, number)
		if terr != nil {
			u.RenderError(w, r, terr)
			return
		}
		var status int
		v.Err, v.Fields, v.FileErrs, status = u.formFailure(w, r, err, names)
		v.Body = r.FormValue("body")
		u.Render(w, r, status, "ticket-agent", v)
		return
	}
	redirectDone(w, r, "/agent/tickets/"+number, doneKey)
}
