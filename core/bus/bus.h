#pragma once
// The Kafka bus: RAII producer and consumer over librdkafka, and topic names.
//
// Producer: idempotent, acks=all. produce() never blocks; the delivery report reaches the caller's
// handler exactly once, posted through the caller's executor (a function that schedules work, e.g.
// onto an asio strand), from the producer's own poll thread. A full local queue is back-pressure:
// produce() says queue_full and the caller answers 503 / waits, nothing is dropped silently.
//
// Consumer: offsets are stored only when the caller says a message is processed (store()), and
// committed from the stored offsets; cooperative-sticky assignment, with a synchronous commit of
// the stored offsets on revoke so the next owner starts where this one stopped. One owner thread
// calls poll(); rebalance notifications fire inside poll() on that thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace omni::core::bus {

struct settings {
  std::string brokers;                                // bootstrap list "host:port,..."
  std::map<std::string, std::string> client;          // extra librdkafka properties, passed through
  std::chrono::milliseconds delivery_timeout{30000};  // message.timeout.ms
};

// The four topics, named with the configured prefix ("omni." by default).
struct topic_names {
  std::string contacts, agent_events, assignments, outbound;
  // The router's snapshots of its domains (compacted; routing/service/README.md, "Snapshots").
  std::string snapshots;
  static topic_names with_prefix(std::string_view prefix);
  std::vector<std::string> all() const {
    return {contacts, agent_events, assignments, outbound, snapshots};
  }
};

struct delivery {
  bool ok = false;
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::string error;  // librdkafka's words when !ok
};

using delivery_handler = std::function<void(const delivery&)>;
// Schedules a function on the caller's executor. Empty: the handler runs on the poll thread.
using executor = std::function<void(std::function<void()>)>;

enum class produce_status { queued, queue_full, failed };

// How a producer treats records it cannot deliver yet.
enum class delivery_mode {
  // A record not acknowledged within settings::delivery_timeout fails its delivery report, so a
  // webhook can answer 503 in time. Records behind a failed one may still be stored: the topic
  // can show gaps (librdkafka INTRODUCTION.md, "Message timeout considerations").
  timely,
  // A log whose reader rebuilds state from it (the router's changelog): records never expire
  // (message.timeout.ms 0) and any error that could leave a gap is fatal to the producer
  // (enable.gapless.guarantee), after which every record fails and fatal() is true. What reaches
  // the topic is always a prefix of what was produced, in order.
  gapless,
};

class producer {
 public:
  static result<std::unique_ptr<producer>> create(const settings& s, const std::string& client_id,
                                                  delivery_mode mode = delivery_mode::timely);
  ~producer();
  producer(const producer&) = delete;
  producer& operator=(const producer&) = delete;

  produce_status produce(const std::string& topic, std::string_view key, std::string_view value,
                         delivery_handler on_delivery, const executor& post = {});
  // The same into an explicit partition (the router writes its changelog for input partition p
  // to partition p of omni.assignments, whatever the key hashes to).
  produce_status produce(const std::string& topic, std::int32_t partition, std::string_view key,
                         std::string_view value, delivery_handler on_delivery,
                         const executor& post = {});

  // Produces and waits for the delivery report (startup, tools and tests; not for hot paths).
  delivery produce_and_wait(const std::string& topic, std::string_view key, std::string_view value,
                            std::chrono::milliseconds timeout);

  // Waits until every queued message has a delivery report; false on timeout.
  bool flush(std::chrono::milliseconds timeout);
  std::size_t in_flight() const;
  // librdkafka raised a fatal error (gapless mode: a possible gap): this producer delivers nothing
  // more and must be replaced.
  bool fatal() const;
  // A metadata round trip to the cluster: true when a broker answered within the timeout.
  bool reachable(std::chrono::milliseconds timeout) const;

  struct impl;

 private:
  explicit producer(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

struct message {
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::string key;
  std::string value;
  std::int64_t timestamp_ms = -1;
};

struct topic_partition {
  std::string topic;
  std::int32_t partition = -1;
  bool operator==(const topic_partition&) const = default;
};

struct consumer_options {
  std::string group_id;
  std::vector<std::string> topics;
  bool from_beginning = true;  // auto.offset.reset when the group has no committed offset
  // partition.assignment.strategy. The router uses "range" so that partition p of every subscribed
  // topic lands on the same member (co-partitioned topics); cooperative-sticky does not promise
  // that.
  std::string assignment_strategy = "cooperative-sticky";
  // Called inside poll() on the owner's thread.
  std::function<void(const std::vector<topic_partition>&)> on_assigned;
  std::function<void(const std::vector<topic_partition>&)> on_revoked;
};

class consumer {
 public:
  static result<std::unique_ptr<consumer>> create(const settings& s, consumer_options options);
  ~consumer();  // closes: commits stored offsets and leaves the group
  consumer(const consumer&) = delete;
  consumer& operator=(const consumer&) = delete;

  // The next message, or nothing within the timeout. Errors are logged and counted, not returned.
  std::optional<message> poll(std::chrono::milliseconds timeout);
  // Marks the message processed: its offset + 1 becomes committable.
  void store(const message& m);
  // Commits the stored offsets now; false if the broker refused.
  bool commit();
  void close();
  std::vector<topic_partition> assignment() const;
  // The group's committed offset of a partition (-1: none yet); an error when the coordinator did
  // not answer within the timeout. Owner's thread (also inside on_assigned).
  result<std::int64_t> committed(const std::string& topic, std::int32_t partition,
                                 std::chrono::milliseconds timeout) const;

  struct impl;

 private:
  explicit consumer(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// Creates the topics that do not exist yet (CreateTopics), leaving existing ones alone; when all
// exist, one Metadata request is all it costs.
// `configs`: topic settings for a topic it creates (e.g. cleanup.policy=compact), by topic name.
result<bool> ensure_topics(
    const settings& s, const std::vector<std::string>& names, int partitions,
    std::chrono::milliseconds timeout,
    const std::map<std::string, std::map<std::string, std::string>>& configs = {});

// The broker's settings of each topic (DescribeConfigs): name -> value, defaults included. An
// error when the broker does not answer it (librdkafka's mock cluster does not).
result<std::map<std::string, std::map<std::string, std::string>>> topic_configs(
    const settings& s, const std::vector<std::string>& topics, std::chrono::milliseconds timeout);

// Each partition's low and high watermark (the first offset kept, the next offset to be written).
struct partition_offsets {
  std::int32_t partition = 0;
  std::int64_t low = 0;
  std::int64_t high = 0;
};
result<std::vector<partition_offsets>> watermarks(const settings& s, const std::string& topic,
                                                  std::chrono::milliseconds timeout);

// Messages currently in a topic (sum over partitions of high - low watermark): for tests, tools
// and benchmarks that need an exact count rather than "nothing more arrived for a while".
result<std::int64_t> message_count(const settings& s, const std::string& topic,
                                   std::chrono::milliseconds timeout);

// Reads one partition from `from_offset` (or its low watermark, if later) up to the high watermark
// seen when the call starts, calling `on_message` for each message in offset order; `on_message`
// returning false stops early. Uses a group-less consumer (nothing is committed). For rebuilding
// state from a changelog and for fetching one message by offset. Returns the number of messages
// read, or an error when the partition could not be read within `timeout`.
result<std::int64_t> read_partition(const settings& s, const std::string& topic,
                                    std::int32_t partition, std::int64_t from_offset,
                                    const std::function<bool(const message&)>& on_message,
                                    std::chrono::milliseconds timeout);

// librdkafka's version string, for `omniroute version`.
std::string librdkafka_version();

}  // namespace omni::core::bus
