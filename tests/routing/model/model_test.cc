// The routing model read from the engine's keys of `routing:`, without the router service.
#include "routing/model/config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace omni::routing::model {
namespace {

struct read_result {
  routing_model model;
  std::vector<std::string> errors;
  std::vector<std::string> queues_seen;
};

read_result read_yaml(const std::string& yaml, bool accept_service_keys = false) {
  config::diagnostics sink;
  read_result out;
  auto tree = config::parse_yaml(yaml, "routing.yaml", sink);
  if (tree) {
    config::reader r(*tree, sink);
    out.model = read(r, [&](const std::string& queue, config::reader& q) {
      out.queues_seen.push_back(queue);
      q.accept("notify_expected_wait");
    });
    if (accept_service_keys) r.accept({"history_length", "dedupe_window"});
    r.finish();
    if (sink.empty()) check(r, out.model.engine);
  }
  for (const auto& d : sink.take_sorted()) out.errors.push_back(config::to_string(d));
  return out;
}

TEST(routing_model, reads_queues_rules_channels_and_agents) {
  auto r = read_yaml(R"(
queues:
  support: {skills: {support: 3}, channels: [chat, email], notify_expected_wait: false}
  billing: {skills: {billing: 5}, strategy: most_skilled, max_wait: 10m, on_max_wait: overflow,
            max_wait_target: support}
rules:
  - {name: money, match: {keywords: [invoice]}, queue: billing, priority: 2}
channels:
  chat: {capacity: 2, accept_timeout: 15s, wrap_up: 5s}
affinity: {window: 1h}
tier_priority: {vip: 7}
agents:
  alice: {name: Alice, skills: {support: 5}, capacity: {chat: 4}}
)");
  ASSERT_TRUE(r.errors.empty()) << r.errors.front();
  const auto& e = r.model.engine;
  ASSERT_EQ(e.queues.size(), 2u);
  EXPECT_EQ(e.default_queue, "support");  // the first queue when none is named
  EXPECT_EQ(e.queues[1].agent_strategy, engine::strategy::most_skilled);
  EXPECT_EQ(e.queues[1].max_wait, 600'000);
  EXPECT_EQ(e.queues[1].on_max_wait, engine::expiry_action::overflow);
  ASSERT_EQ(e.rules.size(), 1u);
  EXPECT_EQ(e.rules[0].queue, "billing");
  const auto& chat = e.channels[engine::index_of(engine::channel::chat)];
  EXPECT_EQ(chat.default_capacity, 2);
  EXPECT_EQ(chat.accept_timeout, 15'000);
  EXPECT_EQ(chat.wrap_up, 5'000);
  EXPECT_EQ(e.affinity.window, 3'600'000);
  EXPECT_EQ(e.tier_priority.at("vip"), 7);
  ASSERT_EQ(r.model.agents.count("alice"), 1u);
  EXPECT_EQ(r.model.agents.at("alice").capacity.at(engine::channel::chat), 4);
  EXPECT_EQ(r.queues_seen, (std::vector<std::string>{"support", "billing"}));
}

TEST(routing_model, the_services_keys_are_not_the_models) {
  const std::string yaml = "queues: {support: {}}\nhistory_length: 3\ndedupe_window: 5000\n";
  auto alone = read_yaml(yaml);
  ASSERT_EQ(alone.errors.size(), 2u);
  EXPECT_NE(alone.errors[0].find("unknown key 'history_length'"), std::string::npos)
      << alone.errors[0];
  EXPECT_TRUE(read_yaml(yaml, /*accept_service_keys=*/true).errors.empty());
}

TEST(routing_model, no_queues_gives_the_default_queue_and_drops_rules) {
  auto r = read_yaml("rules: [{name: x, match: {keywords: [a]}, queue: nowhere}]\n");
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
  ASSERT_EQ(r.model.engine.queues.size(), 1u);
  EXPECT_EQ(r.model.engine.queues[0].name, "default");
  EXPECT_TRUE(r.model.engine.rules.empty());
  EXPECT_TRUE(r.queues_seen.empty());
}

TEST(routing_model, cross_checks_report_unknown_queues_and_ranges_have_positions) {
  auto unknown = read_yaml("queues: {a: {}}\nrules: [{name: x, queue: b}]\n");
  ASSERT_EQ(unknown.errors.size(), 1u);
  EXPECT_NE(unknown.errors[0].find("'b'"), std::string::npos) << unknown.errors[0];

  auto range = read_yaml("queues: {a: {}}\nagents: {x: {skills: {s: 11}}}\n");
  ASSERT_EQ(range.errors.size(), 1u);
  EXPECT_NE(range.errors[0].find("routing.yaml:2:"), std::string::npos) << range.errors[0];
  EXPECT_NE(range.errors[0].find("1..10"), std::string::npos) << range.errors[0];
}

}  // namespace
}  // namespace omni::routing::model
