// core/http/websocket.h against a real listener and Beast's WebSocket client: the message size cap,
// invalid UTF-8 (also split between fragments), fragments with a control frame between them, a
// burst answered in order, an unmasked frame, the bounded send queue (a burst beyond it closes with
// the too-slow code instead of growing), keepalive pings and the idle timeout, a server close, a
// peer close, and the Origin rule.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "core/http/listener.h"
#include "core/http/upgrade.h"
#include "core/http/websocket.h"

namespace omni::core::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using namespace std::chrono_literals;

// Echoes text; "burst" answers with 64 messages of 64 KiB at once; "bye" closes with 4000.
class echo : public ws::socket_handler {
 public:
  void on_open(ws::socket&) override {}
  void on_message(ws::socket& s, std::string m, bool) override {
    if (m == "burst") {
      for (int i = 0; i < 64; ++i) s.send_now(std::string(64 * 1024, 'x'));
    } else if (m == "bye") {
      s.close_now(4000, "bye");
    } else {
      s.send_now(std::move(m));
    }
  }
  void on_close(ws::socket&, const ws::close_info& why) override {
    std::lock_guard lock(mutex);
    closed = std::string(why.cause);
    code = why.code;
    cv.notify_all();
  }
  std::string wait_closed() {
    std::unique_lock lock(mutex);
    cv.wait_for(lock, 10s, [&] { return !closed.empty(); });
    return closed;
  }
  std::mutex mutex;
  std::condition_variable cv;
  std::string closed;
  std::uint16_t code = 0;
};

// Runs every test on both kinds of server socket: the compact one (no extension offered) and
// Beast's (permessage-deflate offered; Beast's client does not take it).
class websocket_test : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    listener_ = std::make_unique<listener>(ioc_, settings{});
    listener_->add_upgrade("/ws", [this](std::unique_ptr<upgrade> u) {
      if (!ws::origin_allowed(u->info(), {"https://shop.example"}))
        return u->reject(response::error(403, "origin not allowed"));
      ws::accept(std::move(u), options_, handler_);
    });
    ASSERT_FALSE(listener_->start().has_value());
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void TearDown() override {
    listener_->stop();
    work_.reset();
    ioc_.stop();
    thread_.join();
  }

  std::unique_ptr<websocket::stream<beast::tcp_stream>> connect(
      std::string origin = "https://shop.example") {
    auto c = std::make_unique<websocket::stream<beast::tcp_stream>>(client_ioc_);
    beast::get_lowest_layer(*c).connect(listener_->local_endpoint());
    c->set_option(websocket::stream_base::decorator(
        [origin](websocket::request_type& r) { r.set(beast::http::field::origin, origin); }));
    c->handshake("127.0.0.1", "/ws");
    return c;
  }

  // Reads until the server's close; returns its code (0 when the connection just dropped).
  static std::uint16_t read_until_close(websocket::stream<beast::tcp_stream>& c) {
    beast::flat_buffer b;
    beast::error_code ec;
    while (!ec) {
      c.read(b, ec);
      b.consume(b.size());
    }
    // The close frame's code once one arrived, even when the TCP teardown after it then failed
    // (a server that closes with unread bytes in its socket may reset the connection).
    return c.reason().code;
  }

  // The tests may change them before they connect.
  ws::options options_ = [this] {
    ws::options o;
    o.max_message_bytes = 1024;
    o.send_queue_bytes = 256 * 1024;
    o.deflate = GetParam();
    return o;
  }();
  asio::io_context ioc_, client_ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  std::unique_ptr<listener> listener_;
  std::shared_ptr<echo> handler_ = std::make_shared<echo>();
  std::thread thread_;
};

TEST_P(websocket_test, echoes_then_closes_1009_over_the_size_cap) {
  auto c = connect();
  c->write(asio::buffer(std::string("Привет")));
  beast::flat_buffer b;
  c->read(b);
  EXPECT_EQ(beast::buffers_to_string(b.data()), "Привет");
  // Read in pieces (a small first read while idle): a message under the cap arrives whole.
  std::string big;
  for (int i = 0; i < 70; ++i) big += "Заказ" + std::to_string(i);
  ASSERT_LT(big.size(), 1024u);
  ASSERT_GT(big.size(), 256u);
  b.consume(b.size());
  c->write(asio::buffer(big));
  c->read(b);
  EXPECT_EQ(beast::buffers_to_string(b.data()), big);
  c->write(asio::buffer(std::string(2000, 'x')));
  EXPECT_EQ(read_until_close(*c), ws::close_code::too_big);
  EXPECT_EQ(handler_->wait_closed(), "too_big");
}

TEST_P(websocket_test, invalid_utf8_closes_1007) {
  auto c = connect();
  c->text(true);
  beast::error_code ec;
  // Beast's client checks nothing on write: the bytes go out as a text frame.
  c->write(asio::buffer(std::string("\xff\xfe")), ec);
  EXPECT_EQ(read_until_close(*c), ws::close_code::bad_payload);
  EXPECT_EQ(handler_->wait_closed(), "bad_utf8");
}

TEST_P(websocket_test, a_burst_beyond_the_send_queue_closes_the_reader_as_too_slow) {
  auto c = connect();
  c->write(asio::buffer(std::string("burst")));
  EXPECT_EQ(read_until_close(*c), 4429);
  EXPECT_EQ(handler_->wait_closed(), "too_slow");
}

TEST_P(websocket_test, a_reader_that_reads_nothing_is_cut_off) {
  auto c = connect();
  c->write(asio::buffer(std::string("burst")));
  // Never read: the first 64 KiB message cannot be written out completely, so the close frame
  // never gets out either; the connection is dropped after the grace period.
  EXPECT_EQ(handler_->wait_closed(), "too_slow");
  EXPECT_EQ(handler_->code, 4429);
}

