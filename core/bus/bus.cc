#include "core/bus/bus.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <pthread.h>

#include "core/bus/handles.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace omni::core::bus {
namespace {

spdlog::logger& logger() {
  static auto l = log::get("omni.kafka");
  return *l;
}

void log_cb(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  auto lvl = level <= 3   ? spdlog::level::err
             : level <= 4 ? spdlog::level::warn
             : level <= 6 ? spdlog::level::info
                          : spdlog::level::debug;
  // The router's changelog producer sets enable.gapless.guarantee on purpose (delivery_mode::
  // gapless, routing/service/README.md); librdkafka calls the property experimental at every
  // start, which is no news for an operator.
  if (lvl == spdlog::level::warn && std::string_view(fac) == "CONFWARN" &&
      std::string_view(buf).find("enable.gapless.guarantee is experimental") !=
          std::string_view::npos)
    lvl = spdlog::level::debug;
  logger().log(lvl, "{}: {}", fac, buf);
}

// Applies the common settings and the user's pass-through properties.
result<conf_ptr> make_conf(const settings& s, const std::string& client_id) {
  conf_ptr conf(rd_kafka_conf_new());
  install_log_callback(conf.get());
  for (const auto& [k, v] : std::map<std::string, std::string>{{"bootstrap.servers", s.brokers},
                                                               {"client.id", client_id}}) {
    if (auto e = set_property(conf.get(), k, v); !e.empty()) return error{e, "kafka"};
  }
  for (const auto& [k, v] : s.client)
    if (auto e = set_property(conf.get(), k, v); !e.empty()) return error{e, "kafka.client." + k};
  return conf;
}

metrics::counter& produce_errors() {
  static auto& c = metrics::global().counter_of(
      "omniroute_kafka_produce_errors_total", "Messages Kafka did not accept or did not deliver.");
  return c;
}
metrics::counter& queue_full_count() {
  static auto& c =
      metrics::global().counter_of("omniroute_kafka_queue_full_total",
                                   "Produce attempts refused because the local queue was full.");
  return c;
}
metrics::counter& consume_errors() {
  static auto& c = metrics::global().counter_of("omniroute_kafka_consume_errors_total",
                                                "Errors reported by Kafka consumers.");
  return c;
}
metrics::counter& handler_errors() {
  static auto& c = metrics::global().counter_of(
      "omniroute_kafka_handler_errors_total",
      "Delivery handlers that threw on the Kafka poll thread (caught, logged).");
  return c;
}

metrics::histogram& delivery_seconds() {
  static auto& h = metrics::global().histogram_of(
      "omniroute_kafka_delivery_seconds", "Time from produce to the broker's acknowledgement.");
  return h;
}

}  // namespace

void install_log_callback(rd_kafka_conf_t* conf) { rd_kafka_conf_set_log_cb(conf, log_cb); }

topic_names topic_names::with_prefix(std::string_view prefix) {
  std::string p(prefix);
  return {p + "contacts", p + "agent-events", p + "assignments", p + "outbound", p + "snapshots"};
}

std::string librdkafka_version() { return rd_kafka_version_str(); }

// ---- producer ---------------------------------------------------------------------------------

struct producer::impl {
  kafka_ptr rk;
  std::thread poller;
  std::atomic<bool> stop{false};

  // One per produced message, owned by librdkafka between produce and the delivery report.
  struct pending {
    delivery_handler handler;
    executor post;
    std::chrono::steady_clock::time_point started;
  };

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    std::unique_ptr<pending> p(static_cast<pending*>(m->_private));
    if (!p) return;
    delivery d;
    d.ok = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
    d.topic = rd_kafka_topic_name(m->rkt);
    d.partition = m->partition;
    d.offset = m->offset;
    if (!d.ok) {
      d.error = rd_kafka_err2str(m->err);
      produce_errors().inc();
      logger().warn("delivery to {} failed: {}", d.topic, d.error);
    } else {
      delivery_seconds().observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - p->started).count());
    }
    if (!p->handler) return;
    if (p->post) {
      p->post([h = std::move(p->handler), d = std::move(d)]() { h(d); });
      return;
    }
    // On librdkafka's poll thread, inside its C code: nothing may escape from here.
    try {
      p->handler(d);
    } catch (const std::exception& e) {
      handler_errors().inc();
      logger().error("a delivery handler for {} threw: {}", d.topic, e.what());
    } catch (...) {
      handler_errors().inc();
      logger().error("a delivery handler for {} threw", d.topic);
    }
  }
};

