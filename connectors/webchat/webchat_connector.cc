#include "connectors/webchat/webchat_connector.h"

#include <openssl/rand.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "connectors/publisher.h"
#include "connectors/webchat/reply_index.h"
#include "connectors/webhook.h"
#include "core/clock.h"
#include "core/http/listener.h"
#include "core/http/static_files.h"
#include "core/http/upgrade.h"
#include "core/http/websocket.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace omni::connectors::webchat {

extern const core::http::embedded_site widget_files;  // widget/, embedded by omni_embed_files()

namespace asio = boost::asio;
namespace ws = core::http::ws;
using namespace std::chrono_literals;

namespace {

spdlog::logger& logger() {
  static auto l = core::log::get("omni.webchat");
  return *l;
}

using core::now_ms;

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) std::abort();  // no entropy
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// The token secret kept in state_dir, created on first start (so tokens survive restarts).
core::result<std::string> load_or_create_secret(const std::filesystem::path& dir) {
  const auto file = dir / "visitor-token.key";
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) {
    std::ifstream in(file);
    std::string s;
    std::getline(in, s);
    if (s.size() >= 32) return s;
    return core::error{file.string() + ": shorter than 32 characters; delete it to make a new one",
                       "token_secret"};
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) return core::error{"cannot create " + dir.string() + ": " + ec.message(), "state_dir"};
  std::string s = random_hex(32);
  {
    std::ofstream out(file, std::ios::trunc);
    out << s << "\n";
    if (!out) return core::error{"cannot write " + file.string(), "state_dir"};
  }
  std::filesystem::permissions(
      file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  return s;
}

}  // namespace

class visitor_session;

struct webchat_connector::impl : std::enable_shared_from_this<impl> {
  settings cfg;
  context ctx;
  session_store store;
  std::atomic<bool> stopped{false};
  std::unique_ptr<asio::steady_timer> expiry;

  mutable std::mutex mutex;  // online, per_ip, sessions
  std::unordered_map<std::string, std::vector<std::weak_ptr<visitor_session>>> online;
  std::unordered_map<std::string, std::size_t> per_ip;
  std::size_t admitted = 0;  // sessions holding a place in per_ip
  std::vector<std::weak_ptr<visitor_session>> sessions;
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> messages_in{0}, messages_out{0}, contacts{0}, delivered{0},
      slow_readers{0};

  core::metrics::counter* m_in = nullptr;
  core::metrics::counter* m_out = nullptr;

  // After a restart: a returning visitor's newest chat and its replies, read back from
  // omni.outbound on a thread of its own (reply_index.h says from where).
  std::unique_ptr<reply_index> replies;
  struct recovery {
    std::string visitor;
    reply_index::entry chat;
  };
  std::mutex recover_mutex;
  std::condition_variable recover_cv;
  std::deque<recovery> recoveries;
  bool recover_stop = false;
  std::thread recoverer;
  std::optional<std::string> recover(const std::string& visitor);
  void recover_loop();
  void run_recovery(const recovery& r);

  impl(settings s, context c) : cfg(std::move(s)), ctx(std::move(c)), store(cfg.store) {
    auto& reg = core::metrics::global();
    m_in = &reg.counter_of("omniroute_webchat_messages_total", "Web chat messages by direction",
                           {{"connector", cfg.name}, {"direction", "in"}});
    m_out = &reg.counter_of("omniroute_webchat_messages_total", "Web chat messages by direction",
                            {{"connector", cfg.name}, {"direction", "out"}});
  }

  void count(const char* name, const char* help, core::metrics::labels l) {
    l.emplace_back("connector", cfg.name);
    core::metrics::global().counter_of(name, help, l).inc();
  }
  void rejected(std::unique_ptr<core::http::upgrade> u, int status, const char* reason,
                const std::string& message) {
    count("omniroute_webchat_handshakes_rejected_total", "Refused visitor WebSocket handshakes",
          {{"reason", reason}});
    u->reject(core::http::response::error(status, message));
  }

