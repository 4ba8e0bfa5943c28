#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "connectors/whatsapp/whatsapp_connector.h"
#include "tests/connectors/meta_signature.h"
#include "tests/connectors/support.h"
#include "tests/connectors/webhook_contract.h"

namespace omni::connectors {
namespace {

using namespace std::chrono_literals;
namespace http = core::http;

using namespace test_support::meta;  // old_secret, new_secret, signature(), request_with()

std::string fixture(const std::string& name) { return test_support::fixture("whatsapp", name); }

// ---- mapping, without sockets ----------------------------------------------------------------

class whatsapp_mapping : public ::testing::Test {
 protected:
  whatsapp::provider p{{"acme-wa", {old_secret, new_secret}, "verify-me"}};

  std::vector<core::contact> all(const std::string& fixture_name) {
    auto m = p.map(request_with(fixture(fixture_name)), 1795405068123);
    EXPECT_TRUE(m) << m.err().to_string();
    return m ? m->contacts : std::vector<core::contact>{};
  }
  core::contact one(const std::string& fixture_name) {
    auto cs = all(fixture_name);
    EXPECT_EQ(cs.size(), 1u);
    return cs.empty() ? core::contact{} : cs[0];
  }
};

TEST_F(whatsapp_mapping, text_in_russian_with_wa_id_phone_and_bsuid) {
  core::contact c = one("text_cyrillic.json");
  const std::string wamid = "wamid.HBgLNzkxNjEyMzQ1NjcVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=";
  EXPECT_EQ(c.provider, "whatsapp");
  EXPECT_EQ(c.source_id, wamid);
  EXPECT_EQ(c.id, core::contact_id("whatsapp", wamid));
  EXPECT_EQ(c.chan, core::channel::messenger);
  EXPECT_EQ(c.conversation, "whatsapp:106540352242922:79161234567");
  EXPECT_EQ(c.to, "+15550783881");  // display_phone_number "15550783881", as E.164
  EXPECT_EQ(c.text, "Здравствуйте! Мой заказ №1234 так и не пришёл 😞");
  EXPECT_EQ(c.customer.display_name, "Иван Петров");
  ASSERT_EQ(c.customer.identities.size(), 3u);
  EXPECT_EQ(c.customer.identities[0], (core::identity{"whatsapp", "79161234567"}));
  EXPECT_EQ(c.customer.identities[1], (core::identity{"phone", "+79161234567"}));
  EXPECT_EQ(c.customer.identities[2],
            (core::identity{"whatsapp_bsuid", "RU.13491208655302741918"}));
  EXPECT_EQ(c.received_at, 1795405068123);
  EXPECT_EQ(c.attributes.at("whatsapp_type"), "text");
  EXPECT_EQ(c.attributes.at("whatsapp_phone_number_id"), "106540352242922");
  EXPECT_EQ(c.attributes.at("whatsapp_business_account"), "102290129340398");
  EXPECT_EQ(c.attributes.at("whatsapp_timestamp"), "1795405068");
}

TEST_F(whatsapp_mapping, escaped_unicode_decodes_to_the_same_text) {
  core::contact c = one("text_escaped_unicode.json");
  EXPECT_EQ(c.text, "Привет, помогите 🙏");
  EXPECT_EQ(c.customer.display_name, "Иван");
  ASSERT_EQ(c.customer.identities.size(), 2u);  // no BSUID in this payload
}

TEST_F(whatsapp_mapping, several_messages_in_one_post_are_several_contacts) {
  auto cs = all("multiple_messages.json");
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0].text, "Where is my parcel?");
  EXPECT_EQ(cs[0].customer.display_name, "Sheena Nelson");
  EXPECT_EQ(cs[0].customer.identities[1], (core::identity{"phone", "+16505551234"}));
  EXPECT_EQ(cs[0].conversation, "whatsapp:106540352242922:16505551234");
  EXPECT_EQ(cs[1].text, "Добрый день, хочу вернуть товар");
  EXPECT_EQ(cs[1].customer.display_name, "Ольга");  // matched by wa_id, not by position alone
  EXPECT_EQ(cs[1].customer.identities[0], (core::identity{"whatsapp", "491701234567"}));
  EXPECT_NE(cs[0].id, cs[1].id);
}

