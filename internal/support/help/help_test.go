package help

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	_ "okpay/internal/identity" // registers the account error codes the articles explain
	_ "okpay/internal/rail"     // registers the card and payout codes
	_ "okpay/internal/wallet"   // registers the wallet codes the articles explain
)

func TestBuiltinCatalog(t *testing.T) {
	c, err := builtinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.order) < 17 {
		t.Errorf("%d built-in articles, want at least 17", len(c.order))
	}
	for _, slug := range c.order {
		for _, l := range Langs {
			if c.bySlug[slug][l] == nil {
				t.Errorf("article %s has no %s version", slug, l)
			}
		}
	}
	// Every category has at least one article, so the home page has no empty sections.
	seen := map[string]bool{}
	for _, slug := range c.order {
		seen[c.first(slug).Category] = true
	}
	for _, cd := range categories {
		if !seen[cd.slug] {
			t.Errorf("category %s has no articles", cd.slug)
		}
	}
	// Links between articles point at articles that exist.
	for _, slug := range c.order {
		for _, l := range Langs {
			s := c.bySlug[slug][l]
			for _, part := range strings.Split(s.Body, "](/help/")[1:] {
				target, _, _ := strings.Cut(part, ")")
				target, _, _ = strings.Cut(target, "#")
				if c.bySlug[target] == nil {
					t.Errorf("%s/%s links to missing article %q", l, slug, target)
				}
			}
		}
	}
}

func TestArticleForCode(t *testing.T) {
	want := map[string]string{
		"account_frozen":            "account-frozen",
		"unfreeze_needs_support":    "account-frozen",
		"sending_restricted":        "account-frozen",
		"account_locked":            "account-locked",
		"insufficient_funds":        "payment-failed",
		"limit_exceeded":            "payment-failed",
		"card_expired":              "payment-failed",
		"card_declined":             "payment-failed",
		"email_not_verified":        "registration-email",
		"step_up_required":          "two-step-verification",
		"maintenance":               "maintenance",
		"payout_name_mismatch":      "withdrawal-failed",
		"payout_rejected":           "withdrawal-failed",
		"code_expired":              "forgot-password",
		"resend_cooldown":           "registration-email",
		"totp_invalid":              "two-step-verification",
		"card_otp_required":         "payment-failed",
		"card_reported_stolen":      "payment-failed",
		"card_verification_expired": "change-bank-card",
		"card_name_mismatch":        "change-bank-card",
		"card_not_verified":         "withdrawal-failed",
	}
	for code, slug := range want {
		got, ok := ArticleForCode(code)
		if !ok || got != slug {
			t.Errorf("ArticleForCode(%q) = %q, %v; want %q", code, got, ok, slug)
		}
	}
	if _, ok := ArticleForCode("no_such_code"); ok {
		t.Error("unknown code found an article")
	}
	all := ArticlesForCode("account_frozen")
	if len(all) < 2 || all[0] != "account-frozen" {
		t.Errorf("ArticlesForCode(account_frozen) = %v", all)
	}
	if CodeIndex()["payout_rejected"] != "withdrawal-failed" {
		t.Error("CodeIndex lacks payout_rejected")
	}
}

// TestArticleCodesExist: an article listing a code that no package registers would never
// be found by ArticleForCode, so a misspelt code is caught here.
func TestArticleCodesExist(t *testing.T) {
	for code, slug := range CodeIndex() {
		if _, ok := apperr.Lookup(code); !ok {
			t.Errorf("article %s lists %q, which no package registers", slug, code)
		}
	}
}

