package help

import (
	"context"
	"fmt"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// Roles that may edit articles. The caller (agent console, API) establishes who the person
// is and passes their role; this package only decides what the role may do.
const (
	RoleAgent = "agent"
	RoleAdmin = "admin"
	// roleSystem marks history entries written by Seed.
	roleSystem = "system"
)

func canEdit(role string) bool { return role == RoleAgent || role == RoleAdmin }

// Editor is the person making a change.
type Editor struct {
	ID   string // user id, kept in the history
	Role string // "agent" or "admin"
}

// EditInput is a new text for one translation. BaseVersion is the version the editor
// started from: if the article changed since, the edit is refused rather than silently
// overwriting the other change.
type EditInput struct {
	Slug        string `json:"-"`
	Lang        string `json:"lang"`
	Title       string `json:"title"`
	Summary     string `json:"summary"`
	Keywords    string `json:"keywords"`
	Body        string `json:"body_markdown"`
	Note        string `json:"note" doc:"what changed and why, for the history"`
	BaseVersion int64  `json:"base_version"`
}

// Edit saves an agent's or admin's new text for an article translation (creating the
// translation when the article lacks that language) and records it in the history. The
// Markdown is stored as written and sanitized whenever it is rendered.
//
// Errors: forbidden, not_found, validation_failed (help_title_invalid,
// help_summary_invalid, help_keywords_invalid, help_body_invalid, help_note_invalid,
// help_lang_invalid), help_edit_conflict.
func (s *Service) Edit(ctx context.Context, ed Editor, in EditInput) (*Article, error) {
	if !canEdit(ed.Role) || strings.TrimSpace(ed.ID) == "" {
		return nil, apperr.New(apperr.CodeForbidden)
	}
	if !validSlug(in.Slug) {
		return nil, apperr.New(apperr.CodeNotFound)
	}
	if !validLang(in.Lang) {
		return nil, invalid("lang", FieldLang)
	}
	in.Title, in.Summary, in.Keywords = strings.TrimSpace(in.Title), strings.TrimSpace(in.Summary), strings.TrimSpace(in.Keywords)
	in.Body = strings.ReplaceAll(in.Body, "\r\n", "\n")
	if err := checkText(in.Title, in.Summary, in.Keywords, in.Body); err != nil {
		return nil, err
	}
	if !runesIn(in.Note, 0, MaxNoteRunes) || strings.Contains(in.Note, "\n") {
		return nil, invalid("note", FieldNote)
	}
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM help_articles WHERE slug = $1`, in.Slug).Scan(&n); err != nil {
			return errf("edit", err)
		}
		if n == 0 {
			return apperr.New(apperr.CodeNotFound)
		}
		var cur int64
		err := tx.QueryRowContext(ctx, `SELECT version FROM help_translations WHERE slug = $1 AND lang = $2 `+tx.Dialect.ForUpdate(), in.Slug, in.Lang).Scan(&cur)
		if err := errNoRows(err); err != nil && !apperr.HasCode(err, apperr.CodeNotFound) {
			return errf("edit", err)
		}
		if cur != in.BaseVersion {
			return apperr.New(CodeEditConflict).With("version", fmt.Sprint(cur))
		}
		now := tx.NowMicros()
		args := docArgs(in.Slug, in.Lang, in.Title, in.Summary, in.Keywords, in.Body)
		if cur == 0 {
			_, err = tx.ExecContext(ctx, `INSERT INTO help_translations (slug, lang, title, summary, keywords, body_md, body_text,
				title_tok, keywords_tok, summary_tok, body_tok, version, source_hash, edited_by, edited_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, '', $12, $13, $13)`, append(args, ed.ID, now)...)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE help_translations SET title = $3, summary = $4, keywords = $5, body_md = $6, body_text = $7,
				title_tok = $8, keywords_tok = $9, summary_tok = $10, body_tok = $11, version = version + 1, edited_by = $12, edited_at = $13, updated_at = $13
				WHERE slug = $1 AND lang = $2`, append(args, ed.ID, now)...)
		}
		if err != nil {
			if db.IsUniqueViolation(err) {
				return apperr.New(CodeEditConflict).With("version", "1")
			}
			return errf("edit", err)
		}
		return addHistory(ctx, tx, in.Slug, in.Lang, cur+1, ed, in.Note, in.Title, in.Summary, in.Keywords, in.Body)
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, in.Slug, in.Lang)
}