TEST_F(whatsapp_mapping, media_are_attachment_descriptors_with_the_media_id) {
  auto cs = all("media.json");
  ASSERT_EQ(cs.size(), 5u);
  EXPECT_EQ(cs[0].text, "The box arrived broken");
  EXPECT_EQ(cs[0].attachments,
            (std::vector<core::attachment>{{"image.jpg", "image/jpeg", -1, "2754859441498128"}}));
  EXPECT_EQ(cs[1].text, "Invoice");
  EXPECT_EQ(cs[1].attachments,
            (std::vector<core::attachment>{
                {"invoice-1234.pdf", "application/pdf", -1, "1003383421387256"}}));
  EXPECT_EQ(cs[2].text, "");
  EXPECT_EQ(cs[2].attachments,
            (std::vector<core::attachment>{
                {"voice.ogg", "audio/ogg; codecs=opus", -1, "1233016921476557"}}));
  EXPECT_EQ(cs[3].text, "Unboxing");
  EXPECT_EQ(cs[3].attachments[0],
            (core::attachment{"video.mp4", "video/mp4", -1, "1200531544393385"}));
  EXPECT_EQ(cs[4].attachments[0],
            (core::attachment{"sticker.webp", "image/webp", -1, "2339472309755467"}));
  EXPECT_EQ(cs[4].attributes.at("whatsapp_type"), "sticker");
  for (const auto& c : cs) EXPECT_EQ(c.customer.display_name, "Anna Smith");
}

TEST_F(whatsapp_mapping, location_and_shared_contacts_become_text) {
  auto cs = all("location_contacts.json");
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0].text, "Location: Пункт выдачи, Тверская ул., 1, Москва (55.757, 37.6155)");
  EXPECT_EQ(cs[0].attributes.at("whatsapp_location_url"), "https://example.com/pickup");
  EXPECT_EQ(cs[1].text, "Shared contact: Мария Петрова, +7 916 765-43-21, maria@example.ru");
  // A shared card is usually someone else: it does not become the customer's identity.
  EXPECT_EQ(cs[1].customer.identities.size(), 2u);
}

TEST_F(whatsapp_mapping, interactive_button_and_reaction_replies) {
  auto cs = all("interactive.json");
  ASSERT_EQ(cs.size(), 4u);
  EXPECT_EQ(cs[0].text, "Cancel");
  EXPECT_EQ(cs[0].attributes.at("whatsapp_interactive"), "button_reply");
  EXPECT_EQ(cs[0].attributes.at("whatsapp_reply_id"), "cancel-button");
  EXPECT_EQ(cs[0].attributes.at("whatsapp_reply_to"),
            "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=");
  EXPECT_EQ(cs[1].text, "Express shipping");
  EXPECT_EQ(cs[1].attributes.at("whatsapp_interactive"), "list_reply");
  EXPECT_EQ(cs[1].attributes.at("whatsapp_reply_id"), "priority-express");
  EXPECT_EQ(cs[2].text, "Stop promotions");
  EXPECT_EQ(cs[2].attributes.at("whatsapp_button_payload"), "STOP_PROMOTIONS");
  EXPECT_EQ(cs[3].text, "👍");
  EXPECT_EQ(cs[3].attributes.at("whatsapp_reaction_to"),
            "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRgA=");
}

TEST_F(whatsapp_mapping, order_and_unsupported_messages_still_reach_an_agent) {
  auto cs = all("order_unsupported.json");
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0].text,
            "Please gift-wrap\nOrder from catalog 194836987003835: 2 x di9ozbzfi4 @ 30.5 USD; "
            "1 x nqryix03ez @ 25 USD");
  EXPECT_EQ(cs[0].attributes.at("whatsapp_catalog_id"), "194836987003835");
  EXPECT_EQ(cs[1].text, "(message type not supported by WhatsApp: poll)");
  EXPECT_EQ(cs[1].attributes.at("whatsapp_error"), "Message type is currently not supported.");
  EXPECT_EQ(cs[1].attributes.at("whatsapp_error_code"), "131051");
}

