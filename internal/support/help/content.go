package help

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// The built-in articles: content/<lang>/<slug>.md, one file per article per language, each
// starting with a small front matter between "---" lines:
//
//	---
//	slug: account-frozen
//	category: account
//	order: 10
//	featured: 1
//	title: …
//	summary: …
//	keywords: comma, separated, words
//	codes: account_frozen, unfreeze_needs_support
//	also_codes: sending_restricted
//	related: account-locked, contact-support
//	---
//	Markdown body…
//
// codes are the error codes this article is *the* answer for (each code belongs to one
// article: ArticleForCode must be unambiguous); also_codes are codes it explains as well.
// slug, category, order, featured, codes, also_codes and related describe the article, not
// a translation, so they must agree between languages.
//
//go:embed content
var builtinFS embed.FS

// BuiltinContent is the embedded article sources, rooted so that "content/en/x.md" exists.
func BuiltinContent() fs.FS { return builtinFS }

// Category groups articles on the help home page.
type Category struct {
	Slug  string `json:"slug"`
	Title string `json:"title"`
	Blurb string `json:"blurb"`
}

type categoryDef struct {
	slug             string
	titleEn, titleZh string
	blurbEn, blurbZh string
}

// categories are product structure, not content an agent edits, so they live in code.
var categories = []categoryDef{
	{"account", "Account & sign-in", "账户与登录",
		"Frozen or locked accounts, passwords, verification emails.", "账户冻结或锁定、密码、验证邮件。"},
	{"security", "Security", "账户安全",
		"2-step verification, payments you did not make, staying safe.", "两步验证、非本人交易、账户安全。"},
	{"payments", "Payments & transfers", "付款与转账",
		"Failed payments, held transactions, history, automatic payments.", "付款失败、交易暂缓、交易记录、自动扣款。"},
	{"withdrawals", "Withdrawals & cards", "提现与银行卡",
		"Failed withdrawals and changing your bank card.", "提现失败、更换银行卡。"},
	{"trading", "Coins & crypto deposits", "数字资产与充币",
		"Deposits waiting for confirmations, coins on hold, paying people for coins.", "充币等待确认、币被冻结、向他人付款买币。"},
	{"contact", "Contact & service hours", "联系客服与服务时间",
		"How to reach us, how fast we answer, maintenance.", "联系方式、响应时间、系统维护。"},
	{"sandbox", "Sandbox / testing", "沙盒测试",
		"Test cards and amounts for trying OKPay without real money.", "无需真实资金即可试用 OKPay 的测试卡和金额。"},
}

func categoryIn(c categoryDef, lang string) Category {
	if lang == LangZh {
		return Category{Slug: c.slug, Title: c.titleZh, Blurb: c.blurbZh}
	}
	return Category{Slug: c.slug, Title: c.titleEn, Blurb: c.blurbEn}
}

func knownCategory(slug string) bool {
	for _, c := range categories {
		if c.slug == slug {
			return true
		}
	}
	return false
}

// Languages.
const (
	LangEn = "en"
	LangZh = "zh-CN"
)

// Langs are the languages articles are written in.
var Langs = []string{LangZh, LangEn}

func validLang(l string) bool { return l == LangEn || l == LangZh }

// other returns the fallback language.
func other(lang string) string {
	if lang == LangZh {
		return LangEn
	}
	return LangZh
}

// source is one parsed built-in file.
type source struct {
	Slug, Lang, Category      string
	Order, Featured           int
	Title, Summary, Keywords  string
	Codes, AlsoCodes, Related []string
	Body                      string
	Hash                      string // of the whole file: what "the built-in changed" means
}

var (
	slugRE = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
	codeRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// maxSlugLen bounds slugs in URLs and keys.
const maxSlugLen = 64

func validSlug(s string) bool { return len(s) <= maxSlugLen && slugRE.MatchString(s) }

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

// parseSource reads one file. Errors name the file: they are found by tests and at start.
func parseSource(name string, data []byte) (*source, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%s: not UTF-8", name)
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	rest, ok := strings.CutPrefix(text, "---\n")
	if !ok {
		return nil, fmt.Errorf("%s: must start with a --- front matter line", name)
	}
	head, body, ok := strings.Cut(rest, "\n---\n")
	if !ok {
		return nil, fmt.Errorf("%s: front matter not closed by ---", name)
	}
	sum := sha256.Sum256(data)
	s := &source{Body: strings.TrimSpace(body) + "\n", Hash: hex.EncodeToString(sum[:16])}
	for i, line := range strings.Split(head, "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want key: value", name, i+2)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "slug":
			s.Slug = v
		case "category":
			s.Category = v
		case "title":
			s.Title = v
		case "summary":
			s.Summary = v
		case "keywords":
			s.Keywords = v
		case "codes":
			s.Codes = splitList(v)
		case "also_codes":
			s.AlsoCodes = splitList(v)
		case "related":
			s.Related = splitList(v)
		case "order", "featured":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 1000 {
				return nil, fmt.Errorf("%s:%d: %s must be a number 0..1000", name, i+2, k)
			}
			if k == "order" {
				s.Order = n
			} else {
				s.Featured = n
			}
		default:
			return nil, fmt.Errorf("%s:%d: unknown key %q", name, i+2, k)
		}
	}
	if !validSlug(s.Slug) {
		return nil, fmt.Errorf("%s: slug %q must be lower-case words joined by -", name, s.Slug)
	}
	if !knownCategory(s.Category) {
		return nil, fmt.Errorf("%s: unknown category %q", name, s.Category)
	}
	for _, c := range append(append([]string{}, s.Codes...), s.AlsoCodes...) {
		if !codeRE.MatchString(c) {
			return nil, fmt.Errorf("%s: %q is not an error code", name, c)
		}
	}
	if err := checkText(s.Title, s.Summary, s.Keywords, s.Body); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// catalog is every built-in article, both languages, checked for consistency.
