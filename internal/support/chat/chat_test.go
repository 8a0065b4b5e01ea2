package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/notify"
	"okpay/internal/support/chat"
)

var (
	alice = chat.Participant{ID: "alice", Role: "customer", Lang: "en"}
	bob   = chat.Participant{ID: "bob", Role: "customer", Lang: "zh-CN"}
	carol = chat.Participant{ID: "carol", Role: "customer", Lang: "en"}
	agent = chat.Participant{ID: "agent-1", Role: "agent", Lang: "en"}
	other = chat.Participant{ID: "agent-2", Role: "agent", Lang: "en"}
)

type fakeTickets struct{ opened []string }

func (f *fakeTickets) OpenFromChat(_ context.Context, customerID, lang, subject, body string) (string, error) {
	f.opened = append(f.opened, customerID+"|"+subject+"|"+body)
	return "T-1", nil
}

func newService(t *testing.T, d *db.DB, open bool, tickets chat.TicketOpener) *chat.Service {
	s := chat.New(d, chat.Config{
		OpenNow: func(time.Time) bool { return open },
		Tickets: tickets,
		Contacts: func(_ context.Context, id string) (string, string, error) {
			return id + "@example.com", "en", nil
		},
		ListenURL: "",
	})
	return s
}

func TestQueuePickupHistory(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clock := d.Clock.(*dbtest.Clock)
		s := newService(t, d, true, nil)
		ca, err := s.Start(ctx, alice, "My withdrawal failed")
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		cb, err := s.Start(ctx, bob, "账户被冻结")
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		cc, _ := s.Start(ctx, carol, "hi")
		// A second start joins the chat in progress.
		again, err := s.Start(ctx, alice, "Are you there?")
		if err != nil || again.ID != ca.ID || again.LastSeq != 2 {
			t.Fatalf("second start: %+v %v", again, err)
		}
		for i, c := range []struct {
			p   chat.Participant
			id  string
			pos int
		}{{alice, ca.ID, 1}, {bob, cb.ID, 2}, {carol, cc.ID, 3}} {
			pos, wait, err := s.QueuePosition(ctx, c.p, c.id)
			if err != nil || pos != c.pos || wait != time.Duration(c.pos)*3*time.Minute {
				t.Fatalf("%d: position %d wait %v err %v", i, pos, wait, err)
			}
		}
		// Bob cannot see Alice's chat; customers cannot pick up.
		if _, err := s.Get(ctx, bob, ca.ID); !apperr.HasCode(err, apperr.CodeNotFound) {
			t.Fatalf("bob read alice's chat: %v", err)
		}
		if _, err := s.Send(ctx, bob, ca.ID, "x"); !apperr.HasCode(err, apperr.CodeNotFound) {
			t.Fatalf("bob wrote in alice's chat: %v", err)
		}
		if _, err := s.Pickup(ctx, bob, ca.ID); !apperr.HasCode(err, apperr.CodeForbidden) {
			t.Fatalf("customer picked up: %v", err)
		}
		q, err := s.Queue(ctx, agent)
		if err != nil || len(q) != 3 || q[0].ChatID != ca.ID || q[0].Preview != "My withdrawal failed" || q[1].Preview != "账户被冻结" {
			t.Fatalf("queue: %+v %v", q, err)
		}
		clock.Advance(2 * time.Minute)
		if _, err := s.Pickup(ctx, agent, ca.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Pickup(ctx, other, ca.ID); !apperr.HasCode(err, chat.CodeTaken) {
			t.Fatalf("second pickup: %v", err)
		}
		// Alice waited 4 minutes: that is now the expected wait per place.
		pos, wait, _ := s.QueuePosition(ctx, bob, cb.ID)
		if pos != 1 || wait != 4*time.Minute {
			t.Fatalf("bob after pickup: %d %v", pos, wait)
		}
		if _, err := s.Send(ctx, other, ca.ID, "I'm not on this"); !apperr.HasCode(err, apperr.CodeForbidden) {
			t.Fatalf("other agent wrote: %v", err)
		}
		if _, err := s.Send(ctx, agent, ca.ID, "Hello Alice, let me check."); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Send(ctx, alice, ca.ID, strings.Repeat("x", chat.MaxBodyRunes+1)); !apperr.HasCode(err, apperr.CodeValidation) {
			t.Fatalf("long message: %v", err)
		}
		if err := s.MarkRead(ctx, alice, ca.ID, 99); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx, alice, ca.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Send(ctx, alice, ca.ID, "one more"); !apperr.HasCode(err, chat.CodeClosed) {
			t.Fatalf("send after close: %v", err)
		}
		msgs, err := s.Messages(ctx, alice, ca.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, m := range msgs {
			if m.Seq != int64(i+1) {
				t.Fatalf("seq gap: %+v", msgs)
			}
			got = append(got, m.From+":"+m.Body)
		}
		want := "customer:My withdrawal failed|customer:Are you there?|system:agent_joined|agent:Hello Alice, let me check.|system:closed_by_customer"
		if strings.Join(got, "|") != want {
			t.Fatalf("history:\n%s\nwant\n%s", strings.Join(got, "|"), want)
		}
		c, _ := s.Get(ctx, agent, ca.ID)
		if c.Status != chat.StatusClosed || c.CustomerReadSeq != 4 || c.ClosedBy != "customer" {
			t.Fatalf("closed chat: %+v", c)
		}
		mine, _ := s.ListMine(ctx, alice, 10)
		if len(mine) != 1 || mine[0].ID != ca.ID {
			t.Fatalf("alice's chats: %+v", mine)
		}

		// Transcript by email: through the outbox, once per ten minutes, only the customer.
		if err := s.EmailTranscript(ctx, agent, ca.ID); !apperr.HasCode(err, apperr.CodeForbidden) {
			t.Fatalf("agent mailed transcript: %v", err)
		}
		if err := s.EmailTranscript(ctx, alice, ca.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.EmailTranscript(ctx, alice, ca.ID); !apperr.HasCode(err, chat.CodeTranscript) {
			t.Fatalf("second transcript: %v", err)
		}
		mail, err := notify.ListMail(ctx, d, "alice@example.com", 10)
		if err != nil || len(mail) != 1 {
			t.Fatalf("mail: %+v %v", mail, err)
		}
		if !strings.Contains(mail[0].Text, "You: My withdrawal failed") || !strings.Contains(mail[0].Text, "OKPay support: Hello Alice") ||
			!strings.Contains(mail[0].Text, "An agent has joined the chat.") {
			t.Fatalf("transcript text:\n%s", mail[0].Text)
		}
		inbox, _ := notify.NewInbox(d, nil).List(ctx, "alice", "en", "", 10)
		if len(inbox.Items) != 1 || inbox.Items[0].Kind != notify.InboxChat || !strings.Contains(inbox.Items[0].Body, "alice@example.com") {
			t.Fatalf("inbox: %+v", inbox)
		}
	})
}

func TestOutsideHoursLeavesAMessage(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		tickets := &fakeTickets{}
		s := newService(t, d, false, tickets)
		if _, err := s.Start(ctx, alice, "hello?"); !apperr.HasCode(err, chat.CodeOffline) {
			t.Fatalf("start outside hours: %v", err)
		}
		left, err := s.LeaveMessage(ctx, alice, "Withdrawal failed\nDetails: card 1234")
		if err != nil || left.TicketID != "T-1" || len(tickets.opened) != 1 || tickets.opened[0] != "alice|Withdrawal failed|Withdrawal failed\nDetails: card 1234" {
			t.Fatalf("left: %+v %v %v", left, err, tickets.opened)
		}
		// Without a ticket system the message is kept for agents.
		s2 := newService(t, d, false, nil)
		left, err = s2.LeaveMessage(ctx, bob, "please call me")
		if err != nil || left.ChatID == "" {
			t.Fatal(err)
		}
		list, _ := s2.Recent(ctx, agent, chat.StatusLeft, 10)
		if len(list) != 1 || list[0].CustomerID != "bob" {
			t.Fatalf("left messages: %+v", list)
		}
	})
}

