// The router service on the embedded Kafka with a real producer and consumer: contacts and agent
// events go in through omni.contacts / omni.agent-events, decisions are read back from
// omni.assignments. No sleeps to wait: every wait is a condition with a deadline.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "config/reader.h"
#include "core/bus/bus.h"
#include "core/bus/embedded_cluster.h"
#include "core/events/codec.h"
#include "routing/service/config.h"
#include "routing/service/retention.h"
#include "routing/service/router.h"
#include "routing/service/step.h"

namespace omni::routing::service {
namespace {

using namespace std::chrono_literals;
constexpr int partitions = 3;

const char* routing_yaml = R"(queues:
  support:
    channels: [email, chat, voice]
    skills: {support: 1}
  billing:
    channels: [email, chat]
    skills: {billing: 5}
  spanish:
    channels: [chat]
    skills: {spanish: 5}
    escalation:
      - after: 300ms
        overflow: support
default_queue: support
rules:
  - name: billing-keywords
    match: {keywords: [invoice, refund]}
    queue: billing
  - name: spanish
    match: {keywords: [hola]}
    queue: spanish
  - name: vip
    match: {tiers: [vip]}
    queue: support
    priority: 5
tier_priority: {vip: 10}
channels:
  chat: {capacity: 1, accept_timeout: 30s}
agents:
  alice: {name: Alice, skills: {support: 5}}
  bob: {name: Bob, skills: {support: 5, billing: 7}}
)";

router_config parse(const std::string& yaml, config::diagnostics& sink) {
  auto tree = config::parse_yaml(yaml, "routing.yaml", sink);
  return parse_router_config(*tree, sink);
}

class router_test : public ::testing::Test {
 protected:
  // A new embedded cluster with the topics, and a producer for the test's inputs.
  void start_cluster() {
    producer_.reset();
    cluster_.reset();
    auto c = core::bus::embedded_cluster::start(1);
    ASSERT_TRUE(c) << c.err().to_string();
    cluster_ = std::move(*c);
    ASSERT_TRUE(cluster_->create_topics(topics_.all(), partitions));
    kafka_.brokers = cluster_->bootstrap();
    auto p = core::bus::producer::create(kafka_, "router-test");
    ASSERT_TRUE(p);
    producer_ = std::move(*p);
  }

