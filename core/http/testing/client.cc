#include "core/http/testing/client.h"

#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace omni::core::http::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// Runs the io_context until its work is done, then readies it for the next step.
void run(asio::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

template <class Stream>
reply exchange(asio::io_context& ioc, Stream& stream, beast::flat_buffer& buffer,
               client_request req, const client_options& opt) {
  reply out;
  bhttp::request<bhttp::string_body> r;
  r.method_string(req.method);
  r.target(req.target);
  r.version(11);
  r.set(bhttp::field::host, opt.host);
  for (const auto& f : req.headers) r.insert(f.name, f.value);
  const bool has_length = req.headers.contains("content-length");
  const bool has_te = req.headers.contains("transfer-encoding");
  r.body() = std::move(req.body);
  if (!has_length && !has_te &&
      (!r.body().empty() || req.method == "POST" || req.method == "PUT")) {
    r.content_length(r.body().size());
  }

  error_code ec;
  beast::get_lowest_layer(stream).expires_after(opt.timeout);
  bhttp::async_write(stream, r, [&](error_code e, std::size_t) { ec = e; });
  run(ioc);
  if (ec) {
    out.error = "write: " + ec.message();
    return out;
  }

  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  if (req.method == "HEAD") parser.skip(true);
  beast::get_lowest_layer(stream).expires_after(opt.timeout);
  bhttp::async_read(stream, buffer, parser, [&](error_code e, std::size_t) { ec = e; });
  run(ioc);
  if (ec) {
    out.error = "read: " + ec.message();
    return out;
  }
  auto res = parser.release();
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) out.headers.add(std::string(f.name_string()), std::string(f.value()));
  out.body = std::move(res.body());
  out.keep_alive = res.keep_alive();
  return out;
}

}  // namespace

struct client::impl {
  explicit impl(client_options o) : opt(std::move(o)) {}

  bool connect(std::uint16_t port) {
    error_code ec;
    auto address = asio::ip::make_address(opt.host, ec);
    if (ec) {
      tcp::resolver resolver(ioc);
      auto results = resolver.resolve(opt.host, std::to_string(port), ec);
      if (ec || results.empty()) {
        error = "resolve: " + ec.message();
        return false;
      }
      address = results.begin()->endpoint().address();
    }
    const tcp::endpoint ep(address, port);
    tcp_stream* lowest = nullptr;
    if (opt.tls) {
      tls.emplace(ioc, ctx);
      lowest = &beast::get_lowest_layer(*tls);
    } else {
      plain.emplace(ioc);
      lowest = &*plain;
    }
    lowest->expires_after(opt.timeout);
    lowest->async_connect(ep, [&](error_code e) { ec = e; });
    run(ioc);
    if (ec) {
      error = "connect: " + ec.message();
      return false;
    }
    if (tls) {
      lowest->expires_after(opt.timeout);
      tls->async_handshake(asio::ssl::stream_base::client, [&](error_code e) { ec = e; });
      run(ioc);
      if (ec) {
        error = "handshake: " + ec.message();
        return false;
      }
    }
    connected = true;
    return true;
  }

  reply send(client_request req) {
    if (!connected) {
      reply r;
      r.error = error.empty() ? "not connected" : error;
      return r;
    }
    return tls ? exchange(ioc, *tls, buffer, std::move(req), opt)
               : exchange(ioc, *plain, buffer, std::move(req), opt);
  }

  using tcp_stream = beast::tcp_stream;
  client_options opt;
  asio::io_context ioc;
  asio::ssl::context ctx{asio::ssl::context::tls_client};
  std::optional<tcp_stream> plain;
  std::optional<beast::ssl_stream<tcp_stream>> tls;
  beast::flat_buffer buffer;
  std::string error;
  bool connected = false;
};

client::client(std::uint16_t port, client_options opt) : impl_(std::make_unique<impl>(opt)) {
  impl_->ctx.set_verify_mode(asio::ssl::verify_none);
  impl_->connect(port);
}

client::~client() = default;

bool client::connected() const { return impl_->connected; }
const std::string& client::error() const { return impl_->error; }
reply client::send(client_request req) { return impl_->send(std::move(req)); }
reply client::get(std::string target) {
  client_request r;
  r.target = std::move(target);
  return send(std::move(r));
}

