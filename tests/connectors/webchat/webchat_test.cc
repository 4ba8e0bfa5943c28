// The web chat's pure parts: the visitor protocol codec, the session store, the factory's config
// validation, visitor tokens, verified identities and outbound routing. The sockets themselves are
// tested end to end with a real WebSocket client (tests/e2e/test_webchat.py).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "config/config.h"
#include "connectors/registry.h"
#include "connectors/webchat/protocol.h"
#include "connectors/webchat/reply_index.h"
#include "connectors/webchat/store.h"
#include "connectors/webchat/webchat_connector.h"
#include "connectors/webhook.h"

namespace omni::connectors::webchat {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// ---- protocol ---------------------------------------------------------------------------------

TEST(webchat_protocol, start_with_token_resume_point_and_signed_identity) {
  auto m = parse_client_message(
      R"({"type":"start","v":1,"token":"abc.def","last_seq":7,"name":"Иван",)"
      R"("identity":{"kind":"email","value":"ivan@example.ru","hash":"00ff"}})");
  ASSERT_TRUE(m) << m.err().to_string();
  EXPECT_EQ(m->type, client_type::start);
  EXPECT_EQ(m->token, "abc.def");
  EXPECT_EQ(m->last_seq, 7u);
  EXPECT_EQ(m->name, "Иван");
  ASSERT_TRUE(m->identity);
  EXPECT_EQ(m->identity->kind, "email");
  EXPECT_EQ(m->identity->value, "ivan@example.ru");
  EXPECT_EQ(m->identity->hash, "00ff");
}

TEST(webchat_protocol, message_needs_client_id_and_text) {
  auto m = parse_client_message(R"({"type":"message","client_id":"c1","text":"Привет"})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->client_id, "c1");
  EXPECT_EQ(m->text, "Привет");
  auto no_id = parse_client_message(R"({"type":"message","text":"x"})");
  ASSERT_FALSE(no_id);
  EXPECT_EQ(no_id.err().field, "bad_request");
  EXPECT_NE(no_id.err().message.find("client_id"), std::string::npos);
  auto empty = parse_client_message(R"({"type":"message","client_id":"c","text":""})");
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.err().message.find("text"), std::string::npos);
}

TEST(webchat_protocol, bad_input_is_named) {
  EXPECT_EQ(parse_client_message("{").err().field, "bad_json");
  EXPECT_EQ(parse_client_message("[1]").err().field, "bad_json");
  EXPECT_EQ(parse_client_message("\"\xff\"").err().field, "bad_json");
  EXPECT_EQ(parse_client_message(R"({"type":"dance"})").err().field, "unknown_type");
  EXPECT_EQ(parse_client_message(R"({"text":"x"})").err().field, "bad_request");
  EXPECT_EQ(parse_client_message(R"({"type":"start","v":2})").err().field, "unsupported_version");
  EXPECT_EQ(parse_client_message(R"({"type":"start","last_seq":-1})").err().field, "bad_request");
  auto kind = parse_client_message(
      R"({"type":"start","identity":{"kind":"passport","value":"1","hash":"00"}})");
  ASSERT_FALSE(kind);
  EXPECT_NE(kind.err().message.find("identity.kind"), std::string::npos);
  field_limits small;
  small.text = 4;
  EXPECT_FALSE(parse_client_message(R"({"type":"message","client_id":"c","text":"12345"})", small));
}

TEST(webchat_protocol, close_codes) {
  EXPECT_EQ(close_code_for("bad_json"), close_code::bad_request);
  EXPECT_EQ(close_code_for("bad_token"), close_code::unauthorized);
  EXPECT_EQ(close_code_for("bad_identity"), close_code::unauthorized);
  EXPECT_EQ(close_code_for("start_timeout"), close_code::timeout);
  EXPECT_FALSE(close_code_for("unavailable"));
  EXPECT_FALSE(close_code_for("not_started"));
}

core::outbound outbound(core::outbound_kind kind, std::string id, std::string conversation) {
  core::outbound o;
  o.id = std::move(id);
  o.kind = kind;
  o.provider = "webchat";
  o.conversation = std::move(conversation);
  o.agent_id = "anna";
  o.text = "Добрый день!";
  o.at = 1795405068123;
  return o;
}

TEST(webchat_protocol, outbound_becomes_history_entries) {
  auto reply = entry_of(outbound(core::outbound_kind::reply, "r1", "webchat:s:1"));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->kind, entry_kind::agent);
  EXPECT_EQ(reply->agent, "anna");
  auto n = outbound(core::outbound_kind::notice, "n1", "webchat:s:1");
  n.attributes = {{"queue_position", "3"}, {"expected_wait_seconds", "120"}};
  auto notice = entry_of(n);
  ASSERT_TRUE(notice);
  EXPECT_EQ(notice->queue_position, 3);
  EXPECT_EQ(notice->expected_wait_seconds, 120);
  json j = json::parse(event_message(*notice));
  EXPECT_EQ(j["kind"], "notice");
  EXPECT_EQ(j["queue_position"], 3);
  n.attributes["queue_position"] = "many";
  EXPECT_FALSE(entry_of(n)->queue_position);
  EXPECT_FALSE(entry_of(outbound(core::outbound_kind::typing, "t", "webchat:s:1")));
  EXPECT_EQ(entry_of(outbound(core::outbound_kind::joined, "j", "c"))->kind, entry_kind::joined);
}

