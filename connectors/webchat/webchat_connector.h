#pragma once
// Web chat over WebSockets: the visitor endpoint (protocol.h) on the shared public listener, the
// embeddable widget served beside it, and delivery of omni.outbound replies to the visitor's
// socket. Each visitor message becomes an omni.contact.v1 (channel chat, provider webchat) whose
// conversation is the visitor's chat, so the router makes the first one a contact and routes the
// rest to the assigned agent as follow-ups. See README.md for the protocol and the settings.
//
// Owned by the daemon. start() registers the routes on the listener (before it starts); sockets
// run on their connections' strands; deliver() is called on an io thread; stop() closes every
// visitor socket with 1001. All shared state is behind mutexes or atomics.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "connectors/webchat/protocol.h"
#include "connectors/webchat/store.h"

namespace omni::connectors::webchat {

struct settings {
  std::string name;
  common_settings common;
  std::string path = "/chat/";  // widget files under it, the WebSocket at path + "ws"
  std::string to;               // the contact's `to` (the site); default: the connector's name
  std::vector<std::string> allowed_origins;   // empty: same origin as the listener only
  std::string token_secret;                   // empty: generated once into state_dir
  std::vector<std::string> identity_secrets;  // HMAC keys for verified identifiers (rotation)
  std::size_t max_connections = 10'000;
  std::size_t max_connections_per_ip = 20;
  std::size_t max_message_bytes = 16 * 1024;  // after permessage-deflate inflation
  std::size_t send_queue_bytes = 256 * 1024;
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};  // ping after half of it
  std::chrono::milliseconds start_timeout{std::chrono::seconds(10)};
  bool deflate = false;
  store_limits store;
  field_limits fields;
};

struct statistics {
  std::uint64_t connections = 0;  // open visitor sockets
  std::uint64_t visitors = 0;     // sessions kept (online or not)
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t contacts = 0;      // visitor messages stored in Kafka
  std::uint64_t delivered = 0;     // outbound records shown to (or kept for) a visitor
  std::uint64_t slow_readers = 0;  // sockets closed because they read too slowly
};

class webchat_connector : public connector {
 public:
  webchat_connector(settings s, context ctx);
  ~webchat_connector() override;

  std::string_view type() const override { return "webchat"; }
  const std::string& name() const override;
  core::result<bool> start() override;
  void stop() override;
  bool deliver(const core::outbound& o, const outbound_position& at = {}) override;

  // Visitor tokens: "<visitor id>.<hex HMAC-SHA256(token secret, id)>"; check() gives the id.
  std::string issue_token(const std::string& visitor_id) const;
  std::optional<std::string> check_token(std::string_view token) const;
  // Whether `id` carries a valid signature by one of identity_secrets (constant-time compare).
  bool verify_identity(const signed_identity& id) const;

  statistics stats() const;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace omni::connectors::webchat
