package chat

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"okpay/internal/db"
)

// Event kinds. An event names what changed; receivers read the rows themselves.
const (
	evMessage = "m" // a message with Seq was added to ChatID
	evTyping  = "t" // Who is typing in ChatID
	evRead    = "r" // Who read ChatID up to Seq
	evState   = "s" // ChatID was assigned or closed
	evQueue   = "q" // the queue changed
	evResync  = "x" // local only: notifications may have been missed, re-read everything
)

// Event is one notification between nodes.
type Event struct {
	Kind   string
	ChatID string
	Seq    int64
	Who    string
}

// encode is the NOTIFY payload: "kind|chat|seq|who", far below PostgreSQL's 8000 bytes.
func (e Event) encode() string {
	return e.Kind + "|" + e.ChatID + "|" + strconv.FormatInt(e.Seq, 10) + "|" + e.Who
}

func decodeEvent(s string) (Event, bool) {
	p := strings.Split(s, "|")
	if len(p) != 4 || len(s) > 200 {
		return Event{}, false
	}
	seq, err := strconv.ParseInt(p[2], 10, 64)
	if err != nil {
		return Event{}, false
	}
	switch p[0] {
	case evMessage, evTyping, evRead, evState, evQueue:
	default:
		return Event{}, false
	}
	return Event{Kind: p[0], ChatID: p[1], Seq: seq, Who: p[3]}, true
}

// subBuffer bounds the events waiting for one session. A session that falls behind loses
// events, not correctness: it is marked to re-read everything (missed).
const subBuffer = 64

// sub is one session's subscription.
type sub struct {
	ch     chan Event
	mu     sync.Mutex
	chats  map[string]bool
	queue  bool // agents, and customers waiting in the queue
	missed bool
}

func (s *sub) watch(chatID string) {
	s.mu.Lock()
	s.chats[chatID] = true
	s.mu.Unlock()
}

func (s *sub) setQueue(on bool) {
	s.mu.Lock()
	s.queue = on
	s.mu.Unlock()
}

func (s *sub) wants(e Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e.Kind {
	case evQueue:
		return s.queue
	case evResync:
		return true
	}
	return s.chats[e.ChatID]
}

// takeMissed reports (and clears) whether events were dropped for this session.
func (s *sub) takeMissed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.missed
	s.missed = false
	return m
}

// fanout passes events to this node's sessions.
type fanout struct {
	mu   sync.RWMutex
	subs map[*sub]struct{}
}

func newFanout() *fanout { return &fanout{subs: map[*sub]struct{}{}} }

func (f *fanout) subscribe() *sub {
	s := &sub{ch: make(chan Event, subBuffer), chats: map[string]bool{}}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	return s
}

func (f *fanout) unsubscribe(s *sub) {
	f.mu.Lock()
	delete(f.subs, s)
	f.mu.Unlock()
}

// deliver never blocks: a full session buffer marks the session to re-read instead.
func (f *fanout) deliver(e Event) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for s := range f.subs {
		if !s.wants(e) {
			continue
		}
		select {
		case s.ch <- e:
		default:
			s.mu.Lock()
			s.missed = true
			s.mu.Unlock()
			// Wake the session so it notices; if even this fails, the periodic resync will.
			select {
			case s.ch <- Event{Kind: evResync}:
			default:
			}
		}
	}
}

// Run serves the node's part of live chat until ctx ends: on PostgreSQL it LISTENs on a
// dedicated connection and passes notifications to local sessions, reconnecting with
// backoff (and telling sessions to re-read, since notifications sent meanwhile are lost);
// on SQLite it only waits. When ctx ends, every session is told to close. It returns nil
// on shutdown.
func (s *Service) Run(ctx context.Context) error {
	defer s.closeOnce.Do(func() { close(s.closing) })
	if s.db.Engine != db.Postgres {
		s.markListening()
		<-ctx.Done()
		return nil
	}
	if s.cfg.ListenURL == "" {
		return errors.New("chat: ListenURL is required on PostgreSQL")
	}
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := s.listen(ctx, func() {
			if !first {
				s.fan.deliver(Event{Kind: evResync})
			}
			first = false
			backoff = 100 * time.Millisecond
		})
		if ctx.Err() != nil {
			return nil
		}
		s.cfg.Logf("chat: listener lost, reconnecting: %v", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	return nil
}

// Listening is closed once the node receives other nodes' events: when the PostgreSQL
// listener has subscribed, at once on SQLite. Tests wait on it; sessions do not need to,
// since they re-read periodically.
func (s *Service) Listening() <-chan struct{} { return s.listening }

func (s *Service) markListening() { s.listenOnce.Do(func() { close(s.listening) }) }

func (s *Service) listen(ctx context.Context, up func()) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(cctx, s.cfg.ListenURL)
	cancel()
	if err != nil {
		return fmt.Errorf("chat listener connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.cfg.Channel}.Sanitize()); err != nil {
		return fmt.Errorf("chat listen: %w", err)
	}
	s.markListening()
	up()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("chat wait: %w", err)
		}
		if e, ok := decodeEvent(n.Payload); ok {
			s.fan.deliver(e)
		}
	}
}
