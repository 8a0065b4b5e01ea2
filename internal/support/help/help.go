// Package help is OKPay's help center: articles in zh-CN and en grouped in categories,
// full-text search that works for Chinese, "was this helpful?" votes, and editing of the
// articles' Markdown by support agents and admins, with history.
//
// The articles ship in the binary as Markdown sources (content/<lang>/<slug>.md) and are
// copied into the database the first time the service is used after a start (see Seed),
// where agents may edit them. The database copy is what readers see and what search
// indexes. Built-in updates and agents' edits meet by one rule: a new built-in text
// replaces the stored one only while no agent has edited it; after an edit, the agent's
// text stays until someone calls RevertToBuiltin.
//
// It knows storage (through db and its Dialect for full-text search) and Markdown; it
// knows nothing of HTTP, sessions or templates: callers pass the reader's language, the
// voter's id and the editor's role.
package help

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// Config configures the service.
type Config struct {
	Log *slog.Logger
	// Content holds content/<lang>/<slug>.md; nil means the embedded built-in articles.
	Content fs.FS
}

// Service is the help center. Safe for concurrent use.
type Service struct {
	db  *db.DB
	log *slog.Logger
	cat *catalog

	seedMu sync.Mutex
	seeded bool
}

// New returns the help center over d with the built-in articles. The built-in sources are
// checked by this package's tests, so a broken one is a programming error and panics here.
func New(d *db.DB, cfg Config) *Service {
	s, err := NewWithContent(d, cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// NewWithContent is New for any article sources (cfg.Content); it returns the sources'
// first problem instead of panicking.
func NewWithContent(d *db.DB, cfg Config) (*Service, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	var c *catalog
	var err error
	if cfg.Content == nil {
		c, err = builtinCatalog()
	} else {
		c, err = loadCatalog(cfg.Content)
	}
	if err != nil {
		return nil, err
	}
	return &Service{db: d, log: cfg.Log, cat: c}, nil
}

// ArticleSummary is an article as listed: enough to show a link.
type ArticleSummary struct {
	Slug     string `json:"slug"`
	Category string `json:"category"`
	Lang     string `json:"lang" doc:"the language of title and summary"`
	Title    string `json:"title"`
	Summary  string `json:"summary"`
	// Fallback is true when the article does not exist in the requested language and is
	// given in the other one.
	Fallback bool `json:"fallback,omitempty"`
}

// Article is one article in one language, ready to show.
type Article struct {
	ArticleSummary
	Keywords     string           `json:"keywords"`
	BodyMarkdown string           `json:"body_markdown"`
	BodyHTML     string           `json:"body_html" doc:"sanitized HTML rendered from body_markdown"`
	Codes        []string         `json:"codes" doc:"error codes this article explains"`
	Related      []ArticleSummary `json:"related"`
	Version      int64            `json:"version" doc:"increases with every change; send it back when editing"`
	UpdatedAt    time.Time        `json:"updated_at"`
	// Edited is true when a support agent changed the built-in text.
	Edited bool `json:"edited"`
}

// CategoryArticles is a category with its articles, for the help home page.
type CategoryArticles struct {
	Category
	Articles []ArticleSummary `json:"articles"`
}

// Home is the help center's front page.
type Home struct {
	Categories []CategoryArticles `json:"categories"`
	Popular    []ArticleSummary   `json:"popular"`
}

// Categories returns the categories in display order, in lang.
func Categories(lang string) []Category {
	out := make([]Category, len(categories))
	for i, c := range categories {
		out[i] = categoryIn(c, lang)
	}
	return out
}

// CategoryFor returns category slug in lang; ok is false for an unknown slug.
func CategoryFor(slug, lang string) (Category, bool) {
	for _, c := range categories {
		if c.slug == slug {
			return categoryIn(c, lang), true
		}
	}
	return Category{}, false
}

// normLang maps anything but zh-CN to English, the way the UI negotiates.
func normLang(lang string) string {
	if strings.HasPrefix(strings.ToLower(lang), "zh") {
		return LangZh
	}
	return LangEn
}

// ready seeds the database once per process before the first use, so a fresh database
// (or a binary with new built-in articles) is up to date without a separate step. A failed
// seed is retried by the next call.
func (s *Service) ready(ctx context.Context) error {
	s.seedMu.Lock()
	defer s.seedMu.Unlock()
	if s.seeded {
		return nil
	}
	rep, err := s.seed(ctx)
	if err != nil {
		return err
	}
	s.seeded = true
	if rep.Inserted+rep.Updated > 0 || len(rep.KeptEdited) > 0 {
		s.log.Info("help: articles seeded", "inserted", rep.Inserted, "updated", rep.Updated,
			"unchanged", rep.Unchanged, "kept_edited", strings.Join(rep.KeptEdited, ","))
	}
	return nil
}

// SeedReport says what Seed did, per translation (slug/lang).
type SeedReport struct {
	Inserted, Updated, Unchanged int
	// KeptEdited lists translations whose built-in source changed but which an agent has
	// edited, so the agent's text was kept (RevertToBuiltin takes the new source).
	KeptEdited []string
}

// Seed copies the built-in articles into the database: new ones are inserted, changed
// ones updated unless an agent has edited them, unchanged ones left alone. Running it again
// changes nothing. Every other method seeds by itself on first use; Seed is for tools
// (`okpay migrate`) that want it done, and reported, up front.
//
// Errors: none with a code; database failures are internal.
func (s *Service) Seed(ctx context.Context) (SeedReport, error) {
	s.seedMu.Lock()
	defer s.seedMu.Unlock()
	rep, err := s.seed(ctx)
	if err == nil {
		s.seeded = true
	}
	return rep, err
}

type storedTr struct {
	hash     string
	editedAt int64
	version  int64
}

func (s *Service) seed(ctx context.Context) (SeedReport, error) {
	var rep SeedReport
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		rep = SeedReport{}
		arts := map[string]string{} // slug → metadata fingerprint
		rows, err := tx.QueryContext(ctx, `SELECT slug, category, position, featured, codes, also_codes, related FROM help_articles`)
		if err != nil {
			return errf("seed: read articles", err)
		}
		for rows.Next() {
			var slug, cat, codes, also, rel string
			var pos, feat int
			if err := rows.Scan(&slug, &cat, &pos, &feat, &codes, &also, &rel); err != nil {
				rows.Close()
				return errf("seed: read articles", err)
			}
			arts[slug] = fmt.Sprint(cat, pos, feat, codes, also, rel)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return errf("seed: read articles", err)
		}
		trs := map[string]storedTr{}
		rows, err = tx.QueryContext(ctx, `SELECT slug, lang, source_hash, edited_at, version FROM help_translations`)
		if err != nil {
			return errf("seed: read translations", err)
		}
		for rows.Next() {
			var slug, lang string
			var st storedTr
			if err := rows.Scan(&slug, &lang, &st.hash, &st.editedAt, &st.version); err != nil {
				rows.Close()
				return errf("seed: read translations", err)
			}
			trs[slug+"/"+lang] = st
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return errf("seed: read translations", err)
		}
		now := tx.NowMicros()
		for pos, slug := range s.cat.order {
			src := s.cat.first(slug)
			codes, also, rel := strings.Join(src.Codes, " "), strings.Join(src.AlsoCodes, " "), strings.Join(src.Related, " ")
			fp := fmt.Sprint(src.Category, pos, src.Featured, codes, also, rel)
			if old, ok := arts[slug]; !ok {
				// ON CONFLICT: another node may be seeding the same database right now.
				if _, err := tx.ExecContext(ctx, `INSERT INTO help_articles (slug, category, position, featured, codes, also_codes, related, created_at, updated_at)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (slug) DO NOTHING`,
					slug, src.Category, pos, src.Featured, codes, also, rel, now); err != nil {
					return errf("seed: insert article "+slug, err)
				}
			} else if old != fp {
				if _, err := tx.ExecContext(ctx, `UPDATE help_articles SET category = $2, position = $3, featured = $4, codes = $5, also_codes = $6, related = $7, updated_at = $8 WHERE slug = $1`,
					slug, src.Category, pos, src.Featured, codes, also, rel, now); err != nil {
					return errf("seed: update article "+slug, err)
				}
			}
			for _, lang := range Langs {
				tr := s.cat.bySlug[slug][lang]
				if tr == nil {
					continue
				}
				key := slug + "/" + lang
				st, ok := trs[key]
				switch {
				case !ok:
					res, err := tx.ExecContext(ctx, `INSERT INTO help_translations (slug, lang, title, summary, keywords, body_md, body_text,
						title_tok, keywords_tok, summary_tok, body_tok, version, source_hash, updated_at)
						VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $13) ON CONFLICT (slug, lang) DO NOTHING`,
						append(docArgs(slug, lang, tr.Title, tr.Summary, tr.Keywords, tr.Body), tr.Hash, now)...)
					if err != nil {
						return errf("seed: insert "+key, err)
					}
					if n, _ := res.RowsAffected(); n == 1 {
						if err := addHistory(ctx, tx, slug, lang, 1, Editor{ID: "builtin", Role: roleSystem}, "built-in article", tr.Title, tr.Summary, tr.Keywords, tr.Body); err != nil {
							return err
						}
						rep.Inserted++
					}
				case st.hash == tr.Hash:
					rep.Unchanged++
				case st.editedAt != 0:
					rep.KeptEdited = append(rep.KeptEdited, key)
				default:
					// version in WHERE: a concurrent seeder or editor that got there first wins.
					res, err := tx.ExecContext(ctx, `UPDATE help_translations SET title = $3, summary = $4, keywords = $5, body_md = $6, body_text = $7,
						title_tok = $8, keywords_tok = $9, summary_tok = $10, body_tok = $11, version = version + 1, source_hash = $12, updated_at = $13
						WHERE slug = $1 AND lang = $2 AND version = $14 AND edited_at = 0`,
						append(docArgs(slug, lang, tr.Title, tr.Summary, tr.Keywords, tr.Body), tr.Hash, now, st.version)...)
					if err != nil {
						return errf("seed: update "+key, err)
					}
					if n, _ := res.RowsAffected(); n == 1 {
						if err := addHistory(ctx, tx, slug, lang, st.version+1, Editor{ID: "builtin", Role: roleSystem}, "built-in article updated", tr.Title, tr.Summary, tr.Keywords, tr.Body); err != nil {
							return err
						}
						rep.Updated++
					}
				}
			}
		}
		return nil
	})
	sort.Strings(rep.KeptEdited)
	return rep, err
}

