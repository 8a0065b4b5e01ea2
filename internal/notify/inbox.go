package notify

// The notifications inbox: every notice the platform sends a user (security alerts,
// restrictions, ticket replies, payments, withdrawals) also lands here, written by Notify in
// the caller's transaction, so a rolled-back change leaves no notification. Announcements
// are not copied per user: the inbox shows the live ones by query (Inbox.Announcements)
// and records only which of them a user has read.

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"okpay/internal/apperr"
	"okpay/internal/db"
)

// InboxKind says what a notification is about; the UI picks an icon and a filter by it.
type InboxKind string

const (
	InboxSecurity            InboxKind = "security"             // sign-in from a new device, password changed, 2-step changed
	InboxRestriction         InboxKind = "restriction"          // account frozen, restricted, lifted
	InboxTicketReply         InboxKind = "ticket_reply"         // an agent answered a ticket
	InboxPaymentReceived     InboxKind = "payment_received"     // money came in
	InboxWithdrawalCompleted InboxKind = "withdrawal_completed" // a withdrawal arrived
	InboxWithdrawalFailed    InboxKind = "withdrawal_failed"    // a withdrawal failed and was returned
	InboxAnnouncement        InboxKind = "announcement"         // a live notice (by query, never stored per user)
	InboxChat                InboxKind = "chat"                 // a chat transcript was mailed, a chat message was missed
)

var inboxKinds = map[InboxKind]bool{InboxSecurity: true, InboxRestriction: true, InboxTicketReply: true,
	InboxPaymentReceived: true, InboxWithdrawalCompleted: true, InboxWithdrawalFailed: true, InboxChat: true}

// Limits on a notification and on reading them.
const (
	MaxInboxTitleRunes = 200
	MaxInboxBodyRunes  = 4000
	MaxInboxLinkBytes  = 512
	MaxInboxParams     = 16
	MaxInboxParamBytes = 512
	// MaxInboxPage bounds one page of the list.
	MaxInboxPage = 100
	// maxUnreadCount caps the unread count query: the badge shows "99+" beyond 99 anyway,
	// and counting an inbox nobody reads would cost a scan.
	maxUnreadCount = 1000
)

// InboxText is a registered notification text with {name} placeholders.
type InboxText struct {
	Title apperr.Text
	Body  apperr.Text
}

var (
	inboxTextsMu sync.RWMutex
	inboxTexts   = map[string]InboxText{}
)

// RegisterInboxText adds a keyed text (like apperr.Register, at init). Storing the key and
// parameters instead of finished text lets each reader see it in their current language.
// Registering a key twice with different text panics.
func RegisterInboxText(key string, t InboxText) {
	inboxTextsMu.Lock()
	defer inboxTextsMu.Unlock()
	if key == "" || t.Title.En == "" || t.Title.Zh == "" || t.Body.En == "" || t.Body.Zh == "" {
		panic("notify: incomplete inbox text " + key)
	}
	if old, ok := inboxTexts[key]; ok && old != t {
		panic("notify: inbox text registered twice: " + key)
	}
	inboxTexts[key] = t
}

func lookupInboxText(key string) (InboxText, bool) {
	inboxTextsMu.RLock()
	defer inboxTextsMu.RUnlock()
	t, ok := inboxTexts[key]
	return t, ok
}

// InboxMessage is what Notify stores: either Key (registered with RegisterInboxText) and
// Params, or a finished Title and Body in both languages.
type InboxMessage struct {
	Key    string
	Params map[string]string
	Title  apperr.Text
	Body   apperr.Text
	// Link is an optional path on this site ("/activity/…") the notification opens.
	Link string
}

// Notify writes a notification for userID inside tx and returns its id.
//
// Errors: validation_failed with field errors (user_id, kind, key, title, body, params,
// link) for a malformed message — a programming error of the caller; any other error is
// internal (database).
func Notify(ctx context.Context, tx *db.Tx, userID string, kind InboxKind, m InboxMessage) (string, error) {
	r, err := PrepareNotify(userID, kind, m, tx.NowMicros())
	if err != nil {
		return "", err
	}
	return r.ID, InsertInbox(ctx, tx, []InboxRow{r})
}

// InboxRow is one notification validated for the inbox, with its id: written by
// InsertInbox, several to a statement (see OutboxRow).
type InboxRow struct {
	ID                        string
	userID, kind, key, params string
	title, body               apperr.Text
	link                      string
	atMicros                  int64
}

