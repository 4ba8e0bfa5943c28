#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "connectors/twilio/twilio_connector.h"
#include "tests/connectors/support.h"
#include "tests/connectors/webhook_contract.h"

namespace omni::connectors {
namespace {

namespace http = core::http;

constexpr const char* token = "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c";
constexpr const char* public_url = "https://support.example.com/hooks/twilio/acme-line?tenant=acme";
constexpr const char* sms_url =
    "https://support.example.com/hooks/twilio/acme-line/sms?tenant=acme";
constexpr const char* voice_url =
    "https://support.example.com/hooks/twilio/acme-line/voice?tenant=acme";

std::string fixture(const std::string& name) { return test_support::fixture("twilio", name); }

http::header_map signed_headers(const std::string& url, const std::string& body,
                                const std::string& key = token) {
  return {{"X-Twilio-Signature", twilio::signature(key, url, twilio::parse_form(body))}};
}

http::request request_with(const std::string& url, const std::string& body) {
  http::request r;
  r.verb = http::method::post;
  r.body = body;
  r.headers.add("Content-Type", "application/x-www-form-urlencoded");
  for (const auto& f : signed_headers(url, body)) r.headers.add(f.name, f.value);
  return r;
}

// ---- the signature, against Twilio's documented example ---------------------------------------

TEST(twilio_signature, reproduces_twilios_documented_example) {
  // https://www.twilio.com/docs/usage/webhooks/webhooks-security (and every Twilio helper
  // library's RequestValidator test): auth token 12345, this URL and these parameters.
  const std::string url = "https://mycompany.com/myapp.php?foo=1&bar=2";
  twilio::form params{{"CallSid", "CA1234567890ABCDE"},
                      {"Caller", "+14158675309"},
                      {"Digits", "1234"},
                      {"From", "+14158675309"},
                      {"To", "+18005551212"}};
  EXPECT_EQ(twilio::signature("12345", url, params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");

  // The same through a provider, with the form posted in another order and percent-encoded.
  twilio::settings s{"t", "12345", url, "", std::string(twilio::default_voice_twiml)};
  twilio::provider p(s, twilio::endpoint::voice);
  http::request req;
  req.verb = http::method::post;
  req.body =
      "Digits=1234&To=%2B18005551212&From=%2B14158675309&Caller=%2B14158675309&CallSid="
      "CA1234567890ABCDE";
  req.headers.add("X-Twilio-Signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
  EXPECT_FALSE(p.verify(req).has_value());
  req.body += "&Extra=1";
  auto tampered = p.verify(req);
  ASSERT_TRUE(tampered);
  EXPECT_EQ(tampered->status, 403);

  // A repeated parameter: signed with every pair, or (as some helper libraries do) each distinct
  // pair once. Both are accepted.
  req.body = "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234";
  req.headers.set("X-Twilio-Signature", "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
  EXPECT_FALSE(p.verify(req).has_value());
  req.headers.set("X-Twilio-Signature",
                  twilio::signature("12345", url, twilio::parse_form(req.body)));
  EXPECT_FALSE(p.verify(req).has_value());
}

TEST(twilio_signature, endpoint_urls_keep_the_query_string) {
  EXPECT_EQ(twilio::endpoint_url(public_url, "/sms"), sms_url);
  EXPECT_EQ(twilio::endpoint_url("https://h.example/t/", "/voice"), "https://h.example/t/voice");
}

TEST(twilio_signature, missing_is_401_wrong_is_403) {
  twilio::provider p({"t", token, sms_url, "", ""}, twilio::endpoint::sms);
  std::string body = fixture("sms_cyrillic.form");
  EXPECT_FALSE(p.verify(request_with(sms_url, body)).has_value());
  http::request missing;
  missing.body = body;
  auto m = p.verify(missing);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 401);
  // Signed for another URL (http instead of https, as a proxy would make it look): refused.
  auto w = p.verify(
      request_with("http://support.example.com/hooks/twilio/acme-line/sms?tenant=acme", body));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->status, 403);
}

TEST(twilio_signature, account_sid_is_checked_when_configured) {
  std::string body = fixture("sms_cyrillic.form");
  twilio::provider mine({"t", token, sms_url, "ACae3f9c6bd1a8d0e1c2b3a4f5e6d7c8b9", ""},
                        twilio::endpoint::sms);
  EXPECT_FALSE(mine.verify(request_with(sms_url, body)).has_value());
  twilio::provider other({"t", token, sms_url, "AC00000000000000000000000000000000", ""},
                         twilio::endpoint::sms);
  auto r = other.verify(request_with(sms_url, body));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
}

// ---- mapping, without sockets ----------------------------------------------------------------

class twilio_mapping : public ::testing::Test {
 protected:
  twilio::provider sms{{"acme-line", token, sms_url, "", ""}, twilio::endpoint::sms};
  twilio::provider voice{
      {"acme-line", token, voice_url, "", std::string(twilio::default_voice_twiml)},
      twilio::endpoint::voice};

  core::contact one(const twilio::provider& p, const std::string& fixture_name) {
    auto m = p.map(request_with(sms_url, fixture(fixture_name)), 1795405068123);
    EXPECT_TRUE(m) << m.err().to_string();
    EXPECT_EQ(m->contacts.size(), 1u);
    return m->contacts.at(0);
  }
};

TEST_F(twilio_mapping, incoming_sms_in_russian) {
  core::contact c = one(sms, "sms_cyrillic.form");
  EXPECT_EQ(c.provider, "twilio");
  EXPECT_EQ(c.source_id, "SM1f0e8ae6ade43cb3c0ce4525424e404f");
  EXPECT_EQ(c.id, core::contact_id("twilio", c.source_id));
  EXPECT_EQ(c.chan, core::channel::sms);
  EXPECT_EQ(c.conversation, "twilio:sms:+14155550100:+79123456789");
  EXPECT_EQ(c.to, "+14155550100");
  EXPECT_EQ(c.text, "Здравствуйте! Мой заказ №1234 так и не пришёл 😞");
  ASSERT_EQ(c.customer.identities.size(), 1u);
  EXPECT_EQ(c.customer.identities[0], (core::identity{"phone", "+79123456789"}));
  EXPECT_TRUE(c.attachments.empty());
  EXPECT_EQ(c.received_at, 1795405068123);
  EXPECT_EQ(c.attributes.at("twilio_from_country"), "RU");
  EXPECT_EQ(c.attributes.count("twilio_from_city"), 0u);  // empty values are left out
  EXPECT_EQ(c.attributes.at("twilio_messaging_service_sid"), "MG9752274e9e519418a7406176694466fa");
}

TEST_F(twilio_mapping, mms_media_are_attachment_descriptors) {
  core::contact c = one(sms, "mms_two_media.form");
  EXPECT_EQ(c.text, "The box arrived broken, invoice attached");
  ASSERT_EQ(c.attachments.size(), 2u);
  EXPECT_EQ(c.attachments[0].name, "media0");
  EXPECT_EQ(c.attachments[0].content_type, "image/jpeg");
  EXPECT_EQ(c.attachments[1].content_type, "application/pdf");
  EXPECT_NE(c.attachments[1].ref.find("/Media/ME0002"), std::string::npos);
}

TEST_F(twilio_mapping, incoming_call_is_a_voice_contact) {
  core::contact c = one(voice, "voice_ringing.form");
  EXPECT_EQ(c.chan, core::channel::voice);
  EXPECT_EQ(c.source_id, "CA5f3c1a2b4d6e8f0a1b2c3d4e5f6a7b8c");
  EXPECT_EQ(c.conversation, "twilio:call:CA5f3c1a2b4d6e8f0a1b2c3d4e5f6a7b8c");
  EXPECT_EQ(c.to, "+14155550100");
  EXPECT_EQ(c.customer.display_name, "JOHN SMITH");
  ASSERT_EQ(c.customer.identities.size(), 1u);
  EXPECT_EQ(c.customer.identities[0], (core::identity{"phone", "+15105550123"}));
  EXPECT_EQ(c.attributes.at("twilio_call_status"), "ringing");
  EXPECT_EQ(c.attributes.at("twilio_from_city"), "OAKLAND");
}

TEST_F(twilio_mapping, anonymous_callers_have_no_phone_identity) {
  core::contact c = one(voice, "voice_anonymous.form");
  EXPECT_TRUE(c.customer.identities.empty());
  EXPECT_EQ(c.attributes.at("twilio_from"), "anonymous");
  for (const char* from :
       {"anonymous", "Anonymous", "Restricted", "Unavailable", "+266696687", "unknown", ""})
    EXPECT_FALSE(twilio::is_caller_number(from)) << from;
  EXPECT_TRUE(twilio::is_caller_number("+15105550123"));
}

TEST_F(twilio_mapping, status_callbacks_are_ignored_with_a_reason) {
  auto s = sms.map(request_with(sms_url, fixture("sms_status_delivered.form")), 0);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->contacts.empty());
  EXPECT_NE(s->ignored.find("delivered"), std::string::npos);
  auto v = voice.map(request_with(voice_url, fixture("voice_completed.form")), 0);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->contacts.empty());
  EXPECT_NE(v->ignored.find("completed"), std::string::npos);
}

TEST_F(twilio_mapping, malformed_input_names_the_field) {
  auto no_sid = sms.map(request_with(sms_url, "From=%2B15105550123&To=%2B14155550100&Body=hi"), 0);
  ASSERT_FALSE(no_sid);
  EXPECT_EQ(no_sid.err().field, "MessageSid");
  auto no_from = sms.map(request_with(sms_url, "MessageSid=SM1&To=%2B14155550100"), 0);
  ASSERT_FALSE(no_from);
  EXPECT_EQ(no_from.err().field, "From");
  auto bad_media =
      sms.map(request_with(sms_url, "MessageSid=SM1&From=%2B1510555&To=%2B1415&NumMedia=x"), 0);
  ASSERT_FALSE(bad_media);
  EXPECT_EQ(bad_media.err().field, "NumMedia");
  auto missing_url =
      sms.map(request_with(sms_url, "MessageSid=SM1&From=%2B1510555&To=%2B1415&NumMedia=1"), 0);
  ASSERT_FALSE(missing_url);
  EXPECT_EQ(missing_url.err().field, "MediaUrl0");
  auto no_status = voice.map(request_with(voice_url, "CallSid=CA1&From=%2B1510555&To=%2B1415"), 0);
  ASSERT_FALSE(no_status);
  EXPECT_EQ(no_status.err().field, "CallStatus");
  http::request json = request_with(sms_url, "{}");
  json.headers.set("Content-Type", "application/json");
  auto not_form = sms.map(json, 0);
  ASSERT_FALSE(not_form);
  EXPECT_EQ(not_form.err().field, "Content-Type");
}

TEST_F(twilio_mapping, answers_are_twiml) {
  auto a = sms.accepted();
  EXPECT_EQ(a.content_type, "text/xml");
  EXPECT_EQ(a.body, R"(<?xml version="1.0" encoding="UTF-8"?><Response></Response>)");
  auto v = voice.accepted();
  EXPECT_EQ(v.content_type, "text/xml");
  EXPECT_NE(v.body.find("<Enqueue>support</Enqueue>"), std::string::npos);
}

// ---- the webhook contract (tests/connectors/webhook_contract.cc) -----------------------------

constexpr const char* yaml = R"(  - type: twilio
    name: acme-line
    auth_token: 9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c
    public_url: https://support.example.com/hooks/twilio/acme-line?tenant=acme
    account_sid: ACae3f9c6bd1a8d0e1c2b3a4f5e6d7c8b9
    voice_twiml: <Response><Say voice="alice">Bitte warten.</Say><Enqueue>de-support</Enqueue></Response>
    domain: acme
)";

testing::webhook_contract_case twilio_case() {
  testing::webhook_contract_case c;
  c.channel = "twilio";
  c.yaml = yaml;
  c.connector = "acme-line";
  c.path = "/hooks/twilio/acme-line/sms?tenant=acme";
  c.content_type = "application/x-www-form-urlencoded";
  c.sign = [](const std::string& body) { return signed_headers(sms_url, body); };
  c.one_contact = fixture("sms_cyrillic.form");
  c.accepted_body = R"(<?xml version="1.0" encoding="UTF-8"?><Response></Response>)";
  c.nothing_to_route = fixture("sms_status_delivered.form");
  c.malformed =
      "AccountSid=ACae3f9c6bd1a8d0e1c2b3a4f5e6d7c8b9&MessageSid=SM9&To=%2B14155550100&Body=hi";
  c.malformed_reason = "From";
  c.refused = {
      {c.one_contact, {}, 401, "X-Twilio-Signature"},
      {c.one_contact, signed_headers(sms_url, c.one_contact, "0000000000000000000000000000dead"),
       403, "X-Twilio-Signature"},
      // The voice endpoint's signature is not valid on the SMS endpoint.
      {c.one_contact, signed_headers(voice_url, c.one_contact), 403, "X-Twilio-Signature"}};
  return c;
}
using testing::webhook_contract;
INSTANTIATE_TEST_SUITE_P(twilio, webhook_contract, ::testing::Values(twilio_case()));

// ---- through the listener: what only Twilio does ----------------------------------------------

class twilio_webhook : public testing::webhook_fixture {
 protected:
  void SetUp() override { start(yaml); }
  http::testing::reply post_form(const std::string& endpoint, const std::string& body,
                                 http::header_map headers) {
    return post("/hooks/twilio/acme-line/" + endpoint + "?tenant=acme", body, std::move(headers),
                "application/x-www-form-urlencoded");
  }
  double outcome(const std::string& o) {
    return metric("omniroute_webhook_requests_total{connector=\"acme-line\",outcome=\"" + o +
                  "\"}");
  }
};

TEST_F(twilio_webhook, an_sms_is_an_sms_contact_answered_with_empty_twiml) {
  std::string body = fixture("sms_cyrillic.form");
  auto r = post_form("sms", body, signed_headers(sms_url, body));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.header("Content-Type").value_or("").find("text/xml"), std::string_view::npos);
  auto cs = contacts();
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].chan, core::channel::sms);
  EXPECT_EQ(cs[0].text, "Здравствуйте! Мой заказ №1234 так и не пришёл 😞");
}

