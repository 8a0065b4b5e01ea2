package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"okpay/internal/db"
)

// WorkerConfig tunes a Worker. Zero values take the defaults; values beyond the maximums
// are clamped, because an unbounded batch or retry count is a bug waiting for load.
type WorkerConfig struct {
	// Email and SMS deliver messages of their channel. A worker only claims messages of
	// the channels it has a sender for, so a node without SMS leaves SMS to others.
	Email EmailSender
	SMS   SMSSender
	// Logger gets one line per failure; never a message body. slog.Default() when nil.
	Logger *slog.Logger
	// BatchSize is how many messages one RunOnce claims. Default 10, at most 100.
	BatchSize int
	// MaxAttempts is how many tries a message gets before it is dead. Default 8, at most 20.
	MaxAttempts int
	// BaseBackoff is the wait after the first failure; it doubles per attempt up to
	// MaxBackoff. Defaults 30 s and 1 h: eight attempts span about an hour.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// SendTimeout bounds one delivery. Default 30 s, at most 5 min.
	SendTimeout time.Duration
	// LeaseTimeout is how long a claim lasts; a message still "sending" after it (its
	// worker died) is claimed again. It is raised to at least BatchSize × SendTimeout plus
	// a minute so a live worker never loses a claim it is still working through.
	// Default 10 min.
	LeaseTimeout time.Duration
	// PollInterval is how often Run looks for due messages without a Kick. Default 5 s.
	PollInterval time.Duration
	// KickDelay is how long Run waits after a Kick before it claims, so the messages of
	// the requests around it go out in one batch: the server kicks after every mutating
	// request, and at a few thousand payments a second a claim per kick (a write
	// transaction each, with a settle of the payment feed before it) took the database's
	// single writer from the payments. Default 50 ms; negative: none.
	KickDelay time.Duration
}

// Limits and defaults of WorkerConfig.
const (
	DefaultKickDelay    = 50 * time.Millisecond
	DefaultBatchSize    = 10
	MaxBatchSize        = 100
	DefaultMaxAttempts  = 8
	MaxMaxAttempts      = 20
	DefaultBaseBackoff  = 30 * time.Second
	DefaultMaxBackoff   = time.Hour
	DefaultSendTimeout  = 30 * time.Second
	MaxSendTimeout      = 5 * time.Minute
	DefaultLeaseTimeout = 10 * time.Minute
	DefaultPollInterval = 5 * time.Second
	maxLastErrorBytes   = 1000
	// recordTimeout bounds writing a result after delivery; it runs even when the worker
	// is stopping, because an unrecorded send is sent again.
	recordTimeout = 10 * time.Second
)

// Worker sends due outbox messages. Several workers — on one node or many — may run
// against one database: each message is claimed by one of them at a time.
type Worker struct {
	d    *db.DB
	cfg  WorkerConfig
	log  *slog.Logger
	kick chan struct{}
	// channels are the outbox channels this worker has senders for.
	channels []string
}

// NewWorker returns a worker for d with cfg's senders and limits.
//
// Errors: a plain error when cfg has no sender at all.
func NewWorker(d *db.DB, cfg WorkerConfig) (*Worker, error) {
	w := &Worker{d: d, kick: make(chan struct{}, 1), log: cfg.Logger}
	if w.log == nil {
		w.log = slog.Default()
	}
	if cfg.Email != nil {
		w.channels = append(w.channels, ChannelEmail)
	}
	if cfg.SMS != nil {
		w.channels = append(w.channels, ChannelSMS)
	}
	if len(w.channels) == 0 {
		return nil, errors.New("notify worker: no email or SMS sender configured")
	}
	clamp := func(v *int, def, max int) {
		if *v <= 0 {
			*v = def
		}
		*v = min(*v, max)
	}
	clampD := func(v *time.Duration, def, max time.Duration) {
		if *v <= 0 {
			*v = def
		}
		if max > 0 {
			*v = min(*v, max)
		}
	}
	clamp(&cfg.BatchSize, DefaultBatchSize, MaxBatchSize)
	clamp(&cfg.MaxAttempts, DefaultMaxAttempts, MaxMaxAttempts)
	clampD(&cfg.BaseBackoff, DefaultBaseBackoff, 0)
	clampD(&cfg.MaxBackoff, DefaultMaxBackoff, 0)
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.BaseBackoff)
	clampD(&cfg.SendTimeout, DefaultSendTimeout, MaxSendTimeout)
	clampD(&cfg.LeaseTimeout, DefaultLeaseTimeout, 0)
	cfg.LeaseTimeout = max(cfg.LeaseTimeout, time.Duration(cfg.BatchSize)*cfg.SendTimeout+time.Minute)
	clampD(&cfg.PollInterval, DefaultPollInterval, 0)
	if cfg.KickDelay == 0 {
		cfg.KickDelay = DefaultKickDelay
	}
	w.cfg = cfg
	return w, nil
}

