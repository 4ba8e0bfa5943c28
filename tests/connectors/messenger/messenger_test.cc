#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "connectors/messenger/messenger_connector.h"
#include "tests/connectors/meta_signature.h"
#include "tests/connectors/support.h"
#include "tests/connectors/webhook_contract.h"

namespace omni::connectors {
namespace {

using namespace std::chrono_literals;
namespace http = core::http;

using namespace test_support::meta;  // old_secret, new_secret, signature(), request_with()

std::string fixture(const std::string& name) { return test_support::fixture("messenger", name); }

// ---- mapping, without sockets ----------------------------------------------------------------

class messenger_mapping : public ::testing::Test {
 protected:
  messenger::provider p{
      {"acme-page", messenger::platform::messenger, {old_secret, new_secret}, "verify-me"}};

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

TEST_F(messenger_mapping, message_in_russian) {
  core::contact c = one("message_cyrillic.json");
  const std::string mid =
      "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P";
  EXPECT_EQ(c.provider, "messenger");
  EXPECT_EQ(c.source_id, mid);
  EXPECT_EQ(c.id, core::contact_id("messenger", mid));
  EXPECT_EQ(c.chan, core::channel::messenger);
  EXPECT_EQ(c.conversation, "messenger:104505972488839:6543210987654321");
  EXPECT_EQ(c.to, "104505972488839");
  EXPECT_EQ(c.text, "Здравствуйте! Мой заказ №1234 так и не пришёл 😞");
  ASSERT_EQ(c.customer.identities.size(), 1u);
  EXPECT_EQ(c.customer.identities[0], (core::identity{"messenger", "6543210987654321"}));
  EXPECT_EQ(c.received_at, 1795405068123);
  EXPECT_EQ(c.attributes.at("messenger_event"), "message");
  EXPECT_EQ(c.attributes.at("messenger_timestamp"), "1795405067950");
}

TEST_F(messenger_mapping, escaped_unicode_and_quick_reply) {
  core::contact c = one("message_escaped_unicode.json");
  EXPECT_EQ(c.text, "Привет, помогите 🙏");
  EXPECT_EQ(c.attributes.at("messenger_quick_reply"), "HELP_ЗАКАЗ");
}

TEST_F(messenger_mapping, attachments_are_descriptors_with_the_url) {
  core::contact c = one("attachments.json");
  EXPECT_EQ(c.text, "Вот фото и чек");
  ASSERT_EQ(c.attachments.size(), 4u);
  EXPECT_EQ(c.attachments[0], (core::attachment{"123456_789_n.jpg", "image/jpeg", -1,
                                                "https://scontent.xx.fbcdn.net/v/t1.15752-9/"
                                                "123456_789_n.jpg?_nc_cat=1&oh=abc&oe=5F"}));
  EXPECT_EQ(c.attachments[1].name, "receipt-2026.pdf");
  EXPECT_EQ(c.attachments[1].content_type, "application/pdf");
  EXPECT_EQ(c.attachments[2].name, "audioclip-1795405069.mp4");
  EXPECT_EQ(c.attachments[3].content_type, "video/mp4");
}

TEST_F(messenger_mapping, postback_title_is_the_text_and_payload_an_attribute) {
  core::contact c = one("postback.json");
  EXPECT_EQ(c.text, "Связаться с оператором");
  EXPECT_EQ(c.source_id, "m_postback_0001");
  EXPECT_EQ(c.attributes.at("messenger_postback_payload"), "TALK_TO_AGENT");
  EXPECT_EQ(c.attributes.at("messenger_event"), "postback");
  EXPECT_EQ(c.conversation, "messenger:104505972488839:6543210987654321");
}

TEST_F(messenger_mapping, postback_without_mid_gets_a_stable_source_id) {
  core::contact a = one("postback_without_mid.json");
  core::contact b = one("postback_without_mid.json");
  EXPECT_EQ(a.text, "Get Started");
  EXPECT_EQ(a.source_id.rfind("postback:", 0), 0u) << a.source_id;
  EXPECT_EQ(a.source_id, b.source_id);
  EXPECT_EQ(a.id, b.id);
  // Another sender pressing the same button at the same time is another contact.
  std::string other = fixture("postback_without_mid.json");
  other.replace(other.find("6543210987654321"), 16, "6543210987654322");
  auto m = p.map(request_with(other), 0);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->contacts.size(), 1u);
  EXPECT_NE(m->contacts[0].source_id, a.source_id);
}

TEST_F(messenger_mapping, echoes_deliveries_and_reads_are_skipped_in_a_batch) {
  auto m = p.map(request_with(fixture("batch_with_echo_delivery_read.json")), 0);
  ASSERT_TRUE(m) << m.err().to_string();
  ASSERT_EQ(m->contacts.size(), 1u);
  EXPECT_EQ(m->contacts[0].text, "Is the store open on Sunday?");
  EXPECT_EQ(m->contacts[0].customer.identities[0].value, "7777000011112222");
}

TEST_F(messenger_mapping, only_receipts_or_another_object_are_ignored_with_a_reason) {
  auto receipts = p.map(request_with(fixture("delivery_read.json")), 0);
  ASSERT_TRUE(receipts);
  EXPECT_TRUE(receipts->contacts.empty());
  EXPECT_EQ(receipts->ignored, "not routed: 1 delivery, 1 read");
  auto other = p.map(request_with(fixture("unknown_object.json")), 0);
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->contacts.empty());
  EXPECT_EQ(other->ignored, "not routed: 1 object:permissions");
  // An Instagram notification sent to a Messenger endpoint is not this connector's.
  auto ig = p.map(request_with(fixture("instagram_message.json")), 0);
  ASSERT_TRUE(ig);
  EXPECT_TRUE(ig->contacts.empty());
}

TEST_F(messenger_mapping, malformed_input_names_the_field) {
  auto bad = p.map(request_with("{\"object\":\"page\",\"entry\":[{"), 0);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.err().message.find("malformed JSON"), std::string::npos);

