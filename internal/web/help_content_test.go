package web

import (
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"

	"okpay/internal/support/help"
	"okpay/internal/support/troubleshoot"
)

var (
	// menuPathRE finds "**Account › Account status**": a way through the UI.
	menuPathRE = regexp.MustCompile(`\*\*([^*\n]+ › [^*\n]+)\*\*`)
	// pressRE finds a control the article tells people to press: "choose **Make default**".
	pressRE = regexp.MustCompile(`(?i)(?:choose|select|click|press|tap|点击|选择|按) \*\*([^*\n]+)\*\*`)
	// siteLinkRE finds a link to a page of this site in Markdown.
	siteLinkRE = regexp.MustCompile(`\]\((/[^)\s]*)\)`)
)

// The built-in help articles send people only through the UI that exists: every menu
// path starts at an item of the page header and every step of it, and every control an
// article says to press, is a label the UI shows in that language. Links to the help
// center and the troubleshooter lead to articles and problems that exist.
func TestHelpArticlesNameRealUI(t *testing.T) {
	text, err := loadLocales(embedded)
	if err != nil {
		t.Fatal(err)
	}
	content := help.BuiltinContent()
	slugs := map[string]bool{}
	for _, lang := range []string{"en", "zh-CN"} {
		files, err := fs.Glob(content, "content/"+lang+"/*.md")
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no articles: %v", lang, err)
		}
		for _, f := range files {
			slugs[strings.TrimSuffix(path.Base(f), ".md")] = true
		}
	}
	for _, lang := range []string{"en", "zh-CN"} {
		labels, header := map[string]bool{}, map[string]bool{}
		for k, v := range text[lang] {
			labels[v] = true
			if strings.HasPrefix(k, "nav.") || strings.HasPrefix(k, "footer.") {
				header[v] = true
			}
		}
		files, _ := fs.Glob(content, "content/"+lang+"/*.md")
		for _, f := range files {
			b, err := fs.ReadFile(content, f)
			if err != nil {
				t.Fatal(err)
			}
			src := string(b)
			for _, m := range menuPathRE.FindAllStringSubmatch(src, -1) {
				steps := strings.Split(m[1], " › ")
				if !header[steps[0]] {
					t.Errorf("%s: %q starts at %q, which is not in the page header", f, m[1], steps[0])
				}
				for _, s := range steps[1:] {
					if !labels[s] {
						t.Errorf("%s: %q goes through %q, which no page shows", f, m[1], s)
					}
				}
			}
			for _, m := range pressRE.FindAllStringSubmatch(src, -1) {
				if l := strings.Trim(m[1], `"“”「」`); !labels[l] {
					t.Errorf("%s: says to press %q, which no page shows", f, l)
				}
			}
			for _, m := range siteLinkRE.FindAllStringSubmatch(src, -1) {
				p := strings.SplitN(m[1], "#", 2)[0]
				switch {
				case strings.HasPrefix(p, "/help/"):
					if !slugs[strings.TrimPrefix(p, "/help/")] {
						t.Errorf("%s: links to the missing article %s", f, p)
					}
				case strings.HasPrefix(p, "/fix/"):
					if _, ok := troubleshoot.ProblemByID(strings.TrimPrefix(p, "/fix/")); !ok {
						t.Errorf("%s: links to the missing problem %s", f, p)
					}
				}
			}
		}
	}
}

// Automatic payments and escrow trades do not exist yet: their articles say so, as the
// troubleshooter does, and hand over to the troubleshooter, which can open a ticket with
// the payments attached, instead of describing screens and steps nobody can find.
func TestHelpArticlesForMissingFeaturesAgreeWithTroubleshooter(t *testing.T) {
	content := help.BuiltinContent()
	for _, c := range []struct {
		slug, problem string
		notOffered    map[string]string
		invented      []string
	}{
		{"cancel-automatic-payment", troubleshoot.ProblemAutoPay,
			map[string]string{"en": "does not take automatic payments", "zh-CN": "尚未提供自动扣款"},
			[]string{"Automatic payments ›", "Cancel automatic payment", "自动扣款 ›", "取消自动扣款**", "Report a problem", "报告问题"}},
		{"coins-not-released", troubleshoot.ProblemCoins,
			map[string]string{"en": "does not hold coin trades in escrow", "zh-CN": "尚未提供币的担保交易"},
			[]string{"I have paid", "我已付款", "Open dispute", "发起申诉", "order chat", "订单聊天"}},
	} {
		for _, lang := range []string{"en", "zh-CN"} {
			b, err := fs.ReadFile(content, "content/"+lang+"/"+c.slug+".md")
			if err != nil {
				t.Fatal(err)
			}
			src := string(b)
			if !strings.Contains(src, c.notOffered[lang]) {
				t.Errorf("%s/%s does not say %q", lang, c.slug, c.notOffered[lang])
			}
			if !strings.Contains(src, "](/fix/"+c.problem+")") {
				t.Errorf("%s/%s does not lead to /fix/%s", lang, c.slug, c.problem)
			}
			for _, s := range c.invented {
				if strings.Contains(src, s) {
					t.Errorf("%s/%s describes %q, which does not exist", lang, c.slug, s)
				}
			}
		}
	}
}