// PrepareNotify validates a notification for userID created at atMicros.
//
// Errors: as Notify's validation errors.
func PrepareNotify(userID string, kind InboxKind, m InboxMessage, atMicros int64) (InboxRow, error) {
	if userID == "" || len(userID) > maxUserIDBytes {
		return InboxRow{}, required("user_id")
	}
	if !inboxKinds[kind] {
		return InboxRow{}, invalid("kind", fmt.Errorf("unknown inbox kind %q", kind))
	}
	if m.Key != "" {
		if _, ok := lookupInboxText(m.Key); !ok {
			return InboxRow{}, invalid("key", fmt.Errorf("inbox text %q not registered", m.Key))
		}
		if !m.Title.IsZero() || !m.Body.IsZero() {
			return InboxRow{}, invalid("key", fmt.Errorf("give a key or finished text, not both"))
		}
	} else {
		for _, f := range []struct {
			name string
			t    apperr.Text
			max  int
		}{{"title", m.Title, MaxInboxTitleRunes}, {"body", m.Body, MaxInboxBodyRunes}} {
			if strings.TrimSpace(f.t.En) == "" || strings.TrimSpace(f.t.Zh) == "" {
				return InboxRow{}, required(f.name)
			}
			for _, s := range []string{f.t.En, f.t.Zh} {
				if !utf8.ValidString(s) || utf8.RuneCountInString(s) > f.max || strings.ContainsRune(s, 0) {
					return InboxRow{}, invalid(f.name, fmt.Errorf("%s must be UTF-8 of at most %d characters", f.name, f.max))
				}
			}
		}
	}
	if len(m.Params) > MaxInboxParams {
		return InboxRow{}, invalid("params", fmt.Errorf("at most %d params", MaxInboxParams))
	}
	for k, v := range m.Params {
		if len(k)+len(v) > MaxInboxParamBytes || !utf8.ValidString(v) {
			return InboxRow{}, invalid("params", fmt.Errorf("param %q too long", k))
		}
	}
	if m.Link != "" && !localPath(m.Link) {
		return InboxRow{}, invalid("link", fmt.Errorf("link must be a path on this site"))
	}
	params := "{}"
	if len(m.Params) > 0 {
		b, err := json.Marshal(m.Params)
		if err != nil {
			return InboxRow{}, fmt.Errorf("notify %s: %w", kind, err)
		}
		params = string(b)
	}
	u, err := uuid.NewV7()
	if err != nil {
		return InboxRow{}, fmt.Errorf("notify %s: new id: %w", kind, err)
	}
	return InboxRow{ID: u.String(), userID: userID, kind: string(kind), key: m.Key, params: params, title: m.Title, body: m.Body,
		link: m.Link, atMicros: atMicros}, nil
}

// inboxChunk bounds the rows of one INSERT (11 parameters each).
const inboxChunk = 64

// InsertInbox writes prepared notifications inside tx. Errors: internal (database) only.
func InsertInbox(ctx context.Context, tx *db.Tx, rows []InboxRow) error {
	for len(rows) > 0 {
		n := chunk(len(rows), inboxChunk)
		var q strings.Builder
		q.WriteString(`INSERT INTO inbox (id, user_id, kind, text_key, params, title_en, title_zh, body_en, body_zh, link, created_at)
		VALUES `)
		args := make([]any, 0, n*11)
		p := placeholders(tx)
		for i, r := range rows[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", p(), p(), p(), p(), p(), p(), p(), p(), p(), p(), p())
			args = append(args, r.ID, r.userID, r.kind, r.key, r.params, r.title.En, r.title.Zh, r.body.En, r.body.Zh, r.link, r.atMicros)
		}
		if _, err := tx.ExecCached(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("notify %s: %w", rows[0].kind, err)
		}
		rows = rows[n:]
	}
	return nil
}

// localPath accepts "/x…" but not "//host" or "/\host", which browsers read as other sites.
func localPath(p string) bool {
	if len(p) > MaxInboxLinkBytes || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n\x00") {
		return false
	}
	return true
}

// Announcement is a live notice as the inbox shows it; the notice service provides them.
type Announcement struct {
	ID       string
	Kind     string // info, maintenance, incident
	Title    apperr.Text
	Body     apperr.Text
	StartsAt time.Time
	EndsAt   time.Time
}

// InboxItem is one notification rendered in the reader's language.
type InboxItem struct {
	// ID is the notification's id, or "notice:<id>" for an announcement.
	ID        string    `json:"id"`
	Kind      InboxKind `json:"kind"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	Link      string    `json:"link,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	Read      bool      `json:"read"`
	// NoticeKind is info, maintenance or incident for announcements.
	NoticeKind string `json:"notice_kind,omitempty"`
	// EndsAt is when an announcement stops being shown.
	EndsAt time.Time `json:"ends_at,omitzero"`
}

// InboxPage is one page of a user's inbox, newest first. Live announcements come first on
// the first page.
type InboxPage struct {
	Items  []InboxItem `json:"items"`
	Unread int         `json:"unread" doc:"unread notifications and announcements, capped at 1000"`
	// Next is the cursor for the following page; empty at the end.
	Next string `json:"next,omitempty"`
}

