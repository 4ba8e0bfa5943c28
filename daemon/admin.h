#pragma once
// The admin endpoint (127.0.0.1 by default): /healthz (the process is alive), /readyz (Kafka
// reachable and every component started; JSON body saying which is not) and /metrics (Prometheus
// text). Handlers only read health_state, which the application updates.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/http/listener.h"

namespace omni::daemon {

// What /healthz and /readyz report. Written by the application, read by admin handlers on io
// threads: every member is guarded.
class health_state {
 public:
  void set_version(std::string v);
  void set_bootstrap(std::string b);
  void set_kafka_reachable(bool up) { kafka_reachable_ = up; }
  bool kafka_reachable() const { return kafka_reachable_; }
  void set_component(const std::string& name, bool started);
  void remove_component(const std::string& name);  // a connector removed by a reload
  void set_started(bool s) { started_ = s; }

  bool ready() const;
  std::string healthz_json() const;
  std::string readyz_json() const;

 private:
  mutable std::mutex mutex_;
  std::string version_;
  std::string bootstrap_;
  std::map<std::string, bool> components_;
  std::atomic<bool> kafka_reachable_{false};
  std::atomic<bool> started_{false};
  std::chrono::steady_clock::time_point born_ = std::chrono::steady_clock::now();
};

// Adds /healthz, /readyz and /metrics. With a token, /metrics (and later admin APIs) need
// `Authorization: Bearer <token>`; the probes stay open so a load balancer can use them.
void register_admin_routes(core::http::listener& l, std::shared_ptr<health_state> health,
                           std::optional<std::string> token);

// Publishes a listener's counters as omniroute_http_* series labelled {listener="name"}.
void export_listener_metrics(const core::http::listener& l, const std::string& name);
void unexport_listener_metrics(const std::string& name);

// Constant-time comparison for tokens and signatures.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace omni::daemon
