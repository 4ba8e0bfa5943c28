#pragma once
// The visitor WebSocket protocol, version 1 (connectors/webchat/README.md): parsing of what the
// widget sends and encoding of what it receives. Pure functions over strings; no sockets, no clock.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/events/events.h"
#include "core/result.h"

namespace omni::connectors::webchat {

inline constexpr int protocol_version = 1;

// Close codes beside RFC 6455's own (4000-4999 is the application range).
namespace close_code {
inline constexpr std::uint16_t bad_request = 4400;   // bad JSON, unknown type, missing field
inline constexpr std::uint16_t unauthorized = 4401;  // bad visitor token or identity signature
inline constexpr std::uint16_t timeout = 4408;       // no start message in time
inline constexpr std::uint16_t too_slow = 4429;      // send queue overflow
}  // namespace close_code

// A verified identifier the site passes for a visitor it knows: `hash` is the lower-case hex
// HMAC-SHA256 of `value` keyed with the site's identity secret.
struct signed_identity {
  std::string kind;  // email, phone, external
  std::string value;
  std::string hash;
};

enum class client_type { start, message, typing, end, ping };

struct client_message {
  client_type type = client_type::ping;
  int version = protocol_version;
  // start
  std::string token;           // the visitor token from an earlier welcome; empty: a new visitor
  std::uint64_t last_seq = 0;  // the last chat event the widget has shown; later ones are replayed
  std::string name;            // display name the visitor typed (optional)
  std::string page;            // the page the widget runs on (optional)
  std::string language;        // navigator.language (optional)
  std::optional<signed_identity> identity;
  // message
  std::string client_id;  // the widget's id for the message: a resend is not duplicated
  std::string text;
};

// Limits on fields (bytes); longer values are a bad_request.
struct field_limits {
  std::size_t client_id = 64;
  std::size_t text = 16 * 1024;
  std::size_t name = 128;
  std::size_t identity_value = 256;
  std::size_t page = 1024;
};

// Errors carry the protocol error code in core::error::field: "bad_json", "unknown_type",
// "bad_request", "unsupported_version".
core::result<client_message> parse_client_message(std::string_view text,
                                                  const field_limits& limits = {});

// What the widget is shown: one entry of a chat's history (kept, replayed on resume, numbered).
enum class entry_kind { visitor, agent, notice, joined, ended };
std::string_view to_string(entry_kind k);

struct chat_entry {
  std::uint64_t seq = 0;
  entry_kind kind = entry_kind::visitor;
  std::string id;    // client id (visitor) or outbound id (the rest): dedupe key
  std::string chat;  // the conversation it belongs to
  std::string text;
  std::string agent;       // agent id (agent, joined)
  std::string agent_name;  // display name when the outbound carried one
  core::timestamp_ms at = 0;
  std::optional<int> queue_position;
  std::optional<std::int64_t> expected_wait_seconds;
};

// {"type":"event", "seq", "kind", ...}: one history entry.
std::string event_message(const chat_entry& e);
// {"type":"welcome", "v", "token", "visitor", "chat", "resumed", "heartbeat_interval_ms"}
std::string welcome_message(std::string_view token, std::string_view visitor_id,
                            std::string_view chat, bool resumed, std::int64_t heartbeat_ms);
// {"type":"ack","client_id","seq"}: the visitor's message is stored
std::string ack_message(std::string_view client_id, std::uint64_t seq);
// {"type":"typing","agent"}: not kept
std::string typing_message(std::string_view agent);
// {"type":"error","code","message"[,"client_id"]}
std::string error_message(std::string_view code, std::string_view message,
                          std::string_view client_id = {});
std::string pong_message();

// The close code that goes with an error code (nullopt: the connection stays open).
std::optional<std::uint16_t> close_code_for(std::string_view error_code);

// The history entry an omni.outbound.v1 record becomes (seq and chat left for the store to set);
// nullopt for kinds that are not kept (typing).
std::optional<chat_entry> entry_of(const core::outbound& o);

}  // namespace omni::connectors::webchat
