#pragma once
// A server-side WebSocket connection with the limits every omniroute WebSocket needs built in:
// message size cap (checked after permessage-deflate inflation), invalid UTF-8 closes with 1007,
// ping/pong keepalive with an idle timeout, and a bounded send queue (a client that reads too
// slowly is closed, never allowed to grow our memory). Used by the agent desk (routing/desk) and
// the web chat (connectors/webchat); both take a connection from the shared listener's upgrade
// hook with accept() and implement socket_handler.
//
// Two implementations behind this interface (websocket.cc): on plain TCP without permessage-deflate
// a compact socket (Beast answers the handshake, the frames are handled there: no buffer while
// idle, one write per batch of replies), for thousands of idle visitors and high message rates;
// with TLS or deflate Beast's websocket::stream. Keeps Beast out of its users' headers.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "core/http/message.h"

namespace omni::core::http {

class upgrade;

namespace ws {

// RFC 6455 7.4.1 close codes the connection itself uses.
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t abnormal = 1006;     // never sent: the connection just dropped
inline constexpr std::uint16_t bad_payload = 1007;  // invalid UTF-8 in a text message
inline constexpr std::uint16_t policy = 1008;
inline constexpr std::uint16_t too_big = 1009;
}  // namespace close_code

struct options {
  std::size_t max_message_bytes = 64 * 1024;   // after inflation; over it: close 1009
  std::size_t send_queue_bytes = 1024 * 1024;  // unwritten bytes; over it: close `too_slow_code`
  std::size_t send_queue_messages = 1024;
  std::uint16_t too_slow_code = 4429;
  std::chrono::milliseconds handshake_timeout{10'000};
  // No frame from the peer for half of it: a ping; nothing for all of it: closed (cause timeout).
  std::chrono::milliseconds idle_timeout{60'000};
  bool deflate = false;  // offer permessage-deflate (zlib state and Beast's stream per connection)
};

// Why a connection ended, as a metric label and a close code (the one sent or received).
struct close_info {
  std::uint16_t code = close_code::abnormal;
  std::string_view cause;  // "peer", "server", "too_big", "bad_utf8", "protocol", "timeout",
                           // "too_slow", "network"
};

class socket;

// The owner of one connection's protocol. Called on the connection's strand, one call at a time.
class socket_handler {
 public:
  virtual ~socket_handler() = default;
  // The handshake completed; `s` stays valid until on_close.
  virtual void on_open(socket& s) = 0;
  // One complete message. Binary frames arrive with binary = true.
  virtual void on_message(socket& s, std::string message, bool binary) = 0;
  // Called once, after which the socket drops its reference to the handler. Not called when the
  // handshake itself failed.
  virtual void on_close(socket& s, const close_info& why) = 0;
};

// One accepted connection (plain or TLS). send() and close() may be called from any thread; the
// _now variants only on the socket's strand (inside a handler callback) and take effect in order.
class socket : public std::enable_shared_from_this<socket> {
 public:
  virtual ~socket() = default;
  virtual void send(std::string text) = 0;
  virtual void close(std::uint16_t code, std::string reason) = 0;
  virtual void send_now(std::string text) = 0;
  virtual void close_now(std::uint16_t code, std::string reason) = 0;
  virtual boost::asio::any_io_executor executor() const = 0;
};

// Takes the stream and the listener slot out of `u` and starts the WebSocket handshake; the
// handler hears on_open once it completes. Must run on the upgrade's strand (inside the
// upgrade_handler). Returns nullptr when the stream was already taken.
std::shared_ptr<socket> accept(std::unique_ptr<upgrade> u, const options& o,
                               std::shared_ptr<socket_handler> h);

// Origin check for a WebSocket handshake. Empty `allowed`: same origin only (the Origin's
// scheme://host matches the request's own Host). Else any entry equal to the Origin
// (case-insensitive) or "*". A request without Origin (not a browser) passes.
bool origin_allowed(const request& r, const std::vector<std::string>& allowed);

}  // namespace ws
}  // namespace omni::core::http
