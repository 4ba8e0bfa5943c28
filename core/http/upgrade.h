#pragma once
// The protocol-upgrade hook: how a WebSocket module (agent desk, web chat) takes a connection over
// from the HTTP listener. Includes Beast, so only modules that speak the upgraded protocol include
// it; handler-only modules include "core/http/listener.h".
//
// Flow, for a request with `Connection: upgrade` and an `Upgrade:` field on a path registered
// with listener::add_upgrade():
//   1. the listener reads the complete request (limits and timeouts apply as for any request),
//   2. calls the upgrade_handler on the connection's strand with a std::unique_ptr<upgrade>,
//   3. the handler either
//        - takes the stream (take_tcp_stream() / take_tls_stream(), on executor()) plus the
//          connection slot (take_slot()) and runs e.g.
//          `websocket::stream<tcp_stream> ws(std::move(*s)); ws.async_accept(u->native(), ...)`,
//        - or answers with reject(response) (401, 403, 400 ...): the listener writes it and closes,
//        - or keeps the upgrade object a while (e.g. an async auth check) and does one of those
//          later; until then the connection is idle and counted.
//   Dropping the upgrade object without taking the stream or rejecting closes the connection.
//   The handler must act within settings::handler_timeout or the connection is closed.
// After take_*: the listener forgets the connection (stop() does not touch it; the upgraded
// protocol must close it on its own shutdown), the stream's timeout is cleared (expires_never),
// and the taker sets its own. Bytes pipelined after the upgrade request are not carried over
// (a WebSocket client waits for the 101 before it sends frames).

#include <memory>
#include <optional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "core/http/listener.h"

namespace omni::core::http {

using tcp_stream = boost::beast::tcp_stream;
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
using native_request = boost::beast::http::request<boost::beast::http::string_body>;

namespace detail {
// Implemented by the listener's connection; the upgrade object forwards to it.
class upgrade_source {
 public:
  virtual ~upgrade_source() = default;
  virtual boost::asio::any_io_executor executor() const = 0;
  virtual std::optional<tcp_stream> take_tcp_stream() = 0;
  virtual std::optional<tls_stream> take_tls_stream() = 0;
  virtual std::shared_ptr<void> take_slot() = 0;
  virtual void reject(response r) = 0;
  virtual void abandon() = 0;
};
}  // namespace detail

// One connection offered for a protocol upgrade. Owned by the upgrade handler (move-only, via
// unique_ptr). take_* must run on executor() (the connection's strand; the handler is called
// there); reject() may be called from any thread.
class upgrade {
 public:
  upgrade(std::shared_ptr<detail::upgrade_source> source, request info, native_request native)
      : source_(std::move(source)), info_(std::move(info)), native_(std::move(native)) {}
  ~upgrade() {
    if (source_ && !finished_) source_->abandon();
  }
  upgrade(const upgrade&) = delete;
  upgrade& operator=(const upgrade&) = delete;

  // The parsed request: path, query, headers (Sec-WebSocket-*, Origin, cookies), remote address.
  const request& info() const { return info_; }
  // The request as Beast parsed it, for websocket::stream::async_accept(native()).
  const native_request& native() const { return native_; }
  bool secure() const { return info_.secure; }
  boost::asio::any_io_executor executor() const { return source_->executor(); }

  // The plain or TLS stream, whichever the listener speaks; nullopt for the other kind or when
  // already taken. The first successful take ends the listener's involvement.
  std::optional<tcp_stream> take_tcp_stream() { return finish(source_->take_tcp_stream()); }
  std::optional<tls_stream> take_tls_stream() { return finish(source_->take_tls_stream()); }
  // The connection's place under settings::max_connections (active_connections). Keep it alive as
  // long as the upgraded connection lives; destroying it frees the place.
  std::shared_ptr<void> take_slot() { return source_->take_slot(); }

  // Answer with an ordinary HTTP response and close, instead of upgrading.
  void reject(response r) {
    if (finished_) return;
    finished_ = true;
    source_->reject(std::move(r));
  }

 private:
  template <class T>
  std::optional<T> finish(std::optional<T> s) {
    if (s) finished_ = true;
    return s;
  }

  std::shared_ptr<detail::upgrade_source> source_;
  request info_;
  native_request native_;
  bool finished_ = false;
};

}  // namespace omni::core::http