reply fetch(std::uint16_t port, client_request req, const client_options& opt) {
  client c(port, opt);
  return c.send(std::move(req));
}

reply get(std::uint16_t port, std::string target, const client_options& opt) {
  client_request r;
  r.target = std::move(target);
  return fetch(port, std::move(r), opt);
}

reply post(std::uint16_t port, std::string target, std::string body, std::string content_type,
           const client_options& opt) {
  client_request r;
  r.method = "POST";
  r.target = std::move(target);
  r.body = std::move(body);
  r.headers.set("Content-Type", std::move(content_type));
  return fetch(port, std::move(r), opt);
}

// ---- raw_socket ----------------------------------------------------------------------------

struct raw_socket::impl {
  asio::io_context ioc;
  tcp::socket socket{ioc};
  asio::steady_timer timer{ioc};
  std::string received;
  bool connected = false;
  bool closed = false;

  // Runs one asynchronous operation with a deadline; on expiry the socket's operations are
  // cancelled (the socket stays usable).
  template <class Start>
  error_code with_deadline(std::chrono::milliseconds timeout, Start start) {
    error_code result = asio::error::would_block;
    bool done = false;
    timer.expires_after(timeout);
    timer.async_wait([&](error_code ec) {
      if (!ec && !done) {
        error_code ignored;
        socket.cancel(ignored);
      }
    });
    start([&](error_code ec) {
      done = true;
      result = ec;
      timer.cancel();
    });
    ioc.restart();
    ioc.run();
    return result;
  }

  // Reads once (at least one byte) into `received`. Returns false on timeout or close.
  bool read_once(std::chrono::milliseconds timeout) {
    if (closed) return false;
    char buf[8192];
    std::size_t got = 0;
    auto ec = with_deadline(timeout, [&](auto done) {
      socket.async_read_some(asio::buffer(buf), [&, done](error_code e, std::size_t n) {
        got = n;
        done(e);
      });
    });
    received.append(buf, got);
    if (ec && ec != asio::error::operation_aborted) closed = true;
    return !ec;
  }
};

raw_socket::raw_socket(std::uint16_t port, std::string host,
                       std::chrono::milliseconds connect_timeout)
    : impl_(std::make_unique<impl>()) {
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return;
  ec = impl_->with_deadline(connect_timeout, [&](auto done) {
    impl_->socket.async_connect(tcp::endpoint(address, port), done);
  });
  impl_->connected = !ec;
}

raw_socket::~raw_socket() { close(); }

bool raw_socket::connected() const { return impl_->connected; }

bool raw_socket::write(std::string_view bytes, std::chrono::milliseconds timeout) {
  if (!impl_->connected || impl_->closed) return false;
  auto ec = impl_->with_deadline(timeout, [&](auto done) {
    asio::async_write(impl_->socket, asio::buffer(bytes.data(), bytes.size()),
                      [done](error_code e, std::size_t) { done(e); });
  });
  return !ec;
}

std::string raw_socket::read_until(std::string_view delimiter, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (impl_->received.find(delimiter) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms || !impl_->read_once(left)) break;
  }
  return impl_->received;
}

std::string raw_socket::read_all(std::chrono::milliseconds timeout) {
  wait_closed(timeout);
  return impl_->received;
}

bool raw_socket::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!impl_->closed) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) break;
    impl_->read_once(left);
  }
  return impl_->closed;
}

bool raw_socket::peer_closed() const { return impl_->closed; }

const std::string& raw_socket::received() const { return impl_->received; }

void raw_socket::close() {
  error_code ignored;
  impl_->socket.close(ignored);
}

int status_of(std::string_view raw) {
  // "HTTP/1.1 200 OK"
  if (raw.size() < 12 || raw.substr(0, 5) != "HTTP/") return 0;
  auto sp = raw.find(' ');
  if (sp == std::string_view::npos || sp + 4 > raw.size()) return 0;
  int code = 0;
  for (std::size_t i = sp + 1; i < sp + 4; ++i) {
    if (raw[i] < '0' || raw[i] > '9') return 0;
    code = code * 10 + (raw[i] - '0');
  }
  return code;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace omni::core::http::testing
