#pragma once
// The embedded Kafka: librdkafka's mock cluster (rdkafka_mock.h) running inside this process and
// speaking the real Kafka wire protocol on loopback, so kcat and any Kafka client can use it.
// Data lives in memory only: for trying omniroute out, demos and tests, never production.
// Owned by the application (or `omniroute dev-kafka`); its brokers run on librdkafka's own threads.

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"

namespace omni::core::bus {

class embedded_cluster {
 public:
  static result<std::unique_ptr<embedded_cluster>> start(int brokers);
  ~embedded_cluster();
  embedded_cluster(const embedded_cluster&) = delete;
  embedded_cluster& operator=(const embedded_cluster&) = delete;

  // "127.0.0.1:port[,...]": what clients use as bootstrap.servers.
  std::string bootstrap() const;
  result<bool> create_topic(const std::string& name, int partitions);
  result<bool> create_topics(const std::vector<std::string>& names, int partitions);

  // Fault injection (librdkafka's mock cluster), for tests of what the daemon does when Kafka
  // misbehaves; `omniroute dev-kafka --admin-port` serves these over HTTP. Broker ids are 1..N.
  int brokers() const;
  // Down: the broker drops its connections and refuses new ones until it is up again.
  result<bool> set_broker_up(int broker, bool up);
  // Moves a partition's leadership to `broker`.
  result<bool> set_leader(const std::string& topic, int partition, int broker);
  // The next `count` requests of Kafka API `api_key` (0 Produce, 1 Fetch, 3 Metadata, ...) to
  // any broker fail with the Kafka error code `error` (e.g. 6 NOT_LEADER_OR_FOLLOWER, 7
  // REQUEST_TIMED_OUT); count 0 clears what is left.
  result<bool> fail_requests(int api_key, int count, int error);
  // Adds `ms` of latency to every answer of `broker` (0: none).
  result<bool> set_latency(int broker, int ms);

  struct impl;

 private:
  explicit embedded_cluster(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace omni::core::bus