func TestTokenize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"提现失败", "提 提现 现 现失 失 失败 败"},
		{"卡", "卡"},
		{"Locked OUT", "lock out"},
		{"insufficient_funds", "insufficient fund"},
		{"declined decline", "declin declin"},
		{"2FA 验证码 codes", "2fa 验 验证 证 证码 码 code"},
		{"'; DROP TABLE x; --", "drop tabl x"},
		{"", ""},
	}
	for _, c := range cases {
		if got := Tokenize(c.in); got != c.want {
			t.Errorf("Tokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := strings.Join(queryTerms("账户冻结了怎么办"), " "); got != "账户 户冻 冻结 结了" {
		t.Errorf("queryTerms = %q", got)
	}
	if got := strings.Join(queryTerms("how do I"), " "); got != "how do i" {
		t.Errorf("stop words only: %q", got)
	}
}

func TestRenderMarkdownSanitizes(t *testing.T) {
	src := "# Title\n\nHello <script>alert(1)</script> world\n\n" +
		"<img src=x onerror=alert(1)>\n\n" +
		"[click](javascript:alert(1)) [c2](JaVaScRiPt:alert(2)) [c3](data:text/html;base64,PHNjcmlwdD4=)\n\n" +
		"<a href=\"javascript:alert(3)\" onclick=\"alert(4)\">raw</a>\n\n" +
		"<div onmouseover=\"alert(5)\">x</div>\n\n" +
		"[ok](/help/account-frozen) [web](https://example.com) <iframe src=\"https://evil\"></iframe>\n\n" +
		"| a | b |\n|---|---|\n| 1 | 2 |\n"
	out, err := RenderMarkdown(src)
	if err != nil {
		t.Fatal(err)
	}
	low := strings.ToLower(out)
	for _, bad := range []string{"<script", "onerror", "onclick", "onmouseover", "javascript:", "data:text", "<iframe"} {
		if strings.Contains(low, bad) {
			t.Errorf("rendered HTML contains %q:\n%s", bad, out)
		}
	}
	for _, good := range []string{`<h1 id="title">Title</h1>`, `href="/help/account-frozen"`, `href="https://example.com"`, `rel="nofollow`, "<table>"} {
		if !strings.Contains(out, good) {
			t.Errorf("rendered HTML lacks %q:\n%s", good, out)
		}
	}
}

func TestPlainTextAndSnippet(t *testing.T) {
	pt := plainText("# Head\n\nSome **bold** [link](https://x.example) and `code_x`.\n\n<b>raw</b>\n\n- one\n- two\n")
	if strings.Contains(pt, "https://") || strings.Contains(pt, "<b>") || strings.Contains(pt, "**") {
		t.Errorf("plain text keeps markup: %q", pt)
	}
	for _, w := range []string{"Head", "Some bold link and code_x.", "one", "two"} {
		if !strings.Contains(pt, w) {
			t.Errorf("plain text lacks %q: %q", w, pt)
		}
	}
	terms := map[string]bool{"冻结": true}
	sn := snippet(strings.Repeat("无关内容。", 40)+"您的账户已被冻结，<b>资金</b>无法转出。"+strings.Repeat("其他。", 40), terms)
	if !strings.Contains(sn, "<mark>冻结</mark>") || !strings.HasPrefix(sn, "…") || !strings.HasSuffix(sn, "…") {
		t.Errorf("snippet = %q", sn)
	}
	if !strings.Contains(sn, "&lt;b&gt;") {
		t.Errorf("snippet not escaped: %q", sn)
	}
	if h := highlight("Forgot <your> password", map[string]bool{"password": true}); h != "Forgot &lt;your&gt; <mark>password</mark>" {
		t.Errorf("highlight = %q", h)
	}
}

func newService(t *testing.T, d *db.DB) *Service {
	t.Helper()
	return New(d, Config{Log: slog.New(slog.DiscardHandler)})
}

func TestSearchRanking(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		s := newService(t, d)
		ctx := context.Background()
		cases := []struct{ q, lang, first string }{
			{"冻结", LangZh, "account-frozen"},
			{"账户冻结了怎么办", LangZh, "account-frozen"},
			{"提现失败", LangZh, "withdrawal-failed"},
			{"忘记密码", LangZh, "forgot-password"},
			{"收不到验证邮件", LangZh, "registration-email"},
			{"不放币", LangZh, "coins-not-released"},
			{"forgot password", LangEn, "forgot-password"},
			{"locked", LangEn, "account-locked"},
			{"Withdrawal failed", LangEn, "withdrawal-failed"},
			{"payout_name_mismatch", LangEn, "withdrawal-failed"},
			{"cancel subscription", LangEn, "cancel-automatic-payment"},
			{"export csv", LangEn, "transaction-history"},
			{"test cards", LangEn, "sandbox-test-cards"},
			{"lost phone", LangEn, "two-step-verification"},
			{"4242", LangEn, "sandbox-test-cards"},
			{"测试卡", LangZh, "sandbox-test-cards"},
			{"换绑银行卡", LangZh, "change-bank-card"},
		}
		for _, c := range cases {
			res, err := s.Search(ctx, c.q, c.lang, 5)
			if err != nil {
				t.Fatalf("%q: %v", c.q, err)
			}
			if len(res.Results) == 0 {
				t.Errorf("%q: no results", c.q)
				continue
			}
			if got := res.Results[0].Slug; got != c.first {
				var slugs []string
				for _, r := range res.Results {
					slugs = append(slugs, r.Slug)
				}
				t.Errorf("%q (%s): first %s, want %s; all %v", c.q, c.lang, got, c.first, slugs)
			}
			if r := res.Results[0]; r.Lang != c.lang || r.Fallback {
				t.Errorf("%q: result in %s (fallback %v), want %s", c.q, r.Lang, r.Fallback, c.lang)
			}
		}
		// Highlighting: escaped HTML with the matched words marked.
		res, err := s.Search(ctx, "冻结", LangZh, 0)
		if err != nil {
			t.Fatal(err)
		}
		r := res.Results[0]
		if !strings.Contains(r.TitleHTML, "<mark>冻结</mark>") || !strings.Contains(r.SnippetHTML, "<mark>") {
			t.Errorf("not highlighted: %q / %q", r.TitleHTML, r.SnippetHTML)
		}
		// A Chinese query from an English page still finds the Chinese article, marked as such.
		res, err = s.Search(ctx, "提现失败", LangEn, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) == 0 || res.Results[0].Slug != "withdrawal-failed" || !res.Results[0].Fallback || res.Results[0].Lang != LangZh {
			t.Errorf("cross-language search: %+v", res.Results)
		}
		// An error code appears in both languages: the reader's language wins.
		res, err = s.Search(ctx, "card_declined", LangZh, 0)
		if err != nil || len(res.Results) == 0 || res.Results[0].Lang != LangZh {
			t.Errorf("code search in zh: %+v, %v", res, err)
		}
		// One result per article.
		seen := map[string]bool{}
		for _, r := range res.Results {
			if seen[r.Slug] {
				t.Errorf("%s listed twice", r.Slug)
			}
			seen[r.Slug] = true
		}
	})
}

