#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "connectors/telegram/telegram_connector.h"
#include "tests/connectors/support.h"
#include "tests/connectors/webhook_contract.h"

namespace omni::connectors {
namespace {

using namespace std::chrono_literals;
namespace http = core::http;

std::string fixture(const std::string& name) { return test_support::fixture("telegram", name); }

http::request request_with(const std::string& body, const std::string& token = "s3cret-Token_1") {
  http::request r;
  r.verb = http::method::post;
  r.body = body;
  if (!token.empty()) r.headers.add("X-Telegram-Bot-Api-Secret-Token", token);
  return r;
}

// ---- mapping, without sockets ----------------------------------------------------------------

class telegram_mapping : public ::testing::Test {
 protected:
  telegram::provider p{{"acme-bot", "s3cret-Token_1", "@acme_bot"}};

  core::contact one(const std::string& fixture_name) {
    auto m = p.map(request_with(fixture(fixture_name)), 1795405068123);
    EXPECT_TRUE(m) << m.err().to_string();
    EXPECT_EQ(m->contacts.size(), 1u);
    return m->contacts.at(0);
  }
};

TEST_F(telegram_mapping, message_in_russian) {
  core::contact c = one("message_cyrillic.json");
  EXPECT_EQ(c.provider, "telegram");
  EXPECT_EQ(c.source_id, "acme-bot:710001");
  EXPECT_EQ(c.id, core::contact_id("telegram", "acme-bot:710001"));
  EXPECT_EQ(c.chan, core::channel::messenger);
  EXPECT_EQ(c.conversation, "telegram:acme-bot:123456789");
  EXPECT_EQ(c.text, "Здравствуйте! Мой заказ №1234 так и не пришёл 😞");
  EXPECT_EQ(c.customer.display_name, "Иван Петров");
  ASSERT_EQ(c.customer.identities.size(), 1u);
  EXPECT_EQ(c.customer.identities[0], (core::identity{"telegram", "123456789"}));
  EXPECT_EQ(c.to, "@acme_bot");
  EXPECT_EQ(c.language, "ru");
  EXPECT_EQ(c.received_at, 1795405068123);
  EXPECT_EQ(c.attributes.at("telegram_username"), "ivanp");
}

TEST_F(telegram_mapping, escaped_unicode_decodes_to_the_same_text) {
  core::contact c = one("message_escaped_unicode.json");
  EXPECT_EQ(c.text, "Привет, помогите 🙏");
  EXPECT_EQ(c.customer.display_name, "Иван");
}

TEST_F(telegram_mapping, edited_message_and_callback_query) {
  core::contact e = one("edited_message.json");
  EXPECT_EQ(e.text, "Заказ №1235, простите");
  EXPECT_EQ(e.attributes.at("telegram_update"), "edited_message");
  core::contact q = one("callback_query.json");
  EXPECT_EQ(q.text, "rate:5");
  EXPECT_EQ(q.conversation, "telegram:acme-bot:123456789");
  EXPECT_EQ(q.customer.identities[0].value, "123456789");
}

TEST_F(telegram_mapping, shared_contact_becomes_a_phone_identity) {
  core::contact c = one("contact_shared.json");
  ASSERT_EQ(c.customer.identities.size(), 2u);
  EXPECT_EQ(c.customer.identities[1], (core::identity{"phone", "+79123456789"}));
  EXPECT_EQ(c.text, "Shared contact: +79123456789");
}

TEST_F(telegram_mapping, photo_and_document_are_attachment_descriptors) {
  core::contact c = one("photo_caption.json");
  EXPECT_EQ(c.text, "The box arrived broken");
  EXPECT_EQ(c.customer.display_name, "Anna Smith");
  EXPECT_EQ(c.conversation, "telegram:acme-bot:-100777");
  ASSERT_EQ(c.attachments.size(), 2u);
  EXPECT_EQ(c.attachments[0], (core::attachment{"photo.jpg", "image/jpeg", 45000, "big-id"}));
  EXPECT_EQ(c.attachments[1],
            (core::attachment{"invoice.pdf", "application/pdf", 20480, "doc-id"}));
}

TEST_F(telegram_mapping, other_updates_are_ignored_with_a_reason) {
  auto m = p.map(request_with(fixture("my_chat_member.json")), 0);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->contacts.empty());
  EXPECT_FALSE(m->ignored.empty());
}

TEST_F(telegram_mapping, malformed_input_names_the_field) {
  auto bad = p.map(request_with("{\"update_id\": 1, \"message\": "), 0);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.err().message.find("malformed JSON"), std::string::npos);

