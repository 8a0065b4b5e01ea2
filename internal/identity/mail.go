package identity

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"okpay/internal/db"
	"okpay/internal/httpx"
)

// Mail texts live in mail/: for each kind, <kind>.tmpl (text/template: "<lang>.subject" and
// "<lang>.text") and <kind>.html.tmpl (html/template: "<lang>", wrapped in layout.html.tmpl).
// Keeping them as files lets translators edit prose without touching Go.
//
//go:embed mail/*.tmpl
var mailFS embed.FS

// Mail kinds; also the outbox "kind" so support can see what was sent.
const (
	mailVerifyEmail     = "verify_email"
	mailLockout         = "lockout"
	mailReset           = "reset_password"
	mailPasswordChanged = "password_changed"
	mailNewSignin       = "new_signin"
	mailTwoStepDisabled = "two_step_disabled"
	mailFrozen          = "account_frozen"
	mailUnfrozen        = "account_unfrozen"
	mailUnfreezeCode    = "unfreeze_code"
)

var mailKinds = []string{mailVerifyEmail, mailLockout, mailReset, mailPasswordChanged, mailNewSignin,
	mailTwoStepDisabled, mailFrozen, mailUnfrozen, mailUnfreezeCode}

var mailLangs = []string{LangEn, LangZh}

type mailTemplates struct {
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
	sms  *texttemplate.Template
}

var templates = mustParseTemplates()

func mustParseTemplates() *mailTemplates {
	funcs := map[string]any{"button": func(url, label string) map[string]string {
		return map[string]string{"URL": url, "Label": label}
	}}
	t := &mailTemplates{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	for _, k := range mailKinds {
		tt, err := texttemplate.ParseFS(mailFS, "mail/"+k+".tmpl")
		if err != nil {
			panic(fmt.Sprintf("identity: mail template %s: %v", k, err))
		}
		ht, err := htmltemplate.New(k).Funcs(funcs).ParseFS(mailFS, "mail/layout.html.tmpl", "mail/"+k+".html.tmpl")
		if err != nil {
			panic(fmt.Sprintf("identity: mail template %s.html: %v", k, err))
		}
		for _, l := range mailLangs {
			for _, name := range []string{l + ".subject", l + ".text"} {
				if tt.Lookup(name) == nil {
					panic(fmt.Sprintf("identity: mail template %s lacks %q", k, name))
				}
			}
			if ht.Lookup(l) == nil {
				panic(fmt.Sprintf("identity: mail template %s.html lacks %q", k, l))
			}
		}
		t.text[k], t.html[k] = tt, ht
	}
	sms, err := texttemplate.ParseFS(mailFS, "mail/sms.tmpl")
	if err != nil {
		panic(fmt.Sprintf("identity: sms template: %v", err))
	}
	t.sms = sms
	return t
}

// renderMail fills the templates of kind in lang. data must be a map so the layout can add
// Lang and Subject.
func renderMail(kind, lang string, data map[string]any) (subject, text, html string, err error) {
	if lang != LangZh {
		lang = LangEn
	}
	tt, ht := templates.text[kind], templates.html[kind]
	if tt == nil {
		return "", "", "", fmt.Errorf("render mail: unknown kind %q", kind)
	}
	var b bytes.Buffer
	if err := tt.ExecuteTemplate(&b, lang+".subject", data); err != nil {
		return "", "", "", fmt.Errorf("render mail %s subject: %w", kind, err)
	}
	subject = strings.TrimSpace(b.String())
	b.Reset()
	if err := tt.ExecuteTemplate(&b, lang+".text", data); err != nil {
		return "", "", "", fmt.Errorf("render mail %s text: %w", kind, err)
	}
	text = strings.TrimSpace(b.String()) + "\n"
	b.Reset()
	frame := map[string]any{"Lang": lang, "Subject": subject}
	for _, part := range []struct {
		name string
		data any
	}{{"head", frame}, {lang, data}, {"foot", frame}} {
		if err := ht.ExecuteTemplate(&b, part.name, part.data); err != nil {
			return "", "", "", fmt.Errorf("render mail %s html: %w", kind, err)
		}
	}
	return subject, text, b.String(), nil
}

func renderSMS(kind, lang string, data map[string]any) (string, error) {
	if lang != LangZh {
		lang = LangEn
	}
	var b bytes.Buffer
	if err := templates.sms.ExecuteTemplate(&b, kind+"."+lang, data); err != nil {
		return "", fmt.Errorf("render sms %s: %w", kind, err)
	}
	return strings.TrimSpace(b.String()), nil
}

// fmtTime writes a time the way each language's readers expect (httpx.FormatTime: the
// pages and API messages state times the same way).
func fmtTime(t time.Time, lang string) string { return httpx.FormatTime(t, lang) }

// sendMail renders kind for the user and puts it in the outbox inside tx.
func (s *Service) sendMail(ctx context.Context, tx *db.Tx, u *userRow, kind string, data map[string]any) error {
	subject, text, html, err := renderMail(kind, u.Lang, data)
	if err != nil {
		return err
	}
	if err := s.fx.email(ctx, tx, mail{To: u.Email, Lang: u.Lang, Subject: subject, Text: text, HTML: html, UserID: u.ID, Kind: kind}); err != nil {
		return fmt.Errorf("enqueue %s mail: %w", kind, err)
	}
	return nil
}

func (s *Service) sendSMS(ctx context.Context, tx *db.Tx, u *userRow, to, kind string, data map[string]any) error {
	text, err := renderSMS(kind, u.Lang, data)
	if err != nil {
		return err
	}
	if err := s.fx.sms(ctx, tx, sms{To: to, Text: text, UserID: u.ID, Kind: kind}); err != nil {
		return fmt.Errorf("enqueue %s sms: %w", kind, err)
	}
	return nil
}

// freezeLink issues a one-click freeze token for security notices.
func (s *Service) freezeLink(ctx context.Context, tx *db.Tx, u *userRow) (string, error) {
	is, err := s.issueCode(ctx, tx, u.ID, purposeFreezeLink, "email", u.Email, s.cfg.FreezeLinkTTL, false)
	if err != nil {
		return "", err
	}
	return s.link(s.cfg.Links.Freeze, is.Link), nil
}