  auto no_entry = p.map(request_with("{\"object\":\"page\"}"), 0);
  ASSERT_FALSE(no_entry);
  EXPECT_EQ(no_entry.err().field, "entry");

  auto no_sender =
      p.map(request_with(
                R"({"object":"page","entry":[{"id":"1","messaging":[{"message":{"mid":"m1"}}]}]})"),
            0);
  ASSERT_FALSE(no_sender);
  EXPECT_EQ(no_sender.err().field, "entry[0].messaging[0].sender.id");

  auto no_mid = p.map(
      request_with(
          R"({"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"message":{"text":"x"}}]}]})"),
      0);
  ASSERT_FALSE(no_mid);
  EXPECT_EQ(no_mid.err().field, "entry[0].messaging[0].message.mid");

  auto no_page = p.map(
      request_with(
          R"({"object":"page","entry":[{"messaging":[{"sender":{"id":"2"},"message":{"mid":"m"}}]}]})"),
      0);
  ASSERT_FALSE(no_page);
  EXPECT_EQ(no_page.err().field, "entry[0].id");

  auto not_array =
      p.map(request_with(R"({"object":"page","entry":[{"id":"1","messaging":{}}]})"), 0);
  ASSERT_FALSE(not_array);
  EXPECT_EQ(not_array.err().field, "entry[0].messaging");

  EXPECT_FALSE(p.map(request_with("[]"), 0));
  EXPECT_FALSE(p.map(request_with(""), 0));
}

TEST_F(messenger_mapping, signature_and_handshake) {
  std::string body = fixture("message_cyrillic.json");
  EXPECT_FALSE(p.verify(request_with(body, signature(body, old_secret))).has_value());
  EXPECT_FALSE(p.verify(request_with(body, signature(body, new_secret))).has_value());
  http::request missing;
  missing.verb = http::method::post;
  missing.body = body;
  EXPECT_EQ(p.verify(missing)->status, 401);
  EXPECT_EQ(p.verify(request_with(body, signature(body, "other")))->status, 403);
  EXPECT_EQ(p.verify(request_with(body, "sha256="))->status, 403);

  http::request get;
  get.verb = http::method::get;
  get.set_target(
      "/hooks/messenger/"
      "acme-page?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=CHALLENGE_ACCEPTED");
  auto ok = p.handshake(get);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "CHALLENGE_ACCEPTED");
  get.set_target(
      "/hooks/messenger/acme-page?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1");
  EXPECT_EQ(p.handshake(get)->status, 403);
}

class instagram_mapping : public ::testing::Test {
 protected:
  messenger::provider p{{"acme-ig", messenger::platform::instagram, {new_secret}, "verify-me"}};
};

