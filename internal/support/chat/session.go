package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"okpay/internal/apperr"
)

// Conn is one WebSocket connection as Serve needs it: whole text frames in and out. The
// web layer's adapter enforces the frame size limit and keepalive.
type Conn interface {
	Read(ctx context.Context) ([]byte, error)
	Write(ctx context.Context, data []byte) error
}

// Errors Serve returns besides the connection's own.
var (
	// ErrShutdown: the node is stopping; close with "going away" so clients reconnect
	// (to another node).
	ErrShutdown = errors.New("chat: node shutting down")
	// ErrPolicy: the client kept breaking the protocol or the rate limit.
	ErrPolicy = errors.New("chat: client broke the protocol")
)

// Session limits.
const (
	// MaxFrameBytes is the largest client frame: a message of MaxBodyRunes in UTF-8 with
	// room for the JSON around it.
	MaxFrameBytes = 4*MaxBodyRunes + 1024
	// bucketSize and refillEvery are the per-connection rate limit: bursts of 10 frames,
	// then one every 400 ms.
	bucketSize  = 10
	refillEvery = 400 * time.Millisecond
	// typingEvery drops typing frames closer together than this (they are advisory).
	typingEvery = 1500 * time.Millisecond
	// maxStrikes is how many refused frames (rate limit, bad JSON) end the connection.
	maxStrikes = 20
	// resyncEvery re-reads every watched chat, so a lost notification costs seconds, not a
	// silent gap.
	resyncEvery  = 10 * time.Second
	writeTimeout = 10 * time.Second
)

// clientMsg is any frame a client sends.
type clientMsg struct {
	Type    string `json:"type"`
	ChatID  string `json:"chat_id"`
	Body    string `json:"body"`
	Seq     int64  `json:"seq"`
	LastSeq int64  `json:"last_seq"`
	Ref     string `json:"ref"`
}

// ServerMsg is any frame the server sends; fields are set by type (see the package doc).
type ServerMsg struct {
	Type                string       `json:"type"`
	Role                string       `json:"role,omitempty"`
	Chat                *Chat        `json:"chat,omitempty"`
	ChatID              string       `json:"chat_id,omitempty"`
	Seq                 int64        `json:"seq,omitempty"`
	From                string       `json:"from,omitempty"`
	Body                string       `json:"body,omitempty"`
	At                  *time.Time   `json:"at,omitempty"`
	By                  string       `json:"by,omitempty"`
	AgentID             string       `json:"agent_id,omitempty"`
	OpenNow             *bool        `json:"open_now,omitempty"`
	Position            *int         `json:"position,omitempty"`
	QueuePosition       *int         `json:"queue_position,omitempty"`
	ExpectedWaitSeconds *int64       `json:"expected_wait_seconds,omitempty"`
	Queue               []QueueEntry `json:"queue,omitempty"`
	Chats               []Chat       `json:"chats,omitempty"`
	Code                string       `json:"code,omitempty"`
	Message             string       `json:"message,omitempty"`
	Fix                 string       `json:"fix,omitempty"`
	Ref                 string       `json:"ref,omitempty"`
}

type session struct {
	s       *Service
	conn    Conn
	p       Participant
	agent   bool
	sub     *sub
	seen    map[string]int64  // chat → last seq delivered
	status  map[string]Status // chat → last status told
	current string            // customer: the chat in progress
	lastPos int

	tokens     float64
	lastRefill time.Time
	lastTyping time.Time
	strikes    int
}

