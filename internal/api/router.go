// Package api is the JSON API under /api/v1: thin handlers (decode → one service call →
// encode), one file per resource, and the OpenAPI 3.1 document generated from the same route
// table and Go types the handlers use, so the document cannot drift from the code.
package api

import (
	"net/http"
	"sort"
	"strings"

	"okpay/internal/apperr"
	"okpay/internal/httpx"
)

// Prefix is where the API lives.
const Prefix = "/api/v1"

// Route is one operation. Request and Response are zero values of the Go types the handler
// decodes and encodes; the OpenAPI schemas are derived from them.
type Route struct {
	Method  string
	Path    string // relative to Prefix, with {name} parameters as in net/http patterns
	ID      string // operationId
	Summary string
	Tag     string
	// Auth is "none", "session" (cookie) or "apikey" (bearer) — documentation and later
	// enforcement by middleware.
	Auth     string
	Request  any
	Response any
	Status   int      // success status, 200 when zero
	Errors   []string // error codes the operation can return
	// Query documents query parameters: name → description.
	Query   map[string]string
	Handler http.HandlerFunc
}

// Router collects routes and serves them with JSON errors for unknown paths and methods.
type Router struct {
	routes []Route
	byPath map[string]map[string]http.HandlerFunc
}

// NewRouter returns an empty router.
func NewRouter() *Router {
	return &Router{byPath: map[string]map[string]http.HandlerFunc{}}
}

// Handle adds a route. Registering the same method and path twice panics: a programming error.
func (rt *Router) Handle(r Route) {
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	if r.Auth == "" {
		r.Auth = "none"
	}
	m := rt.byPath[r.Path]
	if m == nil {
		m = map[string]http.HandlerFunc{}
		rt.byPath[r.Path] = m
	}
	if _, dup := m[r.Method]; dup {
		panic("api: route registered twice: " + r.Method + " " + r.Path)
	}
	m[r.Method] = r.Handler
	rt.routes = append(rt.routes, r)
}

// Routes returns the routes sorted by path and method (stable OpenAPI output).
func (rt *Router) Routes() []Route {
	out := append([]Route(nil), rt.routes...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// Register mounts every route on mux. Each path is registered without a method so that a
// wrong method gets our JSON 405 instead of net/http's plain-text one; everything else under
// the prefix gets a JSON 404.
func (rt *Router) Register(mux *http.ServeMux) {
	for path, methods := range rt.byPath {
		methods := methods
		allowed := make([]string, 0, len(methods))
		for m := range methods {
			allowed = append(allowed, m)
		}
		sort.Strings(allowed)
		mux.HandleFunc(Prefix+path, func(w http.ResponseWriter, r *http.Request) {
			h, ok := methods[r.Method]
			if !ok && r.Method == http.MethodHead {
				h, ok = methods[http.MethodGet]
			}
			if !ok {
				w.Header().Set("Allow", strings.Join(allowed, ", "))
				httpx.WriteError(w, r, apperr.New(apperr.CodeMethodNotAllowed))
				return
			}
			h(w, r)
		})
	}
	mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, apperr.New(apperr.CodeNotFound))
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, apperr.New(apperr.CodeNotFound))
	})
}
