// One desk WebSocket session (authentication, the protocol's messages, heartbeats), and the
// gateway's bookkeeping of agents across their sockets: login, logout, grace timers.
#include "routing/desk/gateway_impl.h"

namespace omni::routing::desk {

class session final : public session_base {
 public:
  session(std::shared_ptr<gateway::impl> gw, const asio::any_io_executor& strand,
          std::optional<agent_identity> pre)
      : gw_(std::move(gw)), timer_(strand), pre_auth_(std::move(pre)) {}

 private:
  std::shared_ptr<session> shared() {
    return std::static_pointer_cast<session>(shared_from_this());
  }

  void on_open(core::http::ws::socket&) override {
    ++gw_->connections;
    if (pre_auth_) {
      authenticate(*pre_auth_, "");
    } else {
      timer_.expires_after(gw_->cfg.auth_timeout);
      timer_.async_wait([self = shared()](beast::error_code e) {
        if (!e && !self->authed_) self->fail("auth_timeout", "no auth message in time", "");
      });
    }
  }

  void on_message(core::http::ws::socket&, std::string text, bool binary) override {
    ++gw_->messages_in;
    if (closing_) return;
    if (binary) {
      fail("bad_json", "binary frames are not part of the protocol: send JSON text", "");
    } else {
      handle(text);
    }
  }

  // Sends an error; closes when the error calls for it (nothing has been produced).
  void fail(std::string_view code, std::string_view message, std::string_view ref) {
    ++gw_->errors;
    core::metrics::global()
        .counter_of("omniroute_desk_errors_total", "Error messages sent to desk clients",
                    {{"code", std::string(code)}})
        .inc();
    push(error_message(code, message, ref));
    if (auto cc = close_code_for(code)) close_now(*cc, std::string(code));
  }

  void handle(const std::string& text) {
    auto parsed = parse_client_message(text);
    if (!parsed) {
      std::string ref;
      if (auto j = core::parse_json(text);
          j && j->is_object() && j->contains("ref") && (*j)["ref"].is_string())
        ref = (*j)["ref"].get<std::string>().substr(0, 128);
      return fail(parsed.err().field, parsed.err().message, ref);
    }
    client_message& m = *parsed;
    if (m.type == client_type::ping)
      return push(dump({{"type", "pong"}, {"ref", m.ref}, {"at", now_ms()}}));
    if (m.type == client_type::auth) {
      auto id = gw_->auth->check(m.token, now_ms() / 1000);
      if (!id) return fail(id.err().field, id.err().message, m.ref);
      if (authed_ && id->agent_id != identity_.agent_id)
        return fail("forbidden", "this socket is already signed in as another agent", m.ref);
      return authenticate(*id, m.ref);
    }
    if (!authed_)
      return fail("unauthorized", "send {\"type\":\"auth\",\"token\":...} first", m.ref);
    if (identity_.expires_at &&
        now_ms() / 1000 > *identity_.expires_at + gw_->cfg.jwt->leeway.count())
      return fail("token_expired", "token expired: sign in again", m.ref);
    act(m);
  }

  void authenticate(const agent_identity& id, const std::string& ref) {
    const bool first = !authed_;
    authed_ = true;
    identity_ = id;
    timer_.cancel();
    if (id.expires_at) {
      auto left = std::chrono::seconds(*id.expires_at + gw_->cfg.jwt->leeway.count()) -
                  std::chrono::milliseconds(now_ms());
      timer_.expires_after(std::max<std::chrono::milliseconds>(
          std::chrono::duration_cast<std::chrono::milliseconds>(left), 0ms));
      timer_.async_wait([self = shared()](beast::error_code e) {
        if (!e) self->fail("token_expired", "token expired: sign in again", "");
      });
    }
    if (!first) return push(ack_message(ref, "auth"));
    agent_id = id.agent_id;
    domain = id.domain;
    push(dump(
        {{"type", "welcome"},
         {"v", protocol_version},
         {"ref", ref},
         {"agent", {{"id", id.agent_id}, {"display_name", id.display_name}, {"domain", id.domain}}},
         {"heartbeat_interval_ms", gw_->cfg.heartbeat_interval.count()},
         {"server_time", core::format_timestamp(now_ms())}}));
    gw_->on_authenticated(shared_from_this(), id);
  }

