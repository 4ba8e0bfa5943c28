#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>

#include "routing/engine/engine.h"
#include "tests/routing/engine/harness.h"

namespace omni::routing::engine {
namespace {

using testing::base_config;
using ::testing::ElementsAre;
using testing::harness;
using ::testing::IsEmpty;
using testing::make_contact;
using testing::make_queue;

engine_config sales_config(int min_proficiency = 5) {
  engine_config c = base_config();
  c.queues.push_back(make_queue("sales", {{"sales", min_proficiency}}));
  return c;
}

// ---------------------------------------------------------------------------------------------
// Skills, capacity, cross-channel.

TEST(engine_skills, proficiency_below_minimum_is_not_eligible) {
  harness h(sales_config(5));
  h.login("low", {{"sales", 4}});
  h.arrive_in("c1", channel::chat, "sales");
  EXPECT_THAT(h.offers(), IsEmpty());
  EXPECT_EQ(h.state_of("c1"), contact_state::waiting);
  h.login("high", {{"sales", 5}});
  EXPECT_THAT(h.offers(), ElementsAre("c1->high"));
}

TEST(engine_skills, skill_update_makes_agent_eligible) {
  harness h(sales_config(5));
  h.login("a1", {{"support", 9}});
  h.arrive_in("c1", channel::chat, "sales");
  EXPECT_THAT(h.offers(), IsEmpty());
  h.send(agent_update{"a1", std::vector<skill_level>{{"sales", 7}}, {}});
  EXPECT_THAT(h.offers(), ElementsAre("c1->a1"));
}

TEST(engine_capacity, default_chat_capacity_is_three) {
  harness h(base_config());
  h.login("a1");
  for (int i = 1; i <= 4; ++i) h.arrive("c" + std::to_string(i), channel::chat);
  EXPECT_EQ(h.eng().agent_status("a1", 0)->load[index_of(channel::chat)], 3);
  EXPECT_EQ(h.state_of("c4"), contact_state::waiting);
  h.accept("c1", "a1");
  h.complete("c1", "a1");
  EXPECT_THAT(h.offers(), ElementsAre("c4->a1"));
}

TEST(engine_capacity, defaults_per_channel) {
  harness h(base_config());
  h.login("a1");
  auto v = h.eng().agent_status("a1", 0);
  EXPECT_EQ(v->capacity[index_of(channel::voice)], 1);
  EXPECT_EQ(v->capacity[index_of(channel::chat)], 3);
  EXPECT_EQ(v->capacity[index_of(channel::email)], 5);
  EXPECT_EQ(v->capacity[index_of(channel::messenger)], 3);
}

TEST(engine_capacity, override_and_zero_disables_channel) {
  harness h(base_config());
  h.login("a1", {}, {{channel::chat, 1}, {channel::email, 0}});
  h.arrive("e1", channel::email);
  h.arrive("c1", channel::chat);
  h.arrive("c2", channel::chat);
  EXPECT_EQ(h.state_of("e1"), contact_state::waiting);
  EXPECT_EQ(h.state_of("c1"), contact_state::offered);
  EXPECT_EQ(h.state_of("c2"), contact_state::waiting);
}

TEST(engine_capacity, reduction_revokes_newest_excess_offers) {
  harness h(base_config());
  h.login("a1");
  h.arrive("c1", channel::chat);
  h.arrive("c2", channel::chat);
  h.accept("c1", "a1");
  h.send(agent_update{"a1", std::nullopt, {{channel::chat, 1}}});
  ASSERT_EQ(h.of(decision_kind::revoke).size(), 1u);
  EXPECT_EQ(h.of(decision_kind::revoke)[0].contact, "c2");
  EXPECT_EQ(h.of(decision_kind::revoke)[0].reason.code, reason_code::capacity_reduced);
  EXPECT_EQ(h.state_of("c2"), contact_state::waiting);
  EXPECT_EQ(h.state_of("c1"), contact_state::assigned);
}

TEST(engine_cross_channel, agent_on_voice_gets_no_chat_by_default) {
  harness h(base_config());
  h.login("a1");
  h.arrive("v1", channel::voice);
  h.accept("v1", "a1");
  h.arrive("c1", channel::chat);
  EXPECT_THAT(h.offers(), IsEmpty());
  h.complete("v1", "a1");
  EXPECT_THAT(h.offers(), ElementsAre("c1->a1"));
}

TEST(engine_cross_channel, chat_does_not_block_voice_and_config_can_allow_chat) {
  harness h(base_config());
  h.login("a1");
  h.arrive("c1", channel::chat);
  h.arrive("v1", channel::voice);
  EXPECT_THAT(h.offers(), ElementsAre("v1->a1"));

  engine_config c = base_config();
  c.blocks[index_of(channel::voice)][index_of(channel::chat)] = false;
  harness h2(c);
  h2.login("a1");
  h2.arrive("v1", channel::voice);
  h2.arrive("c1", channel::chat);
  EXPECT_THAT(h2.offers(), ElementsAre("c1->a1"));
}

// ---------------------------------------------------------------------------------------------
// Agent choice strategies.

engine_config strategy_config(strategy s) {
  engine_config c = base_config();
  c.queues[0].agent_strategy = s;
  return c;
}

TEST(engine_strategy, longest_idle_is_default_and_picks_the_longest_idle) {
  harness h(base_config());
  h.login("a1");
  h.at(1000);
  h.login("a2");
  h.at(2000);
  h.arrive("c1", channel::voice);
  EXPECT_THAT(h.offers(), ElementsAre("c1->a1"));
  EXPECT_EQ(h.of(decision_kind::offer)[0].reason.strat, strategy::longest_idle);
  EXPECT_EQ(h.of(decision_kind::offer)[0].reason.candidates, 2u);
  h.accept("c1", "a1");
  h.at(3000);
  h.complete("c1", "a1");  // a1 idle since 3000, a2 since 1000
  h.arrive("c2", channel::voice);
  EXPECT_THAT(h.offers(), ElementsAre("c2->a2"));
}

TEST(engine_strategy, least_occupied) {
  harness h(strategy_config(strategy::least_occupied));
  h.login("busy");
  h.at(10);
  h.login("free");
  h.arrive("c1", channel::chat);  // busy is longest idle, both empty -> tie broken by idle
  EXPECT_THAT(h.offers(), ElementsAre("c1->busy"));
  h.arrive("c2", channel::chat);
  EXPECT_THAT(h.offers(), ElementsAre("c2->free"));
  h.arrive("c3", channel::chat);  // both at 1/15: the one idle longer (busy offered at 0)
  EXPECT_THAT(h.offers(), ElementsAre("c3->busy"));
  h.arrive("c4", channel::chat);  // busy 2/15, free 1/15
  EXPECT_THAT(h.offers(), ElementsAre("c4->free"));
}

TEST(engine_strategy, most_skilled) {
  engine_config c = sales_config(1);
  c.queues[1].agent_strategy = strategy::most_skilled;
  harness h(c);
  h.login("novice", {{"sales", 3}});
  h.login("expert", {{"sales", 9}});
  h.login("mid", {{"sales", 6}});
  h.arrive_in("c1", channel::voice, "sales");
  EXPECT_THAT(h.offers(), ElementsAre("c1->expert"));
  EXPECT_EQ(h.of(decision_kind::offer)[0].reason.strat, strategy::most_skilled);
  h.arrive_in("c2", channel::voice, "sales");
  EXPECT_THAT(h.offers(), ElementsAre("c2->mid"));
}

TEST(engine_strategy, round_robin_cycles) {
  harness h(strategy_config(strategy::round_robin));
  h.login("a1");
  h.login("a2");
  h.login("a3");
  std::vector<std::string> got;
  for (int i = 0; i < 6; ++i) {
    h.arrive("c" + std::to_string(i), channel::email);
    got.push_back(h.agent_of("c" + std::to_string(i)));
  }
  EXPECT_THAT(got, ElementsAre("a1", "a2", "a3", "a1", "a2", "a3"));
}

// ---------------------------------------------------------------------------------------------
// Customer affinity.

TEST(engine_affinity, recent_agent_gets_first_time_boxed_offer) {
  engine_config c = base_config();
  c.affinity.timebox = seconds(10);
  harness h(c);
  h.login("a1");
  h.at(1);
  h.login("a2");
  h.arrive("first", channel::voice, "cust");
  EXPECT_THAT(h.offers(), ElementsAre("first->a1"));
  h.accept("first", "a1");
  h.at(1000);
  h.complete("first", "a1");  // a2 is now the longest idle
  h.at(2000);
  h.arrive("second", channel::voice, "cust");
  ASSERT_THAT(h.offers(), ElementsAre("second->a1"));
  EXPECT_TRUE(h.of(decision_kind::offer)[0].reason.affinity);
  EXPECT_EQ(h.of(decision_kind::offer)[0].reason.code, reason_code::affinity);
  EXPECT_EQ(h.eng().next_deadline(), 2000 + seconds(10));  // timebox, not the 20 s voice timeout
  h.at(2000 + seconds(10));
  EXPECT_EQ(h.of(decision_kind::revoke).size(), 1u);
  EXPECT_THAT(h.offers(), ElementsAre("second->a2"));
  EXPECT_FALSE(h.of(decision_kind::offer)[0].reason.affinity);
}

TEST(engine_affinity, without_history_the_strategy_decides) {
  harness h(base_config());
  h.login("a1");
  h.at(1);
  h.login("a2");
  h.arrive("x", channel::voice, "other");
  EXPECT_THAT(h.offers(), ElementsAre("x->a1"));
  EXPECT_FALSE(h.of(decision_kind::offer)[0].reason.affinity);
}

TEST(engine_affinity, history_hint_and_window) {
  engine_config c = base_config();
  c.affinity.window = hours(72);
  harness h(c);
  h.login("a1");
  h.at(1);
  h.login("a2");
  h.at(hours(100));
  contact_arrived e{make_contact("c1", channel::voice, "cust")};
  e.last_agent = history_hint{"a2", hours(50)};  // 50 h ago: inside the window
  h.send(e);
  EXPECT_THAT(h.offers(), ElementsAre("c1->a2"));
  EXPECT_TRUE(h.of(decision_kind::offer)[0].reason.affinity);

  contact_arrived old{make_contact("c2", channel::voice, "cust2")};
  old.last_agent = history_hint{"a1", hours(10)};  // 90 h ago: outside the window
  h.login("a3");
  h.send(old);
  EXPECT_FALSE(h.of(decision_kind::offer)[0].reason.affinity);
}

TEST(engine_affinity, busy_recent_agent_is_skipped) {
  harness h(base_config());
  h.login("a1");
  h.at(1);
  h.login("a2");
  h.arrive("first", channel::voice, "cust");
  h.accept("first", "a1");
  h.complete("first", "a1");
  h.arrive("block", channel::voice);  // idle tie at t=1: a1 (logged in first) takes it
  EXPECT_THAT(h.offers(), ElementsAre("block->a1"));
  h.arrive("second", channel::voice, "cust");  // a1 is busy: no affinity, a2 takes it
  ASSERT_THAT(h.offers(), ElementsAre("second->a2"));
  EXPECT_FALSE(h.of(decision_kind::offer)[0].reason.affinity);
}

// ---------------------------------------------------------------------------------------------
// Escalation, overflow, max wait.

TEST(engine_escalation, relax_proficiency) {
  engine_config c = sales_config(8);
  c.queues[1].escalation.push_back({seconds(30), escalation_kind::relax_proficiency, "sales", 4});
  harness h(c);
  h.login("a1", {{"sales", 5}});
  h.arrive_in("c1", channel::chat, "sales");
  EXPECT_THAT(h.offers(), IsEmpty());
  EXPECT_EQ(h.eng().next_deadline(), seconds(30));
  h.at(seconds(30) - 1);
  EXPECT_THAT(h.offers(), IsEmpty());
  h.at(seconds(30));
  ASSERT_EQ(h.of(decision_kind::escalate).size(), 1u);
  EXPECT_EQ(h.of(decision_kind::escalate)[0].reason.step, 0);
  EXPECT_THAT(h.offers(), ElementsAre("c1->a1"));
}

TEST(engine_escalation, drop_skill) {
  engine_config c = base_config();
  c.queues.push_back(make_queue("fr", {{"sales", 1}, {"french", 5}}));
  c.queues[1].escalation.push_back({seconds(60), escalation_kind::drop_skill, "french"});
  harness h(c);
  h.login("a1", {{"sales", 3}});
  h.arrive_in("c1", channel::email, "fr");
  EXPECT_THAT(h.offers(), IsEmpty());
  h.at(seconds(60));
  EXPECT_THAT(h.offers(), ElementsAre("c1->a1"));
  EXPECT_EQ(h.eng().contact_status("c1", h.now())->stage, 1);
}

TEST(engine_escalation, overflow_to_another_queue) {
  engine_config c = sales_config(5);
  c.queues.push_back(make_queue("backup", {{"backup", 1}}));
  c.queues[1].escalation.push_back({seconds(45), escalation_kind::overflow, "", 1, "backup"});
  harness h(c);
  h.login("b1", {{"backup", 2}});
  h.arrive_in("c1", channel::chat, "sales");
  h.at(seconds(45));
  auto o = h.of(decision_kind::overflow);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].from_queue, "sales");
  EXPECT_EQ(o[0].queue, "backup");
  EXPECT_EQ(o[0].reason.code, reason_code::escalation_step);
  EXPECT_THAT(h.offers(), ElementsAre("c1->b1"));
  EXPECT_EQ(h.eng().queue_status("sales", h.now())->overflowed_out, 1u);
  EXPECT_EQ(h.eng().queue_status("backup", h.now())->overflowed_in, 1u);
}

