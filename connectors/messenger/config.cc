#include "connectors/messenger/config.h"

#include "connectors/meta_hub.h"

namespace omni::connectors::messenger {

std::unique_ptr<connector> factory::create(const config::connector_config& entry,
                                           config::diagnostics& sink, const context& ctx) const {
  return make_webhook<provider>(entry, std::string(to_string(platform_)), sink, ctx,
                                [&](config::reader& r, auto&) {
                                  settings s;
                                  s.name = entry.name;
                                  s.from = platform_;
                                  auto c = meta::read_credentials(r);
                                  s.app_secrets = std::move(c.app_secrets);
                                  s.verify_token = std::move(c.verify_token);
                                  return s;
                                });
}

void add_factories(factory_list& out) {
  out.push_back(std::make_unique<factory>(platform::messenger));
  out.push_back(std::make_unique<factory>(platform::instagram));
}

}  // namespace omni::connectors::messenger