  std::string issue_token(const std::string& id) const {
    return id + "." + hmac_sha256_hex(cfg.token_secret, id);
  }
  std::optional<std::string> check_token(std::string_view token) const {
    auto dot = token.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot > 64) return std::nullopt;
    std::string id(token.substr(0, dot));
    if (!any_hmac_sha256_hex_matches({cfg.token_secret}, id, token.substr(dot + 1)))
      return std::nullopt;
    return id;
  }
  bool verify_identity(const signed_identity& id) const {
    return !cfg.identity_secrets.empty() &&
           any_hmac_sha256_hex_matches(cfg.identity_secrets, id.value, id.hash);
  }

  void on_upgrade(std::unique_ptr<core::http::upgrade> u);
  void went_online(const std::string& visitor, const std::shared_ptr<visitor_session>& s);
  void went_offline(const std::string& visitor, const visitor_session* s);
  // Sends `text` to every socket of `visitor` on this node.
  void broadcast(const std::string& visitor, const std::string& text);
  void publish(core::contact c, std::function<void(publish_status)> done) {
    ctx.publisher->publish(c, std::move(done));
  }
  void schedule_expiry();
};

// One visitor socket: the protocol state machine. Lives on the socket's strand.
class visitor_session final : public ws::socket_handler,
                              public std::enable_shared_from_this<visitor_session> {
 public:
  visitor_session(std::shared_ptr<webchat_connector::impl> c, std::string ip)
      : c_(std::move(c)), ip_(std::move(ip)) {}

  ~visitor_session() override {
    std::lock_guard lock(c_->mutex);
    --c_->admitted;
    if (auto it = c_->per_ip.find(ip_); it != c_->per_ip.end() && --it->second == 0)
      c_->per_ip.erase(it);
  }

  void send(std::string text) { socket_->send(std::move(text)); }
  void close(std::uint16_t code, std::string reason) { socket_->close(code, std::move(reason)); }

  std::shared_ptr<ws::socket> socket_;  // set right after ws::accept(), before any callback

 private:
  void on_open(ws::socket& s) override {
    ++c_->connections;
    // Only until the visitor starts: thousands of idle visitors keep no timer of their own.
    start_timer_ = std::make_unique<asio::steady_timer>(s.executor(), c_->cfg.start_timeout);
    start_timer_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && self->visitor_.empty())
        self->fail("start_timeout", "send {\"type\":\"start\"} first");
    });
  }

  void on_message(ws::socket&, std::string text, bool binary) override {
    ++c_->messages_in;
    c_->m_in->inc();
    if (closing_) return;
    if (binary) return fail("bad_json", "binary frames are not part of the protocol: send JSON");
    auto m = parse_client_message(text, c_->cfg.fields);
    if (!m) return fail(m.err().field, m.err().message);
    switch (m->type) {
      case client_type::start:
        return start(*m);
      case client_type::ping:
        return push(pong_message());
      default:
        break;
    }
    if (visitor_.empty()) return fail("not_started", "send {\"type\":\"start\"} first");
    if (m->type == client_type::message) return message(std::move(*m));
    if (m->type == client_type::end) return end();
    // typing: nothing to do yet (agents do not see visitor typing).
  }

  void on_close(ws::socket&, const ws::close_info& why) override {
    closing_ = true;
    start_timer_.reset();
    --c_->connections;
    if (why.cause == "too_slow") {
      ++c_->slow_readers;
      c_->count("omniroute_webchat_slow_readers_total",
                "Visitor sockets closed because they read too slowly", {});
      logger().warn("webchat {}: visitor {} ({}) reads too slowly; closed", c_->cfg.name, visitor_,
                    ip_);
    }
    c_->count("omniroute_webchat_closes_total", "Visitor WebSocket closes by code and cause",
              {{"code", std::to_string(why.code)}, {"cause", std::string(why.cause)}});
    if (!visitor_.empty()) {
      c_->went_offline(visitor_, this);
      c_->store.disconnected(visitor_, now_ms());
    }
  }

  void push(std::string text) {
    if (closing_) return;
    ++c_->messages_out;
    c_->m_out->inc();
    socket_->send_now(std::move(text));
  }

  void fail(std::string_view code, std::string_view message, std::string_view client_id = {}) {
    c_->count("omniroute_webchat_errors_total", "Error messages sent to visitors",
              {{"code", std::string(code)}});
    push(error_message(code, message, client_id));
    if (auto cc = close_code_for(code)) {
      closing_ = true;
      start_timer_.reset();
      socket_->close_now(*cc, std::string(code));
    }
  }

  void start(const client_message& m) {
    if (!visitor_.empty()) return fail("bad_request", "this socket has started already");
    std::string id;
    bool resumed = false;
    if (!m.token.empty()) {
      auto checked = c_->check_token(m.token);
      if (!checked) return fail("bad_token", "the visitor token is not valid here");
      id = *checked;
      resumed = true;
    } else {
      id = random_hex(16);
    }
    if (m.identity) {
      if (!c_->verify_identity(*m.identity))
        return fail("bad_identity", "the identity's hash does not match (HMAC-SHA256 of value)");
      verified_ = core::identity{m.identity->kind, m.identity->value};
    }
    start_timer_.reset();
    visitor_ = id;
    name_ = m.name;
    page_ = m.page;
    language_ = m.language;
    auto opened = c_->store.open(visitor_, m.last_seq, now_ms());
    if (!opened.known && resumed)
      if (auto chat = c_->recover(visitor_)) opened.chat = *chat;
    c_->went_online(visitor_, shared_from_this());
    push(welcome_message(c_->issue_token(visitor_), visitor_, opened.chat, resumed && opened.known,
                         c_->cfg.idle_timeout.count() / 2));
    for (const auto& e : opened.replay) push(event_message(e));
  }

  core::contact contact(const std::string& chat, const std::string& source) const {
    core::contact c;
    c.provider = "webchat";
    c.source_id = c_->cfg.name + ":" + visitor_ + ":" + source;
    c.id = core::contact_id(c.provider, c.source_id);
    c.chan = core::channel::chat;
    c.received_at = now_ms();
    c.domain = c_->cfg.common.domain;
    c.conversation = chat;
    c.customer.identities.push_back({"visitor", visitor_});
    if (verified_) c.customer.identities.push_back(*verified_);
    c.customer.display_name = name_;
    c.to = c_->cfg.to;
    c.language = language_;
    if (!page_.empty()) c.attributes["page"] = page_;
    if (verified_) c.attributes["verified_identity"] = verified_->kind;
    return c;
  }

  void message(client_message m) {
    const auto chat = "webchat:" + c_->cfg.name + ":" + random_hex(12);
    auto claim = c_->store.begin_message(visitor_, m.client_id, chat, now_ms());
    if (claim.state == session_store::claim_state::stored)
      return push(ack_message(m.client_id, claim.seq));
    if (claim.state == session_store::claim_state::in_flight) return;  // its ack is coming
    auto c = contact(claim.chat, m.client_id);
    c.text = m.text;
    auto post = [self = shared_from_this()](auto f) { asio::post(self->socket_->executor(), f); };
    c_->publish(c, [self = shared_from_this(), post, client_id = m.client_id,
                    text = std::move(m.text), at = c.received_at](publish_status st) mutable {
      post([self, st, client_id = std::move(client_id), text = std::move(text), at]() mutable {
        self->stored(st, client_id, std::move(text), at);
      });
    });
  }

  // On the strand: Kafka's answer for one visitor message.
  void stored(publish_status st, const std::string& client_id, std::string text,
              core::timestamp_ms at) {
    if (!acknowledged(st)) {
      c_->store.release(visitor_, client_id);
      return fail(st == publish_status::busy ? "busy" : "unavailable", "not stored, send it again",
                  client_id);
    }
    ++c_->contacts;
    auto e = c_->store.commit(visitor_, client_id, std::move(text), at);
    if (!e) return;
    push(ack_message(client_id, e->seq));
    c_->broadcast(visitor_, event_message(*e));
  }

  void end() {
    auto e = c_->store.end_chat(visitor_, now_ms());
    if (!e) return;
    // The router abandons the contact if it is still waiting (an answered one is not touched).
    auto c = contact(e->chat, "end-" + e->chat);
    c.kind = core::contact_kind::abandoned;
    c.attributes["reason"] = "the visitor ended the chat";
    c_->publish(c, [name = c_->cfg.name, chat = e->chat](publish_status st) {
      if (!acknowledged(st))
        logger().warn("webchat {}: end of chat {} not stored in Kafka", name, chat);
    });
    c_->broadcast(visitor_, event_message(*e));
  }

  std::shared_ptr<webchat_connector::impl> c_;
  std::unique_ptr<asio::steady_timer> start_timer_;  // until the visitor starts
  std::string ip_;
  std::string visitor_;
  std::string name_, page_, language_;
  std::optional<core::identity> verified_;
  bool closing_ = false;
};