  auto no_id = p.map(request_with("{\"message\":{\"from\":{\"id\":1},\"chat\":{\"id\":1}}}"), 0);
  ASSERT_FALSE(no_id);
  EXPECT_EQ(no_id.err().field, "update_id");

  auto no_chat = p.map(request_with("{\"update_id\":1,\"message\":{\"from\":{\"id\":1}}}"), 0);
  ASSERT_FALSE(no_chat);
  EXPECT_EQ(no_chat.err().field, "message.chat.id");

  auto wrong_type = p.map(
      request_with("{\"update_id\":1,\"message\":{\"from\":{\"id\":[1]},\"chat\":{\"id\":1}}}"), 0);
  ASSERT_FALSE(wrong_type);
  EXPECT_EQ(wrong_type.err().field, "message.from.id");

  EXPECT_FALSE(p.map(request_with("[]"), 0));
  EXPECT_FALSE(p.map(request_with(""), 0));
}

TEST_F(telegram_mapping, secret_token_check) {
  EXPECT_FALSE(p.verify(request_with("{}")).has_value());
  auto missing = p.verify(request_with("{}", ""));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  auto wrong = p.verify(request_with("{}", "s3cret-Token_2"));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 403);
  EXPECT_TRUE(p.verify(request_with("{}", "s3cret-Token_")).has_value());  // prefix is not enough
}

// ---- the webhook contract (tests/connectors/webhook_contract.cc) -----------------------------

testing::webhook_contract_case telegram_case() {
  testing::webhook_contract_case c;
  c.channel = "telegram";
  c.yaml = R"(  - type: telegram
    name: acme-bot
    secret_token: s3cret-Token_1
    bot: "@acme_bot"
    domain: acme
)";
  c.connector = "acme-bot";
  c.path = "/hooks/telegram/acme-bot";
  c.sign = [](const std::string&) {
    return http::header_map{{"X-Telegram-Bot-Api-Secret-Token", "s3cret-Token_1"}};
  };
  c.one_contact = fixture("message_cyrillic.json");
  c.nothing_to_route = fixture("my_chat_member.json");
  c.malformed = "{\"update_id\": 5, \"message\": {";
  c.malformed_reason = "malformed JSON";
  c.refused = {
      {c.one_contact, {}, 401, "X-Telegram-Bot-Api-Secret-Token"},
      {c.one_contact, {{"X-Telegram-Bot-Api-Secret-Token", "nope"}}, 403, "wrong secret token"}};
  return c;
}
using testing::webhook_contract;
INSTANTIATE_TEST_SUITE_P(telegram, webhook_contract, ::testing::Values(telegram_case()));

// ---- through the listener: what only Telegram does --------------------------------------------

class telegram_webhook : public testing::webhook_fixture {
 protected:
  void SetUp() override { start(telegram_case().yaml); }
  http::header_map token() { return {{"X-Telegram-Bot-Api-Secret-Token", "s3cret-Token_1"}}; }
};

TEST_F(telegram_webhook, the_stored_contact_is_the_update_and_counted_by_channel) {
  auto r = post("/hooks/telegram/acme-bot", fixture("message_cyrillic.json"), token());
  EXPECT_EQ(r.status, 200) << r.body;
  auto cs = contacts();
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].text, "Здравствуйте! Мой заказ №1234 так и не пришёл 😞");
  EXPECT_GE(
      metric("omniroute_contacts_received_total{channel=\"messenger\",provider=\"telegram\"}"), 1);
  auto r2 = post("/hooks/telegram/acme-bot", "{\"update_id\":5,\"message\":{\"from\":{\"id\":1}}}",
                 token());
  EXPECT_EQ(r2.status, 400);
  EXPECT_NE(r2.body.find("message.chat.id"), std::string::npos) << r2.body;
}

// ---- configuration ----------------------------------------------------------------------------

using test_support::config_errors;

TEST(telegram_config, errors_point_at_the_key) {
  auto e = config_errors("  - type: telegram\n    name: t\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].message.find("secret_token"), std::string::npos) << e[0].message;

  e = config_errors(
      "  - type: telegram\n    name: t\n    secret_token: \"has space\"\n    bto: x\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].line, 4);  // line 1 is "connectors:"
  EXPECT_NE(e[0].message.find("A-Z"), std::string::npos);
  EXPECT_EQ(e[1].line, 5);
  EXPECT_NE(e[1].message.find("did you mean"), std::string::npos) << e[1].message;

  e = config_errors("  - type: telegarm\n    name: t\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].line, 2);
  EXPECT_NE(e[0].message.find("did you mean 'telegram'"), std::string::npos) << e[0].message;
}

}  // namespace
}  // namespace omni::connectors