producer::producer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

result<std::unique_ptr<producer>> producer::create(const settings& s, const std::string& client_id,
                                                   delivery_mode mode) {
  auto conf = make_conf(s, client_id);
  if (!conf) return conf.err();
  // Defaults an operator may override through kafka.client ...
  const std::map<std::string, std::string> defaults{
      {"message.timeout.ms", std::to_string(s.delivery_timeout.count())},
      {"linger.ms", "2"},  // p99 at 256 webhook connections: 9-14 ms with 2, 13-43 ms with 1
      {"partitioner", "murmur2_random"},  // the Java client's partitioner: same key, same partition
  };
  for (const auto& [k, v] : defaults) {
    if (s.client.count(k) || (mode == delivery_mode::gapless && k == "message.timeout.ms"))
      continue;
    if (auto e = set_property(conf->get(), k, v); !e.empty()) return error{e, "kafka"};
  }
  // ... and the delivery guarantees, which are not negotiable.
  std::map<std::string, std::string> guarantees{{"enable.idempotence", "true"}, {"acks", "all"}};
  if (mode == delivery_mode::gapless) {
    guarantees["message.timeout.ms"] = "0";  // never expire: a timed-out record leaves a gap
    guarantees["enable.gapless.guarantee"] = "true";
  }
  for (const auto& [k, v] : guarantees)
    if (auto e = set_property(conf->get(), k, v); !e.empty()) return error{e, "kafka"};
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &impl::on_delivery);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), err, sizeof err);
  if (!rk) return error{std::string("cannot create Kafka producer: ") + err, "kafka"};
  (void)conf->release();  // owned by rk now
  auto p = std::make_unique<impl>();
  p->rk.reset(rk);
  impl* raw = p.get();
  p->poller = std::thread([raw] {
    pthread_setname_np(pthread_self(), "omni-kafka-dr");  // delivery reports run here
    while (!raw->stop.load(std::memory_order_relaxed)) rd_kafka_poll(raw->rk.get(), 100);
  });
  return std::unique_ptr<producer>(new producer(std::move(p)));
}

producer::~producer() {
  if (!impl_) return;
  rd_kafka_flush(impl_->rk.get(), 10000);
  impl_->stop = true;
  impl_->poller.join();
  // Anything still queued fails its delivery now (purge), so no handler is leaked silently.
  rd_kafka_purge(impl_->rk.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(impl_->rk.get(), 0);
}

produce_status producer::produce(const std::string& topic, std::string_view key,
                                 std::string_view value, delivery_handler on_delivery,
                                 const executor& post) {
  return produce(topic, RD_KAFKA_PARTITION_UA, key, value, std::move(on_delivery), post);
}

produce_status producer::produce(const std::string& topic, std::int32_t partition,
                                 std::string_view key, std::string_view value,
                                 delivery_handler on_delivery, const executor& post) {
  auto* p = new impl::pending{std::move(on_delivery), post, std::chrono::steady_clock::now()};
  rd_kafka_resp_err_t err = rd_kafka_producev(
      impl_->rk.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
      RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return produce_status::queued;
  delete p;
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    queue_full_count().inc();
    return produce_status::queue_full;
  }
  produce_errors().inc();
  logger().warn("produce to {} refused: {}", topic, rd_kafka_err2str(err));
  return produce_status::failed;
}

delivery producer::produce_and_wait(const std::string& topic, std::string_view key,
                                    std::string_view value, std::chrono::milliseconds timeout) {
  struct waiter {
    std::mutex m;
    std::condition_variable cv;
    std::optional<delivery> d;
  };
  auto w = std::make_shared<waiter>();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto st = produce(topic, key, value, [w](const delivery& d) {
      std::lock_guard lock(w->m);
      w->d = d;
      w->cv.notify_all();
    });
    if (st == produce_status::queued) break;
    if (st == produce_status::failed || std::chrono::steady_clock::now() > deadline)
      return delivery{false, topic, -1, -1,
                      st == produce_status::failed ? "refused" : "queue full"};
    std::this_thread::sleep_for(
        std::chrono::milliseconds(5));  // back-pressure: let the queue drain
  }
  std::unique_lock lock(w->m);
  if (!w->cv.wait_until(lock, deadline, [&] { return w->d.has_value(); }))
    return delivery{false, topic, -1, -1, "timed out waiting for the delivery report"};
  return *w->d;
}

