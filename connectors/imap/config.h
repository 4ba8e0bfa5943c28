#pragma once
// The `type: imap` factory: reads the connector's YAML entry (see README.md).

#include "connectors/connector.h"

namespace omni::connectors::imap {

class factory : public connector_factory {
 public:
  std::string_view type() const override { return "imap"; }
  std::string_view description() const override {
    return "email: IMAP mailboxes (IDLE) in, SMTP submission out";
  }
  std::unique_ptr<connector> create(const config::connector_config& entry,
                                    config::diagnostics& sink, const context& ctx) const override;
};

// This channel's factories, for the registry (connectors/registry.cc).
void add_factories(factory_list& out);

}  // namespace omni::connectors::imap
