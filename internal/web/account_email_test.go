package web

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"okpay/internal/notify"
)

func TestWebEmailChange(t *testing.T) {
	acctEngines(t, func(t *testing.T, e *acctEnv) {
		b := e.registered("rosa@example.com", "en")
		code, _ := e.code("rosa@example.com", "verify_email")
		b.follow("/verify-email", url.Values{"code": {code}})
		other := e.browser("en")
		other.post("/signin", url.Values{"email": {"rosa@example.com"}, "password": {webPW}})
		e.registered("taken@example.com", "en")

		_, body := b.get("/account/security")
		mustContain(t, body, `id="email"`, `action="/account/email"`, "rosa@example.com")

		// Step-up shown inline in the email section, then the change goes ahead.
		e.clock.Advance(6 * time.Minute)
		resp, body := b.post("/account/email", url.Values{"email": {"rosa.new@example.com"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("no step-up: %d", resp.StatusCode)
		}
		mustContain(t, body, "step_up_required", `id="stepup-password"`, `name="section" value="email"`)
		resp, _ = b.post("/account/step-up", url.Values{"password": {webPW}, "section": {"email"}})
		if loc := resp.Header.Get("Location"); loc != "/account/security?done=stepped_up#email" {
			t.Fatalf("step-up went to %q", loc)
		}
		resp, body = b.post("/account/email", url.Values{"email": {"taken@example.com"}})
		if resp.StatusCode != http.StatusConflict {
			t.Fatalf("taken: %d", resp.StatusCode)
		}
		mustContain(t, body, "email_taken", `value="taken@example.com"`)

		resp, body = b.post("/account/email", url.Values{"email": {"Rosa.New@example.com"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request: %d\n%s", resp.StatusCode, body)
		}
		mustContain(t, body, "We sent a 6-digit code to rosa.new@example.com", `action="/account/email/confirm"`, "spam folder")
		resp, body = b.post("/account/email/confirm", url.Values{"code": {"000000x"}, "email": {"rosa.new@example.com"}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("malformed code: %d", resp.StatusCode)
		}
		// Not a code at all: said so with the format, and no try is used up.
		mustContain(t, body, "code_malformed", "6 digits", `id="email-resend"`)

		code, _ = e.code("rosa.new@example.com", "email_change")
		_, body = b.follow("/account/email/confirm", url.Values{"code": {code}, "email": {"rosa.new@example.com"}})
		mustContain(t, body, "Your email address was changed", `id="current-email">rosa.new@example.com`)
		if resp, _ := other.get("/account"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("other session still works: %d", resp.StatusCode)
		}
		ms, err := notify.ListMail(context.Background(), e.d, "rosa@example.com", 10)
		if err != nil || len(ms) == 0 || ms[0].Kind != "email_changed" {
			t.Fatalf("old address not told: %v", err)
		}

		// In Chinese too.
		e.registered("lin@example.com", "zh-CN")
		zh := e.browser("zh-CN")
		zh.post("/signin", url.Values{"email": {"lin@example.com"}, "password": {webPW}})
		_, body = zh.post("/account/email", url.Values{"email": {"lin.new@example.com"}})
		mustContain(t, body, "我们已向 lin.new@example.com 发送 6 位验证码")
	})
}
