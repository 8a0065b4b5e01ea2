package api

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/money"
	"okpay/internal/wallet"
)

var activityQuery = map[string]string{
	"from":   "created at or after: YYYY-MM-DD (China Standard Time) or RFC 3339",
	"to":     "created on or before this day (YYYY-MM-DD), or before this instant (RFC 3339)",
	"type":   "any of, comma-separated: top_up, transfer_in, transfer_out, payment, refund, withdrawal, fee, deposit",
	"status": "any of, comma-separated: pending, confirming, processing, completed, failed, refunded, partially_refunded, on_hold",
	"asset":  "CNY, USD, USDT, BTC (required with min/max)",
	"min":    "smallest amount, decimal, inclusive",
	"max":    "largest amount, decimal, inclusive",
	"q":      "words in the counterparty or memo",
}

// cst is China Standard Time: plain dates in filters are days as customers in China live them.
var cst = time.FixedZone("CST", 8*3600)

// maxFilterValues bounds the comma-separated lists (the wallet takes at most 8).
const maxFilterValues = 8

// ParseActivityFilter reads the history filter from query parameters (see activityQuery).
//
// Errors: validation_failed (from/to/type/status: filter_invalid).
func ParseActivityFilter(q url.Values) (wallet.Filter, error) {
	f := wallet.Filter{Asset: q.Get("asset"), MinAmount: q.Get("min"), MaxAmount: q.Get("max"), Text: q.Get("q")}
	var err error
	if f.From, err = parseDay(q.Get("from"), false); err != nil {
		return f, apperr.New(apperr.CodeValidation).Field("from", wallet.FieldFilterDate)
	}
	if f.To, err = parseDay(q.Get("to"), true); err != nil {
		return f, apperr.New(apperr.CodeValidation).Field("to", wallet.FieldFilterDate)
	}
	list := func(name string) ([]string, error) {
		var out []string
		for _, v := range q[name] {
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
		}
		if len(out) > maxFilterValues {
			return nil, apperr.New(apperr.CodeValidation).Field(name, wallet.FieldFilterInvalid)
		}
		return out, nil
	}
	if f.Types, err = list("type"); err != nil {
		return f, err
	}
	if f.Statuses, err = list("status"); err != nil {
		return f, err
	}
	return f, nil
}

// parseDay reads a date (a whole day in CST; end=true gives the next midnight, so "to" is
// inclusive of its day) or an RFC 3339 instant.
func parseDay(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, cst); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

// AnalysisQuery is read from ?asset=&months= (1..24, default 6, ending this month).
const maxMonths = 24

func (a *API) activityRoutes() {
	rt := a.router
	rt.Handle(Route{Method: "GET", Path: "/activity", ID: "listActivity", Tag: "activity", Auth: "either",
		Summary: "History, newest first, filtered; cursor pagination (next)", Response: wallet.ActivityPage{},
		Query:  merge(activityQuery, map[string]string{"cursor": "next from the previous page", "limit": "1..100 (20)"}),
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeForbidden, apperr.CodeValidation, apperr.CodeCurrencyUnsupported, wallet.CodeCursorInvalid},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			f, err := ParseActivityFilter(r.URL.Query())
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			pg, err := a.wsvc().ListActivity(r.Context(), p.User.ID, f, r.URL.Query().Get("cursor"), pageLimit(r, wallet.DefaultPage, wallet.MaxPage))
			if pg != nil {
				pg.Items = nonNil(pg.Items)
			}
			reply(w, r, pg, wallet.FilterErrorInQuery(err))
		})})
	rt.Handle(Route{Method: "GET", Path: "/activity/{id}", ID: "getActivity", Tag: "activity", Auth: "either",
		Summary: "One record (by id or reference number) with its receipt timeline", Response: wallet.Activity{},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeForbidden, apperr.CodeNotFound},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			act, err := a.wsvc().GetActivity(r.Context(), p.User.ID, r.PathValue("id"))
			reply(w, r, act, err)
		})})
	rt.Handle(Route{Method: "GET", Path: "/activity/export.csv", ID: "exportActivity", Tag: "activity", Auth: "either",
		Summary: "The filtered history as CSV (text/csv, UTF-8 with BOM, RFC 4180, streamed, at most 1,000,000 rows; cells starting with = + - @ other than plain numbers get a leading ')",
		Query:   activityQuery,
		Errors:  []string{apperr.CodeUnauthenticated, apperr.CodeForbidden, apperr.CodeValidation, apperr.CodeCurrencyUnsupported},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			f, err := ParseActivityFilter(r.URL.Query())
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			ExportCSV(w, r, a.wsvc(), p.User.ID, f)
		})})
	rt.Handle(Route{Method: "GET", Path: "/analysis", ID: "getAnalysis", Tag: "activity", Auth: "either",
		Summary: "Spending analysis: per month income vs spending, per category, top counterparties", Response: wallet.Analysis{},
		Query:  map[string]string{"asset": "CNY (default), USD, USDT, BTC", "months": "1..24 months ending with this one (6)"},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeForbidden, apperr.CodeCurrencyUnsupported, apperr.CodeValidation},
		Handler: a.read(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			asset, from, to := AnalysisWindow(r.URL.Query(), time.Now())
			an, err := a.wsvc().Analyze(r.Context(), p.User.ID, asset, from, to)
			reply(w, r, an, err)
		})})
}