// Inbox reads and marks a user's notifications. Create it with NewInbox.
type Inbox struct {
	db *db.DB
	// announcements lists the live notices; nil means there are none (tests, or no
	// notice service).
	announcements func(ctx context.Context) ([]Announcement, error)
}

// NewInbox returns the inbox over d; announcements (may be nil) lists the live notices.
func NewInbox(d *db.DB, announcements func(ctx context.Context) ([]Announcement, error)) *Inbox {
	return &Inbox{db: d, announcements: announcements}
}

const noticePrefix = "notice:"

func (in *Inbox) liveAnnouncements(ctx context.Context) ([]Announcement, error) {
	if in.announcements == nil {
		return nil, nil
	}
	a, err := in.announcements(ctx)
	if err != nil {
		return nil, fmt.Errorf("inbox announcements: %w", err)
	}
	return a, nil
}

// noticeReads returns which of ids userID has read.
func noticeReads(ctx context.Context, tx *db.Tx, userID string, ids []string) (map[string]bool, error) {
	read := map[string]bool{}
	if len(ids) == 0 {
		return read, nil
	}
	args := []any{userID}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := tx.QueryContext(ctx, `SELECT notice_id FROM inbox_notice_reads WHERE user_id = $1 AND notice_id IN (`+db.Placeholders(2, len(ids))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("inbox notice reads: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("inbox notice reads: %w", err)
		}
		read[id] = true
	}
	return read, rows.Err()
}

func unreadStored(ctx context.Context, tx *db.Tx, userID string) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM inbox WHERE user_id = $1 AND read_at = 0 LIMIT $2) u`,
		userID, maxUnreadCount).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("inbox unread: %w", err)
	}
	return n, nil
}

// Unread returns how many notifications and live announcements userID has not read
// (capped at 1000). Errors: internal only.
func (in *Inbox) Unread(ctx context.Context, userID string) (int, error) {
	if err := settle(ctx, in.db); err != nil {
		return 0, err
	}
	ann, err := in.liveAnnouncements(ctx)
	if err != nil {
		return 0, err
	}
	var n int
	err = in.db.Read(ctx, func(tx *db.Tx) error {
		var err error
		if n, err = unreadStored(ctx, tx, userID); err != nil {
			return err
		}
		read, err := noticeReads(ctx, tx, userID, announcementIDs(ann))
		if err != nil {
			return err
		}
		n += len(ann) - len(read)
		return nil
	})
	return min(n, maxUnreadCount), err
}

func announcementIDs(a []Announcement) []string {
	ids := make([]string, len(a))
	for i, x := range a {
		ids[i] = x.ID
	}
	return ids
}

// List returns one page of userID's inbox in lang, newest first; cursor is the previous
// page's Next ("" for the first page), limit ≤ MaxInboxPage.
//
// Errors: validation_failed (cursor) for a cursor this method did not make; any other error
// is internal.
func (in *Inbox) List(ctx context.Context, userID, lang, cursor string, limit int) (*InboxPage, error) {
	if limit <= 0 || limit > MaxInboxPage {
		limit = MaxInboxPage
	}
	curAt, curID := int64(1<<62), ""
	if cursor != "" {
		at, id, ok := strings.Cut(cursor, "_")
		n, err := strconv.ParseInt(at, 10, 64)
		if !ok || err != nil || len(id) > 64 {
			return nil, invalid("cursor", fmt.Errorf("bad cursor"))
		}
		curAt, curID = n, id
	}
	if err := settle(ctx, in.db); err != nil {
		return nil, err
	}
	var ann []Announcement
	if cursor == "" {
		var err error
		if ann, err = in.liveAnnouncements(ctx); err != nil {
			return nil, err
		}
	}
	page := &InboxPage{Items: []InboxItem{}}
	err := in.db.Read(ctx, func(tx *db.Tx) error {
		read, err := noticeReads(ctx, tx, userID, announcementIDs(ann))
		if err != nil {
			return err
		}
		// Maintenance and incidents first, then the newest.
		sort.SliceStable(ann, func(i, j int) bool {
			if (ann[i].Kind == "info") != (ann[j].Kind == "info") {
				return ann[j].Kind == "info"
			}
			return ann[i].StartsAt.After(ann[j].StartsAt)
		})
		for _, a := range ann {
			page.Items = append(page.Items, InboxItem{ID: noticePrefix + a.ID, Kind: InboxAnnouncement, NoticeKind: a.Kind,
				Title: a.Title.In(lang, nil), Body: a.Body.In(lang, nil), Link: "/status", CreatedAt: a.StartsAt,
				EndsAt: a.EndsAt, Read: read[a.ID]})
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, kind, text_key, params, title_en, title_zh, body_en, body_zh, link, created_at, read_at
			FROM inbox WHERE user_id = $1 AND (created_at < $2 OR (created_at = $2 AND id < $3))
			ORDER BY created_at DESC, id DESC LIMIT $4`, userID, curAt, curID, limit+1)
		if err != nil {
			return fmt.Errorf("list inbox: %w", err)
		}
		defer rows.Close()
		n := 0
		var lastAt int64
		var lastID string
		for rows.Next() {
			var it InboxItem
			var kind, key, params string
			var title, body apperr.Text
			var at, readAt int64
			if err := rows.Scan(&it.ID, &kind, &key, &params, &title.En, &title.Zh, &body.En, &body.Zh, &it.Link, &at, &readAt); err != nil {
				return fmt.Errorf("list inbox: %w", err)
			}
			n++
			if n > limit {
				page.Next = fmt.Sprintf("%d_%s", lastAt, lastID)
				break
			}
			lastAt, lastID = at, it.ID
			it.Kind, it.CreatedAt, it.Read = InboxKind(kind), db.Micros(at), readAt > 0
			it.Title, it.Body = render(key, params, title, body, lang)
			page.Items = append(page.Items, it)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list inbox: %w", err)
		}
		// Close before the next query: the transaction has one connection.
		rows.Close()
		stored, err := unreadStored(ctx, tx, userID)
		if err != nil {
			return err
		}
		page.Unread = min(stored+len(ann)-len(read), maxUnreadCount)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

