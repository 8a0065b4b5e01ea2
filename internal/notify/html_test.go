package notify

import (
	"net/mail"
	"strings"
	"testing"
	"time"
)

func TestTextToHTML(t *testing.T) {
	h := textToHTML("Hi <script>alert(1)</script> & bye\nline two\n\n\nVisit https://okpay.test/a?b=1&c=2. Or javascript:alert(1)\n链接：https://okpay.test/zh，谢谢", "zh-CN")
	for _, want := range []string{
		`<html lang="zh-CN">`,
		`<p>Hi &lt;script&gt;alert(1)&lt;/script&gt; &amp; bye<br>` + "\n" + `line two</p>`,
		`<a href="https://okpay.test/a?b=1&amp;c=2">https://okpay.test/a?b=1&amp;c=2</a>. Or javascript:alert(1)`,
		`链接：<a href="https://okpay.test/zh">https://okpay.test/zh</a>，谢谢`,
	} {
		if !strings.Contains(h, want) {
			t.Errorf("missing %q in\n%s", want, h)
		}
	}
	if strings.Contains(h, "<script>") || strings.Contains(h, `href="javascript`) {
		t.Fatalf("unsafe: %s", h)
	}
}

func TestBuildMessageFoldsLongChineseSubject(t *testing.T) {
	msg, err := BuildMessage(mail.Address{Name: "OKPay", Address: "no@okpay.test"},
		Email{ID: "x", To: "a@example.com", Subject: strings.Repeat("验证码", 60), Text: "t"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(string(msg), "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n") {
		if strings.Contains(line, "=?utf-8?") && len(line) > 90 || len(line) > 998 {
			t.Errorf("header line of %d bytes: %q", len(line), line)
		}
	}
	if !strings.Contains(head, "Subject: =?utf-8?b?") {
		t.Fatalf("subject not encoded:\n%s", head)
	}
}

func TestBackoffAndTruncate(t *testing.T) {
	w := &Worker{cfg: WorkerConfig{BaseBackoff: 30 * time.Second, MaxBackoff: time.Hour}}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	for i, d := range want {
		if got := w.backoff(i + 1); got != d {
			t.Errorf("attempt %d: %s, want %s", i+1, got, d)
		}
	}
	if s := truncate("验证码", 4); s != "验" {
		t.Fatalf("truncate: %q", s)
	}
}
