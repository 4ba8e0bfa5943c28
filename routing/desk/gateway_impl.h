#pragma once
// The gateway's private state (gateway::impl), the desk socket interface its parts share, and their
// helpers. The parts: gateway.cc (the Kafka side: reader thread, read model, pushes, produced
// events; start and stop), session.cc (one desk WebSocket session, login and logout across
// sockets) and rest.cc (the REST API and the desk page). Included only by those files.

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
#include "routing/desk/gateway.h"
#include "routing/desk/protocol.h"
#include "routing/desk/read_model.h"

namespace omni::routing::desk {

namespace asio = boost::asio;
namespace beast = boost::beast;
using nlohmann::json;
using namespace std::chrono_literals;

namespace detail {

inline spdlog::logger& logger() {
  static auto l = core::log::get("omni.desk");
  return *l;
}

using core::now_ms;

inline std::string random_id(std::string_view prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return std::string(prefix) + buf;
}

inline std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

inline std::optional<std::string_view> bearer(const core::http::request& r) {
  auto h = r.header("Authorization");
  if (!h) return std::nullopt;
  constexpr std::string_view prefix = "Bearer ";
  if (h->size() <= prefix.size() || !core::http::iequals(h->substr(0, prefix.size()), prefix))
    return std::nullopt;
  return h->substr(prefix.size());
}

}  // namespace detail

using detail::bearer;
using detail::dump;
using detail::logger;
using detail::now_ms;
using detail::random_id;

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

}  // namespace omni::routing::desk