// Serve speaks the chat protocol on conn for p until the connection fails, ctx ends
// (returns ctx.Err()), the node shuts down (ErrShutdown) or the client misbehaves
// (ErrPolicy). Customers use it for their own chat; staff (agent, admin) get the queue and
// the chats they hold.
func (s *Service) Serve(ctx context.Context, conn Conn, p Participant) error {
	if p.ID == "" {
		return unauthenticated()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ss := &session{s: s, conn: conn, p: p, agent: p.Staff(), sub: s.fan.subscribe(), seen: map[string]int64{},
		status: map[string]Status{}, lastPos: -1, tokens: bucketSize, lastRefill: time.Now()}
	defer s.fan.unsubscribe(ss.sub)

	if err := ss.hello(ctx, 0); err != nil {
		return err
	}
	frames := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		for {
			b, err := conn.Read(ctx)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case frames <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	tick := time.NewTicker(resyncEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return ErrShutdown
		case err := <-readErr:
			return err
		case b := <-frames:
			if err := ss.handleFrame(ctx, b); err != nil {
				return err
			}
		case e := <-ss.sub.ch:
			if ss.sub.takeMissed() {
				e = Event{Kind: evResync}
			}
			if err := ss.handleEvent(ctx, e); err != nil {
				return err
			}
		case <-tick.C:
			if err := ss.handleEvent(ctx, Event{Kind: evResync}); err != nil {
				return err
			}
		}
	}
}

func (ss *session) send(ctx context.Context, m ServerMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("chat: encode %s: %w", m.Type, err)
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := ss.conn.Write(wctx, b); err != nil {
		return fmt.Errorf("chat: write %s: %w", m.Type, err)
	}
	return nil
}

// sendErr tells the client one request failed. Internal errors are logged and shown as
// "internal"; the connection stays up.
func (ss *session) sendErr(ctx context.Context, err error, ref string) error {
	e, ok := apperr.As(err)
	if !ok {
		ss.s.cfg.Logf("chat: internal error for %s: %v", ss.p.ID, err)
		e = apperr.New(apperr.CodeInternal)
	}
	return ss.send(ctx, ServerMsg{Type: "error", Code: e.Code, Message: e.Message(ss.p.Lang), Fix: e.Fix(ss.p.Lang), Ref: ref})
}

func ptr[T any](v T) *T { return &v }

// hello sends the current state, then the messages after lastSeq of the chats in view.
func (ss *session) hello(ctx context.Context, lastSeq int64) error {
	if ss.agent {
		ss.sub.setQueue(true)
		q, err := ss.s.Queue(ctx, ss.p)
		if err != nil {
			return err
		}
		chats, err := ss.s.AgentChats(ctx, ss.p)
		if err != nil {
			return err
		}
		if err := ss.send(ctx, ServerMsg{Type: "hello", Role: FromAgent, Queue: nonNil(q), Chats: chats, OpenNow: ptr(ss.s.OpenNow())}); err != nil {
			return err
		}
		for _, c := range chats {
			ss.sub.watch(c.ID)
			ss.status[c.ID] = c.Status
			if err := ss.catchUp(ctx, c.ID); err != nil {
				return err
			}
		}
		return nil
	}
	c, err := ss.s.OpenChat(ctx, ss.p)
	if err != nil {
		return err
	}
	m := ServerMsg{Type: "hello", Role: FromCustomer, Chat: c, OpenNow: ptr(ss.s.OpenNow())}
	if c == nil {
		w, err := ss.s.ExpectedWait(ctx)
		if err != nil {
			return err
		}
		m.ExpectedWaitSeconds = ptr(int64(w.Seconds()))
		return ss.send(ctx, m)
	}
	ss.current = c.ID
	ss.sub.watch(c.ID)
	ss.status[c.ID] = c.Status
	if _, ok := ss.seen[c.ID]; !ok || lastSeq > 0 {
		ss.seen[c.ID] = lastSeq
	}
	if c.Status == StatusQueued {
		ss.sub.setQueue(true)
		pos, wait, err := ss.s.QueuePosition(ctx, ss.p, c.ID)
		if err != nil {
			return err
		}
		m.QueuePosition, m.ExpectedWaitSeconds = ptr(pos), ptr(int64(wait.Seconds()))
		ss.lastPos = pos
	}
	if err := ss.send(ctx, m); err != nil {
		return err
	}
	return ss.catchUp(ctx, c.ID)
}

func nonNil(q []QueueEntry) []QueueEntry {
	if q == nil {
		return []QueueEntry{}
	}
	return q
}

// catchUp sends every message of chatID after the last one delivered, in seq order.
func (ss *session) catchUp(ctx context.Context, chatID string) error {
	for range MaxTranscriptMessages / MaxPage {
		msgs, err := ss.s.Messages(ctx, ss.p, chatID, ss.seen[chatID], MaxPage)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			body := m.Body
			if m.From == FromSystem {
				body = SystemText(body, ss.p.Lang)
			}
			at := m.At
			if err := ss.send(ctx, ServerMsg{Type: "message", ChatID: chatID, Seq: m.Seq, From: m.From, Body: body, At: &at}); err != nil {
				return err
			}
			ss.seen[chatID] = m.Seq
		}
		if len(msgs) < MaxPage {
			return nil
		}
	}
	return nil
}

