package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/notify"
	"okpay/internal/support/chat"
	"okpay/internal/support/notice"
)

// SupportLive is what the live-support pages need: chat, announcements and the inbox. Each
// may be nil, which leaves its pages out.
type SupportLive struct {
	Chat    *chat.Service
	Notices *notice.Service
	Inbox   *notify.Inbox
}

func init() {
	addFeature(func(u *UI, mux *http.ServeMux) {
		sl := u.cfg.Support
		if sl == nil {
			return
		}
		if sl.Chat != nil {
			u.chatRoutes(mux)
		}
		if sl.Notices != nil {
			u.noticeRoutes(mux)
		}
		if sl.Inbox != nil {
			u.inboxRoutes(mux)
		}
	})
}

func (u *UI) chatRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /chat/ws", u.chatWS(false))
	mux.HandleFunc("GET /agent/chat/ws", u.chatWS(true))
	mux.HandleFunc("GET /chat", u.signedIn(u.chatList))
	mux.HandleFunc("GET /chat/{id}", u.signedIn(u.chatTranscript))
	mux.Handle("POST /chat/{id}/email", u.post(u.signedIn(u.chatEmail)))
	mux.Handle("POST /chat/leave", u.post(u.signedIn(u.chatLeave)))
	mux.HandleFunc("GET /agent/chat", u.signedIn(u.agentChat))
}

func participant(p *authn.Principal, r *http.Request) chat.Participant {
	lang := httpx.Lang(r.Context())
	return chat.Participant{ID: p.User.ID, Role: string(p.User.Role), Lang: lang}
}

// Keepalive: a ping every pingEvery; a peer that does not answer within pingTimeout is
// gone (a phone that lost its network never sends a close frame).
const (
	pingEvery   = 25 * time.Second
	pingTimeout = 10 * time.Second
)

// sameOrigin reports whether the WebSocket handshake comes from a page of this site.
// Browsers always send Origin on WebSocket requests and cookies ride along whatever the
// origin, so without this check any site could chat as the signed-in user
// (cross-site WebSocket hijacking). A missing Origin is refused too.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	ou, err := url.Parse(o)
	if err != nil {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return ou.Scheme == scheme && strings.EqualFold(ou.Host, r.Host)
}

// wsConn adapts a WebSocket to chat.Conn: text frames only.
type wsConn struct{ c *websocket.Conn }

func (w wsConn) Read(ctx context.Context) ([]byte, error) {
	typ, b, err := w.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, errors.New("chat: binary frame")
	}
	return b, nil
}

func (w wsConn) Write(ctx context.Context, b []byte) error {
	return w.c.Write(ctx, websocket.MessageText, b)
}

// chatWS upgrades to the chat protocol: same origin only, signed in by the session cookie
// (staff for the agent endpoint), frames limited to chat.MaxFrameBytes, pinged for
// liveness, closed with a status that says why.
func (u *UI) chatWS(agent bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r) {
			httpx.WriteError(w, r, apperr.New(apperr.CodeCrossOrigin))
			return
		}
		p, err := authn.User(r.Context())
		if err == nil && p.Session == nil {
			err = apperr.New(apperr.CodeUnauthenticated)
		}
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		part := participant(p, r)
		if agent != part.Staff() {
			// Staff use the console, customers the widget: one role per endpoint keeps the
			// protocol's meaning of "message" unambiguous.
			httpx.WriteError(w, r, apperr.New(apperr.CodeForbidden))
			return
		}
		// Origin is checked above (stricter than the library: a missing Origin is refused).
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			u.log.Warn("chat: websocket accept", "request_id", httpx.RequestID(r.Context()), "err", err.Error())
			return
		}
		c.SetReadLimit(chat.MaxFrameBytes)
		// The request's context is not cancelled for a hijacked connection on shutdown;
		// chat.Serve watches the service's own shutdown signal.
		ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
		defer cancel()
		go func() {
			t := time.NewTicker(pingEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					pctx, pcancel := context.WithTimeout(ctx, pingTimeout)
					err := c.Ping(pctx)
					pcancel()
					if err != nil {
						cancel()
						return
					}
				}
			}
		}()
		err = u.cfg.Support.Chat.Serve(ctx, wsConn{c}, part)
		switch {
		case errors.Is(err, chat.ErrShutdown):
			c.Close(websocket.StatusGoingAway, "server restarting")
		case errors.Is(err, chat.ErrPolicy):
			c.Close(websocket.StatusPolicyViolation, "too many bad or fast frames")
		case websocket.CloseStatus(err) != -1:
			c.Close(websocket.StatusNormalClosure, "")
		case errors.Is(err, context.Canceled):
			c.CloseNow()
		default:
			if err != nil && !isNetClose(err) {
				u.log.Warn("chat: session ended", "request_id", httpx.RequestID(r.Context()), "err", err.Error())
			}
			c.Close(websocket.StatusInternalError, "")
		}
	}
}

