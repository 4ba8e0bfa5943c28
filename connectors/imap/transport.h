#pragma once
// A client connection for the mail protocols (IMAP, SMTP): TCP with keepalive, optionally TLS from
// the start or after STARTTLS, with a deadline on every operation (the socket is cancelled when
// it passes). Used from coroutines on one strand; the socket and timer live on that strand.

#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace omni::connectors::imap {

// A TLS client context: the system trust store or `ca_file`; peer verification on or off.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const std::string& ca_file,
                                                            bool verify);

class transport {
 public:
  transport(boost::asio::any_io_executor ex, std::shared_ptr<boost::asio::ssl::context> tls);

  boost::asio::awaitable<void> connect(const std::string& host, std::uint16_t port,
                                       std::chrono::milliseconds timeout);
  // TLS client handshake with SNI and host-name verification (when the context verifies).
  boost::asio::awaitable<void> handshake(const std::string& host,
                                         std::chrono::milliseconds timeout);
  // nullopt timeout: wait as long as it takes (IMAP IDLE; keepalive detects a dead peer).
  boost::asio::awaitable<std::size_t> read_some(char* buf, std::size_t n,
                                                std::optional<std::chrono::milliseconds> timeout);
  boost::asio::awaitable<void> write(std::string data, std::chrono::milliseconds timeout);
  // Writes a constant without waiting (IMAP "DONE" while a read is outstanding).
  void write_detached(const char* constant);
  void close();
  bool secure() const { return tls_ != nullptr; }

 private:
  void arm(std::optional<std::chrono::milliseconds> timeout);

  boost::asio::ip::tcp::socket socket_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
  boost::asio::steady_timer deadline_;
};

}  // namespace omni::connectors::imap
