package web

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/support/console"
	"okpay/internal/support/tickets"
	"okpay/internal/support/troubleshoot"
)

// The agent console: /agent shows the queues (tickets by response deadline with breaches
// flagged, chats waiting) and the customer search; /agent/customers/{id} is the customer
// view with the identity-check panel, the actions it unlocks, notes and the reply box with
// canned answers. The console service checks the role and the identity check; the gate
// here only keeps the pages from customers.
func init() {
	addFeature(func(u *UI, mux *http.ServeMux) {
		if u.cfg.Console == nil || u.cfg.Console.Console == nil {
			return
		}
		mux.HandleFunc("GET /agent", u.staff(u.consoleHome))
		mux.HandleFunc("GET /agent/customers", u.staff(u.consoleSearch))
		mux.HandleFunc("GET /agent/customers/{id}", u.staff(u.consoleCustomer))
		mux.Handle("POST /agent/customers/{id}/code", u.post(u.staff(u.consoleSendCode)))
		mux.Handle("POST /agent/customers/{id}/checks", u.post(u.staff(u.consoleChecks)))
		mux.Handle("POST /agent/customers/{id}/act", u.post(u.staff(u.consoleAct)))
		mux.Handle("POST /agent/customers/{id}/notes", u.post(u.staff(u.consoleNote)))
		mux.Handle("POST /agent/customers/{id}/tickets/{number}/reply", u.post(u.staff(u.consoleReply)))
	})
}

func (u *UI) con() *console.Service { return u.cfg.Console.Console }

func consoleAgent(r *http.Request, p *authn.Principal) console.Agent {
	c := authn.Client(r)
	return console.Agent{ID: p.User.ID, Role: p.User.Role, Lang: httpx.Lang(r.Context()), ClientAddr: c.IP, UserAgent: c.UserAgent}
}

// consoleDone maps ?ok= to a confirmation key; only known keys are shown.
var consoleDone = map[string]string{
	"code_sent": "console.done.code_sent", "checked": "console.done.checked", "acted": "console.done.acted",
	"noted": "console.done.noted", "replied": "console.done.replied",
}

func (u *UI) consoleDoneText(r *http.Request) string {
	if k := consoleDone[r.URL.Query().Get("ok")]; k != "" {
		return u.tr(r, k)
	}
	return ""
}

type consoleTicketRow struct {
	Number, Subject, Status, Priority, Due, CustomerID string
	Overdue, Breached                                  bool
}

type consoleChatRow struct {
	ID, CustomerID, Since, Preview string
	Position                       int
}

type consoleHomePage struct {
	form
	Done     string
	Query    string
	Tickets  []consoleTicketRow
	Breached int
	Queue    []consoleChatRow
	Mine     []consoleChatRow
	Desk     bool // the agent works tickets and chat
}

func (u *UI) consoleHome(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	// The accounts issue's page lived at /agent?email=…; its forms and redirects still
	// point here, so they are passed on to where it lives now.
	if q := r.URL.Query(); q.Get("email") != "" {
		http.Redirect(w, r, "/agent/accounts?"+q.Encode(), http.StatusSeeOther)
		return
	}
	u.renderConsoleHome(w, r, p, form{Values: url.Values{}}, http.StatusOK)
}

func (u *UI) renderConsoleHome(w http.ResponseWriter, r *http.Request, p *authn.Principal, f form, status int) {
	ctx := r.Context()
	lang := httpx.Lang(ctx)
	h, err := u.con().Home(ctx, consoleAgent(r, p))
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	pg := consoleHomePage{form: f, Done: u.consoleDoneText(r), Query: f.V("q"), Breached: h.Breached,
		Desk: p.User.Role == identity.RoleAgent || p.User.Role == identity.RoleAdmin}
	for _, t := range h.Tickets {
		row := consoleTicketRow{Number: t.Number, Subject: t.Subject, Status: u.tr(r, ticketStatusKey(string(t.Status), true)),
			Priority: u.tr(r, "tickets.priority."+string(t.Priority)), CustomerID: t.CustomerID, Breached: t.Breached}
		if !t.ResponseDue.IsZero() {
			row.Due, row.Overdue = when(t.ResponseDue, lang, h.Now), h.Now.After(t.ResponseDue)
		}
		pg.Tickets = append(pg.Tickets, row)
	}
	for _, q := range h.ChatQueue {
		pg.Queue = append(pg.Queue, consoleChatRow{ID: q.ChatID, CustomerID: q.CustomerID, Position: q.Position,
			Since: when(q.WaitingSince, lang, h.Now), Preview: q.Preview})
	}
	for _, c := range h.MyChats {
		pg.Mine = append(pg.Mine, consoleChatRow{ID: c.ID, CustomerID: c.CustomerID, Since: when(c.CreatedAt, lang, h.Now)})
	}
	u.Render(w, r, status, "agent-console", pg)
}

