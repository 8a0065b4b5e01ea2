// Agent console for live chat: the queue, pick up, and one pane per chat held, over the
// chat protocol on /agent/chat/ws. Strings come from data attributes (no inline script).
(function () {
  "use strict";
  var root = document.getElementById("agent-console");
  if (!root || !window.WebSocket) { return; }
  var d = root.dataset, queueEl = document.getElementById("agent-queue"), panes = document.getElementById("agent-chats");
  var ws = null, retry = 0, chats = {}, lastTyping = 0;
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function send(o) { if (ws && ws.readyState === 1) { ws.send(JSON.stringify(o)); } }
  function renderQueue(q) {
    queueEl.textContent = "";
    if (!q || !q.length) { queueEl.appendChild(el("li", "muted", d.tEmpty)); return; }
    q.forEach(function (e) {
      var li = el("li", "", e.preview + " ");
      li.setAttribute("data-chat", e.chat_id);
      var b = el("button", "", d.tPickup);
      b.type = "button";
      b.className = "pickup";
      b.addEventListener("click", function () { send({type: "pickup", chat_id: e.chat_id}); });
      li.appendChild(b);
      queueEl.appendChild(li);
    });
  }
  function pane(id) {
    if (chats[id]) { return chats[id]; }
    var p = el("div", "agent-chat");
    p.setAttribute("data-chat", id);
    var head = el("div", "chat-head", d.tCustomer + " · " + id.slice(0, 8));
    var log = el("div", "chat-log"), typing = el("div", "chat-typing");
    var form = el("form", "chat-form"), input = el("textarea"), b = el("button", "", d.tSend);
    input.placeholder = d.tPlaceholder;
    input.setAttribute("aria-label", d.tPlaceholder);
    input.maxLength = 2000;
    b.type = "submit";
    form.appendChild(input);
    form.appendChild(b);
    var end = el("button", "", d.tClose);
    end.type = "button";
    var actions = el("div", "chat-actions");
    actions.appendChild(end);
    [head, log, typing, form, actions].forEach(function (x) { p.appendChild(x); });
    panes.appendChild(p);
    var c = {el: p, log: log, typing: typing, seq: 0, input: input, timer: 0};
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = input.value.trim();
      if (body) { send({type: "message", chat_id: id, body: body}); input.value = ""; }
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); b.click(); }
    });
    input.addEventListener("input", function () {
      var now = Date.now();
      if (now - lastTyping > 2000) { lastTyping = now; send({type: "typing", chat_id: id}); }
    });
    end.addEventListener("click", function () { send({type: "close", chat_id: id}); });
    chats[id] = c;
    return c;
  }
  function handle(m) {
    var c;
    switch (m.type) {
    case "hello":
      renderQueue(m.queue);
      (m.chats || []).forEach(function (x) { pane(x.id); });
      break;
    case "queue":
      renderQueue(m.queue);
      break;
    case "assigned":
      pane(m.chat_id);
      break;
    case "message":
      c = pane(m.chat_id);
      if (m.seq <= c.seq) { return; }
      c.seq = m.seq;
      var line = el("div", "chat-msg" + (m.from === "agent" ? " mine" : "") + (m.from === "system" ? " system" : ""), m.body);
      line.setAttribute("data-from", m.from);
      c.log.appendChild(line);
      c.log.scrollTop = c.log.scrollHeight;
      if (m.from === "customer") { c.typing.textContent = ""; send({type: "read", chat_id: m.chat_id, seq: m.seq}); }
      break;
    case "typing":
      c = pane(m.chat_id);
      c.typing.textContent = d.tTyping;
      clearTimeout(c.timer);
      c.timer = setTimeout(function () { c.typing.textContent = ""; }, 4000);
      break;
    case "closed":
      c = chats[m.chat_id];
      if (c) { c.typing.textContent = d.tEnded; c.input.disabled = true; }
      break;
    case "error":
      window.alert(m.message + (m.fix ? "\n" + m.fix : ""));
      break;
    }
  }
  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(proto + location.host + d.ws);
    ws.onopen = function () { retry = 0; };
    ws.onmessage = function (ev) { handle(JSON.parse(ev.data)); };
    ws.onclose = function () {
      queueEl.textContent = d.tReconnecting;
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 500 * Math.pow(2, retry));
    };
  }
  connect();
}());
