#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "core/bus/bus.h"
#include "core/bus/embedded_cluster.h"

namespace omni::core::bus {
namespace {

using namespace std::chrono_literals;

class bus_test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = embedded_cluster::start(1);
    ASSERT_TRUE(c) << c.err().to_string();
    cluster_ = std::move(*c);
    ASSERT_TRUE(cluster_->create_topic("t.contacts", 3));
    settings_.brokers = cluster_->bootstrap();
    settings_.delivery_timeout = 10s;
    settings_.client = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
  }

  std::unique_ptr<producer> make_producer() {
    auto p = producer::create(settings_, "test");
    EXPECT_TRUE(p) << p.err().to_string();
    return std::move(*p);
  }

  // Polls until `want` messages arrived or the deadline passed.
  static std::vector<message> drain(consumer& c, std::size_t want,
                                    std::chrono::milliseconds limit = 15s, bool store = true) {
    std::vector<message> got;
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
      if (auto m = c.poll(100ms)) {
        if (store) c.store(*m);
        got.push_back(std::move(*m));
      }
    }
    return got;
  }

  std::unique_ptr<embedded_cluster> cluster_;
  settings settings_;
};

TEST_F(bus_test, bootstrap_is_loopback) {
  EXPECT_EQ(cluster_->bootstrap().rfind("127.0.0.1:", 0), 0u) << cluster_->bootstrap();
}

TEST_F(bus_test, delivery_report_reaches_the_callers_executor) {
  auto p = make_producer();
  EXPECT_TRUE(p->reachable(5s));
  std::mutex m;
  std::vector<std::function<void()>> posted;
  std::atomic<int> delivered{0};
  delivery seen;
  auto post = [&](std::function<void()> f) {
    std::lock_guard lock(m);
    posted.push_back(std::move(f));
  };
  ASSERT_EQ(p->produce(
                "t.contacts", "acme", "{\"x\":1}",
                [&](const delivery& d) {
                  seen = d;
                  delivered++;
                },
                post),
            produce_status::queued);
  ASSERT_TRUE(p->flush(10s));
  // Not run yet: it waits on our "executor".
  EXPECT_EQ(delivered.load(), 0);
  std::vector<std::function<void()>> run;
  {
    std::lock_guard lock(m);
    run.swap(posted);
  }
  ASSERT_EQ(run.size(), 1u);
  run[0]();
  EXPECT_EQ(delivered.load(), 1);
  EXPECT_TRUE(seen.ok);
  EXPECT_EQ(seen.topic, "t.contacts");
  EXPECT_GE(seen.offset, 0);
}

TEST_F(bus_test, same_key_goes_to_same_partition) {
  auto p = make_producer();
  std::set<int> parts;
  for (int i = 0; i < 10; ++i) {
    auto d = p->produce_and_wait("t.contacts", "domain-a", "v", 10s);
    ASSERT_TRUE(d.ok) << d.error;
    parts.insert(d.partition);
  }
  EXPECT_EQ(parts.size(), 1u);
}

TEST_F(bus_test, offsets_advance_only_for_stored_messages) {
  auto p = make_producer();
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(p->produce_and_wait("t.contacts", "k", std::to_string(i), 10s).ok);
  {
    auto c = consumer::create(settings_, {.group_id = "g1", .topics = {"t.contacts"}});
    ASSERT_TRUE(c) << c.err().to_string();
    auto got = drain(**c, 10, 15s, /*store=*/false);
    ASSERT_EQ(got.size(), 10u);
    // Only the first four are processed.
    for (int i = 0; i < 4; ++i) (*c)->store(got[i]);
    ASSERT_TRUE((*c)->commit());
  }
  auto c2 = consumer::create(settings_, {.group_id = "g1", .topics = {"t.contacts"}});
  ASSERT_TRUE(c2);
  auto rest = drain(**c2, 6);
  ASSERT_EQ(rest.size(), 6u);
  EXPECT_EQ(rest.front().value, "4");
  EXPECT_EQ(rest.back().value, "9");
  // Nothing more arrives: the first four are not redelivered.
  EXPECT_FALSE((*c2)->poll(500ms).has_value());
}

TEST_F(bus_test, cooperative_rebalance_splits_and_returns_partitions) {
  std::mutex m;
  std::set<int> a_parts, b_parts;
  std::atomic<int> a_revoked{0};
  consumer_options oa{.group_id = "g2", .topics = {"t.contacts"}};
  oa.on_assigned = [&](const std::vector<topic_partition>& tp) {
    std::lock_guard lock(m);
    for (auto& x : tp) a_parts.insert(x.partition);
  };
  oa.on_revoked = [&](const std::vector<topic_partition>& tp) {
    std::lock_guard lock(m);
    for (auto& x : tp) a_parts.erase(x.partition);
    a_revoked += static_cast<int>(tp.size());
  };
  auto a = consumer::create(settings_, oa);
  ASSERT_TRUE(a);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    (*a)->poll(100ms);
    std::lock_guard lock(m);
    if (a_parts.size() == 3) break;
  }
  ASSERT_EQ(a_parts.size(), 3u);

  consumer_options ob{.group_id = "g2", .topics = {"t.contacts"}};
  ob.on_assigned = [&](const std::vector<topic_partition>& tp) {
    std::lock_guard lock(m);
    for (auto& x : tp) b_parts.insert(x.partition);
  };
  auto b = consumer::create(settings_, ob);
  ASSERT_TRUE(b);
  deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    (*a)->poll(50ms);
    (*b)->poll(50ms);
    std::lock_guard lock(m);
    if (!b_parts.empty() && a_parts.size() + b_parts.size() == 3) break;
  }
  std::lock_guard lock(m);
  EXPECT_FALSE(b_parts.empty());
  EXPECT_GT(a_revoked.load(), 0);
  EXPECT_EQ(a_parts.size() + b_parts.size(), 3u);
  for (int p : b_parts) EXPECT_EQ(a_parts.count(p), 0u) << "partition " << p << " owned twice";
}

TEST(bus_unreachable, delivery_fails_after_timeout_and_queue_full_is_backpressure) {
  settings s;
  s.brokers = "127.0.0.1:1";
  s.delivery_timeout = 1500ms;
  s.client = {{"queue.buffering.max.messages", "3"}};
  auto p = producer::create(s, "test");
  ASSERT_TRUE(p);
  EXPECT_FALSE((*p)->reachable(300ms));
  std::atomic<int> failed{0};
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ((*p)->produce("t", "k", "v", [&](const delivery& d) { failed += d.ok ? 0 : 1; }),
              produce_status::queued);
  EXPECT_EQ((*p)->produce("t", "k", "v", [](const delivery&) {}), produce_status::queue_full);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (failed < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(failed.load(), 3);
}

TEST(bus_config, bad_property_is_a_clear_error) {
  settings s;
  s.brokers = "127.0.0.1:1";
  s.client = {{"no.such.property", "1"}};
  auto p = producer::create(s, "test");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.err().field, "kafka.client.no.such.property");
  EXPECT_NE(p.err().message.find("no.such.property"), std::string::npos);
}

}  // namespace
}  // namespace omni::core::bus