TEST(engine_escalation, raise_priority_reorders) {
  engine_config c = base_config();
  c.queues.push_back(make_queue("slow"));
  c.queues[1].escalation.push_back({seconds(10), escalation_kind::raise_priority, "", 1, "", 50});
  harness h(c);
  h.arrive_in("slow1", channel::voice, "slow");
  h.at(5);
  h.arrive_in("vip", channel::voice, "general", 10);
  h.at(seconds(10));
  EXPECT_EQ(h.eng().contact_status("slow1", h.now())->priority, 50);
  h.login("a1");
  EXPECT_THAT(h.offers(), ElementsAre("slow1->a1"));
}

TEST(engine_max_wait, expires) {
  engine_config c = base_config();
  c.queues[0].max_wait = minutes(5);
  harness h(c);
  h.arrive("c1", channel::email);
  h.at(minutes(5));
  ASSERT_EQ(h.of(decision_kind::expire).size(), 1u);
  EXPECT_EQ(h.of(decision_kind::expire)[0].reason.code, reason_code::max_wait);
  EXPECT_FALSE(h.eng().contact_status("c1", h.now()));
  EXPECT_EQ(h.eng().totals().expired, 1u);
  EXPECT_EQ(h.eng().queue_status("general", h.now())->expired, 1u);
  EXPECT_EQ(h.arrive("c1", channel::email), input_result::duplicate_contact);
}

