#include "core/bus/embedded_cluster.h"

// clang-format off
#include "core/bus/handles.h"  // rdkafka.h, which rdkafka_mock.h requires first
#include <librdkafka/rdkafka_mock.h>
// clang-format on

#include <vector>

namespace omni::core::bus {

struct embedded_cluster::impl {
  int brokers = 0;
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
  p->brokers = brokers;
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

int embedded_cluster::brokers() const { return impl_->brokers; }

namespace {
result<bool> checked(rd_kafka_resp_err_t e, const std::string& what) {
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return error{what + ": " + rd_kafka_err2str(e), ""};
  return true;
}
}  // namespace

result<bool> embedded_cluster::set_broker_up(int broker, bool up) {
  if (broker < 1 || broker > impl_->brokers) return error{"no such broker", "broker"};
  return checked(up ? rd_kafka_mock_broker_set_up(impl_->cluster, broker)
                    : rd_kafka_mock_broker_set_down(impl_->cluster, broker),
                 "broker " + std::to_string(broker));
}

result<bool> embedded_cluster::set_leader(const std::string& topic, int partition, int broker) {
  if (broker < 1 || broker > impl_->brokers) return error{"no such broker", "broker"};
  return checked(
      rd_kafka_mock_partition_set_leader(impl_->cluster, topic.c_str(), partition, broker),
      topic + "[" + std::to_string(partition) + "]");
}

result<bool> embedded_cluster::fail_requests(int api_key, int count, int error_code) {
  if (api_key < 0 || api_key > 100) return error{"no such Kafka API", "api"};
  if (count < 0 || count > 100000) return error{"must be 0..100000", "count"};
  rd_kafka_mock_clear_request_errors(impl_->cluster, static_cast<int16_t>(api_key));
  if (count == 0) return true;
  std::vector<rd_kafka_resp_err_t> errors(static_cast<std::size_t>(count),
                                          static_cast<rd_kafka_resp_err_t>(error_code));
  rd_kafka_mock_push_request_errors_array(impl_->cluster, static_cast<int16_t>(api_key),
                                          errors.size(), errors.data());
  return true;
}

result<bool> embedded_cluster::set_latency(int broker, int ms) {
  if (broker < 1 || broker > impl_->brokers) return error{"no such broker", "broker"};
  if (ms < 0 || ms > 600000) return error{"must be 0..600000", "ms"};
  return checked(rd_kafka_mock_broker_set_rtt(impl_->cluster, broker, ms),
                 "broker " + std::to_string(broker));
}

}  // namespace omni::core::bus