  core::agent_event event(core::agent_event_type type) const {
    core::agent_event e;
    e.id = random_id("desk-");
    e.type = type;
    e.domain = identity_.domain;
    e.agent_id = identity_.agent_id;
    e.at = now_ms();
    return e;
  }

  core::bus::executor executor() {
    return [ex = timer_.get_executor()](std::function<void()> f) { asio::post(ex, std::move(f)); };
  }

  // Produces `e`; on delivery applies it to the read model and acks (or reports "unavailable").
  void produce(core::agent_event e, const std::string& ref, std::string_view of,
               std::string extra = {}) {
    std::string of_s(of);
    gw_->produce_event(
        e,
        [self = shared(), e, ref, of_s, extra](bool ok, std::string why) {
          if (!ok) return self->fail("unavailable", "not stored, try again: " + why, ref);
          self->gw_->deliver(self->gw_->model.apply(e));
          self->push(ack_message(ref, of_s, extra));
          if (e.type == core::agent_event_type::logout)
            self->close_now(close_code::normal, "logout");
        },
        executor());
  }

  void act(const client_message& m) {
    auto authorize = [&](desk_action a) -> std::optional<contact_route> {
      auto r = gw_->model.authorize(identity_.agent_id, m.contact_id, a);
      if (!r) {
        fail(r.err().field, r.err().message, m.ref);
        return std::nullopt;
      }
      return *r;
    };
    switch (m.type) {
      case client_type::presence: {
        auto e = event(core::agent_event_type::presence);
        e.presence = m.presence;
        return produce(e, m.ref, "presence");
      }
      case client_type::accept: {
        if (!authorize(desk_action::accept)) return;
        auto e = event(core::agent_event_type::accept);
        e.contact_id = m.contact_id;
        return produce(e, m.ref, "accept", dump({{"contact_id", m.contact_id}}));
      }
      case client_type::reject: {
        if (!authorize(desk_action::reject)) return;
        auto e = event(core::agent_event_type::reject);
        e.contact_id = m.contact_id;
        e.reason = m.reason.empty() ? "rejected" : m.reason;
        return produce(e, m.ref, "reject", dump({{"contact_id", m.contact_id}}));
      }
      case client_type::complete: {
        if (!authorize(desk_action::work)) return;
        auto e = event(core::agent_event_type::complete);
        e.contact_id = m.contact_id;
        e.disposition = m.disposition.empty() ? "resolved" : m.disposition;
        if (m.survey) e.attributes["survey"] = "requested";
        return produce(e, m.ref, "complete", dump({{"contact_id", m.contact_id}}));
      }
      case client_type::transfer: {
        if (!authorize(desk_action::work)) return;
        auto e = event(core::agent_event_type::transfer);
        e.contact_id = m.contact_id;
        e.target_queue = m.target_queue;
        e.target_agent = m.target_agent;
        if (!m.reason.empty()) e.reason = m.reason;
        return produce(e, m.ref, "transfer", dump({{"contact_id", m.contact_id}}));
      }
      case client_type::reply:
        return reply(m, authorize(desk_action::work));
      case client_type::logout: {
        closing_for_logout_ = true;
        auto e = event(core::agent_event_type::logout);
        e.reason = m.reason.empty() ? "logout" : m.reason;
        gw_->log_out_everywhere(identity_.agent_id, this);
        return produce(e, m.ref, "logout");
      }
      case client_type::auth:
      case client_type::ping:
        break;
    }
  }

