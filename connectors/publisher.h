#pragma once
// contact_publisher: how connectors hand contacts to Kafka. The answer comes only once Kafka has
// stored the contact (or failed to), so a connector acknowledges its source only then.
//
// The Kafka implementation also remembers recently stored contact ids: a provider's re-delivery
// of a message already stored is answered "stored" without producing it again, and a duplicate
// arriving while the first is still in flight waits for the same delivery report.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "core/bus/bus.h"
#include "core/events/events.h"
#include "core/metrics/metrics.h"
#include "core/recent_ids.h"

namespace omni::connectors {

enum class publish_status {
  stored,     // Kafka acknowledged it (or had it already)
  duplicate,  // stored earlier; nothing produced now
  busy,       // local queue full: back-pressure, ask the source to retry (503 + Retry-After)
  failed,     // Kafka refused or timed out: ask the source to retry
};
bool acknowledged(publish_status s);  // stored or duplicate

using publish_callback = std::function<void(publish_status)>;

class contact_publisher {
 public:
  virtual ~contact_publisher() = default;
  // `done` is called exactly once, from any thread.
  virtual void publish(const core::contact& c, publish_callback done) = 0;
};

// Publishes to the contacts topic keyed by domain, with the recent-id memory described above.
// Thread-safe. Owned by the daemon; outlives connectors and is destroyed after the producer flush.
class kafka_contact_publisher : public contact_publisher {
 public:
  kafka_contact_publisher(core::bus::producer& producer, std::string topic,
                          std::size_t remember = 100000);
  void publish(const core::contact& c, publish_callback done) override;

 private:
  // omniroute_contacts_received_total{channel,provider}, looked up once per pair (mutex_ held).
  core::metrics::counter& received(const core::contact& c);

  core::bus::producer& producer_;
  std::string topic_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::vector<publish_callback>> in_flight_;
  core::recent_ids stored_;  // the last `remember` stored ids
  std::vector<std::tuple<core::channel, std::string, core::metrics::counter*>> received_;
};

// agent_event_publisher: how a connector that sees what agents do on their own equipment (a PBX
// saying who answered or hung up a call) reports it to the router as omni.agent_event.v1.
class agent_event_publisher {
 public:
  virtual ~agent_event_publisher() = default;
  // `done` is called exactly once, from any thread: stored, busy or failed.
  virtual void publish(const core::agent_event& e, publish_callback done) = 0;
};

// Publishes to the agent events topic keyed by domain, as the desk gateway does. Thread-safe; owned
// by the daemon next to the contact publisher. The router deduplicates agent events by id.
class kafka_agent_event_publisher : public agent_event_publisher {
 public:
  kafka_agent_event_publisher(core::bus::producer& producer, std::string topic)
      : producer_(producer), topic_(std::move(topic)) {}
  void publish(const core::agent_event& e, publish_callback done) override;

 private:
  core::bus::producer& producer_;
  std::string topic_;
};

// Calls `done` once after every contact in `contacts` has an answer: stored when all were
// acknowledged, else the worst status. With no contacts, `done(stored)` at once.
void publish_all(contact_publisher& p, const std::vector<core::contact>& contacts,
                 publish_callback done);

}  // namespace omni::connectors