// Kick wakes Run early, e.g. right after a transaction that enqueued a message committed.
// It never blocks; kicks while Run is busy fold into one.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run sends due messages until ctx ends, polling every PollInterval and at once after a
// Kick or a full batch. Failures are logged and retried at the next poll.
//
// Errors: none; it returns nil when ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		claimed, _, err := w.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			w.log.ErrorContext(ctx, "outbox worker", "err", err)
		}
		if err == nil && claimed == w.cfg.BatchSize {
			continue // more may be due
		}
		t.Reset(w.cfg.PollInterval)
		select {
		case <-ctx.Done():
			return nil
		case <-w.kick:
			if w.cfg.KickDelay > 0 {
				// Kicks meanwhile fold into the one buffered: this run takes them all.
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(w.cfg.KickDelay):
				}
			}
		case <-t.C:
		}
	}
}

// RunOnce claims up to BatchSize due messages, sends them after the claim commits, and
// records each result: sent, failed (due again after backoff), or dead (attempts used up,
// or a permanent refusal). It returns how many were sent. Delivery failures are recorded
// on the message, not returned.
//
// Errors: internal (database) only; messages whose result could not be recorded are sent
// again when their claim expires.
func (w *Worker) RunOnce(ctx context.Context) (sent int, err error) {
	_, sent, err = w.runOnce(ctx)
	return sent, err
}

// claimed is one outbox row taken by this worker.
type claimed struct {
	id, channel, kind, to, userID, lang, subject, text, html string
	attempts                                                 int
}