TEST_F(whatsapp_mapping, username_user_without_phone_is_identified_by_bsuid) {
  core::contact c = one("bsuid_only.json");
  EXPECT_EQ(c.text, "Bonjour, où est ma commande ?");
  ASSERT_EQ(c.customer.identities.size(), 1u);
  EXPECT_EQ(c.customer.identities[0],
            (core::identity{"whatsapp_bsuid", "FR.11815799212886844830"}));
  EXPECT_EQ(c.conversation, "whatsapp:106540352242922:FR.11815799212886844830");
  EXPECT_EQ(c.customer.display_name, "Léa");
  EXPECT_EQ(c.attributes.at("whatsapp_username"), "lea.dupont");
  EXPECT_EQ(c.attributes.at("whatsapp_parent_bsuid"), "FR.ENT.11815799212886844830");
}

TEST_F(whatsapp_mapping, statuses_other_fields_and_system_messages_are_ignored_with_a_reason) {
  for (const char* name : {"statuses.json", "other_field.json", "system.json"}) {
    auto m = p.map(request_with(fixture(name)), 0);
    ASSERT_TRUE(m) << name << ": " << m.err().to_string();
    EXPECT_TRUE(m->contacts.empty()) << name;
    EXPECT_FALSE(m->ignored.empty()) << name;
  }
  auto st = p.map(request_with(fixture("statuses.json")), 0);
  EXPECT_EQ(st->ignored, "not routed: 2 status");
  auto other = p.map(request_with("{\"object\":\"page\",\"entry\":[]}"), 0);
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->contacts.empty());
  EXPECT_EQ(other->ignored, "not routed: 1 object:page");
}

TEST_F(whatsapp_mapping, malformed_input_names_the_field) {
  auto bad = p.map(request_with("{\"object\":\"whatsapp_business_account\",\"entry\":["), 0);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.err().message.find("malformed JSON"), std::string::npos);

  auto no_object = p.map(request_with("{\"entry\":[]}"), 0);
  ASSERT_FALSE(no_object);
  EXPECT_EQ(no_object.err().field, "object");

  auto no_entry = p.map(request_with("{\"object\":\"whatsapp_business_account\"}"), 0);
  ASSERT_FALSE(no_entry);
  EXPECT_EQ(no_entry.err().field, "entry");

  std::string no_id =
      R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",
      "value":{"metadata":{"phone_number_id":"9"},"messages":[{"from":"1","type":"text"}]}}]}]})";
  auto e1 = p.map(request_with(no_id), 0);
  ASSERT_FALSE(e1);
  EXPECT_EQ(e1.err().field, "entry[0].changes[0].value.messages[0].id");

  std::string no_sender =
      R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",
      "value":{"metadata":{"phone_number_id":"9"},"messages":[{"id":"w1","type":"text"}]}}]}]})";
  auto e2 = p.map(request_with(no_sender), 0);
  ASSERT_FALSE(e2);
  EXPECT_EQ(e2.err().field, "entry[0].changes[0].value.messages[0].from");

  std::string no_metadata =
      R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",
      "value":{"messages":[{"id":"w1","from":"1","type":"text"}]}}]}]})";
  auto e3 = p.map(request_with(no_metadata), 0);
  ASSERT_FALSE(e3);
  EXPECT_EQ(e3.err().field, "entry[0].changes[0].value.metadata.phone_number_id");

  std::string wrong_type =
      R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",
      "value":{"metadata":{"phone_number_id":"9"},"messages":{"id":"w1"}}}]}]})";
  auto e4 = p.map(request_with(wrong_type), 0);
  ASSERT_FALSE(e4);
  EXPECT_EQ(e4.err().field, "entry[0].changes[0].value.messages");

  EXPECT_FALSE(p.map(request_with("[]"), 0));
  EXPECT_FALSE(p.map(request_with(""), 0));
}