func isNetClose(err error) bool {
	s := err.Error()
	return strings.Contains(s, "EOF") || strings.Contains(s, "closed") || strings.Contains(s, "reset by peer")
}

type chatListPage struct {
	Chats []chat.Chat
}

func (u *UI) chatList(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	cs, err := u.cfg.Support.Chat.ListMine(r.Context(), participant(p, r), 50)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	u.Render(w, r, http.StatusOK, "chat-list", chatListPage{Chats: cs})
}

type chatLine struct {
	Seq    int64
	From   string
	Body   string
	At     time.Time
	System bool
}

type chatTranscriptPage struct {
	Chat     *chat.Chat
	Lines    []chatLine
	Customer bool
	Sent     bool
}

func (u *UI) chatTranscript(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	part := participant(p, r)
	ctx := r.Context()
	c, err := u.cfg.Support.Chat.Get(ctx, part, r.PathValue("id"))
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	page := chatTranscriptPage{Chat: c, Customer: c.CustomerID == part.ID, Sent: r.URL.Query().Get("done") == "emailed"}
	var after int64
	for range chat.MaxTranscriptMessages / chat.MaxPage {
		msgs, err := u.cfg.Support.Chat.Messages(ctx, part, c.ID, after, chat.MaxPage)
		if err != nil {
			u.RenderError(w, r, err)
			return
		}
		for _, m := range msgs {
			l := chatLine{Seq: m.Seq, From: m.From, Body: m.Body, At: m.At, System: m.From == chat.FromSystem}
			if l.System {
				l.Body = chat.SystemText(m.Body, part.Lang)
			}
			page.Lines = append(page.Lines, l)
			after = m.Seq
		}
		if len(msgs) < chat.MaxPage {
			break
		}
	}
	u.Render(w, r, http.StatusOK, "chat-transcript", page)
}

func (u *UI) chatEmail(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	id := r.PathValue("id")
	if err := u.cfg.Support.Chat.EmailTranscript(r.Context(), participant(p, r), id); err != nil {
		u.RenderError(w, r, err)
		return
	}
	http.Redirect(w, r, "/chat/"+url.PathEscape(id)+"?done=emailed", http.StatusSeeOther)
}

type chatLeftPage struct {
	Left *chat.LeftMessage
}

func (u *UI) chatLeave(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	left, err := u.cfg.Support.Chat.LeaveMessage(r.Context(), participant(p, r), r.PostForm.Get("body"))
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	u.Render(w, r, http.StatusOK, "chat-left", chatLeftPage{Left: left})
}

type agentChatPage struct {
	Recent []chat.Chat
	Left   []chat.Chat
}

func (u *UI) agentChat(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
	part := participant(p, r)
	recent, err := u.cfg.Support.Chat.Recent(r.Context(), part, "", 30)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	left, err := u.cfg.Support.Chat.Recent(r.Context(), part, chat.StatusLeft, 30)
	if err != nil {
		u.RenderError(w, r, err)
		return
	}
	u.Render(w, r, http.StatusOK, "chat-agent", agentChatPage{Recent: recent, Left: left})
}

// chatWidgetKeys are the strings chat.js shows, handed to it as JSON in a data attribute
// (no inline script under the CSP).
var chatWidgetKeys = []string{"chat.w.launch", "chat.w.title", "chat.w.close", "chat.w.placeholder", "chat.w.send",
	"chat.w.start", "chat.w.queue", "chat.w.assigned", "chat.w.typing", "chat.w.ended", "chat.w.offline",
	"chat.w.leave", "chat.w.leave_send", "chat.w.signin", "chat.w.reconnecting", "chat.w.end", "chat.w.transcript",
	"chat.w.you", "chat.w.agent", "chat.w.history", "chat.w.error", "chat.w.transcript_sent", "chat.w.new"}

// ChatWidget is the JSON configuration of the chat launcher for layout.html, or "" when
// live chat is not served. Staff get none: they answer from the console.
func (v *View) ChatWidget() string {
	if v.ui == nil || v.ui.cfg.Support == nil || v.ui.cfg.Support.Chat == nil {
		return ""
	}
	if v.User != nil && (v.User.Role == "agent" || v.User.Role == "admin") {
		return ""
	}
	t := map[string]string{}
	for _, k := range chatWidgetKeys {
		t[strings.TrimPrefix(k, "chat.w.")] = v.T(k)
	}
	cfg := map[string]any{"signedIn": v.User != nil, "ws": "/chat/ws", "signin": "/signin?next=" + url.QueryEscape(v.Next), "t": t}
	b, _ := json.Marshal(cfg)
	return string(b)
}
