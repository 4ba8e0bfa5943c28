#pragma once
// The `type: viber` factory: reads the connector's YAML entry (see README.md).

#include "connectors/connector.h"

namespace omni::connectors::viber {

class factory : public connector_factory {
 public:
  std::string_view type() const override { return "viber"; }
  std::string_view description() const override { return "Viber REST bot API webhook"; }
  std::unique_ptr<connector> create(const config::connector_config& entry,
                                    config::diagnostics& sink, const context& ctx) const override;
};

// This channel's factories, for the registry (connectors/registry.cc).
void add_factories(factory_list& out);

}  // namespace omni::connectors::viber
