#pragma once
// The `type: whatsapp` factory: reads the connector's YAML entry (see README.md).

#include "connectors/connector.h"

namespace omni::connectors::whatsapp {

class factory : public connector_factory {
 public:
  std::string_view type() const override { return "whatsapp"; }
  std::string_view description() const override { return "WhatsApp Cloud API webhook (Meta)"; }
  std::unique_ptr<connector> create(const config::connector_config& entry,
                                    config::diagnostics& sink, const context& ctx) const override;
};

// This channel's factories, for the registry (connectors/registry.cc).
void add_factories(factory_list& out);

}  // namespace omni::connectors::whatsapp