// docArgs are the text columns of a translation, $1..$11 of its INSERT and UPDATE.
func docArgs(slug, lang, title, summary, keywords, body string) []any {
	plain := plainText(body)
	return []any{slug, lang, title, summary, keywords, body, plain,
		Tokenize(title), Tokenize(keywords), Tokenize(summary), Tokenize(plain)}
}

// trRow is a stored translation with its article's metadata.
type trRow struct {
	slug, category, codes, also, related string
	lang, title, summary, keywords, body string
	version, updatedAt, editedAt         int64
}

const trCols = `a.slug, a.category, a.codes, a.also_codes, a.related, t.lang, t.title, t.summary, t.keywords, t.body_md, t.version, t.updated_at, t.edited_at`

func scanTr(sc interface{ Scan(...any) error }) (*trRow, error) {
	var r trRow
	err := sc.Scan(&r.slug, &r.category, &r.codes, &r.also, &r.related, &r.lang, &r.title, &r.summary, &r.keywords, &r.body, &r.version, &r.updatedAt, &r.editedAt)
	return &r, err
}

func (r *trRow) summaryIn(lang string) ArticleSummary {
	return ArticleSummary{Slug: r.slug, Category: r.category, Lang: r.lang, Title: r.title, Summary: r.summary, Fallback: r.lang != lang}
}