  void SetUp() override {
    start_cluster();
    if (HasFatalFailure()) return;
    state_dir_ = std::filesystem::temp_directory_path() /
                 ("omni-router-test-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(state_dir_);
    config::diagnostics sink;
    config_ = parse(routing_yaml, sink);
    ASSERT_TRUE(sink.empty());
  }

  void TearDown() override {
    router_.reset();
    producer_.reset();
    cluster_.reset();
    std::filesystem::remove_all(state_dir_);
  }

  void start_router() {
    router_options o;
    o.kafka = kafka_;
    o.topics = topics_;
    o.config = config_;
    o.state_dir = state_dir_;
    o.final_snapshot = final_snapshot_;
    auto r = router::start(o);
    ASSERT_TRUE(r) << r.err().to_string();
    router_ = std::move(*r);
  }

  void send(const core::contact& c) {
    auto d = producer_->produce_and_wait(topics_.contacts, c.domain, core::encode(c), 10s);
    ASSERT_TRUE(d.ok) << d.error;
  }
  void send(const core::agent_event& e) {
    auto d = producer_->produce_and_wait(topics_.agent_events, e.domain, core::encode(e), 10s);
    ASSERT_TRUE(d.ok) << d.error;
  }

  core::agent_event agent(core::agent_event_type t, const std::string& id,
                          const std::string& contact = "") {
    core::agent_event e;
    e.id = "ev-" + std::to_string(++events_);
    e.type = t;
    e.domain = "acme";
    e.agent_id = id;
    e.contact_id = contact;
    e.at = 1;
    return e;
  }

  core::contact contact(const std::string& source_id, core::channel ch, const std::string& text,
                        std::vector<core::identity> ids = {}) {
    core::contact c;
    c.provider = "test";
    c.source_id = source_id;
    c.id = core::contact_id(c.provider, source_id);
    c.chan = ch;
    c.domain = "acme";
    c.conversation = "conv-" + source_id;
    c.received_at = 1;
    c.customer.identities = ids.empty() ? std::vector<core::identity>{{"visitor", source_id}} : ids;
    c.customer.display_name = "Customer " + source_id;
    c.subject = "Subject " + source_id;
    c.text = text;
    return c;
  }

  // Every record of a topic (all partitions), in partition then offset order.
  std::vector<std::string> read_all(const std::string& topic) {
    std::vector<std::string> out;
    for (int p = 0; p < partitions; ++p) {
      auto r = core::bus::read_partition(
          kafka_, topic, p, 0,
          [&](const core::bus::message& m) {
            out.push_back(m.value);
            return true;
          },
          10s);
      EXPECT_TRUE(r) << r.err().to_string();
    }
    return out;
  }

  // Decisions (not markers), deduplicated by id as a consumer does.
  std::vector<core::assignment> decisions() {
    std::vector<core::assignment> out;
    std::set<std::string> ids;
    for (const auto& v : read_all(topics_.assignments)) {
      auto a = core::decode_assignment(v);
      EXPECT_TRUE(a) << a.err().to_string();
      if (!a || a->type == "input" || a->type == "tick") continue;
      if (ids.insert(a->id).second) out.push_back(*a);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
    return out;
  }

  std::vector<core::assignment> of(const std::string& type, const std::string& contact_id = "") {
    std::vector<core::assignment> out;
    for (auto& a : decisions())
      if (a.type == type && (contact_id.empty() || a.contact_id == contact_id)) out.push_back(a);
    return out;
  }

  template <class F>
  auto wait_for(F f, std::chrono::milliseconds timeout = 60s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto v = f();
      if (v || std::chrono::steady_clock::now() > deadline) return v;
      std::this_thread::sleep_for(20ms);
    }
  }

  core::assignment offer_of(const std::string& contact_id) {
    auto found = wait_for([&] { return !of("offer", contact_id).empty(); });
    EXPECT_TRUE(found) << "no offer for " << contact_id;
    return found ? of("offer", contact_id).front() : core::assignment{};
  }

  void login(const std::string& id) {
    send(agent(core::agent_event_type::login, id));
    // Logged in once its marker is in the changelog (the engine applies it in order anyway).
  }

  // The snapshot manifests in omni.snapshots (all partitions, in order).
  std::vector<nlohmann::json> manifests() {
    std::vector<nlohmann::json> out;
    for (int p = 0; p < partitions; ++p)
      (void)core::bus::read_partition(
          kafka_, topics_.snapshots, p, 0,
          [&](const core::bus::message& m) {
            if (m.key.size() > 9 && m.key.substr(m.key.size() - 9) == "/manifest")
              out.push_back(nlohmann::json::parse(m.value));
            return true;
          },
          10s);
    return out;
  }
  std::size_t markers() {
    std::size_t n = 0;
    for (const auto& v : read_all(topics_.assignments))
      if (auto a = core::decode_assignment(v); a && (a->type == "input" || a->type == "tick")) ++n;
    return n;
  }

  bool final_snapshot_ = true;
  core::bus::topic_names topics_ = core::bus::topic_names::with_prefix("omni.");
  core::bus::settings kafka_;
  std::unique_ptr<core::bus::embedded_cluster> cluster_;
  std::unique_ptr<core::bus::producer> producer_;
  std::unique_ptr<router> router_;
  router_config config_;
  std::filesystem::path state_dir_;
  int events_ = 0;
};

TEST(router_config_test, example_block_parses_and_errors_have_positions) {
  config::diagnostics sink;
  auto rc = parse(routing_yaml, sink);
  EXPECT_TRUE(sink.empty());
  ASSERT_EQ(rc.engine.queues.size(), 3u);
  EXPECT_EQ(rc.engine.queues[2].escalation.at(0).kind, engine::escalation_kind::overflow);
  EXPECT_EQ(rc.engine.queues[2].escalation.at(0).after, 300);
  EXPECT_EQ(rc.engine.tier_priority.at("vip"), 10);
  EXPECT_EQ(rc.agents.at("bob").skills.size(), 2u);
  EXPECT_EQ(rc.engine.channels[engine::index_of(engine::channel::chat)].default_capacity, 1);

  config::diagnostics bad;
  (void)parse(
      "queues:\n  support:\n    chanels: [email]\n    skills: {x: 11}\n"
      "default_queue: nope\n",
      bad);
  auto errors = bad.take_sorted();
  ASSERT_GE(errors.size(), 2u);
  std::string all;
  for (const auto& d : errors) all += config::to_string(d) + "\n";
  EXPECT_NE(all.find("routing.yaml:3:5: "), std::string::npos) << all;
  EXPECT_NE(all.find("did you mean 'channels'"), std::string::npos) << all;
  EXPECT_NE(all.find("routing.yaml:4:17:"), std::string::npos) << all;
}

TEST(router_step_test, steps_round_trip_and_split_on_utf8_boundaries) {
  step s;
  s.now = 42;
  engine::contact_arrived a;
  a.item.id = "c1";
  a.item.chan = engine::channel::chat;
  a.item.text = "Привет";
  a.last_agent = engine::history_hint{"alice", 7};
  s.inputs.push_back(a);
  s.inputs.push_back(engine::agent_login{"bob", {{"support", 3}}, {{engine::channel::chat, 2}}});
  s.arrivals.push_back({.id = "c1", .conversation = "k"});
  auto text = encode_step(s);
  auto back = decode_step(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(encode_step(*back), text);
  std::map<std::string, std::string> attrs;
  core::put_split_attribute(attrs, "step", text, 7);
  for (const auto& [k, piece] : attrs) EXPECT_LE(piece.size(), 7u) << k;
  EXPECT_EQ(core::joined_attribute(attrs, "step"), text);
}

// The streamed step (core::json_writer) is exactly nlohmann's dump of the same document: every
// input kind, optional members present and absent, strings that need escaping, and invalid UTF-8
// (replaced).
TEST(router_step_test, streamed_step_is_nlohmanns_dump_of_it) {
  step s;
  s.now = 1'764'000'000'123;
  engine::contact_arrived a;
  a.item.id = "c\"1\\";
  a.item.chan = engine::channel::email;
  a.item.provider = "imap";
  a.item.to = "support@example.ru";
  a.item.subject = "tab\there\nnew line \x01\x1f\x7f \b\f\r";
  a.item.text = std::string("bad \xff\xfe utf-8 and good Привет ✓ 𝄞 ") + '\0' + " end";
  a.item.language = "ru";
  a.item.customer_id = "cu_1";
  a.item.customer_tier = "vip";
  a.item.attributes = {{"z", "last"}, {"a", "first"}, {"quote\"key", "v"}};
  a.item.priority_boost = -3;
  a.queue = "billing";
  a.priority = 7;
  a.last_agent = engine::history_hint{"alice", 7};
  s.inputs.push_back(a);
  s.inputs.push_back(engine::contact_arrived{});  // every optional member absent
  s.inputs.push_back(engine::agent_login{
      "bob",
      {{"support", 3}, {"billing", 10}},
      {{engine::channel::voice, 1}, {engine::channel::chat, 2}, {engine::channel::email, 5}},
      engine::presence::away});
  s.inputs.push_back(engine::agent_logout{"bob"});
  s.inputs.push_back(engine::presence_change{"bob", engine::presence::wrap_up});
  s.inputs.push_back(engine::agent_update{"bob", std::nullopt, {{engine::channel::sms, 3}}});
  s.inputs.push_back(engine::agent_update{"bob", std::vector<engine::skill_level>{}, {}});
  s.inputs.push_back(engine::offer_accepted{"c1", "bob"});
  s.inputs.push_back(engine::offer_rejected{"c1", "bob"});
  s.inputs.push_back(engine::offer_timed_out{"c1", "bob"});
  s.inputs.push_back(engine::contact_completed{"c1", "bob", "resolved"});
  s.inputs.push_back(engine::contact_abandoned{"c2"});
  s.arrivals.push_back({.id = "c1",
                        .customer_id = "cu_1",
                        .display_name = "Иван \"Ваня\"",
                        .channel = "email",
                        .provider = "imap",
                        .conversation = "<m1@x>",
                        .subject = "s",
                        .snippet = "sn",
                        .recipient = {"email", "ivan@example.ru"},
                        .history = R"([{"contact_id":"c0"}])"});
  s.message = follow_up{"m2", "c1", "bob", "Re: s", "more\ttext"};
  s.seen = {"c1", "e\"1"};
  s.finished = {"c0"};
  for (const step& each : {s, step{}}) {
    const auto text = encode_step(each);
    EXPECT_EQ(
        nlohmann::json::parse(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
        text);
  }
  auto back = decode_step(encode_step(s));
  ASSERT_TRUE(back) << back.err().to_string();
  ASSERT_EQ(back->inputs.size(), s.inputs.size());
  const auto& a2 = std::get<engine::contact_arrived>(back->inputs[0]);
  EXPECT_EQ(a2.item.id, a.item.id);
  EXPECT_EQ(a2.item.subject, a.item.subject);
  EXPECT_EQ(a2.item.attributes, a.item.attributes);
  EXPECT_EQ(a2.item.priority_boost, -3);
  EXPECT_EQ(a2.priority, 7);
  EXPECT_EQ(a2.queue, "billing");
  EXPECT_EQ(a2.last_agent->agent, "alice");
  EXPECT_EQ(std::get<engine::agent_login>(back->inputs[2]).capacity.size(), 3u);
  EXPECT_EQ(std::get<engine::agent_login>(back->inputs[2]).initial, engine::presence::away);
  EXPECT_FALSE(std::get<engine::agent_update>(back->inputs[5]).skills);
  EXPECT_TRUE(std::get<engine::agent_update>(back->inputs[6]).skills);
  EXPECT_EQ(back->arrivals.at(0).display_name, "Иван \"Ваня\"");
  EXPECT_EQ(back->message->text, "more\ttext");
  EXPECT_EQ(back->seen, s.seen);
  EXPECT_EQ(back->finished, s.finished);
  EXPECT_EQ(back->now, s.now);
}

TEST_F(router_test, routes_by_skill_and_capacity_and_tells_the_waiting_customer) {
  start_router();
  login("alice");
  login("bob");
  auto invoice = contact("m1", core::channel::chat, "where is my invoice?");
  send(invoice);
  auto o1 = offer_of(invoice.id);
  EXPECT_EQ(o1.agent_id, "bob");
  EXPECT_EQ(o1.queue, "billing");
  EXPECT_EQ(o1.reason.rule, "billing-keywords");
  ASSERT_TRUE(o1.contact);
  EXPECT_EQ(o1.contact->display_name, "Customer m1");
  EXPECT_EQ(o1.contact->channel, "chat");
  EXPECT_EQ(o1.contact->snippet, "where is my invoice?");
  EXPECT_EQ(o1.contact->text, "where is my invoice?");
  EXPECT_FALSE(o1.contact->text_truncated);
  // Whom a reply goes to: the contact's first identity.
  EXPECT_EQ(o1.contact->recipient, (core::identity{"visitor", "m1"}));
  EXPECT_FALSE(o1.contact->customer_id.empty());
  EXPECT_EQ(o1.contact->history, "[]");
  // The details are named fields now, not attributes.
  EXPECT_EQ(o1.attributes.count("display_name"), 0u);
  ASSERT_TRUE(o1.deadline);

  auto general = contact("m2", core::channel::chat, "hello");
  send(general);
  EXPECT_EQ(offer_of(general.id).agent_id, "alice");

  // Both agents hold one chat (capacity 1): the third contact waits and is told so.
  auto third = contact("m3", core::channel::chat, "anyone?");
  send(third);
  auto notice = wait_for([&]() -> std::optional<core::outbound> {
    for (const auto& v : read_all(topics_.outbound)) {
      auto o = core::decode_outbound(v);
      if (o && o->contact_id == third.id) return *o;
    }
    return std::nullopt;
  });
  ASSERT_TRUE(notice);
  EXPECT_EQ(notice->kind, core::outbound_kind::notice);
  EXPECT_EQ(notice->attributes["queue_position"], "1");
  EXPECT_EQ(notice->conversation, third.conversation);
  EXPECT_TRUE(of("offer", third.id).empty());

  // Alice finishes hers: the waiting contact is offered to her.
  send(agent(core::agent_event_type::accept, "alice", general.id));
  auto done = agent(core::agent_event_type::complete, "alice", general.id);
  done.disposition = "solved";
  send(done);
  EXPECT_EQ(offer_of(third.id).agent_id, "alice");
  EXPECT_EQ(of("assign", general.id).size(), 1u);
}

TEST_F(router_test, a_contact_delivered_three_times_gets_one_decision) {
  start_router();
  login("alice");
  auto c = contact("dup", core::channel::chat, "hi");
  for (int i = 0; i < 3; ++i) send(c);
  offer_of(c.id);
  auto later = contact("after-dup", core::channel::email, "marker for 'all processed'");
  send(later);
  offer_of(later.id);
  EXPECT_EQ(of("offer", c.id).size(), 1u);
  EXPECT_EQ(router_->statistics().duplicates, 2u);
}

TEST_F(router_test, returning_customer_on_another_channel_gets_the_same_agent_first) {
  start_router();
  login("alice");
  login("bob");
  // First contact by email carries the e-mail and a national-format phone: both are linked.
  auto mail = contact("mail-1", core::channel::email, "my router is broken",
                      {{"email", "Ivan@Example.RU"}, {"phone", "8 (912) 345-67-89"}});
  send(mail);
  auto o1 = offer_of(mail.id);
  const std::string first_agent = o1.agent_id;
  const std::string other = first_agent == "alice" ? "bob" : "alice";
  send(agent(core::agent_event_type::accept, first_agent, mail.id));
  send(agent(core::agent_event_type::complete, first_agent, mail.id));
  ASSERT_TRUE(wait_for([&] { return !of("assign", mail.id).empty(); }));

  // He calls back: the phone identity alone finds the customer; the agent who handled him gets
  // the first offer although `other` has been idle longer.
  auto call = contact("call-1", core::channel::voice, "", {{"phone", "+7 912 345 67 89"}});
  send(call);
  auto o2 = offer_of(call.id);
  EXPECT_EQ(o2.agent_id, first_agent) << o2.reason.text;
  EXPECT_TRUE(o2.reason.affinity);
  ASSERT_TRUE(o2.contact);
  EXPECT_EQ(o2.contact->customer_id, o1.contact->customer_id);
  auto history = nlohmann::json::parse(o2.contact->history);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0]["contact_id"], mail.id);
  EXPECT_EQ(history[0]["agent"], first_agent);
  (void)other;
}

TEST_F(router_test, escalation_overflows_after_its_timer) {
  start_router();
  login("alice");
  auto c = contact("hola-1", core::channel::chat, "hola, necesito ayuda");
  send(c);
  auto overflow = wait_for([&] { return !of("overflow", c.id).empty(); });
  ASSERT_TRUE(overflow);
  auto o = offer_of(c.id);
  EXPECT_EQ(o.agent_id, "alice");
  EXPECT_EQ(o.queue, "support");
  auto ov = of("overflow", c.id).front();
  EXPECT_EQ(ov.attributes["from_queue"], "spanish");
  auto arrived = std::stoll(ov.attributes["now"]);
  EXPECT_GE(o.at, arrived);
}

TEST(router_config, dedupe_window_sizes_the_router_and_engine_windows) {
  config::diagnostics sink;
  auto c = parse(std::string(routing_yaml) + "dedupe_window: 5000\n", sink);
  ASSERT_TRUE(sink.empty());
  EXPECT_EQ(c.seen_window, 5000u);
  EXPECT_EQ(c.engine.dedupe_window, 2500u);
  (void)parse(std::string(routing_yaml) + "dedupe_window: 999\n", sink);
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_NE(config::to_string(sink.take_sorted().front()).find("must be within 1000..10000000"),
            std::string::npos);
}

TEST_F(router_test, a_new_router_rebuilds_the_domain_from_the_changelog) {
  final_snapshot_ = false;  // about replaying the changelog: no snapshot when stopping
  start_router();
  login("alice");
  auto first = contact("r1", core::channel::chat, "one");
  auto second = contact("r2", core::channel::chat, "two");
  send(first);
  send(second);
  offer_of(first.id);
  send(agent(core::agent_event_type::accept, "alice", first.id));
  ASSERT_TRUE(wait_for([&] { return !of("assign", first.id).empty(); }));
  router_.reset();  // the next router starts from the changelog only

  start_router();
  // The duplicate of an old contact is recognized, the waiting contact is still waiting and goes
  // to alice as soon as she is free: her presence, load and the queue were rebuilt.
  send(first);
  send(agent(core::agent_event_type::complete, "alice", first.id));
  auto o = offer_of(second.id);
  EXPECT_EQ(o.agent_id, "alice");
  EXPECT_EQ(of("offer", first.id).size(), 1u);
  EXPECT_EQ(of("assign", first.id).size(), 1u);
  EXPECT_GE(router_->statistics().replayed_steps, 4u);
}

TEST_F(router_test, a_follow_up_message_goes_to_the_agent_holding_the_conversation) {
  start_router();
  login("alice");
  auto c = contact("chat-1", core::channel::chat, "hello");
  send(c);
  offer_of(c.id);
  auto more = contact("chat-1-b", core::channel::chat, "are you there?");
  more.conversation = c.conversation;
  send(more);
  auto msg = wait_for([&] { return !of("message", c.id).empty(); });
  ASSERT_TRUE(msg);
  auto m = of("message", c.id).front();
  EXPECT_EQ(m.agent_id, "alice");
  EXPECT_EQ(m.attributes["text"], "are you there?");
  EXPECT_TRUE(of("offer", more.id).empty());
}

TEST_F(router_test, offers_carry_the_text_cut_to_an_attribute_and_say_so) {
  start_router();
  login("alice");
  std::string text;
  while (text.size() < 20000) text += "Здравствуйте, ";  // 2-byte letters: cuts must not split one
  auto c = contact("long-1", core::channel::email, text, {{"email", "ivan@example.ru"}});
  send(c);
  auto o = offer_of(c.id);
  ASSERT_TRUE(o.contact);
  const std::string& shown = o.contact->text;
  EXPECT_LE(shown.size(), core::codec_limits::max_subject_bytes);
  EXPECT_GT(shown.size(), core::codec_limits::max_subject_bytes - 4);
  EXPECT_EQ(text.compare(0, shown.size(), shown), 0);
  EXPECT_TRUE(o.contact->text_truncated);
  EXPECT_EQ(o.contact->recipient, (core::identity{"email", "ivan@example.ru"}));
}

TEST_F(router_test, publishes_queue_and_agent_statistics_that_replay_ignores) {
  final_snapshot_ = false;  // about replaying the changelog: no snapshot when stopping
  config_.stats_interval = 500;
  start_router();
  login("alice");
  auto c = contact("st-1", core::channel::chat, "hello");
  send(c);
  offer_of(c.id);
  auto stats_with = [&](const std::string& agent_id) -> std::optional<core::assignment> {
    for (const auto& v : read_all(topics_.assignments)) {
      auto a = core::decode_assignment(v);
      if (!a || a->type != "stats" || a->domain != "acme") continue;
      auto agents = nlohmann::json::parse(a->attributes["agents"]);
      for (const auto& ag : agents)
        if (ag["id"] == agent_id && ag["load"] == 1) return *a;
    }
    return std::nullopt;
  };
  auto st = wait_for([&] { return stats_with("alice"); }, 20s);
  ASSERT_TRUE(st) << "no stats record showing alice with one offer";
  auto queues = nlohmann::json::parse(st->attributes["queues"]);
  const auto o = offer_of(c.id);
  bool found = false;
  for (const auto& q : queues)
    if (q["name"] == o.queue) {
      found = true;
      EXPECT_EQ(q["offered"], 1);
      EXPECT_EQ(q["arrived"], 1);
      EXPECT_TRUE(q.contains("service_level"));
    }
  EXPECT_TRUE(found) << o.queue << " missing from " << queues.dump();

  // A new router rebuilds from the changelog, stats records included, and routes on as before.
  router_.reset();
  start_router();
  send(agent(core::agent_event_type::accept, "alice", c.id));
  ASSERT_TRUE(wait_for([&] { return !of("assign", c.id).empty(); }));
  EXPECT_GE(router_->statistics().replayed_steps, 2u);
}

TEST_F(router_test, a_reload_adds_a_queue_and_skills_while_waiting_contacts_stay) {
  start_router();
  login("alice");
  login("bob");
  // Bob takes a chat; a billing contact then waits (only bob has billing, capacity 1).
  auto first = contact("rl-1", core::channel::chat, "invoice please");
  send(first);
  ASSERT_EQ(offer_of(first.id).agent_id, "bob");
  auto waiting = contact("rl-2", core::channel::chat, "refund for my invoice");
  send(waiting);
  auto french = contact("rl-3", core::channel::chat, "bonjour, j'ai un problème");
  send(french);
  EXPECT_EQ(offer_of(french.id).agent_id, "alice");  // no french queue yet: support

  // The new config adds a `french` queue with its rule and gives alice billing.
  std::string yaml = routing_yaml;
  auto add_at = yaml.find("default_queue:");
  yaml.insert(add_at, "  french:\n    channels: [chat]\n    skills: {french: 3}\n");
  yaml.insert(yaml.find("  - name: vip"),
              "  - name: french\n    match: {keywords: [bonjour]}\n    queue: french\n");
  yaml.replace(yaml.find("alice: {name: Alice, skills: {support: 5}}"),
               std::string("alice: {name: Alice, skills: {support: 5}}").size(),
               "alice: {name: Alice, skills: {support: 5, billing: 6, french: 8}}");
  config::diagnostics sink;
  auto next = parse(yaml, sink);
  ASSERT_TRUE(sink.empty()) << config::to_string(sink.take_sorted().front());
  router_->reconfigure(next);

  // The waiting billing contact was kept; alice finishes her chat and, now skilled, gets it.
  send(agent(core::agent_event_type::accept, "alice", french.id));
  send(agent(core::agent_event_type::complete, "alice", french.id));
  EXPECT_EQ(offer_of(waiting.id).agent_id, "alice");
  EXPECT_EQ(of("offer", waiting.id).size(), 1u);

  // A new French contact is classified into the new queue.
  auto french2 = contact("rl-4", core::channel::chat, "bonjour encore");
  send(french2);
  send(agent(core::agent_event_type::accept, "alice", waiting.id));
  send(agent(core::agent_event_type::complete, "alice", waiting.id));
  auto o = offer_of(french2.id);
  EXPECT_EQ(o.queue, "french");
  EXPECT_EQ(o.agent_id, "alice");
}

// Kafka away for longer than kafka.delivery_timeout while the router works through a backlog: its
// changelog records wait for the broker instead of expiring, so the changelog holds one marker
// for every contact, with no hole (a hole made a rebuild skip that contact as already recorded).
TEST_F(router_test,
       a_broker_away_longer_than_the_delivery_timeout_leaves_no_hole_in_the_changelog) {
  final_snapshot_ = false;  // about replaying the changelog: no snapshot when stopping
  constexpr int contacts = 1500;
  for (int i = 0; i < contacts; ++i) {
    auto c = contact("gap-" + std::to_string(i), core::channel::email, "backlog");
    ASSERT_EQ(producer_->produce(topics_.contacts, c.domain, core::encode(c), nullptr),
              core::bus::produce_status::queued);
  }
  ASSERT_TRUE(producer_->flush(20s));
  kafka_.delivery_timeout = 300ms;  // the router's changelog must not be bound by it
  start_router();
  ASSERT_TRUE(wait_for([&] { return router_->statistics().steps >= 10; }));
  // Away and back several times, each time longer than the delivery timeout: records queued
  // before each outage would expire while records produced after it are stored.
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(cluster_->set_broker_up(1, false));
    std::this_thread::sleep_for(450ms);
    ASSERT_TRUE(cluster_->set_broker_up(1, true));
    std::this_thread::sleep_for(250ms);
  }