TEST_F(whatsapp_mapping, signature_check) {
  std::string body = fixture("text_cyrillic.json");
  EXPECT_FALSE(p.verify(request_with(body, signature(body, new_secret))).has_value());
  EXPECT_FALSE(p.verify(request_with(body, signature(body, old_secret))).has_value());
  std::string upper = signature(body);
  std::transform(upper.begin() + 7, upper.end(), upper.begin() + 7, ::toupper);
  EXPECT_FALSE(p.verify(request_with(body, upper)).has_value());

  http::request missing;
  missing.verb = http::method::post;
  missing.body = body;
  auto m = p.verify(missing);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 401);

  auto wrong = p.verify(request_with(body, signature(body, "someone-else")));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 403);
  auto tampered = p.verify(request_with(body + " ", signature(body)));
  ASSERT_TRUE(tampered);
  EXPECT_EQ(tampered->status, 403);
  auto no_prefix = p.verify(request_with(body, hmac_sha256_hex(new_secret, body)));
  ASSERT_TRUE(no_prefix);
  EXPECT_EQ(no_prefix->status, 403);
  auto sha1 = p.verify(request_with(body, "sha1=" + hmac_sha256_hex(new_secret, body)));
  ASSERT_TRUE(sha1);
  EXPECT_EQ(sha1->status, 403);
}

TEST_F(whatsapp_mapping, hub_challenge_handshake) {
  http::request get;
  get.verb = http::method::get;
  get.set_target(
      "/hooks/whatsapp/"
      "acme-wa?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444");
  auto ok = p.handshake(get);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "1158201444");
  EXPECT_EQ(ok->content_type.rfind("text/plain", 0), 0u);

  get.set_target(
      "/hooks/whatsapp/acme-wa?hub.mode=subscribe&hub.verify_token=verify-m&hub.challenge=1");
  EXPECT_EQ(p.handshake(get)->status, 403);
  get.set_target(
      "/hooks/whatsapp/acme-wa?hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1");
  EXPECT_EQ(p.handshake(get)->status, 403);
  get.set_target("/hooks/whatsapp/acme-wa");
  EXPECT_EQ(p.handshake(get)->status, 403);

  EXPECT_FALSE(p.handshake(request_with("{}")).has_value());  // a POST is not a handshake
}

// ---- the webhook contract (tests/connectors/webhook_contract.cc) -----------------------------

constexpr const char* yaml = R"(  - type: whatsapp
    name: acme-wa
    app_secrets: [0ld-app-secret, n3w-app-secret]
    verify_token: verify-me
    domain: acme
)";

testing::webhook_contract_case whatsapp_case() {
  testing::webhook_contract_case c;
  c.channel = "whatsapp";
  c.yaml = yaml;
  c.connector = "acme-wa";
  c.path = "/hooks/whatsapp/acme-wa";
  c.sign = [](const std::string& body) {
    return http::header_map{{"X-Hub-Signature-256", signature(body)}};
  };
  c.one_contact = fixture("text_cyrillic.json");
  c.nothing_to_route = fixture("statuses.json");
  c.malformed = "{\"object\":\"whatsapp_business_account\",\"entry\":[{";
  c.malformed_reason = "malformed JSON";
  c.refused = {{c.one_contact, {}, 401, "X-Hub-Signature-256"},
               {c.one_contact,
                {{"X-Hub-Signature-256", signature(c.one_contact, "not-our-secret")}},
                403,
                "wrong signature"}};
  c.get_is_handshake = true;
  return c;
}
using testing::webhook_contract;
INSTANTIATE_TEST_SUITE_P(whatsapp, webhook_contract, ::testing::Values(whatsapp_case()));

// ---- through the listener: what only WhatsApp does ---------------------------------------------

class whatsapp_webhook : public testing::webhook_fixture {
 protected:
  void SetUp() override { start(yaml); }
  http::testing::reply post_signed(const std::string& body,
                                   const std::string& secret = new_secret) {
    return post(path, body, {{"X-Hub-Signature-256", signature(body, secret)}});
  }
  double requests(const std::string& outcome) {
    return metric("omniroute_webhook_requests_total{connector=\"acme-wa\",outcome=\"" + outcome +
                  "\"}");
  }
  static constexpr const char* path = "/hooks/whatsapp/acme-wa";
};