TEST(engine_max_wait, overflow_action) {
  engine_config c = base_config();
  c.queues.push_back(make_queue("a"));
  c.queues.push_back(make_queue("b"));
  c.queues[1].max_wait = seconds(30);
  c.queues[1].on_max_wait = expiry_action::overflow;
  c.queues[1].max_wait_target = "b";
  harness h(c);
  h.arrive_in("c1", channel::email, "a");
  h.at(seconds(30));
  ASSERT_EQ(h.of(decision_kind::overflow).size(), 1u);
  EXPECT_EQ(h.of(decision_kind::overflow)[0].reason.code, reason_code::max_wait);
  EXPECT_EQ(h.eng().contact_status("c1", h.now())->queue, "b");
}

TEST(engine_max_wait, while_offered_applies_when_offer_returns) {
  engine_config c = base_config();
  c.queues[0].max_wait = seconds(10);
  harness h(c);
  h.login("a1");
  h.arrive("c1", channel::voice);
  h.at(seconds(10));  // offered: not expired under the agent's hands
  EXPECT_EQ(h.state_of("c1"), contact_state::offered);
  h.send(offer_rejected{"c1", "a1"});
  EXPECT_EQ(h.of(decision_kind::expire).size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Offers.

TEST(engine_offer, timeout_requeues_and_never_reoffers_to_same_agent) {
  harness h(base_config());
  h.login("a1");
  h.arrive("c1", channel::voice);
  EXPECT_THAT(h.offers(), ElementsAre("c1->a1"));
  EXPECT_EQ(h.eng().next_deadline(), seconds(20));
  h.at(seconds(20));
  EXPECT_EQ(h.of(decision_kind::revoke).size(), 1u);
  EXPECT_EQ(h.of(decision_kind::requeue).size(), 1u);
  EXPECT_EQ(h.of(decision_kind::requeue)[0].reason.code, reason_code::offer_timeout);
  EXPECT_THAT(h.offers(), IsEmpty());
  EXPECT_EQ(h.state_of("c1"), contact_state::waiting);
  h.arrive("c2", channel::voice);  // a1 still takes other work
  EXPECT_THAT(h.offers(), ElementsAre("c2->a1"));
  h.login("a2");
  EXPECT_THAT(h.offers(), ElementsAre("c1->a2"));
}

TEST(engine_offer, reject_requeues_to_other_agent) {
  harness h(base_config());
  h.login("a1");
  h.at(1);
  h.login("a2", {}, {{channel::voice, 1}});
  h.arrive("c1", channel::voice);
  EXPECT_THAT(h.offers(), ElementsAre("c1->a1"));
  EXPECT_EQ(h.send(offer_rejected{"c1", "a1"}), input_result::ok);
  EXPECT_THAT(h.offers(), ElementsAre("c1->a2"));
  EXPECT_THAT(h.eng().contact_status("c1", 1)->excluded_agents, ElementsAre("a1"));
  EXPECT_EQ(h.eng().agent_status("a1", 1)->rejected, 1u);
}

TEST(engine_offer, consecutive_misses_mark_not_responding) {
  engine_config c = base_config();
  c.max_consecutive_misses = 2;
  harness h(c);
  h.login("a1");
  h.arrive("c1", channel::voice);
  h.at(seconds(20));
  EXPECT_TRUE(h.of(decision_kind::agent_state).empty());
  h.arrive("c2", channel::voice);
  EXPECT_THAT(h.offers(), ElementsAre("c2->a1"));
  h.at(seconds(40));
  auto s = h.of(decision_kind::agent_state);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].agent_presence, presence::not_responding);
  EXPECT_EQ(h.eng().agent_status("a1", h.now())->state, presence::not_responding);
  h.arrive("c3", channel::voice);
  EXPECT_THAT(h.offers(), IsEmpty());
  h.send(presence_change{"a1", presence::available});
  EXPECT_THAT(h.offers(), ElementsAre("c3->a1"));
  EXPECT_EQ(h.eng().agent_status("a1", h.now())->consecutive_misses, 0);
}

