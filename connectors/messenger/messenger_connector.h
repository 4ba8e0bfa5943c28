#pragma once
// Facebook Messenger and Instagram messaging webhooks (Meta Graph "page" / "instagram"
// notifications): every entry[].messaging[] message or postback becomes one messenger contact;
// echoes of the page's own messages, delivery and read receipts and other events are answered 200
// and counted as ignored. Both platforms share the Graph webhook format, the GET hub.challenge
// handshake (checked against verify_token) and the X-Hub-Signature-256 body signature (several app
// secrets accepted during a rotation); one provider class serves both, told which by `platform`.
// The contact's source id is the message mid, so Meta's re-deliveries dedupe.
//
// The provider is immutable after construction and used from any connection strand.

#include <string>
#include <string_view>
#include <vector>

#include "connectors/webhook.h"

namespace omni::connectors::messenger {

enum class platform { messenger, instagram };
// "messenger" / "instagram": the connector type, the contact's provider and identity kind.
std::string_view to_string(platform p);

struct settings {
  std::string name;  // connector name, a label of the ignored-events metric
  platform from = platform::messenger;
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

}  // namespace omni::connectors::messenger