func TestSearchBadQueries(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		s := newService(t, d)
		ctx := context.Background()
		for _, q := range []string{"", "   ", "\t\n"} {
			if _, err := s.Search(ctx, q, LangEn, 0); !apperr.HasCode(err, CodeQueryEmpty) {
				t.Errorf("%q: err %v, want %s", q, err, CodeQueryEmpty)
			}
		}
		for _, q := range []string{strings.Repeat("a", 200), strings.Repeat("冻", 200), strings.Repeat("x ", 100)} {
			_, err := s.Search(ctx, q, LangEn, 0)
			if !apperr.HasCode(err, CodeQueryTooLong) {
				t.Errorf("200 chars: err %v, want %s", err, CodeQueryTooLong)
			}
			if e, _ := apperr.As(err); e != nil && !strings.Contains(e.Fix("en"), "100") {
				t.Errorf("fix does not say the limit: %q", e.Fix("en"))
			}
		}
		nasty := []string{`"`, `'`, `*`, `"*"`, `NEAR(a b)`, `AND OR NOT`, `a:b`, `-x`, `^x`, `\`, `'a':*`, `&|!`, `()`,
			`'冻结'`, `"提现" OR`, "a\x00b", "\xff\xfe", `title_tok:冻结`, `{title_tok}: x`, `' OR 1=1 --`, `); DROP TABLE help_articles; --`,
			`:*`, `!!`, `<->`, `a <-> b`, `\'`, `''''`, `"""`, `%`, `_`, `ß`, "İ", "🙂", "ﾃｽﾄ"}
		for _, q := range nasty {
			if _, err := s.Search(ctx, q, LangEn, 0); err != nil && !apperr.HasCode(err, CodeQueryEmpty) {
				t.Errorf("%q: %v", q, err)
			}
		}
		res, err := s.Search(ctx, "!!!", LangEn, 0)
		if err != nil || len(res.Results) != 0 {
			t.Errorf("punctuation only: %+v %v", res, err)
		}
	})
}