// AnalysisWindow reads ?asset= and ?months= : whole months in CST ending with now's.
func AnalysisWindow(q url.Values, now time.Time) (asset string, from, to time.Time) {
	asset = q.Get("asset")
	if asset == "" {
		asset = "CNY"
	}
	months := 6
	if n, err := parsePositiveInt(q.Get("months")); err == nil && n >= 1 {
		months = min(n, maxMonths)
	}
	n := now.In(cst)
	to = time.Date(n.Year(), n.Month()+1, 1, 0, 0, 0, 0, cst)
	from = to.AddDate(0, -months, 0)
	return asset, from, to
}

func parsePositiveInt(s string) (int, error) {
	n := 0
	if s == "" || len(s) > 4 {
		return 0, errors.New("not a small number")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errors.New("not a number")
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// csvFlushRows is how many rows go out per flush: the client sees progress and the
// server holds at most a buffer's worth.
const csvFlushRows = 2000

// ExportCSV streams userID's history matching f as CSV. The filter is checked before the
// first byte, so a bad filter is a JSON error; a failure after rows went out aborts the
// response, so the client sees a broken download rather than a file that looks complete.
func ExportCSV(w http.ResponseWriter, r *http.Request, svc *wallet.Service, userID string, f wallet.Filter) {
	if f.Asset != "" {
		if _, ok := money.Lookup(f.Asset); !ok {
			httpx.WriteError(w, r, apperr.New(apperr.CodeCurrencyUnsupported))
			return
		}
	}
	rc := http.NewResponseController(w)
	// A million rows take seconds to send to a slow client; the server's write timeout is
	// for ordinary pages.
	_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Minute))
	cw := wallet.NewCSVWriter(w) // BOM, RFC 4180, formula cells neutralised
	started := false
	start := func() error {
		started = true
		h := w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="okpay-activity-`+time.Now().In(cst).Format("20060102-150405")+`.csv"`)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		return cw.WriteHeader()
	}
	n := 0
	err := svc.ExportActivity(r.Context(), userID, f, func(row wallet.Row) error {
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		if err := cw.Write(&row); err != nil {
			return err
		}
		n++
		if n%csvFlushRows == 0 {
			if err := cw.Flush(); err != nil {
				return err
			}
			return rc.Flush()
		}
		return nil
	})
	if err != nil {
		if !started {
			httpx.WriteError(w, r, wallet.FilterErrorInQuery(err))
			return
		}
		// Headers are gone: end the connection mid-body so the download is visibly broken.
		panic(http.ErrAbortHandler)
	}
	if !started {
		if err := start(); err != nil {
			panic(http.ErrAbortHandler)
		}
	}
	if err := cw.Flush(); err != nil {
		panic(http.ErrAbortHandler)
	}
}

// QuoteFee says what withdrawing amount of asset costs.
//
// Errors: currency_not_supported, amount_invalid.
func QuoteFee(svc *wallet.Service, asset, amount string) (*FeeQuote, error) {
	a, minor, err := wallet.ParseAmount(amount, asset)
	if err != nil {
		return nil, err
	}
	m := money.Amount(minor)
	fee := svc.WithdrawalFee(asset, int64(m))
	total := int64(m) + fee
	if total < int64(m) {
		return nil, apperr.New(apperr.CodeAmountInvalid).With("scale", strconv.Itoa(a.Scale))
	}
	return &FeeQuote{Asset: asset, AmountMinor: int64(m), FeeMinor: fee, TotalMinor: total,
		Amount: m.Format(a), Fee: money.Amount(fee).Format(a), Total: money.Amount(total).Format(a)}, nil
}
