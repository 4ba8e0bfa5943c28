// WebSocket round-trip load client for webchat_load.py: C connections, one thread each (Beast's
// synchronous client), every connection sends W messages and then reads W replies, until D
// seconds have passed. Prints one JSON line: messages, seconds, rate. The same client drives
// omniroute's web chat and the Node `ws` echo server, so the two rates compare the servers.
//
//   ws_load_client HOST PORT PATH CONNECTIONS WINDOW SECONDS MESSAGE [START_MESSAGE]
// With START_MESSAGE, each connection sends it first and waits for one reply (the welcome).
// Replies are counted by text frame, whatever they say.
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

int main(int argc, char** argv) {
  if (argc < 8) {
    std::fprintf(stderr,
                 "usage: ws_load_client HOST PORT PATH CONNECTIONS WINDOW SECONDS MESSAGE "
                 "[START_MESSAGE]\n");
    return 2;
  }
  const std::string host = argv[1], port = argv[2], path = argv[3];
  const int connections = std::stoi(argv[4]);
  const int window = std::stoi(argv[5]);
  const double seconds = std::stod(argv[6]);
  const std::string message = argv[7];
  const std::string start = argc > 8 ? argv[8] : "";

  std::atomic<std::uint64_t> total{0};
  std::atomic<int> ready{0}, failed{0};
  std::atomic<bool> go{false}, done{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&] {
      try {
        asio::io_context ioc;
        asio::ip::tcp::resolver resolver(ioc);
        websocket::stream<beast::tcp_stream> ws(ioc);
        beast::get_lowest_layer(ws).connect(resolver.resolve(host, port));
        ws.set_option(websocket::stream_base::decorator([](websocket::request_type& r) {
          r.set(beast::http::field::origin, "http://bench.invalid");
        }));
        ws.handshake(host + ":" + port, path);
        ws.text(true);
        beast::flat_buffer buf;
        if (!start.empty()) {
          ws.write(asio::buffer(start));
          ws.read(buf);
          buf.consume(buf.size());
        }
        ++ready;
        while (!go) std::this_thread::yield();
        std::uint64_t n = 0;
        while (!done) {
          for (int i = 0; i < window; ++i) ws.write(asio::buffer(message));
          for (int i = 0; i < window; ++i) {
            ws.read(buf);
            buf.consume(buf.size());
          }
          n += static_cast<std::uint64_t>(window);
        }
        total += n;
        beast::error_code ec;
        ws.close(websocket::close_code::normal, ec);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "connection failed: %s\n", e.what());
        ++failed;
        ++ready;
      }
    });
  }
  while (ready < connections) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto t0 = std::chrono::steady_clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  done = true;
  for (auto& t : threads) t.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(R"({"messages":%llu,"seconds":%.3f,"rate":%.1f,"failed_connections":%d})"
              "\n",
              static_cast<unsigned long long>(total.load()), elapsed,
              static_cast<double>(total.load()) / elapsed, failed.load());
  return failed == 0 ? 0 : 1;
}