  // A reply: omni.outbound.v1 (keyed by conversation) first, then the reply agent event.
  void reply(const client_message& m, std::optional<contact_route> route) {
    if (!route) return;
    core::outbound o;
    o.id = random_id("reply-");
    o.kind = core::outbound_kind::reply;
    o.domain = route->domain;
    o.conversation = route->conversation;
    o.contact_id = route->contact_id;
    o.chan = core::parse_channel(route->channel).value_or(core::channel::chat);
    o.provider = route->provider;
    o.recipient = route->recipient;
    o.agent_id = identity_.agent_id;
    o.at = now_ms();
    o.subject = !m.subject.empty() ? m.subject
                : route->subject.empty() || route->subject.rfind("Re:", 0) == 0
                    ? route->subject
                    : "Re: " + route->subject;
    o.text = m.text;
    auto e = event(core::agent_event_type::reply);
    e.contact_id = route->contact_id;
    e.attributes["outbound_id"] = o.id;
    gw_->produce_outbound(
        o,
        [self = shared(), o, e, ref = m.ref](bool ok, std::string why) {
          if (!ok) return self->fail("unavailable", "reply not sent, try again: " + why, ref);
          self->gw_->model.add_reply(o.contact_id, o.agent_id, o.text, o.at);
          self->produce(e, ref, "reply",
                        dump({{"contact_id", o.contact_id}, {"outbound_id", o.id}}));
        },
        executor());
  }

  // On the strand: queue a message to the desk.
  void push(std::string text) {
    if (closing_) return;
    ++gw_->pushes;
    socket_->send_now(std::move(text));
  }

  void close_now(std::uint16_t code, std::string reason) {
    if (closing_) return;
    closing_ = true;
    timer_.cancel();
    socket_->close_now(code, std::move(reason));
  }

  void on_close(core::http::ws::socket&, const core::http::ws::close_info& why) override {
    if (why.cause == "too_slow")
      logger().warn("desk: agent {} reads too slowly; closed", identity_.agent_id);
    closing_ = true;
    timer_.cancel();
    gw_->on_closed(shared_from_this(), closing_for_logout_);
    --gw_->connections;
  }

