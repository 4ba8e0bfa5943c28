#include "routing/desk/gateway.h"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <unordered_map>

#include "core/clock.h"
#include "core/events/codec.h"
#include "core/http/static_files.h"
#include "core/http/upgrade.h"
#include "core/http/websocket.h"
#include "core/json/parse.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "routing/desk/auth.h"
#include "routing/desk/protocol.h"
#include "routing/desk/read_model.h"

namespace omni::routing::desk {

extern const core::http::embedded_site desk_files;  // static/, embedded by omni_embed_files()

namespace asio = boost::asio;
namespace beast = boost::beast;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

spdlog::logger& logger() {
  static auto l = core::log::get("omni.desk");
  return *l;
}

using core::now_ms;

std::string random_id(std::string_view prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return std::string(prefix) + buf;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::optional<std::string_view> bearer(const core::http::request& r) {
  auto h = r.header("Authorization");
  if (!h) return std::nullopt;
  constexpr std::string_view prefix = "Bearer ";
  if (h->size() <= prefix.size() || !core::http::iequals(h->substr(0, prefix.size()), prefix))
    return std::nullopt;
  return h->substr(prefix.size());
}

}  // namespace

class session_base;

// One agent as the gateway sees it: its sockets on this node and its logout grace timer.
struct agent_entry {
  agent_identity id;
  std::vector<std::weak_ptr<session_base>> sockets;
  bool logged_in = false;  // we produced login and no logout since
  std::uint64_t generation = 0;
  std::shared_ptr<asio::steady_timer> grace;
};

struct gateway::impl : std::enable_shared_from_this<gateway::impl> {
  asio::io_context* ioc = nullptr;
  core::bus::producer* producer = nullptr;
  core::bus::settings kafka;
  core::bus::topic_names topics;
  gateway_config cfg;
  std::string node_id;
  std::unique_ptr<authenticator> auth;
  read_model model;

  std::atomic<bool> stopped{false};
  std::thread reader;
  std::atomic<bool> reader_stop{false};
  // Reader thread: whether the read model has caught up with the topics as they were when the
  // reader started (their end offsets, asked once Kafka answers), and the next offset read of
  // each (topic, partition) until then.
  using topic_partition = std::pair<std::string, std::int32_t>;
  bool caught_up = false;
  std::optional<std::map<topic_partition, std::int64_t>> catch_up;  // the ends to reach
  std::map<topic_partition, std::int64_t> next_offsets;
  std::chrono::steady_clock::time_point next_ends_query{};
  std::function<void()> on_caught_up;
  void note_read(const core::bus::message& m);
  void check_caught_up();

  mutable std::mutex mutex;  // agents, sessions
  std::unordered_map<std::string, agent_entry> agents;
  std::vector<std::weak_ptr<session_base>> sessions;
  std::atomic<std::uint64_t> connections{0};

  std::atomic<std::uint64_t> messages_in{0}, pushes{0}, events_produced{0}, errors{0},
      records_read{0};

  explicit impl(const gateway_config& c) : model(c.contacts_kept, c.dedupe_window) {}

  // --- Kafka side -------------------------------------------------------------------------
  void deliver(const std::vector<push>& out);
  void read_loop(std::unique_ptr<core::bus::consumer> c);
  void produce_event(const core::agent_event& e, std::function<void(bool, std::string)> done,
                     const core::bus::executor& post);
  void produce_outbound(const core::outbound& o, std::function<void(bool, std::string)> done,
                        const core::bus::executor& post);

  // --- sessions ---------------------------------------------------------------------------
  void on_upgrade(std::unique_ptr<core::http::upgrade> u);
  void on_authenticated(const std::shared_ptr<session_base>& s, const agent_identity& id);
  void on_closed(const std::shared_ptr<session_base>& s, bool explicit_logout);
  void logout(const std::string& agent, const std::string& reason);
  void log_out_everywhere(const std::string& agent, session_base* except);
  std::map<std::string, std::size_t> connection_counts() const;

