#pragma once
// VK (VKontakte) community Callback API (https://dev.vk.com/en/api/callback/getting-started):
// `message_new` events become messenger contacts. VK first confirms the server with a POST of
// {"type":"confirmation","group_id":N}, answered with the configured confirmation string; every
// later event carries the configured `secret` in its JSON body and must be answered "ok", also the
// event types omniroute does not route (else VK retries them).
// The contact's source id is VK's event_id (re-deliveries of one event carry the same one), or the
// group and message ids for old API versions without event_id.
// Pure logic, no sockets; one instance per connector, shared read-only by every request thread.

#include <cstdint>
#include <string>

#include "connectors/webhook.h"

namespace omni::connectors::vk {

struct settings {
  std::string name;           // connector name
  std::int64_t group_id = 0;  // the community's id; events for other groups are refused
  std::string confirmation;   // the string VK's "confirm server" step expects back
  std::string secret;         // the "secret key" set in the community's Callback API settings
  std::string community;      // the community's short name, recorded as `to` (default club<id>)
};

class provider : public webhook_provider {
 public:
  explicit provider(settings s) : settings_(std::move(s)) {}
  std::optional<core::http::response> handshake(const core::http::request& req) const override;
  std::optional<core::http::response> verify(const core::http::request& req) const override;
  core::result<webhook_mapping> map(const core::http::request& req,
                                    core::timestamp_ms now) const override;
  core::http::response accepted() const override { return core::http::response::text(200, "ok"); }

 private:
  settings settings_;
};

}  // namespace omni::connectors::vk