  std::shared_ptr<gateway::impl> gw_;
  asio::steady_timer timer_;
  std::optional<agent_identity> pre_auth_;
  bool closing_ = false;
  bool authed_ = false;
  bool closing_for_logout_ = false;
  agent_identity identity_;
};

void gateway::impl::on_upgrade(std::unique_ptr<core::http::upgrade> u) {
  const auto& info = u->info();
  if (stopped) return u->reject(core::http::response::error(503, "gateway stopping"));
  // Without allowed_origins: same origin only (the page this gateway serves at /desk/).
  if (!core::http::ws::origin_allowed(info, cfg.allowed_origins)) {
    logger().warn("desk: refused WebSocket from origin '{}' ({})",
                  info.header("Origin").value_or(""), info.remote_address);
    return u->reject(core::http::response::error(403, "origin not allowed"));
  }
  if (connections.load() >= cfg.max_connections)
    return u->reject(core::http::response::error(503, "too many desk connections"));
  std::optional<agent_identity> pre;
  if (auto token = bearer(info)) {
    auto id = auth->check(*token, now_ms() / 1000);
    if (!id) {
      auto r = core::http::response::error(401, id.err().message);
      r.headers.set("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      return u->reject(std::move(r));
    }
    pre = *id;
  }
  auto s = std::make_shared<session>(shared_from_this(), u->executor(), pre);
  core::http::ws::options o;
  o.handshake_timeout = 10s;
  o.idle_timeout = cfg.heartbeat_interval * 2;  // a ping goes out after half of it
  o.max_message_bytes = cfg.max_message_bytes;
  o.send_queue_messages = cfg.send_queue_limit;
  o.too_slow_code = close_code::too_slow;
  s->socket_ = core::http::ws::accept(std::move(u), o, s);
  if (!s->socket_) return;
  std::lock_guard lock(mutex);
  std::erase_if(sessions, [](const auto& w) { return w.expired(); });
  sessions.push_back(s);
}

void gateway::impl::on_authenticated(const std::shared_ptr<session_base>& s,
                                     const agent_identity& id) {
  bool need_login = false;
  {
    std::lock_guard lock(mutex);
    auto& a = agents[id.agent_id];
    a.id = id;
    std::erase_if(a.sockets, [](const auto& w) { return w.expired(); });
    a.sockets.push_back(s);
    ++a.generation;  // cancels a pending disconnect logout
    if (a.grace) {
      a.grace->cancel();
      a.grace.reset();
    }
    need_login = !a.logged_in;
    a.logged_in = true;
  }
  logger().info("desk: agent {} ({}) connected{}", id.agent_id, id.domain,
                need_login ? "" : " (session resumed)");
  if (need_login) {
    core::agent_event e;
    e.id = random_id("desk-");
    e.type = core::agent_event_type::login;
    e.domain = id.domain;
    e.agent_id = id.agent_id;
    e.at = now_ms();
    e.skills = id.skills;
    e.capacity = id.capacity;
    e.attributes["display_name"] = id.display_name;
    e.attributes["gateway"] = node_id;
    produce_event(e,
                  [self = shared_from_this(), e](bool ok, std::string why) {
                    if (ok)
                      self->deliver(self->model.apply(e));
                    else
                      logger().error("desk: login of {} not stored: {}", e.agent_id, why);
                  },
                  {});
  }
  for (auto& m : model.resync(id.agent_id, id.domain)) s->send(std::move(m));
}

void gateway::impl::on_closed(const std::shared_ptr<session_base>& s, bool explicit_logout) {
  if (s->agent_id.empty()) return;
  std::shared_ptr<asio::steady_timer> timer;
  std::uint64_t gen = 0;
  {
    std::lock_guard lock(mutex);
    auto it = agents.find(s->agent_id);
    if (it == agents.end()) return;
    auto& a = it->second;
    std::erase_if(a.sockets, [&](const auto& w) {
      auto p = w.lock();
      return !p || p == s;
    });
    if (!a.sockets.empty() || !a.logged_in || explicit_logout || stopped) return;
    gen = ++a.generation;
    timer = std::make_shared<asio::steady_timer>(*ioc, cfg.disconnect_grace);
    a.grace = timer;
  }
  logger().info("desk: agent {} disconnected; logout in {} ms unless they come back", s->agent_id,
                cfg.disconnect_grace.count());
  timer->async_wait([self = shared_from_this(), agent = s->agent_id, gen](beast::error_code ec) {
    if (ec) return;
    {
      std::lock_guard lock(self->mutex);
      auto it = self->agents.find(agent);
      if (it == self->agents.end() || it->second.generation != gen || !it->second.sockets.empty() ||
          self->stopped)
        return;
      it->second.logged_in = false;
      it->second.grace.reset();
    }
    self->logout(agent, "disconnected");
  });
}

void gateway::impl::logout(const std::string& agent, const std::string& reason) {
  core::agent_event e;
  {
    std::lock_guard lock(mutex);
    auto it = agents.find(agent);
    if (it == agents.end()) return;
    e.domain = it->second.id.domain;
  }
  e.id = random_id("desk-");
  e.type = core::agent_event_type::logout;
  e.agent_id = agent;
  e.at = now_ms();
  e.reason = reason;
  logger().info("desk: agent {} logged out ({})", agent, reason);
  produce_event(e,
                [self = shared_from_this(), e](bool ok, std::string why) {
                  if (ok)
                    self->deliver(self->model.apply(e));
                  else
                    logger().error("desk: logout of {} not stored: {}", e.agent_id, why);
                },
                {});
}

void gateway::impl::log_out_everywhere(const std::string& agent, session_base* except) {
  std::vector<std::shared_ptr<session_base>> others;
  {
    std::lock_guard lock(mutex);
    auto it = agents.find(agent);
    if (it == agents.end()) return;
    it->second.logged_in = false;
    ++it->second.generation;
    for (auto& w : it->second.sockets)
      if (auto p = w.lock(); p && p.get() != except) others.push_back(p);
  }
  for (auto& p : others) {
    p->send(dump({{"type", "logged_out"}, {"reason", "logout from another desk"}}));
    p->close(close_code::normal, "logout");
  }
}

std::map<std::string, std::size_t> gateway::impl::connection_counts() const {
  std::map<std::string, std::size_t> out;
  std::lock_guard lock(mutex);
  for (const auto& [id, a] : agents) {
    std::size_t n = 0;
    for (const auto& w : a.sockets) n += !w.expired();
    out[id] = n;
  }
  return out;
}

}  // namespace omni::routing::desk
