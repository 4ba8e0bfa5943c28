#pragma once
// Telegram Bot API webhooks (https://core.telegram.org/bots/api#update): message, edited_message
// and callback_query updates become messenger contacts. The request is authentic when its
// X-Telegram-Bot-Api-Secret-Token header equals the secret_token given to setWebhook.
// The contact's source id is the bot's name plus update_id, so Telegram's re-deliveries dedupe.

#include <string>

#include "connectors/webhook.h"

namespace omni::connectors::telegram {

struct settings {
  std::string name;          // connector name, part of every source id
  std::string secret_token;  // as passed to setWebhook(secret_token=...)
  std::string bot;           // the bot's @username, recorded as the contact's `to`
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

}  // namespace omni::connectors::telegram