// pick chooses lang's translation, else the other language's.
func pick(rows []*trRow, lang string) *trRow {
	var fb *trRow
	for _, r := range rows {
		if r.lang == lang {
			return r
		}
		fb = r
	}
	return fb
}

// summaries lists every article once, in lang where it exists, in display order.
func (s *Service) summaries(ctx context.Context, tx *db.Tx, lang, category string) ([]ArticleSummary, error) {
	q := `SELECT ` + trCols + ` FROM help_articles a JOIN help_translations t ON t.slug = a.slug`
	args := []any{}
	if category != "" {
		q += ` WHERE a.category = $1`
		args = append(args, category)
	}
	q += fmt.Sprintf(` ORDER BY a.position, a.slug LIMIT %d`, maxArticles*len(Langs))
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, errf("list articles", err)
	}
	defer rows.Close()
	var order []string
	by := map[string][]*trRow{}
	for rows.Next() {
		r, err := scanTr(rows)
		if err != nil {
			return nil, errf("list articles", err)
		}
		if by[r.slug] == nil {
			order = append(order, r.slug)
		}
		by[r.slug] = append(by[r.slug], r)
	}
	if err := rows.Err(); err != nil {
		return nil, errf("list articles", err)
	}
	out := make([]ArticleSummary, 0, len(order))
	for _, slug := range order {
		out = append(out, pick(by[slug], lang).summaryIn(lang))
	}
	return out, nil
}

// List returns the articles of category (every article when category is ""), in display
// order, each in lang where it exists and otherwise in the other language.
//
// Errors: not_found (unknown category).
func (s *Service) List(ctx context.Context, lang, category string) ([]ArticleSummary, error) {
	lang = normLang(lang)
	if category != "" && !knownCategory(category) {
		return nil, apperr.New(apperr.CodeNotFound)
	}
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	var out []ArticleSummary
	err := s.db.Read(ctx, func(tx *db.Tx) error {
		var err error
		out, err = s.summaries(ctx, tx, lang, category)
		return err
	})
	return out, err
}

// popularCount is how many articles the home page offers as popular.
const popularCount = 6

