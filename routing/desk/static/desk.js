// The reference agent desk: protocol v1 of /agent/v1/ws (docs/agent-desktop-ws.md), no build step.
// Everything shown comes from the gateway; all customer text is inserted with textContent.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const state = { ws: null, token: "", agent: null, offers: new Map(), contacts: new Map(),
                  current: null, ref: 0, pending: new Map(), closedByUs: false, retry: 0 };

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function notice(text) { $("notice").textContent = text || ""; }
  function status(text) { $("status").textContent = text; }

  function send(msg, onAck) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) { notice("not connected"); return; }
    msg.ref = "r" + (++state.ref);
    if (onAck) state.pending.set(msg.ref, onAck);
    state.ws.send(JSON.stringify(msg));
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + "/agent/v1/ws");
    state.ws = ws;
    status("connecting…");
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", v: 1, token: state.token }));
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      handle(m);
    };
    ws.onclose = (ev) => {
      state.ws = null;
      if (state.closedByUs || ev.code === 4401 || ev.code === 4403 || ev.code === 1000) {
        status("offline (" + ev.code + (ev.reason ? " " + ev.reason : "") + ")");
        if (ev.code === 4401) showLogin("Sign-in failed: " + (state.lastError || ev.reason));
        return;
      }
      // Dropped: reconnect within the gateway's grace period keeps our work.
      const delay = Math.min(10000, 500 * Math.pow(2, state.retry++));
      status("reconnecting in " + Math.round(delay / 1000) + " s");
      setTimeout(connect, delay);
    };
  }

  function handle(m) {
    switch (m.type) {
      case "welcome":
        state.retry = 0;
        state.agent = m.agent;
        $("who").textContent = m.agent.display_name + " (" + m.agent.id + ", " + m.agent.domain + ")";
        status("online");
        $("login").hidden = true; $("desk").hidden = false;
        $("presence-box").hidden = false; $("logout").hidden = false;
        send({ type: "presence", presence: $("presence").value });
        break;
      case "offer":
        state.offers.set(m.contact_id, m);
        render();
        break;
      case "assigned":
        state.offers.delete(m.contact_id);
        state.contacts.set(m.contact_id, m);
        if (!state.current) state.current = m.contact_id;
        render();
        break;
      case "revoke":
        state.offers.delete(m.contact_id);
        if (state.contacts.has(m.contact_id)) state.contacts.delete(m.contact_id);
        if (state.current === m.contact_id) state.current = null;
        notice("Contact " + m.contact_id + " withdrawn: " + m.reason);
        render();
        break;
      case "message": {
        const c = state.contacts.get(m.contact_id) || state.offers.get(m.contact_id);
        if (c) { c.conversation.push(m.message); render(); }
        break;
      }
      case "stats": renderStats(m); break;
      case "presence": $("presence").value = m.presence; notice("Router set presence: " + m.presence); break;
      case "ack": {
        const f = state.pending.get(m.ref);
        state.pending.delete(m.ref);
        if (f) f(m);
        break;
      }
      case "error":
        state.lastError = m.message;
        state.pending.delete(m.ref);
        notice(m.code + ": " + m.message);
        break;
      case "logged_out": state.closedByUs = true; showLogin("Logged out from another desk"); break;
      default: break;
    }
  }

  function button(label, testid, onclick) {
    const b = el("button", "", label);
    b.dataset.testid = testid;
    b.type = "button";
    b.onclick = onclick;
    return b;
  }

  function render() {
    const offers = $("offers");
    offers.replaceChildren();
    for (const [id, o] of state.offers) {
      const li = el("li", "offer");
      li.dataset.testid = "offer";
      li.dataset.contact = id;
      li.append(el("div", "", (o.contact.display_name || o.contact.customer_id || "customer") + " · " + o.contact.channel));
      li.append(el("div", "meta", o.contact.subject || ""));
      const first = o.conversation.length ? o.conversation[0].text : "";
      li.append(el("div", "snippet", first));
      li.append(button("Accept", "accept", () => send({ type: "accept", contact_id: id }, () => {
        state.offers.delete(id);
        state.contacts.set(id, o);
        state.current = id;
        render();
      })));
      li.append(button("Reject", "reject", () => send({ type: "reject", contact_id: id, reason: "busy" }, () => {
        state.offers.delete(id);
        render();
      })));
      offers.append(li);
    }
    const contacts = $("contacts");
    contacts.replaceChildren();
    for (const [id, c] of state.contacts) {
      const li = el("li", id === state.current ? "current" : "");
      li.dataset.testid = "contact";
      li.append(button(c.contact.display_name || id, "open", () => { state.current = id; render(); }));
      contacts.append(li);
    }
    renderWork();
  }

  function renderWork() {
    const c = state.current && state.contacts.get(state.current);
    $("work").hidden = !c;
    if (!c) return;
    $("work-title").textContent = (c.contact.display_name || c.contact.customer_id) + " — " + (c.contact.subject || "");
    $("work-meta").textContent = c.contact.channel + " via " + c.contact.provider + " · queue " + c.queue +
      (c.reason && c.reason.text ? " · " + c.reason.text : "");
    const conv = $("conversation");
    conv.replaceChildren();
    for (const m of c.conversation) {
      const d = el("div", "msg " + m.from, m.text);
      d.dataset.testid = "msg-" + m.from;
      conv.append(d);
    }
    const h = $("history");
    h.replaceChildren();
    for (const item of c.history || []) {
      const li = el("li", "");
      li.dataset.testid = "history-item";
      const when = item.at || item.received_at || "";
      li.textContent = [when, item.channel, item.subject || item.text || item.snippet || "", item.agent || item.agent_id || ""]
        .filter(Boolean).join(" · ");
      h.append(li);
    }
  }

  function renderStats(m) {
    const body = $("stats").tBodies[0];
    body.replaceChildren();
    for (const q of m.queues || []) {
      const tr = el("tr");
      tr.append(el("td", "", q.name || q.queue || "?"));
      tr.append(el("td", "", "waiting " + (q.waiting ?? "?")));
      tr.append(el("td", "", "SL " + (q.service_level !== undefined ? Math.round(q.service_level * 100) + "%" : "?")));
      body.append(tr);
    }
  }

  function showLogin(text) {
    $("login").hidden = false; $("desk").hidden = true;
    $("presence-box").hidden = true; $("logout").hidden = true;
    $("login-error").textContent = text || "";
  }

  $("login-form").onsubmit = (ev) => {
    ev.preventDefault();
    state.token = $("token").value.trim();
    state.closedByUs = false;
    state.lastError = "";
    $("login-error").textContent = "";
    connect();
  };
  $("presence").onchange = () => send({ type: "presence", presence: $("presence").value });
  $("logout").onclick = () => { state.closedByUs = true; send({ type: "logout" }); showLogin(""); };
  $("reply-form").onsubmit = (ev) => {
    ev.preventDefault();
    const text = $("reply").value;
    const id = state.current;
    if (!text.trim() || !id) return;
    send({ type: "reply", contact_id: id, text }, () => {
      const c = state.contacts.get(id);
      if (c) c.conversation.push({ from: "agent", text, at: new Date().toISOString() });
      $("reply").value = "";
      renderWork();
    });
  };
  $("complete-form").onsubmit = (ev) => {
    ev.preventDefault();
    const id = state.current;
    if (!id) return;
    send({ type: "complete", contact_id: id, disposition: $("disposition").value || "resolved",
           survey: $("survey").checked }, () => {
      state.contacts.delete(id);
      state.current = null;
      notice("Completed " + id);
      render();
    });
  };
  $("transfer-form").onsubmit = (ev) => {
    ev.preventDefault();
    const id = state.current;
    const t = $("transfer-target").value.trim();
    if (!id || !t) return;
    const msg = { type: "transfer", contact_id: id };
    if (t.startsWith("agent:")) msg.agent_id = t.slice(6); else msg.queue = t;
    send(msg, () => { state.contacts.delete(id); state.current = null; notice("Transferred " + id); render(); });
  };
})();
