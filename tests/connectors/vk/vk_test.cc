#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "connectors/vk/vk_connector.h"
#include "tests/connectors/support.h"
#include "tests/connectors/webhook_contract.h"

namespace omni::connectors {
namespace {

namespace http = core::http;

std::string fixture(const std::string& name) { return test_support::fixture("vk", name); }

http::request request_with(const std::string& body) {
  http::request r;
  r.verb = http::method::post;
  r.body = body;
  return r;
}

// ---- mapping, without sockets ----------------------------------------------------------------

class vk_mapping : public ::testing::Test {
 protected:
  vk::provider p{{"acme-vk", 218765432, "d8a1c2f3", "vk-s3cret-Key", ""}};

  core::contact one(const std::string& fixture_name) {
    auto m = p.map(request_with(fixture(fixture_name)), 1795405068123);
    EXPECT_TRUE(m) << m.err().to_string();
    EXPECT_EQ(m->contacts.size(), 1u);
    return m->contacts.at(0);
  }
};

TEST_F(vk_mapping, message_new_in_russian_with_attachments) {
  core::contact c = one("message_new_cyrillic.json");
  EXPECT_EQ(c.provider, "vk");
  EXPECT_EQ(c.source_id, "5a3b9f0c2d1e4f6a8b7c9d0e1f2a3b4c5d6e7f80");  // the event_id
  EXPECT_EQ(c.id, core::contact_id("vk", c.source_id));
  EXPECT_EQ(c.chan, core::channel::messenger);
  EXPECT_EQ(c.conversation, "vk:218765432:612444319");
  EXPECT_EQ(c.text, "Здравствуйте! Мой заказ №1234 так и не пришёл 😞");
  ASSERT_EQ(c.customer.identities.size(), 1u);
  EXPECT_EQ(c.customer.identities[0], (core::identity{"vk", "612444319"}));
  EXPECT_EQ(c.to, "club218765432");
  EXPECT_EQ(c.language, "ru");
  EXPECT_EQ(c.received_at, 1795405068123);
  EXPECT_EQ(c.attributes.at("vk_message_id"), "4821");
  EXPECT_EQ(c.attributes.at("vk_api_version"), "5.199");
  ASSERT_EQ(c.attachments.size(), 3u);
  // The largest photo size, whatever its position in `sizes`.
  EXPECT_EQ(c.attachments[0],
            (core::attachment{"photo.jpg", "image/jpeg", -1, "https://sun9-1.userapi.com/w.jpg"}));
  EXPECT_EQ(c.attachments[1], (core::attachment{"накладная.pdf", "application/pdf", 20480,
                                                "https://vk.com/doc612444319_671234567?hash=abc"}));
  EXPECT_EQ(c.attachments[2], (core::attachment{"audio_message.ogg", "audio/ogg", -1,
                                                "https://psv4.userapi.com/audiomsg.ogg"}));
}

TEST_F(vk_mapping, escaped_unicode_decodes_to_the_same_text) {
  core::contact c = one("message_new_escaped_unicode.json");
  EXPECT_EQ(c.text, "Привет, помогите 🙏");
  EXPECT_EQ(c.language, "en");
  EXPECT_EQ(c.attributes.at("vk_payload"), "{\"command\":\"start\"}");
}

TEST_F(vk_mapping, old_api_versions_put_the_message_in_object) {
  core::contact c = one("message_new_old_api.json");
  EXPECT_EQ(c.source_id, "218765432:1177");  // no event_id: group and message id
  EXPECT_EQ(c.text, "Выводить стандартное");
  EXPECT_EQ(c.customer.identities[0].value, "229309472");
  EXPECT_EQ(c.conversation, "vk:218765432:229309472");
  ASSERT_EQ(c.attachments.size(), 1u);
  EXPECT_EQ(c.attachments[0].ref, "https://vk.com/sticker/1-9008-128");
}

TEST_F(vk_mapping, community_chat_messages_use_the_conversation_message_id) {
  core::contact c = one("message_new_chat.json");
  EXPECT_EQ(c.source_id, "218765432:2000000066:c2169");
  EXPECT_EQ(c.conversation, "vk:218765432:2000000066");
  EXPECT_EQ(c.customer.identities[0].value, "612444320");
  EXPECT_EQ(c.text, "Location: 55.7558, 37.6173");
  EXPECT_EQ(c.language, "uk");
}

TEST_F(vk_mapping, other_events_are_ignored_with_a_reason) {
  auto m = p.map(request_with(fixture("group_join.json")), 0);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->contacts.empty());
  EXPECT_NE(m->ignored.find("group_join"), std::string::npos);
}

TEST_F(vk_mapping, malformed_input_names_the_field) {
  auto bad = p.map(request_with("{\"type\":\"message_new\","), 0);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.err().message.find("malformed JSON"), std::string::npos);
  auto no_type = p.map(request_with(R"({"group_id":1,"object":{}})"), 0);
  ASSERT_FALSE(no_type);
  EXPECT_EQ(no_type.err().field, "type");
  auto no_from = p.map(
      request_with(
          R"({"type":"message_new","group_id":1,"event_id":"e","object":{"message":{"peer_id":5}}})"),
      0);
  ASSERT_FALSE(no_from);
  EXPECT_EQ(no_from.err().field, "object.message.from_id");
  auto no_object = p.map(request_with(R"({"type":"message_new","group_id":1})"), 0);
  ASSERT_FALSE(no_object);
  EXPECT_EQ(no_object.err().field, "object");
  auto no_ids = p.map(
      request_with(R"({"type":"message_new","group_id":1,"object":{"message":{"from_id":5}}})"), 0);
  ASSERT_FALSE(no_ids);
  EXPECT_EQ(no_ids.err().field, "object.message.id");
  EXPECT_FALSE(p.map(request_with("[]"), 0));
  EXPECT_FALSE(p.map(request_with(""), 0));
}

