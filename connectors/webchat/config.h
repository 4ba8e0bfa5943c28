#pragma once
// The `type: webchat` factory: reads the connector's YAML entry (see README.md).

#include "connectors/connector.h"

namespace omni::connectors::webchat {

class factory : public connector_factory {
 public:
  std::string_view type() const override { return "webchat"; }
  std::string_view description() const override {
    return "web chat: visitor WebSocket endpoint and embeddable widget";
  }
  std::unique_ptr<connector> create(const config::connector_config& entry,
                                    config::diagnostics& sink, const context& ctx) const override;
};

// This channel's factories, for the registry (connectors/registry.cc).
void add_factories(factory_list& out);

}  // namespace omni::connectors::webchat