  // Every contact's marker, by input partition and offset: exactly the offsets the topic holds.
  auto markers = [&] {
    std::map<int, std::set<std::int64_t>> seen;
    for (const auto& v : read_all(topics_.assignments)) {
      auto a = core::decode_assignment(v);
      if (!a || a->type != "input") continue;
      seen[std::stoi(a->attributes["source_partition"])].insert(
          std::stoll(a->attributes["source_offset"]));
    }
    return seen;
  };
  auto complete = [&] {
    std::size_t n = 0;
    for (const auto& [p, offsets] : markers()) n += offsets.size();
    return n >= static_cast<std::size_t>(contacts);
  };
  ASSERT_TRUE(wait_for(complete, 90s));
  // Nothing failed, so nothing was rebuilt (a group rebalance on a loaded host may recover the
  // partitions again; that is not a failure).
  EXPECT_EQ(router_->statistics().rebuilds, 0u);
  for (const auto& [p, offsets] : markers()) {
    ASSERT_FALSE(offsets.empty());
    EXPECT_EQ(*offsets.begin(), 0) << "partition " << p;
    EXPECT_EQ(*offsets.rbegin(), static_cast<std::int64_t>(offsets.size()) - 1)
        << "partition " << p << ": a hole in the changelog";
  }

  // A new router rebuilds a step for every one of them.
  router_.reset();
  start_router();
  EXPECT_TRUE(wait_for([&] {
    return router_->statistics().replayed_steps >= static_cast<std::uint64_t>(contacts);
  }));
}

// A changelog delivery Kafka refuses for good (a non-retriable Produce error) makes the router
// leave the group and rebuild from the changelog: the contact is offered once, not lost, not
// doubled.
TEST_F(router_test, a_refused_changelog_delivery_rebuilds_and_the_contact_is_offered_once) {
  login("alice");
  auto c = contact("refused-1", core::channel::email, "hello");
  send(c);
  // The router's first Produce (its first step's records) is answered MESSAGE_TOO_LARGE.
  ASSERT_TRUE(cluster_->fail_requests(0, 1, 10));
  start_router();
  ASSERT_TRUE(wait_for([&] { return router_->statistics().rebuilds >= 1; }));
  auto o = offer_of(c.id);
  EXPECT_EQ(o.agent_id, "alice");
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(of("offer", c.id).size(), 1u);
}

// A changelog with a hole (a marker missing before later ones: an operator's restore, a producer
// that lost a record) costs no contact: the input without a marker is consumed again and routed,
// the recorded ones are not redone.
TEST_F(router_test, an_input_whose_marker_is_missing_is_routed_after_a_rebuild) {
  start_router();
  std::vector<core::contact> sent;
  for (int i = 0; i < 3; ++i) {
    sent.push_back(contact("hole-" + std::to_string(i), core::channel::email, "hello"));
    send(sent.back());
  }
  // Every record the router wrote, by partition, once all three markers are in.
  auto changelog = [&] {
    std::vector<std::pair<int, core::bus::message>> out;
    for (int p = 0; p < partitions; ++p)
      (void)core::bus::read_partition(
          kafka_, topics_.assignments, p, 0,
          [&](const core::bus::message& m) {
            out.emplace_back(p, m);
            return true;
          },
          10s);
    return out;
  };
  auto markers_of = [&](const auto& records) {
    std::vector<std::int64_t> offsets;
    for (const auto& [p, m] : records)
      if (auto a = core::decode_assignment(m.value); a && a->type == "input")
        offsets.push_back(std::stoll(a->attributes["source_offset"]));
    return offsets;
  };
  ASSERT_TRUE(wait_for([&] { return markers_of(changelog()).size() == 3; }));
  const auto records = changelog();
  router_.reset();

  // The same inputs on a fresh cluster, with the changelog minus the first contact's step.
  start_cluster();
  ASSERT_FALSE(HasFatalFailure());
  for (const auto& s : sent) send(s);
  std::string first_step;
  for (const auto& [part, m] : records) {
    auto a = core::decode_assignment(m.value);
    ASSERT_TRUE(a);
    if (a->type == "input" && a->attributes["source_offset"] == "0") {
      first_step = topics_.contacts + "@0";
      continue;
    }
    if (a->attributes["step"] == topics_.contacts + "@0") continue;  // its decisions, if any
    auto d = producer_->produce(topics_.assignments, part, m.key, m.value, nullptr);
    ASSERT_EQ(d, core::bus::produce_status::queued);
  }
  ASSERT_FALSE(first_step.empty());
  ASSERT_TRUE(producer_->flush(10s));
  ASSERT_EQ(markers_of(changelog()), (std::vector<std::int64_t>{1, 2}));

  start_router();
  // Offset 0 is routed now (a new marker); 1 and 2 are not redone.
  ASSERT_TRUE(wait_for([&] { return markers_of(changelog()).size() == 3; }));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(markers_of(changelog()), (std::vector<std::int64_t>{1, 2, 0}));
}

TEST(router_config, snapshot_keys_have_defaults_and_ranges) {
  config::diagnostics sink;
  auto rc = parse("queues: {support: {}}\n", sink);
  ASSERT_TRUE(sink.empty());
  EXPECT_EQ(rc.snapshot_every_steps, 2000u);
  EXPECT_EQ(rc.snapshot_every, 60'000);
  rc = parse("queues: {support: {}}\nsnapshot: {every_steps: 500, every: 10s}\n", sink);
  ASSERT_TRUE(sink.empty());
  EXPECT_EQ(rc.snapshot_every_steps, 500u);
  EXPECT_EQ(rc.snapshot_every, 10'000);
  (void)parse("queues: {support: {}}\nsnapshot: {every_steps: 5, every: 10ms, evry: 1}\n", sink);
  std::string all;
  for (const auto& d : sink.take_sorted()) all += config::to_string(d) + "\n";
  EXPECT_NE(all.find("every_steps"), std::string::npos) << all;
  EXPECT_NE(all.find("between 1s and 24h"), std::string::npos) << all;
  EXPECT_NE(all.find("did you mean 'every'"), std::string::npos) << all;
}

// A router that crashes (no snapshot when it stops) is followed by one that loads the newest
// snapshot and replays only the steps after it; a torn newer snapshot (its chunks missing) is
// passed over for the one before it. Either way the state is whole: the waiting contacts go on
// to the agent, old contacts are duplicates.
TEST_F(router_test, a_new_router_starts_from_the_newest_snapshot_and_replays_only_the_rest) {
  config_.snapshot_every_steps = 100;
  config_.snapshot_every = 0;
  final_snapshot_ = false;
  start_router();
  login("alice");
  std::vector<core::contact> sent;
  for (int i = 0; i < 260; ++i) {
    sent.push_back(contact("snap-" + std::to_string(i), core::channel::email, "hello"));
    send(sent.back());
  }
  ASSERT_TRUE(wait_for([&] { return markers() == 261 && manifests().size() >= 2; }))
      << markers() << " markers, " << manifests().size() << " snapshots";
  const auto written = manifests();
  EXPECT_EQ(written.back()["domains"][0]["name"], "acme");
  EXPECT_GE(written.back()["changelog_offset"].get<std::int64_t>(), 0);
  const int part = written.back()["partition"].get<int>();
  // Alice holds five emails (her capacity); the rest wait.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(offer_of(sent[i].id).agent_id, "alice");
  // Steps after the newest snapshot (fewer than every_steps, so no new one): the crash loses them
  // from the snapshot, and the next router replays them.
  for (int i = 260; i < 263; ++i) {
    sent.push_back(contact("snap-" + std::to_string(i), core::channel::email, "hello"));
    send(sent.back());
  }
  ASSERT_TRUE(wait_for([&] { return markers() == 264; }));
  router_.reset();

  start_router();
  send(sent[0]);  // a duplicate: seen before the snapshot
  send(agent(core::agent_event_type::accept, "alice", sent[0].id));
  ASSERT_TRUE(wait_for([&] { return !of("assign", sent[0].id).empty(); }));
  send(agent(core::agent_event_type::complete, "alice", sent[0].id));
  EXPECT_EQ(offer_of(sent[5].id).agent_id, "alice");
  auto st = router_->statistics();
  EXPECT_EQ(st.snapshots_loaded, 1u);
  EXPECT_LE(st.replayed_steps, 100u);
  EXPECT_GE(st.replayed_steps, 3u);
  EXPECT_GE(st.duplicates, 1u);
  EXPECT_EQ(of("offer", sent[0].id).size(), 1u);
  ASSERT_TRUE(wait_for([&] { return markers() == 264 + 2; }));
  router_.reset();

  // A newer manifest whose chunks never arrived (a torn write): the previous snapshot is used.
  const auto newest = manifests().back()["id"].get<std::uint64_t>();
  nlohmann::json torn = {{"id", newest + 1},
                         {"partition", part},
                         {"chunks", 2},
                         {"bytes", 100},
                         {"checksum", "0000000000000000"},
                         {"changelog_offset", 999999}};
  ASSERT_EQ(producer_->produce(
                topics_.snapshots, part,
                std::to_string(part) + "/" + std::to_string((newest + 1) % 2) + "/manifest",
                torn.dump(), nullptr),
            core::bus::produce_status::queued);
  ASSERT_TRUE(producer_->flush(10s));
  start_router();
  send(agent(core::agent_event_type::accept, "alice", sent[1].id));
  ASSERT_TRUE(wait_for([&] { return !of("assign", sent[1].id).empty(); }));
  send(agent(core::agent_event_type::complete, "alice", sent[1].id));
  EXPECT_EQ(offer_of(sent[6].id).agent_id, "alice");
  st = router_->statistics();
  EXPECT_EQ(st.snapshots_loaded, 1u);
  EXPECT_LE(st.replayed_steps, 110u);
  EXPECT_EQ(of("offer", sent[6].id).size(), 1u);
  EXPECT_EQ(of("offer", sent[5].id).size(), 1u);
}

// With a snapshot on stop (the default), the next router replays nothing.
TEST_F(router_test, a_router_that_stops_leaves_a_snapshot_and_the_next_replays_nothing) {
  start_router();
  login("alice");
  auto first = contact("stop-1", core::channel::chat, "one");
  send(first);
  offer_of(first.id);
  ASSERT_TRUE(wait_for([&] { return markers() == 2; }));
  router_.reset();
  ASSERT_EQ(manifests().size(), 1u);
  start_router();
  send(agent(core::agent_event_type::accept, "alice", first.id));
  ASSERT_TRUE(wait_for([&] { return !of("assign", first.id).empty(); }));
  EXPECT_EQ(router_->statistics().snapshots_loaded, 1u);
  EXPECT_EQ(router_->statistics().replayed_steps, 0u);
}

TEST(router_retention, names_what_would_cost_recovery_its_changelog_or_snapshots) {
  const auto topics = core::bus::topic_names::with_prefix("omni.");
  router_config rc;  // snapshots every 2,000 steps or 60 s
  using configs = std::map<std::string, std::map<std::string, std::string>>;
  const configs good = {
      {"omni.assignments", {{"cleanup.policy", "delete"}, {"retention.ms", "604800000"}}},
      {"omni.snapshots", {{"cleanup.policy", "compact"}, {"retention.ms", "604800000"}}}};
  EXPECT_TRUE(retention_problems(topics, good, rc).empty());
  EXPECT_TRUE(retention_problems(topics, {}, rc).empty());  // nothing known, nothing judged

  configs bad = good;
  bad["omni.assignments"]["retention.ms"] = "3600000";  // an hour
  bad["omni.snapshots"]["cleanup.policy"] = "compact,delete";
  auto problems = retention_problems(topics, bad, rc);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("retention.ms=3600000"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("omni.snapshots"), std::string::npos) << problems[1];

  bad = good;
  bad["omni.assignments"]["cleanup.policy"] = "compact";
  EXPECT_EQ(retention_problems(topics, bad, rc).size(), 1u);

  rc.snapshot_every_steps = 0;
  rc.snapshot_every = 0;  // snapshots off: the changelog must keep everything
  problems = retention_problems(topics, good, rc);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("retention.ms=-1"), std::string::npos) << problems[0];
  bad = good;
  bad["omni.assignments"]["retention.ms"] = "-1";
  EXPECT_TRUE(retention_problems(topics, bad, rc).empty());
}

}  // namespace
}  // namespace omni::routing::service