TEST(engine_offer, accept_resets_misses) {
  engine_config c = base_config();
  c.max_consecutive_misses = 2;
  harness h(c);
  h.login("a1");
  h.arrive("c1", channel::voice);
  h.at(seconds(20));
  h.arrive("c2", channel::voice);
  h.accept("c2", "a1");
  EXPECT_EQ(h.eng().agent_status("a1", h.now())->consecutive_misses, 0);
}

TEST(engine_offer, auto_accept_assigns_directly) {
  engine_config c = base_config();
  c.channels[index_of(channel::email)].auto_accept = true;
  harness h(c);
  h.login("a1");
  h.arrive("e1", channel::email);
  ASSERT_EQ(h.of(decision_kind::assign).size(), 1u);
  EXPECT_EQ(h.of(decision_kind::assign)[0].reason.code, reason_code::auto_accept);
  EXPECT_TRUE(h.of(decision_kind::offer).empty());
  EXPECT_EQ(h.state_of("e1"), contact_state::assigned);
  EXPECT_FALSE(h.eng().next_deadline());
}

TEST(engine_offer, logout_returns_offers_in_original_position) {
  harness h(base_config());
  h.login("a1");
  h.arrive("old", channel::voice);  // offered to a1
  h.at(100);
  h.arrive("new", channel::voice);  // waits
  h.send(agent_logout{"a1"});
  EXPECT_EQ(h.of(decision_kind::revoke).size(), 1u);
  EXPECT_EQ(h.of(decision_kind::revoke)[0].reason.code, reason_code::logout);
  EXPECT_EQ(h.eng().contact_status("old", h.now())->position, 1u);
  EXPECT_EQ(h.eng().contact_status("new", h.now())->position, 2u);
  h.login("a2");
  EXPECT_THAT(h.offers(), ElementsAre("old->a2"));
  EXPECT_TRUE(h.eng().contact_status("old", h.now())->excluded_agents.empty());
}

TEST(engine_offer, away_returns_offers_but_keeps_accepted_work) {
  harness h(base_config());
  h.login("a1");
  h.arrive("c1", channel::chat);
  h.arrive("c2", channel::chat);
  h.accept("c1", "a1");
  h.send(presence_change{"a1", presence::away});
  EXPECT_EQ(h.state_of("c1"), contact_state::assigned);
  EXPECT_EQ(h.state_of("c2"), contact_state::waiting);
}

TEST(engine_offer, logout_requeues_accepted_work_when_configured) {
  harness h(base_config());
  h.login("a1");
  h.arrive("c1", channel::chat);
  h.accept("c1", "a1");
  h.send(agent_logout{"a1"});
  EXPECT_EQ(h.state_of("c1"), contact_state::waiting);
  h.login("a2");
  EXPECT_THAT(h.offers(), ElementsAre("c1->a2"));
}

TEST(engine_offer, abandon_while_offered_revokes) {
  harness h(base_config());
  h.login("a1");
  h.arrive("c1", channel::chat);
  h.send(contact_abandoned{"c1"});
  EXPECT_EQ(h.of(decision_kind::revoke).size(), 1u);
  EXPECT_EQ(h.of(decision_kind::abandon).size(), 1u);
  EXPECT_EQ(h.eng().agent_status("a1", 0)->load[index_of(channel::chat)], 0);
  EXPECT_EQ(h.eng().totals().abandoned, 1u);
}

// ---------------------------------------------------------------------------------------------
// Wrap-up.

