#pragma once
// The `type: messenger` and `type: instagram` factories: one class, two registered instances
// (the platforms share the Graph webhook format; see README.md).

#include "connectors/connector.h"
#include "connectors/messenger/messenger_connector.h"

namespace omni::connectors::messenger {

class factory : public connector_factory {
 public:
  explicit factory(platform p) : platform_(p) {}
  std::string_view type() const override { return to_string(platform_); }
  std::string_view description() const override {
    return platform_ == platform::instagram ? "Instagram messaging webhook (Meta)"
                                            : "Facebook Messenger webhook (Meta)";
  }
  std::unique_ptr<connector> create(const config::connector_config& entry,
                                    config::diagnostics& sink, const context& ctx) const override;

 private:
  platform platform_;
};

// This channel's factories, for the registry (connectors/registry.cc).
void add_factories(factory_list& out);

}  // namespace omni::connectors::messenger
