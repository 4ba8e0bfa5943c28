#include "connectors/registry.h"

#include "config/values.h"
#include "connectors/generic/config.h"
#include "connectors/imap/config.h"
#include "connectors/messenger/config.h"
#include "connectors/telegram/config.h"
#include "connectors/telephony/config.h"
#include "connectors/twilio/config.h"
#include "connectors/viber/config.h"
#include "connectors/vk/config.h"
#include "connectors/webchat/config.h"
#include "connectors/whatsapp/config.h"

namespace omni::connectors {

// One line per built-in connector.
const std::vector<std::unique_ptr<connector_factory>>& factories() {
  static const auto all = [] {
    std::vector<std::unique_ptr<connector_factory>> v;
    v.push_back(std::make_unique<telegram::factory>());
    v.push_back(std::make_unique<whatsapp::factory>());
    v.push_back(std::make_unique<messenger::factory>(messenger::platform::messenger));
    v.push_back(std::make_unique<messenger::factory>(messenger::platform::instagram));
    v.push_back(std::make_unique<vk::factory>());
    v.push_back(std::make_unique<viber::factory>());
    v.push_back(std::make_unique<twilio::factory>());
    v.push_back(std::make_unique<generic::factory>());
    v.push_back(std::make_unique<imap::factory>());
    v.push_back(std::make_unique<webchat::factory>());
    v.push_back(std::make_unique<telephony::asterisk_factory>());
    v.push_back(std::make_unique<telephony::freeswitch_factory>());
    v.push_back(std::make_unique<telephony::cti_factory>());
    return v;
  }();
  return all;
}

const connector_factory* find_factory(std::string_view type) {
  for (const auto& f : factories())
    if (f->type() == type) return f.get();
  return nullptr;
}

std::vector<std::unique_ptr<connector>> create_all(const config::omniroute_config& cfg,
                                                   config::diagnostics& sink, const context& ctx) {
  std::vector<std::unique_ptr<connector>> out;
  std::vector<std::string> types;
  for (const auto& f : factories()) types.emplace_back(f->type());
  for (const auto& entry : cfg.connectors) {
    const connector_factory* f = find_factory(entry.type);
    if (!f) {
      config::reader r = config::connector_reader(entry, sink);
      std::string msg = "unknown connector type '" + entry.type + "'";
      if (auto close = config::closest_match(entry.type, types))
        msg += "; did you mean '" + *close + "'?";
      else {
        msg += " (known:";
        for (const auto& t : types) msg += " " + t;
        msg += ")";
      }
      r.error("type", msg);
      continue;
    }
    context c = ctx;
    c.state_dir = ctx.state_dir / entry.name;
    if (auto conn = f->create(entry, sink, c)) out.push_back(std::move(conn));
  }
  return out;
}

}  // namespace omni::connectors