TEST_P(websocket_test, server_close_and_origin) {
  auto c = connect();
  c->write(asio::buffer(std::string("bye")));
  EXPECT_EQ(read_until_close(*c), 4000);
  EXPECT_EQ(handler_->wait_closed(), "server");
  EXPECT_EQ(handler_->code, 4000);
  EXPECT_THROW(connect("https://evil.example"), beast::system_error);
}

TEST_P(websocket_test, fragments_with_a_ping_between_make_one_message_and_the_ping_is_answered) {
  auto c = connect();
  bool pong = false;
  c->control_callback([&](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::pong) pong = true;
  });
  c->auto_fragment(false);
  // "Привет" cut inside the 'и' (D0 B8): UTF-8 is checked across fragments.
  c->write_some(false, asio::buffer(std::string("Пр\xd0")));
  c->ping({});
  c->write_some(true, asio::buffer(std::string("\xb8вет")));
  beast::flat_buffer b;
  c->read(b);
  EXPECT_EQ(beast::buffers_to_string(b.data()), "Привет");
  EXPECT_TRUE(pong);
}

TEST_P(websocket_test, a_burst_of_messages_is_answered_in_order) {
  auto c = connect();
  for (int i = 0; i < 200; ++i) c->write(asio::buffer(std::to_string(i)));
  beast::flat_buffer b;
  for (int i = 0; i < 200; ++i) {
    c->read(b);
    ASSERT_EQ(beast::buffers_to_string(b.data()), std::to_string(i));
    b.consume(b.size());
  }
}

TEST_P(websocket_test, an_unmasked_frame_closes_1002) {
  auto c = connect();
  // A client frame must be masked (RFC 6455 5.1): the bytes go out raw, past Beast's client.
  asio::write(beast::get_lowest_layer(*c).socket(), asio::buffer(std::string("\x81\x02hi")));
  EXPECT_EQ(read_until_close(*c), ws::close_code::protocol_error);
  EXPECT_EQ(handler_->wait_closed(), "protocol");
}

TEST_P(websocket_test, frames_against_rfc_6455_close_1002) {
  // Header bytes, then the mask key 0 (payload bytes go out as they are), then the payload.
  const std::vector<std::pair<const char*, std::string>> frames = {
      {"an extension bit without an extension", std::string("\xc1\x82", 2) + "hi"},
      {"a reserved opcode", std::string("\x83\x82", 2) + "hi"},
      {"a fragmented ping", std::string("\x09\x80", 2)},
      {"a control frame over 125 bytes", std::string("\x89\xfe\x00\x7e", 4)},
      {"a continuation of nothing", std::string("\x80\x82", 2) + "hi"},
      {"a length not in its shortest form", std::string("\x81\xfe\x00\x02", 4) + "hi"},
      {"a close frame with a reserved code", std::string("\x88\x82", 2) + "\x03\xed"},
      {"a close frame with one byte", std::string("\x88\x81", 2) + "\x03"},
  };
  for (const auto& [what, frame] : frames) {
    SCOPED_TRACE(what);
    handler_ = std::make_shared<echo>();
    auto c = connect();
    const std::size_t head = frame[1] == '\xfe' ? 4 : 2;
    const std::string bytes = frame.substr(0, head) + std::string(4, '\0') + frame.substr(head);
    asio::write(beast::get_lowest_layer(*c).socket(), asio::buffer(bytes));
    EXPECT_EQ(read_until_close(*c), ws::close_code::protocol_error);
    EXPECT_EQ(handler_->wait_closed(), "protocol");
  }
}

TEST_P(websocket_test, the_peer_closes) {
  auto c = connect();
  c->close(websocket::close_reason(websocket::close_code::going_away, "page closed"));
  EXPECT_EQ(handler_->wait_closed(), "peer");
  EXPECT_EQ(handler_->code, ws::close_code::going_away);
}

TEST_P(websocket_test, keepalive_pings_a_reader_then_times_it_out_once_it_is_silent) {
  options_.idle_timeout = 400ms;
  auto reader = connect();
  int pings = 0;
  reader->control_callback([&](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::ping) ++pings;
  });
  // A reader answers the pings (Beast's client does while it reads) and stays connected.
  beast::flat_buffer b;
  reader->async_read(b, [](beast::error_code, std::size_t) {});
  client_ioc_.run_for(1500ms);
  EXPECT_GE(pings, 2);
  {
    std::lock_guard lock(handler_->mutex);
    EXPECT_EQ(handler_->closed, "");
  }
  // Once it reads nothing it answers nothing: gone after the idle timeout.
  EXPECT_EQ(handler_->wait_closed(), "timeout");
}

INSTANTIATE_TEST_SUITE_P(kinds, websocket_test, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "beast_deflate" : "compact"; });

TEST(websocket_origin, same_origin_by_default_list_or_star) {
  request r;
  r.headers.add("Host", "chat.example:8080");
  EXPECT_TRUE(ws::origin_allowed(r, {}));  // not a browser: no Origin
  r.headers.add("Origin", "http://chat.example:8080");
  EXPECT_TRUE(ws::origin_allowed(r, {}));
  r.secure = true;
  EXPECT_FALSE(ws::origin_allowed(r, {}));  // https page, plain origin
  EXPECT_TRUE(ws::origin_allowed(r, {"HTTP://CHAT.example:8080"}));
  EXPECT_FALSE(ws::origin_allowed(r, {"https://chat.example"}));
  EXPECT_TRUE(ws::origin_allowed(r, {"*"}));
}

}  // namespace
}  // namespace omni::core::http
