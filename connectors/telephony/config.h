#pragma once
// The telephony factories: `type: asterisk` (AMI client), `type: freeswitch` (ESL client) and
// `type: cti` (HTTP CTI endpoint). Each reads its YAML entry (see README.md), validates it with
// file:line:col errors and builds its connector; no I/O.

#include "connectors/connector.h"

namespace omni::connectors::telephony {

class asterisk_factory : public connector_factory {
 public:
  std::string_view type() const override { return "asterisk"; }
  std::string_view description() const override {
    return "Asterisk Manager Interface: caller id and call lifecycle";
  }
  std::unique_ptr<connector> create(const config::connector_config& entry,
                                    config::diagnostics& sink, const context& ctx) const override;
};

class freeswitch_factory : public connector_factory {
 public:
  std::string_view type() const override { return "freeswitch"; }
  std::string_view description() const override {
    return "FreeSWITCH event socket: caller id and call lifecycle";
  }
  std::unique_ptr<connector> create(const config::connector_config& entry,
                                    config::diagnostics& sink, const context& ctx) const override;
};

class cti_factory : public connector_factory {
 public:
  std::string_view type() const override { return "cti"; }
  std::string_view description() const override {
    return "HTTP CTI call events (newCall / answer / hangup / transfer)";
  }
  std::unique_ptr<connector> create(const config::connector_config& entry,
                                    config::diagnostics& sink, const context& ctx) const override;
};

// This channel's factories, for the registry (connectors/registry.cc).
void add_factories(factory_list& out);

}  // namespace omni::connectors::telephony
