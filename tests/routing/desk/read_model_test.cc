#include "routing/desk/read_model.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace omni::routing::desk {
namespace {

using nlohmann::json;

core::assignment decision(std::string id, std::string type, std::string contact,
                          std::string agent) {
  core::assignment a;
  a.id = std::move(id);
  a.type = std::move(type);
  a.domain = "acme";
  a.contact_id = std::move(contact);
  a.agent_id = std::move(agent);
  a.queue = "support";
  a.at = 1'700'000'000'000;
  a.reason.strategy = "longest_idle";
  a.reason.candidates = 3;
  a.reason.text = "longest idle of 3";
  return a;
}

core::assignment offer(std::string id, std::string contact, std::string agent) {
  auto a = decision(std::move(id), "offer", std::move(contact), std::move(agent));
  a.contact =
      core::offer_details{.customer_id = "cust-1",
                          .display_name = "Иван",
                          .channel = "chat",
                          .provider = "webchat",
                          .conversation = "conv-1",
                          .subject = "Заказ",
                          .snippet = "Где мой заказ?",
                          .recipient = {"visitor", "v-1"},
                          .history = R"([{"id":"old","channel":"email","subject":"Возврат"}])"};
  a.deadline = a.at + 30'000;
  return a;
}

// An offer as the router wrote it before omni.assignment.v1 had `contact`: the same details as
// string attributes.
core::assignment legacy_offer(std::string id, std::string contact, std::string agent) {
  auto a = decision(std::move(id), "offer", std::move(contact), std::move(agent));
  a.attributes = {{"customer_id", "cust-1"},
                  {"display_name", "Иван"},
                  {"channel", "chat"},
                  {"provider", "webchat"},
                  {"conversation", "conv-1"},
                  {"subject", "Заказ"},
                  {"snippet", "Где мой заказ?"},
                  {"recipient_kind", "visitor"},
                  {"recipient_value", "v-1"},
                  {"history", R"([{"id":"old","channel":"email","subject":"Возврат"}])"}};
  a.deadline = a.at + 30'000;
  return a;
}

core::agent_event agent_event(std::string id, core::agent_event_type t, std::string agent,
                              std::string contact = {}) {
  core::agent_event e;
  e.id = std::move(id);
  e.type = t;
  e.domain = "acme";
  e.agent_id = std::move(agent);
  e.contact_id = std::move(contact);
  return e;
}

TEST(DeskReadModel, OfferIsPushedOnceWithConversationAndHistory) {
  read_model m;
  auto out = m.apply(offer("acme-1", "c1", "a1"));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].agent, "a1");
  auto j = json::parse(out[0].json);
  EXPECT_EQ(j["type"], "offer");
  EXPECT_EQ(j["contact"]["display_name"], "Иван");
  EXPECT_EQ(j["conversation"][0]["text"], "Где мой заказ?");
  EXPECT_EQ(j["history"][0]["subject"], "Возврат");
  EXPECT_EQ(j["reason"]["candidates"], 3);
  // The router may repeat a decision after a crash: same id, nothing new.
  EXPECT_TRUE(m.apply(offer("acme-1", "c1", "a1")).empty());
  auto marker = decision("acme-2", "input", "", "");
  EXPECT_TRUE(m.apply(marker).empty());
}

// A changelog written by the previous release (details as attributes) shows the same offer.
TEST(DeskReadModel, AnOfferFromBeforeNamedDetailsShowsTheSame) {
  read_model named, legacy;
  auto a = json::parse(named.apply(offer("acme-1", "c1", "a1")).at(0).json);
  auto b = json::parse(legacy.apply(legacy_offer("acme-1", "c1", "a1")).at(0).json);
  EXPECT_EQ(a, b);
  EXPECT_EQ(b["contact"]["display_name"], "Иван");
  EXPECT_EQ(b["conversation"][0]["text"], "Где мой заказ?");
  EXPECT_EQ(b["history"][0]["subject"], "Возврат");
}

// The dedupe window is bounded: an id read again within it is dropped, one older than the window
// is not remembered any more (memory stays flat however long the node runs).
TEST(DeskReadModel, DedupeWindowForgetsTheOldestIds) {
  read_model m(100, 1000);
  ASSERT_EQ(m.apply(offer("acme-1", "c1", "a1")).size(), 1u);
  for (int i = 0; i < 999; ++i)
    m.apply(agent_event("ev-" + std::to_string(i), core::agent_event_type::presence, "a2"));
  EXPECT_TRUE(m.apply(offer("acme-1", "c1", "a1")).empty());  // still within the last 1000
  m.apply(agent_event("ev-last", core::agent_event_type::presence, "a2"));
  m.apply(agent_event("ev-last-2", core::agent_event_type::presence, "a2"));
  EXPECT_EQ(m.apply(offer("acme-1", "c1", "a1")).size(), 1u);  // forgotten: applied again
}

