package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"okpay/internal/db/dbtest"
	"okpay/internal/identity"
	"okpay/internal/server"
	"okpay/internal/support/chat"
)

// newNode starts one node on the shared database URL (PostgreSQL) or its own folder.
func newNode(t *testing.T, dbURL string) *server.App {
	t.Helper()
	cfg := server.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	cfg.SecretKey = strings.Repeat("cd", 32)
	ctx, cancel := context.WithCancel(context.Background())
	app, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatalf("new node: %v", err)
	}
	if err := app.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("node did not shut down (open chat connections?)")
		}
	})
	return app
}

// session creates a user through the identity service and signs them in, returning the
// session cookie value.
func session(t *testing.T, app *server.App, email string, role identity.Role) string {
	t.Helper()
	ctx := context.Background()
	if _, err := app.Identity.CreateUser(ctx, identity.CreateUserInput{Email: email, Password: "Chat#Pass2026x", Lang: "en", Role: role, Verified: true}); err != nil {
		t.Fatal(err)
	}
	in, err := app.Identity.SignIn(ctx, identity.SignInInput{Email: email, Password: "Chat#Pass2026x"}, identity.Client{IP: "127.0.0.1", UserAgent: "test"})
	if err != nil || in.Token == "" {
		t.Fatalf("sign in %s: %+v %v", email, in, err)
	}
	return in.Token
}

type wsClient struct {
	t *testing.T
	c *websocket.Conn
	// held keeps frames skipped while waiting for another type, so none is lost.
	held []chat.ServerMsg
}

func dialChat(t *testing.T, app *server.App, path, token, origin string) (*wsClient, *http.Response, error) {
	h := http.Header{}
	h.Set("Cookie", "okpay_session="+token)
	if origin != "" {
		h.Set("Origin", origin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws://"+app.Addr()+path, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: t, c: c}, resp, nil
}

func (w *wsClient) send(v map[string]any) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, b); err != nil {
		w.t.Fatal(err)
	}
}

