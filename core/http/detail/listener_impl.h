#pragma once
// The listener's shared internals (listener::impl), the route table and the interface it uses to
// stop connections: shared by listener.cc (accepting, routes, start and stop) and session.cc (one
// connection's requests and responses). Not part of the module's API.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include <unistd.h>

#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/http/listener.h"

namespace omni::core::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace detail {

inline void bump(std::atomic<std::uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

// The set of handlers registered for one path or prefix.
struct route {
  std::map<method, handler> by_method;
};

struct route_table {
  std::unordered_map<std::string, route> exact;
  std::vector<std::pair<std::string, route>> prefixes;  // longest first
  std::unordered_map<std::string, upgrade_handler> upgrades;

  // Route lookup; nullptr when no route matches the path.
  const route* find(std::string_view path) const {
    if (auto it = exact.find(std::string(path)); it != exact.end()) return &it->second;
    for (const auto& [prefix, r] : prefixes) {
      if (path.substr(0, prefix.size()) == prefix) return &r;
    }
    return nullptr;
  }
};

}  // namespace detail

using detail::bump;
using detail::route;
using detail::route_table;

// Interface the listener uses to stop connections of either stream kind.
class connection_base {
 public:
  virtual ~connection_base() = default;
  virtual void graceful_stop() = 0;  // any thread
  virtual void force_close() = 0;    // any thread
};

// Shared internals: outlive the listener while connections drain.
struct listener::impl : std::enable_shared_from_this<listener::impl> {
  impl(asio::io_context& c, settings s, std::vector<asio::io_context*> contexts)
      : ioc(c),
        connection_contexts(std::move(contexts)),
        cfg(std::move(s)),
        acceptor(asio::make_strand(c)),
        stop_timer(acceptor.get_executor()) {}

  void do_accept();
  void on_accept(error_code ec, tcp::socket socket);
  void reject_connection(tcp::socket& socket);
  void begin_stop();
  void force_close_all();
  void check_stopped();  // call without mu held
  std::vector<std::shared_ptr<connection_base>> snapshot();

  // The routes in force. Replaced whole (copy on write) when a route is added or removed, so a
  // request keeps the table it looked up until its handler returned.
  std::shared_ptr<const route_table> routes() const {
    std::lock_guard lock(routes_mu);
    return table;
  }
  template <class F>
  void edit_routes(F&& f) {
    std::lock_guard lock(routes_mu);
    auto next = std::make_shared<route_table>(*table);
    f(*next);
    std::stable_sort(next->prefixes.begin(), next->prefixes.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    table = std::move(next);
  }

  // Moves an accepted socket to the next single-threaded context (round-robin). The accept
  // itself completes on the acceptor's strand with a socket of `ioc`: a pending accept never holds
  // a socket of another context, whichever io_context is destroyed first at shutdown.
  tcp::socket to_connection_context(tcp::socket socket, error_code& ec) {
    auto* c = connection_contexts[next_context++ % connection_contexts.size()];
    const auto protocol = bound.protocol();
    auto fd = socket.release(ec);
    if (ec) return socket;
    tcp::socket moved(*c);
    moved.assign(protocol, fd, ec);
    if (ec) ::close(fd);
    return moved;
  }

  asio::io_context& ioc;
  const std::vector<asio::io_context*> connection_contexts;  // each run by one thread
  std::size_t next_context = 0;                              // acceptor strand
  const settings cfg;
  listener_stats stats;

  mutable std::mutex routes_mu;
  std::shared_ptr<const route_table> table = std::make_shared<route_table>();
  std::optional<asio::ssl::context> tls;

  tcp::acceptor acceptor;         // on its own strand
  asio::steady_timer stop_timer;  // same strand: accept back-off and stop deadline
  tcp::endpoint bound;
  std::atomic<bool> started{false};
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> next_request_id{0};
  std::uint64_t next_connection_id = 0;  // acceptor strand

  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<std::uint64_t, std::weak_ptr<connection_base>> connections;
  bool accepting = false;
  bool stopped = false;
  std::vector<std::function<void()>> stopped_callbacks;
};

namespace detail {

// Makes the connection for an accepted socket (TLS when the listener has a TLS context) and starts
// it; `slot` counts it against max_connections for as long as it lives. session.cc.
std::shared_ptr<connection_base> start_connection(std::shared_ptr<listener::impl> owner,
                                                  std::uint64_t id, const tcp::endpoint& remote,
                                                  tcp::socket socket, std::shared_ptr<void> slot);

}  // namespace detail

}  // namespace omni::core::http