TEST(engine_wrap_up, blocks_same_channel_until_it_ends) {
  engine_config c = base_config();
  c.channels[index_of(channel::voice)].wrap_up = seconds(30);
  harness h(c);
  h.login("a1");
  h.arrive("v1", channel::voice);
  h.accept("v1", "a1");
  h.at(1000);
  h.complete("v1", "a1");
  EXPECT_EQ(*h.eng().agent_status("a1", 1000)->wrap_up_until[index_of(channel::voice)],
            1000 + seconds(30));
  h.arrive("v2", channel::voice);
  EXPECT_THAT(h.offers(), IsEmpty());
  h.arrive("e1", channel::email);  // other channels are not in wrap-up
  EXPECT_THAT(h.offers(), ElementsAre("e1->a1"));
  EXPECT_EQ(h.eng().next_deadline(), 1000 + seconds(30));
  h.at(1000 + seconds(30) - 1);
  EXPECT_THAT(h.offers(), IsEmpty());
  h.at(1000 + seconds(30));
  EXPECT_THAT(h.offers(), ElementsAre("v2->a1"));
}

// ---------------------------------------------------------------------------------------------
// Contact choice when an agent frees up.

TEST(engine_contact_choice, priority_then_sla_deadline_then_oldest) {
  engine_config c = base_config();
  c.queues.push_back(make_queue("fast"));
  c.queues[1].sla_threshold = seconds(5);  // general keeps 20 s
  harness h(c);
  h.arrive_in("old_low", channel::voice, "general", 0);
  h.at(1000);
  h.arrive_in("tight_sla", channel::voice, "fast", 0);  // deadline 6000 < 20000
  h.at(2000);
  h.arrive_in("newer_low", channel::voice, "general", 0);
  h.at(3000);
  h.arrive_in("high", channel::voice, "general", 5);
  std::vector<std::string> order;
  h.login("a1");
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(h.offers().size(), 1u);
    const std::string c1 = h.of(decision_kind::offer)[0].contact;
    order.push_back(c1);
    h.accept(c1, "a1");
    h.complete(c1, "a1");
  }
  EXPECT_THAT(order, ElementsAre("high", "tight_sla", "old_low", "newer_low"));
}

TEST(engine_contact_choice, freed_agent_picks_across_queues_it_serves) {
  engine_config c = sales_config(1);
  c.queues.push_back(make_queue("support", {{"support", 1}}));
  harness h(c);
  h.arrive_in("s1", channel::voice, "sales", 0);
  h.at(10);
  h.arrive_in("p1", channel::voice, "support", 3);
  h.login("a1", {{"sales", 5}, {"support", 5}});
  EXPECT_THAT(h.offers(), ElementsAre("p1->a1"));
  EXPECT_EQ(h.of(decision_kind::offer)[0].reason.code, reason_code::agent_free);
  EXPECT_EQ(h.of(decision_kind::offer)[0].reason.candidates, 2u);
}

// ---------------------------------------------------------------------------------------------
// Classification.

TEST(engine_rules, match_fields_and_default_queue) {
  engine_config c = base_config();
  for (auto n : {"voice_q", "billing", "fr", "vip", "mailbox", "regex", "attr", "prov"}) {
    c.queues.push_back(make_queue(n));
  }
  auto rule = [&](std::string name, rule_match m, std::string q, int prio = 0) {
    c.rules.push_back({std::move(name), std::move(m), std::move(q), prio});
  };
  rule("r_voice", rule_match{.channels = {channel::voice}}, "voice_q");
  rule("r_prov", rule_match{.providers = {"Telegram"}}, "prov");
  rule("r_to", rule_match{.to = {"Billing@Example.com"}}, "mailbox");
  rule("r_kw", rule_match{.keywords = {"invoice"}}, "billing", 3);
  rule("r_regex", rule_match{.regex = "order #[0-9]+"}, "regex");
  rule("r_lang", rule_match{.languages = {"fr"}}, "fr");
  rule("r_tier", rule_match{.customer_tiers = {"gold"}}, "vip");
  rule("r_attr", rule_match{.attributes = {{"plan", "pro"}}}, "attr");
  c.tier_priority["gold"] = 7;
  harness h(c);
  auto queue_of = [&](contact k) {
    h.send(contact_arrived{k});
    auto v = h.eng().contact_status(k.id, 0);
    return v->queue + "/" + v->rule + "/" + std::to_string(v->priority);
  };
  contact k = make_contact("1", channel::voice);
  EXPECT_EQ(queue_of(k), "voice_q/r_voice/0");
  k = make_contact("2", channel::chat);
  k.provider = "telegram";
  EXPECT_EQ(queue_of(k), "prov/r_prov/0");
  k = make_contact("3", channel::email);
  k.to = "billing@example.com";
  EXPECT_EQ(queue_of(k), "mailbox/r_to/0");
  k = make_contact("4", channel::email);
  k.subject = "Your INVOICE";
  EXPECT_EQ(queue_of(k), "billing/r_kw/3");
  k = make_contact("5", channel::email);
  k.text = "about Order #1234 please";
  EXPECT_EQ(queue_of(k), "regex/r_regex/0");
  k = make_contact("6", channel::chat);
  k.language = "FR";
  EXPECT_EQ(queue_of(k), "fr/r_lang/0");
  k = make_contact("7", channel::chat);
  k.customer_tier = "gold";
  k.priority_boost = 2;
  EXPECT_EQ(queue_of(k), "vip/r_tier/9");
  k = make_contact("8", channel::sms);
  k.attributes["plan"] = "pro";
  EXPECT_EQ(queue_of(k), "attr/r_attr/0");
  k = make_contact("9", channel::sms);
  k.attributes["plan"] = "basic";
  EXPECT_EQ(queue_of(k), "general/default/0");
}

