package web

import (
	"net/http"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/support/notice"
)

func (u *UI) noticeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/notices", u.signedIn(u.adminNotices))
	mux.Handle("POST /admin/notices", u.post(u.signedIn(u.adminNoticeCreate)))
	mux.Handle("POST /admin/notices/{id}/withdraw", u.post(u.signedIn(u.adminNoticeWithdraw)))
}

func noticeActor(p *authn.Principal) notice.Actor {
	return notice.Actor{ID: p.User.ID, Role: string(p.User.Role)}
}

// Banner is one live notice as the layout shows it.
type Banner struct {
	Kind  string
	Title string
	Body  string
	Ends  time.Time
}

// Banners returns the live notices for the banner above every page, in the page's
// language. A failure to read them is logged and shows no banner: the page itself matters
// more.
func (v *View) Banners() []Banner {
	if v.ui == nil || v.ui.cfg.Support == nil || v.ui.cfg.Support.Notices == nil || v.req == nil {
		return nil
	}
	ns, err := v.ui.cfg.Support.Notices.Banner(v.req.Context())
	if err != nil {
		v.log.Error("web: banner notices", "request_id", v.RequestID, "err", err.Error())
		return nil
	}
	out := make([]Banner, 0, len(ns))
	for _, n := range ns {
		out = append(out, Banner{Kind: string(n.Kind), Title: n.Title.In(v.Lang, nil), Body: n.Body.In(v.Lang, nil), Ends: n.EndsAt})
	}
	return out
}

// statusAnnouncements lists current and upcoming notices for the status page.
func (u *UI) statusAnnouncements(r *http.Request, lang string) []Announcement {
	if u.cfg.Support == nil || u.cfg.Support.Notices == nil {
		return nil
	}
	ns, err := u.cfg.Support.Notices.Current(r.Context())
	if err != nil {
		u.log.Error("web: status notices", "err", err.Error())
		return nil
	}
	out := make([]Announcement, 0, len(ns))
	for _, n := range ns {
		out = append(out, Announcement{Title: n.Title.In(lang, nil), Body: n.Body.In(lang, nil), At: n.StartsAt,
			Kind: string(n.Kind), Ends: n.EndsAt})
	}
	return out
}

// statusMaintenance returns the maintenance window in force for the status page, and
// whether the service still counts as operational: it asks the check the wallet makes
// before moving money, so the page and a refused transfer agree. When the windows cannot
// be read, money calls fail too, so the page says the service is disrupted.
func (u *UI) statusMaintenance(r *http.Request, lang string) (*Announcement, bool) {
	if u.cfg.Support == nil || u.cfg.Support.Notices == nil {
		return nil, true
	}
	n, err := u.cfg.Support.Notices.MaintenanceNow(r.Context())
	if err != nil {
		u.log.Error("web: status maintenance", "request_id", httpx.RequestID(r.Context()), "err", err.Error())
		return nil, false
	}
	if n == nil {
		return nil, true
	}
	return &Announcement{Title: n.Title.In(lang, nil), Body: n.Body.In(lang, nil), At: n.StartsAt, Kind: string(n.Kind), Ends: n.EndsAt}, true
}

type adminNoticesPage struct {
	Notices []notice.Notice
	Err     *apperr.Error
	ErrMsg  string
	ErrFix  string
	Form    map[string]string
	Now     time.Time
}

func (u *UI) adminNotices(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	u.renderAdminNotices(w, r, p, nil, nil)
}

func (u *UI) renderAdminNotices(w http.ResponseWriter, r *http.Request, p *authn.Principal, ferr error, form map[string]string) {
	list, err := u.cfg.Support.Notices.List(r.Context(), noticeActor(p), 100)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	page := adminNoticesPage{Notices: list, Form: form, Now: time.Now()}
	status := http.StatusOK
	if ferr != nil {
		e, ok := apperr.As(ferr)
		if !ok {
			u.RenderError(w, r, ferr)
			return
		}
		lang := httpx.Lang(r.Context())
		page.Err, page.ErrMsg, page.ErrFix = e, e.Message(lang), e.Fix(lang)
		for _, f := range e.Fields {
			page.ErrMsg += " (" + f.Field + ": " + f.Message.In(lang, e.Params) + ")"
		}
		status = e.Status()
	}
	u.Render(w, r, status, "admin-notices", page)
}

// noticeTimeLayout is what <input type="datetime-local"> sends.
const noticeTimeLayout = "2006-01-02T15:04"

func (u *UI) adminNoticeCreate(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	f := r.PostForm
	form := map[string]string{}
	for _, k := range []string{"kind", "title_en", "title_zh", "body_en", "body_zh", "starts_at", "ends_at", "tz"} {
		form[k] = strings.TrimSpace(f.Get(k))
	}
	loc := time.UTC
	if form["tz"] != "" {
		if l, err := time.LoadLocation(form["tz"]); err == nil {
			loc = l
		}
	}
	in := notice.Input{Kind: notice.Kind(form["kind"]),
		Title: apperr.Text{En: form["title_en"], Zh: form["title_zh"]},
		Body:  apperr.Text{En: form["body_en"], Zh: form["body_zh"]}}
	var bad *apperr.Error
	if form["starts_at"] != "" {
		t, err := time.ParseInLocation(noticeTimeLayout, form["starts_at"], loc)
		if err != nil {
			bad = apperr.New(apperr.CodeValidation).Field("starts_at", apperr.CodeValidation)
		}
		in.StartsAt = t
	}
	t, err := time.ParseInLocation(noticeTimeLayout, form["ends_at"], loc)
	if err != nil {
		if bad == nil {
			bad = apperr.New(apperr.CodeValidation)
		}
		bad = bad.Field("ends_at", apperr.CodeValidation)
	}
	in.EndsAt = t
	if bad != nil {
		u.renderAdminNotices(w, r, p, bad, form)
		return
	}
	if _, err := u.cfg.Support.Notices.Create(r.Context(), noticeActor(p), in); err != nil {
		u.renderAdminNotices(w, r, p, err, form)
		return
	}
	http.Redirect(w, r, "/admin/notices?done=created", http.StatusSeeOther)
}

func (u *UI) adminNoticeWithdraw(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	if err := u.cfg.Support.Notices.Withdraw(r.Context(), noticeActor(p), r.PathValue("id")); err != nil {
		u.RenderError(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/notices?done=withdrawn", http.StatusSeeOther)
}
