package tickets

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"okpay/internal/apperr"
	"okpay/internal/audit"
	"okpay/internal/db"
)

// Page is one page of tickets; Next is the cursor of the following page ("" at the end).
type Page struct {
	Tickets []Ticket `json:"tickets"`
	Next    string   `json:"next,omitempty"`
}

func clampLimit(n int) int {
	if n <= 0 {
		return DefaultPageSize
	}
	return min(n, MaxPageSize)
}

// cursor encodes the last row's (created_at, id): a stable position while new tickets
// arrive at the top.
func encodeCursor(created int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(created, 10) + "/" + id))
}

func decodeCursor(c string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(c) > 200 {
		return 0, "", fieldErr("cursor", apperr.CodeBadRequest)
	}
	a, id, ok := strings.Cut(string(b), "/")
	n, err := strconv.ParseInt(a, 10, 64)
	if !ok || err != nil {
		return 0, "", fieldErr("cursor", apperr.CodeBadRequest)
	}
	return n, id, nil
}

// List returns the actor's own tickets, newest first.
//
// Errors: unauthenticated, validation_failed (cursor).
func (s *Service) List(ctx context.Context, a Actor, cursor string, limit int) (*Page, error) {
	if a.UserID == "" {
		return nil, apperr.New(apperr.CodeUnauthenticated)
	}
	limit = clampLimit(limit)
	q := `SELECT ` + ticketCols + ` FROM tickets WHERE customer_id = $1`
	args := []any{a.UserID}
	if cursor != "" {
		at, id, err := decodeCursor(cursor)
		if err != nil {
			return nil, err
		}
		q += ` AND (created_at < $2 OR (created_at = $2 AND id < $3))`
		args = append(args, at, id)
	}
	q += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT %d`, limit+1)
	return s.page(ctx, q, args, limit, false)
}

func (s *Service) page(ctx context.Context, q string, args []any, limit int, staff bool) (*Page, error) {
	out := &Page{Tickets: []Ticket{}}
	err := s.read(ctx, "list tickets", func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var last *ticketRow
		for rows.Next() {
			t, err := scanTicket(rows)
			if err != nil {
				return err
			}
			if len(out.Tickets) == limit {
				out.Next = encodeCursor(last.Created, last.ID)
				break
			}
			out.Tickets = append(out.Tickets, t.public(staff, tx.Now))
			last = t
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// QueueInput filters the agents' queue.
type QueueInput struct {
	// Statuses to show; new, open and waiting_on_customer when empty.
	Statuses []Status
	// Assignee: "" everyone's, "me" the caller's, "none" unassigned, or an agent id.
	Assignee string
	Limit    int
}

// Queue lists tickets for agents, the most urgent deadline first: tickets where the desk
// owes an answer sorted by when it is due, then the ones waiting for customers. It is a
// work list, not an archive: one page of at most MaxPageSize.
//
// Errors: unauthenticated, forbidden, validation_failed (status).
func (s *Service) Queue(ctx context.Context, a Actor, in QueueInput) (*Page, error) {
	if err := requireStaff(a); err != nil {
		return nil, err
	}
	sts := in.Statuses
	if len(sts) == 0 {
		sts = []Status{StatusNew, StatusOpen, StatusWaiting}
	}
	if len(sts) > len(Statuses) {
		return nil, fieldErr("status", apperr.CodeBadRequest)
	}
	var args []any
	var ph []string
	for _, st := range sts {
		ok := false
		for _, x := range Statuses {
			ok = ok || x == st
		}
		if !ok {
			return nil, fieldErr("status", apperr.CodeBadRequest)
		}
		args = append(args, string(st))
		ph = append(ph, "$"+strconv.Itoa(len(args)))
	}
	q := `SELECT ` + ticketCols + ` FROM tickets WHERE status IN (` + strings.Join(ph, ", ") + `)`
	switch in.Assignee {
	case "":
	case "none":
		q += ` AND assignee_id = ''`
	default:
		id := in.Assignee
		if id == "me" {
			id = a.UserID
		}
		args = append(args, id)
		q += ` AND assignee_id = $` + strconv.Itoa(len(args))
	}
	limit := clampLimit(in.Limit)
	q += fmt.Sprintf(` ORDER BY CASE WHEN response_due = 0 THEN 1 ELSE 0 END, response_due, created_at LIMIT %d`, limit)
	p, err := s.page(ctx, q, args, limit, true)
	if err != nil {
		return nil, err
	}
	p.Next = "" // the queue has no further pages
	return p, nil
}

// AutoClose closes tickets resolved more than AutoCloseAfter ago, at most limit (≤ 200) in
// one transaction, each with a system message and an audit entry. It returns how many it
// closed; run it again while it returns limit.
//
// Errors: internal (database) only.
func (s *Service) AutoClose(ctx context.Context, limit int) (int, error) {
	limit = min(max(limit, 1), maxJobBatch)
	n := 0
	err := s.inTx(ctx, "auto-close tickets", func(tx *db.Tx) error {
		n = 0
		cutoff := tx.Now.Add(-s.cfg.AutoCloseAfter).UnixMicro()
		rows, err := tx.QueryContext(ctx, `SELECT number FROM tickets WHERE status = $1 AND resolved_at <= $2 ORDER BY resolved_at LIMIT $3`,
			string(StatusResolved), cutoff, limit)
		if err != nil {
			return err
		}
		var numbers []string
		for rows.Next() {
			var num string
			if err := rows.Scan(&num); err != nil {
				rows.Close()
				return err
			}
			numbers = append(numbers, num)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, num := range numbers {
			t, err := loadTicket(ctx, tx, num, true)
			if err != nil {
				return err
			}
			if Status(t.Status) != StatusResolved || t.ResolvedAt > cutoff {
				continue // changed since the scan
			}
			t.Status, t.ClosedAt = string(StatusClosed), tx.NowMicros()
			if _, err := s.addMessage(ctx, tx, t, KindSystem, "", EventAutoClosed, ViaSystem, nil, nil); err != nil {
				return err
			}
			if err := saveTicket(ctx, tx, t); err != nil {
				return err
			}
			if err := audit.Append(ctx, tx, audit.Entry{ActorKind: audit.ActorSystem, ActorID: "tickets.autoclose",
				Action: "ticket.auto_close", SubjectID: t.CustomerID, Details: map[string]string{"ticket": t.Number}}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// MarkBreaches flags tickets whose response deadline has passed without an answer, at most
// limit (≤ 200) per call, so the queue and reports show breaches even before anyone
// answers. It returns how many it flagged.
//
// Errors: internal (database) only.
func (s *Service) MarkBreaches(ctx context.Context, limit int) (int, error) {
	limit = min(max(limit, 1), maxJobBatch)
	var n int64
	err := s.inTx(ctx, "flag breached tickets", func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tickets SET breached = 1 WHERE id IN (
			SELECT id FROM tickets WHERE status IN ($1, $2) AND breached = 0 AND response_due > 0 AND response_due < $3
			ORDER BY response_due LIMIT $4)`, string(StatusNew), string(StatusOpen), tx.NowMicros(), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
