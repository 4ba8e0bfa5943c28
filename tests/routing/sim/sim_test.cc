// The simulator's behaviour: determinism, scenario parsing (file:line:col errors), abandonment,
// shifts, per-interval rates, wrap-up and occupancy, accept delays and missed offers, replay of
// recorded JSON lines, and the report renderings.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/reader.h"
#include "core/events/codec.h"
#include "routing/sim/report.h"
#include "routing/sim/simulator.h"

namespace omni::routing::sim {
namespace {

namespace eng = omni::routing::engine;

eng::engine_config two_queue_config() {
  eng::engine_config cfg;
  eng::queue_config sales, support;
  sales.name = "sales";
  sales.required_skills = {{"sales", 3}};
  sales.channels = {eng::channel::voice, eng::channel::chat};
  support.name = "support";
  support.required_skills = {{"support", 1}};
  support.sla_threshold = eng::seconds(30);
  cfg.queues = {support, sales};
  cfg.default_queue = "support";
  eng::classification_rule rule;
  rule.name = "sales-line";
  rule.match.to = {"+100"};
  rule.queue = "sales";
  cfg.rules = {rule};
  return cfg;
}

scenario parse(const std::string& yaml, config::diagnostics& sink) {
  auto tree = config::parse_yaml(yaml, "scenario.yaml", sink);
  EXPECT_TRUE(tree.has_value());
  return parse_scenario(*tree, sink);
}

scenario parse_ok(const std::string& yaml) {
  config::diagnostics sink;
  scenario s = parse(yaml, sink);
  for (const auto& d : sink.items()) ADD_FAILURE() << config::to_string(d);
  return s;
}

const char* const mixed_yaml = R"(
duration: 4h
warmup: 30m
interval: 30m
seed: 7
clock_start: "08:00"
arrivals:
  - name: sales-calls
    channel: voice
    to: "+100"
    rate_per_hour: 60
    handle_time: {distribution: lognormal, mean: 4m, sd: 2m}
    patience: {distribution: exponential, mean: 2m}
  - name: support-chats
    channel: chat
    rates_per_hour: [0, 30, 90, 120, 120, 90, 60, 30]
    handle_time: {distribution: exponential, mean: 6m}
agents:
  - group: sales
    count: 4
    skills: {sales: 5}
    accept_delay: 3s
  - group: support
    count: 3
    skills: {support: 5, sales: 3}
    capacity: {chat: 2}
    shifts: [{start: 0s, end: 2h}, {start: 2h30m, end: 4h}]
    accept_delay: {distribution: fixed, mean: 1s}
channels:
  chat: {wrap_up: 30s}
)";

TEST(sim_scenario, parses_every_section) {
  scenario s = parse_ok(mixed_yaml);
  EXPECT_EQ(s.duration, eng::hours(4));
  EXPECT_EQ(s.day_offset, eng::hours(8));
  ASSERT_EQ(s.arrivals.size(), 2u);
  EXPECT_EQ(s.arrivals[0].handle_time.kind, distribution_kind::lognormal);
  EXPECT_EQ(s.arrivals[0].patience.kind, distribution_kind::exponential);
  EXPECT_EQ(s.arrivals[1].rates_per_hour.size(), 8u);
  ASSERT_EQ(s.agents.size(), 2u);
  EXPECT_EQ(s.agents[0].accept_delay.kind, distribution_kind::fixed);
  ASSERT_EQ(s.agents[1].shifts.size(), 2u);
  EXPECT_EQ(s.agents[1].shifts[1].start, eng::minutes(150));
  EXPECT_EQ(s.channels.at(eng::channel::chat).wrap_up, eng::seconds(30));
}

TEST(sim_scenario, errors_have_positions_and_suggestions) {
  config::diagnostics sink;
  parse(R"(duration: 4h
arrivals:
  - channel: fax
    rate_per_hour: 10
    handle_time: {distribution: weibull, mean: 3m}
agents:
  - group: a
    skils: {x: 1}
)",
        sink);
  auto errors = sink.take_sorted();
  ASSERT_GE(errors.size(), 3u);
  std::string all;
  for (const auto& d : errors) all += config::to_string(d) + "\n";
  EXPECT_NE(all.find("scenario.yaml:3:14"), std::string::npos) << all;  // channel: fax
  EXPECT_NE(all.find("weibull"), std::string::npos) << all;
  EXPECT_NE(all.find("skills"), std::string::npos) << all;  // did you mean
}

TEST(sim_run, same_seed_same_report_byte_for_byte) {
  scenario s = parse_ok(mixed_yaml);
  const auto cfg = two_queue_config();
  const std::string a = to_json(simulate(cfg, s));
  const std::string b = to_json(simulate(cfg, s));
  EXPECT_EQ(a, b);
  s.seed = 8;
  EXPECT_NE(a, to_json(simulate(cfg, s)));
}

