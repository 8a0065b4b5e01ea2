package web

import (
	"net/http"

	"okpay/internal/apperr"
	"okpay/internal/notify"
)

// The dev mailbox lets a newcomer without an SMTP server read the mail OKPay would have sent
// (verification codes, alerts). It exists only in dev/demo mode: in production the mail
// holds codes that must reach only the address owner.
func init() {
	addFeature(func(u *UI, mux *http.ServeMux) {
		if !u.cfg.Dev || u.cfg.Mailbox == nil {
			return
		}
		mux.HandleFunc("GET /dev/mailbox", u.devMailbox)
	})
}

type devMailboxPage struct {
	To   string
	Mail []notify.Mail
}

func (u *UI) devMailbox(w http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("to")
	if len(to) > 254 {
		u.RenderError(w, r, apperr.New(apperr.CodeValidation).Field("to", apperr.CodeBadRequest))
		return
	}
	mail, err := u.cfg.Mailbox(r.Context(), to, 100)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	u.Render(w, r, http.StatusOK, "devmail", devMailboxPage{To: to, Mail: mail})
}
