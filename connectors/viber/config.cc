#include "connectors/viber/config.h"

#include "connectors/viber/viber_connector.h"

namespace omni::connectors::viber {

std::unique_ptr<connector> factory::create(const config::connector_config& entry,
                                           config::diagnostics& sink, const context& ctx) const {
  std::size_t errors_before = sink.size();
  config::reader r = config::connector_reader(entry, sink);
  webhook_settings ws{entry.name, "viber", "/hooks/viber/" + entry.name, read_common(r)};
  ws.path = r.optional<std::string>("path", ws.path);
  settings s;
  s.name = entry.name;
  s.auth_token = r.required<std::string>("auth_token");
  s.bot = r.optional<std::string>("bot", "");
  if (r.has("auth_token") && s.auth_token.empty()) r.error("auth_token", "must not be empty");
  if (ws.path.empty() || ws.path[0] != '/') r.error("path", "must start with '/'");
  r.finish();
  if (sink.size() != errors_before) return nullptr;
  return std::make_unique<webhook_connector>(std::move(ws),
                                             std::make_unique<provider>(std::move(s)), ctx);
}

}  // namespace omni::connectors::viber