void webchat_connector::impl::on_upgrade(std::unique_ptr<core::http::upgrade> u) {
  const auto& info = u->info();
  if (stopped) return rejected(std::move(u), 503, "stopping", "web chat stopping");
  if (!ws::origin_allowed(info, cfg.allowed_origins)) {
    logger().warn("webchat {}: refused WebSocket from origin '{}' ({})", cfg.name,
                  info.header("Origin").value_or(""), info.remote_address);
    return rejected(std::move(u), 403, "origin", "origin not allowed");
  }
  std::string ip = info.remote_address;
  {
    std::lock_guard lock(mutex);
    if (admitted >= cfg.max_connections)
      return rejected(std::move(u), 503, "max_connections", "too many web chat connections");
    auto it = per_ip.try_emplace(ip, 0).first;
    if (it->second >= cfg.max_connections_per_ip)
      return rejected(std::move(u), 429, "per_ip_limit", "too many connections from this address");
    ++it->second;  // both given back by the session's destructor
    ++admitted;
  }
  auto s = std::make_shared<visitor_session>(shared_from_this(), ip);
  ws::options o;
  o.max_message_bytes = cfg.max_message_bytes;
  o.send_queue_bytes = cfg.send_queue_bytes;
  o.too_slow_code = close_code::too_slow;
  o.idle_timeout = cfg.idle_timeout;
  o.handshake_timeout = cfg.start_timeout;
  o.deflate = cfg.deflate;
  s->socket_ = ws::accept(std::move(u), o, s);
  if (!s->socket_) return;
  std::lock_guard lock(mutex);
  std::erase_if(sessions, [](const auto& w) { return w.expired(); });
  sessions.push_back(s);
}

