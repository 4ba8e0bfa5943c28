#pragma once
// What the Meta Graph webhooks (WhatsApp Cloud, Messenger, Instagram) share: the GET hub.challenge
// handshake, the X-Hub-Signature-256 check (several app secrets during a rotation), and the tally
// of events a POST carried that are understood but not routed.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/reader.h"
#include "connectors/payload.h"
#include "core/http/message.h"

namespace omni::connectors::meta {

// A GET with hub.mode=subscribe and the right hub.verify_token: 200 with the challenge; any other
// GET: 403. nullopt for other methods.
std::optional<core::http::response> hub_handshake(const core::http::request& req,
                                                  std::string_view verify_token);
// nullopt when the body's HMAC-SHA256 matches one of `secrets`; else 401 (missing) or 403.
std::optional<core::http::response> hub_signature(const core::http::request& req,
                                                  const std::vector<std::string>& secrets);

// The keys every Meta webhook entry has: `app_secret` (one) and/or `app_secrets` (a list, while
// rotating; at least one, none empty) and `verify_token` (not empty). Errors go to the reader.
struct credentials {
  std::vector<std::string> app_secrets;
  std::string verify_token;
};
credentials read_credentials(config::reader& r);

// Events a POST carried that are not routed, by kind ("status", "echo", "field:...").
using tally = std::map<std::string, int>;
// Adds them to omniroute_webhook_events_ignored_total{connector,event}.
void count_ignored(const std::string& connector, const tally& ignored);
// "not routed: 2 status, 1 echo", or "nothing to route".
std::string describe(const tally& ignored);

// Payload helpers both mappers use: a number or a numeric string as written (coordinates, prices;
// "" when neither), and `line` appended to a contact's text on a line of its own (nothing if
// empty).
std::string number_text(const payload::node& n);
void append_line(std::string& text, const std::string& line);

}  // namespace omni::connectors::meta
