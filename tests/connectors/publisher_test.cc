#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>

#include "connectors/publisher.h"
#include "core/bus/embedded_cluster.h"
#include "core/events/codec.h"

namespace omni::connectors {
namespace {

using namespace std::chrono_literals;

core::contact make(const std::string& source) {
  core::contact c;
  c.provider = "test";
  c.source_id = source;
  c.id = core::contact_id(c.provider, c.source_id);
  c.domain = "d";
  c.received_at = 1;
  return c;
}

// Waits for one publish answer.
publish_status publish_sync(contact_publisher& p, const core::contact& c) {
  std::mutex m;
  std::condition_variable cv;
  std::optional<publish_status> got;
  p.publish(c, [&](publish_status s) {
    std::lock_guard lock(m);
    got = s;
    cv.notify_all();
  });
  std::unique_lock lock(m);
  cv.wait_for(lock, 15s, [&] { return got.has_value(); });
  return got.value_or(publish_status::failed);
}

class publisher_test : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::move(core::bus::embedded_cluster::start(1).value());
    ASSERT_TRUE(cluster_->create_topic("c", 2));
    settings_.brokers = cluster_->bootstrap();
    producer_ = std::move(core::bus::producer::create(settings_, "t").value());
  }
  std::int64_t count() { return *core::bus::message_count(settings_, "c", 5s); }
  // Every contact on topic "c", by source id.
  std::map<std::string, core::contact> stored() {
    std::map<std::string, core::contact> out;
    for (std::int32_t part = 0; part < 2; ++part)
      EXPECT_TRUE(core::bus::read_partition(
          settings_, "c", part, 0,
          [&](const core::bus::message& m) {
            auto c = core::decode_contact(m.value);
            EXPECT_TRUE(c) << c.err().to_string();
            if (c) out[c->source_id] = *c;
            return true;
          },
          5s));
    return out;
  }

  std::unique_ptr<core::bus::embedded_cluster> cluster_;
  core::bus::settings settings_;
  std::unique_ptr<core::bus::producer> producer_;
};

TEST_F(publisher_test, remembers_stored_ids_within_its_capacity) {
  kafka_contact_publisher p(*producer_, "c", /*remember=*/2);
  EXPECT_EQ(publish_sync(p, make("a")), publish_status::stored);
  EXPECT_EQ(publish_sync(p, make("a")), publish_status::duplicate);
  EXPECT_EQ(publish_sync(p, make("b")), publish_status::stored);
  EXPECT_EQ(publish_sync(p, make("c")), publish_status::stored);  // evicts "a"
  EXPECT_EQ(publish_sync(p, make("a")),
            publish_status::stored);  // produced again: downstream dedupes
  EXPECT_EQ(count(), 4);
  // Oldest first, round and round: remembered now c, a.
  EXPECT_EQ(publish_sync(p, make("c")), publish_status::duplicate);
  EXPECT_EQ(publish_sync(p, make("b")), publish_status::stored);  // evicts "c"
  EXPECT_EQ(publish_sync(p, make("a")), publish_status::duplicate);
  EXPECT_EQ(publish_sync(p, make("b")), publish_status::duplicate);
  EXPECT_EQ(publish_sync(p, make("c")), publish_status::stored);  // evicts "a"
  EXPECT_EQ(publish_sync(p, make("a")), publish_status::stored);  // evicts "b"
  EXPECT_EQ(publish_sync(p, make("c")), publish_status::duplicate);
  EXPECT_EQ(count(), 7);
}

TEST_F(publisher_test, concurrent_duplicates_share_one_delivery) {
  kafka_contact_publisher p(*producer_, "c");
  std::mutex m;
  std::condition_variable cv;
  std::vector<publish_status> answers;
  for (int i = 0; i < 5; ++i)
    p.publish(make("same"), [&](publish_status s) {
      std::lock_guard lock(m);
      answers.push_back(s);
      cv.notify_all();
    });
  std::unique_lock lock(m);
  ASSERT_TRUE(cv.wait_for(lock, 15s, [&] { return answers.size() == 5; }));
  for (auto s : answers) EXPECT_TRUE(acknowledged(s));
  EXPECT_EQ(count(), 1);
}

TEST_F(publisher_test, an_oversized_contact_is_stored_clamped_and_a_fitting_one_as_mapped) {
  kafka_contact_publisher p(*producer_, "c");
  core::contact big = make("big");
  big.subject = std::string(core::codec_limits::max_subject_bytes + 10, 's');
  core::contact fits = make("fits");
  fits.text = "Здравствуйте";
  fits.attributes = {{"k", "v"}};
  ASSERT_FALSE(core::within_limits(big));
  ASSERT_TRUE(core::within_limits(fits));
  EXPECT_EQ(publish_sync(p, big), publish_status::stored);
  EXPECT_EQ(publish_sync(p, fits), publish_status::stored);
  auto stored = this->stored();
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored["big"].subject.size(), core::codec_limits::max_subject_bytes);
  EXPECT_EQ(stored["big"].attributes["truncated"], "subject");
  EXPECT_EQ(stored["fits"], fits);
}

// A megabyte of text is within the text limit, but the record would be over the producer's
// message.max.bytes: it is stored with its text cut, never refused forever.
TEST_F(publisher_test, a_contact_too_large_for_kafka_is_stored_with_its_text_cut) {
  kafka_contact_publisher p(*producer_, "c");
  core::contact big = make("long-mail");
  big.text = std::string(core::codec_limits::max_text_bytes, 'x');
  EXPECT_EQ(publish_sync(p, big), publish_status::stored);
  auto stored = this->stored();
  ASSERT_EQ(stored.count("long-mail"), 1u);
  const core::contact& got = stored["long-mail"];
  EXPECT_EQ(got.attributes.at("truncated"), "text");
  EXPECT_GT(got.text.size(), 800'000u);
  EXPECT_LT(got.text.size(), big.text.size());
}

TEST_F(publisher_test, publish_all_reports_the_worst) {
  kafka_contact_publisher p(*producer_, "c");
  std::mutex m;
  std::condition_variable cv;
  std::optional<publish_status> got;
  publish_all(p, {make("x"), make("y"), make("z")}, [&](publish_status s) {
    std::lock_guard lock(m);
    got = s;
    cv.notify_all();
  });
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 15s, [&] { return got.has_value(); }));
  }
  EXPECT_EQ(*got, publish_status::stored);
  EXPECT_EQ(count(), 3);

  cluster_.reset();  // Kafka gone: delivery times out
  core::bus::settings s = settings_;
  s.delivery_timeout = 500ms;
  auto dead = std::move(core::bus::producer::create(s, "t2").value());
  kafka_contact_publisher p2(*dead, "c");
  EXPECT_EQ(publish_sync(p2, make("w")), publish_status::failed);
}

}  // namespace
}  // namespace omni::connectors
