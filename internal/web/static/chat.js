// Live chat widget: a "Chat with us" launcher on every page that opens a panel speaking the
// chat protocol (see internal/support/chat) over a WebSocket to /chat/ws. It reconnects
// with backoff; the server's hello on the new connection is followed by the chat's
// messages, and the widget shows only those after the last one it showed.
(function () {
  "use strict";
  var root = document.getElementById("chat-widget");
  if (!root || !window.WebSocket) { return; }
  var cfg = JSON.parse(root.getAttribute("data-config"));
  var t = cfg.t;
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  var launch = el("button", "", t.launch);
  launch.id = "chat-launch";
  launch.type = "button";
  root.appendChild(launch);
  if (!cfg.signedIn) {
    launch.addEventListener("click", function () { window.location.href = cfg.signin; });
    launch.title = t.signin;
    return;
  }
  var panel = el("section");
  panel.id = "chat-panel";
  panel.hidden = true;
  panel.setAttribute("aria-label", t.title);
  var head = el("div", "chat-head");
  head.appendChild(el("span", "", t.title));
  var min = el("button", "", "×");
  min.type = "button";
  min.setAttribute("aria-label", t.close);
  head.appendChild(min);
  var status = el("div", "chat-status", t.start);
  status.id = "chat-status";
  status.setAttribute("aria-live", "polite");
  var log = el("div", "chat-log");
  log.id = "chat-log";
  var typing = el("div", "chat-typing");
  typing.id = "chat-typing";
  var form = el("form", "chat-form");
  var input = el("textarea");
  input.id = "chat-input";
  input.maxLength = 2000;
  input.rows = 1;
  input.placeholder = t.placeholder;
  input.setAttribute("aria-label", t.placeholder);
  var send = el("button", "", t.send);
  send.type = "submit";
  send.id = "chat-send";
  form.appendChild(input);
  form.appendChild(send);
  var actions = el("div", "chat-actions");
  var endBtn = el("button", "", t.end);
  endBtn.type = "button";
  endBtn.id = "chat-end";
  var mailBtn = el("button", "", t.transcript);
  mailBtn.type = "button";
  mailBtn.id = "chat-transcript";
  var hist = el("a", "", t.history);
  hist.href = "/chat";
  actions.appendChild(endBtn);
  actions.appendChild(mailBtn);
  actions.appendChild(hist);
  [head, status, log, typing, form, actions].forEach(function (x) { panel.appendChild(x); });
  root.appendChild(panel);

  var ws = null, chatId = "", lastSeq = 0, lastChat = "", offline = false, retry = 0, typingTimer = 0, lastTypingSent = 0;
  function show(open) {
    panel.hidden = !open;
    launch.hidden = open;
    if (open) { connect(); input.focus(); }
  }
  launch.addEventListener("click", function () { show(true); });
  min.addEventListener("click", function () { show(false); });
  function line(from, body) {
    var mine = from === "customer";
    var m = el("div", "chat-msg" + (mine ? " mine" : "") + (from === "system" ? " system" : ""), body);
    m.setAttribute("data-from", from);
    log.appendChild(m);
    log.scrollTop = log.scrollHeight;
  }
  function setStatus(s) { status.textContent = s; }
  function sendFrame(o) { if (ws && ws.readyState === 1) { ws.send(JSON.stringify(o)); return true; } return false; }
  function connect() {
    if (ws) { return; }
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(proto + location.host + cfg.ws);
    ws.onopen = function () { retry = 0; };
    ws.onmessage = function (ev) { handle(JSON.parse(ev.data)); };
    ws.onclose = function () {
      ws = null;
      if (panel.hidden) { return; }
      setStatus(t.reconnecting);
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 500 * Math.pow(2, retry));
    };
  }
  function queueText(pos, secs) {
    return t.queue.replace("{position}", pos).replace("{minutes}", Math.max(1, Math.round((secs || 0) / 60)));
  }
  function handle(m) {
    switch (m.type) {
    case "hello":
      offline = !m.open_now && !m.chat;
      if (m.chat) {
        if (m.chat.id !== chatId) { log.textContent = ""; lastSeq = 0; }
        chatId = m.chat.id;
        lastChat = chatId;
        // No hello back: the server answers a hello with a hello, so answering it again
        // would bounce between the two until the rate limit refused one and showed its
        // error. The messages after this frame bring the log up to date by seq.
        setStatus(m.chat.status === "queued" ? queueText(m.queue_position, m.expected_wait_seconds) : t.assigned);
      } else {
        // No chat in progress: one the widget was showing ended while the connection was
        // down, and the next line starts a new chat instead of going to the ended one.
        var ended = chatId !== "";
        chatId = "";
        lastSeq = 0;
        setStatus(offline ? t.offline : ended ? t.ended : t.start);
        send.textContent = offline ? t.leave_send : t.send;
      }
      break;
    case "started":
      // The answer to "start" names the chat, before its first message. Only the server
      // knows the id, so without it every message of the chat (this customer's own too)
      // would be taken for another chat's, and every later line would start a new chat.
      if (m.chat_id !== chatId) { log.textContent = ""; lastSeq = 0; }
      chatId = m.chat_id;
      lastChat = chatId;
      offline = false;
      send.textContent = t.send;
      if (m.chat && m.chat.status === "active") { setStatus(t.assigned); }
      break;
    case "message":
      if (m.chat_id !== chatId || m.seq <= lastSeq) { return; }
      lastSeq = m.seq;
      line(m.from, m.body);
      if (m.from !== "customer") { typing.textContent = ""; sendFrame({type: "read", chat_id: chatId, seq: m.seq}); }
      break;
    case "queue_position":
      if (m.chat_id !== chatId) { return; }
      setStatus(queueText(m.position, m.expected_wait_seconds));
      break;
    case "assigned":
      if (m.chat_id !== chatId) { return; }
      setStatus(t.assigned);
      break;
    case "typing":
      typing.textContent = t.agent + " " + t.typing;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { typing.textContent = ""; }, 4000);
      break;
    case "closed":
      if (m.chat_id !== chatId) { return; }
      setStatus(t.ended);
      chatId = "";
      lastSeq = 0;
      break;
    case "transcript_sent":
      setStatus(t.transcript_sent);
      break;
    case "error":
      if (m.code === "chat_offline" || m.code === "chat_queue_full") {
        offline = true;
        send.textContent = t.leave_send;
      }
      setStatus(m.message + (m.fix ? " " + m.fix : ""));
      break;
    }
  }
  function leaveMessage(body) {
    // Outside hours the message becomes a ticket through a normal form post (CSRF-checked
    // by origin like every form).
    var f = document.createElement("form");
    f.method = "post";
    f.action = "/chat/leave";
    var b = document.createElement("input");
    b.type = "hidden";
    b.name = "body";
    b.value = body;
    f.appendChild(b);
    document.body.appendChild(f);
    f.submit();
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var body = input.value.trim();
    if (!body) { return; }
    if (offline && !chatId) { leaveMessage(body); return; }
    if (sendFrame(chatId ? {type: "message", chat_id: chatId, body: body} : {type: "start", body: body})) { input.value = ""; }
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : send.click(); }
  });
  input.addEventListener("input", function () {
    var now = Date.now();
    if (chatId && now - lastTypingSent > 2000) { lastTypingSent = now; sendFrame({type: "typing", chat_id: chatId}); }
  });
  endBtn.addEventListener("click", function () { if (chatId) { sendFrame({type: "close", chat_id: chatId}); } });
  mailBtn.addEventListener("click", function () { if (lastChat) { sendFrame({type: "transcript", chat_id: lastChat}); } });
}());