func (u *UI) consoleSearch(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	q := r.URL.Query().Get("q")
	id, err := u.con().Search(r.Context(), consoleAgent(r, p), q)
	if err != nil {
		f, status := u.failed(w, r, err, "console")
		if len(q) < 300 {
			f.Values.Set("q", q)
		}
		u.renderConsoleHome(w, r, p, f, status)
		return
	}
	http.Redirect(w, r, "/agent/customers/"+url.PathEscape(id), http.StatusSeeOther)
}

type consoleAct struct {
	Ref, Type, Status, Amount, Failure, When string
	Out                                      bool
}

type consoleDevice struct {
	Name, LastSeen, Place, IP string
	Sessions                  int
}

type consoleDiag struct {
	Problem, Title, Cause, Step, Rule, When string
	NeedsPerson                             bool
	// Labels, translated here because the shared block has no View to call T on.
	LNeeds, LNext, LRelated string
	Related                 []string
	Facts                   []consoleFact
}

type consoleFact struct{ Key, Value string }

type consoleCanned struct {
	ID, Title, Text string
}

type consoleTicket struct {
	Number, Subject, Status, Channel, Due string
	Overdue, Breached, CanReply           bool
	Diagnosis                             *consoleDiag
	Canned                                []consoleCanned
}

type consoleDoc struct {
	ID, Kind, Status, Created string
	Pending                   bool
}

type consoleNote struct{ Body, Agent, When string }

type consoleCheckView struct {
	Verified            bool
	Until               string
	Locked              bool
	LockedUntil         string
	Passed              []string
	Failed              int
	Email, Phone, Card  bool // checks available
	Amount              bool
	EmailWhy, PhoneWhy  string
	CardWhy, AmountWhy  string
	TTLMinutes          int
	CodeChannelsWithout bool // no code can be sent
}

type consoleCustomerPage struct {
	form
	Done       string
	ID         string
	Email      string
	Phone      string
	Lang       string
	Role       string
	Level      int
	TwoStep    bool
	Verified   bool
	Locked     bool
	Frozen     bool
	Created    string
	Items      []statusItem
	Activity   []consoleAct
	Devices    []consoleDevice
	Tickets    []consoleTicket
	Chats      []consoleChatRow
	Diagnoses  []consoleDiag
	Notes      []consoleNote
	Docs       []consoleDoc
	Checks     consoleCheckView
	HistoryOff bool // the wallet history could not be read
}

func (u *UI) consoleCustomer(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u.renderConsoleCustomer(w, r, p, form{Values: url.Values{}}, http.StatusOK)
}