// pipe is an in-memory Conn: the test reads what the server writes and writes frames in.
type pipe struct {
	in  chan []byte
	out chan []byte
}

func newPipe() *pipe { return &pipe{in: make(chan []byte, 16), out: make(chan []byte, 256)} }

func (p *pipe) Read(ctx context.Context) ([]byte, error) {
	select {
	case b, ok := <-p.in:
		if !ok {
			return nil, errors.New("closed")
		}
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pipe) Write(ctx context.Context, b []byte) error {
	select {
	case p.out <- append([]byte(nil), b...):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pipe) send(t *testing.T, v map[string]any) {
	b, _ := json.Marshal(v)
	p.in <- b
}

// expect reads frames until one of type typ arrives (skipping others) and returns it.
func (p *pipe) expect(t *testing.T, typ string) chat.ServerMsg {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case b := <-p.out:
			var m chat.ServerMsg
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if m.Type == typ {
				return m
			}
		case <-deadline:
			t.Fatalf("no %q frame", typ)
		}
	}
}

// openEngine opens a migrated database and returns the URL the chat listener needs.
func openEngine(t *testing.T, e db.Engine) (*db.DB, string) {
	if e == db.SQLite {
		return dbtest.Open(t, e, nil), ""
	}
	u := dbtest.NewSchema(t)
	d, err := db.Open(context.Background(), db.Config{URL: u, Clock: dbtest.NewClock()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d, u
}

func TestSessionProtocol(t *testing.T) {
	for _, e := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(e), func(t *testing.T) { testSession(t, e) })
	}
}

