#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "connectors/generic/generic_connector.h"
#include "tests/connectors/support.h"
#include "tests/connectors/webhook_contract.h"

namespace omni::connectors {
namespace {

namespace http = core::http;

constexpr const char* secret = "whsec-0123456789abcdef-new";
constexpr const char* old_secret = "whsec-0123456789abcdef-old";
constexpr const char* token = "tok-5f1e2d3c4b5a69788796a5b4";

std::string fixture(const std::string& name) { return test_support::fixture("generic", name); }

http::header_map signed_headers(const std::string& body, const std::string& key = secret) {
  return {{"X-Omni-Signature", "sha256=" + hmac_sha256_hex(key, body)}};
}

http::request request_with(const std::string& body, http::header_map headers = {}) {
  http::request r;
  r.verb = http::method::post;
  r.body = body;
  for (const auto& f : headers) r.headers.add(f.name, f.value);
  return r;
}

// ---- mapping, without sockets ----------------------------------------------------------------

class generic_mapping : public ::testing::Test {
 protected:
  generic::provider p{
      {"crm-hook", {secret, old_secret}, {token}, {"generic", "crm"}, {"acme", "acme-vip"}}};

  core::result<webhook_mapping> map(const std::string& body) {
    return p.map(request_with(body), 1795405068123);
  }
};

TEST_F(generic_mapping, minimal_contact_gets_defaults_and_a_computed_id) {
  auto m = map(fixture("contact_minimal.json"));
  ASSERT_TRUE(m) << m.err().to_string();
  ASSERT_EQ(m->contacts.size(), 1u);
  const core::contact& c = m->contacts[0];
  EXPECT_EQ(c.provider, "generic");
  EXPECT_EQ(c.source_id, "ticket-48213/msg-7");
  EXPECT_EQ(c.id, core::contact_id("generic", "ticket-48213/msg-7"));
  EXPECT_EQ(c.domain, "acme");
  EXPECT_EQ(c.received_at, 1795405068123);
  EXPECT_EQ(c.chan, core::channel::chat);
  EXPECT_EQ(c.text, "Здравствуйте! Мой заказ №1234 так и не пришёл 😞");
  EXPECT_EQ(c.subject, "Заказ №1234");
  EXPECT_EQ(c.customer.display_name, "Иван Петров");
  ASSERT_EQ(c.customer.identities.size(), 2u);
  EXPECT_EQ(c.customer.identities[1], (core::identity{"email", "ivan@example.ru"}));
  EXPECT_EQ(c.attributes.at("crm_priority"), "high");
}

TEST_F(generic_mapping, full_contact_with_its_own_provider_and_the_right_id) {
  auto m = map(fixture("contact_full.json"));
  ASSERT_TRUE(m) << m.err().to_string();
  const core::contact& c = m->contacts.at(0);
  EXPECT_EQ(c.provider, "crm");
  EXPECT_EQ(c.id, "e5c3c064c7a2ba1aa9263db713ad559e");
  EXPECT_EQ(c.id, core::contact_id("crm", "ticket-48213/msg-7"));
  EXPECT_EQ(c.chan, core::channel::email);
  EXPECT_EQ(c.text, "Привет, помогите 🙏");  // escaped unicode decodes
  EXPECT_EQ(c.customer.tier, "vip");
  EXPECT_EQ(c.received_at, core::parse_timestamp("2026-11-23T03:37:48.123Z").value());
  ASSERT_EQ(c.attachments.size(), 1u);
}

TEST_F(generic_mapping, a_batch_maps_every_contact) {
  auto m = map(fixture("batch_three.json"));
  ASSERT_TRUE(m) << m.err().to_string();
  ASSERT_EQ(m->contacts.size(), 3u);
  EXPECT_EQ(m->contacts[1].chan, core::channel::sms);
  EXPECT_EQ(m->contacts[2].provider, "crm");
  auto empty = map("[]");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->contacts.empty());
  EXPECT_FALSE(empty->ignored.empty());
}

TEST_F(generic_mapping, errors_name_the_field) {
  auto wrong_id = map(
      R"({"id":"00000000000000000000000000000000","channel":"chat","source_id":"s1","customer":{}})");
  ASSERT_FALSE(wrong_id);
  EXPECT_EQ(wrong_id.err().field, "id");
  EXPECT_NE(wrong_id.err().message.find(core::contact_id("generic", "s1")), std::string::npos);

  auto no_source = map(R"({"channel":"chat","customer":{}})");
  ASSERT_FALSE(no_source);
  EXPECT_EQ(no_source.err().field, "source_id");

  auto bad_channel = map(R"({"channel":"fax","source_id":"s1","customer":{}})");
  ASSERT_FALSE(bad_channel);
  EXPECT_EQ(bad_channel.err().field, "channel");

  auto no_customer = map(R"({"channel":"chat","source_id":"s1"})");
  ASSERT_FALSE(no_customer);
  EXPECT_EQ(no_customer.err().field, "customer");

  auto foreign_provider =
      map(R"({"provider":"telegram","channel":"chat","source_id":"s1","customer":{}})");
  ASSERT_FALSE(foreign_provider);
  EXPECT_EQ(foreign_provider.err().field, "provider");

  auto foreign_domain =
      map(R"({"domain":"other","channel":"chat","source_id":"s1","customer":{}})");
  ASSERT_FALSE(foreign_domain);
  EXPECT_EQ(foreign_domain.err().field, "domain");
  EXPECT_TRUE(map(R"({"domain":"acme-vip","channel":"chat","source_id":"s1","customer":{}})"));

  auto wrong_schema =
      map(R"({"schema":"omni.contact.v2","channel":"chat","source_id":"s1","customer":{}})");
  ASSERT_FALSE(wrong_schema);
  EXPECT_EQ(wrong_schema.err().field, "schema");

  auto in_batch = map(R"([{"channel":"chat","source_id":"a","customer":{}},
                          {"channel":"chat","source_id":"b","customer":{"identities":[{"kind":"email"}]}}])");
  ASSERT_FALSE(in_batch);
  EXPECT_EQ(in_batch.err().field, "[1].customer.identities[0].value");

