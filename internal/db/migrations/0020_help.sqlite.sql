-- Help center: articles (one row per article), their translations (one per language, the
-- searchable documents), the edit history and the "was this helpful?" votes. Category and
-- related error codes follow the built-in sources; agents edit only the text.
CREATE TABLE help_articles (
	slug TEXT PRIMARY KEY,
	category TEXT NOT NULL,
	position INTEGER NOT NULL,
	featured INTEGER NOT NULL DEFAULT 0,
	codes TEXT NOT NULL DEFAULT '',
	also_codes TEXT NOT NULL DEFAULT '',
	related TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX help_articles_category ON help_articles (category, position);

-- doc_id is the full-text index's row id. The *_tok columns hold the text already split
-- into search tokens (Chinese as overlapping bigrams) so both engines index the same words.
CREATE TABLE help_translations (
	doc_id INTEGER PRIMARY KEY,
	slug TEXT NOT NULL REFERENCES help_articles (slug),
	lang TEXT NOT NULL,
	title TEXT NOT NULL,
	summary TEXT NOT NULL,
	keywords TEXT NOT NULL,
	body_md TEXT NOT NULL,
	body_text TEXT NOT NULL,
	title_tok TEXT NOT NULL,
	keywords_tok TEXT NOT NULL,
	summary_tok TEXT NOT NULL,
	body_tok TEXT NOT NULL,
	version BIGINT NOT NULL,
	source_hash TEXT NOT NULL,
	edited_by TEXT NOT NULL DEFAULT '',
	edited_at BIGINT NOT NULL DEFAULT 0,
	updated_at BIGINT NOT NULL,
	UNIQUE (slug, lang)
);

-- External-content FTS5 index over the token columns, kept in step by triggers.
CREATE VIRTUAL TABLE help_translations_fts USING fts5 (
	title_tok, keywords_tok, summary_tok, body_tok,
	content = 'help_translations', content_rowid = 'doc_id',
	tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TRIGGER help_translations_ai AFTER INSERT ON help_translations BEGIN
	INSERT INTO help_translations_fts (rowid, title_tok, keywords_tok, summary_tok, body_tok)
	VALUES (new.doc_id, new.title_tok, new.keywords_tok, new.summary_tok, new.body_tok);
END;
CREATE TRIGGER help_translations_ad AFTER DELETE ON help_translations BEGIN
	INSERT INTO help_translations_fts (help_translations_fts, rowid, title_tok, keywords_tok, summary_tok, body_tok)
	VALUES ('delete', old.doc_id, old.title_tok, old.keywords_tok, old.summary_tok, old.body_tok);
END;
CREATE TRIGGER help_translations_au AFTER UPDATE ON help_translations BEGIN
	INSERT INTO help_translations_fts (help_translations_fts, rowid, title_tok, keywords_tok, summary_tok, body_tok)
	VALUES ('delete', old.doc_id, old.title_tok, old.keywords_tok, old.summary_tok, old.body_tok);
	INSERT INTO help_translations_fts (rowid, title_tok, keywords_tok, summary_tok, body_tok)
	VALUES (new.doc_id, new.title_tok, new.keywords_tok, new.summary_tok, new.body_tok);
END;

-- Every change to a translation, newest last: a full copy of the new text, so any
-- version can be read back or restored. editor_role "system" is a built-in source update.
CREATE TABLE help_edits (
	id INTEGER PRIMARY KEY,
	slug TEXT NOT NULL,
	lang TEXT NOT NULL,
	version BIGINT NOT NULL,
	editor_id TEXT NOT NULL,
	editor_role TEXT NOT NULL,
	note TEXT NOT NULL,
	title TEXT NOT NULL,
	summary TEXT NOT NULL,
	keywords TEXT NOT NULL,
	body_md TEXT NOT NULL,
	at BIGINT NOT NULL,
	UNIQUE (slug, lang, version)
);

-- One vote per voter per article; voting again changes the vote. voter is "u:<user id>"
-- or "v:<visitor cookie id>".
CREATE TABLE help_votes (
	slug TEXT NOT NULL REFERENCES help_articles (slug),
	voter TEXT NOT NULL,
	lang TEXT NOT NULL,
	helpful INTEGER NOT NULL CHECK (helpful IN (0, 1)),
	at BIGINT NOT NULL,
	PRIMARY KEY (slug, voter)
);
