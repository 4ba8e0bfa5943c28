#include "connectors/generic/config.h"

#include <algorithm>

#include "connectors/generic/generic_connector.h"

namespace omni::connectors::generic {

namespace {
constexpr std::size_t min_secret_length = 16;

void check_secrets(config::reader& r, std::string_view key, const std::vector<std::string>& list) {
  for (const auto& s : list) {
    if (s.size() < min_secret_length) {
      r.error(key, "each entry must be at least " + std::to_string(min_secret_length) +
                       " characters (use a random string, e.g. openssl rand -hex 32)");
      return;
    }
  }
}
}  // namespace

std::unique_ptr<connector> factory::create(const config::connector_config& entry,
                                           config::diagnostics& sink, const context& ctx) const {
  return make_webhook<provider>(
      entry, "generic", sink, ctx, [&](config::reader& r, const webhook_settings& ws) {
        settings s;
        s.name = entry.name;
        s.secrets = r.optional<std::vector<std::string>>("secrets", {});
        s.tokens = r.optional<std::vector<std::string>>("tokens", {});
        s.providers = r.optional<std::vector<std::string>>("providers", {"generic"});
        // The connector's own `domain` is the default; `allowed_domains` are others an
        // integrator may name.
        s.domains = {ws.common.domain};
        for (auto& d : r.optional<std::vector<std::string>>("allowed_domains", {}))
          s.domains.push_back(std::move(d));
        if (s.secrets.empty() && s.tokens.empty())
          r.error(
              "needs `secrets` (HMAC-SHA256 keys for X-Omni-Signature) or `tokens` (bearer "
              "tokens)");
        check_secrets(r, "secrets", s.secrets);
        check_secrets(r, "tokens", s.tokens);
        if (s.providers.empty() ||
            std::find(s.providers.begin(), s.providers.end(), "") != s.providers.end())
          r.error("providers", "must list at least one non-empty provider name");
        if (std::find(s.domains.begin() + 1, s.domains.end(), "") != s.domains.end())
          r.error("allowed_domains", "must not contain an empty domain");
        return s;
      });
}

void add_factories(factory_list& out) { out.push_back(std::make_unique<factory>()); }

}  // namespace omni::connectors::generic
