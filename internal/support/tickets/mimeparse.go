package tickets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
)

// InboundMail is a received message reduced to what the desk uses.
type InboundMail struct {
	From       string // bare address, lower case
	FromName   string
	Subject    string
	MessageID  string   // without angle brackets
	InReplyTo  []string // ids without angle brackets
	References []string
	// Auto is set for mail no person wrote (bounces, vacation replies, lists): it never
	// gets an automatic answer, which is how mail loops start.
	Auto        bool
	Text        string
	Attachments []MailFile
	// Skipped counts parts past the limits (too many parts or files).
	Skipped int
}

// MailFile is one attached file of a mail.
type MailFile struct {
	Name string
	Data []byte
}

// Parsing limits: a message is already bounded by the listener's size limit; these bound
// the work one message can cause.
const (
	maxMIMEDepth     = 6
	maxMIMEParts     = 64
	maxMailFiles     = 20
	maxHeaderIDs     = 50
	maxMailTextBytes = 256 << 10
)

// wordDecoder decodes RFC 2047 words in any charset x/net knows (GBK, GB18030, Big5, …).
var wordDecoder = &mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
	return charset.NewReaderLabel(cs, r)
}}

func decodeHeader(s string) string {
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}

// ParseMail reads a whole RFC 5322 message: headers (RFC 2047 encoded words in any common
// charset), and the body walked part by part — multipart, base64 and quoted-printable,
// charsets converted to UTF-8 — taking text/plain, or HTML converted to text when there is
// no plain part, and collecting attachments.
//
// Errors: a plain error when the message or its sender cannot be read.
func ParseMail(r io.Reader) (*InboundMail, error) {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return nil, fmt.Errorf("parse mail: %w", err)
	}
	h := msg.Header
	m := &InboundMail{}
	parser := mail.AddressParser{WordDecoder: wordDecoder}
	from, err := parser.Parse(h.Get("From"))
	if err != nil {
		return nil, fmt.Errorf("parse mail: From: %w", err)
	}
	// Headers may carry raw 8-bit bytes in any charset; the database takes UTF-8 only.
	m.From, m.FromName = strings.ToValidUTF8(strings.ToLower(from.Address), ""), strings.ToValidUTF8(from.Name, "\uFFFD")
	m.Subject = strings.TrimSpace(oneLine(strings.ToValidUTF8(decodeHeader(h.Get("Subject")), "\uFFFD")))
	m.Subject = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, m.Subject)
	m.MessageID = firstID(h.Get("Message-ID"))
	m.InReplyTo = msgIDs(h.Get("In-Reply-To"))
	m.References = msgIDs(h.Get("References"))
	auto := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted")))
	prec := strings.ToLower(strings.TrimSpace(h.Get("Precedence")))
	local := m.From[:max(strings.IndexByte(m.From, '@'), 0)]
	m.Auto = (auto != "" && auto != "no") || prec == "bulk" || prec == "junk" || prec == "list" ||
		h.Get("X-Autoreply") != "" || h.Get("X-Autorespond") != "" || h.Get("List-Id") != "" ||
		local == "mailer-daemon" || local == "postmaster" || strings.HasPrefix(local, "noreply") || strings.HasPrefix(local, "no-reply")
	w := &walker{m: m}
	if err := w.part(textproto.MIMEHeader(h), msg.Body, 0); err != nil {
		return nil, err
	}
	switch {
	case w.plain != "":
		m.Text = w.plain
	case w.html != "":
		m.Text = htmlToText(w.html)
	}
	m.Text = strings.TrimSpace(strings.ReplaceAll(m.Text, "\r\n", "\n"))
	return m, nil
}

type walker struct {
	m           *InboundMail
	parts       int
	plain, html string
}

