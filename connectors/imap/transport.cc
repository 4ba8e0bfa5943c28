#include "connectors/imap/transport.h"

#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace omni::connectors::imap {

namespace asio = boost::asio;
using asio::ip::tcp;

std::shared_ptr<asio::ssl::context> make_tls_context(const std::string& ca_file, bool verify) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  if (verify) {
    if (ca_file.empty())
      ctx->set_default_verify_paths();
    else
      ctx->load_verify_file(ca_file);
    ctx->set_verify_mode(asio::ssl::verify_peer);
  } else {
    ctx->set_verify_mode(asio::ssl::verify_none);
  }
  return ctx;
}

transport::transport(asio::any_io_executor ex, std::shared_ptr<asio::ssl::context> tls)
    : socket_(ex), tls_context_(std::move(tls)), deadline_(ex) {}

void transport::arm(std::optional<std::chrono::milliseconds> timeout) {
  deadline_.cancel();
  if (!timeout) return;
  deadline_.expires_after(*timeout);
  deadline_.async_wait([this](boost::system::error_code ec) {
    if (!ec) socket_.cancel();
  });
}

asio::awaitable<void> transport::connect(const std::string& host, std::uint16_t port,
                                         std::chrono::milliseconds timeout) {
  tcp::resolver resolver(socket_.get_executor());
  arm(timeout);
  auto endpoints = co_await resolver.async_resolve(host, std::to_string(port), asio::use_awaitable);
  co_await asio::async_connect(socket_, endpoints, asio::use_awaitable);
  deadline_.cancel();
  socket_.set_option(tcp::no_delay(true));
  socket_.set_option(asio::socket_base::keep_alive(true));
  int idle = 60, interval = 20, count = 3;  // a dead peer is noticed within about two minutes
  ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

asio::awaitable<void> transport::handshake(const std::string& host,
                                           std::chrono::milliseconds timeout) {
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *tls_context_);
  SSL_set_tlsext_host_name(tls_->native_handle(), host.c_str());
  tls_->set_verify_callback(asio::ssl::host_name_verification(host));
  arm(timeout);
  co_await tls_->async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
  deadline_.cancel();
}

asio::awaitable<std::size_t> transport::read_some(
    char* buf, std::size_t n, std::optional<std::chrono::milliseconds> timeout) {
  arm(timeout);
  std::size_t got = 0;
  if (tls_)
    got = co_await tls_->async_read_some(asio::buffer(buf, n), asio::use_awaitable);
  else
    got = co_await socket_.async_read_some(asio::buffer(buf, n), asio::use_awaitable);
  deadline_.cancel();
  co_return got;
}

asio::awaitable<void> transport::write(std::string data, std::chrono::milliseconds timeout) {
  arm(timeout);
  if (tls_)
    co_await asio::async_write(*tls_, asio::buffer(data), asio::use_awaitable);
  else
    co_await asio::async_write(socket_, asio::buffer(data), asio::use_awaitable);
  deadline_.cancel();
}

void transport::write_detached(const char* constant) {
  auto buf = asio::buffer(constant, std::char_traits<char>::length(constant));
  auto ignore = [](boost::system::error_code, std::size_t) {};
  if (tls_)
    asio::async_write(*tls_, buf, ignore);
  else
    asio::async_write(socket_, buf, ignore);
}

void transport::close() {
  deadline_.cancel();
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

}  // namespace omni::connectors::imap