TEST_F(twilio_webhook, incoming_call_gives_one_voice_contact_and_the_configured_twiml) {
  std::string body = fixture("voice_ringing.form");
  auto r = post_form("voice", body, signed_headers(voice_url, body));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(
      r.body,
      R"(<Response><Say voice="alice">Bitte warten.</Say><Enqueue>de-support</Enqueue></Response>)");
  // The SMS URL's signature is not valid on the voice endpoint.
  EXPECT_EQ(post_form("voice", body, signed_headers(sms_url, body)).status, 403);
  EXPECT_EQ(stored(), 1);  // the mapping itself is checked in twilio_mapping
}

TEST_F(twilio_webhook, a_completed_call_is_ignored_like_an_sms_status) {
  double before = outcome("ignored");
  std::string completed = fixture("voice_completed.form");
  EXPECT_EQ(post_form("voice", completed, signed_headers(voice_url, completed)).status, 200);
  EXPECT_EQ(outcome("ignored"), before + 1);
  EXPECT_EQ(stored(), 0);
}

// ---- configuration ----------------------------------------------------------------------------

using test_support::config_errors;

TEST(twilio_config, errors_point_at_the_key) {
  auto e = config_errors("  - type: twilio\n    name: t\n    public_url: https://h.example/t\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].message.find("auth_token"), std::string::npos) << e[0].message;

  e = config_errors(
      "  - type: twilio\n    name: t\n    auth_token: x\n    public_url: /hooks/t\n    voice_twml: "
      "<Response/>\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].line, 5);  // line 1 is "connectors:"
  EXPECT_NE(e[0].message.find("absolute URL"), std::string::npos) << e[0].message;
  EXPECT_EQ(e[1].line, 6);
  EXPECT_NE(e[1].message.find("did you mean 'voice_twiml'"), std::string::npos) << e[1].message;
}

}  // namespace
}  // namespace omni::connectors