// ---- session store ------------------------------------------------------------------------------

TEST(webchat_store, a_message_is_claimed_once_and_replayed_after_the_resume_point) {
  session_store st({});
  auto o = st.open("v1", 0, 1000);
  EXPECT_FALSE(o.known);
  EXPECT_TRUE(o.chat.empty());
  auto c = st.begin_message("v1", "m1", "webchat:s:chat1", 1001);
  EXPECT_EQ(c.state, session_store::claim_state::fresh);
  EXPECT_EQ(c.chat, "webchat:s:chat1");
  // The resend while Kafka has not answered yet: no second publish.
  EXPECT_EQ(st.begin_message("v1", "m1", "ignored", 1002).state,
            session_store::claim_state::in_flight);
  auto e = st.commit("v1", "m1", "Здравствуйте", 1003);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->seq, 1u);
  auto again = st.begin_message("v1", "m1", "ignored", 1004);
  EXPECT_EQ(again.state, session_store::claim_state::stored);
  EXPECT_EQ(again.seq, 1u);
  // Second message: same chat.
  EXPECT_EQ(st.begin_message("v1", "m2", "other", 1005).chat, "webchat:s:chat1");
  ASSERT_TRUE(st.commit("v1", "m2", "Где заказ?", 1006));
  st.disconnected("v1", 1007);
  // An agent reply while the visitor is offline is kept ...
  auto r = st.deliver(outbound(core::outbound_kind::reply, "r1", "webchat:s:chat1"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->visitor, "v1");
  ASSERT_TRUE(r->entry);
  EXPECT_EQ(r->entry->seq, 3u);
  // ... delivered once (omni.outbound is at-least-once) ...
  auto dup = st.deliver(outbound(core::outbound_kind::reply, "r1", "webchat:s:chat1"));
  ASSERT_TRUE(dup);
  EXPECT_FALSE(dup->entry);
  // ... and replayed on resume after what the widget has shown.
  auto back = st.open("v1", 2, 1008);
  EXPECT_TRUE(back.known);
  EXPECT_EQ(back.chat, "webchat:s:chat1");
  ASSERT_EQ(back.replay.size(), 1u);
  EXPECT_EQ(back.replay[0].kind, entry_kind::agent);
  EXPECT_EQ(st.open("v1", 0, 1009).replay.size(), 3u);
  EXPECT_FALSE(st.deliver(outbound(core::outbound_kind::reply, "x", "webchat:s:unknown")));
}

TEST(webchat_store, after_a_restart_seqs_continue_and_an_adopted_chat_routes_replies) {
  session_store st({});
  // The widget saw seq 1..7 from the node before its restart.
  auto o = st.open("v1", 7, 1000);
  EXPECT_FALSE(o.known);
  EXPECT_TRUE(st.adopt("v1", "webchat:s:old"));
  EXPECT_FALSE(st.adopt("nobody", "webchat:s:x"));  // no session
  EXPECT_FALSE(st.adopt("v2", "webchat:s:old"));    // no session either
  auto r = st.deliver(outbound(core::outbound_kind::reply, "r1", "webchat:s:old"));
  ASSERT_TRUE(r && r->entry);
  EXPECT_EQ(r->visitor, "v1");
  EXPECT_EQ(r->entry->seq, 8u);
  // Read back again (recovery and the live dispatcher both saw it): shown once.
  auto dup = st.deliver(outbound(core::outbound_kind::reply, "r1", "webchat:s:old"));
  ASSERT_TRUE(dup);
  EXPECT_FALSE(dup->entry);
  // The visitor's next message goes on in the adopted chat.
  EXPECT_EQ(st.begin_message("v1", "m1", "webchat:s:new", 1001).chat, "webchat:s:old");
  EXPECT_EQ(json::parse(event_message(*r->entry))["id"], "r1");
}

