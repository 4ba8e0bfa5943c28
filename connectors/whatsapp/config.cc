#include "connectors/whatsapp/config.h"

#include "connectors/meta_hub.h"
#include "connectors/whatsapp/whatsapp_connector.h"

namespace omni::connectors::whatsapp {

std::unique_ptr<connector> factory::create(const config::connector_config& entry,
                                           config::diagnostics& sink, const context& ctx) const {
  return make_webhook<provider>(entry, "whatsapp", sink, ctx, [&](config::reader& r, auto&) {
    settings s;
    s.name = entry.name;
    auto c = meta::read_credentials(r);
    s.app_secrets = std::move(c.app_secrets);
    s.verify_token = std::move(c.verify_token);
    return s;
  });
}

void add_factories(factory_list& out) { out.push_back(std::make_unique<factory>()); }

}  // namespace omni::connectors::whatsapp
