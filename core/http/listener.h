#pragma once
// The process's shared HTTP/1.1 listener: admin endpoints, webhook connectors, the agent desk and
// web chat all register handlers on one listener before it starts.
//
// This header keeps Beast out: only Asio's io_context and tcp endpoint are needed (the caller owns
// the io_context). Modules that take over a connection for a protocol upgrade (WebSocket) include
// "core/http/upgrade.h", which does pull in Beast.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/http/message.h"

namespace omni::core::http {

class upgrade;

// A request handler. Called on the connection's strand; must not block and should not throw
// (an exception is caught, counted in handler_exceptions and answered 500 if nothing was sent).
// Complete the request, now or later and from any thread, through the responder.
using handler = std::function<void(request, responder)>;

// Called for a request carrying `Connection: upgrade` + `Upgrade:` on a path registered with
// add_upgrade(). The handler owns the connection from then on; see core/http/upgrade.h.
using upgrade_handler = std::function<void(std::unique_ptr<upgrade>)>;

struct tls_settings {
  std::string certificate_chain_file;  // PEM: leaf certificate first, then intermediates
  std::string private_key_file;        // PEM
};

// Beast stores a header field's length in 16 bits (and throws on a longer one), so no header
// limit above this is honoured: settings::header_limit is clamped to it.
inline constexpr std::size_t max_header_limit = 65535;

// Listener configuration. Every limit is enforced per connection; all timeouts are deadlines for
// a whole phase (not reset by each byte), so a slow client cannot stretch them.
struct settings {
  std::string address = "127.0.0.1";                // IP literal or host name resolved at start()
  std::uint16_t port = 0;                           // 0: pick a free port; see listener::port()
  std::size_t max_connections = 1024;               // open connections (including upgraded ones)
  std::size_t header_limit = 16 * 1024;             // request head, chunk line, trailer; over: 431
  std::size_t body_limit = 1024 * 1024;             // body bytes (after de-chunking); over it: 413
  std::chrono::milliseconds read_timeout{10'000};   // first byte -> complete request; TLS handshake
  std::chrono::milliseconds idle_timeout{60'000};   // waiting for a (next) request
  std::chrono::milliseconds write_timeout{10'000};  // writing one response
  std::chrono::milliseconds handler_timeout{30'000};  // request dispatched -> response; then 503
  std::chrono::milliseconds shutdown_timeout{5'000};  // stop(): in-flight grace, then force close
  int backlog = 1024;
  std::string server_name = "omniroute";  // Server header; empty: none
  std::optional<tls_settings> tls;        // set: every connection speaks TLS
};

// Counters, updated with relaxed atomics from any io thread; read them at any time.
struct listener_stats {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_rejected_limit{0};  // over max_connections
  std::atomic<std::uint64_t> active_connections{0};          // gauge
  std::atomic<std::uint64_t> requests{0};  // complete requests routed (handler, 404, 405, upgrade)
  std::atomic<std::uint64_t> responses_2xx{0};
  std::atomic<std::uint64_t> responses_3xx{0};
  std::atomic<std::uint64_t> responses_4xx{0};
  std::atomic<std::uint64_t> responses_5xx{0};
  std::atomic<std::uint64_t> rejected_413{0};   // body over body_limit
  std::atomic<std::uint64_t> rejected_431{0};   // header over header_limit
  std::atomic<std::uint64_t> rejected_400{0};   // malformed, smuggling attempt
  std::atomic<std::uint64_t> timeouts{0};       // read/write/handshake deadline passed mid-request
  std::atomic<std::uint64_t> idle_timeouts{0};  // keep-alive connection closed for idleness
  std::atomic<std::uint64_t> handler_timeouts{0};  // handler did not answer in time: 503
  std::atomic<std::uint64_t> tls_handshake_failures{0};
  std::atomic<std::uint64_t> handler_exceptions{0};
  std::atomic<std::uint64_t> upgrades{0};  // connections handed to an upgrade handler
  std::atomic<std::uint64_t> accept_errors{0};
};

// A start() failure: what failed, in words an operator can act on.
struct listen_error {
  std::error_code code;
  std::string message;  // e.g. "bind 0.0.0.0:8080: Address already in use" (caller adds context)
};

// Owns the acceptor and tracks its connections. Every member is thread-safe. The acceptor runs on
// a strand of `ioc`, which may be run by any number of threads. Connections run either on their
// own strands of `ioc` or, when `connection_contexts` is given, on those io_contexts, spread
// round-robin; each of them must be run by exactly one thread, so a connection needs no strand
// and never hops between threads (no wake-up of another thread per step). Every io_context must
// outlive the listener; connections still draining at destruction are force-closed and keep
// only shared internals alive.
class listener {
 public:
  listener(boost::asio::io_context& ioc, settings s,
           std::vector<boost::asio::io_context*> connection_contexts = {});
  ~listener();
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

  // Registration, before or after start() (a reload adds and removes connectors' routes while
  // the listener serves): a change applies to requests routed after it; a request already routed
  // finishes with the handler it found. Registering a path again replaces that method's handler.
  // Exact paths win over prefixes; the longest prefix wins among prefixes. `method::any` matches
  // every method not registered explicitly. A GET handler also serves HEAD (body dropped).
  // False only for an empty handler.
  bool add(method m, std::string path, handler h);
  bool add_prefix(method m, std::string prefix, handler h);
  bool add_upgrade(std::string path, upgrade_handler h);
  // Removes every route (exact, prefix, upgrade; all methods) registered at exactly `path`;
  // returns how many were removed.
  std::size_t remove(const std::string& path);
  // Every registered path (exact, prefix and upgrade), sorted, without duplicates.
  std::vector<std::string> paths() const;

  // Loads TLS material, binds and starts accepting. Never throws.
  [[nodiscard]] std::optional<listen_error> start();

  // Graceful stop, non-blocking, idempotent: stop accepting, close idle keep-alive connections,
  // let in-flight requests finish (answered with Connection: close) until shutdown_timeout, then
  // force-close the rest. Connections already handed to an upgrade handler are not touched.
  void stop();
  // Blocks until every connection of this listener is closed, or `timeout`. Must not be called
  // from a thread that runs the io_context unless other threads run it too.
  bool wait_stopped(std::chrono::milliseconds timeout);
  // Calls `done` once, on an io thread, when stop() has completed (immediately if it has).
  void on_stopped(std::function<void()> done);

  // The bound endpoint after a successful start() (port 0 resolved to the real port).
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  std::uint16_t port() const;

  const listener_stats& stats() const;
  const settings& config() const;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace omni::core::http
