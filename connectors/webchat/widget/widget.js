// omniroute web-chat widget: one <script src=".../chat/widget.js" async></script> on any page.
// Talks the visitor protocol v1 (connectors/webchat/README.md) over a WebSocket at the script's
// own directory + "ws". Keeps the visitor token and unacknowledged messages in localStorage, so a
// reload resumes the same chat (the server replays its history) and a message typed while the
// connection was down is sent (once: it carries a client id) when it comes back.
(function () {
  "use strict";
  const script = document.currentScript;
  const base = new URL(".", script ? script.src : location.href);
  const wsUrl = base.href.replace(/^http/, "ws") + "ws";
  const data = script ? script.dataset : {};
  const storeKey = "omni-webchat:" + base.href;

  const saved = (() => {
    try { return JSON.parse(localStorage.getItem(storeKey)) || {}; } catch (e) { return {}; }
  })();
  const state = { token: saved.token || "", open: !!saved.open, pending: saved.pending || [] };
  const save = () => {
    try {
      localStorage.setItem(storeKey, JSON.stringify(
        { token: state.token, open: state.open, pending: state.pending }));
    } catch (e) { /* private mode: the chat still works for this page */ }
  };

  // --- DOM -------------------------------------------------------------------------------------
  const el = (tag, cls, attrs) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  };
  const css = el("link", "", { rel: "stylesheet", href: base.href + "widget.css" });
  document.head.appendChild(css);
  const root = el("div", "omni-chat", { "data-testid": "chat" });
  const panel = el("section", "omni-chat-panel", { "data-testid": "chat-panel" });
  const head = el("header", "omni-chat-head");
  const titleBox = el("div");
  const title = el("div", "omni-chat-title");
  title.textContent = data.title || "Chat";
  const status = el("div", "omni-chat-status", { "data-testid": "chat-status" });
  titleBox.append(title, status);
  const endBtn = el("button", "omni-chat-end", { type: "button", "data-testid": "chat-end" });
  endBtn.textContent = "×";
  endBtn.title = "End chat";
  head.append(titleBox, endBtn);
  const log = el("div", "omni-chat-log", { "data-testid": "chat-log", "aria-live": "polite" });
  const typing = el("div", "omni-chat-typing", { "data-testid": "chat-typing" });
  const form = el("form", "omni-chat-form");
  const input = el("textarea", "omni-chat-input", { "data-testid": "chat-input", rows: "2",
                                                    placeholder: "…" });
  const send = el("button", "omni-chat-send", { type: "submit", "data-testid": "chat-send" });
  send.textContent = "→";
  form.append(input, send);
  panel.append(head, log, typing, form);
  const bubble = el("button", "omni-chat-bubble", { type: "button", "data-testid": "chat-bubble",
                                                    "aria-label": "Chat" });
  // A speech-bubble icon drawn in SVG (an emoji would need a colour font the visitor may lack).
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "26");
  svg.setAttribute("height", "26");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
  svg.appendChild(path);
  bubble.appendChild(svg);
  root.append(panel, bubble);
  const mount = () => document.body.appendChild(root);
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  const setOpen = (open) => { state.open = open; panel.hidden = !open; save(); };
  setOpen(state.open);
  bubble.addEventListener("click", () => { setOpen(!state.open); if (state.open) input.focus(); });

  const shown = new Map();  // seq -> element
  const shownIds = new Set();  // outbound ids: a reply re-sent after a server restart shows once
  const pendingEls = new Map();  // client_id -> element
  let lastSeq = 0;
  const scroll = () => { log.scrollTop = log.scrollHeight; };
  const line = (kind, text, testid) => {
    const m = el("div", "omni-chat-msg " + kind, { "data-testid": testid || "msg-" + kind });
    m.textContent = text;
    log.appendChild(m);
    scroll();
    return m;
  };
  const describe = (e) => {
    if (e.kind === "joined") return (e.agent_name || e.agent || "An agent") + " has joined";
    if (e.kind === "ended") return e.text || "Chat ended";
    return e.text || "";
  };
  const showEvent = (e) => {
    if (shown.has(e.seq)) return;
    lastSeq = Math.max(lastSeq, e.seq);
    if (e.id) {
      if (shownIds.has(e.id)) return;
      shownIds.add(e.id);
    }
    let m = e.kind === "visitor" ? pendingEls.get(e.client_id) : undefined;
    if (m) {
      m.classList.remove("pending");
      pendingEls.delete(e.client_id);
    } else {
      m = line(e.kind, describe(e));
    }
    m.dataset.seq = e.seq;
    shown.set(e.seq, m);
    if (e.kind === "agent") typing.textContent = "";
  };

  // --- connection ------------------------------------------------------------------------------
  let ws = null;
  let started = false;
  let backoff = 500;
  const sendJson = (o) => { if (ws && ws.readyState === 1) ws.send(JSON.stringify(o)); };
  const flushPending = () => {
    for (const p of state.pending) sendJson({ type: "message", client_id: p.client_id, text: p.text });
  };
  const connect = () => {
    status.textContent = "connecting…";
    ws = new WebSocket(wsUrl);
    ws.onopen = () => {
      const start = { type: "start", v: 1, last_seq: lastSeq, page: location.href,
                      language: navigator.language };
      if (state.token) start.token = state.token;
      if (data.name) start.name = data.name;
      if (data.identityValue)
        start.identity = { kind: data.identityKind || "email", value: data.identityValue,
                           hash: data.identityHash || "" };
      sendJson(start);
    };
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      switch (m.type) {
        case "welcome":
          started = true;
          backoff = 500;
          state.token = m.token;
          save();
          status.textContent = "online";
          root.dataset.visitor = m.visitor;
          flushPending();
          break;
        case "event": showEvent(m); break;
        case "ack": {
          state.pending = state.pending.filter((p) => p.client_id !== m.client_id);
          save();
          break;
        }
        case "typing": typing.textContent = "…"; break;
        case "error":
          if (m.code === "bad_token") { state.token = ""; save(); }
          if (!m.client_id) status.textContent = m.message;
          break;
      }
    };
    ws.onclose = () => {
      started = false;
      status.textContent = "offline";
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 15000);
    };
  };

  const newId = () => (crypto.randomUUID ? crypto.randomUUID()
    : Date.now().toString(36) + Math.random().toString(36).slice(2));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    const p = { client_id: newId(), text };
    state.pending.push(p);
    save();
    const m = line("visitor pending", text, "msg-visitor");
    pendingEls.set(p.client_id, m);
    if (started) sendJson({ type: "message", client_id: p.client_id, text });
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
  });
  endBtn.addEventListener("click", () => sendJson({ type: "end" }));

  // Messages typed before a reload and never acknowledged are shown (and resent on welcome).
  for (const p of state.pending) pendingEls.set(p.client_id, line("visitor pending", p.text,
                                                                  "msg-visitor"));
  connect();
})();
