package server_test

import (
	"strings"
	"testing"

	"okpay/internal/browsertest"
)

// A real browser switches the language with the header form: the cross-origin protection
// lets same-origin posts through and the choice is remembered across pages.
func TestBrowserLanguageSwitch(t *testing.T) {
	app := start(t, sqliteConfig(t))
	b := browsertest.New(t, app.URL())
	b.Go("/")
	if lang := b.Attr("html", "lang"); lang != "en" {
		t.Fatalf("default language %q", lang)
	}
	b.Screenshot("landing-en")
	b.Click(`form[action="/lang"] button[value="zh-CN"]`)
	b.Wait(`html[lang="zh-CN"]`)
	b.Go("/status")
	b.Screenshot("status-zh")
	if lang := b.Attr("html", "lang"); lang != "zh-CN" {
		t.Fatalf("language not remembered: %q", lang)
	}
	if text := b.Text("main"); !strings.Contains(text, "状态") {
		t.Fatalf("status page not in Chinese: %q", text)
	}
}
