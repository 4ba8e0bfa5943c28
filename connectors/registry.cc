#include "connectors/registry.h"

#include "config/values.h"

namespace omni::connectors {

// The built-in channels, one line each, in the order `omniroute help connectors` lists them. A
// channel is its folder connectors/<channel>/ (built by its omni_connector() call, added by
// connectors/CMakeLists.txt), which defines <channel>::add_factories().
#define OMNI_BUILTIN_CHANNELS(X) \
  X(telegram)                    \
  X(whatsapp)                    \
  X(messenger)                   \
  X(vk)                          \
  X(viber)                       \
  X(twilio)                      \
  X(generic)                     \
  X(imap)                        \
  X(webchat)                     \
  X(telephony)

#define OMNI_DECLARE_CHANNEL(channel)    \
  namespace channel {                    \
  void add_factories(factory_list& out); \
  }
OMNI_BUILTIN_CHANNELS(OMNI_DECLARE_CHANNEL)

const factory_list& factories() {
  static const factory_list all = [] {
    factory_list v;
#define OMNI_ADD_CHANNEL(channel) channel::add_factories(v);
    OMNI_BUILTIN_CHANNELS(OMNI_ADD_CHANNEL)
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
