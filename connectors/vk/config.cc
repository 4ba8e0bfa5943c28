#include "connectors/vk/config.h"

#include "connectors/vk/vk_connector.h"

namespace omni::connectors::vk {

std::unique_ptr<connector> factory::create(const config::connector_config& entry,
                                           config::diagnostics& sink, const context& ctx) const {
  std::size_t errors_before = sink.size();
  config::reader r = config::connector_reader(entry, sink);
  webhook_settings ws{entry.name, "vk", "/hooks/vk/" + entry.name, read_common(r)};
  ws.path = r.optional<std::string>("path", ws.path);
  settings s;
  s.name = entry.name;
  std::size_t before_group = sink.size();
  s.group_id = r.required<std::int64_t>("group_id");
  if (sink.size() == before_group && s.group_id <= 0)
    r.error("group_id", "must be the community's positive id");
  s.confirmation = r.required<std::string>("confirmation");
  s.secret = r.required<std::string>("secret");
  s.community = r.optional<std::string>("community", "");
  if (r.has("confirmation") && s.confirmation.empty()) r.error("confirmation", "must not be empty");
  if (r.has("secret") && s.secret.empty()) r.error("secret", "must not be empty");
  if (ws.path.empty() || ws.path[0] != '/') r.error("path", "must start with '/'");
  r.finish();
  if (sink.size() != errors_before) return nullptr;
  return std::make_unique<webhook_connector>(std::move(ws),
                                             std::make_unique<provider>(std::move(s)), ctx);
}

}  // namespace omni::connectors::vk
