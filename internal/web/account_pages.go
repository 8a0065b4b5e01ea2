package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/identity"
	"okpay/internal/money"
)

func (u *UI) accountRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /account", u.signedIn(u.overview))
	mux.HandleFunc("GET /account/status", u.signedIn(u.statusPage))
	mux.HandleFunc("GET /account/freeze", u.signedIn(u.freezePage))
	mux.Handle("POST /account/freeze", u.post(u.signedIn(u.freeze)))
	mux.HandleFunc("GET /account/unfreeze", u.signedIn(u.unfreezePage))
	mux.Handle("POST /account/unfreeze", u.post(u.signedIn(u.unfreeze)))
	mux.Handle("POST /account/unfreeze/code", u.post(u.signedIn(u.unfreezeCode)))
	mux.HandleFunc("GET /account/identity", u.signedIn(u.identityPage))
	mux.Handle("POST /account/identity", u.post(u.signedIn(u.submitIdentity)))
	mux.Handle("POST /account/identity/document", u.post(u.signedIn(u.uploadDocument)))
}

// overviewPage is the account home: who you are and where to go.
type overviewPage struct {
	User      *identity.User
	RoleLabel string
	Status    *identity.AccountStatus
	Done      string
}

func (u *UI) overview(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	st, err := u.svc().AccountStatus(r.Context(), p.User.ID)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	u.Render(w, r, http.StatusOK, "account-overview", overviewPage{User: p.User, RoleLabel: u.tr(r, roleKey(p.User.Role)), Status: st, Done: u.done(r)})
}

// statusItem is one restriction as the status page shows it.
type statusItem struct {
	identity.StatusItem
	KindLabel   string
	ByLabel     string
	ScopesLabel string
	Message     string
	Fix         string
	Since       string
	Until       string
}

// limitsView is the identity level with formatted money.
type limitsView struct {
	Level        int
	Daily        string
	Monthly      string
	UsedKnown    bool
	DailyUsed    string
	MonthlyUsed  string
	NextLevel    int
	NextDaily    string
	NextMonthly  string
	HasNext      bool
	NextActions  []string
	PendingDocs  int
	RejectedNote string
}

type statusPageData struct {
	User     *identity.User
	Items    []statusItem
	CanSend  bool
	TwoStep  bool
	Limits   limitsView
	Computed string
	Done     string
}

func fmtMinor(minor int64, asset string) string {
	a, ok := money.Lookup(asset)
	if !ok {
		return strconv.FormatInt(minor, 10) + " " + asset
	}
	return money.Amount(minor).Format(a) + " " + asset
}

func (u *UI) statusPage(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	st, err := u.svc().AccountStatus(r.Context(), p.User.ID)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	lang, now := httpx.Lang(r.Context()), time.Now()
	d := statusPageData{User: p.User, CanSend: st.CanSend, TwoStep: st.TwoStep, Computed: when(st.Computed, lang, now), Done: u.done(r)}
	for _, it := range st.Items {
		si := u.statusItem(r, it, lang, now)
		if def, ok := apperr.Lookup(it.Code); ok {
			params := map[string]string{"until": si.Until}
			si.Message, si.Fix = def.Message.In(lang, params), def.Fix.In(lang, params)
		}
		d.Items = append(d.Items, si)
	}
	l := st.Level
	d.Limits = limitsView{Level: l.Level, Daily: fmtMinor(l.Limits.DailyMinor, l.Limits.Asset), Monthly: fmtMinor(l.Limits.MonthlyMinor, l.Limits.Asset),
		UsedKnown: l.UsedKnown, DailyUsed: fmtMinor(l.DailyUsed, l.Limits.Asset), MonthlyUsed: fmtMinor(l.MonthlyUsed, l.Limits.Asset),
		NextActions: l.NextActions, PendingDocs: l.PendingDocs, RejectedNote: l.RejectedNote}
	if l.Next != nil {
		d.Limits.HasNext, d.Limits.NextLevel = true, l.Next.Level
		d.Limits.NextDaily, d.Limits.NextMonthly = fmtMinor(l.Next.DailyMinor, l.Next.Asset), fmtMinor(l.Next.MonthlyMinor, l.Next.Asset)
	}
	u.Render(w, r, http.StatusOK, "account-status", d)
}

