package help

import (
	"bytes"
	"fmt"
	"html"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// Markdown is rendered by goldmark with GitHub's table and strikethrough extensions and
// without raw HTML (goldmark drops it by default), then passed through a bluemonday policy
// anyway: the renderer is configured not to emit scripts, event handlers or javascript:
// links, and the sanitizer makes sure of it even if a future option or bug does. Agents
// are staff, but an agent account can be phished, and these pages are public.
var md = goldmark.New(
	goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.Linkify),
	goldmark.WithParserOptions(parser.WithAutoHeadingID()),
)

var policy = func() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	// Heading ids let articles and the troubleshooter link to one section (#card-declined).
	p.AllowAttrs("id").Matching(regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)).OnElements("h1", "h2", "h3", "h4", "h5", "h6")
	p.AllowURLSchemes("http", "https", "mailto", "tel")
	p.RequireNoFollowOnLinks(false)
	p.RequireNoFollowOnFullyQualifiedLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(false)
	return p
}()

// RenderMarkdown turns article Markdown into sanitized HTML, safe to put in a page as is.
// Raw HTML in the source is dropped; only formatting, links (http, https, mailto, tel and
// relative), lists, tables, code and headings survive.
func RenderMarkdown(src string) (string, error) {
	var buf bytes.Buffer
	if err := md.Convert([]byte(src), &buf); err != nil {
		return "", fmt.Errorf("render markdown: %w", err)
	}
	return policy.Sanitize(buf.String()), nil
}

// plainText extracts the readable text of Markdown: what search indexes and snippets quote.
// Link targets, code fences' info strings and raw HTML are left out; blocks are separated
// by newlines so a snippet never glues two paragraphs into one word.
func plainText(src string) string {
	source := []byte(src)
	doc := md.Parser().Parse(text.NewReader(source))
	var b strings.Builder
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		switch n.Kind() {
		case ast.KindRawHTML, ast.KindHTMLBlock:
			return ast.WalkSkipChildren, nil
		}
		if !entering {
			if n.Type() == ast.TypeBlock && b.Len() > 0 {
				b.WriteByte('\n')
			}
			return ast.WalkContinue, nil
		}
		switch v := n.(type) {
		case *ast.Text:
			b.Write(v.Segment.Value(source))
			if v.SoftLineBreak() || v.HardLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(v.Value)
		case *ast.CodeSpan:
			for c := v.FirstChild(); c != nil; c = c.NextSibling() {
				if t, ok := c.(*ast.Text); ok {
					b.Write(t.Segment.Value(source))
				}
			}
			return ast.WalkSkipChildren, nil
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			lines := n.Lines()
			for i := 0; i < lines.Len(); i++ {
				seg := lines.At(i)
				b.Write(seg.Value(source))
			}
			return ast.WalkSkipChildren, nil
		case *ast.AutoLink:
			b.Write(v.Label(source))
		}
		return ast.WalkContinue, nil
	})
	// Collapse runs of blank lines and spaces the walk leaves behind.
	lines := strings.Split(b.String(), "\n")
	out := lines[:0]
	for _, l := range lines {
		l = strings.Join(strings.Fields(l), " ")
		if l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// highlight returns s HTML-escaped, with every token in terms wrapped in <mark>.
func highlight(s string, terms map[string]bool) string {
	return markRanges(s, 0, len(s), matchRanges(s, terms))
}

// matchRanges returns the merged byte ranges of s whose tokens are in terms.
func matchRanges(s string, terms map[string]bool) [][2]int {
	var rs [][2]int
	for _, t := range scan(s, true) {
		if !terms[t.term] {
			continue
		}
		if n := len(rs); n > 0 && t.start <= rs[n-1][1] {
			if t.end > rs[n-1][1] {
				rs[n-1][1] = t.end
			}
			continue
		}
		rs = append(rs, [2]int{t.start, t.end})
	}
	return rs
}

// markRanges escapes s[from:to] and marks the ranges inside it.
func markRanges(s string, from, to int, rs [][2]int) string {
	var b strings.Builder
	pos := from
	for _, r := range rs {
		a, z := max(r[0], from), min(r[1], to)
		if a >= z {
			continue
		}
		b.WriteString(html.EscapeString(s[pos:a]))
		b.WriteString("<mark>")
		b.WriteString(html.EscapeString(s[a:z]))
		b.WriteString("</mark>")
		pos = z
	}
	b.WriteString(html.EscapeString(s[pos:to]))
	return b.String()
}

// snippetRunes is the length of a search result's excerpt: about two lines on a phone.
const snippetRunes = 120

// snippet picks the stretch of body (plain text) with the most distinct query terms and
// returns it escaped and highlighted, with "…" where it was cut. Without a match it is the
// start of the text.
func snippet(body string, terms map[string]bool) string {
	rs := matchRanges(body, terms)
	start := 0
	if len(rs) > 0 {
		// Slide a window over the matches: the best start is the match that begins the
		// window with the most distinct terms.
		best, bestN := 0, -1
		for i := range rs {
			seen := map[string]bool{}
			limit := advanceRunes(body, rs[i][0], snippetRunes)
			for j := i; j < len(rs) && rs[j][0] < limit; j++ {
				seen[strings.ToLower(body[rs[j][0]:rs[j][1]])] = true
			}
			if len(seen) > bestN {
				best, bestN = i, len(seen)
			}
		}
		// Start a little before the match so it has context, at a line or word start.
		start = backRunes(body, rs[best][0], 20)
		if nl := strings.LastIndexByte(body[start:rs[best][0]], '\n'); nl >= 0 {
			start += nl + 1
		}
	}
	end := advanceRunes(body, start, snippetRunes)
	var b strings.Builder
	if start > 0 {
		b.WriteString("…")
	}
	seg := markRanges(body, start, end, rs)
	b.WriteString(strings.ReplaceAll(seg, "\n", " "))
	if end < len(body) {
		b.WriteString("…")
	}
	return b.String()
}

func advanceRunes(s string, i, n int) int {
	for ; n > 0 && i < len(s); n-- {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i
}

func backRunes(s string, i, n int) int {
	for ; n > 0 && i > 0; n-- {
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return i
}
