// State export and import: a fixed scenario's state, its refusal of damaged or foreign data, a
// state written by format version 1 (tests/routing/engine/data/engine_state_v1.bin) loading
// into this release, and an import under a changed config. The randomized equivalence
// (snapshot + the rest == everything) is in property_test.cc.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "routing/engine/engine.h"
#include "tests/routing/engine/harness.h"

namespace omni::routing::engine {
namespace {

using testing::base_config;
using testing::harness;
using testing::make_contact;
using testing::make_queue;

engine_config scenario_config() {
  engine_config c = base_config();
  queue_config billing = make_queue("billing", {{"billing", 3}});
  billing.escalation.push_back({seconds(30), escalation_kind::relax_proficiency, "billing", 1});
  billing.max_wait = minutes(10);
  queue_config rr = make_queue("voice", {{"phone", 1}}, {channel::voice});
  rr.agent_strategy = strategy::round_robin;
  c.queues.push_back(billing);
  c.queues.push_back(rr);
  c.rules.push_back({"money", rule_match{.keywords = {"invoice"}}, "billing", 2});
  c.channels[index_of(channel::chat)].wrap_up = seconds(10);
  c.tier_priority["gold"] = 4;
  return c;
}

// Agents in every presence, contacts waiting (one escalated), offered (one excluded by a
// rejection), assigned; a wrap-up running; finished contacts in the dedupe window; affinity.
void play_scenario(harness& h) {
  h.login("ann", {{"billing", 5}, {"phone", 2}}, {{channel::chat, 2}});
  h.login("bob", {{"billing", 2}});
  h.login("cid", {{"phone", 4}});
  h.login("dan", {{"phone", 1}});
  h.send(presence_change{"dan", presence::away});
  h.arrive("c1", channel::chat, "cust1");  // -> ann
  h.accept("c1", "ann");
  h.at(seconds(5));
  h.complete("c1", "ann");  // wrap-up on chat for ann; affinity cust1 -> ann
  contact inv = make_contact("c2", channel::email, "cust2");
  inv.text = "my invoice is wrong";
  inv.customer_tier = "gold";
  h.send(contact_arrived{inv});  // billing, offered to ann (email)
  h.send(offer_rejected{"c2", "ann"});
  h.arrive("c3", channel::voice, "cust3");  // voice: round robin
  h.arrive("c4", channel::voice);
  h.at(seconds(20));
  h.arrive("c5", channel::messenger);
  h.send(contact_abandoned{"c5"});
  contact_arrived late{make_contact("c6", channel::email, "cust1")};
  late.last_agent = history_hint{"bob", seconds(1)};
  h.send(late);
  h.at(seconds(50));  // c2's escalation step fires if still waiting
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// ctest sets OMNI_SOURCE_DIR; by hand, run the binary from the source tree.
std::filesystem::path golden_path() {
  const char* src = std::getenv("OMNI_SOURCE_DIR");
  return std::filesystem::path(src ? src : ".") / "tests/routing/engine/data/engine_state_v1.bin";
}

TEST(engine_snapshot, round_trips_and_goes_on_deciding_as_the_original) {
  harness h(scenario_config());
  play_scenario(h);
  const std::string data = h.eng().export_state();
  EXPECT_EQ(h.eng().export_state(), data) << "the export is deterministic";

  engine copy(scenario_config());
  std::vector<decision> out;
  engine::import_summary summary;
  ASSERT_EQ(copy.import_state(data, out, &summary), "");
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(summary.agents, 4u);
  EXPECT_EQ(summary.moved, 0u);
  EXPECT_EQ(copy.check_invariants(), "");
  EXPECT_EQ(copy.export_state(), data);
  const auto t = h.eng().totals(), u = copy.totals();
  EXPECT_EQ(u.waiting, t.waiting);
  EXPECT_EQ(u.offered, t.offered);
  EXPECT_EQ(u.assigned, t.assigned);
  EXPECT_EQ(u.timers, t.timers);
  EXPECT_EQ(u.decisions, t.decisions);
  EXPECT_EQ(copy.next_deadline(), h.eng().next_deadline());
  for (const auto& q : h.eng().queue_statuses(h.now())) {
    auto v = copy.queue_status(q.name, h.now());
    ASSERT_TRUE(v);
    EXPECT_EQ(v->waiting, q.waiting);
    EXPECT_EQ(v->answered, q.answered);
    EXPECT_EQ(v->abandoned, q.abandoned);
    EXPECT_EQ(v->average_speed_of_answer, q.average_speed_of_answer);
  }
  auto c2 = copy.contact_status("c2", h.now());
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->excluded_agents, std::vector<std::string>{"ann"});
  EXPECT_EQ(c2->priority, h.eng().contact_status("c2", h.now())->priority);

  // The same inputs from here on give the same decisions.
  std::vector<decision> a, b;
  const std::vector<input_event> rest = {
      presence_change{"dan", presence::available},
      contact_arrived{make_contact("c7", channel::voice)},
      contact_arrived{make_contact("c1", channel::chat)},  // finished: a duplicate for both
      agent_logout{"ann"}, contact_arrived{make_contact("c8", channel::chat, "cust1")}};
  timestamp now = h.now();
  for (const auto& ev : rest) {
    now += seconds(7);
    EXPECT_EQ(h.eng().handle(ev, now, a), copy.handle(ev, now, b));
  }
  now += minutes(15);
  h.eng().tick(now, a);
  copy.tick(now, b);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(to_string(a[i]), to_string(b[i]));
  EXPECT_EQ(copy.export_state(), h.eng().export_state());
}

TEST(engine_snapshot, refuses_damaged_foreign_and_newer_data_and_changes_nothing) {
  harness h(scenario_config());
  play_scenario(h);
  const std::string data = h.eng().export_state();
  const std::string empty_export = engine(scenario_config()).export_state();
  auto refused = [&](const std::string& bytes) {
    engine fresh(scenario_config());
    std::vector<decision> out;
    std::string err = fresh.import_state(bytes, out);
    EXPECT_EQ(fresh.export_state(), empty_export) << "a refused import changed the engine";
    EXPECT_TRUE(out.empty());
    return err;
  };
  std::string flipped = data;
  flipped[data.size() / 2] ^= 0x20;
  EXPECT_NE(refused(flipped).find("checksum"), std::string::npos);
  EXPECT_NE(refused(data.substr(0, data.size() - 100)).find("checksum"), std::string::npos);
  EXPECT_NE(refused("{\"not\": \"a snapshot\"}").find("not an engine state"), std::string::npos);
  EXPECT_NE(refused("").find("not an engine state"), std::string::npos);

  // A newer format (version 2, checksum made right): refused by name.
  std::string newer = data.substr(0, data.size() - 8);
  newer[std::string_view("omni.engine.state").size()] = 2;
  std::uint64_t sum = 1469598103934665603ull;
  for (unsigned char c : newer) sum = (sum ^ c) * 1099511628211ull;
  for (int k = 0; k < 8; ++k) newer.push_back(static_cast<char>(sum >> (8 * k)));
  EXPECT_NE(refused(newer).find("newer than this release"), std::string::npos) << refused(newer);

  // Into an engine that has already handled something: refused.
  engine used(scenario_config());
  std::vector<decision> out;
  used.handle(agent_login{"x", {}, {}}, 0, out);
  EXPECT_NE(used.import_state(data, out).find("handled nothing"), std::string::npos);
}

TEST(engine_snapshot, a_queue_gone_from_the_config_sends_its_contacts_to_the_default_queue) {
  harness h(scenario_config());
  play_scenario(h);
  ASSERT_TRUE(h.eng().contact_status("c2", h.now()));
  ASSERT_EQ(h.eng().contact_status("c2", h.now())->queue, "billing");
  engine_config without = scenario_config();
  without.queues.erase(without.queues.begin() + 1);  // billing
  without.rules.clear();
  engine copy(without);
  std::vector<decision> out;
  engine::import_summary summary;
  ASSERT_EQ(copy.import_state(h.eng().export_state(), out, &summary), "");
  EXPECT_GE(summary.moved, 1u);
  bool overflowed = false;
  for (const auto& d : out)
    if (d.kind == decision_kind::overflow && d.contact == "c2") {
      overflowed = true;
      EXPECT_EQ(d.from_queue, "billing");
      EXPECT_EQ(d.queue, "general");
      EXPECT_EQ(d.reason.code, reason_code::reconfigure);
    }
  EXPECT_TRUE(overflowed);
  EXPECT_EQ(copy.check_invariants(), "");
}

// A state written by format version 1 loads in this release and means what it meant. The file
// is the scenario's export when version 1 was current; OMNI_WRITE_ENGINE_STATE=1 rewrites it
// (only ever for a new version's file: old files stay as they were written).
TEST(engine_snapshot, a_state_written_by_format_version_1_loads) {
  if (std::getenv("OMNI_WRITE_ENGINE_STATE")) {
    harness h(scenario_config());
    play_scenario(h);
    std::filesystem::create_directories(golden_path().parent_path());
    std::ofstream(golden_path(), std::ios::binary) << h.eng().export_state();
  }
  const std::string v1 = slurp(golden_path());
  ASSERT_FALSE(v1.empty()) << golden_path();
  engine e(scenario_config());
  std::vector<decision> out;
  ASSERT_EQ(e.import_state(v1, out), "");
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(e.check_invariants(), "");
  const timestamp now = seconds(50);
  auto c2 = e.contact_status("c2", now);
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->queue, "billing");
  EXPECT_EQ(c2->excluded_agents, std::vector<std::string>{"ann"});
  auto ann = e.agent_status("ann", now);
  ASSERT_TRUE(ann);
  EXPECT_EQ(ann->handled, 1u);
  EXPECT_EQ(ann->capacity[index_of(channel::chat)], 2);
  auto general = e.queue_status("general", now);
  ASSERT_TRUE(general);
  EXPECT_EQ(general->completed, 1u);
  EXPECT_EQ(general->abandoned, 1u);
  // The finished c1 is still a duplicate; c5 too.
  EXPECT_EQ(e.handle(contact_arrived{make_contact("c1", channel::chat)}, now, out),
            input_result::duplicate_contact);
  EXPECT_EQ(e.handle(contact_arrived{make_contact("c5", channel::chat)}, now, out),
            input_result::duplicate_contact);
  // And the scenario's own engine, today, exports the same bytes (while version 1 is current).
  harness h(scenario_config());
  play_scenario(h);
  EXPECT_EQ(h.eng().export_state(), v1);
}

}  // namespace
}  // namespace omni::routing::engine