TEST(engine_rules, rule_skipped_when_queue_does_not_serve_channel) {
  engine_config c = base_config();
  c.queues.push_back(make_queue("chat_only", {}, {channel::chat}));
  c.rules.push_back({"all", rule_match{}, "chat_only", 0});
  harness h(c);
  h.arrive("e1", channel::email);
  EXPECT_EQ(h.eng().contact_status("e1", 0)->queue, "general");
  h.arrive("c1", channel::chat);
  EXPECT_EQ(h.eng().contact_status("c1", 0)->queue, "chat_only");
}

TEST(engine_rules, preclassified_queue_and_priority) {
  harness h(sales_config());
  h.arrive_in("c1", channel::chat, "sales", 4);
  auto v = h.eng().contact_status("c1", 0);
  EXPECT_EQ(v->queue, "sales");
  EXPECT_EQ(v->rule, "preclassified");
  EXPECT_EQ(v->priority, 4);
  h.arrive_in("c2", channel::chat, "nope");
  EXPECT_EQ(h.eng().contact_status("c2", 0)->queue, "general");
}

// ---------------------------------------------------------------------------------------------
// Statistics and expected wait.

TEST(engine_stats, queue_service_level_asa_abandonment) {
  harness h(base_config());  // sla 20 s
  h.arrive("fast", channel::voice);
  h.arrive("slow", channel::voice);
  h.arrive("gone", channel::voice);
  h.at(seconds(10));
  h.login("a1", {}, {{channel::voice, 1}});
  h.accept("fast", "a1");  // answered after 10 s
  h.at(seconds(40));
  auto q = h.eng().queue_status("general", h.now());
  EXPECT_EQ(q->waiting, 2u);
  EXPECT_EQ(q->longest_wait, seconds(40));
  h.send(contact_abandoned{"gone"});
  h.complete("fast", "a1");  // a1 takes "slow" (offered at 40 s)
  h.accept("slow", "a1");    // answered after 40 s
  q = h.eng().queue_status("general", h.now());
  EXPECT_EQ(q->answered, 2u);
  EXPECT_EQ(q->answered_within_sla, 1u);
  EXPECT_EQ(q->abandoned, 1u);
  EXPECT_DOUBLE_EQ(q->service_level, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(q->abandonment_rate, 1.0 / 3.0);
  EXPECT_EQ(q->average_speed_of_answer, seconds(25));
  EXPECT_EQ(q->waiting, 0u);
  EXPECT_EQ(q->assigned, 1u);
  EXPECT_EQ(q->completed, 1u);
}

TEST(engine_stats, agent_occupancy_and_counters) {
  harness h(base_config());
  h.login("a1");
  h.at(seconds(10));
  h.arrive("c1", channel::voice);
  h.accept("c1", "a1");
  h.at(seconds(30));
  h.complete("c1", "a1");
  auto a = h.eng().agent_status("a1", seconds(40));
  EXPECT_DOUBLE_EQ(a->occupancy, 0.5);  // busy 20 s of 40 s logged in
  EXPECT_EQ(a->handled, 1u);
  EXPECT_EQ(a->offers, 1u);
  EXPECT_EQ(a->idle_since, seconds(30));
}

TEST(engine_stats, expected_wait_and_position) {
  engine_config c = base_config();
  c.channels[index_of(channel::voice)].default_handle_time = minutes(4);
  harness h(c);
  h.login("a1");
  h.login("a2");
  EXPECT_EQ(h.eng().expected_wait("general", channel::voice, 0), 0);  // free agents
  for (int i = 0; i < 6; ++i) h.arrive("c" + std::to_string(i), channel::voice);
  // 2 agents busy, 4 waiting: a new contact is 5th -> 5 * 4 min / 2 slots.
  EXPECT_EQ(h.eng().expected_wait("general", channel::voice, 0), minutes(10));
  auto v = h.eng().contact_status("c3", 0);
  EXPECT_EQ(v->position, 2u);
  EXPECT_EQ(v->expected_wait, minutes(4));
  EXPECT_EQ(h.eng().queue_status("general", 0)->expected_wait[index_of(channel::voice)],
            minutes(10));
  harness empty(base_config());
  EXPECT_FALSE(empty.eng().expected_wait("general", channel::voice, 0));  // nobody staffed
}

// Position = live waiting contacts of the same profile ordered before this one, + 1. The
// harness checks every indexed profile's positions against a brute-force count after each call.
std::size_t position(harness& h, const std::string& c) {
  const auto v = h.eng().contact_status(c, h.now());
  EXPECT_TRUE(v && v->position) << c;
  return v && v->position ? *v->position : 0;
}

TEST(engine_position, follows_priority_arrivals_and_removals) {
  harness h(base_config());
  for (int i = 1; i <= 4; ++i) h.arrive("c" + std::to_string(i), channel::voice);
  EXPECT_EQ(position(h, "c1"), 1u);  // the first query indexes the profile
  EXPECT_EQ(position(h, "c4"), 4u);
  h.arrive_in("vip", channel::voice, "general", 5);  // ahead of everyone
  EXPECT_EQ(position(h, "vip"), 1u);
  EXPECT_EQ(position(h, "c1"), 2u);
  EXPECT_EQ(position(h, "c4"), 5u);
  h.send(contact_abandoned{"c2"});
  EXPECT_EQ(position(h, "c3"), 3u);
  EXPECT_EQ(position(h, "c4"), 4u);
  h.login("a1");  // takes the voice contact at the head: vip
  EXPECT_THAT(h.offers(), ElementsAre("vip->a1"));
  EXPECT_FALSE(h.eng().contact_status("vip", h.now())->position);
  EXPECT_EQ(position(h, "c1"), 1u);
  EXPECT_EQ(position(h, "c3"), 2u);
  EXPECT_EQ(position(h, "c4"), 3u);
  h.arrive("email", channel::email);  // another profile: its own ranking
  EXPECT_EQ(position(h, "email"), 1u);
  EXPECT_EQ(position(h, "c4"), 3u);
}

TEST(engine_position, requeue_after_reject_or_timeout_keeps_original_place) {
  harness h(base_config());
  h.login("a1");
  h.login("a2");
  h.arrive("c1", channel::voice);  // offered to a1
  h.arrive("c2", channel::voice);  // offered to a2
  h.arrive("c3", channel::voice);
  h.arrive("c4", channel::voice);
  EXPECT_EQ(position(h, "c3"), 1u);
  EXPECT_EQ(position(h, "c4"), 2u);
  h.send(offer_rejected{"c1", "a1"});  // c1 back first; a1 gets c3 (c1 excluded for a1)
  EXPECT_THAT(h.offers(), ElementsAre("c3->a1"));
  EXPECT_EQ(position(h, "c1"), 1u);
  EXPECT_EQ(position(h, "c4"), 2u);
  h.send(offer_timed_out{"c2", "a2"});  // c2 back between c1 and c4; a2 takes c1
  EXPECT_THAT(h.offers(), ElementsAre("c1->a2"));
  EXPECT_EQ(position(h, "c2"), 1u);
  EXPECT_EQ(position(h, "c4"), 2u);
  h.send(agent_logout{"a1"});  // c3 returns in its original place, ahead of c4
  EXPECT_EQ(position(h, "c2"), 1u);
  EXPECT_EQ(position(h, "c3"), 2u);
  EXPECT_EQ(position(h, "c4"), 3u);
}

TEST(engine_position, priority_raise_reorders_positions) {
  engine_config c = base_config();
  c.queues.push_back(make_queue("slow"));  // same requirements: same profile as general
  c.queues[1].escalation.push_back({seconds(10), escalation_kind::raise_priority, "", 1, "", 50});
  harness h(c);
  h.arrive_in("early", channel::voice, "slow");
  h.at(seconds(5));
  h.arrive_in("late", channel::voice, "slow");
  h.at(seconds(6));
  h.arrive_in("vip", channel::voice, "general", 20);
  EXPECT_EQ(position(h, "vip"), 1u);
  EXPECT_EQ(position(h, "early"), 2u);
  EXPECT_EQ(position(h, "late"), 3u);
  h.at(seconds(10));  // early: priority 50
  EXPECT_EQ(position(h, "early"), 1u);
  EXPECT_EQ(position(h, "vip"), 2u);
  EXPECT_EQ(position(h, "late"), 3u);
  h.at(seconds(15));  // late: priority 50, behind early (earlier SLA deadline)
  EXPECT_EQ(position(h, "early"), 1u);
  EXPECT_EQ(position(h, "late"), 2u);
  EXPECT_EQ(position(h, "vip"), 3u);
}

TEST(engine_position, survives_reconfigure_and_expiry) {
  engine_config c = base_config();
  c.queues[0].max_wait = seconds(30);
  harness h(c);
  h.arrive("c1", channel::chat);
  h.at(seconds(10));
  h.arrive("c2", channel::chat);
  h.arrive("c3", channel::chat);
  EXPECT_EQ(position(h, "c3"), 3u);
  std::vector<decision> out;
  EXPECT_EQ(h.eng().reconfigure(c, h.now(), out), "");  // new profiles, indexes rebuilt
  EXPECT_EQ(position(h, "c2"), 2u);
  h.at(seconds(30));  // c1 expires
  EXPECT_EQ(h.of(decision_kind::expire).size(), 1u);
  EXPECT_EQ(position(h, "c2"), 1u);
  EXPECT_EQ(position(h, "c3"), 2u);
}

TEST(engine_stats, handle_time_feeds_expected_wait) {
  engine_config c = base_config();
  c.channels[index_of(channel::voice)].default_handle_time = minutes(10);
  harness h(c);
  h.login("a1");
  h.arrive("c1", channel::voice);
  h.accept("c1", "a1");
  h.at(minutes(5));
  h.complete("c1", "a1");
  h.arrive("c2", channel::voice);
  h.accept("c2", "a1");
  // average = 0.8 * 10 min + 0.2 * 5 min = 9 min; next contact is first in line.
  EXPECT_EQ(h.eng().expected_wait("general", channel::voice, h.now()), minutes(9));
}

// ---------------------------------------------------------------------------------------------
// Reconfigure, timers, inputs, determinism.

TEST(engine_reconfigure, keeps_waiting_offered_and_agents) {
  engine_config c = sales_config(5);
  harness h(c);
  h.login("a1", {{"sales", 3}});
  h.arrive("g1", channel::voice);  // offered to a1
  h.arrive_in("s1", channel::chat, "sales");
  h.arrive_in("s2", channel::chat, "sales");
  EXPECT_EQ(h.state_of("s1"), contact_state::waiting);
  c.queues[1].required_skills[0].min_proficiency = 2;
  std::vector<decision> out;
  EXPECT_EQ(h.eng().reconfigure(c, 5, out), "");
  h.check();
  EXPECT_EQ(h.state_of("g1"), contact_state::offered);
  // Voice blocks chat for a1, so the sales contacts still wait, but in their queue.
  EXPECT_EQ(h.eng().contact_status("s1", 5)->queue, "sales");
  h.accept("g1", "a1");
  h.complete("g1", "a1");
  EXPECT_THAT(h.offers(), ElementsAre("s1->a1", "s2->a1"));
}

TEST(engine_reconfigure, removed_queue_moves_contacts_to_default_and_bad_config_is_refused) {
  engine_config c = sales_config(5);
  harness h(c);
  h.arrive_in("s1", channel::chat, "sales");
  engine_config next = base_config();
  std::vector<decision> out;
  engine_config bad = next;
  bad.default_queue = "missing";
  EXPECT_NE(h.eng().reconfigure(bad, 0, out), "");
  EXPECT_EQ(h.eng().contact_status("s1", 0)->queue, "sales");
  EXPECT_EQ(h.eng().reconfigure(next, 0, out), "");
  h.check();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, decision_kind::overflow);
  EXPECT_EQ(out[0].reason.code, reason_code::reconfigure);
  EXPECT_EQ(h.eng().contact_status("s1", 0)->queue, "general");
}

