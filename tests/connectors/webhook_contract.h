#pragma once
// The contract every webhook channel keeps, written once (webhook_contract.cc) and run for each
// channel that instantiates it with its own case in its folder:
//
//   INSTANTIATE_TEST_SUITE_P(telegram, webhook_contract, ::testing::Values(telegram_case()));
//
// Through the real listener, the channel's registered factory and the embedded Kafka: one
// delivery is one contact stored before the 2xx, a re-delivery is not a second contact, forged or
// unsigned requests produce nothing, a malformed body is a 400 with the reason, an oversized one a
// 413, a delivery with nothing to route is a 200 counted as ignored, other methods are 405, and
// Kafka away is a 503 with Retry-After.

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "tests/connectors/webhook_fixture.h"

namespace omni::connectors::testing {

struct webhook_contract_case {
  // A request the channel must refuse (wrong or missing signature, secret or token).
  struct refusal {
    std::string body;
    core::http::header_map headers;
    int status = 403;
    std::string reason;  // a part of the answer's text
  };

  std::string channel;    // the instantiation's name, for messages
  std::string yaml;       // the channel's `connectors:` entry; its domain must be `acme`
  std::string connector;  // the entry's name (the metrics' `connector` label)
  std::string path;       // where the provider posts (with the query string it sends)
  std::string content_type = "application/json";
  // The headers that make a delivery of `body` authentic (a signature over it, a token, none).
  std::function<core::http::header_map(const std::string& body)> sign;
  std::string one_contact;       // an authentic delivery of exactly one contact
  std::string accepted_body;     // the provider's expected answer to it ("ok" for VK)
  std::string nothing_to_route;  // understood, but no contact in it (a receipt, a status)
  std::string malformed;         // answered 400 ...
  std::string malformed_reason;  // ... naming this
  std::vector<refusal> refused;
  bool get_is_handshake = false;  // GET is the provider's verification handshake, not a 405

  friend std::ostream& operator<<(std::ostream& os, const webhook_contract_case& c) {
    return os << c.channel;
  }
};

class webhook_contract : public webhook_fixture,
                         public ::testing::WithParamInterface<webhook_contract_case> {
 protected:
  void SetUp() override;
  http::testing::reply deliver(const std::string& body);  // signed, as the provider sends it
  http::testing::reply send(const std::string& body, http::header_map headers);
  double outcome(const std::string& name);
};

}  // namespace omni::connectors::testing
