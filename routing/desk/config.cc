#include "routing/desk/config.h"

#include <fstream>
#include <sstream>

namespace omni::routing::desk {
namespace {

constexpr config::choice<jwt_algorithm> algorithm_names[] = {
    {"HS256", jwt_algorithm::hs256},
    {"RS256", jwt_algorithm::rs256},
};

std::map<std::string, int> int_map(config::reader& r, std::string_view key, int lo, int hi,
                                   std::string_view what) {
  std::map<std::string, int> out;
  for (auto& [name, value] : r.entries(key)) {
    auto n = value.as<int>();
    if (!n) continue;
    if (*n < lo || *n > hi)
      value.error(std::string(what) + " must be " + std::to_string(lo) + ".." + std::to_string(hi));
    out[name] = *n;
  }
  return out;
}

void parse_agents(config::reader& r, gateway_config& out, bool production) {
  std::map<std::string, std::string> token_owner;
  for (auto& [id, a] : r.entries("agents")) {
    agent_account acc;
    acc.id = id;
    acc.token = a.required<std::string>("token");
    acc.display_name = a.optional<std::string>("name", id);
    acc.domain = a.optional<std::string>("domain", "");
    acc.skills = int_map(a, "skills", 1, 10, "proficiency");
    acc.capacity = int_map(a, "capacity", 0, 1000, "capacity");
    if (acc.token.size() > 0 && acc.token.size() < 16)
      a.error("token", "is too short: use at least 16 characters (e.g. `openssl rand -hex 24`)");
    if (production && is_demo_token(acc.token))
      a.error("token",
              "is a demo credential (\"demo-...\"): a production config needs a real secret, "
              "e.g. ${file:desk-" +
                  id + ".token}");
    if (!acc.token.empty()) {
      auto [it, fresh] = token_owner.emplace(acc.token, id);
      if (!fresh) a.error("token", "is the same as agent '" + it->second + "''s token");
    }
    out.agents.emplace(id, std::move(acc));
  }
}

void parse_jwt(config::reader& r, gateway_config& out) {
  if (!r.has("jwt")) return;
  config::reader j = r.child("jwt");
  jwt_settings s;
  s.algorithm = j.required_enum("algorithm", algorithm_names);
  if (s.algorithm == jwt_algorithm::hs256) {
    s.secret = j.required<std::string>("secret");
    if (!s.secret.empty() && s.secret.size() < 32)
      j.error("secret", "is too short for HS256: use at least 32 bytes");
    if (j.has("public_key_file")) j.error("public_key_file", "is for RS256; HS256 uses `secret`");
  } else {
    s.public_key_file = j.required<std::string>("public_key_file");
    if (j.has("secret")) j.error("secret", "is for HS256; RS256 uses `public_key_file`");
    if (!s.public_key_file.empty()) {
      std::ifstream in(s.public_key_file, std::ios::binary);
      std::stringstream buf;
      if (in) buf << in.rdbuf();
      s.public_key = buf.str();
      if (!in)
        j.error("public_key_file", "cannot read '" + s.public_key_file + "'");
      else if (s.public_key.find("-----BEGIN PUBLIC KEY-----") == std::string::npos)
        j.error("public_key_file",
                "'" + s.public_key_file + "' is not a PEM public key (-----BEGIN PUBLIC KEY-----)");
    }
  }
  s.issuer = j.optional<std::string>("issuer", "");
  s.audience = j.optional<std::string>("audience", "");
  s.agent_claim = j.optional<std::string>("agent_claim", s.agent_claim);
  s.domain_claim = j.optional<std::string>("domain_claim", s.domain_claim);
  s.name_claim = j.optional<std::string>("name_claim", s.name_claim);
  s.leeway = std::chrono::duration_cast<std::chrono::seconds>(
      j.optional<std::chrono::milliseconds>("leeway", s.leeway));
  out.jwt = std::move(s);
}

}  // namespace

bool is_demo_token(std::string_view token) { return token.starts_with("demo-"); }

std::vector<std::string> demo_agents(const gateway_config& c) {
  std::vector<std::string> out;
  for (const auto& [id, a] : c.agents)
    if (is_demo_token(a.token)) out.push_back(id);
  return out;
}

gateway_config parse_gateway_config(const config::subtree& tree, config::diagnostics& sink,
                                    bool production) {
  gateway_config out;
  config::reader r(tree, sink);
  parse_agents(r, out, production);
  parse_jwt(r, out);
  out.admin_token = r.optional<std::string>("admin_token", "");
  if (!out.admin_token.empty() && out.admin_token.size() < 16)
    r.error("admin_token", "is too short: use at least 16 characters");
  out.allowed_origins = r.optional<std::vector<std::string>>("allowed_origins", {});
  for (const auto& o : out.allowed_origins)
    if (o != "*" && o.rfind("http://", 0) != 0 && o.rfind("https://", 0) != 0)
      r.error(
          "allowed_origins",
          "'" + o + "' is not an origin: write scheme://host[:port], e.g. https://desk.example");
  out.default_domain = r.optional<std::string>("default_domain", out.default_domain);
  for (auto& [id, a] : out.agents)
    if (a.domain.empty()) a.domain = out.default_domain;
  out.disconnect_grace =
      r.optional<std::chrono::milliseconds>("disconnect_grace", out.disconnect_grace);
  out.heartbeat_interval =
      r.optional<std::chrono::milliseconds>("heartbeat_interval", out.heartbeat_interval);
  if (out.heartbeat_interval < std::chrono::milliseconds(100))
    r.error("heartbeat_interval", "must be at least 100ms");
  out.auth_timeout = r.optional<std::chrono::milliseconds>("auth_timeout", out.auth_timeout);
  int max_conn = r.optional<int>("max_connections", static_cast<int>(out.max_connections));
  if (max_conn < 1) r.error("max_connections", "must be at least 1");
  out.max_connections = static_cast<std::size_t>(std::max(1, max_conn));
  if (auto b = r.optional<config::byte_size>("max_message_size")) {
    if (b->bytes < 1024 || b->bytes > (4u << 20))
      r.error("max_message_size", "must be within 1KiB..4MiB");
    else
      out.max_message_bytes = b->bytes;
  }
  int kept = r.optional<int>("contacts_kept", static_cast<int>(out.contacts_kept));
  if (kept < 100) r.error("contacts_kept", "must be at least 100");
  out.contacts_kept = static_cast<std::size_t>(std::max(100, kept));
  int window = r.optional<int>("dedupe_window", static_cast<int>(out.dedupe_window));
  if (window < 1000 || window > 10'000'000)
    r.error("dedupe_window", "must be within 1000..10000000");
  else
    out.dedupe_window = static_cast<std::size_t>(window);
  if (out.agents.empty() && !out.jwt && tree.node.IsDefined() && !tree.empty())
    r.error("no way to log in: configure `agents` (tokens) or `jwt`");
  r.finish();
  return out;
}

}  // namespace omni::routing::desk
