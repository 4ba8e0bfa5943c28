#pragma once
// Viber REST bot API callbacks (https://developers.viber.com/docs/api/rest-bot-api/#callbacks):
// `message` events become messenger contacts; webhook, subscribed, unsubscribed,
// conversation_started, delivered, seen and failed are answered 200 and counted as ignored.
// A callback is authentic when X-Viber-Content-Signature is the hex HMAC-SHA256 of the raw body
// keyed with the bot's auth token. The contact's source id is Viber's message_token, so
// re-deliveries dedupe.
// Pure logic, no sockets; one instance per connector, shared read-only by every request thread.

#include <string>

#include "connectors/webhook.h"

namespace omni::connectors::viber {

struct settings {
  std::string name;        // connector name, part of the conversation key
  std::string auth_token;  // the bot's authentication token (also the signature key)
  std::string bot;         // the bot's name / URI, recorded as the contact's `to`
};

class provider : public webhook_provider {
 public:
  explicit provider(settings s) : settings_(std::move(s)) {}
  std::optional<core::http::response> verify(const core::http::request& req) const override;
  core::result<webhook_mapping> map(const core::http::request& req,
                                    core::timestamp_ms now) const override;

 private:
  settings settings_;
};

}  // namespace omni::connectors::viber