TEST(sim_run, mixed_day_adds_up) {
  scenario s = parse_ok(mixed_yaml);
  report r = simulate(two_queue_config(), s);
  ASSERT_EQ(r.queues.size(), 2u);
  const auto& support = r.queues[0].stats;
  const auto& sales = r.queues[1].stats;
  EXPECT_GT(sales.offered, 150u);
  EXPECT_GT(support.offered, 200u);
  EXPECT_GT(sales.abandoned, 0u);    // patience 2m with 4 agents at 4m handle
  EXPECT_EQ(support.abandoned, 0u);  // chats never give up in this scenario
  for (const auto* st : {&support, &sales})
    EXPECT_EQ(st->offered, st->answered + st->abandoned + st->expired + st->unanswered);
  EXPECT_EQ(r.overall.offered, support.offered + sales.offered);
  // The first interval is warm-up and the chat rate is 0 then; counted contacts start after.
  ASSERT_EQ(r.intervals.size(), 8u);
  EXPECT_TRUE(r.intervals[0].warmup);
  EXPECT_EQ(r.intervals[0].overall.offered, 0u);
  EXPECT_GT(r.intervals[1].queues[0].offered, 0u);
  // Support agents: 3 agents x (1.5h + 1.5h) logged in after the warm-up, plus the time each
  // takes to finish the chats it holds when a shift ends (it takes no new work then).
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_LE(r.groups[1].logged_in_ms, 3.0 * (3.0 + 2 * 0.5) * 3.6e6);
  EXPECT_GT(r.groups[1].logged_in_ms, 3.0 * 2.5 * 3.6e6);
  EXPECT_GT(r.groups[0].occupancy(), 0.3);
  EXPECT_LE(r.groups[0].occupancy(), 1.0);
  // Waits are ordered percentiles.
  EXPECT_LE(sales.wait_p50_ms, sales.wait_p90_ms);
  EXPECT_LE(sales.wait_p90_ms, sales.wait_p99_ms);
  EXPECT_EQ(clock_label(r, r.intervals[1].start), "08:30");
}