// statusItem formats one restriction for reading.
func (u *UI) statusItem(r *http.Request, it identity.StatusItem, lang string, now time.Time) statusItem {
	si := statusItem{StatusItem: it, Since: when(it.Since, lang, now), Until: when(it.Until, lang, now), KindLabel: u.tr(r, kindKey(it.Kind))}
	if it.By != "" {
		si.ByLabel = u.tr(r, byKey(it.By))
	}
	keys := make([]string, len(it.Scopes))
	for i, s := range it.Scopes {
		keys[i] = scopeKey(s)
	}
	si.ScopesLabel = u.list(r, keys)
	return si
}

// freezePage is the owner's own freeze form.
type freezePage struct {
	form
	Frozen bool
}

func (u *UI) freezePage(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u.Render(w, r, http.StatusOK, "account-freeze", freezePage{form: form{Values: url.Values{}}})
}

func (u *UI) freeze(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	in := identity.FreezeInput{Reason: r.PostForm.Get("reason")}
	if s := r.PostForm.Get("until"); s != "" {
		t, err := time.ParseInLocation("2006-01-02", s, beijingOrUTC(httpx.Lang(r.Context())))
		if err != nil {
			st, status := u.failed(w, r, apperr.New(apperr.CodeValidation).Field("until", identity.FieldDateInvalid), "freeze")
			u.Render(w, r, status, "account-freeze", freezePage{form: st})
			return
		}
		in.Until = t
	}
	if _, err := u.svc().FreezeSelf(r.Context(), p.User.ID, in, authn.Client(r)); err != nil {
		st, status := u.failed(w, r, err, "freeze")
		u.Render(w, r, status, "account-freeze", freezePage{form: st})
		return
	}
	// Every session ended, this one too: the page says so and offers to sign in again.
	authn.ClearSession(w, r)
	u.Render(w, r, http.StatusOK, "account-freeze", freezePage{form: form{Values: url.Values{}}, Frozen: true})
}

// beijingOrUTC is the zone a typed date means: Chinese readers think in Beijing time.
func beijingOrUTC(lang string) *time.Location {
	if lang == "zh-CN" {
		return beijing
	}
	return time.UTC
}

// unfreezePage asks for the password and the second step.
type unfreezePage struct {
	form
	TwoStep  bool
	Frozen   bool
	CodeSent bool
}

func (u *UI) unfreezePage(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u.renderUnfreeze(w, r, p, form{Values: url.Values{}}, http.StatusOK)
}

func (u *UI) renderUnfreeze(w http.ResponseWriter, r *http.Request, p *authn.Principal, st form, status int) {
	pg := unfreezePage{form: st, TwoStep: p.User.TwoStep, CodeSent: r.URL.Query().Get("done") == "code_sent"}
	if s, err := u.svc().AccountStatus(r.Context(), p.User.ID); err == nil {
		for _, it := range s.Items {
			pg.Frozen = pg.Frozen || it.Kind == identity.StatusFrozenByOwner || it.Kind == identity.StatusFrozen
		}
	}
	if pg.CodeSent && pg.OK == "" {
		pg.OK = u.done(r)
	}
	u.Render(w, r, status, "account-unfreeze", pg)
}

func (u *UI) unfreeze(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	in := identity.UnfreezeInput{Password: r.PostForm.Get("password"), Code: r.PostForm.Get("code")}
	if err := u.svc().Unfreeze(r.Context(), p.SessionID(), in, authn.Client(r)); err != nil {
		st, status := u.failed(w, r, err, "unfreeze")
		u.renderUnfreeze(w, r, p, st, status)
		return
	}
	redirectDone(w, r, "/account/status", "unfrozen")
}