func (u *UI) renderConsoleCustomer(w http.ResponseWriter, r *http.Request, p *authn.Principal, f form, status int) {
	ctx := r.Context()
	lang, now := httpx.Lang(ctx), time.Now()
	c, err := u.con().Customer(ctx, consoleAgent(r, p), r.PathValue("id"))
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	pg := consoleCustomerPage{form: f, Done: u.consoleDoneText(r), ID: c.User.ID, Email: c.User.Email, Phone: c.User.Phone,
		Lang: c.User.Lang, Role: u.tr(r, roleKey(c.User.Role)), Level: c.User.Level, TwoStep: c.User.TwoStep, Verified: c.User.EmailVerified,
		Locked: !c.User.LockedUntil.IsZero() && c.User.LockedUntil.After(now), Created: when(c.User.CreatedAt, lang, now),
		HistoryOff: !c.Known.Activity}
	for _, it := range c.Status.Items {
		pg.Items = append(pg.Items, u.statusItem(r, it, lang, now))
		pg.Frozen = pg.Frozen || it.Kind == identity.StatusFrozen || it.Kind == identity.StatusFrozenByOwner
	}
	for _, a := range c.Activity {
		pg.Activity = append(pg.Activity, consoleAct{Ref: a.Ref, Type: a.Type, Status: a.Status, Amount: a.Amount + " " + a.Asset,
			Failure: a.FailureCode, When: when(a.CreatedAt, lang, now), Out: a.Out()})
	}
	for _, d := range c.Devices {
		pg.Devices = append(pg.Devices, consoleDevice{Name: d.Name, LastSeen: when(d.LastSeenAt, lang, now), Place: d.LastPlace, IP: d.LastIP, Sessions: d.ActiveSessions})
	}
	canned := console.CannedReplies()
	for _, t := range c.Tickets {
		ct := consoleTicket{Number: t.Number, Subject: t.Subject, Status: u.tr(r, ticketStatusKey(string(t.Status), true)), Channel: t.Channel,
			Breached: t.Breached, CanReply: t.Status != tickets.StatusClosed}
		if !t.ResponseDue.IsZero() {
			ct.Due, ct.Overdue = when(t.ResponseDue, lang, now), now.After(t.ResponseDue)
		}
		if t.Diagnosis != nil {
			d := u.consoleDiagOf(r, t.Diagnosis)
			ct.Diagnosis = &d
		}
		for _, cn := range canned {
			ct.Canned = append(ct.Canned, consoleCanned{ID: cn.ID, Title: cn.Title.In(lang), Text: cn.Body.In(t.Lang)})
		}
		pg.Tickets = append(pg.Tickets, ct)
	}
	for _, ch := range c.Chats {
		pg.Chats = append(pg.Chats, consoleChatRow{ID: ch.ID, Since: when(ch.CreatedAt, lang, now), Preview: string(ch.Status)})
	}
	for _, d := range c.Diagnoses {
		pg.Diagnoses = append(pg.Diagnoses, u.consoleDiagOf(r, d))
	}
	for _, n := range c.Notes {
		pg.Notes = append(pg.Notes, consoleNote{Body: n.Body, Agent: n.AgentID, When: when(n.CreatedAt, lang, now)})
	}
	for _, d := range c.Documents {
		pg.Docs = append(pg.Docs, consoleDoc{ID: d.ID, Kind: u.tr(r, docKindKey(d.Kind)), Status: u.tr(r, docStatusKey(d.Status)),
			Created: when(d.CreatedAt, lang, now), Pending: d.Status == identity.DocPending})
	}
	ck := c.Checks
	cv := consoleCheckView{Verified: ck.Verified, Locked: ck.Locked, Failed: ck.Failed, TTLMinutes: int(u.con().CheckTTL().Minutes())}
	if ck.Verified {
		cv.Until = when(ck.VerifiedUntil, lang, now)
	}
	if ck.Locked {
		cv.LockedUntil = when(ck.LockedUntil, lang, now)
	}
	for _, k := range ck.Passed {
		cv.Passed = append(cv.Passed, u.tr(r, "console.check."+k))
	}
	for _, av := range ck.Available {
		why := ""
		if !av.OK {
			why = u.tr(r, "console.why."+av.Why)
		}
		switch av.Kind {
		case console.CheckEmailCode:
			cv.Email, cv.EmailWhy = av.OK, why
		case console.CheckPhoneCode:
			cv.Phone, cv.PhoneWhy = av.OK, why
		case console.CheckCardLast4:
			cv.Card, cv.CardWhy = av.OK, why
		case console.CheckAmount:
			cv.Amount, cv.AmountWhy = av.OK, why
		}
	}
	cv.CodeChannelsWithout = !cv.Email && !cv.Phone
	pg.Checks = cv
	u.Render(w, r, status, "agent-console-customer", pg)
}

