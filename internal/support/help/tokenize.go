package help

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Search works on tokens the application makes, not the database's: neither SQLite's
// unicode61 nor PostgreSQL's 'simple' parser splits Chinese into words (a run of Han
// characters is one "word" to both), and a Chinese word segmenter is a large dependency with
// a dictionary. Overlapping bigrams are the classic answer: "提现失败" indexes as 提现 现失 失败
// (plus the single characters, so a one-character query still finds something), and the
// query tokenised the same way matches whatever words it shares with the text. Latin text
// becomes lower-cased words with a light English suffix stripping, so "locked" finds
// "lock" and "cards" finds "card". Both engines then index identical tokens, which is what
// makes ranking comparable across them.

// token is one search token and where its source text sits in the original string, for
// highlighting.
type token struct {
	term       string
	start, end int // byte offsets in the source
}

// isCJK reports whether r is written without spaces between words.
func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

func isWordRune(r rune) bool {
	return (unicode.IsLetter(r) || unicode.IsDigit(r)) && !isCJK(r)
}

// scan splits s into tokens. With unigrams, every CJK character is also a token of its own
// (for the index); queries leave them out when a bigram covers them, so "冻结" asks for the
// word, not for every text with 冻 or 结 in it.
func scan(s string, unigrams bool) []token {
	var out []token
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case isCJK(r):
			// A run of CJK characters.
			var starts []int
			j := i
			for j < len(s) {
				r2, n2 := utf8.DecodeRuneInString(s[j:])
				if !isCJK(r2) {
					break
				}
				starts = append(starts, j)
				j += n2
			}
			starts = append(starts, j)
			chars := len(starts) - 1
			for k := 0; k < chars; k++ {
				if unigrams || chars == 1 {
					out = append(out, token{strings.ToLower(s[starts[k]:starts[k+1]]), starts[k], starts[k+1]})
				}
				if k+1 < chars {
					out = append(out, token{s[starts[k]:starts[k+2]], starts[k], starts[k+2]})
				}
			}
			i = j
		case isWordRune(r):
			j := i
			for j < len(s) {
				r2, n2 := utf8.DecodeRuneInString(s[j:])
				if !isWordRune(r2) {
					break
				}
				j += n2
			}
			if t := stem(strings.ToLower(s[i:j])); t != "" {
				out = append(out, token{t, i, j})
			}
			i = j
		default:
			i += n
		}
	}
	return out
}

// Tokenize returns the search tokens of s separated by spaces: what is stored in the index
// columns. Every token is letters and digits only.
func Tokenize(s string) string {
	toks := scan(s, true)
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i, t := range toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.term)
	}
	return b.String()
}

// maxQueryTerms bounds the OR-expression sent to the database; a query is at most
// MaxQueryRunes long, so this only cuts pathological input.
const maxQueryTerms = 48

// queryTerms returns the distinct tokens of a query, dropping words too common to mean
// anything in a help center ("how", "怎么") unless nothing else is left.
func queryTerms(q string) []string {
	seen := map[string]bool{}
	var all, kept []string
	for _, t := range scan(q, false) {
		if seen[t.term] {
			continue
		}
		seen[t.term] = true
		all = append(all, t.term)
		if !stopWords[t.term] {
			kept = append(kept, t.term)
		}
	}
	if len(kept) == 0 {
		kept = all
	}
	if len(kept) > maxQueryTerms {
		kept = kept[:maxQueryTerms]
	}
	return kept
}

// stopWords are query words that match nearly every article. The index keeps them (they
// cost little and a query made only of them still works); queries drop them.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the to of in on for and or is are be do doe i my me it
		can how what why when where which with from at by this that not no`) {
		m[w] = true
	}
	for _, w := range strings.Fields(`怎么 么办 如何 什么 为什 么我 我的 了怎 么了 我该 怎样 一下 可以 是否 吗 的 了 我 呢 么`) {
		m[w] = true
	}
	return m
}()

// stem strips the commonest English inflections, the same way for text and queries. It is
// deliberately small (not Porter): help articles are short and a wrong stem only costs a
// little recall, while a full stemmer is code to keep. Words of four letters or fewer and
// non-ASCII words are left alone.
func stem(w string) string {
	if len(w) <= 3 {
		return w
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; c < 'a' || c > 'z' {
			return w
		}
	}
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "ied") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ing") && len(w) > 5:
		w = undouble(w[:len(w)-3])
	case strings.HasSuffix(w, "ed") && len(w) > 4:
		w = undouble(w[:len(w)-2])
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		w = w[:len(w)-1]
	}
	// "decline" and "declined" must meet: drop a final e from longer words.
	if len(w) > 4 && strings.HasSuffix(w, "e") {
		w = w[:len(w)-1]
	}
	return w
}

// undouble turns "stopp" (from "stopped") into "stop", but keeps "ll", "ss", "zz" ("called").
func undouble(w string) string {
	n := len(w)
	if n >= 3 && w[n-1] == w[n-2] && strings.IndexByte("bdfgmnprt", w[n-1]) >= 0 {
		return w[:n-1]
	}
	return w
}
