#include "connectors/meta_hub.h"

#include <algorithm>

#include "connectors/webhook.h"
#include "core/metrics/metrics.h"

namespace omni::connectors::meta {

namespace http = core::http;

std::optional<http::response> hub_handshake(const http::request& req,
                                            std::string_view verify_token) {
  if (req.verb != http::method::get) return std::nullopt;
  auto mode = req.query("hub.mode");
  auto challenge = req.query("hub.challenge");
  if (!mode || *mode != "subscribe" || !challenge || challenge->empty())
    return forbidden("expected hub.mode=subscribe with a hub.challenge");
  auto token = req.query("hub.verify_token");
  if (!token || !secure_equals(*token, verify_token)) return forbidden("wrong hub.verify_token");
  return http::response::text(200, std::string(*challenge));
}

std::optional<http::response> hub_signature(const http::request& req,
                                            const std::vector<std::string>& secrets) {
  auto header = req.header("X-Hub-Signature-256");
  if (!header) return unauthorized("missing X-Hub-Signature-256");
  constexpr std::string_view prefix = "sha256=";
  if (!header->starts_with(prefix))
    return forbidden("X-Hub-Signature-256 must be sha256=<hex HMAC-SHA256 of the body>");
  std::string hex(header->substr(prefix.size()));
  std::transform(hex.begin(), hex.end(), hex.begin(),
                 [](unsigned char c) { return c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c; });
  if (!any_hmac_sha256_hex_matches(secrets, req.body, hex)) return forbidden("wrong signature");
  return std::nullopt;
}

void count_ignored(const std::string& connector, const tally& ignored) {
  for (const auto& [event, n] : ignored)
    core::metrics::global()
        .counter_of("omniroute_webhook_events_ignored_total",
                    "Webhook events understood but not routed (statuses, echoes, other fields).",
                    {{"connector", connector}, {"event", event.substr(0, 64)}})
        .inc(static_cast<std::uint64_t>(n));
}

std::string describe(const tally& ignored) {
  std::string out;
  for (const auto& [event, n] : ignored)
    out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + event;
  return out.empty() ? "nothing to route" : "not routed: " + out;
}

std::string number_text(const payload::node& n) {
  if (auto t = n.text()) return *t;
  return n.number_text().value_or("");
}

void append_line(std::string& text, const std::string& line) {
  if (line.empty()) return;
  text += text.empty() ? line : "\n" + line;
}

credentials read_credentials(config::reader& r) {
  credentials c;
  const std::size_t errors_before = r.sink().size();
  if (auto one = r.optional<std::string>("app_secret")) {
    if (one->empty()) r.error("app_secret", "must not be empty");
    c.app_secrets.push_back(std::move(*one));
  }
  if (auto many = r.optional<std::vector<std::string>>("app_secrets")) {
    for (auto& s : *many) {
      if (s.empty()) r.error("app_secrets", "must not contain an empty secret");
      c.app_secrets.push_back(std::move(s));
    }
  }
  if (c.app_secrets.empty() && r.sink().size() == errors_before)
    r.error("app_secret", "is required (the Meta app secret; `app_secrets: [...]` while rotating)");
  const std::size_t before_token = r.sink().size();
  c.verify_token = r.required<std::string>("verify_token");
  if (r.sink().size() == before_token && c.verify_token.empty())
    r.error("verify_token", "must not be empty");
  return c;
}

}  // namespace omni::connectors::meta
