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

  struct impl;

 private:
  explicit embedded_cluster(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace omni::core::bus