func (u *UI) consoleDiagOf(r *http.Request, d *troubleshoot.Diagnosis) consoleDiag {
	lang := httpx.Lang(r.Context())
	p, _ := troubleshoot.ProblemByID(d.Problem)
	cd := consoleDiag{Problem: d.Problem, Title: p.Title.In(lang), Cause: d.Cause.In(lang), Rule: d.Rule, NeedsPerson: d.NeedsPerson,
		Related: d.Related, Step: u.tr(r, fixActionKey(d.Step.Action)), When: when(d.ComputedAt, lang, time.Now()),
		LNeeds: u.tr(r, "console.needs_person"), LNext: u.tr(r, "console.next_step"), LRelated: u.tr(r, "console.related")}
	if d.Step.Action == troubleshoot.ActionWaitUntil {
		cd.Step += " " + when(d.Step.Until, lang, time.Now())
	}
	keys := make([]string, 0, len(d.Facts))
	for k := range d.Facts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := d.Facts[k]; v != "" {
			cd.Facts = append(cd.Facts, consoleFact{Key: k, Value: v})
		}
	}
	return cd
}

// consoleFailed re-renders the customer view with the failure and the entered values.
func (u *UI) consoleFailed(w http.ResponseWriter, r *http.Request, p *authn.Principal, err error) {
	f, status := u.failed(w, r, err, "console")
	for _, k := range []string{"reason", "body", "card_last4", "amount", "asset", "action"} {
		if v := r.PostForm.Get(k); v != "" && len(v) < 4000 {
			f.Values.Set(k, v)
		}
	}
	u.renderConsoleCustomer(w, r, p, f, status)
}

func (u *UI) consoleBack(w http.ResponseWriter, r *http.Request, ok, anchor string) {
	http.Redirect(w, r, "/agent/customers/"+url.PathEscape(r.PathValue("id"))+"?ok="+ok+anchor, http.StatusSeeOther)
}

func (u *UI) consoleSendCode(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if _, err := u.con().SendCode(r.Context(), consoleAgent(r, p), r.PathValue("id"), r.PostForm.Get("channel")); err != nil {
		u.consoleFailed(w, r, p, err)
		return
	}
	u.consoleBack(w, r, "code_sent", "#checks")
}

func (u *UI) consoleChecks(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	in := console.CheckInput{Code: r.PostForm.Get("code"), CardLast4: r.PostForm.Get("card_last4"), Amount: r.PostForm.Get("amount"),
		Asset: r.PostForm.Get("asset")}
	if _, err := u.con().RecordChecks(r.Context(), consoleAgent(r, p), r.PathValue("id"), in); err != nil {
		u.consoleFailed(w, r, p, err)
		return
	}
	u.consoleBack(w, r, "checked", "#checks")
}

func (u *UI) consoleAct(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	in := console.ActionInput{Action: r.PostForm.Get("action"), Reason: r.PostForm.Get("reason"), DocumentID: r.PostForm.Get("document_id")}
	if err := u.con().Act(r.Context(), consoleAgent(r, p), r.PathValue("id"), in); err != nil {
		u.consoleFailed(w, r, p, err)
		return
	}
	u.consoleBack(w, r, "acted", "#actions")
}

func (u *UI) consoleNote(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if _, err := u.con().AddNote(r.Context(), consoleAgent(r, p), r.PathValue("id"), r.PostForm.Get("body")); err != nil {
		u.consoleFailed(w, r, p, err)
		return
	}
	u.consoleBack(w, r, "noted", "#notes")
}

func (u *UI) consoleReply(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	number := strings.ToUpper(r.PathValue("number"))
	if !tickets.ValidNumber(number) {
		u.consoleFailed(w, r, p, apperr.New(apperr.CodeNotFound))
		return
	}
	_, err := u.con().Reply(r.Context(), consoleAgent(r, p), number, r.PostForm.Get("body"), r.PostForm.Get("canned"),
		tickets.Status(r.PostForm.Get("status")))
	if err != nil {
		u.consoleFailed(w, r, p, err)
		return
	}
	u.consoleBack(w, r, "replied", "#tickets")
}
