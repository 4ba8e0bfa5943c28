#include "connectors/telegram/config.h"

#include "connectors/telegram/telegram_connector.h"

namespace omni::connectors::telegram {

std::unique_ptr<connector> factory::create(const config::connector_config& entry,
                                           config::diagnostics& sink, const context& ctx) const {
  std::size_t errors_before = sink.size();
  config::reader r = config::connector_reader(entry, sink);
  webhook_settings ws{entry.name, "telegram", "/hooks/telegram/" + entry.name, read_common(r)};
  ws.path = r.optional<std::string>("path", ws.path);
  settings s;
  s.name = entry.name;
  s.secret_token = r.required<std::string>("secret_token");
  s.bot = r.optional<std::string>("bot", "");
  // Telegram allows 1-256 characters A-Z, a-z, 0-9, _ and -.
  if (!s.secret_token.empty() &&
      s.secret_token.find_first_not_of(
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos)
    r.error("secret_token", "may contain only A-Z, a-z, 0-9, _ and - (Telegram's rule)");
  if (ws.path.empty() || ws.path[0] != '/') r.error("path", "must start with '/'");
  r.finish();
  if (sink.size() != errors_before) return nullptr;
  return std::make_unique<webhook_connector>(std::move(ws),
                                             std::make_unique<provider>(std::move(s)), ctx);
}

}  // namespace omni::connectors::telegram
