package web

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"okpay/internal/httpx"
	"okpay/internal/wallet"
)

// Timeline notes are stored in English; a Chinese receipt showed "waiting for the bank's
// one-time code" and "1/3 confirmations" as written. Every note shape the wallet writes
// reads in the page's language, and an unknown note is shown as stored.
func TestStepNoteTranslated(t *testing.T) {
	u, err := New(Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	note := func(lang, n string) string {
		r := httptest.NewRequest("GET", "/", nil)
		return u.stepNote(r.WithContext(httpx.WithLang(r.Context(), lang)), n)
	}
	cases := []struct{ stored, zh, en string }{
		{wallet.NoteOTPWait, "等待银行发送的一次性验证码", wallet.NoteOTPWait},
		{wallet.NoteSettling, "已扣款，银行即将结算", wallet.NoteSettling},
		{wallet.NoteConfirmations(1, 3), "已确认 1/3", "1/3 confirmations"},
		{wallet.NoteRefund("49.00 CNY", "261122ABCD"), "退款 49.00 CNY（参考号 261122ABCD）", "refund of 49.00 CNY (reference 261122ABCD)"},
		{"some other note", "some other note", "some other note"},
	}
	for _, c := range cases {
		if got := note("zh-CN", c.stored); got != c.zh {
			t.Errorf("zh %q: got %q, want %q", c.stored, got, c.zh)
		}
		if got := note("en", c.stored); got != c.en {
			t.Errorf("en %q: got %q, want %q", c.stored, got, c.en)
		}
	}
}