func (u *UI) unfreezeCode(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if _, err := u.svc().RequestUnfreezeCode(r.Context(), p.SessionID(), authn.Client(r)); err != nil {
		st, status := u.failed(w, r, err, "unfreeze-code")
		u.renderUnfreeze(w, r, p, st, status)
		return
	}
	redirectDone(w, r, "/account/unfreeze", "code_sent")
}

// identityPage is levels 1 and 2.
type identityPage struct {
	form
	User        *identity.User
	Profile     *identity.IdentityProfile
	IDTypeLabel string
	Documents   []docRow
	Done        string
	MaxMB       int
}

func (u *UI) identityPage(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u.renderIdentity(w, r, p, form{Values: url.Values{}}, http.StatusOK)
}

func (u *UI) renderIdentity(w http.ResponseWriter, r *http.Request, p *authn.Principal, st form, status int) {
	pg := identityPage{form: st, Done: u.done(r), MaxMB: 5}
	usr, err := u.svc().GetUser(r.Context(), p.User.ID)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	pg.User = usr
	if prof, err := u.svc().GetIdentity(r.Context(), p.User.ID); err == nil {
		pg.Profile, pg.IDTypeLabel = prof, u.tr(r, idTypeKey(prof.IDType))
	} else if !apperr.HasCode(err, apperr.CodeNotFound) {
		u.RenderError(w, r, err)
		return
	}
	docs, err := u.svc().ListDocuments(r.Context(), p.User.ID)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	for _, d := range docs {
		pg.Documents = append(pg.Documents, docRow{Document: d, KindLabel: u.tr(r, docKindKey(d.Kind)), StatusLabel: u.tr(r, docStatusKey(d.Status))})
	}
	u.Render(w, r, status, "account-identity", pg)
}

// docRow is a document with its kind and status in words.
type docRow struct {
	identity.Document
	KindLabel, StatusLabel string
}

func (u *UI) submitIdentity(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	f := r.PostForm
	_, err := u.svc().SubmitIdentity(r.Context(), p.User.ID, identity.IdentityInput{RealName: f.Get("real_name"), IDType: f.Get("id_type"),
		IDNumber: f.Get("id_number"), BirthDate: f.Get("birth_date")}, authn.Client(r))
	if err != nil {
		st, status := u.failed(w, r, err, "identity")
		u.renderIdentity(w, r, p, st, status)
		return
	}
	redirectDone(w, r, "/account/identity", "identity_saved")
}

// maxUploadBytes bounds the whole upload request: the 5 MB file plus the form around it.
const maxUploadBytes = 5<<20 + 64<<10

var documentKinds = map[string]bool{"id_front": true, "id_back": true, "passport": true, "selfie": true}

func (u *UI) uploadDocument(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	fail := func(err error) {
		st, status := u.failed(w, r, err, "identity")
		u.renderIdentity(w, r, p, st, status)
	}
	if u.cfg.Accounts.Documents == nil {
		fail(errors.New("document store not configured"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxUploadBytes)
	if err := r.ParseMultipartForm(maxUploadBytes); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(apperr.New(apperr.CodeBodyTooLarge).Wrap(err))
			return
		}
		fail(apperr.New(apperr.CodeBadRequest).Wrap(err))
		return
	}
	defer r.MultipartForm.RemoveAll()
	kind := r.FormValue("kind")
	if !documentKinds[kind] {
		fail(apperr.New(apperr.CodeValidation).Field("kind", identity.FieldDocumentInvalid))
		return
	}
	file, _, err := r.FormFile("file")
	if err != nil {
		fail(apperr.New(apperr.CodeValidation).Field("file", apperr.CodeRequired).Wrap(err))
		return
	}
	defer file.Close()
	in, err := u.cfg.Accounts.Documents.Save(r.Context(), p.User.ID, file)
	if err != nil {
		fail(err)
		return
	}
	in.Kind = kind
	if _, err := u.svc().SubmitDocument(r.Context(), p.User.ID, in, authn.Client(r)); err != nil {
		fail(err)
		return
	}
	redirectDone(w, r, "/account/identity", "document_uploaded")
}
