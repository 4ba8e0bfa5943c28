#pragma once
// The `type: twilio` factory: reads the connector's YAML entry (see README.md) and builds a
// twilio::line with its SMS and voice endpoints.

#include "connectors/connector.h"

namespace omni::connectors::twilio {

class factory : public connector_factory {
 public:
  std::string_view type() const override { return "twilio"; }
  std::string_view description() const override { return "Twilio SMS and voice webhooks"; }
  std::unique_ptr<connector> create(const config::connector_config& entry,
                                    config::diagnostics& sink, const context& ctx) const override;
};

// This channel's factories, for the registry (connectors/registry.cc).
void add_factories(factory_list& out);

}  // namespace omni::connectors::twilio