TEST_F(vk_mapping, secret_check) {
  EXPECT_FALSE(p.verify(request_with(fixture("message_new_cyrillic.json"))).has_value());
  auto missing = p.verify(request_with(R"({"type":"message_new","group_id":218765432})"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  auto wrong = p.verify(
      request_with(R"({"type":"message_new","group_id":218765432,"secret":"vk-s3cret-Ke"})"));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 403);
  auto other_group =
      p.verify(request_with(R"({"type":"message_new","group_id":1,"secret":"vk-s3cret-Key"})"));
  ASSERT_TRUE(other_group);
  EXPECT_EQ(other_group->status, 403);
}

TEST_F(vk_mapping, confirmation_handshake) {
  auto ok = p.handshake(request_with(fixture("confirmation.json")));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "d8a1c2f3");
  auto other = p.handshake(request_with(R"({"type":"confirmation","group_id":1})"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 403);
  auto wrong_secret =
      p.handshake(request_with(R"({"type":"confirmation","group_id":218765432,"secret":"x"})"));
  ASSERT_TRUE(wrong_secret);
  EXPECT_EQ(wrong_secret->status, 403);
  EXPECT_FALSE(p.handshake(request_with(fixture("message_new_cyrillic.json"))));
  EXPECT_EQ(p.accepted().body, "ok");
}

// ---- the webhook contract (tests/connectors/webhook_contract.cc) -----------------------------

// VK's secret travels in the body: the "signing" is the body itself.
std::string replaced(std::string body, const std::string& from, const std::string& to) {
  body.replace(body.find(from), from.size(), to);
  return body;
}

testing::webhook_contract_case vk_case() {
  testing::webhook_contract_case c;
  c.channel = "vk";
  c.yaml = R"(  - type: vk
    name: acme-vk
    group_id: 218765432
    confirmation: d8a1c2f3
    secret: vk-s3cret-Key
    community: acme_support
    domain: acme
)";
  c.connector = "acme-vk";
  c.path = "/hooks/vk/acme-vk";
  c.sign = [](const std::string&) { return http::header_map{}; };
  c.one_contact = fixture("message_new_cyrillic.json");
  c.accepted_body = "ok";
  c.nothing_to_route = fixture("group_join.json");
  c.malformed = "{\"type\":\"message_new\",\"secret\":";
  c.malformed_reason = "malformed JSON";
  c.refused = {
      {replaced(c.one_contact, "\"secret\"", "\"secrex\""), {}, 401, "secret"},
      {replaced(c.one_contact, "vk-s3cret-Key", "vk-s3cret-Kex"), {}, 403, "wrong secret"}};
  return c;
}
using testing::webhook_contract;
INSTANTIATE_TEST_SUITE_P(vk, webhook_contract, ::testing::Values(vk_case()));

// ---- through the listener: what only VK does --------------------------------------------------

class vk_webhook : public testing::webhook_fixture {
 protected:
  void SetUp() override { start(vk_case().yaml); }
};

TEST_F(vk_webhook, the_stored_contact_is_the_message_and_ok_is_plain_text) {
  auto r = post("/hooks/vk/acme-vk", fixture("message_new_cyrillic.json"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.header("Content-Type").value_or("").find("text/plain"), std::string_view::npos);
  auto cs = contacts();
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].to, "acme_support");
  EXPECT_EQ(cs[0].text, "Здравствуйте! Мой заказ №1234 так и не пришёл 😞");
  EXPECT_EQ(cs[0].attachments.size(), 3u);
}

TEST_F(vk_webhook, confirmation_answers_the_configured_string) {
  auto r = post("/hooks/vk/acme-vk", fixture("confirmation.json"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "d8a1c2f3");
  auto other = post("/hooks/vk/acme-vk", R"({"type":"confirmation","group_id":7})");
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(stored(), 0);
}

TEST_F(vk_webhook, a_message_without_sender_is_400_naming_it) {
  auto r = post(
      "/hooks/vk/acme-vk",
      R"({"type":"message_new","group_id":218765432,"secret":"vk-s3cret-Key","event_id":"x","object":{"message":{"text":"hi"}}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("object.message.from_id"), std::string::npos) << r.body;
  EXPECT_EQ(stored(), 0);
}

// ---- configuration ----------------------------------------------------------------------------

using test_support::config_errors;

TEST(vk_config, errors_point_at_the_key) {
  auto e = config_errors("  - type: vk\n    name: v\n    group_id: 1\n    confirmation: abc\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].message.find("secret"), std::string::npos) << e[0].message;

  e = config_errors(
      "  - type: vk\n    name: v\n    group_id: -5\n    confirmation: abc\n    secret: s\n    "
      "comunity: x\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].line, 4);  // line 1 is "connectors:"
  EXPECT_NE(e[0].message.find("positive"), std::string::npos) << e[0].message;
  EXPECT_EQ(e[1].line, 7);
  EXPECT_NE(e[1].message.find("did you mean 'community'"), std::string::npos) << e[1].message;

  EXPECT_TRUE(
      config_errors(
          "  - type: vk\n    name: v\n    group_id: 1\n    confirmation: a\n    secret: s\n")
          .empty());
}

}  // namespace
}  // namespace omni::connectors
