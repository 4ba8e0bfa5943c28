#pragma once
// Synchronous HTTP helpers for tests of any module that serves HTTP through omni::http: a
// one-shot request, a keep-alive client connection, and a raw socket for hostile tests
// (malformed, slow or oversized requests). Each object runs its own private io_context on the
// calling thread; every call has a deadline and reports failure as a value (never throws).
// Not thread-safe: use one object per thread. TLS clients do not verify the certificate.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/http/message.h"

namespace omni::core::http::testing {

using namespace std::chrono_literals;

struct client_options {
  std::string host = "127.0.0.1";
  bool tls = false;
  std::chrono::milliseconds timeout = 5s;  // per step: connect, handshake, write, read
};

struct client_request {
  std::string method = "GET";
  std::string target = "/";
  header_map headers;
  std::string body;
};

struct reply {
  int status = 0;     // 0 when no response was read; see `error`
  std::string error;  // transport error ("connect: Connection refused"), empty on success
  header_map headers;
  std::string body;
  bool keep_alive = false;

  bool ok() const { return error.empty() && status != 0; }
  std::optional<std::string_view> header(std::string_view name) const { return headers.get(name); }
};

// One request on a fresh connection.
reply fetch(std::uint16_t port, client_request req, const client_options& opt = {});
reply get(std::uint16_t port, std::string target, const client_options& opt = {});
reply post(std::uint16_t port, std::string target, std::string body,
           std::string content_type = "application/json", const client_options& opt = {});

// A keep-alive client connection: requests are sent one after another on the same socket.
class client {
 public:
  explicit client(std::uint16_t port, client_options opt = {});
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  bool connected() const;
  const std::string& error() const;  // why connecting failed
  reply send(client_request req);
  reply get(std::string target);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// A plain TCP socket that writes exactly the bytes it is given.
class raw_socket {
 public:
  explicit raw_socket(std::uint16_t port, std::string host = "127.0.0.1",
                      std::chrono::milliseconds connect_timeout = 5s);
  ~raw_socket();
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  bool connected() const;
  // Writes every byte or returns false (peer closed or reset).
  bool write(std::string_view bytes, std::chrono::milliseconds timeout = 5s);
  // Reads until `delimiter` has arrived, the peer closes, or `timeout`; returns what was read.
  std::string read_until(std::string_view delimiter, std::chrono::milliseconds timeout = 5s);
  // Reads until the peer closes or `timeout`; returns what was read.
  std::string read_all(std::chrono::milliseconds timeout = 5s);
  // True once the peer has closed (EOF or reset) within `timeout`; data read meanwhile is kept in
  // received().
  bool wait_closed(std::chrono::milliseconds timeout = 5s);
  bool peer_closed() const;
  const std::string& received() const;
  void close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Status code of a raw HTTP response ("HTTP/1.1 413 ..." -> 413), 0 if there is none.
int status_of(std::string_view raw_response);

// Polls `condition` until it holds or `timeout` passes: wait on state, never sleep a fixed time.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 5s);

}  // namespace omni::core::http::testing
