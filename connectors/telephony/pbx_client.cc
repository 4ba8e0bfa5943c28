#include "connectors/telephony/pbx_client.h"

#include <array>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <optional>

#include "connectors/publisher.h"
#include "core/clock.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace omni::connectors::telephony {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

spdlog::logger& logger() {
  static auto l = core::log::get("omni.telephony");
  return *l;
}

std::string help_of(std::string_view what) {
  if (what == "bad_frames") return "PBX frames that could not be parsed (skipped).";
  if (what == "auth_failures") return "Logins the PBX refused.";
  if (what == "reconnects") return "Reconnections to the PBX after a drop or a failed attempt.";
  if (what == "publish_failures") return "Calls or agent events Kafka did not store (given up).";
  if (what == "events_ignored") return "PBX events that carry nothing to route (unknown, legs).";
  if (what == "unmapped_agents")
    return "Calls answered by an extension that maps to no agent (no agent event sent).";
  return "Telephony calls by lifecycle step.";
}

}  // namespace

void count(std::string_view what, const std::string& connector, std::uint64_t n) {
  if (n == 0) return;
  core::metrics::global()
      .counter_of("omniroute_telephony_" + std::string(what) + "_total", help_of(what),
                  {{"connector", connector}})
      .inc(n);
}

void count_calls(const call_counts& before, const call_counts& after,
                 const std::string& connector) {
  count("calls_routed", connector, after.routed - before.routed);
  count("calls_abandoned", connector, after.abandoned - before.abandoned);
  count("calls_answered", connector, after.answered - before.answered);
  count("calls_completed", connector, after.completed - before.completed);
  count("calls_transferred", connector, after.transferred - before.transferred);
  count("unmapped_agents", connector, after.unmapped_agents - before.unmapped_agents);
}

void publish_output(const context& ctx, const call_output& out, std::function<void(bool)> done) {
  struct join {
    std::atomic<std::size_t> left{0};
    std::atomic<bool> ok{true};
    std::function<void(bool)> done;
  };
  auto j = std::make_shared<join>();
  const bool events = ctx.agent_events != nullptr;
  j->left = out.contacts.size() + (events ? out.agent_events.size() : 0) + 1;
  j->done = std::move(done);
  auto answer = [j](publish_status s) {
    if (!acknowledged(s)) j->ok = false;
    if (--j->left == 0) j->done(j->ok);
  };
  for (const auto& c : out.contacts) ctx.publisher->publish(c, answer);
  if (events)
    for (const auto& e : out.agent_events) ctx.agent_events->publish(e, answer);
  answer(publish_status::stored);  // the +1: done() even for an empty output
}

// One TCP connection (plain or TLS) and the bytes being written to it. Handlers of a connection
// hold it, so it outlives their completion even after the session moved on to the next one.
struct connection {
  connection(asio::strand<asio::io_context::executor_type> strand, asio::ssl::context* tls_ctx)
      : socket(strand) {
    if (tls_ctx) tls.emplace(socket, *tls_ctx);
  }
  tcp::socket socket;
  std::optional<asio::ssl::stream<tcp::socket&>> tls;
  std::array<char, 16384> buffer{};
  std::string outbox, writing;

  template <class Handler>
  void read_some(Handler h) {
    if (tls)
      tls->async_read_some(asio::buffer(buffer), std::move(h));
    else
      socket.async_read_some(asio::buffer(buffer), std::move(h));
  }
  template <class Handler>
  void write(Handler h) {
    if (tls)
      asio::async_write(*tls, asio::buffer(writing), std::move(h));
    else
      asio::async_write(socket, asio::buffer(writing), std::move(h));
  }
};

struct pbx_client::session : std::enable_shared_from_this<session> {
  session(pbx_settings s, std::unique_ptr<pbx_protocol> p, context c)
      : settings(std::move(s)),
        protocol(std::move(p)),
        ctx(std::move(c)),
        strand(asio::make_strand(*ctx.ioc)),
        resolver(strand),
        retry_timer(strand),
        deadline(strand),
        ticker(strand),
        backoff(settings.backoff_min) {}

  pbx_settings settings;
  std::unique_ptr<pbx_protocol> protocol;
  context ctx;
  asio::strand<asio::io_context::executor_type> strand;
  asio::ssl::context tls_ctx{asio::ssl::context::tls_client};
  tcp::resolver resolver;
  std::shared_ptr<connection> conn;
  asio::steady_timer retry_timer, deadline, ticker;
  std::chrono::milliseconds backoff;
  std::uint64_t generation = 0;  // one per connection attempt; stale handlers compare it
  bool stopped = false;
  bool connected_once = false;
  std::atomic<bool> is_ready{false};
  std::atomic<std::uint64_t> connections{0};
  call_output out;

