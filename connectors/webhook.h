#pragma once
// Webhook connectors: a provider posts HTTP requests to omniroute; each request is checked
// (signature / secret), mapped to zero or more contacts, and answered only after Kafka stored them.
//
// A webhook_provider is the provider-specific logic, pure and testable without sockets: handshake
// (GET hub.challenge, VK confirmation), authenticity check, payload mapping. webhook_connector is
// the shared plumbing that binds a provider to a path on the shared listener:
//   handshake? -> answer it
//   verify     -> 401/403 {"error":...}, nothing produced
//   map        -> 400 {"error": "<field>: <reason>"} on malformed input
//                 200 + counted as ignored for event types that carry no contact
//   publish    -> 2xx only when every contact is stored (or was already: replays dedupe by id)
//                 503 + Retry-After when Kafka is unavailable or back-pressured
// Every outcome is counted in omniroute_webhook_requests_total{connector,outcome}.

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/connector.h"
#include "core/events/events.h"
#include "core/http/message.h"
#include "core/metrics/metrics.h"
#include "core/result.h"

namespace omni::connectors {

struct webhook_mapping {
  std::vector<core::contact> contacts;
  // Set when the request was understood but carries nothing to route (a delivery status, an
  // unknown event type): answered 200 and counted as ignored with this reason.
  std::string ignored;

  // One contact, moved in (a braced list would copy it: initializer_list elements are const).
  static webhook_mapping of(core::contact c) {
    webhook_mapping m;
    m.contacts.push_back(std::move(c));
    return m;
  }
};

class webhook_provider {
 public:
  virtual ~webhook_provider() = default;
  // A verification handshake the provider performs (e.g. GET ?hub.challenge). nullopt: not one.
  virtual std::optional<core::http::response> handshake(const core::http::request&) const {
    return std::nullopt;
  }
  // nullopt when the request is authentic; otherwise the rejection (401 or 403 + reason).
  virtual std::optional<core::http::response> verify(const core::http::request& req) const = 0;
  // Maps an authentic request. An error is answered 400 with its text.
  virtual core::result<webhook_mapping> map(const core::http::request& req,
                                            core::timestamp_ms now) const = 0;
  // The success answer the provider expects (VK wants "ok"; most want an empty 200).
  virtual core::http::response accepted() const { return core::http::response::text(200, ""); }
  // Methods the endpoint answers (POST; GET too for handshake providers).
  virtual bool accepts_get() const { return false; }
};

struct webhook_settings {
  std::string name;
  std::string type;
  std::string path;  // e.g. /hooks/telegram/<name>
  common_settings common;
};

// Binds a provider to the shared listener. Thread-safe; handlers run on connection strands and
// complete from the producer's delivery thread.
class webhook_connector : public connector {
 public:
  webhook_connector(webhook_settings s, std::unique_ptr<webhook_provider> provider, context ctx);
  std::string_view type() const override { return settings_.type; }
  const std::string& name() const override { return settings_.name; }
  core::result<bool> start() override;
  void stop() override { stopped_ = true; }

  // The request path through the whole pipeline, without a socket (tests, fuzzing, benchmarks).
  void handle(core::http::request req, core::http::responder r) const;
  const webhook_provider& provider() const { return *provider_; }

 private:
  void count(std::string_view outcome) const;

  webhook_settings settings_;
  // Every outcome handle() counts, and its omniroute_webhook_requests_total{connector,outcome}
  // counter, looked up once (the registry lookup takes a global lock and renders the labels;
  // requests on every io thread count).
  static constexpr auto outcomes_ = std::to_array<std::string_view>(
      {"stopping", "handshake", "handshake_rejected", "method_not_allowed", "rejected_signature",
       "malformed", "ignored", "stored", "duplicate", "busy", "kafka_unavailable"});
  mutable std::array<std::atomic<core::metrics::counter*>, outcomes_.size()> outcome_counters_{};
  std::unique_ptr<webhook_provider> provider_;
  context ctx_;
  std::atomic<bool> stopped_{false};
};

// The factory skeleton every webhook channel shares: the entry's reader, the common keys
// (read_common), `path` (default /hooks/<type>/<name>, must start with '/'), then the channel's
// own keys through `read(reader, webhook_settings)`, which returns the provider's settings;
// finish() (unknown keys), and the connector only when the entry had no error.
template <class Provider, class Read>
std::unique_ptr<connector> make_webhook(const config::connector_config& entry, std::string type,
                                        config::diagnostics& sink, const context& ctx, Read read) {
  const std::size_t errors_before = sink.size();
  config::reader r = config::connector_reader(entry, sink);
  webhook_settings ws{entry.name, type, "/hooks/" + type + "/" + entry.name, read_common(r)};
  ws.path = r.optional<std::string>("path", ws.path);
  auto settings = read(r, std::as_const(ws));
  if (ws.path.empty() || ws.path[0] != '/') r.error("path", "must start with '/'");
  r.finish();
  if (sink.size() != errors_before) return nullptr;
  return std::make_unique<webhook_connector>(std::move(ws),
                                             std::make_unique<Provider>(std::move(settings)), ctx);
}

// ---- helpers shared by providers ----------------------------------------------------------------

// Lower-case hex HMAC of `data` (sha1 or sha256), and base64 of the raw HMAC.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
std::string hmac_sha1_base64(std::string_view key, std::string_view data);
std::string hmac_sha256_base64(std::string_view key, std::string_view data);
// Constant-time equality (CRYPTO_memcmp), false on different lengths.
bool secure_equals(std::string_view a, std::string_view b);
// True when any of `secrets` (several during a rotation) gives `expected_hex` as HMAC-SHA256 hex.
bool any_hmac_sha256_hex_matches(const std::vector<std::string>& secrets, std::string_view data,
                                 std::string_view expected_hex);

core::http::response unauthorized(std::string_view reason);  // 401 {"error":reason}
core::http::response forbidden(std::string_view reason);     // 403 {"error":reason}

}  // namespace omni::connectors
