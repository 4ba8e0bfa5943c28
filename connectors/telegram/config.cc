#include "connectors/telegram/config.h"

#include "connectors/telegram/telegram_connector.h"

namespace omni::connectors::telegram {

std::unique_ptr<connector> factory::create(const config::connector_config& entry,
                                           config::diagnostics& sink, const context& ctx) const {
  return make_webhook<provider>(entry, "telegram", sink, ctx, [&](config::reader& r, auto&) {
    settings s;
    s.name = entry.name;
    s.secret_token = r.required<std::string>("secret_token");
    s.bot = r.optional<std::string>("bot", "");
    // Telegram allows 1-256 characters A-Z, a-z, 0-9, _ and -.
    if (!s.secret_token.empty() &&
        s.secret_token.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
            std::string::npos)
      r.error("secret_token", "may contain only A-Z, a-z, 0-9, _ and - (Telegram's rule)");
    return s;
  });
}

void add_factories(factory_list& out) { out.push_back(std::make_unique<factory>()); }

}  // namespace omni::connectors::telegram