TEST(webchat_reply_index, remembers_each_chats_first_record_across_reopen_and_forgets_old_ones) {
  auto dir = std::filesystem::temp_directory_path() / ("reply-index-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const auto file = dir / "replies.idx";
  {
    auto idx = reply_index::open(file, 24h, 1'000'000);
    ASSERT_TRUE(idx) << idx.err().to_string();
    (*idx)->record("v1", "webchat:s:a", 2, 700, 1'000'000);
    (*idx)->record("v1", "webchat:s:a", 2, 900, 1'000'100);  // later record: the first one stays
    (*idx)->record("v1", "webchat:s:b", 0, 50, 1'000'200);
    (*idx)->record("v2", "webchat:s:c", 1, 10, 1'000'300);
    (*idx)->record("v\t3", "webchat:s:d", 1, 11, 1'000'300);  // not a plain id: ignored
    EXPECT_EQ((*idx)->size(), 3u);
  }
  std::ofstream(file, std::ios::app) << "garbage line cut by a crash";
  {
    auto idx = reply_index::open(file, 24h, 1'000'400);
    ASSERT_TRUE(idx) << idx.err().to_string();
    auto chats = (*idx)->chats_of("v1");
    ASSERT_EQ(chats.size(), 2u);
    EXPECT_EQ(chats[0].chat, "webchat:s:b");  // newest first
    EXPECT_EQ(chats[1].chat, "webchat:s:a");
    EXPECT_EQ(chats[1].partition, 2);
    EXPECT_EQ(chats[1].offset, 700);
    EXPECT_TRUE((*idx)->chats_of("nobody").empty());
  }
  // A day later (retention 24h) every entry is dropped, and the file is rewritten without them.
  auto later = reply_index::open(file, 24h, 1'000'400 + 25 * 3600 * 1000);
  ASSERT_TRUE(later);
  EXPECT_EQ((*later)->size(), 0u);
  later->reset();
  EXPECT_EQ(std::filesystem::file_size(file), 0u);
  std::filesystem::remove_all(dir);
}

TEST(webchat_store, a_failed_publish_can_be_retried) {
  session_store st({});
  st.open("v", 0, 0);
  EXPECT_EQ(st.begin_message("v", "m", "c", 1).state, session_store::claim_state::fresh);
  st.release("v", "m");
  EXPECT_EQ(st.begin_message("v", "m", "c", 2).state, session_store::claim_state::fresh);
}

TEST(webchat_store, ending_a_chat_opens_a_new_one_next_time) {
  session_store st({});
  st.open("v", 0, 0);
  st.begin_message("v", "m", "chat-1", 1);
  st.commit("v", "m", "a", 1);
  auto end = st.end_chat("v", 2);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->kind, entry_kind::ended);
  EXPECT_FALSE(st.end_chat("v", 3));
  EXPECT_EQ(st.begin_message("v", "m2", "chat-2", 4).chat, "chat-2");
  // The agent's late reply to the first chat still reaches the visitor.
  EXPECT_TRUE(st.deliver(outbound(core::outbound_kind::reply, "late", "chat-1")));
}

TEST(webchat_store, bounded_history_retention_and_visitor_count) {
  store_limits l;
  l.history = 3;
  l.retention = 1000ms;
  l.max_visitors = 2;
  session_store st(l);
  st.open("v", 0, 0);
  for (int i = 0; i < 5; ++i) {
    auto id = "m" + std::to_string(i);
    st.begin_message("v", id, "chat", i);
    st.commit("v", id, "t", i);
  }
  auto o = st.open("v", 0, 10);
  ASSERT_EQ(o.replay.size(), 3u);
  EXPECT_EQ(o.replay.front().seq, 3u);
  st.disconnected("v", 10);
  st.disconnected("v", 10);
  st.open("w", 0, 20);
  EXPECT_EQ(st.expire(500), 0u);   // v idle only 490 ms; w online
  EXPECT_EQ(st.expire(1011), 1u);  // v idle past retention
  EXPECT_FALSE(st.deliver(outbound(core::outbound_kind::reply, "r", "chat")));
  st.disconnected("w", 30);
  st.open("x", 0, 40);
  st.open("y", 0, 50);  // full: w (offline, idle longest) makes room
  EXPECT_EQ(st.visitors(), 2u);
  EXPECT_FALSE(st.open("w", 0, 60).known);
}

