#pragma once
// Shared by the tests of Meta's two channels (messenger with instagram, whatsapp): the app secrets
// of a rotation (old and new) and requests signed as Meta signs them (X-Hub-Signature-256:
// "sha256=" + HMAC-SHA256 over the exact body bytes).

#include <optional>
#include <string>

#include "connectors/webhook.h"
#include "core/http/message.h"

namespace omni::connectors::test_support::meta {

constexpr const char* old_secret = "0ld-app-secret";
constexpr const char* new_secret = "n3w-app-secret";

inline std::string signature(const std::string& body, const std::string& secret = new_secret) {
  return "sha256=" + hmac_sha256_hex(secret, body);
}

// A POST of `body`, signed with the new secret unless `sig` says otherwise.
inline core::http::request request_with(const std::string& body,
                                        std::optional<std::string> sig = {}) {
  core::http::request r;
  r.verb = core::http::method::post;
  r.body = body;
  r.headers.add("X-Hub-Signature-256", sig ? *sig : signature(body));
  return r;
}

}  // namespace omni::connectors::test_support::meta
