package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"okpay/internal/db"
)

// Report is the outcome of Verify.
type Report struct {
	// Entries is how many entries were checked (up to the first break).
	Entries int64
	// HeadSeq and HeadHash are the newest entry when verification began. An operator who
	// keeps HeadHash elsewhere can later prove nothing up to HeadSeq was rewritten.
	HeadSeq  int64
	HeadHash string
	// Break is the first place the chain does not hold; nil when it all holds.
	Break *Break
}

// OK reports whether the whole chain holds.
func (r Report) OK() bool { return r.Break == nil }

// Break describes where and how the chain fails.
type Break struct {
	Seq      int64
	Problem  string
	Expected string
	Got      string
}

func (b *Break) String() string {
	return fmt.Sprintf("seq %d: %s: expected %s, got %s", b.Seq, b.Problem, b.Expected, b.Got)
}

// verifyPage is how many entries one query reads. Each page is its own query, so memory
// stays flat and no transaction stays open for the whole log.
const verifyPage = 500

// Verify recomputes the chain from the first entry to the head as it was when Verify
// began, and reports the first break: a missing entry, an entry whose hash does not match
// its contents, an entry not linked to the one before, a head that is not the chain's end,
// or entries past the head. A broken chain is a Report with Break set, not an error.
//
// Errors: internal (database) only.
func Verify(ctx context.Context, d *db.DB) (Report, error) {
	var rep Report
	if err := d.R.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&rep.HeadSeq, &rep.HeadHash); err != nil {
		return rep, fmt.Errorf("audit verify: read head: %w", err)
	}
	prevSeq, prevHash := int64(0), GenesisHash
	for prevSeq < rep.HeadSeq && rep.Break == nil {
		n, err := verifyPageFrom(ctx, d, &rep, &prevSeq, &prevHash)
		if err != nil {
			return rep, err
		}
		if n == 0 {
			break
		}
	}
	if rep.Break != nil {
		return rep, nil
	}
	if prevSeq != rep.HeadSeq {
		rep.Break = &Break{Seq: prevSeq + 1, Problem: "entries missing at the end of the log",
			Expected: fmt.Sprintf("entries up to seq %d (the head)", rep.HeadSeq), Got: fmt.Sprintf("last entry seq %d", prevSeq)}
		return rep, nil
	}
	if prevHash != rep.HeadHash {
		rep.Break = &Break{Seq: rep.HeadSeq, Problem: "head hash differs from the last entry's hash", Expected: prevHash, Got: rep.HeadHash}
		return rep, nil
	}
	// Entries past the head were written around Append. Read the highest seq before the
	// head: an append commits its entry and head together, so a committed entry is never
	// past a head read after it.
	var maxSeq sql.NullInt64
	if err := d.R.QueryRowContext(ctx, `SELECT MAX(seq) FROM audit_log`).Scan(&maxSeq); err != nil {
		return rep, fmt.Errorf("audit verify: read last seq: %w", err)
	}
	var head2 int64
	if err := d.R.QueryRowContext(ctx, `SELECT seq FROM audit_head WHERE id = 1`).Scan(&head2); err != nil {
		return rep, fmt.Errorf("audit verify: read head: %w", err)
	}
	if maxSeq.Int64 > head2 {
		rep.Break = &Break{Seq: head2 + 1, Problem: "entries past the head", Expected: fmt.Sprintf("no entry after seq %d", head2),
			Got: fmt.Sprintf("entries up to seq %d", maxSeq.Int64)}
	}
	return rep, nil
}

func verifyPageFrom(ctx context.Context, d *db.DB, rep *Report, prevSeq *int64, prevHash *string) (int, error) {
	rows, err := d.R.QueryContext(ctx, `SELECT seq, at, actor_kind, actor_id, action, subject_id, reason, client_addr, details, prev_hash, hash
		FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`, *prevSeq, rep.HeadSeq, verifyPage)
	if err != nil {
		return 0, fmt.Errorf("audit verify: read entries after %d: %w", *prevSeq, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return n, fmt.Errorf("audit verify: read entries after %d: %w", *prevSeq, err)
		}
		n++
		switch {
		case r.Seq != *prevSeq+1:
			rep.Break = &Break{Seq: *prevSeq + 1, Problem: "entry missing", Expected: fmt.Sprintf("seq %d", *prevSeq+1), Got: fmt.Sprintf("seq %d", r.Seq)}
		case r.PrevHash != *prevHash:
			rep.Break = &Break{Seq: r.Seq, Problem: "prev_hash is not the previous entry's hash", Expected: *prevHash, Got: r.PrevHash}
		default:
			if h := ComputeHash(r); h != r.Hash {
				rep.Break = &Break{Seq: r.Seq, Problem: "hash does not match the entry's contents", Expected: h, Got: r.Hash}
			}
		}
		if rep.Break != nil {
			return n, nil
		}
		rep.Entries++
		*prevSeq, *prevHash = r.Seq, r.Hash
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("audit verify: read entries after %d: %w", *prevSeq, err)
	}
	return n, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanRecord(s scanner) (Record, error) {
	var r Record
	var at int64
	var details string
	if err := s.Scan(&r.Seq, &at, &r.ActorKind, &r.ActorID, &r.Action, &r.SubjectID, &r.Reason, &r.ClientAddr, &details, &r.PrevHash, &r.Hash); err != nil {
		return r, err
	}
	r.Time = db.Micros(at)
	r.Details = []byte(details)
	return r, nil
}

// Filter selects entries for List. Empty fields match everything.
type Filter struct {
	SubjectID string
	ActorID   string
	// Before is a seq cursor: only entries with a smaller seq (0 = from the newest).
	Before int64
	// Limit is the page size: DefaultListLimit when <= 0, at most MaxListLimit.
	Limit int
}

// Page sizes for List.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

// List returns entries newest first, for the agent console's views of one account or one
// agent. Pass the last Seq returned as Before for the next page.
//
// Errors: internal (database) only.
func List(ctx context.Context, d *db.DB, f Filter) ([]Record, error) {
	if f.Limit <= 0 {
		f.Limit = DefaultListLimit
	}
	f.Limit = min(f.Limit, MaxListLimit)
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.SubjectID != "" {
		add("subject_id = $%d", f.SubjectID)
	}
	if f.ActorID != "" {
		add("actor_id = $%d", f.ActorID)
	}
	if f.Before > 0 {
		add("seq < $%d", f.Before)
	}
	q := `SELECT seq, at, actor_kind, actor_id, action, subject_id, reason, client_addr, details, prev_hash, hash FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	q += fmt.Sprintf(" ORDER BY seq DESC LIMIT $%d", len(args))
	rows, err := d.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit list: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("audit list: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit list: %w", err)
	}
	return out, nil
}