  // --- REST -------------------------------------------------------------------------------
  void register_routes(core::http::listener& l);
};

// A desk socket. send()/close() are thread-safe.
class session_base : public core::http::ws::socket_handler,
                     public std::enable_shared_from_this<session_base> {
 public:
  void send(std::string text) { socket_->send(std::move(text)); }
  void close(std::uint16_t code, std::string reason) { socket_->close(code, std::move(reason)); }
  // Set once, on the upgrade's strand right after ws::accept(), before any callback.
  std::shared_ptr<core::http::ws::socket> socket_;
  // Set once on the strand when authenticated; read by the gateway under its mutex.
  std::string agent_id;
  std::string domain;
};

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

// --- gateway::impl -----------------------------------------------------------------------------

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

void gateway::impl::deliver(const std::vector<push>& out) {
  if (out.empty()) return;
  std::vector<std::pair<std::shared_ptr<session_base>, const std::string*>> targets;
  {
    std::lock_guard lock(mutex);
    for (const auto& p : out) {
      if (!p.agent.empty()) {
        auto it = agents.find(p.agent);
        if (it == agents.end()) continue;
        for (auto& w : it->second.sockets)
          if (auto s = w.lock()) targets.emplace_back(std::move(s), &p.json);
      } else {
        for (auto& [id, a] : agents) {
          if (a.id.domain != p.domain) continue;
          for (auto& w : a.sockets)
            if (auto s = w.lock()) targets.emplace_back(std::move(s), &p.json);
        }
      }
    }
  }
  for (auto& [s, text] : targets) s->send(*text);
}

void gateway::impl::produce_event(const core::agent_event& e,
                                  std::function<void(bool, std::string)> done,
                                  const core::bus::executor& post) {
  if (stopped) return done(false, "gateway stopping");
  auto st = producer->produce(
      topics.agent_events, e.domain, core::encode(e),
      [self = shared_from_this(), done](const core::bus::delivery& d) {
        if (d.ok) ++self->events_produced;
        done(d.ok, d.error);
      },
      post);
  if (st == core::bus::produce_status::queue_full)
    done(false, "Kafka queue full");
  else if (st == core::bus::produce_status::failed)
    done(false, "Kafka produce failed");
}

void gateway::impl::produce_outbound(const core::outbound& o,
                                     std::function<void(bool, std::string)> done,
                                     const core::bus::executor& post) {
  if (stopped) return done(false, "gateway stopping");
  const std::string& key = o.conversation.empty() ? o.contact_id : o.conversation;
  auto st = producer->produce(
      topics.outbound, key, core::encode(o),
      [self = shared_from_this(), done](const core::bus::delivery& d) {
        if (d.ok) ++self->events_produced;
        done(d.ok, d.error);
      },
      post);
  if (st == core::bus::produce_status::queue_full)
    done(false, "Kafka queue full");
  else if (st == core::bus::produce_status::failed)
    done(false, "Kafka produce failed");
}

void gateway::impl::note_read(const core::bus::message& m) {
  if (caught_up) return;
  next_offsets[{m.topic, m.partition}] = m.offset + 1;
  check_caught_up();
}

void gateway::impl::check_caught_up() {
  if (caught_up) return;
  if (!catch_up) {
    // The end offsets as of the first answer: asked here rather than in start(), so a broker that
    // is down at start delays readiness instead of failing the daemon.
    if (std::chrono::steady_clock::now() < next_ends_query) return;
    next_ends_query = std::chrono::steady_clock::now() + 5s;
    std::map<topic_partition, std::int64_t> ends;
    for (const auto& topic : {topics.assignments, topics.agent_events}) {
      auto w = core::bus::watermarks(kafka, topic, 5s);
      if (!w) {
        logger().warn("desk: cannot read the end offsets of {} yet: {}", topic, w.err().message);
        return;
      }
      for (const auto& p : *w)
        if (p.high > p.low) ends[{topic, p.partition}] = p.high;
    }
    catch_up = std::move(ends);
  }
  std::erase_if(*catch_up, [&](const auto& e) {
    auto it = next_offsets.find(e.first);
    return it != next_offsets.end() && it->second >= e.second;
  });
  if (!catch_up->empty()) return;
  caught_up = true;
  next_offsets.clear();
  logger().info("desk: read model caught up ({} records)", records_read.load());
  if (on_caught_up) on_caught_up();
}

void gateway::impl::read_loop(std::unique_ptr<core::bus::consumer> c) {
  while (!reader_stop) {
    auto m = c->poll(100ms);
    if (!m) {
      check_caught_up();
      continue;
    }
    ++records_read;
    note_read(*m);
    if (m->topic == topics.assignments) {
      auto a = core::decode_assignment(m->value);
      if (!a) {
        logger().warn("desk: skipping bad record {}[{}]@{}: {}", m->topic, m->partition, m->offset,
                      a.err().to_string());
        continue;
      }
      deliver(model.apply(*a));
    } else if (m->topic == topics.agent_events) {
      auto e = core::decode_agent_event(m->value);
      if (!e) continue;
      deliver(model.apply(*e));
    }
  }
  c->close();
}

// --- REST and static files -----------------------------------------------------------------------

namespace {

using core::http::request;
using core::http::responder;
using core::http::response;

response json_response(int status, const json& j) { return response::json(status, dump(j)); }

}  // namespace

void gateway::impl::register_routes(core::http::listener& l) {
  std::weak_ptr<impl> weak = weak_from_this();
  l.add_upgrade("/agent/v1/ws", [weak](std::unique_ptr<core::http::upgrade> u) {
    if (auto self = weak.lock()) self->on_upgrade(std::move(u));
  });

  // Who is asking: the admin (everything) or an agent (queues, and what they were offered).
  struct caller {
    bool admin = false;
    std::string agent;
  };
  auto who = [weak](const request& q, responder& r) -> std::optional<caller> {
    auto self = weak.lock();
    if (!self) return r.send(response::error(503, "gateway stopping")), std::nullopt;
    auto token = bearer(q);
    if (!token) {
      auto res = response::error(401, "send Authorization: Bearer <admin or agent token>");
      res.headers.set("WWW-Authenticate", "Bearer");
      r.send(std::move(res));
      return std::nullopt;
    }
    if (self->auth->is_admin(*token)) return caller{true, {}};
    auto id = self->auth->check(*token, now_ms() / 1000);
    if (!id) {
      auto res = response::error(401, id.err().message);
      res.headers.set("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      r.send(std::move(res));
      return std::nullopt;
    }
    return caller{false, id->agent_id};
  };
  auto tail = [](const request& q, std::string_view prefix) {
    return core::http::url_decode(std::string_view(q.path).substr(prefix.size()));
  };
  auto domain_of = [](const request& q) { return std::string(q.query("domain").value_or("")); };
  auto forbidden = [](responder& r) { r.send(response::error(403, "admin token required")); };

  l.add(core::http::method::get, "/api/v1/queues", [weak, who, domain_of](request q, responder r) {
    auto c = who(q, r);
    if (!c) return;
    r.send(json_response(200, weak.lock()->model.queues(domain_of(q))));
  });
  l.add_prefix(core::http::method::get, "/api/v1/queues/",
               [weak, who, tail, domain_of](request q, responder r) {
                 auto c = who(q, r);
                 if (!c) return;
                 auto name = tail(q, "/api/v1/queues/");
                 if (auto j = weak.lock()->model.queue(domain_of(q), name))
                   return (void)r.send(json_response(200, *j));
                 r.send(response::error(404, "no statistics for queue '" + name + "' yet"));
               });
  l.add(core::http::method::get, "/api/v1/agents",
        [weak, who, domain_of, forbidden](request q, responder r) {
          auto c = who(q, r);
          if (!c) return;
          if (!c->admin) return forbidden(r);
          auto self = weak.lock();
          r.send(json_response(200, self->model.agents(domain_of(q), self->connection_counts())));
        });
  l.add_prefix(core::http::method::get, "/api/v1/agents/",
               [weak, who, tail](request q, responder r) {
                 auto c = who(q, r);
                 if (!c) return;
                 auto id = tail(q, "/api/v1/agents/");
                 if (!c->admin && c->agent != id)
                   return (void)r.send(response::error(403, "admin token required"));
                 auto self = weak.lock();
                 auto counts = self->connection_counts();
                 if (auto j = self->model.agent(id, counts.count(id) ? counts[id] : 0))
                   return (void)r.send(json_response(200, *j));
                 r.send(response::error(404, "unknown agent '" + id + "'"));
               });
  // GET <prefix><id> of a customer or contact: an admin sees any, an agent only their own.
  using knows_fn = bool (read_model::*)(const std::string&, const std::string&) const;
  using find_fn = std::optional<nlohmann::json> (read_model::*)(const std::string&) const;
  auto lookup = [&l, weak, who, tail](std::string prefix, std::string noun, knows_fn knows,
                                      find_fn find) {
    l.add_prefix(core::http::method::get, prefix, [=](request q, responder r) {
      auto c = who(q, r);
      if (!c) return;
      auto self = weak.lock();
      auto id = tail(q, prefix);
      if (!c->admin && !(self->model.*knows)(c->agent, id))
        return (void)r.send(response::error(403, "not one of your " + noun + "s"));
      if (auto j = (self->model.*find)(id)) return (void)r.send(json_response(200, *j));
      r.send(response::error(404, "unknown " + noun + " '" + id + "'"));
    });
  };
  lookup("/api/v1/customers/", "customer", &read_model::agent_knows_customer,
         &read_model::customer);
  lookup("/api/v1/contacts/", "contact", &read_model::agent_knows_contact, &read_model::contact);

  // The reference desk page, embedded at build time.
  core::http::serve_embedded(l, "/desk/", desk_files,
                             "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' "
                             "data:; frame-ancestors 'none'");
}

// --- gateway -----------------------------------------------------------------------------------

gateway::gateway(std::shared_ptr<impl> p) : impl_(std::move(p)) {}
gateway::~gateway() { stop(); }

core::result<std::unique_ptr<gateway>> gateway::create(gateway_options o) {
  if (!o.ioc || !o.listener || !o.producer)
    return core::error{"gateway needs an io_context, a listener and a producer", "gateway"};
  auto p = std::make_shared<impl>(o.config);
  p->ioc = o.ioc;
  p->producer = o.producer;
  p->kafka = std::move(o.kafka);
  p->topics = std::move(o.topics);
  p->cfg = std::move(o.config);
  p->node_id = std::move(o.node_id);
  p->on_caught_up = std::move(o.on_caught_up);
  p->auth = std::make_unique<authenticator>(p->cfg);
  p->register_routes(*o.listener);
  return std::unique_ptr<gateway>(new gateway(std::move(p)));
}

core::result<bool> gateway::start() {
  auto& d = *impl_;
  core::bus::consumer_options co;
  co.group_id = "omniroute-desk-" + d.node_id + "-" + random_id("");
  co.topics = {d.topics.assignments, d.topics.agent_events};
  co.from_beginning = true;
  // Offers are latency-sensitive: do not let an idle fetch sit on the broker for librdkafka's
  // default 500 ms (an operator's own kafka.client setting wins).
  core::bus::settings ks = d.kafka;
  ks.client.try_emplace("fetch.wait.max.ms", "10");
  auto c = core::bus::consumer::create(ks, std::move(co));
  if (!c) return c.err();
  d.reader = std::thread([p = impl_, c = std::move(*c)]() mutable { p->read_loop(std::move(c)); });
  auto& reg = core::metrics::global();
  std::weak_ptr<impl> weak = impl_;
  reg.callback_gauge("omniroute_desk_connections", "Open agent desk WebSocket connections", {},
                     [weak] {
                       auto p = weak.lock();
                       return p ? double(p->connections.load()) : 0.0;
                     });
  reg.callback_counter("omniroute_desk_events_produced_total",
                       "Agent events and replies the desk gateway stored in Kafka", {}, [weak] {
                         auto p = weak.lock();
                         return p ? double(p->events_produced.load()) : 0.0;
                       });
  logger().info("desk: gateway on /agent/v1/ws, /api/v1/, /desk/ ({} static agent(s){})",
                d.cfg.agents.size(), d.cfg.jwt ? ", JWT" : "");
  return true;
}

void gateway::stop() {
  auto& d = *impl_;
  if (d.stopped.exchange(true)) return;
  std::vector<std::shared_ptr<session_base>> open;
  {
    std::lock_guard lock(d.mutex);
    for (auto& w : d.sessions)
      if (auto s = w.lock()) open.push_back(std::move(s));
    for (auto& [id, a] : d.agents)
      if (a.grace) a.grace->cancel();
  }
  for (auto& s : open) s->close(close_code::going_away, "gateway stopping");
  d.reader_stop = true;
  if (d.reader.joinable()) d.reader.join();
  core::metrics::global().drop_callback("omniroute_desk_connections", {});
  core::metrics::global().drop_callback("omniroute_desk_events_produced_total", {});
}

gateway_statistics gateway::statistics() const {
  auto& d = *impl_;
  gateway_statistics s;
  s.connections = d.connections;
  {
    std::lock_guard lock(d.mutex);
    for (const auto& [id, a] : d.agents)
      for (const auto& w : a.sockets)
        if (!w.expired()) {
          ++s.agents_online;
          break;
        }
  }
  s.messages_in = d.messages_in;
  s.pushes = d.pushes;
  s.events_produced = d.events_produced;
  s.errors = d.errors;
  s.records_read = d.records_read;
  return s;
}

}  // namespace omni::routing::desk