func testSession(t *testing.T, e db.Engine) {
	{
		d, u := openEngine(t, e)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := chat.New(d, chat.Config{OpenNow: func(time.Time) bool { return true }, ListenURL: u})
		go s.Run(ctx)
		<-s.Listening()
		cust, ag := newPipe(), newPipe()
		done := make(chan error, 2)
		go func() { done <- s.Serve(ctx, cust, alice) }()
		go func() { done <- s.Serve(ctx, ag, agent) }()
		if h := cust.expect(t, "hello"); h.Chat != nil || h.OpenNow == nil || !*h.OpenNow {
			t.Fatalf("customer hello: %+v", h)
		}
		ag.expect(t, "hello")
		cust.send(t, map[string]any{"type": "start", "body": "help please"})
		if q := cust.expect(t, "queue_position"); q.Position == nil || *q.Position != 1 {
			t.Fatalf("position: %+v", q)
		}
		m := cust.expect(t, "message")
		q := ag.expect(t, "queue")
		if len(q.Queue) != 1 || q.Queue[0].ChatID != m.ChatID {
			t.Fatalf("agent queue: %+v", q)
		}
		ag.send(t, map[string]any{"type": "pickup", "chat_id": m.ChatID})
		ag.expect(t, "assigned")
		if a := cust.expect(t, "assigned"); a.AgentID != agent.ID {
			t.Fatalf("assigned: %+v", a)
		}
		ag.send(t, map[string]any{"type": "typing", "chat_id": m.ChatID})
		if ty := cust.expect(t, "typing"); ty.From != "agent" {
			t.Fatalf("typing: %+v", ty)
		}
		ag.send(t, map[string]any{"type": "message", "chat_id": m.ChatID, "body": "hello from agent"})
		for {
			got := cust.expect(t, "message")
			if got.From == "agent" {
				if got.Body != "hello from agent" || got.Seq != 3 {
					t.Fatalf("agent message: %+v", got)
				}
				break
			}
		}
		cust.send(t, map[string]any{"type": "message", "body": "thanks"})
		for {
			got := ag.expect(t, "message")
			if got.From == "customer" && got.Body == "thanks" {
				break
			}
		}
		cust.send(t, map[string]any{"type": "bogus"})
		if e := cust.expect(t, "error"); e.Code != apperr.CodeBadRequest {
			t.Fatalf("bogus: %+v", e)
		}
		cust.send(t, map[string]any{"type": "close"})
		if c := ag.expect(t, "closed"); c.By != "customer" {
			t.Fatalf("closed: %+v", c)
		}
		cust.expect(t, "closed")
		cancel()
		for range 2 {
			if err := <-done; !errors.Is(err, context.Canceled) && !errors.Is(err, chat.ErrShutdown) {
				t.Fatalf("serve: %v", err)
			}
		}
	}
}

