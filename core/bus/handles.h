#pragma once
// unique_ptr deleters for librdkafka's C handles, so every one of them is released exactly once.

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>

namespace omni::core::bus {

struct kafka_deleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
  void operator()(rd_kafka_NewTopic_t* t) const { rd_kafka_NewTopic_destroy(t); }
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
  void operator()(rd_kafka_ConfigResource_t* r) const { rd_kafka_ConfigResource_destroy(r); }
};

using kafka_ptr = std::unique_ptr<rd_kafka_t, kafka_deleter>;
using conf_ptr = std::unique_ptr<rd_kafka_conf_t, kafka_deleter>;
using partition_list_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, kafka_deleter>;
using message_ptr = std::unique_ptr<rd_kafka_message_t, kafka_deleter>;
using queue_ptr = std::unique_ptr<rd_kafka_queue_t, kafka_deleter>;
using event_ptr = std::unique_ptr<rd_kafka_event_t, kafka_deleter>;

// Sets one property; returns librdkafka's error text, empty on success.
inline std::string set_property(rd_kafka_conf_t* conf, const std::string& key,
                                const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
    return std::string("kafka property '") + key + "': " + err;
  return {};
}

// Forwards librdkafka's log lines to the omni.kafka logger.
void install_log_callback(rd_kafka_conf_t* conf);

}  // namespace omni::core::bus
