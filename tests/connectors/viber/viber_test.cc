#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "connectors/viber/viber_connector.h"
#include "core/identity/phone.h"
#include "tests/connectors/support.h"
#include "tests/connectors/webhook_contract.h"

namespace omni::connectors {
namespace {

namespace http = core::http;

constexpr const char* token = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f";

std::string fixture(const std::string& name) { return test_support::fixture("viber", name); }

// Signed over exactly these bytes, as Viber signs the body it sends.
http::header_map signed_headers(const std::string& body, const std::string& key = token) {
  return {{"X-Viber-Content-Signature", hmac_sha256_hex(key, body)}};
}

http::request request_with(const std::string& body) {
  http::request r;
  r.verb = http::method::post;
  r.body = body;
  for (const auto& f : signed_headers(body)) r.headers.add(f.name, f.value);
  return r;
}

// ---- mapping, without sockets ----------------------------------------------------------------

class viber_mapping : public ::testing::Test {
 protected:
  viber::provider p{{"acme-viber", token, "AcmeSupport"}};

  core::contact one(const std::string& fixture_name) {
    auto m = p.map(request_with(fixture(fixture_name)), 1795405068123);
    EXPECT_TRUE(m) << m.err().to_string();
    EXPECT_EQ(m->contacts.size(), 1u);
    return m->contacts.at(0);
  }
};

TEST_F(viber_mapping, text_message_in_russian) {
  core::contact c = one("message_text_cyrillic.json");
  EXPECT_EQ(c.provider, "viber");
  EXPECT_EQ(c.source_id, "5741311803571721087");
  EXPECT_EQ(c.id, core::contact_id("viber", "5741311803571721087"));
  EXPECT_EQ(c.chan, core::channel::messenger);
  EXPECT_EQ(c.conversation, "viber:acme-viber:01234567890A=");
  EXPECT_EQ(c.text, "Здравствуйте! Мой заказ №1234 так и не пришёл 😞");
  EXPECT_EQ(c.customer.display_name, "Иван Петров");
  ASSERT_EQ(c.customer.identities.size(), 1u);
  EXPECT_EQ(c.customer.identities[0], (core::identity{"viber", "01234567890A="}));
  EXPECT_EQ(c.to, "AcmeSupport");
  EXPECT_EQ(c.language, "ru");
  EXPECT_EQ(c.received_at, 1795405068123);
  EXPECT_EQ(c.attributes.at("viber_country"), "RU");
  EXPECT_EQ(c.attributes.at("viber_tracking_data"), "order-flow");
  EXPECT_EQ(c.attributes.at("viber_message_type"), "text");
}

TEST_F(viber_mapping, escaped_unicode_decodes_to_the_same_text) {
  core::contact c = one("message_escaped_unicode.json");
  EXPECT_EQ(c.text, "Привет, помогите 🙏");
  EXPECT_EQ(c.customer.display_name, "Иван");
}

TEST_F(viber_mapping, media_messages_are_attachment_descriptors) {
  core::contact pic = one("message_picture.json");
  EXPECT_EQ(pic.text, "The box arrived broken");
  EXPECT_EQ(pic.language, "en-GB");
  ASSERT_EQ(pic.attachments.size(), 1u);
  EXPECT_EQ(
      pic.attachments[0],
      (core::attachment{"box.jpg", "image/jpeg", 45000,
                        "https://dl-media.viber.com/5/media/2/short/any/sig/image/0x0/box.jpg"}));
  core::contact file = one("message_file.json");
  ASSERT_EQ(file.attachments.size(), 1u);
  EXPECT_EQ(file.attachments[0].name, "invoice.pdf");
  EXPECT_EQ(file.attachments[0].content_type, "application/pdf");
  EXPECT_EQ(file.attachments[0].size, 20480);
}

TEST_F(viber_mapping, shared_contact_becomes_a_phone_identity_and_location_a_text) {
  core::contact c = one("message_contact.json");
  ASSERT_EQ(c.customer.identities.size(), 2u);
  EXPECT_EQ(c.customer.identities[1], (core::identity{"phone", "+79123456789"}));
  EXPECT_EQ(c.text, "Shared contact: Иван Петров +7 912 345-67-89");
  core::contact loc = one("message_location.json");
  EXPECT_EQ(loc.text, "Location: 55.7558, 37.6173");
}

TEST(viber_phone, only_numbers_with_a_known_country_are_e164) {
  EXPECT_EQ(core::international_e164("+7 912 345-67-89"), "+79123456789");
  EXPECT_EQ(core::international_e164("0079123456789"), "+79123456789");
  EXPECT_EQ(core::international_e164("972511123123"), "+972511123123");
  EXPECT_FALSE(core::international_e164("0501234567"));  // national: which country?
  EXPECT_FALSE(core::international_e164("call me"));
  EXPECT_FALSE(core::international_e164("+12"));
  EXPECT_FALSE(core::international_e164("1+2345678901"));
}

TEST_F(viber_mapping, other_events_are_ignored_with_a_reason) {
  for (const char* f :
       {"delivered.json", "subscribed.json", "webhook.json", "conversation_started.json"}) {
    auto m = p.map(request_with(fixture(f)), 0);
    ASSERT_TRUE(m) << f;
    EXPECT_TRUE(m->contacts.empty()) << f;
    EXPECT_FALSE(m->ignored.empty()) << f;
  }
}

TEST_F(viber_mapping, malformed_input_names_the_field) {
  auto bad = p.map(request_with("{\"event\":\"message\","), 0);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.err().message.find("malformed JSON"), std::string::npos);
  auto no_event = p.map(request_with(R"({"message_token":1})"), 0);
  ASSERT_FALSE(no_event);
  EXPECT_EQ(no_event.err().field, "event");
  auto no_sender = p.map(
      request_with(
          R"({"event":"message","message_token":1,"sender":{"name":"x"},"message":{"type":"text"}})"),
      0);
  ASSERT_FALSE(no_sender);
  EXPECT_EQ(no_sender.err().field, "sender.id");
  auto no_token = p.map(
      request_with(R"({"event":"message","sender":{"id":"a"},"message":{"type":"text"}})"), 0);
  ASSERT_FALSE(no_token);
  EXPECT_EQ(no_token.err().field, "message_token");
  auto no_type = p.map(
      request_with(
          R"({"event":"message","message_token":1,"sender":{"id":"a"},"message":{"text":"x"}})"),
      0);
  ASSERT_FALSE(no_type);
  EXPECT_EQ(no_type.err().field, "message.type");
  EXPECT_FALSE(p.map(request_with("[]"), 0));
}

TEST_F(viber_mapping, signature_check) {
  std::string body = fixture("message_text_cyrillic.json");
  EXPECT_FALSE(p.verify(request_with(body)).has_value());
  http::request missing;
  missing.body = body;
  auto m = p.verify(missing);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 401);
  http::request wrong;
  wrong.body = body;
  wrong.headers.add("X-Viber-Content-Signature", hmac_sha256_hex("other-token", body));
  auto w = p.verify(wrong);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->status, 403);
  http::request upper;  // hex case does not matter
  upper.body = body;
  std::string sig = hmac_sha256_hex(token, body);
  for (auto& ch : sig) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  upper.headers.add("X-Viber-Content-Signature", sig);
  EXPECT_FALSE(p.verify(upper).has_value());
  http::request tampered = request_with(body);
  tampered.body += " ";
  EXPECT_TRUE(p.verify(tampered).has_value());
}