  std::string many = "[";
  for (int i = 0; i <= 100; ++i)
    many += std::string(i ? "," : "") + R"({"channel":"chat","source_id":"x","customer":{}})";
  auto too_many = map(many + "]");
  ASSERT_FALSE(too_many);
  EXPECT_NE(too_many.err().message.find("at most 100"), std::string::npos);

  EXPECT_FALSE(map("\"text\""));
  EXPECT_FALSE(map("{"));
  EXPECT_FALSE(map("[1]"));
}

TEST_F(generic_mapping, signature_or_token) {
  std::string body = fixture("contact_minimal.json");
  EXPECT_FALSE(p.verify(request_with(body, signed_headers(body))));
  EXPECT_FALSE(p.verify(request_with(body, signed_headers(body, old_secret))));  // rotation
  EXPECT_FALSE(p.verify(request_with(body, {{"Authorization", std::string("Bearer ") + token}})));
  auto missing = p.verify(request_with(body));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  auto wrong_sig = p.verify(request_with(body, signed_headers(body, "whsec-0123456789abcdef-bad")));
  ASSERT_TRUE(wrong_sig);
  EXPECT_EQ(wrong_sig->status, 403);
  auto no_prefix =
      p.verify(request_with(body, {{"X-Omni-Signature", hmac_sha256_hex(secret, body)}}));
  ASSERT_TRUE(no_prefix);
  EXPECT_EQ(no_prefix->status, 403);
  auto wrong_token = p.verify(request_with(body, {{"Authorization", "Bearer tok-nope"}}));
  ASSERT_TRUE(wrong_token);
  EXPECT_EQ(wrong_token->status, 403);
  auto basic = p.verify(request_with(body, {{"Authorization", "Basic dXNlcjpwYXNz"}}));
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->status, 401);
}

// ---- the webhook contract (tests/connectors/webhook_contract.cc) -----------------------------

constexpr const char* yaml = R"(  - type: generic
    name: crm-hook
    secrets: [whsec-0123456789abcdef-new, whsec-0123456789abcdef-old]
    tokens: [tok-5f1e2d3c4b5a69788796a5b4]
    providers: [generic, crm]
    domain: acme
)";

testing::webhook_contract_case generic_case() {
  testing::webhook_contract_case c;
  c.channel = "generic";
  c.yaml = yaml;
  c.connector = "crm-hook";
  c.path = "/hooks/generic/crm-hook";
  c.sign = [](const std::string& body) { return signed_headers(body); };
  c.one_contact = fixture("contact_minimal.json");
  c.accepted_body = R"({"ok":true})";
  c.nothing_to_route = "[]";
  c.malformed = R"({"channel":"chat","source_id":"s1"})";
  c.malformed_reason = "customer";
  c.refused = {{c.one_contact, {}, 401, "missing"},
               {c.one_contact, signed_headers(c.one_contact, "whsec-0123456789abcdef-bad"), 403,
                "wrong X-Omni-Signature"},
               {c.one_contact, {{"Authorization", "Bearer nope"}}, 403, "wrong bearer token"}};
  return c;
}
using testing::webhook_contract;
INSTANTIATE_TEST_SUITE_P(generic, webhook_contract, ::testing::Values(generic_case()));

// ---- through the listener: what only the generic hook does -------------------------------------

class generic_webhook : public testing::webhook_fixture {
 protected:
  void SetUp() override { start(yaml); }
  double outcome(const std::string& o) {
    return metric("omniroute_webhook_requests_total{connector=\"crm-hook\",outcome=\"" + o + "\"}");
  }
};

TEST_F(generic_webhook, the_stored_contact_is_the_posted_one) {
  std::string body = fixture("contact_minimal.json");
  EXPECT_EQ(post("/hooks/generic/crm-hook", body, signed_headers(body)).status, 200);
  auto cs = contacts();
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].id, core::contact_id("generic", "ticket-48213/msg-7"));
  EXPECT_EQ(cs[0].text, "Здравствуйте! Мой заказ №1234 так и не пришёл 😞");
}

TEST_F(generic_webhook, a_batch_with_a_bearer_token_and_replays_dedupe) {
  std::string body = fixture("batch_three.json");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(
        post("/hooks/generic/crm-hook", body, {{"Authorization", std::string("Bearer ") + token}})
            .status,
        200);
  EXPECT_EQ(stored(), 3);
  EXPECT_GE(outcome("duplicate"), 2);
}

// ---- configuration ----------------------------------------------------------------------------

using test_support::config_errors;

TEST(generic_config, errors_point_at_the_key) {
  auto e = config_errors("  - type: generic\n    name: g\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].message.find("secrets"), std::string::npos) << e[0].message;

  e = config_errors("  - type: generic\n    name: g\n    secrets: [short]\n    token: [x]\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].line, 4);  // line 1 is "connectors:"
  EXPECT_NE(e[0].message.find("at least 16"), std::string::npos) << e[0].message;
  EXPECT_EQ(e[1].line, 5);
  EXPECT_NE(e[1].message.find("did you mean 'tokens'"), std::string::npos) << e[1].message;
}

}  // namespace
}  // namespace omni::connectors
