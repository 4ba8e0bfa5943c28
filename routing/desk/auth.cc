#include "routing/desk/auth.h"

#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "core/json/parse.h"

namespace omni::routing::desk {
namespace {

std::string sha256(std::string_view s) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), out, &n, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(out), n);
}

std::optional<std::string> base64url_decode(std::string_view in) {
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    auto pos = alphabet.find(c);
    if (pos == std::string_view::npos) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

core::error unauthorized(std::string message) { return {std::move(message), "unauthorized"}; }

struct jwt_deleter {
  void operator()(jwt_t* j) const { jwt_free(j); }
};

std::optional<std::string> string_claim(jwt_t* j, const std::string& name) {
  const char* v = jwt_get_grant(j, name.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

std::optional<std::int64_t> int_claim(jwt_t* j, const char* name) {
  errno = 0;
  long v = jwt_get_grant_int(j, name);
  if (errno != 0) return std::nullopt;
  return v;
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

authenticator::authenticator(const gateway_config& cfg) : cfg_(&cfg) {
  for (const auto& [id, a] : cfg.agents)
    if (!a.token.empty()) by_token_hash_.emplace(sha256(a.token), &a);
}

bool authenticator::is_admin(std::string_view token) const {
  return !cfg_->admin_token.empty() && constant_time_equal(token, cfg_->admin_token);
}

core::result<agent_identity> authenticator::check(std::string_view token,
                                                  std::int64_t now_seconds) const {
  if (token.empty()) return unauthorized("no token: send {\"type\":\"auth\",\"token\":...}");
  if (token.size() > 8192) return unauthorized("token too long");
  // Static tokens are looked up by their hash: no timing difference between near misses.
  if (auto it = by_token_hash_.find(sha256(token)); it != by_token_hash_.end()) {
    const agent_account& a = *it->second;
    return agent_identity{a.id, a.display_name, a.domain, a.skills, a.capacity, std::nullopt};
  }
  if (cfg_->jwt && std::count(token.begin(), token.end(), '.') == 2)
    return check_jwt(token, now_seconds);
  return unauthorized("unknown token");
}

core::result<agent_identity> authenticator::check_jwt(std::string_view token,
                                                      std::int64_t now) const {
  const jwt_settings& s = *cfg_->jwt;
  const jwt_alg_t want = s.algorithm == jwt_algorithm::hs256 ? JWT_ALG_HS256 : JWT_ALG_RS256;
  const char* want_name = s.algorithm == jwt_algorithm::hs256 ? "HS256" : "RS256";
  // The header's alg is checked before any key is used, so an RS256 public key can never be
  // (mis)used as an HS256 secret, and "none" never gets near the verifier.
  auto header = base64url_decode(token.substr(0, token.find('.')));
  if (!header) return unauthorized("malformed token");
  auto parsed_header = core::parse_json(*header);
  if (!parsed_header) return unauthorized("malformed token header");
  nlohmann::json& h = *parsed_header;
  if (!h.is_object() || !h.contains("alg") || !h["alg"].is_string())
    return unauthorized("malformed token header");
  if (h["alg"].get<std::string>() != want_name)
    return unauthorized("token algorithm " + h["alg"].get<std::string>() + " is not accepted (" +
                        want_name + " is)");
  const std::string& key = want == JWT_ALG_HS256 ? s.secret : s.public_key;
  std::string copy(token);
  jwt_t* raw = nullptr;
  int rc = jwt_decode(&raw, copy.c_str(), reinterpret_cast<const unsigned char*>(key.data()),
                      static_cast<int>(key.size()));
  std::unique_ptr<jwt_t, jwt_deleter> j(raw);
  if (rc != 0 || !j) return unauthorized("token signature or format is invalid");
  if (jwt_get_alg(j.get()) != want) return unauthorized("token algorithm is not accepted");

  const auto leeway = s.leeway.count();
  // A token without exp would never expire: a leaked one would be good forever (RFC 8725 4.10).
  auto exp = int_claim(j.get(), "exp");
  if (!exp) return unauthorized("token has no expiry (exp claim)");
  if (now > *exp + leeway) return core::error{"token expired", "token_expired"};
  if (auto nbf = int_claim(j.get(), "nbf"); nbf && now + leeway < *nbf)
    return unauthorized("token not valid yet (nbf)");
  if (!s.issuer.empty() && string_claim(j.get(), "iss") != s.issuer)
    return unauthorized("token issuer is not accepted");
  if (!s.audience.empty()) {
    bool ok = false;
    if (char* aud = jwt_get_grants_json(j.get(), "aud")) {
      auto parsed_aud = core::parse_json(aud);
      free(aud);
      nlohmann::json a = parsed_aud ? std::move(*parsed_aud) : nlohmann::json();
      if (a.is_string()) ok = a.get<std::string>() == s.audience;
      if (a.is_array())
        for (const auto& v : a) ok = ok || (v.is_string() && v.get<std::string>() == s.audience);
    }
    if (!ok) return unauthorized("token audience is not accepted");
  }
  auto agent = string_claim(j.get(), s.agent_claim);
  if (!agent || agent->empty() || agent->size() > 256)
    return unauthorized("token has no '" + s.agent_claim + "' claim naming the agent");
  agent_identity id;
  id.agent_id = *agent;
  id.display_name = *agent;
  id.domain = cfg_->default_domain;
  if (auto it = cfg_->agents.find(*agent); it != cfg_->agents.end()) {
    id.display_name = it->second.display_name;
    id.domain = it->second.domain;
    id.skills = it->second.skills;
    id.capacity = it->second.capacity;
  }
  if (auto d = string_claim(j.get(), s.domain_claim); d && !d->empty()) id.domain = *d;
  if (auto n = string_claim(j.get(), s.name_claim); n && !n->empty()) id.display_name = *n;
  id.expires_at = exp;
  return id;
}

}  // namespace omni::routing::desk
