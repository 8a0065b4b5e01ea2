package help

import (
	"context"
	"sort"
	"strings"
	"unicode/utf8"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// SearchResult is one article found, with its title and an excerpt highlighted: both are
// HTML, escaped, with the matched words in <mark>.
type SearchResult struct {
	ArticleSummary
	TitleHTML   string  `json:"title_html"`
	SnippetHTML string  `json:"snippet_html"`
	Score       float64 `json:"score" doc:"relevance; only the order means anything"`
}

// SearchResults is the answer to one query.
type SearchResults struct {
	Query   string         `json:"query"`
	Results []SearchResult `json:"results"`
}

// searchWeights rank a match in the title far above one in the body: a reader searching
// "冻结" wants the article about frozen accounts, not every article that mentions freezing.
// Order: title, keywords, summary, body — the order of the index columns.
var searchWeights = []float64{10, 5, 3, 1}

// searchDocs bounds how many matching documents the database returns before they are
// grouped per article; the whole help center is a few hundred documents at most.
const searchDocs = maxArticles * 2

// Search finds articles matching q, best first: articles in lang come first, then articles
// that exist only in the other language (Fallback set). Each article appears once. Words
// of the query are ORed, so a long question still finds the article sharing most of its
// words; title matches weigh most. A query with no searchable words (only punctuation)
// finds nothing. limit is capped at MaxSearchResults; 0 means DefaultResults.
//
// Errors: help_query_empty, help_query_too_long.
func (s *Service) Search(ctx context.Context, q, lang string, limit int) (*SearchResults, error) {
	lang = normLang(lang)
	q = strings.TrimSpace(strings.ToValidUTF8(q, " "))
	if q == "" {
		return nil, apperr.New(CodeQueryEmpty)
	}
	if utf8.RuneCountInString(q) > MaxQueryRunes {
		return nil, queryTooLong()
	}
	if limit <= 0 {
		limit = DefaultResults
	}
	limit = min(limit, MaxSearchResults)
	out := &SearchResults{Query: q, Results: []SearchResult{}}
	terms := queryTerms(q)
	if len(terms) == 0 {
		return out, nil
	}
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	termSet := map[string]bool{}
	for _, t := range terms {
		termSet[t] = true
	}
	type hit struct {
		slug, category, lang, title, summary, body string
		score                                      float64
	}
	var hits []hit
	err := s.db.Read(ctx, func(tx *db.Tx) error {
		inner, args := tx.Dialect.TextSearch("help_translations", searchWeights, terms, searchDocs)
		rows, err := tx.QueryContext(ctx, `SELECT t.slug, a.category, t.lang, t.title, t.summary, t.body_text, s.score
			FROM (`+inner+`) s JOIN help_translations t ON t.doc_id = s.doc_id JOIN help_articles a ON a.slug = t.slug`, args...)
		if err != nil {
			return errf("search", err)
		}
		defer rows.Close()
		for rows.Next() {
			var h hit
			if err := rows.Scan(&h.slug, &h.category, &h.lang, &h.title, &h.summary, &h.body, &h.score); err != nil {
				return errf("search", err)
			}
			hits = append(hits, h)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	// One result per article: its lang translation when that matched, else the other.
	best := map[string]int{}
	for i, h := range hits {
		j, ok := best[h.slug]
		if !ok || (hits[j].lang != lang && h.lang == lang) {
			best[h.slug] = i
		}
	}
	chosen := make([]hit, 0, len(best))
	for _, i := range best {
		chosen = append(chosen, hits[i])
	}
	sort.Slice(chosen, func(i, j int) bool {
		a, b := chosen[i], chosen[j]
		if (a.lang == lang) != (b.lang == lang) {
			return a.lang == lang
		}
		if a.score != b.score {
			return a.score > b.score
		}
		return a.slug < b.slug
	})
	if len(chosen) > limit {
		chosen = chosen[:limit]
	}
	for _, h := range chosen {
		out.Results = append(out.Results, SearchResult{
			ArticleSummary: ArticleSummary{Slug: h.slug, Category: h.category, Lang: h.lang, Title: h.title, Summary: h.summary, Fallback: h.lang != lang},
			TitleHTML:      highlight(h.title, termSet),
			SnippetHTML:    snippet(h.body, termSet),
			Score:          h.score,
		})
	}
	return out, nil
}
