#pragma once
// WhatsApp Cloud API webhooks (Meta Graph "whatsapp_business_account" notifications): every
// entry[].changes[].value.messages[] item becomes one messenger contact; delivery statuses and
// other fields are answered 200 and counted as ignored. Meta subscribes the endpoint with a GET
// hub.challenge handshake (checked against verify_token) and signs every POST with
// X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body keyed with the app secret>;
// several app secrets are accepted during a rotation. The contact's source id is the wamid, so
// Meta's re-deliveries dedupe.
//
// The provider is immutable after construction and used from any connection strand.

#include <string>
#include <vector>

#include "connectors/webhook.h"

namespace omni::connectors::whatsapp {

struct settings {
  std::string name;                      // connector name, a label of the ignored-events metric
  std::vector<std::string> app_secrets;  // the Meta app secret(s); any one of them may sign
  std::string verify_token;              // what was entered as "Verify token" in the app dashboard
};

class provider : public webhook_provider {
 public:
  explicit provider(settings s) : settings_(std::move(s)) {}
  std::optional<core::http::response> handshake(const core::http::request& req) const override;
  std::optional<core::http::response> verify(const core::http::request& req) const override;
  core::result<webhook_mapping> map(const core::http::request& req,
                                    core::timestamp_ms now) const override;
  bool accepts_get() const override { return true; }

 private:
  settings settings_;
};

}  // namespace omni::connectors::whatsapp