func (w *Worker) runOnce(ctx context.Context) (nClaimed, sent int, err error) {
	var errs []error
	// Messages owed by a deferred writer are written first, so they are sent now rather
	// than at the next poll. Its failure does not stop what is already due.
	if err := settle(ctx, w.d); err != nil {
		errs = append(errs, err)
	}
	token := uuid.NewString()
	msgs, err := w.claim(ctx, token)
	if err != nil {
		return 0, 0, errors.Join(append(errs, err)...)
	}
	// The batch is delivered, then its outcomes are recorded in one transaction: one
	// write per batch instead of one per message (at a payment's rate of mail, a commit
	// and fsync per message took the database's single writer from the payments). A
	// worker dying before the record sends the batch again after the lease, as one dying
	// between a send and its record always did (delivery is at least once).
	var done []outcome
	for i, m := range msgs {
		if ctx.Err() != nil {
			// Stopping: hand back what was not tried so another node need not wait out
			// the lease.
			if err := w.release(ctx, token, msgs[i:]); err != nil {
				errs = append(errs, err)
			}
			break
		}
		done = append(done, outcome{m: m, err: w.deliver(ctx, m)})
	}
	if len(done) > 0 {
		n, err := w.record(ctx, token, done)
		sent += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return len(msgs), sent, errors.Join(errs...)
}

// outcome is one delivery's result, to record.
type outcome struct {
	m   claimed
	err error
}

// claim takes due messages for this worker in one transaction: it marks them "sending"
// with token and a lease (next_attempt_at), counting the attempt now so a message that
// crashes its worker every time still runs out of attempts. On PostgreSQL the SELECT locks
// the rows it picks and skips rows another worker has locked, so concurrent workers take
// different messages instead of queueing behind each other. On SQLite the write lock
// serialises claims.
func (w *Worker) claim(ctx context.Context, token string) ([]claimed, error) {
	var out []claimed
	err := w.d.InTx(ctx, func(tx *db.Tx) error {
		out = out[:0]
		now := tx.NowMicros()
		var chanArgs []any
		for _, c := range w.channels {
			chanArgs = append(chanArgs, c)
		}
		// A message left "sending" by a dead worker with no attempts left goes dead rather
		// than out again.
		_, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'dead', claim_token = NULL,
			last_error = CASE WHEN status = 'sending' THEN 'worker stopped while sending (claim expired) and no attempts are left' ELSE last_error END
			WHERE status IN ('pending', 'sending', 'failed') AND next_attempt_at <= $1 AND attempts >= $2
			AND channel IN (`+db.Placeholders(3, len(chanArgs))+`)`, append([]any{now, w.cfg.MaxAttempts}, chanArgs...)...)
		if err != nil {
			return fmt.Errorf("outbox: retire exhausted messages: %w", err)
		}
		// Two statements rather than UPDATE … WHERE id IN (SELECT … LIMIT n): PostgreSQL may
		// run such a subquery more than once, and with SKIP LOCKED each run finds other rows,
		// claiming far more than the batch.
		lock := ""
		if tx.Dialect.Name() == db.Postgres {
			// Belongs in db.Dialect once it grows a SkipLocked(); notify may not edit db.
			lock = "FOR UPDATE SKIP LOCKED"
		}
		ids, err := dueIDs(ctx, tx, `SELECT id FROM outbox
			WHERE status IN ('pending', 'sending', 'failed') AND next_attempt_at <= $1 AND attempts < $2
			AND channel IN (`+db.Placeholders(4, len(chanArgs))+`)
			ORDER BY next_attempt_at, id LIMIT $3 `+lock,
			append([]any{now, w.cfg.MaxAttempts, w.cfg.BatchSize}, chanArgs...)...)
		if err != nil {
			return fmt.Errorf("outbox: find due messages: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		if len(ids) > w.cfg.BatchSize {
			return fmt.Errorf("outbox: found %d due rows, more than the batch of %d", len(ids), w.cfg.BatchSize)
		}
		args := append([]any{now, w.cfg.MaxAttempts, token, now + w.cfg.LeaseTimeout.Microseconds()}, ids...)
		// The due condition is repeated so a row another worker claimed and committed since
		// the SELECT (possible on PostgreSQL without the row lock) is not taken again.
		rows, err := tx.QueryContext(ctx, `UPDATE outbox SET status = 'sending', attempts = attempts + 1, claim_token = $3, next_attempt_at = $4
			WHERE id IN (`+db.Placeholders(5, len(ids))+`)
			AND status IN ('pending', 'sending', 'failed') AND next_attempt_at <= $1 AND attempts < $2
			RETURNING id, channel, kind, recipient, user_id, lang, subject, body_text, body_html, attempts`, args...)
		if err != nil {
			return fmt.Errorf("outbox: claim: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var m claimed
			var uid sql.NullString
			if err := rows.Scan(&m.id, &m.channel, &m.kind, &m.to, &uid, &m.lang, &m.subject, &m.text, &m.html, &m.attempts); err != nil {
				return fmt.Errorf("outbox: claim: %w", err)
			}
			m.userID = uid.String
			out = append(out, m)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("outbox: claim: %w", err)
		}
		if len(out) > len(ids) {
			return fmt.Errorf("outbox: claim returned %d rows for %d ids", len(out), len(ids))
		}
		return nil
	})
	return out, err
}

func dueIDs(ctx context.Context, tx *db.Tx, q string, args ...any) ([]any, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []any
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// deliver hands m to its sender with a timeout; a panicking sender fails the message
// instead of the process.
func (w *Worker) deliver(ctx context.Context, m claimed) (err error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sender panicked: %v", p)
		}
	}()
	switch m.channel {
	case ChannelEmail:
		return w.cfg.Email.Send(ctx, Email{ID: m.id, To: m.to, Lang: m.lang, Subject: m.subject,
			Text: m.text, HTML: m.html, UserID: m.userID, Kind: m.kind})
	case ChannelSMS:
		return w.cfg.SMS.Send(ctx, SMS{ID: m.id, To: m.to, Text: m.text, UserID: m.userID, Kind: m.kind})
	}
	return Permanent(fmt.Errorf("no sender for channel %q", m.channel))
}

// record writes the outcomes of deliveries in one transaction, each only if this worker
// still holds its claim (a lost claim: the lease ran out and another worker took it). It
// returns how many sent messages were recorded as sent.
func (w *Worker) record(ctx context.Context, token string, done []outcome) (sent int, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	held := make([]bool, len(done))
	status := make([]string, len(done))
	err = w.d.InTx(ctx, func(tx *db.Tx) error {
		now := tx.NowMicros()
		for i, o := range done {
			var res sql.Result
			var err error
			if o.err == nil {
				status[i] = StatusSent
				res, err = tx.ExecCached(ctx, `UPDATE outbox SET status = 'sent', sent_at = $1, last_error = '', claim_token = NULL
				WHERE id = $2 AND claim_token = $3 AND status = 'sending'`, now, o.m.id, token)
			} else {
				st, next := StatusFailed, now+w.backoff(o.m.attempts).Microseconds()
				if IsPermanent(o.err) || o.m.attempts >= w.cfg.MaxAttempts {
					st, next = StatusDead, now
				}
				status[i] = st
				res, err = tx.ExecCached(ctx, `UPDATE outbox SET status = $1, next_attempt_at = $2, last_error = $3, claim_token = NULL
				WHERE id = $4 AND claim_token = $5 AND status = 'sending'`, st, next, truncate(o.err.Error(), maxLastErrorBytes), o.m.id, token)
			}
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			held[i] = n == 1
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: record results of %d messages from %s: %w", len(done), done[0].m.id, err)
	}
	for i, o := range done {
		if !held[i] {
			w.log.WarnContext(ctx, "outbox: claim expired before the result was recorded; another worker may send it again",
				"id", o.m.id, "kind", o.m.kind, "attempt", o.m.attempts)
			continue
		}
		if o.err != nil {
			w.log.WarnContext(ctx, "outbox: delivery failed", "id", o.m.id, "channel", o.m.channel, "kind", o.m.kind,
				"attempt", o.m.attempts, "status", status[i], "err", o.err)
			continue
		}
		sent++
	}
	return sent, nil
}

// release hands back claimed messages that were not tried, undoing their attempt.
func (w *Worker) release(ctx context.Context, token string, ms []claimed) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	err := w.d.InTx(ctx, func(tx *db.Tx) error {
		for _, m := range ms {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts - 1, next_attempt_at = $1, claim_token = NULL,
				status = CASE WHEN attempts <= 1 THEN 'pending' ELSE 'failed' END
				WHERE id = $2 AND claim_token = $3 AND status = 'sending'`, tx.NowMicros(), m.id, token); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbox: release unsent claims: %w", err)
	}
	return nil
}

// backoff is the wait after the given failed attempt (1-based): BaseBackoff doubling per
// attempt, capped. No jitter: messages fail at different times already, and a fixed
// schedule is one a test and a support agent can predict.
func (w *Worker) backoff(attempt int) time.Duration {
	d := w.cfg.BaseBackoff
	for i := 1; i < attempt && d < w.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, w.cfg.MaxBackoff)
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.ToValidUTF8(s[:n], "")
}