TEST(sim_run, fixed_handle_and_wrap_up_give_exact_occupancy) {
  // One agent, one call every 10 minutes exactly is not Poisson; use a low Poisson rate and check
  // occupancy = (handle + wrap) x answered / logged-in time.
  eng::engine_config cfg;
  eng::queue_config q;
  q.name = "q";
  cfg.queues = {q};
  cfg.default_queue = "q";
  cfg.channels[eng::index_of(eng::channel::voice)].auto_accept = true;
  scenario s = parse_ok(R"(
duration: 10h
interval: 1h
arrivals:
  - channel: voice
    rate_per_hour: 4
    handle_time: 5m
agents:
  - group: solo
channels:
  voice: {wrap_up: 1m}
)");
  report r = simulate(cfg, s);
  const auto& st = r.overall;
  ASSERT_GT(st.answered, 20u);
  // Busy time counted inside the run; the last call may spill over the end.
  const double expected = static_cast<double>(st.answered) * 6 * 60'000;
  EXPECT_NEAR(r.groups[0].busy_ms, expected, 6 * 60'000 + 1);
  EXPECT_DOUBLE_EQ(r.groups[0].logged_in_ms, 10 * 3.6e6);
}

TEST(sim_run, slow_accepts_time_out_and_agents_recover) {
  eng::engine_config cfg;
  eng::queue_config q;
  q.name = "q";
  cfg.queues = {q};
  cfg.default_queue = "q";
  cfg.channels[eng::index_of(eng::channel::voice)].accept_timeout = eng::seconds(10);
  scenario s = parse_ok(R"(
duration: 2h
interval: 30m
arrivals:
  - channel: voice
    rate_per_hour: 20
    handle_time: 2m
agents:
  - group: slow
    count: 2
    accept_delay: {distribution: exponential, mean: 8s}
    recover_after: 30s
)");
  // A contact both agents missed is never offered to them again (engine rule): the customer
  // eventually hangs up.
  s.arrivals[0].patience = distribution::fixed(eng::minutes(10));
  report r = simulate(cfg, s);
  EXPECT_GT(r.overall.answered, 20u);
  EXPECT_EQ(r.overall.offered,
            r.overall.answered + r.overall.abandoned + r.overall.expired + r.overall.unanswered);
  EXPECT_EQ(r.overall.unanswered, 0u);
  EXPECT_GT(r.overall.abandoned, 0u);
}

TEST(sim_run, replays_recorded_json_lines) {
  const auto dir = std::filesystem::temp_directory_path() / "omni_sim_replay_test";
  std::filesystem::create_directories(dir);
  const auto file = dir / "day.jsonl";
  const core::timestamp_ms day = 1'780'000'000'000 / 86'400'000 * 86'400'000;
  {
    std::ofstream out(file);
    core::agent_event login;
    login.id = "e1";
    login.type = core::agent_event_type::login;
    login.agent_id = "alice";
    login.at = day + eng::hours(8);
    login.domain = "main";
    login.skills = {{"support", 5}};
    out << core::encode(login) << "\n";
    for (int i = 0; i < 10; ++i) {
      core::contact c;
      c.id = "rc" + std::to_string(i);
      c.chan = core::channel::chat;
      c.provider = "webchat";
      c.source_id = c.id;
      c.received_at = day + eng::hours(8) + eng::minutes(10) * i + 1000;
      c.domain = "main";
      c.conversation = "conv" + std::to_string(i);
      c.customer.identities = {{"visitor", "v" + std::to_string(i)}};
      c.text = "hello";
      out << core::encode(c) << "\n";
      core::agent_event acc, done;
      acc.id = "acc" + std::to_string(i);
      acc.type = core::agent_event_type::accept;
      acc.agent_id = "alice";
      acc.contact_id = c.id;
      acc.domain = "main";
      acc.at = c.received_at + 5000;
      done = acc;
      done.id = "done" + std::to_string(i);
      done.type = core::agent_event_type::complete;
      done.at = acc.at + eng::minutes(3);
      out << core::encode(acc) << "\n" << core::encode(done) << "\n";
    }
    // A follow-up message in conversation 0 while it is handled is not a new contact.
    core::contact follow;
    follow.id = "rc0b";
    follow.chan = core::channel::chat;
    follow.provider = "webchat";
    follow.source_id = "rc0b";
    follow.received_at = day + eng::hours(8) + 2000;
    follow.domain = "main";
    follow.conversation = "conv0";
    follow.customer.identities = {{"visitor", "v0"}};
    follow.text = "are you there?";
    out << core::encode(follow) << "\n";
  }
  eng::engine_config cfg;
  eng::queue_config q;
  q.name = "support";
  q.required_skills = {{"support", 1}};
  cfg.queues = {q};
  cfg.default_queue = "support";
  scenario s = parse_ok("interval: 1h\nreplay:\n  file: " + file.string() + "\n");
  report r = simulate(cfg, s);
  EXPECT_EQ(r.overall.offered, 10u);
  EXPECT_EQ(r.overall.answered, 10u);
  EXPECT_EQ(r.overall.waited, 0u);  // one every 10 minutes, 3 minutes each
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_EQ(r.groups[0].name, "recorded");
  EXPECT_EQ(r.groups[0].agents, 1);
  EXPECT_EQ(r.intervals.size(), 10u);  // midnight to 09:00-10:00
  EXPECT_EQ(r.intervals[8].overall.offered, 6u);
  // 10 contacts x 3 minutes busy.
  EXPECT_NEAR(r.groups[0].busy_ms, 10 * 180'000.0, 10 * 1000.0);
  std::filesystem::remove_all(dir);
}

TEST(sim_report, table_json_and_svg) {
  scenario s = parse_ok(mixed_yaml);
  const auto cfg = two_queue_config();
  run_options a, b;
  a.config_name = "a.yaml";
  b.config_name = "b.yaml";
  auto cfg_b = cfg;
  cfg_b.queues[1].agent_strategy = eng::strategy::most_skilled;
  std::vector<report> runs{simulate(cfg, s, a), simulate(cfg_b, s, b)};
  const std::string table = to_table(runs);
  EXPECT_NE(table.find("a.yaml"), std::string::npos);
  EXPECT_NE(table.find("b.yaml"), std::string::npos);
  EXPECT_NE(table.find("sales"), std::string::npos);
  EXPECT_NE(table.find("service level"), std::string::npos);
  const std::string json = to_json(runs);
  EXPECT_EQ(json.rfind("{\"schema\": \"omni.sim_comparison.v1\"", 0), 0u);
  const std::string svg = to_svg({runs[0]});
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  const std::string single = to_table({runs[0]});
  EXPECT_NE(single.find("08:30"), std::string::npos);  // the interval table
}

TEST(sim_run, unknown_queue_in_scenario_is_an_error) {
  scenario s = parse_ok(R"(
duration: 1h
arrivals:
  - channel: voice
    queue: nope
    rate_per_hour: 1
    handle_time: 1m
agents:
  - group: a
)");
  EXPECT_THROW(simulate(two_queue_config(), s), std::invalid_argument);
}

}  // namespace
}  // namespace omni::routing::sim