// RevertToBuiltin replaces a translation with its current built-in source and clears the
// "edited" mark, so later built-in updates apply to it again.
//
// Errors: forbidden, not_found, validation_failed (help_lang_invalid), help_not_builtin.
func (s *Service) RevertToBuiltin(ctx context.Context, ed Editor, slug, lang string) (*Article, error) {
	if !canEdit(ed.Role) || strings.TrimSpace(ed.ID) == "" {
		return nil, apperr.New(apperr.CodeForbidden)
	}
	if !validSlug(slug) {
		return nil, apperr.New(apperr.CodeNotFound)
	}
	if !validLang(lang) {
		return nil, invalid("lang", FieldLang)
	}
	src := s.cat.bySlug[slug][lang]
	if src == nil {
		return nil, apperr.New(CodeNotBuiltin)
	}
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var cur int64
		if err := tx.QueryRowContext(ctx, `SELECT version FROM help_translations WHERE slug = $1 AND lang = $2 `+tx.Dialect.ForUpdate(), slug, lang).Scan(&cur); err != nil {
			if err := errNoRows(err); apperr.HasCode(err, apperr.CodeNotFound) {
				return err
			}
			return errf("revert", err)
		}
		args := docArgs(slug, lang, src.Title, src.Summary, src.Keywords, src.Body)
		if _, err := tx.ExecContext(ctx, `UPDATE help_translations SET title = $3, summary = $4, keywords = $5, body_md = $6, body_text = $7,
			title_tok = $8, keywords_tok = $9, summary_tok = $10, body_tok = $11, version = version + 1, source_hash = $12,
			edited_by = '', edited_at = 0, updated_at = $13 WHERE slug = $1 AND lang = $2`, append(args, src.Hash, tx.NowMicros())...); err != nil {
			return errf("revert", err)
		}
		return addHistory(ctx, tx, slug, lang, cur+1, ed, "reverted to the built-in article", src.Title, src.Summary, src.Keywords, src.Body)
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, slug, lang)
}

// Edit is one entry of an article's history.
type Edit struct {
	Version    int64     `json:"version"`
	Lang       string    `json:"lang"`
	EditorID   string    `json:"editor_id"`
	EditorRole string    `json:"editor_role" doc:"agent, admin, or system for built-in updates"`
	Note       string    `json:"note"`
	Title      string    `json:"title"`
	At         time.Time `json:"at"`
	// Body is the full Markdown of that version.
	Body string `json:"body_markdown"`
}

// History returns the changes to an article's lang translation, newest first, at most
// limit (capped at 100; 0 means 20).
//
// Errors: forbidden, not_found, validation_failed (help_lang_invalid).
func (s *Service) History(ctx context.Context, role, slug, lang string, limit int) ([]Edit, error) {
	if !canEdit(role) {
		return nil, apperr.New(apperr.CodeForbidden)
	}
	if !validSlug(slug) {
		return nil, apperr.New(apperr.CodeNotFound)
	}
	if !validLang(lang) {
		return nil, invalid("lang", FieldLang)
	}
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, maxHistory)
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	var out []Edit
	err := s.db.Read(ctx, func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT version, lang, editor_id, editor_role, note, title, body_md, at FROM help_edits
			WHERE slug = $1 AND lang = $2 ORDER BY version DESC LIMIT $3`, slug, lang, limit)
		if err != nil {
			return errf("history", err)
		}
		defer rows.Close()
		for rows.Next() {
			var e Edit
			var at int64
			if err := rows.Scan(&e.Version, &e.Lang, &e.EditorID, &e.EditorRole, &e.Note, &e.Title, &e.Body, &at); err != nil {
				return errf("history", err)
			}
			e.At = db.Micros(at)
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, apperr.New(apperr.CodeNotFound)
	}
	return out, nil
}

func addHistory(ctx context.Context, tx *db.Tx, slug, lang string, version int64, ed Editor, note, title, summary, keywords, body string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO help_edits (slug, lang, version, editor_id, editor_role, note, title, summary, keywords, body_md, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		slug, lang, version, ed.ID, ed.Role, note, title, summary, keywords, body, tx.NowMicros()); err != nil {
		return errf("record edit", err)
	}
	return nil
}