bool producer::flush(std::chrono::milliseconds timeout) {
  return rd_kafka_flush(impl_->rk.get(), static_cast<int>(timeout.count())) ==
         RD_KAFKA_RESP_ERR_NO_ERROR;
}

std::size_t producer::in_flight() const {
  return static_cast<std::size_t>(rd_kafka_outq_len(impl_->rk.get()));
}

bool producer::fatal() const {
  return rd_kafka_fatal_error(impl_->rk.get(), nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

static bool metadata_round_trip(rd_kafka_t* rk, std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  auto err = rd_kafka_metadata(rk, 0, nullptr, &md, static_cast<int>(timeout.count()));
  if (md) rd_kafka_metadata_destroy(md);
  return err == RD_KAFKA_RESP_ERR_NO_ERROR;
}

bool producer::reachable(std::chrono::milliseconds timeout) const {
  return metadata_round_trip(impl_->rk.get(), timeout);
}

// ---- consumer ---------------------------------------------------------------------------------

struct consumer::impl {
  kafka_ptr rk;
  consumer_options options;
  bool closed = false;

  static std::vector<topic_partition> to_vector(const rd_kafka_topic_partition_list_t* l) {
    std::vector<topic_partition> out;
    for (int i = 0; l && i < l->cnt; ++i) out.push_back({l->elems[i].topic, l->elems[i].partition});
    return out;
  }

  // A group that starts at the end of a partition (auto.offset.reset=latest) resolves "the end"
  // only when it first fetches, after the assignment: a record produced in between would be
  // skipped. Partitions with no committed offset get the end as of now, explicitly, before they
  // are assigned, so everything produced after on_assigned is read.
  static void pin_end_positions(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* parts) {
    if (rd_kafka_committed(rk, parts, 10'000) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    for (int i = 0; i < parts->cnt; ++i) {
      auto& p = parts->elems[i];
      if (p.offset >= 0) continue;  // committed: resumes there
      int64_t lo = 0, hi = 0;
      if (rd_kafka_query_watermark_offsets(rk, p.topic, p.partition, &lo, &hi, 10'000) ==
          RD_KAFKA_RESP_ERR_NO_ERROR)
        p.offset = hi;
    }
  }

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* parts, void* opaque) {
    auto* self = static_cast<impl*>(opaque);
    const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      if (!self->options.from_beginning) pin_end_positions(rk, parts);
      if (cooperative) {
        if (auto* e = rd_kafka_incremental_assign(rk, parts)) {
          logger().error("incremental assign failed: {}", rd_kafka_error_string(e));
          rd_kafka_error_destroy(e);
        }
      } else {
        rd_kafka_assign(rk, parts);
      }
      logger().info("assigned {} partition(s)", parts->cnt);
      if (self->options.on_assigned) self->options.on_assigned(to_vector(parts));
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      if (self->options.on_revoked) self->options.on_revoked(to_vector(parts));
      // Commit what was processed before giving the partitions away.
      auto cerr = rd_kafka_commit(rk, nullptr, 0);
      if (cerr != RD_KAFKA_RESP_ERR_NO_ERROR && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
        logger().warn("commit on revoke failed: {}", rd_kafka_err2str(cerr));
      if (cooperative) {
        if (auto* e = rd_kafka_incremental_unassign(rk, parts)) rd_kafka_error_destroy(e);
      } else {
        rd_kafka_assign(rk, nullptr);
      }
      logger().info("revoked {} partition(s)", parts->cnt);
    } else {
      logger().error("rebalance error: {}", rd_kafka_err2str(err));
      rd_kafka_assign(rk, nullptr);
    }
  }
};

consumer::consumer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

result<std::unique_ptr<consumer>> consumer::create(const settings& s, consumer_options options) {
  if (options.group_id.empty()) return error{"a consumer needs a group id", "group_id"};
  auto conf = make_conf(s, "omniroute-" + options.group_id);
  if (!conf) return conf.err();
  const std::map<std::string, std::string> fixed{
      {"group.id", options.group_id},
      {"enable.auto.offset.store", "false"},  // only what the caller processed is committable
      {"enable.auto.commit", "true"},
      {"auto.commit.interval.ms", "1000"},
      {"auto.offset.reset", options.from_beginning ? "earliest" : "latest"},
      {"partition.assignment.strategy", options.assignment_strategy},
      {"enable.partition.eof", "false"},
  };
  for (const auto& [k, v] : fixed)
    if (auto e = set_property(conf->get(), k, v); !e.empty()) return error{e, "kafka"};
  auto p = std::make_unique<impl>();
  p->options = std::move(options);
  rd_kafka_conf_set_opaque(conf->get(), p.get());
  rd_kafka_conf_set_rebalance_cb(conf->get(), &impl::on_rebalance);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), err, sizeof err);
  if (!rk) return error{std::string("cannot create Kafka consumer: ") + err, "kafka"};
  (void)conf->release();
  p->rk.reset(rk);
  rd_kafka_poll_set_consumer(rk);
  partition_list_ptr topics(
      rd_kafka_topic_partition_list_new(static_cast<int>(p->options.topics.size())));
  for (const auto& t : p->options.topics)
    rd_kafka_topic_partition_list_add(topics.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  if (auto e = rd_kafka_subscribe(rk, topics.get()); e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return error{std::string("cannot subscribe: ") + rd_kafka_err2str(e), "kafka"};
  return std::unique_ptr<consumer>(new consumer(std::move(p)));
}

consumer::~consumer() {
  if (impl_) close();
}

void consumer::close() {
  if (impl_->closed) return;
  impl_->closed = true;
  auto err = rd_kafka_commit(impl_->rk.get(), nullptr, 0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
    logger().warn("final commit failed: {}", rd_kafka_err2str(err));
  // librdkafka 2.0 aborts in rd_kafka_consumer_close (rd_kafka_cgrp_terminated: assert
  // !rd_kafka_assignment_in_progress) when the group is still applying a cooperative assignment
  // (librdkafka issues #4312, #4792). Leave the group first and serve its callbacks until nothing
  // is assigned (at most 5 s); messages polled meanwhile are dropped unstored, so another member
  // gets them again.
  rd_kafka_t* rk = impl_->rk.get();
  rd_kafka_unsubscribe(rk);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  do {
    message_ptr dropped(rd_kafka_consumer_poll(rk, 50));
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    if (rd_kafka_assignment(rk, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR) break;
    const bool none = assigned->cnt == 0;
    rd_kafka_topic_partition_list_destroy(assigned);
    if (none) break;
  } while (std::chrono::steady_clock::now() < deadline);
  rd_kafka_consumer_close(rk);
}

std::optional<message> consumer::poll(std::chrono::milliseconds timeout) {
  if (impl_->closed) return std::nullopt;
  message_ptr m(rd_kafka_consumer_poll(impl_->rk.get(), static_cast<int>(timeout.count())));
  if (!m) return std::nullopt;
  if (m->err) {
    if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      consume_errors().inc();
      logger().warn("consume error: {}", rd_kafka_message_errstr(m.get()));
    }
    return std::nullopt;
  }
  message out;
  out.topic = rd_kafka_topic_name(m->rkt);
  out.partition = m->partition;
  out.offset = m->offset;
  if (m->key) out.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload) out.value.assign(static_cast<const char*>(m->payload), m->len);
  out.timestamp_ms = rd_kafka_message_timestamp(m.get(), nullptr);
  return out;
}

void consumer::store(const message& m) {
  partition_list_ptr l(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(l.get(), m.topic.c_str(), m.partition)->offset = m.offset + 1;
  if (auto e = rd_kafka_offsets_store(impl_->rk.get(), l.get()); e != RD_KAFKA_RESP_ERR_NO_ERROR)
    logger().debug("offset store for {}[{}] skipped: {}", m.topic, m.partition,
                   rd_kafka_err2str(e));
}

bool consumer::commit() {
  auto err = rd_kafka_commit(impl_->rk.get(), nullptr, 0);
  return err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET;
}

std::vector<topic_partition> consumer::assignment() const {
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (rd_kafka_assignment(impl_->rk.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return {};
  partition_list_ptr l(raw);
  return impl::to_vector(l.get());
}

result<std::int64_t> consumer::committed(const std::string& topic, std::int32_t partition,
                                         std::chrono::milliseconds timeout) const {
  partition_list_ptr l(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(l.get(), topic.c_str(), partition);
  auto err = rd_kafka_committed(impl_->rk.get(), l.get(), static_cast<int>(timeout.count()));
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = l->elems[0].err;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return error{"committed offset of " + topic + "[" + std::to_string(partition) +
                     "]: " + rd_kafka_err2str(err),
                 "kafka"};
  return l->elems[0].offset < 0 ? std::int64_t{-1} : l->elems[0].offset;
}

// ---- admin ------------------------------------------------------------------------------------

namespace {

// A client for admin requests (CreateTopics, DescribeConfigs, Metadata).
result<kafka_ptr> admin_client(const settings& s) {
  auto conf = make_conf(s, "omniroute-admin");
  if (!conf) return conf.err();
  char err[512];
  kafka_ptr rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), err, sizeof err));
  if (!rk) return error{std::string("cannot create Kafka admin client: ") + err, "kafka"};
  (void)conf->release();
  return rk;
}

// Sends one admin request (`send` gets the options and the reply queue) and waits for its answer.
result<event_ptr> admin_request(
    rd_kafka_t* rk, rd_kafka_admin_op_t op, const char* what, std::chrono::milliseconds timeout,
    const std::function<void(rd_kafka_AdminOptions_t*, rd_kafka_queue_t*)>& send) {
  char err[512];
  queue_ptr q(rd_kafka_queue_new(rk));
  std::unique_ptr<rd_kafka_AdminOptions_t, kafka_deleter> opts(rd_kafka_AdminOptions_new(rk, op));
  rd_kafka_AdminOptions_set_request_timeout(opts.get(), static_cast<int>(timeout.count()), err,
                                            sizeof err);
  send(opts.get(), q.get());
  event_ptr ev(rd_kafka_queue_poll(q.get(), static_cast<int>(timeout.count()) + 1000));
  if (!ev) return error{std::string("no answer from Kafka to ") + what, "kafka.brokers"};
  if (rd_kafka_event_error(ev.get()))
    return error{std::string(what) + ": " + rd_kafka_event_error_string(ev.get()), "kafka"};
  return ev;
}

}  // namespace

result<bool> ensure_topics(
    const settings& s, const std::vector<std::string>& names, int partitions,
    std::chrono::milliseconds timeout,
    const std::map<std::string, std::map<std::string, std::string>>& configs) {
  auto client = admin_client(s);
  if (!client) return client.err();
  kafka_ptr& rk = *client;
  char err[512];
  // Topics that exist already need no CreateTopics, which not every broker answers (librdkafka's
  // mock cluster, behind `omniroute dev-kafka`, does not): one Metadata request says which.
  std::vector<std::string> missing;
  {
    const rd_kafka_metadata_t* md = nullptr;
    auto merr = rd_kafka_metadata(rk.get(), 1, nullptr, &md, static_cast<int>(timeout.count()));
    if (merr != RD_KAFKA_RESP_ERR_NO_ERROR)
      return error{std::string("no answer from Kafka to Metadata: ") + rd_kafka_err2str(merr),
                   "kafka.brokers"};
    std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> guard(
        md, rd_kafka_metadata_destroy);
    for (const auto& n : names) {
      bool present = false;
      for (int i = 0; i < md->topic_cnt && !present; ++i)
        present = md->topics[i].topic == n && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                  md->topics[i].partition_cnt > 0;
      if (!present) missing.push_back(n);
    }
  }
  if (missing.empty()) return true;
  std::vector<std::unique_ptr<rd_kafka_NewTopic_t, kafka_deleter>> topics;
  std::vector<rd_kafka_NewTopic_t*> raw;
  for (const auto& n : missing) {
    topics.emplace_back(rd_kafka_NewTopic_new(n.c_str(), partitions, -1, err, sizeof err));
    if (!topics.back()) return error{std::string("topic ") + n + ": " + err, "kafka"};
    if (auto c = configs.find(n); c != configs.end())
      for (const auto& [key, value] : c->second)
        if (rd_kafka_NewTopic_set_config(topics.back().get(), key.c_str(), value.c_str()))
          return error{"topic " + n + ": cannot set " + key, "kafka"};
    raw.push_back(topics.back().get());
  }
  auto ev = admin_request(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS, "CreateTopics", timeout,
                          [&](rd_kafka_AdminOptions_t* opts, rd_kafka_queue_t* q) {
                            rd_kafka_AdminOptions_set_operation_timeout(
                                opts, static_cast<int>(timeout.count()), err, sizeof err);
                            rd_kafka_CreateTopics(rk.get(), raw.data(), raw.size(), opts, q);
                          });
  if (!ev) return ev.err();
  const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev->get());
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
  for (size_t i = 0; i < n; ++i) {
    auto e = rd_kafka_topic_result_error(results[i]);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
      return error{std::string("topic ") + rd_kafka_topic_result_name(results[i]) + ": " +
                       rd_kafka_err2str(e),
                   "kafka"};
  }
  return true;
}

result<std::map<std::string, std::map<std::string, std::string>>> topic_configs(
    const settings& s, const std::vector<std::string>& topics, std::chrono::milliseconds timeout) {
  auto client = admin_client(s);
  if (!client) return client.err();
  kafka_ptr& rk = *client;
  std::vector<std::unique_ptr<rd_kafka_ConfigResource_t, kafka_deleter>> owned;
  std::vector<rd_kafka_ConfigResource_t*> raw;
  for (const auto& t : topics) {
    owned.emplace_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, t.c_str()));
    raw.push_back(owned.back().get());
  }
  auto ev = admin_request(rk.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, "DescribeConfigs", timeout,
                          [&](rd_kafka_AdminOptions_t* opts, rd_kafka_queue_t* q) {
                            rd_kafka_DescribeConfigs(rk.get(), raw.data(), raw.size(), opts, q);
                          });
  if (!ev) return ev.err();
  const rd_kafka_DescribeConfigs_result_t* res = rd_kafka_event_DescribeConfigs_result(ev->get());
  size_t n = 0;
  const rd_kafka_ConfigResource_t** resources = rd_kafka_DescribeConfigs_result_resources(res, &n);
  std::map<std::string, std::map<std::string, std::string>> out;
  for (size_t i = 0; i < n; ++i) {
    if (rd_kafka_ConfigResource_error(resources[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    auto& entries = out[rd_kafka_ConfigResource_name(resources[i])];
    size_t count = 0;
    const rd_kafka_ConfigEntry_t** configs = rd_kafka_ConfigResource_configs(resources[i], &count);
    for (size_t j = 0; j < count; ++j) {
      const char* value = rd_kafka_ConfigEntry_value(configs[j]);
      entries[rd_kafka_ConfigEntry_name(configs[j])] = value ? value : "";
    }
  }
  return out;
}

result<std::vector<partition_offsets>> watermarks(const settings& s, const std::string& topic,
                                                  std::chrono::milliseconds timeout) {
  auto conf = make_conf(s, "omniroute-count");
  if (!conf) return conf.err();
  char err[512];
  kafka_ptr rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), err, sizeof err));
  if (!rk) return error{std::string("cannot create Kafka client: ") + err, "kafka"};
  (void)conf->release();
  const rd_kafka_metadata_t* md = nullptr;
  std::unique_ptr<rd_kafka_topic_t, void (*)(rd_kafka_topic_t*)> t(
      rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr), rd_kafka_topic_destroy);
  auto merr = rd_kafka_metadata(rk.get(), 0, t.get(), &md, static_cast<int>(timeout.count()));
  if (merr != RD_KAFKA_RESP_ERR_NO_ERROR) return error{rd_kafka_err2str(merr), "kafka"};
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> guard(
      md, rd_kafka_metadata_destroy);
  if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return error{"topic " + topic + " not found", "kafka"};
  std::vector<partition_offsets> out;
  for (int i = 0; i < md->topics[0].partition_cnt; ++i) {
    int64_t lo = 0, hi = 0;
    const std::int32_t p = md->topics[0].partitions[i].id;
    auto e = rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &lo, &hi,
                                              static_cast<int>(timeout.count()));
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return error{rd_kafka_err2str(e), "kafka"};
    out.push_back({p, lo, hi});
  }
  return out;
}

