#pragma once
// A webhook connector wired exactly as the daemon wires it: the embedded Kafka, a real producer and
// publisher, the shared HTTP listener on a free port, io threads, and the connector created by its
// registered factory from a YAML entry. Tests talk to it with a real HTTP client and read
// omni.contacts with a real Kafka consumer.

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "config/config.h"
#include "connectors/publisher.h"
#include "connectors/registry.h"
#include "core/bus/bus.h"
#include "core/bus/embedded_cluster.h"
#include "core/events/codec.h"
#include "core/http/listener.h"
#include "core/http/testing/client.h"
#include "core/metrics/metrics.h"

namespace omni::connectors::testing {

using namespace std::chrono_literals;
namespace http = core::http;

class webhook_fixture : public ::testing::Test {
 protected:
  // The listener's settings in these tests: a 64 KiB body limit, so a 413 is cheap to provoke.
  static http::settings small_bodies() {
    http::settings hs;
    hs.body_limit = 64 * 1024;
    return hs;
  }

  // `connectors_yaml` is the `connectors:` list, e.g. "  - type: telegram\n    name: t\n ...".
  void start(const std::string& connectors_yaml, http::settings hs = small_bodies()) {
    auto cluster = core::bus::embedded_cluster::start(1);
    ASSERT_TRUE(cluster) << cluster.err().to_string();
    cluster_ = std::move(*cluster);
    ASSERT_TRUE(cluster_->create_topic(topic, 3));
    ASSERT_TRUE(cluster_->create_topic(agent_topic, 3));
    kafka_.brokers = cluster_->bootstrap();
    kafka_.delivery_timeout = 2s;  // so a Kafka outage answers within the client's timeout
    auto p = core::bus::producer::create(kafka_, "test");
    ASSERT_TRUE(p) << p.err().to_string();
    producer_ = std::move(*p);
    publisher_ = std::make_unique<kafka_contact_publisher>(*producer_, topic);
    agent_events_ = std::make_unique<kafka_agent_event_publisher>(*producer_, agent_topic);
    listener_ = std::make_unique<http::listener>(ioc_, hs);
    auto loaded = config::load_string("connectors:\n" + connectors_yaml, "test.yaml");
    ASSERT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : config::to_string(loaded.errors[0]));
    config::diagnostics sink;
    connectors_ = create_all(
        *loaded.config, sink,
        context{&ioc_, listener_.get(), publisher_.get(), {}, "test", agent_events_.get()});
    ASSERT_TRUE(sink.empty()) << config::to_string(sink.items()[0]);
    for (auto& c : connectors_) ASSERT_TRUE(c->start());
    ASSERT_FALSE(listener_->start().has_value());
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  void TearDown() override {
    if (listener_) {
      listener_->stop();
      listener_->wait_stopped(5s);
    }
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
    listener_.reset();
    connectors_.clear();
    publisher_.reset();
    agent_events_.reset();
    producer_.reset();
    cluster_.reset();
  }

  std::uint16_t port() const { return listener_->port(); }

  http::testing::reply post(const std::string& path, const std::string& body,
                            http::header_map headers = {},
                            const std::string& content_type = "application/json") {
    http::testing::client_request req;
    req.method = "POST";
    req.target = path;
    req.body = body;
    req.headers = std::move(headers);
    req.headers.set("Content-Type", content_type);
    return http::testing::fetch(port(), std::move(req));
  }

  http::testing::reply get(const std::string& target) { return http::testing::get(port(), target); }

  // Exact number of messages on the contacts topic.
  std::int64_t stored() {
    auto n = core::bus::message_count(kafka_, topic, 5s);
    EXPECT_TRUE(n) << n.err().to_string();
    return n ? *n : -1;
  }

  // Every contact on the topic, decoded (fails the test on an undecodable record).
  std::vector<core::contact> contacts() {
    return read_all<core::contact>(topic,
                                   [](std::string_view v) { return core::decode_contact(v); });
  }

  // Every agent event on the agent events topic, decoded.
  std::vector<core::agent_event> agent_events() {
    return read_all<core::agent_event>(
        agent_topic, [](std::string_view v) { return core::decode_agent_event(v); });
  }

  template <class T, class Decode>
  std::vector<T> read_all(const std::string& name, Decode decode) {
    auto n = core::bus::message_count(kafka_, name, 5s);
    EXPECT_TRUE(n) << n.err().to_string();
    std::int64_t want = n ? *n : -1;
    std::vector<T> out;
    auto c = core::bus::consumer::create(
        kafka_, {.group_id = "reader-" + std::to_string(++readers_), .topics = {name}});
    EXPECT_TRUE(c);
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (static_cast<std::int64_t>(out.size()) < want &&
           std::chrono::steady_clock::now() < deadline) {
      if (auto m = (*c)->poll(100ms)) {
        auto decoded = decode(m->value);
        EXPECT_TRUE(decoded) << decoded.err().to_string() << "\n" << m->value;
        if (decoded) {
          EXPECT_EQ(m->key, decoded->domain);
          out.push_back(std::move(*decoded));
        }
      }
    }
    return out;
  }

  double metric(const std::string& series) {
    std::string text = core::metrics::global().render();
    auto pos = text.find("\n" + series + " ");
    if (pos == std::string::npos) return 0;
    return std::stod(text.substr(pos + series.size() + 2));
  }

  // Kafka goes away: producing now fails after the delivery timeout.
  void take_kafka_down() { cluster_.reset(); }

  static constexpr const char* topic = "omni.contacts";
  static constexpr const char* agent_topic = "omni.agent-events";
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(ioc_);
  std::vector<std::thread> threads_;
  std::unique_ptr<core::bus::embedded_cluster> cluster_;
  core::bus::settings kafka_;
  std::unique_ptr<core::bus::producer> producer_;
  std::unique_ptr<kafka_contact_publisher> publisher_;
  std::unique_ptr<kafka_agent_event_publisher> agent_events_;
  std::unique_ptr<http::listener> listener_;
  std::vector<std::unique_ptr<connector>> connectors_;
  int readers_ = 0;
};

}  // namespace omni::connectors::testing
