#pragma once
// The desk WebSocket protocol, version 1 (docs/agent-desktop-ws.md): parsing of client messages
// and the error / close-code vocabulary. Pure functions over strings; no sockets.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace omni::routing::desk {

inline constexpr int protocol_version = 1;

// WebSocket close codes the gateway uses (4000-4999 is the application range, RFC 6455 7.4.2).
namespace close_code {
inline constexpr std::uint16_t normal = 1000;        // logout, or the client closed
inline constexpr std::uint16_t going_away = 1001;    // gateway shutting down
inline constexpr std::uint16_t bad_request = 4400;   // bad JSON, unknown type, missing field
inline constexpr std::uint16_t unauthorized = 4401;  // bad, missing or expired token
inline constexpr std::uint16_t forbidden = 4403;     // acting on someone else's contact
inline constexpr std::uint16_t timeout = 4408;       // no auth in time
inline constexpr std::uint16_t too_slow =
    4429;  // send queue overflow (the client reads too slowly)
inline constexpr std::uint16_t replaced = 4409;  // (reserved) session replaced
}  // namespace close_code

enum class client_type {
  auth,
  ping,
  presence,
  accept,
  reject,
  complete,
  transfer,
  reply,
  logout,
};

struct client_message {
  client_type type = client_type::ping;
  std::string ref;  // the client's correlation id, echoed in ack / error
  std::string token;
  int version = protocol_version;
  std::string presence;
  std::string contact_id;
  std::string reason;
  std::string disposition;
  bool survey = false;
  std::string target_queue;
  std::string target_agent;
  std::string text;
  std::string subject;
};

// Errors carry the protocol error code in core::error::field: "bad_json", "unknown_type",
// "bad_request", "unsupported_version".
core::result<client_message> parse_client_message(std::string_view text);

// {"type":"error","code":...,"message":...,"ref":...}
std::string error_message(std::string_view code, std::string_view message, std::string_view ref);
// {"type":"ack","ref":...,"of":<type>, ...extra}
std::string ack_message(std::string_view ref, std::string_view of,
                        std::string_view extra_json = {});
// The close code that goes with an error code (nullopt: the connection stays open).
std::optional<std::uint16_t> close_code_for(std::string_view error_code);

std::string_view to_string(client_type t);

}  // namespace omni::routing::desk