TEST(DeskReadModel, AuthorizeFollowsOffersAcceptAndRevoke) {
  read_model m;
  m.apply(offer("acme-1", "c1", "a1"));
  EXPECT_EQ(m.authorize("a2", "c1", desk_action::accept).err().field, "forbidden");
  EXPECT_EQ(m.authorize("a1", "nope", desk_action::accept).err().field, "forbidden");
  EXPECT_EQ(m.authorize("a1", "c1", desk_action::work).err().field, "conflict");
  auto route = m.authorize("a1", "c1", desk_action::accept);
  ASSERT_TRUE(route);
  EXPECT_EQ(route->conversation, "conv-1");
  EXPECT_EQ(route->recipient.value, "v-1");
  m.apply(agent_event("e1", core::agent_event_type::accept, "a1", "c1"));
  EXPECT_TRUE(m.authorize("a1", "c1", desk_action::work));
  // The router revokes (e.g. timeout raced the accept): the agent gets a revoke.
  auto out = m.apply(decision("acme-3", "requeue", "c1", ""));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(json::parse(out[0].json)["type"], "revoke");
  EXPECT_EQ(m.authorize("a1", "c1", desk_action::work).err().field, "conflict");
}

TEST(DeskReadModel, FollowUpMessagesStatsAndCompletion) {
  read_model m;
  m.apply(offer("acme-1", "c1", "a1"));
  m.apply(decision("acme-2", "assign", "c1", "a1"));
  auto msg = decision("acme-3", "message", "c1", "a1");
  msg.attributes = {{"text", "Ещё вопрос"}, {"message_id", "m2"}};
  auto out = m.apply(msg);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(json::parse(out[0].json)["message"]["text"], "Ещё вопрос");
  auto stats = decision("acme-4", "stats", "", "");
  // A value longer than one attribute arrives split (`queues`, `queues.1001`, ...).
  stats.attributes = {{"queues", R"([{"name":"support",)"},
                      {"queues.1001", R"("waiting":2},{"name":"sales",)"},
                      {"queues.1002", R"("waiting":0}])"},
                      {"agents", R"([{"id":"a1","presence":"available"}])"}};
  out = m.apply(stats);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].agent.empty());
  EXPECT_EQ(m.queue("acme", "support")->at("waiting"), 2);
  EXPECT_EQ(m.queue("acme", "sales")->at("waiting"), 0);
  auto resync = m.resync("a1", "acme");
  ASSERT_EQ(resync.size(), 2u);
  EXPECT_EQ(json::parse(resync[0])["type"], "assigned");
  EXPECT_EQ(json::parse(resync[0])["conversation"].size(), 2u);
  auto c = m.contact("c1");
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)["why"]["agent_id"], "a1");
  EXPECT_EQ((*c)["decisions"].size(), 2u);
  m.apply(agent_event("e2", core::agent_event_type::complete, "a1", "c1"));
  EXPECT_EQ(m.authorize("a1", "c1", desk_action::work).err().field, "conflict");
  EXPECT_TRUE(m.resync("a1", "acme").size() == 1u);  // stats only
  EXPECT_TRUE(m.customer("cust-1"));
  EXPECT_TRUE(m.agent_knows_customer("a1", "cust-1"));
  EXPECT_FALSE(m.agent_knows_customer("a2", "cust-1"));
}

TEST(DeskReadModel, FinishedContactsAreBounded) {
  read_model m(100);
  for (int i = 0; i < 300; ++i) {
    auto id = "c" + std::to_string(i);
    m.apply(offer("o" + std::to_string(i), id, "a1"));
    m.apply(decision("x" + std::to_string(i), "abandon", id, ""));
  }
  EXPECT_FALSE(m.contact("c0"));
  EXPECT_TRUE(m.contact("c299"));
  EXPECT_EQ(m.active_contacts(), 0u);
}

// Customers are kept with their contacts: a node that saw a million customers does not keep a
// million entries (the soak found the map growing with every new customer).
TEST(DeskReadModel, CustomersAreForgottenWithTheirLastKeptContact) {
  read_model m(10);
  for (int i = 0; i < 50; ++i) {
    auto id = "c" + std::to_string(i);
    auto o = offer("o" + std::to_string(i), id, "a1");
    o.contact->customer_id = "cust-" + std::to_string(i);
    m.apply(o);
    m.apply(decision("x" + std::to_string(i), "abandon", id, ""));
  }
  EXPECT_FALSE(m.customer("cust-0"));
  EXPECT_FALSE(m.agent_knows_customer("a1", "cust-0"));
  EXPECT_TRUE(m.customer("cust-49"));
  EXPECT_TRUE(m.agent_knows_customer("a1", "cust-49"));
  // A customer with a kept contact stays while an older contact of theirs goes.
  auto again = offer("o-again", "c-again", "a1");
  again.contact->customer_id = "cust-45";
  m.apply(again);
  for (int i = 50; i < 60; ++i) {
    auto id = "c" + std::to_string(i);
    m.apply(offer("o" + std::to_string(i), id, "a1"));
    m.apply(decision("x" + std::to_string(i), "abandon", id, ""));
  }
  EXPECT_FALSE(m.contact("c45"));
  ASSERT_TRUE(m.customer("cust-45"));
  EXPECT_EQ((*m.customer("cust-45"))["contacts"].size(), 1u);
}

}  // namespace
}  // namespace omni::routing::desk
