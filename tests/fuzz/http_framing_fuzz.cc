// Fuzzes the HTTP/1.1 listener's framing (core/http/listener.cc) end to end: each input is the byte
// stream of one client connection (request lines, headers, chunked bodies with extensions and
// trailers, obsolete line folding, pipelined requests), written to a real listener on loopback with
// tight limits. The io threads run without the daemon's exception boundary, so anything that
// escapes (Beast throws on a field over 64 KiB) is a crash here, as it would have been in the
// daemon before the boundary. Checked: every response starts with a well-formed status line; a
// handler never sees a body over body_limit; no crash, hang or sanitizer report.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "core/http/listener.h"

namespace {

namespace http = omni::core::http;
using namespace std::chrono_literals;

constexpr std::size_t body_limit = 4096;

struct server {
  boost::asio::io_context ioc;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{ioc.get_executor()};
  std::unique_ptr<http::listener> listener;
  std::thread thread;

  server() {
    http::settings s;
    s.port = 0;
    s.header_limit = 2048;
    s.body_limit = body_limit;
    s.read_timeout = 500ms;
    s.idle_timeout = 500ms;
    s.handler_timeout = 500ms;
    listener = std::make_unique<http::listener>(ioc, s);
    auto echo = [](http::request q, http::responder r) {
      if (q.body.size() > body_limit) std::abort();  // the limit was not enforced
      r.send(http::response::text(200, std::to_string(q.body.size())));
    };
    listener->add(http::method::post, "/hook", echo);
    listener->add(http::method::get, "/hook", echo);
    listener->add_prefix(http::method::any, "/p/", echo);
    if (listener->start()) std::abort();
    thread = std::thread([this] { ioc.run(); });  // unguarded on purpose: see the top
  }
};

server& the_server() {
  static server* s = new server();  // never destroyed: libFuzzer exits without unwinding
  return *s;
}

bool status_line_ok(std::string_view got) {
  // "HTTP/1.x NNN " at the start of every response on the connection.
  std::size_t at = 0;
  while (at < got.size()) {
    std::string_view rest = got.substr(at);
    if (rest.size() < 13) return false;
    if (rest.substr(0, 7) != "HTTP/1." || rest[8] != ' ' || rest[12] != ' ') return false;
    for (int i = 9; i < 12; ++i)
      if (rest[i] < '0' || rest[i] > '9') return false;
    // Next response: after this one's head and Content-Length body.
    auto head_end = rest.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return false;
    std::size_t length = 0;
    auto cl = rest.substr(0, head_end).find("Content-Length: ");
    if (cl != std::string_view::npos) length = std::strtoull(rest.data() + cl + 16, nullptr, 10);
    at += head_end + 4 + length;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  server& srv = the_server();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(srv.listener->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return 0;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // The first byte chooses where the stream is split in two writes (a request arriving in pieces).
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::size_t split = bytes.empty() ? 0 : static_cast<unsigned char>(bytes[0]) * bytes.size() / 256;
  for (std::string_view part : {bytes.substr(0, split), bytes.substr(split)}) {
    while (!part.empty()) {
      ssize_t n = ::send(fd, part.data(), part.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
      part.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  ::shutdown(fd, SHUT_WR);
  std::string got;
  char buf[16384];
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (std::chrono::steady_clock::now() > deadline) std::abort();  // the listener hung
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (!got.empty() && !status_line_ok(got)) std::abort();
  return 0;
}