// next returns the next frame of type typ; frames of other types are held for later.
func (w *wsClient) next(typ string) chat.ServerMsg {
	w.t.Helper()
	for i, m := range w.held {
		if m.Type == typ {
			w.held = append(w.held[:i], w.held[i+1:]...)
			return m
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		_, b, err := w.c.Read(ctx)
		if err != nil {
			w.t.Fatalf("waiting for %q: %v", typ, err)
		}
		var m chat.ServerMsg
		if err := json.Unmarshal(b, &m); err != nil {
			w.t.Fatal(err)
		}
		if m.Type == typ {
			return m
		}
		w.held = append(w.held, m)
	}
}

// messages reads n "message" frames of one chat and returns "from:body" in order,
// checking that seqs increase by one.
func (w *wsClient) messages(n int, last *int64) []string {
	w.t.Helper()
	var out []string
	for len(out) < n {
		m := w.next("message")
		if m.Seq != *last+1 {
			w.t.Fatalf("seq %d after %d (%s: %s)", m.Seq, *last, m.From, m.Body)
		}
		*last = m.Seq
		out = append(out, m.From+":"+m.Body)
	}
	return out
}

// The acceptance test of live chat across nodes: two okpay nodes on one PostgreSQL, the
// customer on node 1, the agent on node 2; messages both ways arrive in order, with typing.
func TestLiveChatAcrossTwoNodes(t *testing.T) {
	relaxed(t)
	t.Cleanup(server.SetChatOpenNow(func(time.Time) bool { return true }))
	u := dbtest.NewSchema(t)
	n1 := newNode(t, u)
	n2 := newNode(t, u)
	custTok := session(t, n1, "chat-customer@example.com", identity.RoleCustomer)
	agentTok := session(t, n2, "chat-agent@example.com", identity.RoleAgent)

	cust, _, err := dialChat(t, n1, "/chat/ws", custTok, n1.URL())
	if err != nil {
		t.Fatal(err)
	}
	agent, _, err := dialChat(t, n2, "/agent/chat/ws", agentTok, n2.URL())
	if err != nil {
		t.Fatal(err)
	}
	cust.next("hello")
	agent.next("hello")

	cust.send(map[string]any{"type": "start", "body": "My withdrawal failed"})
	if p := cust.next("queue_position"); p.Position == nil || *p.Position != 1 {
		t.Fatalf("queue position: %+v", p)
	}
	var custSeq, agentSeq int64
	first := cust.messages(1, &custSeq)
	q := agent.next("queue") // from node 1 through NOTIFY
	if len(q.Queue) != 1 || q.Queue[0].Preview != "My withdrawal failed" {
		t.Fatalf("agent queue on node 2: %+v", q)
	}
	chatID := q.Queue[0].ChatID
	agent.send(map[string]any{"type": "pickup", "chat_id": chatID})
	agent.next("assigned")
	if a := cust.next("assigned"); a.ChatID != chatID {
		t.Fatalf("assigned: %+v", a)
	}
	got := agent.messages(2, &agentSeq) // the customer's first message and "agent joined"

	agent.send(map[string]any{"type": "typing", "chat_id": chatID})
	if ty := cust.next("typing"); ty.From != "agent" {
		t.Fatalf("typing on node 1: %+v", ty)
	}
	cust.send(map[string]any{"type": "typing"})
	if ty := agent.next("typing"); ty.From != "customer" {
		t.Fatalf("typing on node 2: %+v", ty)
	}

	// Interleaved bursts from both sides, each on its own node.
	for i := 0; i < 5; i++ {
		agent.send(map[string]any{"type": "message", "chat_id": chatID, "body": "agent " + string(rune('a'+i))})
		cust.send(map[string]any{"type": "message", "body": "customer " + string(rune('a'+i))})
	}
	custView := append(first, cust.messages(11, &custSeq)...)
	agentView := append(got, agent.messages(10, &agentSeq)...)
	if strings.Join(custView, "|") != strings.Join(agentView, "|") {
		t.Fatalf("the two nodes disagree on the order:\n%v\n%v", custView, agentView)
	}
	for _, side := range []string{"agent", "customer"} {
		var seen []string
		for _, l := range custView {
			if strings.HasPrefix(l, side+":") {
				seen = append(seen, l)
			}
		}
		want := []string{}
		if side == "customer" {
			want = append(want, "customer:My withdrawal failed")
		}
		for i := 0; i < 5; i++ {
			want = append(want, side+":"+side+" "+string(rune('a'+i)))
		}
		if strings.Join(seen, "|") != strings.Join(want, "|") {
			t.Fatalf("%s's messages out of order: %v", side, seen)
		}
	}

	// The agent ends the chat; the customer on the other node hears it.
	agent.send(map[string]any{"type": "close", "chat_id": chatID})
	if c := cust.next("closed"); c.By != "agent" {
		t.Fatalf("closed: %+v", c)
	}
	// The history is readable later from either node.
	req, _ := http.NewRequest("GET", n2.URL()+"/api/v1/chats/"+chatID+"/messages", nil)
	req.AddCookie(&http.Cookie{Name: "okpay_session", Value: custTok})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var hist struct{ Messages []chat.Message }
	json.NewDecoder(resp.Body).Decode(&hist)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(hist.Messages) != 13 {
		t.Fatalf("history: %d %d", resp.StatusCode, len(hist.Messages))
	}
}

func TestChatWebSocketRefusesOtherOrigins(t *testing.T) {
	relaxed(t)
	app := newNode(t, "")
	tok := session(t, app, "origin@example.com", identity.RoleCustomer)
	for _, origin := range []string{"https://evil.example", ""} {
		_, resp, err := dialChat(t, app, "/chat/ws", tok, origin)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("origin %q: err=%v resp=%v", origin, err, resp)
		}
	}
	// No session: refused even from the right origin.
	if _, resp, err := dialChat(t, app, "/chat/ws", "nonsense", app.URL()); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous: %v %v", err, resp)
	}
	// A customer cannot open the agent endpoint.
	if _, resp, err := dialChat(t, app, "/agent/chat/ws", tok, app.URL()); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("customer on agent endpoint: %v %v", err, resp)
	}
	// The right origin works.
	c, _, err := dialChat(t, app, "/chat/ws", tok, app.URL())
	if err != nil {
		t.Fatal(err)
	}
	c.next("hello")
}