// ---- the webhook contract (tests/connectors/webhook_contract.cc) -----------------------------

testing::webhook_contract_case viber_case() {
  testing::webhook_contract_case c;
  c.channel = "viber";
  c.yaml = R"(  - type: viber
    name: acme-viber
    auth_token: 4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f
    bot: AcmeSupport
    domain: acme
)";
  c.connector = "acme-viber";
  c.path = "/hooks/viber/acme-viber";
  c.sign = [](const std::string& body) { return signed_headers(body); };
  c.one_contact = fixture("message_text_cyrillic.json");
  c.nothing_to_route = fixture("delivered.json");
  c.malformed = "{\"event\":\"message\",";
  c.malformed_reason = "malformed JSON";
  c.refused = {{c.one_contact, {}, 401, "X-Viber-Content-Signature"},
               {c.one_contact, signed_headers(c.one_contact, "not-the-token"), 403,
                "X-Viber-Content-Signature"}};
  return c;
}
using testing::webhook_contract;
INSTANTIATE_TEST_SUITE_P(viber, webhook_contract, ::testing::Values(viber_case()));

// ---- through the listener: what only Viber does -----------------------------------------------

class viber_webhook : public testing::webhook_fixture {
 protected:
  void SetUp() override { start(viber_case().yaml); }
  http::testing::reply deliver(const std::string& body) {
    return post("/hooks/viber/acme-viber", body, signed_headers(body));
  }
  double outcome(const std::string& o) {
    return metric("omniroute_webhook_requests_total{connector=\"acme-viber\",outcome=\"" + o +
                  "\"}");
  }
};

TEST_F(viber_webhook, the_stored_contact_is_the_message) {
  EXPECT_EQ(deliver(fixture("message_text_cyrillic.json")).status, 200);
  auto cs = contacts();
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].provider, "viber");
  EXPECT_EQ(cs[0].text, "Здравствуйте! Мой заказ №1234 так и не пришёл 😞");
  EXPECT_EQ(cs[0].customer.identities[0], (core::identity{"viber", "01234567890A="}));
}

TEST_F(viber_webhook, a_message_without_sender_is_400_naming_it) {
  auto r =
      deliver(R"({"event":"message","message_token":9,"message":{"type":"text","text":"hi"}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("sender"), std::string::npos) << r.body;
  EXPECT_EQ(stored(), 0);
}

TEST_F(viber_webhook, receipts_subscriptions_and_the_webhook_check_are_ignored) {
  double before = outcome("ignored");
  for (const char* f : {"delivered.json", "subscribed.json", "webhook.json"})
    EXPECT_EQ(deliver(fixture(f)).status, 200) << f;
  EXPECT_EQ(outcome("ignored"), before + 3);
  EXPECT_EQ(stored(), 0);
}

// ---- configuration ----------------------------------------------------------------------------

using test_support::config_errors;

TEST(viber_config, errors_point_at_the_key) {
  auto e = config_errors("  - type: viber\n    name: v\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].message.find("auth_token"), std::string::npos) << e[0].message;

  e = config_errors("  - type: viber\n    name: v\n    auth_token: t\n    bto: x\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].line, 5);  // line 1 is "connectors:"
  EXPECT_NE(e[0].message.find("did you mean 'bot'"), std::string::npos) << e[0].message;

  e = config_errors("  - type: vibre\n    name: v\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].message.find("did you mean 'viber'"), std::string::npos) << e[0].message;
}

}  // namespace
}  // namespace omni::connectors