TEST(engine_config_validation, constructor_throws_on_bad_config) {
  engine_config c = base_config();
  c.queues.push_back(make_queue("x", {{"s", 11}}));
  EXPECT_THROW(engine e(c), std::invalid_argument);
  engine_config r = base_config();
  r.rules.push_back({"bad", rule_match{.regex = "(unclosed"}, "general", 0});
  EXPECT_NE(validate(r), "");
}

TEST(engine_config_validation, bounds_rules_and_escalation_steps) {
  engine_config c = base_config();
  c.rules.assign(max_config_index, classification_rule{"r", rule_match{}, "general", 0});
  EXPECT_EQ(validate(c), "");
  c.rules.push_back(classification_rule{"r", rule_match{}, "general", 0});
  EXPECT_NE(validate(c).find("more than 32767 classification rules"), std::string::npos);
  engine_config q = base_config();
  q.queues[0].escalation.assign(max_config_index + 1,
                                {minutes(1), escalation_kind::raise_priority, "", 1, "", 1});
  EXPECT_NE(validate(q).find("more than 32767 escalation steps"), std::string::npos);
}

TEST(engine_inputs, errors_are_values_and_change_nothing) {
  harness h(base_config());
  EXPECT_EQ(h.send(agent_logout{"ghost"}), input_result::unknown_agent);
  EXPECT_EQ(h.send(offer_accepted{"nope", "ghost"}), input_result::unknown_contact);
  EXPECT_EQ(h.login("a1", {{"x", 0}}), input_result::invalid);
  h.login("a1");
  h.arrive("c1", channel::voice);
  EXPECT_EQ(h.arrive("c1", channel::voice), input_result::duplicate_contact);
  EXPECT_EQ(h.complete("c1", "a1"), input_result::not_assigned_to_agent);
  h.login("a2");
  EXPECT_EQ(h.accept("c1", "a2"), input_result::not_offered_to_agent);
  EXPECT_EQ(h.accept("c1", "a1"), input_result::ok);
  EXPECT_EQ(h.send(contact_abandoned{"c1"}), input_result::already_assigned);
  EXPECT_EQ(h.eng().totals().arrived, 1u);
}

