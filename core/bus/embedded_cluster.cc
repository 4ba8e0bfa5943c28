#include "core/bus/embedded_cluster.h"

// clang-format off
#include "core/bus/handles.h"  // rdkafka.h, which rdkafka_mock.h requires first
#include <librdkafka/rdkafka_mock.h>
// clang-format on

namespace omni::core::bus {

struct embedded_cluster::impl {
  kafka_ptr rk;  // the handle the mock cluster runs on; destroyed after the cluster
  rd_kafka_mock_cluster_t* cluster = nullptr;
  ~impl() {
    if (cluster) rd_kafka_mock_cluster_destroy(cluster);
  }
};

embedded_cluster::embedded_cluster(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
embedded_cluster::~embedded_cluster() = default;

result<std::unique_ptr<embedded_cluster>> embedded_cluster::start(int brokers) {
  if (brokers < 1 || brokers > 16)
    return error{"must be between 1 and 16", "kafka.embedded.brokers"};
  conf_ptr conf(rd_kafka_conf_new());
  install_log_callback(conf.get());
  set_property(conf.get(), "log_level",
               "4");  // its own client has no bootstrap: not worth a notice
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
  if (!rk) return error{std::string("cannot start the embedded Kafka: ") + err, "kafka"};
  (void)conf.release();
  auto p = std::make_unique<impl>();
  p->rk.reset(rk);
  p->cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (!p->cluster) return error{"cannot start the embedded Kafka (mock cluster refused)", "kafka"};
  return std::unique_ptr<embedded_cluster>(new embedded_cluster(std::move(p)));
}

std::string embedded_cluster::bootstrap() const {
  return rd_kafka_mock_cluster_bootstraps(impl_->cluster);
}

result<bool> embedded_cluster::create_topic(const std::string& name, int partitions) {
  if (partitions < 1) return error{"must be at least 1", "kafka.partitions"};
  auto e = rd_kafka_mock_topic_create(impl_->cluster, name.c_str(), partitions, 1);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
    return error{"cannot create topic " + name + ": " + rd_kafka_err2str(e), "kafka"};
  return true;
}

result<bool> embedded_cluster::create_topics(const std::vector<std::string>& names,
                                             int partitions) {
  for (const auto& n : names)
    if (auto r = create_topic(n, partitions); !r) return r;
  return true;
}

}  // namespace omni::core::bus