TEST_F(instagram_mapping, story_reply_and_shared_reel) {
  auto m = p.map(request_with(fixture("instagram_message.json")), 7);
  ASSERT_TRUE(m) << m.err().to_string();
  ASSERT_EQ(m->contacts.size(), 2u);
  const core::contact& c = m->contacts[0];
  EXPECT_EQ(c.provider, "instagram");
  EXPECT_EQ(c.id, core::contact_id("instagram",
                                   "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1ODIyMzA0OTE0"));
  EXPECT_EQ(c.conversation, "instagram:17841405822304914:1103987654321098");
  EXPECT_EQ(c.customer.identities[0], (core::identity{"instagram", "1103987654321098"}));
  EXPECT_EQ(c.text, "Привет! Есть ли эта сумка в чёрном цвете?");
  EXPECT_EQ(c.attributes.at("instagram_story_url"),
            "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17955555555555555");
  const core::contact& reel = m->contacts[1];
  EXPECT_EQ(reel.text, "Новая коллекция");
  ASSERT_EQ(reel.attachments.size(), 1u);
  EXPECT_EQ(reel.attachments[0].name, "ig_reel");
  EXPECT_EQ(reel.attachments[0].ref,
            "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17999999999999999");
}

TEST_F(instagram_mapping, echo_and_page_objects_are_ignored) {
  auto echo = p.map(request_with(fixture("instagram_echo.json")), 0);
  ASSERT_TRUE(echo);
  EXPECT_TRUE(echo->contacts.empty());
  EXPECT_EQ(echo->ignored, "not routed: 1 echo");
  auto page = p.map(request_with(fixture("message_cyrillic.json")), 0);
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->contacts.empty());
}

// ---- the webhook contract (tests/connectors/webhook_contract.cc) -----------------------------

testing::webhook_contract_case meta_case(std::string channel, std::string name, std::string yaml,
                                         std::string one_contact, std::string nothing_to_route) {
  testing::webhook_contract_case c;
  c.channel = channel;
  c.yaml = std::move(yaml);
  c.connector = name;
  c.path = "/hooks/" + channel + "/" + name;
  c.sign = [](const std::string& body) {
    return http::header_map{{"X-Hub-Signature-256", signature(body)}};
  };
  c.one_contact = std::move(one_contact);
  c.nothing_to_route = std::move(nothing_to_route);
  c.malformed = "{\"object\":\"page\",\"entry\":[{";
  c.malformed_reason = "malformed JSON";
  c.refused = {{c.one_contact, {}, 401, "X-Hub-Signature-256"},
               {c.one_contact,
                {{"X-Hub-Signature-256", signature(c.one_contact, "not-our-secret")}},
                403,
                "wrong signature"}};
  c.get_is_handshake = true;
  return c;
}

constexpr const char* yaml = R"(  - type: messenger
    name: acme-page
    app_secrets:
      - 0ld-app-secret
      - n3w-app-secret
    verify_token: verify-me
    domain: acme
)";
constexpr const char* instagram_yaml = R"(  - type: instagram
    name: acme-ig
    app_secret: n3w-app-secret
    verify_token: verify-ig
    domain: acme
)";

// The first of instagram_message.json's two messages.
constexpr const char* instagram_one_message =
    R"({"object":"instagram","entry":[{"id":"17841405822304914","time":1795405076000,"messaging":[{"sender":{"id":"1103987654321098"},"recipient":{"id":"17841405822304914"},"timestamp":1795405075950,"message":{"mid":"aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1ODIyMzA0OTE0","text":"Привет! Есть ли эта сумка в чёрном цвете?"}}]}]})";

using testing::webhook_contract;
INSTANTIATE_TEST_SUITE_P(
    meta, webhook_contract,
    ::testing::Values(meta_case("messenger", "acme-page", yaml, fixture("message_cyrillic.json"),
                                fixture("delivery_read.json")),
                      meta_case("instagram", "acme-ig", instagram_yaml, instagram_one_message,
                                fixture("instagram_echo.json"))));

// ---- through the listener: what only Messenger and Instagram do --------------------------------

class messenger_webhook : public testing::webhook_fixture {
 protected:
  void SetUp() override { start(std::string(yaml) + instagram_yaml); }
  http::testing::reply post_signed(const std::string& body, const std::string& secret = new_secret,
                                   const std::string& to = path) {
    return post(to, body, {{"X-Hub-Signature-256", signature(body, secret)}});
  }
  double requests(const std::string& outcome, const std::string& connector = "acme-page") {
    return metric("omniroute_webhook_requests_total{connector=\"" + connector + "\",outcome=\"" +
                  outcome + "\"}");
  }
  static constexpr const char* path = "/hooks/messenger/acme-page";
};

