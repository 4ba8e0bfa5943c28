#include "connectors/vk/config.h"

#include "connectors/vk/vk_connector.h"

namespace omni::connectors::vk {

std::unique_ptr<connector> factory::create(const config::connector_config& entry,
                                           config::diagnostics& sink, const context& ctx) const {
  return make_webhook<provider>(entry, "vk", sink, ctx, [&](config::reader& r, auto&) {
    settings s;
    s.name = entry.name;
    const std::size_t before_group = sink.size();
    s.group_id = r.required<std::int64_t>("group_id");
    if (sink.size() == before_group && s.group_id <= 0)
      r.error("group_id", "must be the community's positive id");
    s.confirmation = r.required<std::string>("confirmation");
    s.secret = r.required<std::string>("secret");
    s.community = r.optional<std::string>("community", "");
    if (r.has("confirmation") && s.confirmation.empty())
      r.error("confirmation", "must not be empty");
    if (r.has("secret") && s.secret.empty()) r.error("secret", "must not be empty");
    return s;
  });
}

void add_factories(factory_list& out) { out.push_back(std::make_unique<factory>()); }

}  // namespace omni::connectors::vk
