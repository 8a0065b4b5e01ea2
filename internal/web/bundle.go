package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
)

//go:embed templates locales static
var embedded embed.FS

// Langs are the languages the UI speaks, in the order the switch shows them.
var Langs = []string{"zh-CN", "en"}

// bundle is everything parsed from the template, locale and static files. It is immutable
// once built, so requests share it without locks.
type bundle struct {
	pages  map[string]*template.Template // page name → layout + partials + page
	text   map[string]map[string]string  // lang → key → text
	assets map[string]asset              // path under static/ → file
}

type asset struct {
	data  []byte
	hash  string // content hash: the ?v= in URLs, and the ETag
	ctype string
}

func loadBundle(fsys fs.FS) (*bundle, error) {
	b := &bundle{pages: map[string]*template.Template{}, assets: map[string]asset{}}
	if err := b.loadAssets(fsys); err != nil {
		return nil, err
	}
	text, err := loadLocales(fsys)
	if err != nil {
		return nil, err
	}
	b.text = text
	if err := b.loadTemplates(fsys); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *bundle) loadAssets(fsys fs.FS) error {
	return fs.WalkDir(fsys, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("web: read %s: %w", p, err)
		}
		sum := sha256.Sum256(data)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		b.assets[strings.TrimPrefix(p, "static/")] = asset{data: data, hash: hex.EncodeToString(sum[:6]), ctype: ctype}
		return nil
	})
}

// loadLocales reads locales/<lang>.json and any locales/<area>.<lang>.json (one file set
// per feature, so features added in parallel do not edit one shared file) for every
// language, and refuses an incomplete set: a key missing in one language would show the
// raw key to those users. A key defined in two files is refused too.
func loadLocales(fsys fs.FS) (map[string]map[string]string, error) {
	text := map[string]map[string]string{}
	for _, lang := range Langs {
		text[lang] = map[string]string{}
	}
	files, err := fs.Glob(fsys, "locales/*.json")
	if err != nil {
		return nil, fmt.Errorf("web: list locales: %w", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".json")
		lang := name
		if i := strings.LastIndex(name, "."); i >= 0 {
			lang = name[i+1:]
		}
		dst, ok := text[lang]
		if !ok {
			return nil, fmt.Errorf("web: locale file %s: unknown language %q", f, lang)
		}
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("web: read locale: %w", err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("web: locale %s: %w", f, err)
		}
		for k, v := range m {
			if _, dup := dst[k]; dup {
				return nil, fmt.Errorf("web: locale key %q defined twice for %s (again in %s)", k, lang, f)
			}
			dst[k] = v
		}
	}
	if problems := checkLocales(text); len(problems) > 0 {
		return nil, fmt.Errorf("web: translations incomplete:\n  %s", strings.Join(problems, "\n  "))
	}
	return text, nil
}

var placeholderRE = regexp.MustCompile(`\{[a-z_]+\}`)

// checkLocales lists keys that are missing in a language, empty, or whose {placeholders}
// differ between languages.
func checkLocales(text map[string]map[string]string) []string {
	var problems []string
	ref := text[Langs[0]]
	for _, lang := range Langs {
		for key, val := range text[lang] {
			if strings.TrimSpace(val) == "" {
				problems = append(problems, fmt.Sprintf("%s: %q is empty", lang, key))
			}
			for _, other := range Langs {
				if _, ok := text[other][key]; !ok {
					problems = append(problems, fmt.Sprintf("%s: %q missing (present in %s)", other, key, lang))
				}
			}
			if lang != Langs[0] {
				if a, b := placeholders(ref[key]), placeholders(val); a != b {
					problems = append(problems, fmt.Sprintf("%s: %q has placeholders %s, %s has %s", lang, key, b, Langs[0], a))
				}
			}
		}
	}
	sort.Strings(problems)
	return problems
}

func placeholders(s string) string {
	p := placeholderRE.FindAllString(s, -1)
	sort.Strings(p)
	return strings.Join(p, ",")
}

// loadTemplates builds one template set per page: layout.html + templates/partials/*.html +
// templates/<page>.html. Separate sets let every page define the same block names.
func (b *bundle) loadTemplates(fsys fs.FS) error {
	base := template.New("layout.html").Funcs(template.FuncMap{
		"asset": b.assetURL,
	})
	partials, err := fs.Glob(fsys, "templates/partials/*.html")
	if err != nil {
		return err
	}
	if _, err := base.ParseFS(fsys, append([]string{"templates/layout.html"}, partials...)...); err != nil {
		return fmt.Errorf("web: parse layout: %w", err)
	}
	files, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		return err
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return err
		}
		if _, err := t.ParseFS(fsys, f); err != nil {
			return fmt.Errorf("web: parse page %s: %w", name, err)
		}
		for _, block := range []string{"title", "content"} {
			if t.Lookup(block) == nil {
				return fmt.Errorf("web: page %s does not define %q", name, block)
			}
		}
		b.pages[name] = t
	}
	for _, required := range []string{"home", "status", "error"} {
		if b.pages[required] == nil {
			return fmt.Errorf("web: page %s missing", required)
		}
	}
	return nil
}

// assetURL is the template function {{asset "app.css"}}: the URL carries the content hash,
// so browsers may cache it for a year and still fetch the new file after a deploy.
func (b *bundle) assetURL(name string) (string, error) {
	a, ok := b.assets[name]
	if !ok {
		return "", fmt.Errorf("web: no static file %q", name)
	}
	return "/static/" + name + "?v=" + a.hash, nil
}

// findSource locates internal/web in the source tree this binary was built from, for Dev
// mode. It returns "" when the tree is not there (a deployed binary, -trimpath builds).
func findSource() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return ""
	}
	dir := filepath.Dir(file)
	if _, err := os.Stat(filepath.Join(dir, "templates", "layout.html")); err != nil {
		return ""
	}
	return dir
}