// allow applies the token bucket.
func (ss *session) allow() bool {
	now := time.Now()
	ss.tokens = min(bucketSize, ss.tokens+float64(now.Sub(ss.lastRefill))/float64(refillEvery))
	ss.lastRefill = now
	if ss.tokens < 1 {
		return false
	}
	ss.tokens--
	return true
}

func (ss *session) strike() error {
	ss.strikes++
	if ss.strikes > maxStrikes {
		return ErrPolicy
	}
	return nil
}

// chatFor picks the chat a frame is about: customers may omit it (their chat in progress).
func (ss *session) chatFor(m clientMsg) string {
	if m.ChatID == "" && !ss.agent {
		return ss.current
	}
	return m.ChatID
}

func (ss *session) handleFrame(ctx context.Context, b []byte) error {
	var m clientMsg
	if err := json.Unmarshal(b, &m); err != nil || m.Type == "" || len(m.Ref) > 64 {
		if err := ss.strike(); err != nil {
			return err
		}
		return ss.sendErr(ctx, apperr.New(apperr.CodeInvalidJSON), "")
	}
	if m.Type == "typing" {
		if time.Since(ss.lastTyping) < typingEvery {
			return nil
		}
		ss.lastTyping = time.Now()
	} else if !ss.allow() {
		if err := ss.strike(); err != nil {
			return err
		}
		return ss.sendErr(ctx, apperr.New(apperr.CodeRateLimited).With("retry_after", "1"), m.Ref)
	}
	err := ss.do(ctx, m)
	if err != nil {
		if _, coded := apperr.As(err); !coded && ctx.Err() != nil {
			return ctx.Err()
		}
		return ss.sendErr(ctx, err, m.Ref)
	}
	return nil
}

func (ss *session) do(ctx context.Context, m clientMsg) error {
	s, p := ss.s, ss.p
	chatID := ss.chatFor(m)
	switch m.Type {
	case "hello":
		return ss.hello(ctx, max(m.LastSeq, 0))
	case "start":
		if ss.agent {
			return apperr.New(apperr.CodeForbidden)
		}
		c, err := s.Start(ctx, p, m.Body)
		if err != nil {
			return err
		}
		return ss.follow(ctx, c)
	case "message":
		if chatID == "" {
			if ss.agent {
				return apperr.New(apperr.CodeValidation).Field("chat_id", apperr.CodeRequired)
			}
			c, err := s.Start(ctx, p, m.Body)
			if err != nil {
				return err
			}
			return ss.follow(ctx, c)
		}
		_, err := s.Send(ctx, p, chatID, m.Body)
		return err
	case "typing":
		if chatID == "" {
			return nil
		}
		return s.Typing(ctx, p, chatID)
	case "read":
		if chatID == "" {
			return nil
		}
		return s.MarkRead(ctx, p, chatID, m.Seq)
	case "pickup":
		if !ss.agent {
			return apperr.New(apperr.CodeForbidden)
		}
		c, err := s.Pickup(ctx, p, chatID)
		if err != nil {
			return err
		}
		if ss.status[c.ID] != StatusActive {
			ss.status[c.ID] = StatusActive
			if err := ss.send(ctx, ServerMsg{Type: "assigned", ChatID: c.ID, AgentID: c.AgentID, Chat: c}); err != nil {
				return err
			}
		}
		ss.sub.watch(c.ID)
		return ss.catchUp(ctx, c.ID)
	case "close":
		if chatID == "" {
			return apperr.New(apperr.CodeNotFound)
		}
		return s.Close(ctx, p, chatID)
	case "transcript":
		if chatID == "" {
			return apperr.New(apperr.CodeNotFound)
		}
		if err := s.EmailTranscript(ctx, p, chatID); err != nil {
			return err
		}
		return ss.send(ctx, ServerMsg{Type: "transcript_sent", ChatID: chatID})
	}
	return apperr.New(apperr.CodeBadRequest)
}

