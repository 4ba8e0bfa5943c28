#pragma once
// The `type: vk` factory: reads the connector's YAML entry (see README.md).

#include "connectors/connector.h"

namespace omni::connectors::vk {

class factory : public connector_factory {
 public:
  std::string_view type() const override { return "vk"; }
  std::string_view description() const override { return "VK community Callback API"; }
  std::unique_ptr<connector> create(const config::connector_config& entry,
                                    config::diagnostics& sink, const context& ctx) const override;
};

// This channel's factories, for the registry (connectors/registry.cc).
void add_factories(factory_list& out);

}  // namespace omni::connectors::vk
