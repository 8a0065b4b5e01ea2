package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/wallet"
)

// activityRoutes are the history with its filters and pages, one record's receipt, the
// CSV export (the download itself is the API's streamed /api/v1/activity/export.csv,
// which the session cookie authorises) and the spending analysis with its charts.
func (u *UI) activityRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /activity", u.signedIn(u.activityPage))
	mux.HandleFunc("GET /activity/analysis", u.signedIn(u.analysisPage))
	mux.HandleFunc("GET /activity/{id}", u.signedIn(u.activityDetail))
}

// filterView is the filter form's state.
type filterView struct {
	From, To, Asset, Min, Max, Q string
	Types, Statuses              map[string]bool
	TypeOpts, StatusOpts         []opt
	AssetOpts                    []string
	Active                       bool
}

type opt struct{ Value, Label string }

// activityCST: plain dates in the filter are days in China Standard Time (as the API).
var activityCST = time.FixedZone("CST", 8*3600)

// maxFilterValues bounds the type and status choices (the wallet takes at most 8).
const maxFilterValues = 8

// parseFilter reads the history filter from the query, the same parameters as the API.
func parseFilter(q url.Values) (wallet.Filter, error) {
	f := wallet.Filter{Asset: q.Get("asset"), MinAmount: strings.TrimSpace(q.Get("min")), MaxAmount: strings.TrimSpace(q.Get("max")), Text: strings.TrimSpace(q.Get("q"))}
	day := func(name string, end bool) (time.Time, error) {
		s := q.Get(name)
		if s == "" {
			return time.Time{}, nil
		}
		t, err := time.ParseInLocation("2006-01-02", s, activityCST)
		if err != nil {
			return t, apperr.New(apperr.CodeValidation).Field(name, wallet.FieldFilterDate)
		}
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	var err error
	if f.From, err = day("from", false); err != nil {
		return f, err
	}
	if f.To, err = day("to", true); err != nil {
		return f, err
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

// filterQuery keeps only the filter's parameters (not the cursor), for links.
func filterQuery(q url.Values) url.Values {
	out := url.Values{}
	for _, k := range []string{"from", "to", "type", "status", "asset", "min", "max", "q"} {
		for _, v := range q[k] {
			if v != "" && len(v) < 200 {
				out.Add(k, v)
			}
		}
	}
	return out
}

func (u *UI) filterViewOf(r *http.Request, q url.Values) filterView {
	fv := filterView{From: q.Get("from"), To: q.Get("to"), Asset: q.Get("asset"), Min: q.Get("min"), Max: q.Get("max"), Q: q.Get("q"),
		Types: map[string]bool{}, Statuses: map[string]bool{}, AssetOpts: []string{"CNY", "USD", "USDT", "BTC"}}
	for _, v := range q["type"] {
		fv.Types[v] = true
	}
	for _, v := range q["status"] {
		fv.Statuses[v] = true
	}
	for _, t := range wallet.Types {
		fv.TypeOpts = append(fv.TypeOpts, opt{t, u.tr(r, "w.type."+t)})
	}
	for _, s := range wallet.Statuses {
		fv.StatusOpts = append(fv.StatusOpts, opt{s, u.tr(r, "w.status."+s)})
	}
	fv.Active = len(filterQuery(q)) > 0
	return fv
}

// historyPage is the page size of the history (the wallet allows up to 100).
const historyPage = 20

func (u *UI) activityPage(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	q := r.URL.Query()
	fq := filterQuery(q)
	d := wdata{Filter: u.filterViewOf(r, q), Query: fq.Encode()}
	d.ExportURL = "/api/v1/activity/export.csv"
	if d.Query != "" {
		d.ExportURL += "?" + d.Query
	}
	f, err := parseFilter(q)
	status := http.StatusOK
	if err == nil {
		var pg *wallet.ActivityPage
		pg, err = u.wsvc().ListActivity(r.Context(), p.User.ID, f, q.Get("cursor"), historyPage)
		if err == nil {
			d.Acts = u.actViews(r, pg.Items)
			if pg.Next != "" {
				nq := filterQuery(q)
				nq.Set("cursor", pg.Next)
				d.NextPage = "/activity?" + nq.Encode()
			}
		}
	}
	if err != nil {
		var fd wdata
		fd, status = u.wfail(w, r, wallet.FilterErrorInQuery(err))
		d.form = fd.form
	}
	u.wrender(w, r, status, "activity", d)
}

func (u *UI) activityDetail(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	a, err := u.wsvc().GetActivity(r.Context(), p.User.ID, r.PathValue("id"))
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	v := u.actView(r, *a)
	u.wrender(w, r, http.StatusOK, "activity-detail", wdata{Act: &v})
}

func (u *UI) analysisPage(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	q := r.URL.Query()
	asset := q.Get("asset")
	if asset == "" {
		asset = "CNY"
	}
	months := 6
	switch q.Get("months") {
	case "3":
		months = 3
	case "12":
		months = 12
	}
	now := time.Now().In(activityCST)
	to := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, activityCST)
	from := to.AddDate(0, -months, 0)
	an, err := u.wsvc().Analyze(r.Context(), p.User.ID, asset, from, to)
	if err != nil {
		d, status := u.wfail(w, r, err)
		u.wrender(w, r, status, "activity-analysis", d)
		return
	}
	d := wdata{Charts: u.chartsOf(r, an), form: form{Values: url.Values{"asset": {asset}, "months": {itoa(months)}}}}
	d.Filter.AssetOpts = []string{"CNY", "USD", "USDT", "BTC"}
	u.wrender(w, r, http.StatusOK, "activity-analysis", d)
}