type catalog struct {
	bySlug map[string]map[string]*source // slug → lang → source
	order  []string                      // slugs in category then article order
	code   map[string]string             // error code → the article that answers it
	also   map[string][]string           // error code → other articles that explain it
}

// loadCatalog parses content/*/*.md in fsys.
func loadCatalog(fsys fs.FS) (*catalog, error) {
	c := &catalog{bySlug: map[string]map[string]*source{}, code: map[string]string{}, also: map[string][]string{}}
	files, err := fs.Glob(fsys, "content/*/*.md")
	if err != nil {
		return nil, fmt.Errorf("help: list content: %w", err)
	}
	if len(files) > maxArticles*2 {
		return nil, fmt.Errorf("help: %d content files, at most %d", len(files), maxArticles*2)
	}
	for _, f := range files {
		lang := path.Base(path.Dir(f))
		if !validLang(lang) {
			return nil, fmt.Errorf("help: %s: unknown language folder %q", f, lang)
		}
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("help: read %s: %w", f, err)
		}
		s, err := parseSource(f, trimBOM(data))
		if err != nil {
			return nil, fmt.Errorf("help: %w", err)
		}
		if s.Slug+".md" != path.Base(f) {
			return nil, fmt.Errorf("help: %s: slug %q must match the file name", f, s.Slug)
		}
		s.Lang = lang
		if c.bySlug[s.Slug] == nil {
			c.bySlug[s.Slug] = map[string]*source{}
		}
		c.bySlug[s.Slug][lang] = s
	}
	for slug, tr := range c.bySlug {
		var ref *source
		for _, l := range Langs {
			s := tr[l]
			if s == nil {
				continue
			}
			if ref == nil {
				ref = s
				continue
			}
			if s.Category != ref.Category || s.Order != ref.Order || s.Featured != ref.Featured ||
				strings.Join(s.Codes, ",") != strings.Join(ref.Codes, ",") ||
				strings.Join(s.AlsoCodes, ",") != strings.Join(ref.AlsoCodes, ",") ||
				strings.Join(s.Related, ",") != strings.Join(ref.Related, ",") {
				return nil, fmt.Errorf("help: article %s: category, order, featured, codes, also_codes and related must be the same in every language", slug)
			}
		}
		for _, r := range ref.Related {
			if c.bySlug[r] == nil {
				return nil, fmt.Errorf("help: article %s: related article %q does not exist", slug, r)
			}
		}
		c.order = append(c.order, slug)
	}
	catPos := map[string]int{}
	for i, cd := range categories {
		catPos[cd.slug] = i
	}
	sort.Slice(c.order, func(i, j int) bool {
		a, b := c.first(c.order[i]), c.first(c.order[j])
		if catPos[a.Category] != catPos[b.Category] {
			return catPos[a.Category] < catPos[b.Category]
		}
		if a.Order != b.Order {
			return a.Order < b.Order
		}
		return a.Slug < b.Slug
	})
	for _, slug := range c.order {
		s := c.first(slug)
		for _, code := range s.Codes {
			if prev, dup := c.code[code]; dup {
				return nil, fmt.Errorf("help: error code %s is the answer of two articles (%s, %s); list it under also_codes in one", code, prev, slug)
			}
			c.code[code] = slug
		}
		for _, code := range s.AlsoCodes {
			c.also[code] = append(c.also[code], slug)
		}
	}
	return c, nil
}

// first returns the article's source in the first language it has.
func (c *catalog) first(slug string) *source {
	for _, l := range Langs {
		if s := c.bySlug[slug][l]; s != nil {
			return s
		}
	}
	return nil
}

var (
	builtinOnce sync.Once
	builtin     *catalog
	builtinErr  error
)

// builtinCatalog parses the embedded sources once; tests make sure it succeeds.
func builtinCatalog() (*catalog, error) {
	builtinOnce.Do(func() { builtin, builtinErr = loadCatalog(builtinFS) })
	return builtin, builtinErr
}

// ArticleForCode returns the slug of the built-in article that answers an error code, for
// error pages and the troubleshooter to link to ("/help/" + slug). When no article lists the
// code as its own, an article that explains it among others is returned; ok is false when
// none mentions it. It reads only the embedded sources, so it needs no database.
func ArticleForCode(code string) (slug string, ok bool) {
	c, err := builtinCatalog()
	if err != nil {
		return "", false
	}
	if s, ok := c.code[code]; ok {
		return s, true
	}
	if a := c.also[code]; len(a) > 0 {
		return a[0], true
	}
	return "", false
}

// ArticlesForCode returns every built-in article that explains code, the main one first.
func ArticlesForCode(code string) []string {
	c, err := builtinCatalog()
	if err != nil {
		return nil
	}
	var out []string
	if s, ok := c.code[code]; ok {
		out = append(out, s)
	}
	return append(out, c.also[code]...)
}

// CodeIndex returns every error code the built-in articles answer, with its main article.
func CodeIndex() map[string]string {
	c, err := builtinCatalog()
	if err != nil {
		return nil
	}
	out := make(map[string]string, len(c.code)+len(c.also))
	for code, slugs := range c.also {
		out[code] = slugs[0]
	}
	for code, slug := range c.code {
		out[code] = slug
	}
	return out
}

// trimBOM drops a byte-order mark some editors add.
func trimBOM(b []byte) []byte { return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) }
