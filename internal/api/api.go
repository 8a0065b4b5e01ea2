package api

import (
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"sync"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/httpx"
	"okpay/internal/support/help"
	"okpay/internal/support/tickets"
)

// Deps are the services the API calls. Later resources add their services here.
type Deps struct {
	Version string
	// Ready reports whether the database is reachable and migrated.
	Ready func(ctx context.Context) error
	Clock interface{ Now() time.Time }
	// Help serves the help center under /help; nil leaves it out.
	Help *help.Service
	// Accounts serves sign-in, /me and the agent endpoints; nil leaves them out.
	Accounts *Accounts
	// Tickets serves /contact, tickets and the agents' ticket queue; nil leaves them out.
	Tickets *tickets.Service
	// Support serves notices, the inbox and chat history; nil leaves them out.
	Support *SupportLive
	// Console serves the troubleshooter (/fix…) and the agent console; nil leaves them out.
	Console *Console
	// Wallet serves balances, payments, cards, top-ups, withdrawals, deposits, history and
	// analysis; nil leaves them out.
	Wallet *Wallet
}

// API is the JSON API.
type API struct {
	deps    Deps
	router  *Router
	docOnce sync.Once
	doc     []byte
}

// New builds the API and its route table.
func New(deps Deps) *API {
	a := &API{deps: deps, router: NewRouter()}
	a.systemRoutes()
	a.helpRoutes()
	if deps.Accounts != nil {
		a.authRoutes()
		a.accountRoutes()
		a.accountEmailRoutes()
		a.agentRoutes()
	}
	if deps.Support != nil {
		a.supportLiveRoutes()
	}
	if deps.Tickets != nil {
		a.contactRoutes()
		a.ticketRoutes()
	}
	if deps.Console != nil {
		a.fixRoutes()
		a.consoleRoutes()
	}
	if deps.Wallet != nil {
		a.walletRoutes()
	}
	return a
}

// Router exposes the route table (for tests and the OpenAPI document).
func (a *API) Router() *Router { return a.router }

// Register mounts the API on mux.
func (a *API) Register(mux *http.ServeMux) { a.router.Register(mux) }

// StatusResponse is the public service status.
type StatusResponse struct {
	Status      string             `json:"status" doc:"operational; maintenance (money cannot move, see maintenance); or degraded (the database cannot be reached)"`
	Version     string             `json:"version"`
	ServerTime  time.Time          `json:"server_time"`
	Maintenance *StatusMaintenance `json:"maintenance,omitempty" doc:"the maintenance window in force; absent when there is none"`
}

// StatusMaintenance is the maintenance window in force: what is paused and until when.
type StatusMaintenance struct {
	Title    string    `json:"title" doc:"the announcement's title, in the request's language"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at" doc:"the expected end; money moves again from then"`
	Paused   []string  `json:"paused" doc:"what cannot be used until ends_at: payments, transfers, top_ups, withdrawals, refunds"`
	Message  string    `json:"message" doc:"what is paused, until when and what keeps working, in the request's language and time zone (Beijing time for zh-CN, UTC otherwise)"`
}

// maintenancePaused are the operations a maintenance window refuses: the wallet calls the
// maintenance check before payments (checkouts and payment requests too), transfers,
// top-ups, withdrawals and refunds, and before nothing else.
var maintenancePaused = []string{"payments", "transfers", "top_ups", "withdrawals", "refunds"}

// maintenanceText says the same as maintenancePaused to a person; {until} is the end.
var maintenanceText = apperr.Text{
	En: "Payments, transfers, top-ups, withdrawals and refunds are paused until {until}. Signing in, balances, history and support keep working.",
	Zh: "付款、转账、充值、提现和退款暂停至 {until}。登录、余额和账单查询以及客服不受影响。",
}

// ErrorCode documents one error code for clients.
type ErrorCode struct {
	Code       string `json:"code"`
	HTTPStatus int    `json:"http_status"`
	Message    string `json:"message" doc:"in the request's language"`
	Fix        string `json:"fix,omitempty" doc:"the next step for the user, in the request's language"`
}

// ErrorCodesResponse lists every error code.
type ErrorCodesResponse struct {
	Codes []ErrorCode `json:"codes"`
}