// HomePage returns the categories with their articles and the popular articles, in lang.
// Popular means most "helpful" votes net of "not helpful" ones; with few votes the
// editors' choice (front matter "featured") fills the list.
//
// Errors: none with a code.
func (s *Service) HomePage(ctx context.Context, lang string) (*Home, error) {
	lang = normLang(lang)
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	h := &Home{}
	err := s.db.Read(ctx, func(tx *db.Tx) error {
		all, err := s.summaries(ctx, tx, lang, "")
		if err != nil {
			return err
		}
		byCat := map[string][]ArticleSummary{}
		bySlug := map[string]ArticleSummary{}
		for _, a := range all {
			byCat[a.Category] = append(byCat[a.Category], a)
			bySlug[a.Slug] = a
		}
		for _, c := range categories {
			if len(byCat[c.slug]) > 0 {
				h.Categories = append(h.Categories, CategoryArticles{Category: categoryIn(c, lang), Articles: byCat[c.slug]})
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT a.slug FROM help_articles a
			LEFT JOIN (SELECT slug, SUM(2 * helpful - 1) AS net FROM help_votes GROUP BY slug) v ON v.slug = a.slug
			WHERE COALESCE(v.net, 0) > 0 OR a.featured > 0
			ORDER BY COALESCE(v.net, 0) DESC, CASE WHEN a.featured > 0 THEN a.featured ELSE 1001 END, a.position
			LIMIT $1`, popularCount)
		if err != nil {
			return errf("popular articles", err)
		}
		defer rows.Close()
		for rows.Next() {
			var slug string
			if err := rows.Scan(&slug); err != nil {
				return errf("popular articles", err)
			}
			if a, ok := bySlug[slug]; ok {
				h.Popular = append(h.Popular, a)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, errf("home page", err)
	}
	return h, nil
}

// maxRelated bounds the "related articles" list under an article.
const maxRelated = 5

// Get returns the article slug in lang, or in the other language (Fallback set) when it
// has no lang version. Related articles are the ones its source names, then others of its
// category.
//
// Errors: not_found.
func (s *Service) Get(ctx context.Context, slug, lang string) (*Article, error) {
	lang = normLang(lang)
	if !validSlug(slug) {
		return nil, apperr.New(apperr.CodeNotFound)
	}
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	var a *Article
	err := s.db.Read(ctx, func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+trCols+` FROM help_articles a JOIN help_translations t ON t.slug = a.slug WHERE a.slug = $1`, slug)
		if err != nil {
			return errf("get article", err)
		}
		var trs []*trRow
		for rows.Next() {
			r, err := scanTr(rows)
			if err != nil {
				rows.Close()
				return errf("get article", err)
			}
			trs = append(trs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return errf("get article", err)
		}
		r := pick(trs, lang)
		if r == nil {
			return apperr.New(apperr.CodeNotFound)
		}
		body, err := RenderMarkdown(r.body)
		if err != nil {
			return err
		}
		a = &Article{ArticleSummary: r.summaryIn(lang), Keywords: r.keywords, BodyMarkdown: r.body, BodyHTML: body,
			Codes: append(strings.Fields(r.codes), strings.Fields(r.also)...), Version: r.version,
			UpdatedAt: db.Micros(r.updatedAt), Edited: r.editedAt != 0}
		if a.Codes == nil {
			a.Codes = []string{}
		}
		same, err := s.summaries(ctx, tx, lang, r.category)
		if err != nil {
			return err
		}
		a.Related = related(strings.Fields(r.related), slug, same)
		if len(a.Related) < maxRelated && len(strings.Fields(r.related)) > 0 {
			// Named related articles may sit in other categories.
			all, err := s.summaries(ctx, tx, lang, "")
			if err != nil {
				return err
			}
			a.Related = related(strings.Fields(r.related), slug, append(all, same...))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// related puts the named slugs first, then the rest of pool, without self or repeats.
func related(named []string, self string, pool []ArticleSummary) []ArticleSummary {
	by := map[string]ArticleSummary{}
	for _, a := range pool {
		if _, ok := by[a.Slug]; !ok {
			by[a.Slug] = a
		}
	}
	out := []ArticleSummary{}
	seen := map[string]bool{self: true}
	for _, n := range named {
		if a, ok := by[n]; ok && !seen[n] && len(out) < maxRelated {
			out = append(out, a)
			seen[n] = true
		}
	}
	for _, a := range pool {
		if !seen[a.Slug] && len(out) < maxRelated && a.Category == categoryOf(pool, self) {
			out = append(out, a)
			seen[a.Slug] = true
		}
	}
	return out
}

func categoryOf(pool []ArticleSummary, slug string) string {
	for _, a := range pool {
		if a.Slug == slug {
			return a.Category
		}
	}
	return ""
}

// errNoRows maps a missing row to not_found.
func errNoRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.New(apperr.CodeNotFound)
	}
	return err
}