void webchat_connector::impl::went_online(const std::string& visitor,
                                          const std::shared_ptr<visitor_session>& s) {
  std::lock_guard lock(mutex);
  auto& list = online[visitor];
  std::erase_if(list, [](const auto& w) { return w.expired(); });
  list.push_back(s);
}

void webchat_connector::impl::went_offline(const std::string& visitor, const visitor_session* s) {
  std::lock_guard lock(mutex);
  auto it = online.find(visitor);
  if (it == online.end()) return;
  std::erase_if(it->second, [&](const auto& w) {
    auto p = w.lock();
    return !p || p.get() == s;
  });
  if (it->second.empty()) online.erase(it);
}

void webchat_connector::impl::broadcast(const std::string& visitor, const std::string& text) {
  std::vector<std::shared_ptr<visitor_session>> targets;
  {
    std::lock_guard lock(mutex);
    if (auto it = online.find(visitor); it != online.end())
      for (auto& w : it->second)
        if (auto p = w.lock()) targets.push_back(std::move(p));
  }
  for (auto& t : targets) {
    ++messages_out;
    m_out->inc();
    t->send(text);
  }
}

void webchat_connector::impl::schedule_expiry() {
  expiry->expires_after(std::min<std::chrono::milliseconds>(cfg.store.retention, 60s));
  expiry->async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->stopped) return;
    if (auto n = self->store.expire(now_ms()))
      logger().debug("webchat {}: forgot {} idle visitor session(s)", self->cfg.name, n);
    self->schedule_expiry();
  });
}

