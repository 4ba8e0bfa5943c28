#pragma once
// The generic JSON hook: integrators post omni.contact.v1 contacts (one object, or an array of at
// most 100) from their own systems. A request is authentic when it carries either
//   X-Omni-Signature: sha256=<hex HMAC-SHA256 of the raw body>  keyed with one of `secrets`, or
//   Authorization: Bearer <token>                               equal to one of `tokens`
// (several of each so they can be rotated without downtime).
//
// Contacts are decoded with core::decode_contact, after filling what an integrator may omit:
// `schema`, `provider` (the connector's first allowed provider), `domain` (the connector's),
// `received_at` (now) and `id`. The id is always contact_id(provider, source_id), so re-posting
// the same source_id dedupes: an `id` that is given must equal it. Integrators may only claim the
// providers and domains the connector allows, so they cannot shadow another channel's ids.
// Pure logic, no sockets; one instance per connector, shared read-only by every request thread.

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "connectors/webhook.h"

namespace omni::connectors::generic {

inline constexpr std::size_t max_batch = 100;

struct settings {
  std::string name;
  std::vector<std::string> secrets;    // HMAC-SHA256 keys for X-Omni-Signature
  std::vector<std::string> tokens;     // bearer tokens
  std::vector<std::string> providers;  // allowed `provider` values; the first is the default
  std::vector<std::string> domains;    // allowed `domain` values; the first is the default
};

class provider : public webhook_provider {
 public:
  explicit provider(settings s) : settings_(std::move(s)) {}
  std::optional<core::http::response> verify(const core::http::request& req) const override;
  core::result<webhook_mapping> map(const core::http::request& req,
                                    core::timestamp_ms now) const override;
  core::http::response accepted() const override {
    return core::http::response::json(200, R"({"ok":true})");
  }

 private:
  core::result<core::contact> one(const nlohmann::json& in, core::timestamp_ms now) const;

  settings settings_;
};

}  // namespace omni::connectors::generic