func (w *walker) part(h textproto.MIMEHeader, body io.Reader, depth int) error {
	w.parts++
	if w.parts > maxMIMEParts || depth > maxMIMEDepth {
		w.m.Skipped++
		return nil
	}
	ctype, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		ctype, params = "text/plain", map[string]string{}
	}
	if strings.HasPrefix(ctype, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextRawPart: transfer encodings are decoded below, the same way for every
			// part, instead of by the multipart reader for quoted-printable only.
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("parse mail: multipart: %w", err)
			}
			if err := w.part(p.Header, p, depth+1); err != nil {
				return err
			}
		}
	}
	if ctype == "message/rfc822" {
		w.m.Skipped++ // forwarded mail as a file: not a file type the desk accepts
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(decodeTransfer(h.Get("Content-Transfer-Encoding"), body), MaxAttachmentBytes+1))
	if err != nil {
		return fmt.Errorf("parse mail: part body: %w", err)
	}
	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	name = decodeHeader(name)
	isText := (ctype == "text/plain" || ctype == "text/html") && disp != "attachment" && name == ""
	if !isText {
		if len(w.m.Attachments) >= maxMailFiles {
			w.m.Skipped++
			return nil
		}
		if name == "" {
			name = "attachment"
		}
		w.m.Attachments = append(w.m.Attachments, MailFile{Name: name, Data: data})
		return nil
	}
	text := toUTF8(params["charset"], data)
	if len(text) > maxMailTextBytes {
		text = strings.ToValidUTF8(text[:maxMailTextBytes], "")
	}
	if ctype == "text/plain" && w.plain == "" {
		w.plain = text
	} else if ctype == "text/html" && w.html == "" {
		w.html = text
	}
	return nil
}

func decodeTransfer(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		// Mail base64 is wrapped in lines; the decoder must skip the line breaks.
		return base64.NewDecoder(base64.StdEncoding, &stripSpace{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// stripSpace drops CR, LF, spaces and tabs, which base64 in mail is full of.
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// toUTF8 converts text from its declared charset; undeclared or unknown charsets are taken
// as UTF-8 when valid, else as GB18030, the most common non-UTF-8 charset of Chinese mail.
func toUTF8(cs string, b []byte) string {
	cs = strings.ToLower(strings.TrimSpace(cs))
	if cs == "" || cs == "utf-8" || cs == "us-ascii" || cs == "utf8" {
		if utf8.Valid(b) {
			return string(b)
		}
		cs = "gb18030"
	}
	r, err := charset.NewReaderLabel(cs, bytes.NewReader(b))
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// htmlToText keeps the words of an HTML mail: script, style and head are dropped, block
// elements and <br> become line breaks, entities are decoded by the tokenizer.
func htmlToText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if errors.Is(z.Err(), io.EOF) || z.Err() != nil {
				return collapseBlank(b.String())
			}
		case html.TextToken:
			if skip == 0 {
				b.WriteString(spaceRE.ReplaceAllString(string(z.Text()), " "))
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style", "head", "title":
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
			case "br":
				b.WriteString("\n")
			case "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol":
				b.WriteString("\n")
			case "td", "th":
				b.WriteString(" ")
			}
		}
	}
}

var spaceRE = regexp.MustCompile(`[ \t\r\n\f]+`)

func collapseBlank(s string) string {
	lines := strings.Split(s, "\n")
	var out []string
	blank := 0
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// msgIDs extracts "<id>" tokens from an In-Reply-To or References header.
func msgIDs(v string) []string {
	var out []string
	for len(out) < maxHeaderIDs {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			break
		}
		if id := strings.TrimSpace(v[i+1 : i+j]); id != "" && len(id) <= 250 && utf8.ValidString(id) && !strings.ContainsRune(id, 0) {
			out = append(out, id)
		}
		v = v[i+j+1:]
	}
	return out
}

func firstID(v string) string {
	if ids := msgIDs(v); len(ids) > 0 {
		return ids[0]
	}
	return ""
}

// stripQuoted cuts the quoted previous message off a reply: everything from a line like
// "On … wrote:" / "在 … 写道：" or a run of "> " lines at the end. The agents have the
// earlier messages in the thread already.
func stripQuoted(s string) string {
	lines := strings.Split(s, "\n")
	cut := len(lines)
	for i, l := range lines {
		t := strings.TrimSpace(l)
		low := strings.ToLower(t)
		if (strings.HasPrefix(low, "on ") && strings.HasSuffix(low, "wrote:")) ||
			(strings.Contains(t, "写道") && (strings.HasSuffix(t, "：") || strings.HasSuffix(t, ":"))) ||
			strings.HasPrefix(t, "-----Original Message-----") || strings.HasPrefix(t, "-----原始邮件-----") {
			cut = i
			break
		}
	}
	lines = lines[:cut]
	for len(lines) > 0 {
		t := strings.TrimSpace(lines[len(lines)-1])
		if t == "" || strings.HasPrefix(t, ">") {
			lines = lines[:len(lines)-1]
			continue
		}
		break
	}
	out := strings.TrimSpace(strings.Join(lines, "\n"))
	if out == "" {
		return strings.TrimSpace(s) // all quoted: keep everything rather than nothing
	}
	return out
}
