#include "connectors/viber/config.h"

#include "connectors/viber/viber_connector.h"

namespace omni::connectors::viber {

std::unique_ptr<connector> factory::create(const config::connector_config& entry,
                                           config::diagnostics& sink, const context& ctx) const {
  return make_webhook<provider>(entry, "viber", sink, ctx, [&](config::reader& r, auto&) {
    settings s;
    s.name = entry.name;
    s.auth_token = r.required<std::string>("auth_token");
    s.bot = r.optional<std::string>("bot", "");
    if (r.has("auth_token") && s.auth_token.empty()) r.error("auth_token", "must not be empty");
    return s;
  });
}

void add_factories(factory_list& out) { out.push_back(std::make_unique<factory>()); }

}  // namespace omni::connectors::viber