std::optional<std::string> webchat_connector::impl::recover(const std::string& visitor) {
  if (!replies || !recoverer.joinable()) return std::nullopt;
  auto chats = replies->chats_of(visitor);
  if (chats.empty() || !store.adopt(visitor, chats.front().chat)) return std::nullopt;
  {
    std::lock_guard lock(recover_mutex);
    if (recoveries.size() >= 1000) {  // a burst of returning visitors: the rest are not waited on
      logger().warn("webchat {}: too many recoveries queued; chat {} starts without its replies",
                    cfg.name, chats.front().chat);
      return chats.front().chat;
    }
    recoveries.push_back({visitor, chats.front()});
  }
  recover_cv.notify_one();
  return chats.front().chat;
}

void webchat_connector::impl::recover_loop() {
  for (;;) {
    recovery r;
    {
      std::unique_lock lock(recover_mutex);
      recover_cv.wait(lock, [&] { return recover_stop || !recoveries.empty(); });
      if (recover_stop) return;
      r = std::move(recoveries.front());
      recoveries.pop_front();
    }
    run_recovery(r);
  }
}

// Reads the chat's partition from its first record on: what is the visitor's in this chat is
// handed to the store on the io_context (which drops what it holds already: replies that came in
// live since the chat was adopted) and pushed to the visitor's sockets.
void webchat_connector::impl::run_recovery(const recovery& r) {
  std::vector<core::outbound> found;
  auto read = ctx.read_outbound(
      r.chat.partition, r.chat.offset, [&](const core::outbound& o, const outbound_position&) {
        if (o.conversation == r.chat.chat && o.provider == "webchat" &&
            o.recipient.value == r.visitor && o.kind != core::outbound_kind::typing)
          found.push_back(o);
        std::lock_guard lock(recover_mutex);
        return !recover_stop;
      });
  if (!read) {
    logger().warn("webchat {}: cannot read the replies of chat {} back: {}", cfg.name, r.chat.chat,
                  read.err().to_string());
    return;
  }
  logger().info(
      "webchat {}: recovered {} record(s) of chat {} for visitor {} (read {} record(s) of "
      "partition {} from offset {})",
      cfg.name, found.size(), r.chat.chat, r.visitor, *read, r.chat.partition, r.chat.offset);
  count("omniroute_webchat_recoveries_total",
        "Returning visitors whose chat was read back from omni.outbound after a restart", {});
  asio::post(*ctx.ioc, [self = shared_from_this(), visitor = r.visitor, found = std::move(found)] {
    for (const auto& o : found)
      if (auto routed = self->store.deliver(o); routed && routed->entry)
        self->broadcast(visitor, event_message(*routed->entry));
  });
}

// --- webchat_connector ---------------------------------------------------------------------------

webchat_connector::webchat_connector(settings s, context ctx)
    : impl_(std::make_shared<impl>(std::move(s), std::move(ctx))) {}

webchat_connector::~webchat_connector() { stop(); }

const std::string& webchat_connector::name() const { return impl_->cfg.name; }