func (a *API) systemRoutes() {
	a.router.Handle(Route{Method: "GET", Path: "/status", ID: "getStatus", Tag: "system",
		Summary: "Service status", Response: StatusResponse{},
		Handler: func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			out := StatusResponse{Status: "operational", Version: a.deps.Version}
			now := time.Now()
			if a.deps.Clock != nil {
				now = a.deps.Clock.Now()
			}
			out.ServerTime = now.UTC()
			if a.deps.Ready != nil && a.deps.Ready(ctx) != nil {
				out.Status = "degraded"
				httpx.WriteJSON(w, http.StatusOK, out)
				return
			}
			if a.deps.Support != nil && a.deps.Support.Notices != nil {
				// The same check the wallet makes before moving money, so this answer and a
				// refused transfer never disagree.
				m, err := a.deps.Support.Notices.MaintenanceNow(ctx)
				switch {
				case err != nil:
					// Money calls fail too while the windows cannot be read.
					out.Status = "degraded"
				case m != nil:
					lang := httpx.Lang(ctx)
					out.Status = "maintenance"
					out.Maintenance = &StatusMaintenance{Title: m.Title.In(lang, nil), StartsAt: m.StartsAt.UTC(), EndsAt: m.EndsAt.UTC(),
						Paused:  maintenancePaused,
						Message: maintenanceText.In(lang, map[string]string{"until": httpx.FormatTime(m.EndsAt, lang)})}
				}
			}
			httpx.WriteJSON(w, http.StatusOK, out)
		}})
	a.router.Handle(Route{Method: "GET", Path: "/errors", ID: "listErrorCodes", Tag: "system",
		Summary: "Every error code with its message and fix", Response: ErrorCodesResponse{},
		Handler: func(w http.ResponseWriter, r *http.Request) {
			lang := httpx.Lang(r.Context())
			var out ErrorCodesResponse
			for _, d := range apperr.Catalog() {
				out.Codes = append(out.Codes, ErrorCode{Code: d.Code, HTTPStatus: d.Status,
					Message: d.Message.In(lang, nil), Fix: d.Fix.In(lang, nil)})
			}
			httpx.WriteJSON(w, http.StatusOK, out)
		}})
	a.router.Handle(Route{Method: "GET", Path: "/openapi.json", ID: "getOpenAPI", Tag: "system",
		Summary: "This OpenAPI 3.1 document",
		Handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Write(a.openAPIJSON())
		}})
	a.router.Handle(Route{Method: "GET", Path: "/docs", ID: "getDocs", Tag: "system",
		Summary: "Human-readable API reference (HTML)",
		Handler: a.docsPage})
}

// openAPIJSON renders the document once: routes are fixed after New.
func (a *API) openAPIJSON() []byte {
	a.docOnce.Do(func() {
		b, err := json.MarshalIndent(OpenAPI(a.router, a.deps.Version), "", "  ")
		if err != nil {
			panic("api: openapi document: " + err.Error())
		}
		a.doc = b
	})
	return a.doc
}

var docsTmpl = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>OKPay API reference</title><link rel="stylesheet" href="/static/app.css"></head>
<body><main class="container docs">
<h1>OKPay API reference</h1>
<p>Base URL <code>{{.Prefix}}</code>. Machine-readable: <a href="{{.Prefix}}/openapi.json">openapi.json</a> (OpenAPI 3.1).
Errors: <a href="{{.Prefix}}/errors">every error code</a> with its message and fix; send <code>Accept-Language: zh-CN</code> for Chinese.
Mutating calls accept an <code>Idempotency-Key</code> header.</p>
{{range .Routes}}<section class="op"><h2><code>{{.Method}} {{$.Prefix}}{{.Path}}</code></h2>
<p>{{.Summary}} <small>(auth: {{.Auth}}{{if .Errors}}; errors: {{range $i, $e := .Errors}}{{if $i}}, {{end}}<code>{{$e}}</code>{{end}}{{end}})</small></p></section>
{{end}}</main></body></html>`))

func (a *API) docsPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := docsTmpl.Execute(w, map[string]any{"Prefix": Prefix, "Routes": a.router.Routes()}); err != nil {
		httpx.WriteError(w, r, err)
	}
}