result<std::int64_t> message_count(const settings& s, const std::string& topic,
                                   std::chrono::milliseconds timeout) {
  auto w = watermarks(s, topic, timeout);
  if (!w) return w.err();
  std::int64_t total = 0;
  for (const auto& p : *w) total += p.high - p.low;
  return total;
}

result<std::int64_t> read_partition(const settings& s, const std::string& topic,
                                    std::int32_t partition, std::int64_t from_offset,
                                    const std::function<bool(const message&)>& on_message,
                                    std::chrono::milliseconds timeout) {
  auto conf = make_conf(s, "omniroute-reader");
  if (!conf) return conf.err();
  for (const auto& [k, v] : std::map<std::string, std::string>{
           {"group.id", "omniroute-reader"},  // never joins: assign() only, nothing committed
           {"enable.auto.commit", "false"},
           {"enable.auto.offset.store", "false"},
           {"enable.partition.eof", "false"},
           {"fetch.wait.max.ms", "10"},
           {"fetch.message.max.bytes", "4194304"}})
    if (auto e = set_property(conf->get(), k, v); !e.empty()) return error{e, "kafka"};
  char err[512];
  kafka_ptr rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), err, sizeof err));
  if (!rk) return error{std::string("cannot create Kafka reader: ") + err, "kafka"};
  (void)conf->release();
  const int ms = static_cast<int>(timeout.count());
  std::int64_t lo = 0, hi = 0;
  if (auto e = rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), partition, &lo, &hi, ms);
      e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return error{topic + "[" + std::to_string(partition) + "]: " + rd_kafka_err2str(e), "kafka"};
  const std::int64_t start = std::max(lo, from_offset);
  if (start >= hi) return std::int64_t{0};
  partition_list_ptr l(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(l.get(), topic.c_str(), partition)->offset = start;
  if (auto e = rd_kafka_assign(rk.get(), l.get()); e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return error{std::string("cannot assign: ") + rd_kafka_err2str(e), "kafka"};
  std::int64_t count = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  message out;
  out.topic = topic;
  out.partition = partition;
  for (std::int64_t next = start; next < hi;) {
    if (std::chrono::steady_clock::now() > deadline)
      return error{topic + "[" + std::to_string(partition) + "]: read timed out at offset " +
                       std::to_string(next) + " of " + std::to_string(hi),
                   "kafka"};
    message_ptr m(rd_kafka_consumer_poll(rk.get(), 100));
    if (!m) continue;
    if (m->err) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      return error{std::string("read: ") + rd_kafka_message_errstr(m.get()), "kafka"};
    }
    next = m->offset + 1;
    out.offset = m->offset;
    out.key.assign(m->key ? static_cast<const char*>(m->key) : "", m->key ? m->key_len : 0);
    out.value.assign(m->payload ? static_cast<const char*>(m->payload) : "",
                     m->payload ? m->len : 0);
    out.timestamp_ms = rd_kafka_message_timestamp(m.get(), nullptr);
    ++count;
    if (!on_message(out)) break;
  }
  rd_kafka_assign(rk.get(), nullptr);
  rd_kafka_consumer_close(rk.get());
  return count;
}

}  // namespace omni::core::bus