func TestRateLimitAndBadFrames(t *testing.T) {
	d := dbtest.Open(t, db.SQLite, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newService(t, d, true, nil)
	p := newPipe()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, p, alice) }()
	p.expect(t, "hello")
	for range 15 {
		p.send(t, map[string]any{"type": "hello"})
	}
	if e := p.expect(t, "error"); e.Code != apperr.CodeRateLimited {
		t.Fatalf("no rate limit: %+v", e)
	}
	for range 30 {
		p.in <- []byte("not json")
	}
	select {
	case err := <-done:
		if !errors.Is(err, chat.ErrPolicy) {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("misbehaving client not disconnected")
	}
}

// framesUntil reads frames until one of type typ arrives and returns it with the frames
// read before it, so a test can check what came first.
func (p *pipe) framesUntil(t *testing.T, typ string) (chat.ServerMsg, []chat.ServerMsg) {
	t.Helper()
	var before []chat.ServerMsg
	deadline := time.After(10 * time.Second)
	for {
		select {
		case b := <-p.out:
			var m chat.ServerMsg
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if m.Type == typ {
				return m, before
			}
			before = append(before, m)
		case <-deadline:
			t.Fatalf("no %q frame; had %+v", typ, before)
		}
	}
}

// A customer's client learns its chat from the answer to "start", before the chat's first
// message, so it can show that message and send the next ones to the same chat; a chat
// started after the last one ended is told too, with its place in the queue even when that
// place is the one the last chat had.
func TestStartTellsTheCustomerTheirChat(t *testing.T) {
	d := dbtest.Open(t, db.SQLite, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newService(t, d, true, nil)
	p := newPipe()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, p, alice) }()
	if h := p.expect(t, "hello"); h.Chat != nil {
		t.Fatalf("hello with a chat: %+v", h)
	}
	started := func(body string) string {
		t.Helper()
		p.send(t, map[string]any{"type": "start", "body": body})
		st, before := p.framesUntil(t, "started")
		for _, m := range before {
			if m.Type == "message" {
				t.Fatalf("message %+v came before the chat was named", m)
			}
		}
		if st.ChatID == "" || st.Chat == nil || st.Chat.ID != st.ChatID || st.Chat.Status != chat.StatusQueued {
			t.Fatalf("started: %+v", st)
		}
		if q := p.expect(t, "queue_position"); q.ChatID != st.ChatID || q.Position == nil || *q.Position != 1 || q.ExpectedWaitSeconds == nil {
			t.Fatalf("place in the queue: %+v", q)
		}
		if m := p.expect(t, "message"); m.ChatID != st.ChatID || m.Seq != 1 || m.From != chat.FromCustomer || m.Body != body {
			t.Fatalf("first message %+v of chat %s", m, st.ChatID)
		}
		return st.ChatID
	}
	first := started("My withdrawal failed")
	p.send(t, map[string]any{"type": "message", "chat_id": first, "body": "It was 100 CNY"})
	if m := p.expect(t, "message"); m.ChatID != first || m.Seq != 2 || m.Body != "It was 100 CNY" {
		t.Fatalf("second message: %+v", m)
	}
	p.send(t, map[string]any{"type": "close", "chat_id": first})
	p.expect(t, "closed")
	if second := started("Another question"); second == first {
		t.Fatalf("a new chat after the last ended reused %s", first)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("serve: %v", err)
	}
}