  // The TLS client context: the CA file (or the system's), peer verification.
  std::optional<std::string> prepare_tls() {
    if (!settings.tls) return std::nullopt;
    error_code ec;
    tls_ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1);
    if (settings.tls_ca.empty())
      tls_ctx.set_default_verify_paths(ec);
    else
      tls_ctx.load_verify_file(settings.tls_ca, ec);
    if (ec) return "cannot load the CA certificates " + settings.tls_ca + ": " + ec.message();
    tls_ctx.set_verify_mode(settings.tls_verify ? asio::ssl::verify_peer : asio::ssl::verify_none);
    return std::nullopt;
  }

  void set_connected(bool up) {
    core::metrics::global()
        .gauge_of("omniroute_telephony_connected",
                  "1 while the connector is logged in to its PBX and receiving events.",
                  {{"connector", settings.name}})
        .set(up ? 1 : 0);
  }

  std::string peer() const { return settings.host + ":" + std::to_string(settings.port); }

  void connect() {
    if (stopped) return;
    if (connected_once) count("reconnects", settings.name);
    ++generation;
    protocol->reset();
    conn = std::make_shared<connection>(strand, settings.tls ? &tls_ctx : nullptr);
    arm(settings.connect_timeout, "connect timed out");
    resolver.async_resolve(
        settings.host, std::to_string(settings.port),
        [self = shared_from_this(), c = conn, gen = generation](
            const error_code& ec, tcp::resolver::results_type results) {
          if (gen != self->generation || self->stopped) return;
          if (ec) return self->fail("cannot resolve " + self->settings.host + ": " + ec.message());
          asio::async_connect(c->socket, results,
                              [self, c, gen](const error_code& ec2, const tcp::endpoint&) {
                                self->on_connect(gen, ec2);
                              });
        });
  }

  // The deadline of the current step (connecting, logging in): the socket is closed when it passes.
  void arm(std::chrono::milliseconds d, std::string reason) {
    deadline.expires_after(d);
    deadline.async_wait([self = shared_from_this(), gen = generation,
                         reason = std::move(reason)](const error_code& ec) {
      if (ec || gen != self->generation || self->stopped || self->is_ready) return;
      self->fail(reason);
    });
  }

  void on_connect(std::uint64_t gen, const error_code& ec) {
    if (gen != generation || stopped) return;
    if (ec) return fail("cannot connect: " + ec.message());
    connected_once = true;
    ++connections;
    error_code ignored;
    conn->socket.set_option(asio::socket_base::keep_alive(true), ignored);
    conn->socket.set_option(tcp::no_delay(true), ignored);
    logger().info("{} ({}): connected to {}{}", settings.name, settings.type, peer(),
                  settings.tls ? ", TLS handshake" : "");
    arm(settings.login_timeout, "not logged in within " +
                                    std::to_string(settings.login_timeout.count()) +
                                    " ms (wrong port, or not " + settings.type + "?)");
    if (!conn->tls) return read();
    SSL_set_tlsext_host_name(conn->tls->native_handle(), settings.host.c_str());
    if (settings.tls_verify)
      conn->tls->set_verify_callback(asio::ssl::host_name_verification(settings.host));
    conn->tls->async_handshake(asio::ssl::stream_base::client,
                               [self = shared_from_this(), c = conn, gen](const error_code& e) {
                                 if (gen != self->generation || self->stopped) return;
                                 if (e) return self->fail("TLS handshake failed: " + e.message());
                                 self->read();
                               });
  }

  void read() {
    conn->read_some([self = shared_from_this(), c = conn, gen = generation](const error_code& ec,
                                                                            std::size_t n) {
      if (gen != self->generation || self->stopped) return;
      if (ec)
        return self->fail(ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
                              ? std::string("the PBX closed the connection")
                              : "read failed: " + ec.message());
      self->on_bytes(std::string_view(c->buffer.data(), n));
    });
  }

  void on_bytes(std::string_view bytes) {
    call_counts before = protocol->tracker().counts();
    feed_result r = protocol->feed(bytes, now_ms(), out);
    count_calls(before, protocol->tracker().counts(), settings.name);
    flush();
    if (!r.send.empty()) write(std::move(r.send));
    if (r.auth_failed) {
      count("auth_failures", settings.name);
      logger().error("{} ({}): {} refused the login: {} (check username / secret / password)",
                     settings.name, settings.type, peer(), r.fatal);
    }
    if (!r.fatal.empty()) return fail(r.fatal);
    if (r.ready && !is_ready) {
      is_ready = true;
      set_connected(true);
      backoff = settings.backoff_min;
      deadline.cancel();
      logger().info("{} ({}): logged in to {}, receiving call events", settings.name, settings.type,
                    peer());
    }
    read();
  }

  void write(std::string bytes) {
    connection& c = *conn;
    c.outbox += bytes;
    if (!c.writing.empty()) return;
    c.writing = std::move(c.outbox);
    c.outbox.clear();
    c.write([self = shared_from_this(), cp = conn, gen = generation](const error_code& ec,
                                                                     std::size_t) {
      if (gen != self->generation || self->stopped) return;
      cp->writing.clear();
      if (ec) return self->fail("write failed: " + ec.message());
      if (!cp->outbox.empty()) self->write({});
    });
  }

  void close() {
    error_code ignored;
    if (conn) conn->socket.close(ignored);
  }

  void fail(const std::string& reason) {
    if (stopped) return;
    close();
    deadline.cancel();
    ++generation;  // every handler of this connection is now stale
    is_ready = false;
    set_connected(false);
    logger().warn("{} ({}): {}: {}; reconnecting in {} ms", settings.name, settings.type, peer(),
                  reason, backoff.count());
    retry_timer.expires_after(backoff);
    retry_timer.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->connect();
    });
    backoff = std::min(backoff * 2, settings.backoff_max);
  }

  void tick() {
    ticker.expires_after(settings.tick);
    ticker.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec || self->stopped) return;
      call_counts before = self->protocol->tracker().counts();
      self->protocol->tick(now_ms(), self->out);
      count_calls(before, self->protocol->tracker().counts(), self->settings.name);
      self->flush();
      self->tick();
    });
  }

  // Publishes what the protocol mapped, each item with its own bounded retries.
  void flush() {
    for (auto& c : out.contacts) publish_contact(std::move(c), 1);
    if (ctx.agent_events)
      for (auto& e : out.agent_events) publish_event(std::move(e), 1);
    out.clear();
  }

  template <class Item, class Publish>
  void with_retry(Item item, int attempt, Publish publish) {
    publish(item, [self = shared_from_this(), item, attempt, publish](publish_status s) {
      if (acknowledged(s)) return;
      if (attempt >= self->settings.publish_attempts) {
        count("publish_failures", self->settings.name);
        logger().error("{}: Kafka did not store {} after {} attempts; giving it up",
                       self->settings.name, item.id, attempt);
        return;
      }
      asio::post(self->strand, [self, item, attempt, publish] {
        auto t = std::make_shared<asio::steady_timer>(self->strand, std::chrono::seconds(1));
        t->async_wait([self, t, item, attempt, publish](const error_code& ec) {
          if (!ec) self->with_retry(item, attempt + 1, publish);
        });
      });
    });
  }

  void publish_contact(core::contact c, int attempt) {
    with_retry(std::move(c), attempt, [p = ctx.publisher](const core::contact& x, auto done) {
      p->publish(x, std::move(done));
    });
  }
  void publish_event(core::agent_event e, int attempt) {
    with_retry(std::move(e), attempt,
               [p = ctx.agent_events](const core::agent_event& x, auto done) {
                 p->publish(x, std::move(done));
               });
  }
};

