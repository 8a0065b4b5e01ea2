package help

import (
	"context"
	"regexp"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// voterRE: "u:<user id>" for signed-in people, "v:<visitor id>" for the anonymous cookie.
// Anything else is refused so a voter id can never carry markup or be unbounded.
var voterRE = regexp.MustCompile(`^[uv]:[A-Za-z0-9_-]{8,78}$`)

// ValidVoter reports whether id is a voter id Vote accepts.
func ValidVoter(id string) bool { return len(id) <= MaxVoterLen && voterRE.MatchString(id) }

// Vote records whether the article helped. Each voter has one vote per article; voting
// again replaces it (people change their minds after trying the fix). lang is the language
// they read it in, so agents can see when one translation is the weak one.
//
// Errors: not_found, validation_failed (help_voter_invalid).
func (s *Service) Vote(ctx context.Context, slug, voter, lang string, helpful bool) error {
	if !validSlug(slug) {
		return apperr.New(apperr.CodeNotFound)
	}
	if !ValidVoter(voter) {
		return invalid("voter", FieldVoter)
	}
	lang = normLang(lang)
	if err := s.ready(ctx); err != nil {
		return err
	}
	h := 0
	if helpful {
		h = 1
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM help_articles WHERE slug = $1`, slug).Scan(&n); err != nil {
			return errf("vote", err)
		}
		if n == 0 {
			return apperr.New(apperr.CodeNotFound)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO help_votes (slug, voter, lang, helpful, at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (slug, voter) DO UPDATE SET lang = excluded.lang, helpful = excluded.helpful, at = excluded.at`,
			slug, voter, lang, h, tx.NowMicros()); err != nil {
			return errf("vote", err)
		}
		return nil
	})
}

// VoteCounts are the votes on one article.
type VoteCounts struct {
	Yes int64 `json:"yes"`
	No  int64 `json:"no"`
}

// ArticleStats is an article as agents see it in the editor's list.
type ArticleStats struct {
	Slug     string                `json:"slug"`
	Category string                `json:"category"`
	Votes    VoteCounts            `json:"votes"`
	ByLang   map[string]VoteCounts `json:"by_lang"`
}

// Stats returns the vote counts of every article, in display order. Only agents and
// admins see them: readers are not swayed by counts, and the counts are raw material for
// improving articles.
//
// Errors: forbidden.
func (s *Service) Stats(ctx context.Context, role string) ([]ArticleStats, error) {
	if !canEdit(role) {
		return nil, apperr.New(apperr.CodeForbidden)
	}
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	var out []ArticleStats
	err := s.db.Read(ctx, func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT a.slug, a.category, COALESCE(v.lang, ''), COALESCE(v.yes, 0), COALESCE(v.no, 0)
			FROM help_articles a LEFT JOIN (
				SELECT slug, lang, SUM(helpful) AS yes, SUM(1 - helpful) AS no FROM help_votes GROUP BY slug, lang
			) v ON v.slug = a.slug
			ORDER BY a.position, a.slug, v.lang LIMIT $1`, maxArticles*len(Langs))
		if err != nil {
			return errf("stats", err)
		}
		defer rows.Close()
		idx := map[string]int{}
		for rows.Next() {
			var slug, cat, lang string
			var yes, no int64
			if err := rows.Scan(&slug, &cat, &lang, &yes, &no); err != nil {
				return errf("stats", err)
			}
			i, ok := idx[slug]
			if !ok {
				i = len(out)
				idx[slug] = i
				out = append(out, ArticleStats{Slug: slug, Category: cat, ByLang: map[string]VoteCounts{}})
			}
			if lang != "" {
				out[i].ByLang[lang] = VoteCounts{Yes: yes, No: no}
				out[i].Votes.Yes += yes
				out[i].Votes.No += no
			}
		}
		return rows.Err()
	})
	return out, err
}