core::result<bool> webchat_connector::start() {
  auto& d = *impl_;
  if (!d.ctx.http) return core::error{"web chat needs the shared HTTP listener", "http"};
  if (d.cfg.token_secret.empty()) {
    if (d.ctx.state_dir.empty()) {
      d.cfg.token_secret = random_hex(32);  // tokens then last as long as the process
    } else {
      auto s = load_or_create_secret(d.ctx.state_dir);
      if (!s) return s.err();
      d.cfg.token_secret = *s;
    }
  }
  if (!d.ctx.state_dir.empty()) {
    auto idx = reply_index::open(d.ctx.state_dir / "replies.idx", d.cfg.store.retention, now_ms());
    if (!idx) return idx.err();
    d.replies = std::move(*idx);
    if (d.ctx.read_outbound && d.ctx.ioc)
      d.recoverer = std::thread([p = impl_] { p->recover_loop(); });
  }
  std::weak_ptr<impl> weak = impl_;
  d.ctx.http->add_upgrade(d.cfg.path + "ws", [weak](std::unique_ptr<core::http::upgrade> u) {
    if (auto self = weak.lock()) self->on_upgrade(std::move(u));
  });
  core::http::serve_embedded(*d.ctx.http, d.cfg.path, widget_files,
                             "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' "
                             "data:");
  if (d.ctx.ioc) {
    d.expiry = std::make_unique<asio::steady_timer>(*d.ctx.ioc);
    d.schedule_expiry();
  }
  auto& reg = core::metrics::global();
  reg.callback_gauge("omniroute_webchat_connections", "Open visitor WebSocket connections",
                     {{"connector", d.cfg.name}}, [weak] {
                       auto p = weak.lock();
                       return p ? double(p->connections.load()) : 0.0;
                     });
  reg.callback_gauge("omniroute_webchat_visitors", "Visitor sessions kept (online or not)",
                     {{"connector", d.cfg.name}}, [weak] {
                       auto p = weak.lock();
                       return p ? double(p->store.visitors()) : 0.0;
                     });
  logger().info("webchat {}: widget at {}, visitors at {}ws (domain {})", d.cfg.name, d.cfg.path,
                d.cfg.path, d.cfg.common.domain);
  return true;
}

void webchat_connector::stop() {
  auto& d = *impl_;
  if (d.stopped.exchange(true)) return;
  if (d.expiry) d.expiry->cancel();
  std::vector<std::shared_ptr<visitor_session>> open;
  {
    std::lock_guard lock(d.mutex);
    for (auto& w : d.sessions)
      if (auto s = w.lock()) open.push_back(std::move(s));
  }
  for (auto& s : open) s->close(ws::close_code::going_away, "server stopping");
  {
    std::lock_guard lock(d.recover_mutex);
    d.recover_stop = true;
  }
  d.recover_cv.notify_all();
  if (d.recoverer.joinable()) d.recoverer.join();
  core::metrics::global().drop_callback("omniroute_webchat_connections",
                                        {{"connector", d.cfg.name}});
  core::metrics::global().drop_callback("omniroute_webchat_visitors", {{"connector", d.cfg.name}});
}

bool webchat_connector::deliver(const core::outbound& o, const outbound_position& at) {
  auto& d = *impl_;
  if (o.provider != "webchat" || o.conversation.rfind("webchat:" + d.cfg.name + ":", 0) != 0)
    return false;
  auto r = d.store.deliver(o);
  if (!r) return false;  // another node's visitor (or one forgotten)
  ++d.delivered;
  if (d.replies && at.offset >= 0)
    d.replies->record(r->visitor, o.conversation, at.partition, at.offset, now_ms());
  if (o.kind == core::outbound_kind::typing)
    d.broadcast(r->visitor, typing_message(o.agent_id));
  else if (r->entry)
    d.broadcast(r->visitor, event_message(*r->entry));
  return true;
}

std::string webchat_connector::issue_token(const std::string& visitor_id) const {
  return impl_->issue_token(visitor_id);
}
std::optional<std::string> webchat_connector::check_token(std::string_view token) const {
  return impl_->check_token(token);
}
bool webchat_connector::verify_identity(const signed_identity& id) const {
  return impl_->verify_identity(id);
}

statistics webchat_connector::stats() const {
  auto& d = *impl_;
  statistics s;
  s.connections = d.connections;
  s.visitors = d.store.visitors();
  s.messages_in = d.messages_in;
  s.messages_out = d.messages_out;
  s.contacts = d.contacts;
  s.delivered = d.delivered;
  s.slow_readers = d.slow_readers;
  return s;
}

}  // namespace omni::connectors::webchat
