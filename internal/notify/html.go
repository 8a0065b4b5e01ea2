package notify

import (
	"html"
	"regexp"
	"strings"
)

// urlRE finds web links in plain text: http or https followed by the characters RFC 3986
// allows, so a link stops at Chinese text or a quote. Only http and https become links: a
// mail client would happily follow javascript: or data: URLs.
var urlRE = regexp.MustCompile(`https?://[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+`)

// trailingPunct is punctuation that ends a sentence rather than a link, Latin and Chinese.
const trailingPunct = ".,;:!?)]}'\"。，；：！？）】」』、"

// textToHTML renders plain text as a small, safe HTML document: everything escaped,
// blank-line-separated paragraphs, line breaks kept, http(s) links clickable. The result
// holds no markup from the text, so no text can inject any.
func textToHTML(text, lang string) string {
	if lang == "" {
		lang = "en"
	}
	var b strings.Builder
	b.Grow(len(text)*5/4 + 256)
	b.WriteString("<!DOCTYPE html>\n<html lang=\"")
	b.WriteString(html.EscapeString(lang))
	b.WriteString("\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"></head>\n")
	b.WriteString("<body style=\"font-family:sans-serif;line-height:1.5;max-width:40em\">\n")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	for _, para := range strings.Split(text, "\n\n") {
		para = strings.Trim(para, "\n")
		if strings.TrimSpace(para) == "" {
			continue
		}
		b.WriteString("<p>")
		for i, line := range strings.Split(para, "\n") {
			if i > 0 {
				b.WriteString("<br>\n")
			}
			writeLinked(&b, line)
		}
		b.WriteString("</p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

// writeLinked writes line escaped, with its links as anchors.
func writeLinked(b *strings.Builder, line string) {
	last := 0
	for _, m := range urlRE.FindAllStringIndex(line, -1) {
		start, end := m[0], m[1]
		end = start + len(strings.TrimRight(line[start:end], trailingPunct))
		if end-start <= len("https://") {
			continue
		}
		b.WriteString(html.EscapeString(line[last:start]))
		u := html.EscapeString(line[start:end])
		b.WriteString(`<a href="`)
		b.WriteString(u)
		b.WriteString(`">`)
		b.WriteString(u)
		b.WriteString(`</a>`)
		last = end
	}
	b.WriteString(html.EscapeString(line[last:]))
}
