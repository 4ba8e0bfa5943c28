#pragma once
// The desk gateway's typed configuration: the `gateway:` subtree of omniroute.yaml parsed with
// config::reader (errors as file:line:col, unknown keys with "did you mean"). Plain values built on
// the startup thread; see routing/desk/README.md for every key.

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostic.h"
#include "config/reader.h"

namespace omni::routing::desk {

// An agent known to this gateway by a static bearer token (small sites).
struct agent_account {
  std::string id;
  std::string token;  // secret references (${ENV}, ${file:...}) already expanded
  std::string display_name;
  std::string domain;
  std::map<std::string, int> skills;    // sent with the login event when set
  std::map<std::string, int> capacity;  // channel -> concurrent contacts, sent with login
};

enum class jwt_algorithm { hs256, rs256 };

// Signed tokens for larger sites: whoever holds the secret / private key issues them.
struct jwt_settings {
  jwt_algorithm algorithm = jwt_algorithm::hs256;
  std::string secret;      // HS256: the shared secret
  std::string public_key;  // RS256: the PEM public key (read from public_key_file)
  std::string public_key_file;
  std::string issuer;    // `iss` must equal it when set
  std::string audience;  // `aud` must equal (or contain) it when set
  std::string agent_claim = "sub";
  std::string domain_claim = "domain";  // absent claim: gateway_config::default_domain
  std::string name_claim = "name";
  std::chrono::seconds leeway{30};  // clock skew allowed on exp / nbf
};

struct gateway_config {
  std::map<std::string, agent_account> agents;  // by id
  std::optional<jwt_settings> jwt;
  std::string admin_token;                   // empty: admin REST endpoints refuse everyone
  std::vector<std::string> allowed_origins;  // empty: same-origin browsers and non-browsers only
  std::string default_domain = "default";
  std::chrono::milliseconds disconnect_grace{std::chrono::seconds{30}};
  std::chrono::milliseconds heartbeat_interval{std::chrono::seconds{15}};
  std::chrono::milliseconds auth_timeout{std::chrono::seconds{10}};
  std::size_t max_connections = 10000;
  std::size_t max_message_bytes = 64 * 1024;  // one client frame
  std::size_t send_queue_limit = 1024;  // queued server messages before a slow socket is closed
  std::size_t contacts_kept = 20000;    // finished contacts kept for "why" queries
  std::size_t dedupe_window = 200000;   // record ids remembered to drop redelivered records
};

// Demo credentials: agent tokens starting with "demo-", as in the shipped example config, for
// trying omniroute on one machine. `serve` accepts them only on a loopback listener and
// `check-config --production` refuses them.
bool is_demo_token(std::string_view token);
std::vector<std::string> demo_agents(const gateway_config& c);  // ids, sorted

// Parses `gateway:` (an empty subtree gives the defaults); every problem goes to `sink`.
// `production`: a demo credential is an error.
gateway_config parse_gateway_config(const config::subtree& tree, config::diagnostics& sink,
                                    bool production = false);

}  // namespace omni::routing::desk