// follow starts watching the customer's chat after Start and names it to the client in a
// "started" frame before any of its messages: hello names the chat only on connect, and a
// client that does not know its chat cannot tell its chat's messages from others' nor send
// the next line to this chat instead of starting another. The first message's event may
// have been delivered before the watch, so catch up explicitly.
func (ss *session) follow(ctx context.Context, c *Chat) error {
	if ss.current != c.ID {
		// A chat new to this client (a new one, or one another tab started) is shown from
		// its first message, as the client clears its log for a chat it was not showing;
		// and its place in the queue is told even when it is the number the last chat had.
		ss.seen[c.ID] = 0
		ss.lastPos = -1
	}
	ss.current = c.ID
	ss.sub.watch(c.ID)
	ss.status[c.ID] = c.Status
	if err := ss.send(ctx, ServerMsg{Type: "started", ChatID: c.ID, Chat: c}); err != nil {
		return err
	}
	if c.Status == StatusQueued {
		ss.sub.setQueue(true)
		if err := ss.sendPosition(ctx); err != nil {
			return err
		}
	}
	return ss.catchUp(ctx, c.ID)
}

func (ss *session) sendPosition(ctx context.Context) error {
	if ss.current == "" || ss.status[ss.current] != StatusQueued {
		return nil
	}
	pos, wait, err := ss.s.QueuePosition(ctx, ss.p, ss.current)
	if err != nil {
		return err
	}
	if pos == ss.lastPos || pos == 0 {
		return nil
	}
	ss.lastPos = pos
	return ss.send(ctx, ServerMsg{Type: "queue_position", ChatID: ss.current, Position: ptr(pos), ExpectedWaitSeconds: ptr(int64(wait.Seconds()))})
}

func (ss *session) side() string { return ss.p.side() }

func (ss *session) handleEvent(ctx context.Context, e Event) error {
	switch e.Kind {
	case evMessage:
		if e.Seq <= ss.seen[e.ChatID] {
			return nil
		}
		return ss.catchUp(ctx, e.ChatID)
	case evTyping:
		if e.Who == ss.side() {
			return nil
		}
		return ss.send(ctx, ServerMsg{Type: "typing", ChatID: e.ChatID, From: e.Who})
	case evRead:
		if e.Who == ss.side() {
			return nil
		}
		return ss.send(ctx, ServerMsg{Type: "read", ChatID: e.ChatID, Seq: e.Seq, By: e.Who})
	case evState:
		return ss.refreshChat(ctx, e.ChatID)
	case evQueue:
		return ss.refreshQueue(ctx)
	case evResync:
		for id, st := range ss.status {
			if st == StatusClosed {
				continue
			}
			if err := ss.refreshChat(ctx, id); err != nil {
				return err
			}
		}
		return ss.refreshQueue(ctx)
	}
	return nil
}

func (ss *session) refreshQueue(ctx context.Context) error {
	if ss.agent {
		q, err := ss.s.Queue(ctx, ss.p)
		if err != nil {
			return err
		}
		return ss.send(ctx, ServerMsg{Type: "queue", Queue: nonNil(q)})
	}
	return ss.sendPosition(ctx)
}

// refreshChat tells the client about a status change (assigned, closed) and delivers any
// messages it has not had.
func (ss *session) refreshChat(ctx context.Context, chatID string) error {
	c, err := ss.s.Get(ctx, ss.p, chatID)
	if err != nil {
		return err
	}
	if err := ss.catchUp(ctx, chatID); err != nil {
		return err
	}
	old := ss.status[chatID]
	if old == c.Status {
		return nil
	}
	ss.status[chatID] = c.Status
	switch c.Status {
	case StatusActive:
		if !ss.agent {
			ss.sub.setQueue(false)
		}
		return ss.send(ctx, ServerMsg{Type: "assigned", ChatID: c.ID, AgentID: c.AgentID, Chat: c})
	case StatusClosed:
		if ss.current == c.ID {
			ss.current = ""
			ss.sub.setQueue(false)
		}
		return ss.send(ctx, ServerMsg{Type: "closed", ChatID: c.ID, By: c.ClosedBy})
	}
	return nil
}
