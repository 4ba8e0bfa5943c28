#pragma once
// The agent-desktop gateway (routing/desk): the WebSocket API at /agent/v1/ws, the REST API under
// /api/v1/ and the reference desk page at /desk/, all on the process's shared public listener.
// Agent actions become omni.agent_event.v1 on omni.agent-events (and replies omni.outbound.v1 on
// omni.outbound); offers, revocations, follow-up messages and statistics come from a read model
// built from omni.assignments and omni.agent-events. No routing state of its own.
//
// Owned by the daemon's application (role `gateway`). create() registers the routes and must run
// before the listener starts; start() begins reading Kafka; stop() closes every desk socket and
// stops reading. Sessions run on their connections' strands of the caller's io_context; the Kafka
// reader runs on a thread of its own.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "core/bus/bus.h"
#include "core/http/listener.h"
#include "core/result.h"
#include "routing/desk/config.h"

namespace omni::routing::desk {

struct gateway_options {
  boost::asio::io_context* ioc = nullptr;
  core::http::listener* listener = nullptr;  // not started yet: create() adds routes to it
  core::bus::producer* producer = nullptr;
  core::bus::settings kafka;
  core::bus::topic_names topics = core::bus::topic_names::with_prefix("omni.");
  gateway_config config;
  std::string node_id = "gateway";
  // Called once, on the reader thread, when the read model has caught up with what the topics
  // held at start(): the gateway can show every agent their offers and contacts from then on.
  std::function<void()> on_caught_up;
};

struct gateway_statistics {
  std::uint64_t connections = 0;      // open desk sockets (authenticated or not)
  std::uint64_t agents_online = 0;    // agents with at least one authenticated socket
  std::uint64_t messages_in = 0;      // client messages received
  std::uint64_t pushes = 0;           // server messages queued to sockets
  std::uint64_t events_produced = 0;  // agent events + outbound delivered to Kafka
  std::uint64_t errors = 0;           // error messages sent to clients
  std::uint64_t records_read = 0;     // assignment + agent-event records applied
};

class gateway {
 public:
  static core::result<std::unique_ptr<gateway>> create(gateway_options options);
  ~gateway();  // stop()
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  // Joins a consumer group of its own and reads omni.assignments + omni.agent-events from the
  // beginning (rebuilding the read model; on_caught_up when it has read what they held at the
  // start), then follows them.
  core::result<bool> start();
  // Closes every desk socket with 1001 and stops the reader. Idempotent. Agents are not logged
  // out (their desks reconnect, possibly to another gateway node).
  void stop();

  gateway_statistics statistics() const;

  struct impl;

 private:
  explicit gateway(std::shared_ptr<impl> p);
  std::shared_ptr<impl> impl_;
};

}  // namespace omni::routing::desk
