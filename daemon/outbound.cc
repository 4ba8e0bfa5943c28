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

  std::mutex mutex;
  std::condition_variable cv;
  bool assigned = false;

  // Runs the handler on the io_context and waits for its answer; nullopt when stopping first.
  std::optional<bool> dispatch(const core::outbound& o) {
    auto done = std::make_shared<std::promise<bool>>();
    auto answer = done->get_future();
    boost::asio::post(*ioc, [this, done, o] {
      try {
        done->set_value(handle(o));
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
      auto taken = dispatch(*o);
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
    boost::asio::io_context& ioc, handler h, bool from_beginning,
    std::chrono::milliseconds ready_timeout) {
  auto p = std::make_shared<impl>();
  p->ioc = &ioc;
  p->handle = std::move(h);
  p->topic = topic;
  core::bus::consumer_options co;
  co.group_id = "omniroute-outbound-" + node_id;
  co.topics = {topic};
  co.from_beginning = from_beginning;
  std::weak_ptr<impl> weak = p;
  co.on_assigned = [weak](const std::vector<core::bus::topic_partition>&) {
    if (auto s = weak.lock()) {
      std::lock_guard lock(s->mutex);
      s->assigned = true;
      s->cv.notify_all();
    }
  };
  core::bus::settings ks = kafka;
  ks.client.try_emplace("fetch.wait.max.ms", "50");  // replies are latency-sensitive
  auto c = core::bus::consumer::create(ks, std::move(co));
  if (!c) return c.err();
  p->consumer = std::move(*c);
  p->reader = std::thread([p] { p->read_loop(); });
  // From the beginning, nothing can be skipped: no need to wait for the group.
  std::unique_lock lock(p->mutex);
  if (from_beginning)
    logger().info("reading {} (group omniroute-outbound-{})", topic, node_id);
  else if (!p->cv.wait_for(lock, ready_timeout, [&] { return p->assigned; }))
    logger().warn("no partitions of {} assigned after {} ms; replies will flow once they are",
                  topic, ready_timeout.count());
  else
    logger().info("reading {} (group omniroute-outbound-{})", topic, node_id);
  return std::unique_ptr<outbound_dispatcher>(new outbound_dispatcher(std::move(p)));
}

void outbound_dispatcher::stop() {
  if (!impl_) return;
  impl_->stopping = true;
  if (impl_->reader.joinable()) impl_->reader.join();
}

}  // namespace omni::daemon
