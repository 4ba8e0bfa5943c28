#pragma once
// The connector interface: how a channel plugs into omniroute (Envoy's filter/factory split).
//
// A connector turns one channel's inbound traffic into omni.contact.v1 events and, when the channel
// can answer, delivers omni.outbound.v1 replies back to it. Each built-in connector is a folder
// connectors/<type>/ with its logic (<type>_connector.{h,cc}, testable without sockets) and its
// factory (config.{h,cc}: YAML entry -> typed config -> validation), and one line in registry.cc.
// Adding a channel touches nothing in core/ or routing/. See docs/connectors.md.
//
// Lifecycle, all on the daemon's start thread: factory::create() (parse + validate, no I/O; also
// run by `omniroute check-config`) -> connector::start() (register HTTP routes, open sockets) ->
// the daemon starts the shared listener -> ... -> connector::stop() (stop intake; requests in
// flight still get their answer once Kafka reports) -> destruction after the producer is flushed.

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/events/events.h"
#include "core/result.h"

namespace omni::core::http {
class listener;
}

namespace omni::connectors {

class contact_publisher;
class agent_event_publisher;

// Where an omni.outbound record is stored; passed with the record it describes.
struct outbound_position {
  std::int32_t partition = -1;  // -1: unknown (a record not read from Kafka)
  std::int64_t offset = -1;
};

// Reads one partition of omni.outbound from `offset` to its end as of the call, handing every
// record that decodes to `on_record` (which returns false to stop early). Blocks: never call it on
// an io thread. Returns how many records were read.
using outbound_reader = std::function<core::result<std::int64_t>(
    std::int32_t partition, std::int64_t offset,
    const std::function<bool(const core::outbound&, const outbound_position&)>& on_record)>;

// What the daemon lends a connector. Everything outlives the connector.
struct context {
  boost::asio::io_context* ioc = nullptr;  // for timers and client sockets
  core::http::listener* http = nullptr;    // the shared public listener; register routes in start()
  contact_publisher* publisher = nullptr;  // omni.contacts, acknowledged after Kafka stored it
  std::filesystem::path state_dir;         // node.state_dir/<connector name>, created on demand
  std::string node_id;
  // omni.agent-events, for connectors that see agents' actions (a PBX: who answered, hung up,
  // transferred). Null when the daemon has none (then such connectors report only contacts).
  agent_event_publisher* agent_events = nullptr;
  // Reads back omni.outbound (web chat recovers a returning visitor's replies after a restart).
  // Empty when the daemon has no Kafka (check-config, unit tests).
  outbound_reader read_outbound;
};

// Keys every connector entry accepts besides `type` and `name`.
struct common_settings {
  std::string domain = "default";  // routing domain its contacts belong to (the Kafka key)
};

class connector {
 public:
  virtual ~connector() = default;
  virtual std::string_view type() const = 0;
  virtual const std::string& name() const = 0;
  // Registers routes / opens connections. An error here stops the daemon from starting.
  virtual core::result<bool> start() = 0;
  // Stops taking new input; must not block for long.
  virtual void stop() = 0;
  // A reply or notice for one of this connector's conversations, on the io_context (the daemon's
  // outbound dispatcher, daemon/outbound.h), with where the record is stored. False: not this
  // connector's. Deduplicate by id.
  virtual bool deliver(const core::outbound&, const outbound_position& = {}) { return false; }

  // The link to the peer this connector pulls from (an IMAP server, a PBX), for /readyz and
  // omniroute_connector_peer_up: nullopt for connectors that have no peer to reach (webhooks and
  // web chat are reached by their peers). Any thread.
  struct peer_status {
    bool connected = false;
    std::string detail;  // e.g. the last connection error
  };
  virtual std::optional<peer_status> peer() const { return std::nullopt; }
};

class connector_factory {
 public:
  virtual ~connector_factory() = default;
  // The `type:` value this factory answers to, e.g. "telegram".
  virtual std::string_view type() const = 0;
  // One line for `omniroute help connectors` and error messages.
  virtual std::string_view description() const = 0;
  // Reads and validates the entry, reporting every problem (file:line:col) to `sink`; returns a
  // connector bound to `ctx`, or nullptr when the entry has errors. Does no I/O.
  virtual std::unique_ptr<connector> create(const config::connector_config& entry,
                                            config::diagnostics& sink,
                                            const context& ctx) const = 0;
};

// Every factory of the built-in channels. A channel's folder defines `<channel>::add_factories(
// factory_list&)`, and connectors/registry.cc lists the channel (one line).
using factory_list = std::vector<std::unique_ptr<connector_factory>>;

// Reads the common keys (`domain`) from a connector's reader.
common_settings read_common(config::reader& r);

}  // namespace omni::connectors
