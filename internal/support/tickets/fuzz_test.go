package tickets

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseMail: any bytes from the network parse or fail cleanly, never panic, and what
// comes out is valid UTF-8 within the limits.
func FuzzParseMail(f *testing.F) {
	f.Add("From: a@b.example\r\nSubject: =?utf-8?b?5L2g5aW9?=\r\n\r\nhello")
	f.Add("From: a@b.example\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/html; charset=gbk\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>=C4=E3</p>\r\n--x--\r\n")
	f.Add("From: =?gb2312?B?wO7LxA==?= <l@x.cn>\r\nIn-Reply-To: <a@b> <c@d>\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n5L2g\r\n5aW9\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		m, err := ParseMail(strings.NewReader(raw))
		if err != nil {
			return
		}
		for _, s := range append([]string{m.From, m.FromName, m.Subject, m.Text, m.MessageID}, m.References...) {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 %q", s)
			}
		}
		if len(m.Text) > maxMailTextBytes || len(m.Attachments) > maxMailFiles || len(m.InReplyTo) > maxHeaderIDs {
			t.Fatalf("limits broken: text %d files %d ids %d", len(m.Text), len(m.Attachments), len(m.InReplyTo))
		}
		_ = stripQuoted(m.Text)
		_ = htmlToText(raw)
	})
}