TEST(engine_timers, next_deadline_tracks_the_earliest_timer) {
  engine_config c = base_config();
  c.queues[0].max_wait = minutes(1);
  harness h(c);
  EXPECT_FALSE(h.eng().next_deadline());
  h.arrive("c1", channel::email);
  EXPECT_EQ(h.eng().next_deadline(), minutes(1));
  h.login("a1");  // offered: email accept timeout 60 s from now=0 ties; both pending
  h.accept("c1", "a1");
  EXPECT_FALSE(h.eng().next_deadline());  // assignment cancels queue and offer timers
}

TEST(engine_determinism, decision_text_is_stable) {
  harness h(base_config());
  h.login("a1");
  h.arrive("c1", channel::chat, "cust");
  EXPECT_EQ(h.text(),
            "t=0 offer contact=c1 agent=a1 queue=general prio=0 reason=new_contact rule=default "
            "strategy=longest_idle candidates=1 affinity=0\n");
  h.at(seconds(30));
  EXPECT_EQ(h.text(),
            "t=30000 revoke contact=c1 agent=a1 queue=general prio=0 reason=offer_timeout "
            "rule=default\n"
            "t=30000 requeue contact=c1 queue=general prio=0 reason=offer_timeout rule=default\n");
}

// The dedupe record is a ring of the last `dedupe_window` finished ids inside the id table:
// exactly the window is remembered, across ring growth and a smaller window on reconfigure.
TEST(engine_inputs, dedupe_window_remembers_exactly_the_last_finished_ids) {
  engine_config c = base_config();
  c.dedupe_window = 100;
  harness h(c);
  auto id = [](int i) { return "c" + std::to_string(i); };
  for (int i = 0; i < 250; ++i) {
    ASSERT_EQ(h.arrive(id(i), channel::email), input_result::ok);
    ASSERT_EQ(h.send(contact_abandoned{id(i)}), input_result::ok);
  }
  for (int i = 150; i < 250; ++i) {
    EXPECT_EQ(h.arrive(id(i), channel::email), input_result::duplicate_contact) << i;
  }
  for (int i = 0; i < 150; i += 7) EXPECT_EQ(h.arrive(id(i), channel::email), input_result::ok);
  h.check();
  engine_config smaller = c;
  smaller.dedupe_window = 10;
  std::vector<decision> out;
  ASSERT_EQ(h.eng().reconfigure(smaller, h.now(), out), "");
  ASSERT_EQ(h.send(contact_abandoned{id(0)}), input_result::ok);  // finishes; window now 10
  EXPECT_EQ(h.arrive(id(0), channel::email), input_result::duplicate_contact);
  EXPECT_EQ(h.arrive(id(245), channel::email), input_result::duplicate_contact);
  EXPECT_EQ(h.arrive(id(240), channel::email), input_result::ok);  // 11th newest: forgotten
  h.check();
}

}  // namespace
}  // namespace omni::routing::engine