pbx_client::pbx_client(pbx_settings s, std::unique_ptr<pbx_protocol> protocol, context ctx)
    : settings_(std::move(s)), protocol_(std::move(protocol)), ctx_(std::move(ctx)) {}

pbx_client::~pbx_client() = default;

std::string_view pbx_client::type() const { return settings_.type; }
const std::string& pbx_client::name() const { return settings_.name; }
std::uint64_t pbx_client::connections() const {
  return session_ ? session_->connections.load() : 0;
}
bool pbx_client::ready() const { return session_ && session_->is_ready; }

std::optional<connector::peer_status> pbx_client::peer() const {
  if (ready()) return peer_status{true, ""};
  return peer_status{false, session_ ? "not logged in to " + session_->peer() : "not started"};
}

core::result<bool> pbx_client::start() {
  if (session_) return core::error{"already started", settings_.name};
  if (!ctx_.ioc || !ctx_.publisher)
    return core::error{"needs the io_context and the contact publisher", settings_.name};
  session_ = std::make_shared<session>(settings_, std::move(protocol_), ctx_);
  if (auto err = session_->prepare_tls()) return core::error{*err, session_->settings.name};
  logger().info("{} ({}): connecting to {}", session_->settings.name, session_->settings.type,
                session_->peer());
  asio::post(session_->strand, [s = session_] {
    s->connect();
    s->tick();
  });
  return true;
}

void pbx_client::stop() {
  if (!session_) return;
  asio::post(session_->strand, [s = session_] {
    s->stopped = true;
    s->set_connected(false);
    s->close();
    s->resolver.cancel();
    s->retry_timer.cancel();
    s->deadline.cancel();
    s->ticker.cancel();
  });
}

}  // namespace omni::connectors::telephony