func render(key, params string, title, body apperr.Text, lang string) (string, string) {
	if key == "" {
		return title.In(lang, nil), body.In(lang, nil)
	}
	t, ok := lookupInboxText(key)
	if !ok {
		// A key removed from the code after rows were written: show something sensible
		// rather than nothing.
		return key, ""
	}
	var p map[string]string
	_ = json.Unmarshal([]byte(params), &p)
	return t.Title.In(lang, p), t.Body.In(lang, p)
}

// MarkRead marks one notification (or "notice:<id>" announcement) of userID as read.
// Marking an already read one is not an error.
//
// Errors: not_found when userID has no such notification (another user's id included, so
// ids cannot be probed); any other error is internal.
func (in *Inbox) MarkRead(ctx context.Context, userID, id string) error {
	if nid, ok := strings.CutPrefix(id, noticePrefix); ok {
		ann, err := in.liveAnnouncements(ctx)
		if err != nil {
			return err
		}
		found := false
		for _, a := range ann {
			found = found || a.ID == nid
		}
		if !found {
			return apperr.New(apperr.CodeNotFound)
		}
		return in.db.InTx(ctx, func(tx *db.Tx) error {
			return markNoticeRead(ctx, tx, userID, nid)
		})
	}
	if _, err := uuid.Parse(id); err != nil {
		return apperr.New(apperr.CodeNotFound)
	}
	if err := settle(ctx, in.db); err != nil {
		return err
	}
	return in.db.InTx(ctx, func(tx *db.Tx) error {
		var readAt int64
		err := tx.QueryRowContext(ctx, `SELECT read_at FROM inbox WHERE id = $1 AND user_id = $2`, id, userID).Scan(&readAt)
		if db.IsNoRows(err) {
			return apperr.New(apperr.CodeNotFound)
		}
		if err != nil {
			return fmt.Errorf("mark read: %w", err)
		}
		if readAt > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE inbox SET read_at = $1 WHERE id = $2 AND user_id = $3`, tx.NowMicros(), id, userID); err != nil {
			return fmt.Errorf("mark read: %w", err)
		}
		return nil
	})
}

func markNoticeRead(ctx context.Context, tx *db.Tx, userID, noticeID string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO inbox_notice_reads (user_id, notice_id, read_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, notice_id) DO NOTHING`, userID, noticeID, tx.NowMicros())
	if err != nil {
		return fmt.Errorf("mark announcement read: %w", err)
	}
	return nil
}

// MarkAllRead marks every notification and live announcement of userID as read and returns
// how many notifications changed. Errors: internal only.
func (in *Inbox) MarkAllRead(ctx context.Context, userID string) (int, error) {
	if err := settle(ctx, in.db); err != nil {
		return 0, err
	}
	ann, err := in.liveAnnouncements(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	err = in.db.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE inbox SET read_at = $1 WHERE user_id = $2 AND read_at = 0`, tx.NowMicros(), userID)
		if err != nil {
			return fmt.Errorf("mark all read: %w", err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return fmt.Errorf("mark all read: %w", err)
		}
		for _, a := range ann {
			if err := markNoticeRead(ctx, tx, userID, a.ID); err != nil {
				return err
			}
		}
		return nil
	})
	return int(n), err
}
