#pragma once
// `omniroute dev-kafka`: the embedded Kafka cluster as a process of its own, so tests (and
// developers) can kill and restart the daemon without losing the broker's data, and make Kafka
// misbehave on purpose through a small admin interface (brokers down and up, leaders moved,
// requests failed, latency).

#include <cstdint>
#include <string>

namespace omni::daemon {

struct dev_kafka_options {
  int brokers = 1;
  int partitions = 6;
  std::string topic_prefix = "omni.";
  std::uint16_t port = 0;        // when set, a bootstrap relay listens on 127.0.0.1:port
  std::string bootstrap_file;    // when set, the bootstrap address is written there once ready
  std::uint16_t admin_port = 0;  // when set, fault injection over HTTP on 127.0.0.1:admin_port
};

// Runs until SIGTERM/SIGINT. Returns the exit code.
int run_dev_kafka(const dev_kafka_options& options);

}  // namespace omni::daemon