TEST_F(whatsapp_webhook, the_stored_contact_is_the_message_and_counted_by_channel) {
  EXPECT_EQ(post_signed(fixture("text_cyrillic.json")).status, 200);
  auto cs = contacts();
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].provider, "whatsapp");
  EXPECT_EQ(cs[0].text, "Здравствуйте! Мой заказ №1234 так и не пришёл 😞");
  EXPECT_EQ(cs[0].conversation, "whatsapp:106540352242922:79161234567");
  EXPECT_EQ(cs[0].customer.identities.size(), 3u);
  EXPECT_GE(
      metric("omniroute_contacts_received_total{channel=\"messenger\",provider=\"whatsapp\"}"), 1);
}

TEST_F(whatsapp_webhook, rotated_secret_and_several_messages_per_post) {
  auto r = post_signed(fixture("multiple_messages.json"), old_secret);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(stored(), 2);
}

TEST_F(whatsapp_webhook, hub_challenge_good_and_bad_token) {
  auto ok = get(std::string(path) +
                "?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "1158201444");
  auto bad = get(std::string(path) + "?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1");
  EXPECT_EQ(bad.status, 403);
  EXPECT_NE(bad.body, "1");
}

TEST_F(whatsapp_webhook, a_message_without_id_is_400_naming_it) {
  auto r = post_signed(
      R"({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"9"},"messages":[{"from":"1","type":"text"}]}}]}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("entry[0].changes[0].value.messages[0].id"), std::string::npos) << r.body;
  EXPECT_EQ(stored(), 0);
}

TEST_F(whatsapp_webhook, statuses_and_unknown_fields_are_200_ignored_and_counted) {
  double before = requests("ignored");
  double statuses_before =
      metric("omniroute_webhook_events_ignored_total{connector=\"acme-wa\",event=\"status\"}");
  EXPECT_EQ(post_signed(fixture("statuses.json")).status, 200);
  EXPECT_EQ(post_signed(fixture("other_field.json")).status, 200);
  EXPECT_EQ(requests("ignored"), before + 2);
  EXPECT_EQ(
      metric("omniroute_webhook_events_ignored_total{connector=\"acme-wa\",event=\"status\"}"),
      statuses_before + 2);
  EXPECT_GE(metric("omniroute_webhook_events_ignored_total{connector=\"acme-wa\",event=\"field:"
                   "message_template_status_update\"}"),
            1);
  EXPECT_EQ(stored(), 0);
}

// ---- configuration ----------------------------------------------------------------------------

using test_support::config_errors;

TEST(whatsapp_config, errors_point_at_the_key) {
  auto e = config_errors("  - type: whatsapp\n    name: w\n    verify_token: v\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].message.find("app_secret"), std::string::npos) << e[0].message;

  e = config_errors("  - type: whatsapp\n    name: w\n    app_secret: s\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].message.find("verify_token"), std::string::npos) << e[0].message;

  e = config_errors(
      "  - type: whatsapp\n    name: w\n    app_secrets: [a, \"\"]\n    verify_token: v\n"
      "    verify_tokn: x\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].line, 4);  // line 1 is "connectors:"
  EXPECT_NE(e[0].message.find("empty"), std::string::npos) << e[0].message;
  EXPECT_EQ(e[1].line, 6);
  EXPECT_NE(e[1].message.find("did you mean 'verify_token'"), std::string::npos) << e[1].message;

  e = config_errors("  - type: whatsap\n    name: w\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].line, 2);
  EXPECT_NE(e[0].message.find("did you mean 'whatsapp'"), std::string::npos) << e[0].message;
}

TEST(whatsapp_config, one_secret_or_a_list_and_an_optional_path) {
  EXPECT_TRUE(config_errors("  - type: whatsapp\n    name: w\n    app_secret: s\n"
                            "    verify_token: v\n    path: /wa\n    domain: d\n")
                  .empty());
  EXPECT_TRUE(config_errors("  - type: whatsapp\n    name: w\n    app_secrets: [s1, s2]\n"
                            "    verify_token: v\n")
                  .empty());
  auto e = config_errors(
      "  - type: whatsapp\n    name: w\n    app_secret: s\n"
      "    verify_token: v\n    path: wa\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].line, 6);
}

}  // namespace
}  // namespace omni::connectors