// ---- factory, tokens, identities, delivery
// --------------------------------------------------------

std::unique_ptr<connector> create(const std::string& entry, config::diagnostics& sink) {
  auto loaded = config::load_string("connectors:\n" + entry, "site.yaml");
  EXPECT_TRUE(loaded.ok());
  if (!loaded.ok()) return nullptr;
  auto all = create_all(*loaded.config, sink, context{});
  return all.empty() ? nullptr : std::move(all.front());
}

TEST(webchat_config, typos_and_bad_values_are_reported_with_positions) {
  config::diagnostics sink;
  auto c = create(
      "  - type: webchat\n"
      "    name: site\n"
      "    path: /chat\n"
      "    allowed_origins: [shop.example]\n"
      "    token_secret: short\n"
      "    max_conections_per_ip: 5\n"
      "    max_message_bytes: 10\n",
      sink);
  EXPECT_FALSE(c);
  std::string all;
  for (const auto& d : sink.items()) all += config::to_string(d) + "\n";
  EXPECT_NE(all.find("site.yaml:4:11"), std::string::npos) << all;  // path
  EXPECT_NE(all.find("must start and end with '/'"), std::string::npos) << all;
  EXPECT_NE(all.find("'shop.example' is not an origin"), std::string::npos) << all;
  EXPECT_NE(all.find("token_secret"), std::string::npos) << all;
  EXPECT_NE(all.find("max_connections_per_ip"), std::string::npos) << all;  // did you mean
  EXPECT_NE(all.find("max_message_bytes"), std::string::npos) << all;
}

class webchat_connector_test : public ::testing::Test {
 protected:
  void SetUp() override {
    config::diagnostics sink;
    auto c = create(
        "  - type: webchat\n"
        "    name: shop\n"
        "    domain: acme\n"
        "    token_secret: 0123456789abcdef0123456789abcdef\n"
        "    identity_secrets: [old-secret-0123456789, new-secret-0123456789]\n",
        sink);
    ASSERT_TRUE(c) << (sink.empty() ? "" : config::to_string(sink.items()[0]));
    conn_.reset(static_cast<webchat_connector*>(c.release()));
  }
  std::unique_ptr<webchat_connector> conn_;
};

TEST_F(webchat_connector_test, visitor_tokens_verify_and_resist_tampering) {
  auto t = conn_->issue_token("4f1c");
  EXPECT_EQ(conn_->check_token(t), "4f1c");
  EXPECT_NE(t.find("4f1c."), std::string::npos);
  auto forged = "4f1d" + t.substr(4);
  EXPECT_FALSE(conn_->check_token(forged));
  EXPECT_FALSE(conn_->check_token(t.substr(0, t.size() - 1)));
  EXPECT_FALSE(conn_->check_token("4f1c"));
  EXPECT_FALSE(conn_->check_token(""));
}

TEST_F(webchat_connector_test, identities_signed_with_any_current_secret_verify) {
  signed_identity id{"email", "ivan@example.ru",
                     hmac_sha256_hex("new-secret-0123456789", "ivan@example.ru")};
  EXPECT_TRUE(conn_->verify_identity(id));
  id.hash = hmac_sha256_hex("old-secret-0123456789", "ivan@example.ru");
  EXPECT_TRUE(conn_->verify_identity(id));
  id.value = "boss@example.ru";
  EXPECT_FALSE(conn_->verify_identity(id));
  id.hash = "";
  EXPECT_FALSE(conn_->verify_identity(id));
}

TEST_F(webchat_connector_test, delivers_only_its_own_known_conversations) {
  // Another connector's, another provider's, and an unknown conversation of ours are not ours.
  EXPECT_FALSE(conn_->deliver(outbound(core::outbound_kind::reply, "a", "webchat:other:1")));
  auto tg = outbound(core::outbound_kind::reply, "b", "webchat:shop:1");
  tg.provider = "telegram";
  EXPECT_FALSE(conn_->deliver(tg));
  EXPECT_FALSE(conn_->deliver(outbound(core::outbound_kind::reply, "c", "webchat:shop:1")));
  EXPECT_EQ(conn_->stats().delivered, 0u);
}

}  // namespace
}  // namespace omni::connectors::webchat