TEST_F(messenger_webhook, the_stored_contact_is_the_message) {
  EXPECT_EQ(post_signed(fixture("message_cyrillic.json")).status, 200);
  auto cs = contacts();
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].provider, "messenger");
  EXPECT_EQ(cs[0].text, "Здравствуйте! Мой заказ №1234 так и не пришёл 😞");
  EXPECT_EQ(cs[0].conversation, "messenger:104505972488839:6543210987654321");
}

TEST_F(messenger_webhook, instagram_endpoint_and_rotated_secret) {
  auto ig = post_signed(fixture("instagram_message.json"), new_secret, "/hooks/instagram/acme-ig");
  EXPECT_EQ(ig.status, 200) << ig.body;
  auto rotated = post_signed(fixture("postback.json"), old_secret);
  EXPECT_EQ(rotated.status, 200) << rotated.body;
  // The Instagram connector has only the new secret.
  auto refused =
      post_signed(fixture("instagram_echo.json"), old_secret, "/hooks/instagram/acme-ig");
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(stored(), 3);
}

TEST_F(messenger_webhook, hub_challenge_good_and_bad_token) {
  auto ok = get(std::string(path) +
                "?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "1158201444");
  EXPECT_EQ(
      get(std::string(path) + "?hub.mode=subscribe&hub.verify_token=verify-ig&hub.challenge=1")
          .status,
      403);
  EXPECT_EQ(
      get("/hooks/instagram/acme-ig?hub.mode=subscribe&hub.verify_token=verify-ig&hub.challenge=7")
          .body,
      "7");
}

TEST_F(messenger_webhook, a_message_without_sender_is_400_naming_it) {
  auto r = post_signed(
      R"({"object":"page","entry":[{"id":"1","messaging":[{"message":{"mid":"m"}}]}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("entry[0].messaging[0].sender.id"), std::string::npos) << r.body;
  EXPECT_EQ(stored(), 0);
}

TEST_F(messenger_webhook, receipts_echoes_and_unknown_objects_are_200_ignored_and_counted) {
  double before = requests("ignored");
  auto event = [this](const std::string& e) {
    return metric("omniroute_webhook_events_ignored_total{connector=\"acme-page\",event=\"" + e +
                  "\"}");
  };
  double echo_before = event("echo"), delivery_before = event("delivery");
  EXPECT_EQ(post_signed(fixture("delivery_read.json")).status, 200);
  EXPECT_EQ(post_signed(fixture("unknown_object.json")).status, 200);
  EXPECT_EQ(requests("ignored"), before + 2);
  // A batch with one message stores it; its echo and receipts are counted as ignored events.
  EXPECT_EQ(post_signed(fixture("batch_with_echo_delivery_read.json")).status, 200);
  EXPECT_EQ(event("echo"), echo_before + 1);
  EXPECT_EQ(event("delivery"), delivery_before + 2);
  EXPECT_EQ(stored(), 1);
}

// ---- configuration ----------------------------------------------------------------------------

using test_support::config_errors;

TEST(messenger_config, errors_point_at_the_key) {
  auto e = config_errors("  - type: messenger\n    name: m\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_NE(e[0].message.find("app_secret"), std::string::npos) << e[0].message;
  EXPECT_NE(e[1].message.find("verify_token"), std::string::npos) << e[1].message;

  e = config_errors(
      "  - type: instagram\n    name: i\n    app_secret: s\n    verify_token: v\n"
      "    app_secret2: x\n    pth: /ig\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].line, 6);  // line 1 is "connectors:"
  EXPECT_NE(e[0].message.find("did you mean"), std::string::npos) << e[0].message;
  EXPECT_EQ(e[1].line, 7);
  EXPECT_NE(e[1].message.find("did you mean 'path'"), std::string::npos) << e[1].message;

  e = config_errors("  - type: instagramm\n    name: i\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].message.find("did you mean 'instagram'"), std::string::npos) << e[0].message;
}

TEST(instagram_config, default_path_is_per_platform) {
  // Two connectors of the two types with the same name do not collide: /hooks/<type>/<name>.
  EXPECT_TRUE(config_errors("  - type: messenger\n    name: acme\n    app_secret: s\n"
                            "    verify_token: v\n  - type: instagram\n    name: acme2\n"
                            "    app_secrets: [s]\n    verify_token: v\n")
                  .empty());
}

}  // namespace
}  // namespace omni::connectors
