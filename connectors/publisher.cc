#include "connectors/publisher.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <optional>

#include "core/events/codec.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace omni::connectors {

bool acknowledged(publish_status s) {
  return s == publish_status::stored || s == publish_status::duplicate;
}

namespace {
core::metrics::counter& duplicates(const core::contact& c) {
  return core::metrics::global().counter_of(
      "omniroute_contacts_duplicate_total",
      "Re-delivered contacts recognized by id and not produced again.", {{"provider", c.provider}});
}
}  // namespace

kafka_contact_publisher::kafka_contact_publisher(core::bus::producer& producer, std::string topic,
                                                 std::size_t remember)
    : producer_(producer), topic_(std::move(topic)), stored_(remember) {}

core::metrics::counter& kafka_contact_publisher::received(const core::contact& c) {
  for (auto& [chan, provider, counter] : received_)
    if (chan == c.chan && provider == c.provider) return *counter;
  auto& counter = core::metrics::global().counter_of(
      "omniroute_contacts_received_total", "Contacts stored in Kafka, by channel and provider.",
      {{"channel", std::string(core::to_string(c.chan))}, {"provider", c.provider}});
  received_.emplace_back(c.chan, c.provider, &counter);
  return counter;
}

void kafka_contact_publisher::publish(const core::contact& mapped, publish_callback done) {
  // Clamped only when something is over the limits: the common contact is encoded as mapped,
  // without a copy.
  std::optional<core::contact> clamped;
  if (!core::within_limits(mapped)) {
    clamped.emplace(mapped);
    core::clamp_to_limits(*clamped);
  }
  const core::contact& c = clamped ? *clamped : mapped;
  core::metrics::counter* received_counter = nullptr;
  {
    std::unique_lock lock(mutex_);
    if (stored_.contains(c.id)) {
      lock.unlock();
      duplicates(c).inc();
      done(publish_status::duplicate);
      return;
    }
    auto [it, fresh] = in_flight_.try_emplace(c.id);
    if (!fresh) {
      duplicates(c).inc();
      it->second.push_back(std::move(done));
      return;
    }
    it->second.push_back(std::move(done));
    received_counter = &received(c);
  }
  auto& counter = *received_counter;
  auto st = producer_.produce(topic_, c.domain, core::encode(c),
                              [this, id = c.id, &counter](const core::bus::delivery& d) {
                                std::vector<publish_callback> waiting;
                                {
                                  std::lock_guard lock(mutex_);
                                  if (auto n = in_flight_.extract(id); !n.empty())
                                    waiting = std::move(n.mapped());
                                  if (d.ok) stored_.insert(id);
                                }
                                if (d.ok) counter.inc();
                                for (auto& w : waiting)
                                  w(d.ok ? publish_status::stored : publish_status::failed);
                              });
  if (st == core::bus::produce_status::queued) return;
  std::vector<publish_callback> waiting;
  {
    std::lock_guard lock(mutex_);
    if (auto n = in_flight_.extract(c.id); !n.empty()) waiting = std::move(n.mapped());
  }
  auto status =
      st == core::bus::produce_status::queue_full ? publish_status::busy : publish_status::failed;
  for (auto& w : waiting) w(status);
}

void kafka_agent_event_publisher::publish(const core::agent_event& e, publish_callback done) {
  auto st =
      producer_.produce(topic_, e.domain, core::encode(e), [done](const core::bus::delivery& d) {
        done(d.ok ? publish_status::stored : publish_status::failed);
      });
  if (st == core::bus::produce_status::queue_full)
    done(publish_status::busy);
  else if (st == core::bus::produce_status::failed)
    done(publish_status::failed);
}

void publish_all(contact_publisher& p, const std::vector<core::contact>& contacts,
                 publish_callback done) {
  if (contacts.empty()) return done(publish_status::stored);
  struct join {
    std::atomic<std::size_t> left;
    std::atomic<int> worst{0};
    std::atomic<bool> all_duplicates{true};
    publish_callback done;
  };
  auto j = std::make_shared<join>();
  j->left = contacts.size();
  j->done = std::move(done);
  for (const auto& c : contacts) {
    p.publish(c, [j](publish_status s) {
      // Severity order: stored/duplicate < busy < failed.
      int rank = s == publish_status::failed ? 2 : s == publish_status::busy ? 1 : 0;
      if (s != publish_status::duplicate) j->all_duplicates = false;
      int cur = j->worst.load();
      while (rank > cur && !j->worst.compare_exchange_weak(cur, rank)) {
      }
      if (--j->left == 0) {
        int w = j->worst.load();
        j->done(w == 2              ? publish_status::failed
                : w == 1            ? publish_status::busy
                : j->all_duplicates ? publish_status::duplicate
                                    : publish_status::stored);
      }
    });
  }
}

}  // namespace omni::connectors
