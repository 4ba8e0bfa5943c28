#pragma once
// Who is on the other end of a desk connection: checks a bearer token (a static per-agent token
// from the config, or an HS256/RS256 JWT verified with libjwt) and says which agent it names.
// Immutable after construction; check() is thread-safe.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "routing/desk/config.h"

namespace omni::routing::desk {

// An authenticated agent.
struct agent_identity {
  std::string agent_id;
  std::string display_name;
  std::string domain;
  std::map<std::string, int> skills;
  std::map<std::string, int> capacity;
  std::optional<std::int64_t> expires_at;  // JWT `exp`, seconds since the epoch
};

// Error codes in core::error::field: "unauthorized" (unknown, malformed or badly signed token)
// or "token_expired"; the message says what is wrong without echoing the token.
class authenticator {
 public:
  explicit authenticator(const gateway_config& cfg);

  core::result<agent_identity> check(std::string_view token, std::int64_t now_seconds) const;
  // Whether `token` is the admin token (constant time).
  bool is_admin(std::string_view token) const;

 private:
  core::result<agent_identity> check_jwt(std::string_view token, std::int64_t now) const;

  std::map<std::string, const agent_account*> by_token_hash_;  // SHA-256(token) -> account
  const gateway_config* cfg_;
};

// Constant-time comparison for tokens.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace omni::routing::desk
