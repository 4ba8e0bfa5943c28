#include "daemon/admin.h"

#include <openssl/crypto.h>

#include <nlohmann/json.hpp>

#include "core/metrics/metrics.h"

namespace omni::daemon {

namespace http = core::http;
using json = nlohmann::json;

void health_state::set_version(std::string v) {
  std::lock_guard lock(mutex_);
  version_ = std::move(v);
}

void health_state::set_bootstrap(std::string b) {
  std::lock_guard lock(mutex_);
  bootstrap_ = std::move(b);
}

void health_state::set_component(const std::string& name, bool ready, std::string state) {
  if (state.empty()) state = ready ? "started" : "not started";
  std::lock_guard lock(mutex_);
  components_[name] = {ready, std::move(state)};
}

void health_state::set_peer(const std::string& name, bool connected, std::string state) {
  if (state.empty()) state = connected ? "connected" : "disconnected";
  std::lock_guard lock(mutex_);
  peers_[name] = {connected, std::move(state)};
}

void health_state::remove_component(const std::string& name) {
  std::lock_guard lock(mutex_);
  components_.erase(name);
  peers_.erase(name);
}

bool health_state::ready() const {
  if (!started_ || !kafka_reachable_) return false;
  std::lock_guard lock(mutex_);
  for (const auto& [name, s] : components_)
    if (!s.ready) return false;
  return true;
}

std::string health_state::healthz_json() const {
  std::lock_guard lock(mutex_);
  auto up =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - born_);
  return json{{"status", "ok"}, {"version", version_}, {"uptime_seconds", up.count()}}.dump();
}

std::string health_state::readyz_json() const {
  bool is_ready = ready();
  std::lock_guard lock(mutex_);
  json components = json::object();
  for (const auto& [name, s] : components_) components[name] = s.state;
  json peers = json::object();
  for (const auto& [name, s] : peers_) peers[name] = s.state;
  return json{{"ready", is_ready},
              {"kafka", {{"bootstrap", bootstrap_}, {"reachable", kafka_reachable_.load()}}},
              {"started", started_.load()},
              {"components", components},
              {"peers", peers}}
      .dump();
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void register_admin_routes(http::listener& l, std::shared_ptr<health_state> health,
                           std::optional<std::string> token) {
  l.add(http::method::get, "/healthz", [health](http::request, http::responder r) {
    r.send(http::response::json(200, health->healthz_json()));
  });
  l.add(http::method::get, "/readyz", [health](http::request, http::responder r) {
    r.send(http::response::json(health->ready() ? 200 : 503, health->readyz_json()));
  });
  l.add(http::method::get, "/metrics", [token](http::request req, http::responder r) {
    if (token) {
      auto auth = req.header("Authorization").value_or("");
      if (!constant_time_equal(auth, "Bearer " + *token)) {
        auto resp = http::response::error(401, "admin token required");
        resp.headers.set("WWW-Authenticate", "Bearer");
        r.send(std::move(resp));
        return;
      }
    }
    auto resp = http::response::text(200, core::metrics::global().render());
    resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.send(std::move(resp));
  });
}

namespace {
struct listener_series {
  const char* name;
  const char* help;
  bool counter;
  const std::atomic<std::uint64_t> http::listener_stats::*field;
};

const listener_series series[] = {
    {"omniroute_http_connections_accepted_total", "Connections accepted.", true,
     &http::listener_stats::connections_accepted},
    {"omniroute_http_connections_rejected_total", "Connections refused over max_connections.", true,
     &http::listener_stats::connections_rejected_limit},
    {"omniroute_http_connections_active", "Open connections.", false,
     &http::listener_stats::active_connections},
    {"omniroute_http_requests_total", "Requests routed.", true, &http::listener_stats::requests},
    {"omniroute_http_rejected_body_too_large_total", "Requests refused with 413.", true,
     &http::listener_stats::rejected_413},
    {"omniroute_http_rejected_headers_too_large_total", "Requests refused with 431.", true,
     &http::listener_stats::rejected_431},
    {"omniroute_http_rejected_malformed_total", "Requests refused with 400.", true,
     &http::listener_stats::rejected_400},
    {"omniroute_http_timeouts_total", "Connections cut by a read/write deadline.", true,
     &http::listener_stats::timeouts},
    {"omniroute_http_handler_errors_total", "Handlers that threw.", true,
     &http::listener_stats::handler_exceptions},
    {"omniroute_http_tls_handshake_failures_total", "Failed TLS handshakes.", true,
     &http::listener_stats::tls_handshake_failures},
};
}  // namespace

void export_listener_metrics(const http::listener& l, const std::string& name) {
  auto& reg = core::metrics::global();
  const http::listener_stats* stats = &l.stats();
  for (const auto& s : series) {
    auto read = [stats, f = s.field] { return static_cast<double>((stats->*f).load()); };
    if (s.counter)
      reg.callback_counter(s.name, s.help, {{"listener", name}}, read);
    else
      reg.callback_gauge(s.name, s.help, {{"listener", name}}, read);
  }
  const std::pair<const char*, const std::atomic<std::uint64_t> http::listener_stats::*> classes[] =
      {{"2xx", &http::listener_stats::responses_2xx},
       {"3xx", &http::listener_stats::responses_3xx},
       {"4xx", &http::listener_stats::responses_4xx},
       {"5xx", &http::listener_stats::responses_5xx}};
  for (const auto& [cls, field] : classes)
    reg.callback_counter("omniroute_http_responses_total", "Responses by status class.",
                         {{"listener", name}, {"class", cls}},
                         [stats, f = field] { return static_cast<double>((stats->*f).load()); });
}

void unexport_listener_metrics(const std::string& name) {
  auto& reg = core::metrics::global();
  for (const auto& s : series) reg.drop_callback(s.name, {{"listener", name}});
  for (const char* cls : {"2xx", "3xx", "4xx", "5xx"})
    reg.drop_callback("omniroute_http_responses_total", {{"listener", name}, {"class", cls}});
}

}  // namespace omni::daemon