// FuzzSearch: no query, however strange, makes search fail with anything but a coded
// error. SQLite only: a fuzz target runs on one database.
func FuzzSearch(f *testing.F) {
	for _, s := range []string{"冻结", "forgot password", `"`, `NEAR(`, `'a':*`, "a\x00", "提现 OR 失败", `\`, "*", "-", "AND"} {
		f.Add(s)
	}
	d := dbtest.Open(f, db.SQLite, nil)
	s := New(d, Config{Log: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, q string) {
		_, err := s.Search(ctx, q, LangZh, 3)
		if err != nil && !apperr.HasCode(err, CodeQueryEmpty) && !apperr.HasCode(err, CodeQueryTooLong) {
			t.Fatalf("%q: %v", q, err)
		}
	})
}

func TestVotes(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		s := newService(t, d)
		ctx := context.Background()
		a, b := "v:aaaaaaaaaaaaaaaa", "u:bbbbbbbbbbbbbbbb"
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(s.Vote(ctx, "account-frozen", a, LangZh, true))
		must(s.Vote(ctx, "account-frozen", a, LangZh, false)) // changed mind: still one vote
		must(s.Vote(ctx, "account-frozen", b, LangEn, true))
		must(s.Vote(ctx, "account-locked", b, LangEn, true))
		if err := s.Vote(ctx, "no-such-article", a, LangEn, true); !apperr.HasCode(err, apperr.CodeNotFound) {
			t.Errorf("unknown article: %v", err)
		}
		for _, v := range []string{"", "x", "v:short", "v:<script>aaaaaaa", "u:" + strings.Repeat("a", 100)} {
			if err := s.Vote(ctx, "account-frozen", v, LangEn, true); !apperr.HasCode(err, apperr.CodeValidation) {
				t.Errorf("voter %q: %v", v, err)
			}
		}
		if _, err := s.Stats(ctx, "customer"); !apperr.HasCode(err, apperr.CodeForbidden) {
			t.Errorf("customer sees stats: %v", err)
		}
		st, err := s.Stats(ctx, RoleAgent)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]ArticleStats{}
		for _, x := range st {
			got[x.Slug] = x
		}
		if v := got["account-frozen"]; v.Votes != (VoteCounts{Yes: 1, No: 1}) || v.ByLang[LangZh] != (VoteCounts{No: 1}) || v.ByLang[LangEn] != (VoteCounts{Yes: 1}) {
			t.Errorf("account-frozen votes %+v", v)
		}
		if v := got["account-locked"]; v.Votes != (VoteCounts{Yes: 1}) {
			t.Errorf("account-locked votes %+v", v)
		}
		if len(st) < 17 {
			t.Errorf("stats list %d articles", len(st))
		}
		// Net-positive votes make an article popular.
		h, err := s.HomePage(ctx, LangEn)
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Popular) == 0 || h.Popular[0].Slug != "account-locked" {
			t.Errorf("popular %+v", h.Popular)
		}
		if len(h.Categories) != len(categories) {
			t.Errorf("%d categories on the home page", len(h.Categories))
		}
	})
}

func TestEditSanitizeAndHistory(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		s := newService(t, d)
		ctx := context.Background()
		a, err := s.Get(ctx, "maintenance", LangEn)
		if err != nil {
			t.Fatal(err)
		}
		in := EditInput{Slug: "maintenance", Lang: LangEn, Title: "Maintenance windows", Summary: "What still works.",
			Keywords: "maintenance, zebracorn", BaseVersion: a.Version, Note: "add warning",
			Body: "Be careful <script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[help](javascript:alert(3)) zebracorn\n"}
		for _, role := range []string{"", "customer", "risk_reviewer", "Agent"} {
			if _, err := s.Edit(ctx, Editor{ID: "u1", Role: role}, in); !apperr.HasCode(err, apperr.CodeForbidden) {
				t.Errorf("role %q: %v", role, err)
			}
		}
		bad := in
		bad.Title = ""
		bad.Body = strings.Repeat("x", MaxBodyBytes+1)
		_, err = s.Edit(ctx, Editor{ID: "u1", Role: RoleAgent}, bad)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.CodeValidation || len(e.Fields) != 2 {
			t.Errorf("invalid edit: %v", err)
		}
		got, err := s.Edit(ctx, Editor{ID: "agent-7", Role: RoleAgent}, in)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != a.Version+1 || !got.Edited {
			t.Errorf("version %d edited %v", got.Version, got.Edited)
		}
		low := strings.ToLower(got.BodyHTML)
		for _, badS := range []string{"<script", "onerror", "javascript:"} {
			if strings.Contains(low, badS) {
				t.Errorf("stored article renders %q: %s", badS, got.BodyHTML)
			}
		}
		if !strings.Contains(got.BodyMarkdown, "<script>") {
			t.Error("the Markdown source should be kept as written")
		}
		// The stale version is refused.
		if _, err := s.Edit(ctx, Editor{ID: "agent-8", Role: RoleAdmin}, in); !apperr.HasCode(err, CodeEditConflict) {
			t.Errorf("stale edit: %v", err)
		}
		// Search sees the edit at once.
		res, err := s.Search(ctx, "zebracorn", LangEn, 0)
		if err != nil || len(res.Results) != 1 || res.Results[0].Slug != "maintenance" {
			t.Errorf("search after edit: %+v %v", res, err)
		}
		hist, err := s.History(ctx, RoleAdmin, "maintenance", LangEn, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 2 || hist[0].EditorID != "agent-7" || hist[0].EditorRole != RoleAgent || hist[0].Note != "add warning" || hist[1].EditorRole != roleSystem {
			t.Errorf("history %+v", hist)
		}
		if _, err := s.History(ctx, "customer", "maintenance", LangEn, 0); !apperr.HasCode(err, apperr.CodeForbidden) {
			t.Errorf("customer reads history: %v", err)
		}
		// Revert brings the built-in text back.
		rv, err := s.RevertToBuiltin(ctx, Editor{ID: "admin-1", Role: RoleAdmin}, "maintenance", LangEn)
		if err != nil {
			t.Fatal(err)
		}
		if rv.Edited || strings.Contains(rv.BodyMarkdown, "zebracorn") || rv.Version != got.Version+1 {
			t.Errorf("after revert: edited %v version %d", rv.Edited, rv.Version)
		}
		if res, _ := s.Search(ctx, "zebracorn", LangEn, 0); len(res.Results) != 0 {
			t.Errorf("old text still indexed: %+v", res.Results)
		}
	})
}

func article(slug, cat, title, body string) string {
	return "---\nslug: " + slug + "\ncategory: " + cat + "\ntitle: " + title + "\nsummary: S " + title + "\nkeywords: k\n---\n" + body + "\n"
}

func TestSeedIdempotentAndEditsWin(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		fsys := fstest.MapFS{
			"content/en/one.md":    {Data: []byte(article("one", "account", "One", "first text"))},
			"content/zh-CN/one.md": {Data: []byte(article("one", "account", "一", "第一版"))},
			"content/en/only.md":   {Data: []byte(article("only", "security", "Only English", "english only"))},
		}
		open := func() *Service {
			s, err := NewWithContent(d, Config{Content: fsys, Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		rep, err := open().Seed(ctx)
		if err != nil || rep.Inserted != 3 || rep.Updated != 0 {
			t.Fatalf("first seed %+v %v", rep, err)
		}
		rep, err = open().Seed(ctx)
		if err != nil || rep.Inserted != 0 || rep.Updated != 0 || rep.Unchanged != 3 {
			t.Fatalf("second seed %+v %v", rep, err)
		}
		// A changed built-in updates the stored text.
		fsys["content/en/one.md"] = &fstest.MapFile{Data: []byte(article("one", "account", "One", "second text"))}
		rep, err = open().Seed(ctx)
		if err != nil || rep.Updated != 1 || rep.Unchanged != 2 {
			t.Fatalf("seed after change %+v %v", rep, err)
		}
		s := open()
		a, err := s.Get(ctx, "one", LangEn)
		if err != nil || !strings.Contains(a.BodyMarkdown, "second text") || a.Version != 2 {
			t.Fatalf("after update: %+v %v", a, err)
		}
		// An agent's edit is kept when the built-in changes again.
		if _, err := s.Edit(ctx, Editor{ID: "agent-1", Role: RoleAgent}, EditInput{Slug: "one", Lang: LangEn, Title: "One", Summary: "S", Body: "agent text", BaseVersion: 2}); err != nil {
			t.Fatal(err)
		}
		fsys["content/en/one.md"] = &fstest.MapFile{Data: []byte(article("one", "account", "One", "third text"))}
		rep, err = open().Seed(ctx)
		if err != nil || rep.Updated != 0 || len(rep.KeptEdited) != 1 || rep.KeptEdited[0] != "one/en" {
			t.Fatalf("seed over an edit %+v %v", rep, err)
		}
		s = open()
		if a, _ := s.Get(ctx, "one", LangEn); !strings.Contains(a.BodyMarkdown, "agent text") {
			t.Errorf("agent's edit overwritten: %q", a.BodyMarkdown)
		}
		if a, _ := s.RevertToBuiltin(ctx, Editor{ID: "admin", Role: RoleAdmin}, "one", LangEn); a == nil || !strings.Contains(a.BodyMarkdown, "third text") {
			t.Errorf("revert: %+v", a)
		}
		// Missing language falls back, marked.
		a, err = s.Get(ctx, "only", LangZh)
		if err != nil || !a.Fallback || a.Lang != LangEn {
			t.Errorf("fallback: %+v %v", a, err)
		}
		if _, err := s.Get(ctx, "nope", LangZh); !apperr.HasCode(err, apperr.CodeNotFound) {
			t.Errorf("missing article: %v", err)
		}
		if _, err := s.Get(ctx, "../etc", LangZh); !apperr.HasCode(err, apperr.CodeNotFound) {
			t.Errorf("bad slug: %v", err)
		}
		// An agent may add the missing translation.
		if _, err := s.Edit(ctx, Editor{ID: "agent-1", Role: RoleAgent}, EditInput{Slug: "only", Lang: LangZh, Title: "仅英文", Summary: "摘要", Body: "中文正文", BaseVersion: 0}); err != nil {
			t.Fatal(err)
		}
		if a, _ := s.Get(ctx, "only", LangZh); a == nil || a.Fallback {
			t.Errorf("added translation not served: %+v", a)
		}
	})
}

func TestBadSources(t *testing.T) {
	cases := map[string]string{
		"no front matter": "hello",
		"unknown key":     "---\nslug: a\nfoo: b\n---\nx",
		"bad category":    article("a", "nope", "A", "x"),
		"slug mismatch":   article("b", "account", "A", "x"),
		"empty body":      article("a", "account", "A", "  "),
	}
	for name, src := range cases {
		_, err := loadCatalog(fstest.MapFS{"content/en/a.md": {Data: []byte(src)}})
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	dup := fstest.MapFS{
		"content/en/a.md": {Data: []byte(strings.Replace(article("a", "account", "A", "x"), "keywords: k", "keywords: k\ncodes: x_y", 1))},
		"content/en/b.md": {Data: []byte(strings.Replace(article("b", "account", "B", "x"), "keywords: k", "keywords: k\ncodes: x_y", 1))},
	}
	if _, err := loadCatalog(dup); err == nil || !strings.Contains(err.Error(), "x_y") {
		t.Errorf("code claimed twice: %v", err)
	}
}
