-- The audit log: who did what to which account, why, when and from where. Append-only and
-- hash-chained (each entry's hash covers its fields and the previous entry's hash), so a
-- changed, removed or inserted entry shows up in `okpay audit verify`. The triggers make
-- changes hard to make by accident; the chain catches the ones made on purpose.
CREATE TABLE audit_log (
	seq BIGINT PRIMARY KEY,
	at BIGINT NOT NULL,
	actor_kind TEXT NOT NULL,
	actor_id TEXT NOT NULL,
	action TEXT NOT NULL,
	subject_id TEXT NOT NULL,
	reason TEXT NOT NULL,
	client_addr TEXT NOT NULL,
	details TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_id, seq);
CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);

-- One row: the newest entry. Appends lock it (SELECT … FOR UPDATE), which serialises them
-- across nodes so the chain cannot fork, and verify compares it with the chain's end, which
-- catches entries cut off the end.
CREATE TABLE audit_head (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	seq BIGINT NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
	FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
	FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

CREATE FUNCTION audit_check_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	h audit_head%ROWTYPE;
BEGIN
	SELECT * INTO h FROM audit_head WHERE id = 1;
	IF NEW.seq IS DISTINCT FROM h.seq + 1 OR NEW.prev_hash IS DISTINCT FROM h.hash THEN
		RAISE EXCEPTION 'audit_log: an entry must extend the chain at audit_head';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER audit_log_extends_head BEFORE INSERT ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_check_insert();

CREATE FUNCTION audit_check_head() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.id IS DISTINCT FROM OLD.id OR NEW.seq IS DISTINCT FROM OLD.seq + 1
		OR NEW.hash IS DISTINCT FROM (SELECT hash FROM audit_log WHERE seq = NEW.seq) THEN
		RAISE EXCEPTION 'audit_head may only advance to the newest audit_log entry';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER audit_head_advances BEFORE UPDATE ON audit_head
	FOR EACH ROW EXECUTE FUNCTION audit_check_head();
