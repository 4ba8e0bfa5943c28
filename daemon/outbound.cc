#include "daemon/outbound.h"

#include <atomic>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "core/events/codec.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace omni::daemon {

using namespace std::chrono_literals;

namespace {
spdlog::logger& logger() {
  static auto l = core::log::get("omni.outbound");
  return *l;
}

core::metrics::counter& records(const char* result) {
  return core::metrics::global().counter_of(
      "omniroute_outbound_records_total",
      "Records read from omni.outbound by result: delivered (a connector took it), unclaimed (no "
      "connector on this node handles it), invalid (did not decode).",
      {{"result", result}});
}
}  // namespace

struct outbound_dispatcher::impl {
  std::unique_ptr<core::bus::consumer> consumer;
  boost::asio::io_context* ioc = nullptr;
  handler handle;
  std::string topic;
  std::thread reader;
  std::atomic<bool> stopping{false};

  // Runs the handler on the io_context and waits for its answer; nullopt when stopping first.
  std::optional<bool> dispatch(const core::outbound& o, std::int32_t partition,
                               std::int64_t offset) {
    auto done = std::make_shared<std::promise<bool>>();
    auto answer = done->get_future();
    boost::asio::post(*ioc, [this, done, o, partition, offset] {
      try {
        done->set_value(handle(o, partition, offset));
      } catch (const std::exception& e) {
        logger().error("outbound {}: connector threw: {}", o.id, e.what());
        done->set_value(false);
      }
    });
    while (answer.wait_for(100ms) != std::future_status::ready)
      if (stopping) return std::nullopt;
    return answer.get();
  }

  void read_loop() {
    while (!stopping) {
      auto m = consumer->poll(100ms);
      if (!m) continue;
      auto o = core::decode_outbound(m->value);
      if (!o) {
        records("invalid").inc();
        logger().warn("skipping undecodable record {}[{}]@{}: {}", m->topic, m->partition,
                      m->offset, o.err().to_string());
        consumer->store(*m);
        continue;
      }
      auto taken = dispatch(*o, m->partition, m->offset);
      if (!taken) break;  // stopping: not stored, the next start reads it again
      records(*taken ? "delivered" : "unclaimed").inc();
      if (!*taken)
        logger().debug("outbound {} ({} / {}) is not for a connector on this node", o->id,
                       o->provider, o->conversation);
      consumer->store(*m);
    }
    consumer->close();
  }
};

outbound_dispatcher::outbound_dispatcher(std::shared_ptr<impl> p) : impl_(std::move(p)) {}

outbound_dispatcher::~outbound_dispatcher() { stop(); }

core::result<std::unique_ptr<outbound_dispatcher>> outbound_dispatcher::start(
    const core::bus::settings& kafka, const std::string& topic, const std::string& node_id,
    boost::asio::io_context& ioc, handler h, bool from_beginning, std::function<void()> on_ready) {
  auto p = std::make_shared<impl>();
  p->ioc = &ioc;
  p->handle = std::move(h);
  p->topic = topic;
  core::bus::consumer_options co;
  co.group_id = "omniroute-outbound-" + node_id;
  co.topics = {topic};
  co.from_beginning = from_beginning;
  if (!from_beginning && on_ready) {
    co.on_assigned = [ready = std::make_shared<std::once_flag>(), on_ready,
                      topic](const std::vector<core::bus::topic_partition>& parts) {
      // Empty: a member of an earlier run of this node still holds the partitions (it left
      // without saying so); they come with the next rebalance, after its session times out.
      if (parts.empty()) return;
      std::call_once(*ready, [&] {
        logger().info("reading {}: {} partition(s) assigned", topic, parts.size());
        on_ready();
      });
    };
  }
  core::bus::settings ks = kafka;
  ks.client.try_emplace("fetch.wait.max.ms", "50");  // replies are latency-sensitive
  // A restarted node rejoins its own group: the member it replaces is dropped after the session
  // timeout, and the group waits for that before it assigns again (librdkafka's default 45 s).
  ks.client.try_emplace("session.timeout.ms", "6000");
  ks.client.try_emplace("heartbeat.interval.ms", "1000");
  auto c = core::bus::consumer::create(ks, std::move(co));
  if (!c) return c.err();
  p->consumer = std::move(*c);
  p->reader = std::thread([p] { p->read_loop(); });
  logger().info("reading {} (group omniroute-outbound-{})", topic, node_id);
  if (from_beginning && on_ready) on_ready();  // nothing can be skipped: ready at once
  return std::unique_ptr<outbound_dispatcher>(new outbound_dispatcher(std::move(p)));
}

void outbound_dispatcher::stop() {
  if (!impl_) return;
  impl_->stopping = true;
  if (impl_->reader.joinable()) impl_->reader.join();
}

}  // namespace omni::daemon
