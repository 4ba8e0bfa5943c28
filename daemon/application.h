#pragma once
// The omniroute process: builds every service in order, runs until told to stop, and stops them in
// reverse order (Redpanda's application.cc is the model). Owned by `omniroute serve`; one per
// process.
//
// Start order: logging -> Kafka (embedded cluster or external brokers, topics) -> producer ->
// public HTTP listener and connectors (ingest) -> router (router) -> desk gateway (gateway) ->
// admin listener -> READY. Stop order is the reverse, with a drain: stop accepting, let in-flight
// requests finish, flush the producer (every acknowledged contact is in Kafka), commit, exit 0.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"

namespace omni::daemon {

class application {
 public:
  application(config::omniroute_config cfg, std::filesystem::path config_path);
  ~application();
  application(const application&) = delete;
  application& operator=(const application&) = delete;

  // Starts every component; on failure returns what failed (and stops what had started).
  std::optional<std::string> start();
  // Serves until SIGTERM or SIGINT (SIGHUP reloads), then drains. Returns the exit code.
  int run();
  // Asks run() to return, as SIGTERM does. Thread-safe.
  void request_stop();

  // The Kafka bootstrap servers in use ("127.0.0.1:port" for the embedded cluster).
  std::string kafka_bootstrap() const;
  // The admin listener's port (useful when configured with port 0).
  std::uint16_t admin_port() const;
  // The public (connector) listener's port; 0 when this node runs no connectors.
  std::uint16_t http_port() const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace omni::daemon
