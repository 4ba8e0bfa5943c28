#include "tests/connectors/webhook_contract.h"

namespace omni::connectors::testing {

void webhook_contract::SetUp() { start(GetParam().yaml); }

http::testing::reply webhook_contract::send(const std::string& body, http::header_map headers) {
  return post(GetParam().path, body, std::move(headers), GetParam().content_type);
}

http::testing::reply webhook_contract::deliver(const std::string& body) {
  return send(body, GetParam().sign(body));
}

double webhook_contract::outcome(const std::string& name) {
  return metric("omniroute_webhook_requests_total{connector=\"" + GetParam().connector +
                "\",outcome=\"" + name + "\"}");
}

namespace {

TEST_P(webhook_contract, one_delivery_is_one_contact_stored_before_the_answer) {
  const auto& c = GetParam();
  double before = outcome("stored");
  auto r = deliver(c.one_contact);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, c.accepted_body);
  EXPECT_EQ(outcome("stored"), before + 1);
  // The 200 means Kafka has it: the record is on the topic already.
  EXPECT_EQ(stored(), 1);
  auto cs = contacts();
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].domain, "acme");
  EXPECT_EQ(cs[0].id, core::contact_id(cs[0].provider, cs[0].source_id));
  EXPECT_FALSE(cs[0].customer.identities.empty());
}

TEST_P(webhook_contract, the_same_delivery_three_times_is_one_contact) {
  double before = outcome("duplicate");
  for (int i = 0; i < 3; ++i) {
    auto r = deliver(GetParam().one_contact);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, GetParam().accepted_body);
  }
  EXPECT_EQ(stored(), 1);
  EXPECT_EQ(outcome("duplicate"), before + 2);
}

TEST_P(webhook_contract, forged_or_unsigned_requests_produce_nothing) {
  const auto& c = GetParam();
  ASSERT_FALSE(c.refused.empty());
  double before = outcome("rejected_signature");
  for (const auto& refusal : c.refused) {
    auto r = send(refusal.body, refusal.headers);
    EXPECT_EQ(r.status, refusal.status) << r.body;
    EXPECT_NE(r.body.find(refusal.reason), std::string::npos) << r.body;
  }
  EXPECT_EQ(outcome("rejected_signature"), before + static_cast<double>(c.refused.size()));
  EXPECT_EQ(stored(), 0);
}

TEST_P(webhook_contract, malformed_is_400_with_the_reason) {
  double before = outcome("malformed");
  auto r = deliver(GetParam().malformed);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find(GetParam().malformed_reason), std::string::npos) << r.body;
  EXPECT_EQ(outcome("malformed"), before + 1);
  EXPECT_EQ(stored(), 0);
}

TEST_P(webhook_contract, oversized_is_413_and_nothing_is_produced) {
  std::string big = GetParam().one_contact + std::string(100 * 1024, ' ');
  EXPECT_EQ(deliver(big).status, 413);
  EXPECT_EQ(stored(), 0);
}

TEST_P(webhook_contract, nothing_to_route_is_200_and_counted_as_ignored) {
  double before = outcome("ignored");
  auto r = deliver(GetParam().nothing_to_route);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(outcome("ignored"), before + 1);
  EXPECT_EQ(stored(), 0);
}

TEST_P(webhook_contract, other_methods_are_405) {
  http::testing::client_request put;
  put.method = "PUT";
  put.target = GetParam().path;
  put.body = GetParam().one_contact;
  EXPECT_EQ(http::testing::fetch(port(), std::move(put)).status, 405);
  if (!GetParam().get_is_handshake) {
    EXPECT_EQ(get(GetParam().path).status, 405);
  }
  EXPECT_EQ(stored(), 0);
}

TEST_P(webhook_contract, kafka_away_is_503_with_retry_after) {
  take_kafka_down();
  auto r = deliver(GetParam().one_contact);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_TRUE(r.header("Retry-After").has_value());
}

}  // namespace
}  // namespace omni::connectors::testing
