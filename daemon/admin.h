#pragma once
// The admin endpoint (127.0.0.1 by default): /healthz (the process is alive), /readyz (Kafka
// reachable and every component able to do its job; JSON body saying which is not, and which
// connector peers are down) and /metrics (Prometheus
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
  // A part the node needs to do its job (kafka, router, gateway, outbound): /readyz is 503 while
  // one is not ready. `state` is what /readyz shows for it; default "started" / "not started".
  void set_component(const std::string& name, bool ready, std::string state = {});
  // A connector's link to its peer (an IMAP server, a PBX): shown in /readyz under "peers", but a
  // peer that is down does not make the node unready, since the other connectors' traffic still
  // flows.
  void set_peer(const std::string& name, bool connected, std::string state = {});
  void remove_component(const std::string& name);  // a connector removed by a reload
  void set_started(bool s) { started_ = s; }

  bool ready() const;
  std::string healthz_json() const;
  std::string readyz_json() const;

 private:
  mutable std::mutex mutex_;
  std::string version_;
  std::string bootstrap_;
  struct status {
    bool ready = false;
    std::string state;
  };
  std::map<std::string, status> components_;
  std::map<std::string, status> peers_;
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
