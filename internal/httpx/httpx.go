// Package httpx holds the HTTP plumbing shared by the JSON API and the web UI: request ids,
// the request's language, access logs, panic recovery, body limits, security headers and
// JSON error rendering. It knows the error model (apperr) but no domain.
package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"okpay/internal/apperr"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyLang
)

// RequestID returns the id given to the current request ("" outside a request).
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(keyRequestID).(string)
	return s
}

// Lang returns the request's language, "zh-CN" or "en".
func Lang(ctx context.Context) string {
	if s, ok := ctx.Value(keyLang).(string); ok {
		return s
	}
	return "en"
}

// Beijing is fixed UTC+8: China has no daylight saving, and a fixed zone needs no tzdata.
var Beijing = time.FixedZone("UTC+8", 8*3600)

// FormatTime states t for a reader of lang, always with its date and a named zone:
// Beijing time for Chinese readers, UTC for the others (OKPay has no per-user time zone
// yet). Pages, API messages and emails all use it, so one moment reads the same
// everywhere; a bare "CST" or an unlabelled time is read in the wrong zone.
func FormatTime(t time.Time, lang string) string {
	if strings.HasPrefix(strings.ToLower(lang), "zh") {
		return t.In(Beijing).Format("2006-01-02 15:04") + "（北京时间）"
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

// WithLang stores the negotiated language in ctx.
func WithLang(ctx context.Context, lang string) context.Context {
	return context.WithValue(ctx, keyLang, lang)
}

// LangCookie remembers the language a person chose.
const LangCookie = "okpay_lang"

// NegotiateLang picks zh-CN or en: the cookie wins, then Accept-Language in order of q.
func NegotiateLang(r *http.Request) string {
	if c, err := r.Cookie(LangCookie); err == nil {
		if l := normLang(c.Value); l != "" {
			return l
		}
	}
	best, bestQ := "en", -1.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if _, err := fmt.Sscanf(v, "%g", &q); err != nil {
				q = 0
			}
		}
		if l := normLang(tag); l != "" && q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

func normLang(tag string) string {
	t := strings.ToLower(strings.TrimSpace(tag))
	switch {
	case t == "zh" || strings.HasPrefix(t, "zh-"):
		return "zh-CN"
	case t == "en" || strings.HasPrefix(t, "en-"):
		return "en"
	}
	return ""
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusWriter records what was written for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and Hijack (WebSockets, streamed CSV).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Observer is told about every finished request (metrics).
type Observer func(r *http.Request, status int, d time.Duration)

// Base wraps h with request id, language, access log, panic recovery and security headers.
// Pattern is read from r.Pattern after routing, so metrics group by route, not raw path.
func Base(h http.Handler, log *slog.Logger, obs Observer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newID()
		ctx := context.WithValue(r.Context(), keyRequestID, id)
		ctx = WithLang(ctx, NegotiateLang(r))
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		hdr := w.Header()
		hdr.Set("X-Request-Id", id)
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "same-origin")
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic", "request_id", id, "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.status == 0 {
					WriteError(sw, r, fmt.Errorf("panic: %v", p))
				}
			}
			d := time.Since(start)
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			log.Info("request", "request_id", id, "method", r.Method, "path", r.URL.Path, "status", sw.status,
				"bytes", sw.bytes, "ms", float64(d.Microseconds())/1000, "remote", r.RemoteAddr)
			if obs != nil {
				obs(r, sw.status, d)
			}
		}()
		h.ServeHTTP(sw, r)
	})
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// WriteError renders err as the JSON error body in the request's language. Errors without a
// code are logged by the caller's logger through LogInternal and shown as "internal".
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := apperr.ToBody(err, Lang(r.Context()), RequestID(r.Context()))
	if e, ok := apperr.As(err); ok && e.Code == apperr.CodeRateLimited {
		if s := e.Params["retry_after"]; s != "" {
			w.Header().Set("Retry-After", s)
		}
	}
	if _, ok := apperr.As(err); !ok {
		slog.Default().Error("internal error", "request_id", RequestID(r.Context()), "err", err.Error())
	}
	WriteJSON(w, status, body)
}

// MaxBodyBytes is the default request body limit for JSON calls.
const MaxBodyBytes = 1 << 20

// DecodeJSON reads one JSON object of at most MaxBodyBytes into v, refusing unknown fields
// and trailing data, and returns a coded error a user can act on.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apperr.New(apperr.CodeBodyTooLarge).Wrap(err)
		}
		e := apperr.New(apperr.CodeInvalidJSON).Wrap(err)
		// Name the member when the body is JSON but does not fit the call: "not valid
		// JSON" alone sends the caller looking for a syntax error that is not there.
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			e.Field(ute.Field, apperr.CodeJSONFieldType)
		} else if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			if u, uerr := strconv.Unquote(name); uerr == nil {
				name = u
			}
			e.Field(name, apperr.CodeJSONFieldUnknown)
		}
		return e
	}
	if _, err := dec.Token(); err != io.EOF {
		return apperr.New(apperr.CodeInvalidJSON).Wrap(errors.New("trailing data after JSON object"))
	}
	return nil
}
