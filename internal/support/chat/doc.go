// Package chat owns live chat between customers and support agents: chats and their
// numbered messages in the database, the queue (position and expected wait from recent
// pickups), pickup by an agent, typing and read indicators, transcripts by email, and the
// "leave a message" path outside service hours, which becomes a ticket through a
// TicketOpener. It knows nothing of HTTP: the web layer accepts the WebSocket (origin check,
// session cookie, frame size, keepalive) and hands Serve a Conn that reads and writes
// whole JSON text frames.
//
// # Several nodes
//
// A customer and the agent may be connected to different nodes on one PostgreSQL. Every
// change is written to the database first; the transaction also runs pg_notify on one
// channel with a tiny payload (chat id and message seq, or an event kind), delivered at
// commit. Each node keeps one dedicated connection LISTENing (Service.Run) and passes the
// notification to its local sessions, which read the rows themselves — so a message's
// content never travels in a notification, order is by seq, and a session that missed a
// notification (a full buffer, a dropped listener connection) re-reads everything after
// the last seq it delivered. On SQLite, a single node, the same events go straight to an
// in-process fan-out after commit.
//
// # Protocol
//
// Every frame is one JSON object with a "type". The server speaks first.
//
// Client → server:
//
//	{"type":"hello","last_seq":12}            ask again for the current state; messages after last_seq
//	{"type":"start","body":"My withdrawal…"}  customer: open a chat with a first message
//	{"type":"message","chat_id":"…","body":"…","ref":"c1"}  say something (customers may omit chat_id)
//	{"type":"typing","chat_id":"…"}           I am typing (throttled, never stored)
//	{"type":"read","chat_id":"…","seq":14}    I have read up to seq
//	{"type":"pickup","chat_id":"…"}           agent: take a queued chat
//	{"type":"close","chat_id":"…"}            end the chat (either side)
//	{"type":"transcript","chat_id":"…"}       customer: email me the transcript
//
// Server → client:
//
//	{"type":"hello","role":"customer","chat":{…}|null,"messages":[…],"open_now":true,
//	  "queue_position":2,"expected_wait_seconds":240,"queue":[…],"chats":[…]}
//	{"type":"started","chat_id":"…","chat":{…}}  customer: the chat a "start" (or a message without chat_id) went to, before its messages
//	{"type":"message","chat_id":"…","seq":13,"from":"customer|agent|system","body":"…","at":"…"}
//	{"type":"typing","chat_id":"…","from":"agent"}
//	{"type":"read","chat_id":"…","seq":13,"by":"agent"}
//	{"type":"queue_position","chat_id":"…","position":1,"expected_wait_seconds":120}
//	{"type":"queue","queue":[{"chat_id":"…","position":1,"waiting_since":"…","preview":"…"}]}  agents
//	{"type":"assigned","chat_id":"…","agent_id":"…"}
//	{"type":"closed","chat_id":"…","by":"customer|agent"}
//	{"type":"transcript_sent","chat_id":"…"}
//	{"type":"error","code":"chat_offline","message":"…","fix":"…","ref":"c1"}
//
// Messages a client sends come back to it as "message" frames with their seq, in order with
// everyone else's; "ref" is echoed only on errors. A customer's client learns the id of a
// chat it starts only from "started", and needs it to tell that chat's frames apart and to
// send the next lines to the same chat. After a reconnect the server's hello is followed by
// the chat's messages from the first; a client skips those up to the last seq it showed.
// Errors of one request (rate_limited, chat_closed, validation_failed, …) do not end the
// connection; a client that keeps breaking the rate limit, or sends frames that are not
// JSON, is disconnected.
package chat
