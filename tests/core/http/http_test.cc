// Tests of the shared HTTP listener over real sockets on 127.0.0.1, port 0.
// Nothing sleeps to wait for the server: every wait is on a condition with a deadline.

#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "core/http/listener.h"
#include "core/http/testing/client.h"
#include "core/http/testing/self_signed.h"
#include "core/http/upgrade.h"

namespace omni::core::http {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::eventually;
using testing::raw_socket;
using testing::status_of;

// Runs an io_context on two threads and one listener on it. With the parameter true, the
// listener's connections run on two more io_contexts of one thread each, the way the daemon runs
// its public listener; false: on strands of the shared io_context (the admin listener).
class http_listener : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
    if (GetParam()) {
      for (auto& c : contexts_) {
        context_work_.emplace_back(c.get_executor());
        threads_.emplace_back([&c] { c.run(); });
      }
    }
  }

  void TearDown() override {
    if (listener_) {
      listener_->stop();
      EXPECT_TRUE(listener_->wait_stopped(10s));
      listener_.reset();
    }
    work_.reset();
    context_work_.clear();
    ioc_.stop();
    for (auto& c : contexts_) c.stop();
    for (auto& t : threads_) t.join();
  }

  static settings quick_settings() {
    settings s;
    s.port = 0;
    s.body_limit = 1024;
    s.header_limit = 2048;
    s.read_timeout = 2s;
    s.idle_timeout = 5s;
    s.handler_timeout = 5s;
    s.shutdown_timeout = 2s;
    return s;
  }

  std::vector<asio::io_context*> connection_contexts() {
    if (!GetParam()) return {};
    return {&contexts_[0], &contexts_[1]};
  }

  // Builds the listener, lets `setup` register handlers, starts it.
  listener& start(settings s, const std::function<void(listener&)>& setup = {}) {
    listener_ = std::make_unique<listener>(ioc_, std::move(s), connection_contexts());
    listener_->add(method::get, "/hello",
                   [](request, responder r) { r.send(response::text(200, "hi")); });
    if (setup) setup(*listener_);
    auto err = listener_->start();
    EXPECT_FALSE(err) << (err ? err->message : "");
    EXPECT_NE(listener_->port(), 0);
    return *listener_;
  }

  std::uint16_t port() const { return listener_->port(); }
  const listener_stats& stats() const { return listener_->stats(); }

  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      ioc_.get_executor()};
  std::array<asio::io_context, 2> contexts_{asio::io_context(1), asio::io_context(1)};
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> context_work_;
  std::vector<std::thread> threads_;
  std::unique_ptr<listener> listener_;
};

INSTANTIATE_TEST_SUITE_P(connections, http_listener, ::testing::Values(false, true),
                         [](const auto& info) {
                           return info.param ? "on_one_thread_contexts" : "on_strands";
                         });

// ---- message types, without sockets ----

TEST(http_message, header_lookup_is_case_insensitive) {
  header_map h{{"Content-Type", "text/plain"}, {"X-Twice", "a"}, {"x-twice", "b"}};
  EXPECT_EQ(h.get("content-type"), "text/plain");
  EXPECT_EQ(h.get("X-TWICE"), "a");
  EXPECT_EQ(h.get_all("x-Twice").size(), 2u);
  h.set("X-TWICE", "c");
  EXPECT_EQ(h.get_all("x-twice").size(), 1u);
  EXPECT_FALSE(h.get("missing"));
}

TEST(http_message, target_and_query_decoding) {
  request r;
  r.set_target("/a/b%20c?x=1&name=hello%20world&plus=a+b&empty=&flag&bad=%zz");
  EXPECT_EQ(r.path, "/a/b%20c");
  EXPECT_EQ(r.query("x"), "1");
  EXPECT_EQ(r.query("name"), "hello world");
  EXPECT_EQ(r.query("plus"), "a b");
  EXPECT_EQ(r.query("empty"), "");
  EXPECT_EQ(r.query("flag"), "");
  EXPECT_EQ(r.query("bad"), "%zz");
  EXPECT_FALSE(r.query("nope"));
  EXPECT_EQ(response::error(400, "say \"hi\"\n").body, R"({"error":"say \"hi\"\n"})");
}

TEST(http_message, responder_delivers_once_and_500_when_dropped) {
  std::vector<response> got;
  {
    responder r([&](response res) { got.push_back(std::move(res)); });
    responder copy = r;
    EXPECT_TRUE(copy.send(response::text(201, "a")));
    EXPECT_FALSE(r.send(response::text(202, "b")));
    EXPECT_TRUE(r.done());
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, 201);
  {
    responder dropped([&](response res) { got.push_back(std::move(res)); });
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].status, 500);
  EXPECT_FALSE(responder().send(response{}));
}

// ---- routing ----

TEST_P(http_listener, routes_exact_prefix_404_405_and_head) {
  start(quick_settings(), [](listener& l) {
    l.add(method::post, "/hook", [](request, responder r) { r.send(response::json(200, "{}")); });
    l.add_prefix(method::get, "/desk/",
                 [](request q, responder r) { r.send(response::text(200, "desk:" + q.path)); });
    l.add_prefix(method::get, "/desk/api/",
                 [](request q, responder r) { r.send(response::text(200, "api:" + q.path)); });
    EXPECT_TRUE(l.add(method::any, "/any",
                      [](request q, responder r) { r.send(response::text(200, q.method_name)); }));
  });
  EXPECT_FALSE(listener_->add(method::get, "/empty", handler{}));

  auto hello = testing::get(port(), "/hello");
  ASSERT_TRUE(hello.ok()) << hello.error;
  EXPECT_EQ(hello.status, 200);
  EXPECT_EQ(hello.body, "hi");
  EXPECT_EQ(hello.header("server"), "omniroute");
  EXPECT_TRUE(hello.header("date"));

  auto missing = testing::get(port(), "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, R"({"error":"not found"})");
  EXPECT_EQ(missing.header("content-type"), "application/json");

  testing::client_request del;
  del.method = "DELETE";
  del.target = "/hello";
  auto wrong = testing::fetch(port(), del);
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.header("allow"), "GET, HEAD");

  EXPECT_EQ(testing::post(port(), "/hook", "{}").status, 200);
  EXPECT_EQ(testing::get(port(), "/desk/app.js").body, "desk:/desk/app.js");
  EXPECT_EQ(testing::get(port(), "/desk/api/agents").body, "api:/desk/api/agents");
  EXPECT_EQ(testing::get(port(), "/desk").status, 404);  // the prefix is "/desk/"
  testing::client_request purge{"PURGE", "/any", {}, {}};
  EXPECT_EQ(testing::fetch(port(), purge).body, "PURGE");

  testing::client_request head{"HEAD", "/hello", {}, {}};
  auto h = testing::fetch(port(), head);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "");
  EXPECT_EQ(h.header("content-length"), "2");

  EXPECT_GE(stats().requests.load(), 9u);
  EXPECT_GE(stats().responses_4xx.load(), 3u);
}

// The listener writes the response head itself (no Beast serializer): these are the bytes Beast
// wrote for the same responses (checked against the Beast-serialized listener), Date masked.
TEST_P(http_listener, response_head_bytes) {
  start(quick_settings(), [](listener& l) {
    l.add(method::post, "/fields", [](request, responder r) {
      response res = response::json(201, R"({"ok":true})");
      res.headers.add("X-Custom", "v");
      res.headers.add("content-length", "999");  // the listener's own: ignored
      res.headers.add("Bad Name", "x");          // invalid field name: dropped
      r.send(std::move(res));
    });
    l.add(method::get, "/empty", [](request, responder r) {
      response res;
      res.status = 204;
      res.body = "dropped";
      r.send(std::move(res));
    });
    l.add(method::get, "/close", [](request, responder r) {
      response res = response::text(299, "x");
      res.content_type.clear();
      res.close = true;
      r.send(std::move(res));
    });
  });
  auto masked = [](std::string raw) {
    auto at = raw.find("\r\nDate: ");
    if (at != std::string::npos) raw.replace(at + 8, raw.find("\r\n", at + 2) - at - 8, "D");
    return raw;
  };
  // One connection per request: raw_socket accumulates what it read.
  auto exchange = [&](std::string_view req, std::string_view until) {
    raw_socket s(port());
    EXPECT_TRUE(s.write(req));
    if (until.empty()) {
      EXPECT_TRUE(s.wait_closed());
      return masked(s.received());
    }
    return masked(s.read_until(until));
  };
  EXPECT_EQ(exchange("POST /fields HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "true}"),
            "HTTP/1.1 201 Created\r\nServer: omniroute\r\nDate: D\r\n"
            "Content-Type: application/json\r\nX-Custom: v\r\nContent-Length: 11\r\n\r\n"
            R"({"ok":true})");
  EXPECT_EQ(exchange("GET /empty HTTP/1.1\r\nHost: x\r\n\r\n", "\r\n\r\n"),
            "HTTP/1.1 204 No Content\r\nServer: omniroute\r\nDate: D\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n");
  EXPECT_EQ(exchange("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n", "\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nServer: omniroute\r\nDate: D\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\r\n");
  EXPECT_EQ(exchange("GET /close HTTP/1.1\r\nHost: x\r\n\r\n", ""),
            "HTTP/1.1 299 <unknown-status>\r\nServer: omniroute\r\nDate: D\r\n"
            "Content-Length: 1\r\nConnection: close\r\n\r\nx");
  // HTTP/1.0: kept alive only when asked, and then told so.
  EXPECT_EQ(exchange("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "hi"),
            "HTTP/1.0 200 OK\r\nServer: omniroute\r\nDate: D\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n"
            "Connection: keep-alive\r\n\r\nhi");
  EXPECT_EQ(exchange("GET /hello HTTP/1.0\r\n\r\n", ""),
            "HTTP/1.0 200 OK\r\nServer: omniroute\r\nDate: D\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\r\nhi");
}

// A reload adds and removes connectors while the listener serves.
TEST_P(http_listener, routes_change_while_serving_and_a_routed_request_keeps_its_handler) {
  start(quick_settings());
  EXPECT_EQ(testing::post(port(), "/hooks/late", "{}").status, 404);
  ASSERT_TRUE(listener_->add(method::post, "/hooks/late",
                             [](request, responder r) { r.send(response::text(200, "v1")); }));
  EXPECT_EQ(testing::post(port(), "/hooks/late", "{}").body, "v1");

  // Replaced while a request is inside the old handler: that request still gets the old answer.
  std::promise<responder> inside;
  ASSERT_TRUE(listener_->add(method::post, "/hooks/slow",
                             [&](request, responder r) { inside.set_value(std::move(r)); }));
  auto slow =
      std::async(std::launch::async, [&] { return testing::post(port(), "/hooks/slow", "{}"); });
  auto held = inside.get_future().get();
  ASSERT_TRUE(listener_->add(method::post, "/hooks/slow",
                             [](request, responder r) { r.send(response::text(200, "new")); }));
  held.send(response::text(200, "old"));
  EXPECT_EQ(slow.get().body, "old");
  EXPECT_EQ(testing::post(port(), "/hooks/slow", "{}").body, "new");

  ASSERT_TRUE(listener_->add_prefix(
      method::get, "/chat/", [](request, responder r) { r.send(response::text(200, "p")); }));
  EXPECT_EQ(testing::get(port(), "/chat/x.js").body, "p");
  EXPECT_EQ(listener_->paths(),
            (std::vector<std::string>{"/chat/", "/hello", "/hooks/late", "/hooks/slow"}));
  EXPECT_EQ(listener_->remove("/hooks/late"), 1u);
  EXPECT_EQ(listener_->remove("/chat/"), 1u);
  EXPECT_EQ(listener_->remove("/never"), 0u);
  EXPECT_EQ(testing::post(port(), "/hooks/late", "{}").status, 404);
  EXPECT_EQ(testing::get(port(), "/chat/x.js").status, 404);
  EXPECT_EQ(testing::get(port(), "/hello").body, "hi");
}

TEST_P(http_listener, request_exposes_query_headers_raw_body_and_peer) {
  std::mutex mu;
  std::optional<request> seen;
  start(quick_settings(), [&](listener& l) {
    l.add(method::post, "/echo", [&](request q, responder r) {
      std::string body = q.body;
      {
        std::lock_guard lock(mu);
        seen = std::move(q);
      }
      r.send(response::text(200, body));
    });
  });
  testing::client_request req;
  req.method = "POST";
  req.target = "/echo?a=1&b=hello%20world&c=x+y";
  req.headers.add("X-Signature", "sha256=abc");
  req.body = std::string("raw\0bytes\xff", 10);
  auto rep = testing::fetch(port(), req);
  ASSERT_EQ(rep.status, 200) << rep.error;
  EXPECT_EQ(rep.body, req.body);

  std::lock_guard lock(mu);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->verb, method::post);
  EXPECT_EQ(seen->method_name, "POST");
  EXPECT_EQ(seen->path, "/echo");
  EXPECT_EQ(seen->target, "/echo?a=1&b=hello%20world&c=x+y");
  EXPECT_EQ(seen->query("b"), "hello world");
  EXPECT_EQ(seen->query("c"), "x y");
  EXPECT_EQ(seen->header("x-signature"), "sha256=abc");
  EXPECT_EQ(seen->body, req.body);
  EXPECT_EQ(seen->remote_address, "127.0.0.1");
  EXPECT_NE(seen->remote_port, 0);
  EXPECT_FALSE(seen->secure);
  EXPECT_GT(seen->id, 0u);
}

TEST_P(http_listener, keep_alive_serves_two_requests_on_one_connection) {
  start(quick_settings());
  testing::client c(port());
  ASSERT_TRUE(c.connected()) << c.error();
  auto a = c.get("/hello");
  auto b = c.get("/hello");
  EXPECT_EQ(a.status, 200);
  EXPECT_TRUE(a.keep_alive);
  EXPECT_EQ(b.status, 200);
  EXPECT_EQ(stats().connections_accepted.load(), 1u);
  EXPECT_EQ(stats().requests.load(), 2u);
}

// With one-thread contexts, connections are spread round-robin over them and every request of
// a connection is handled on its context's thread; on strands, any io thread may run it.
TEST_P(http_listener, connections_stay_on_one_context_thread_and_are_spread_over_all) {
  std::mutex m;
  std::map<std::uint16_t, std::set<std::thread::id>> threads_of;  // client port -> handler threads
  start(quick_settings(), [&](listener& l) {
    l.add(method::get, "/where", [&](request req, responder r) {
      {
        std::lock_guard lock(m);
        threads_of[req.remote_port].insert(std::this_thread::get_id());
      }
      r.send(response::text(200, "here"));
    });
  });
  std::vector<std::unique_ptr<testing::client>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<testing::client>(port()));
    ASSERT_TRUE(clients.back()->connected()) << clients.back()->error();
  }
  for (int round = 0; round < 5; ++round)
    for (auto& c : clients) ASSERT_EQ(c->get("/where").status, 200);
  if (!GetParam()) return;  // strands: no thread affinity promised
  std::set<std::thread::id> context_threads;
  for (auto& c : contexts_) {
    std::promise<std::thread::id> id;
    asio::post(c, [&id] { id.set_value(std::this_thread::get_id()); });
    context_threads.insert(id.get_future().get());
  }
  std::set<std::thread::id> used;
  std::lock_guard lock(m);
  ASSERT_EQ(threads_of.size(), 4u);
  for (const auto& [client_port, ids] : threads_of) {
    EXPECT_EQ(ids.size(), 1u) << "connection from port " << client_port << " changed threads";
    used.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(used, context_threads);
}

TEST_P(http_listener, pipelined_requests_are_answered_in_order) {
  start(quick_settings(), [](listener& l) {
    l.add(method::get, "/two", [](request, responder r) { r.send(response::text(200, "two")); });
  });
  raw_socket s(port());
  ASSERT_TRUE(
      s.write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto got = s.read_until("two");
  EXPECT_NE(got.find("hi"), std::string::npos);
  EXPECT_LT(got.find("hi"), got.find("two"));
}

// ---- asynchronous completion ----

TEST_P(http_listener, responder_completes_from_another_thread) {
  std::mutex mu;
  std::vector<responder> parked;
  start(quick_settings(), [&](listener& l) {
    l.add(method::post, "/hook", [&](request, responder r) {
      std::lock_guard lock(mu);
      parked.push_back(std::move(r));  // answered later, as after a Kafka delivery report
    });
  });
  auto pending =
      std::async(std::launch::async, [&] { return testing::post(port(), "/hook", "{}"); });
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return !parked.empty();
  }));
  EXPECT_EQ(pending.wait_for(50ms), std::future_status::timeout);  // nothing sent yet
  std::thread delivery([&] {
    std::lock_guard lock(mu);
    EXPECT_TRUE(parked[0].send(response::json(200, R"({"ok":true})")));
    EXPECT_FALSE(parked[0].send(response::json(500, "{}")));
  });
  delivery.join();
  auto rep = pending.get();
  EXPECT_EQ(rep.status, 200) << rep.error;
  EXPECT_EQ(rep.body, R"({"ok":true})");
}

TEST_P(http_listener, dropped_responder_answers_500) {
  start(quick_settings(),
        [](listener& l) { l.add(method::get, "/drop", [](request, responder) {}); });
  auto rep = testing::get(port(), "/drop");
  EXPECT_EQ(rep.status, 500);
  EXPECT_EQ(rep.body, R"({"error":"no response"})");
}

TEST_P(http_listener, handler_exception_answers_500_and_server_stays_up) {
  start(quick_settings(), [](listener& l) {
    l.add(method::get, "/throw",
          [](request, responder) -> void { throw std::runtime_error("boom"); });
  });
  EXPECT_EQ(testing::get(port(), "/throw").status, 500);
  EXPECT_EQ(testing::get(port(), "/hello").status, 200);
  EXPECT_EQ(stats().handler_exceptions.load(), 1u);
  EXPECT_GE(stats().responses_5xx.load(), 1u);
}

TEST_P(http_listener, handler_timeout_answers_503_and_late_send_is_refused) {
  auto s = quick_settings();
  s.handler_timeout = 200ms;
  std::mutex mu;
  std::vector<responder> parked;
  start(s, [&](listener& l) {
    l.add(method::get, "/slow", [&](request, responder r) {
      std::lock_guard lock(mu);
      parked.push_back(std::move(r));
    });
  });
  auto rep = testing::get(port(), "/slow");
  EXPECT_EQ(rep.status, 503);
  EXPECT_EQ(stats().handler_timeouts.load(), 1u);
  std::lock_guard lock(mu);
  ASSERT_EQ(parked.size(), 1u);
  EXPECT_FALSE(parked[0].send(response::text(200, "late")));
}

// ---- limits and hostile clients ----

TEST_P(http_listener, content_length_over_limit_gets_413_before_the_body) {
  std::atomic<int> calls{0};
  start(quick_settings(), [&](listener& l) {
    l.add(method::post, "/hook", [&](request, responder r) {
      ++calls;
      r.send(response::text(200, "ok"));
    });
  });
  raw_socket s(port());
  // Only the header: a 413 must arrive without the server waiting for 10 MB of body.
  ASSERT_TRUE(s.write("POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"));
  auto got = s.read_until("\r\n\r\n", 3s);
  EXPECT_EQ(status_of(got), 413) << got;
  EXPECT_TRUE(s.wait_closed(3s));
  EXPECT_EQ(calls.load(), 0);
  EXPECT_EQ(stats().rejected_413.load(), 1u);
}

TEST_P(http_listener, chunked_body_over_limit_gets_413) {
  start(quick_settings(), [](listener& l) {
    l.add(method::post, "/hook", [](request, responder r) { r.send(response::text(200, "ok")); });
  });
  raw_socket s(port());
  std::string chunk = "200\r\n" + std::string(0x200, 'a') + "\r\n";  // 512 bytes per chunk
  ASSERT_TRUE(s.write("POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                      chunk + chunk + chunk));
  auto got = s.read_until("\r\n\r\n", 3s);
  EXPECT_EQ(status_of(got), 413) << got;
  EXPECT_EQ(stats().rejected_413.load(), 1u);

  // A chunked body within the limit is fine.
  raw_socket ok(port());
  ASSERT_TRUE(ok.write("POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                       chunk + "0\r\n\r\n"));
  EXPECT_EQ(status_of(ok.read_until("ok", 3s)), 200);
}

// Beast parses a chunk-size line and the trailer only once they are whole in the read buffer, and
// throws on a field over 64 KiB: both are bounded by the header limit through the buffer's size.
TEST_P(http_listener, long_chunk_extension_gets_431_without_buffering_it) {
  std::atomic<int> calls{0};
  start(quick_settings(), [&](listener& l) {
    l.add(method::post, "/hook", [&](request, responder r) {
      ++calls;
      r.send(response::text(200, "ok"));
    });
  });
  raw_socket s(port());
  ASSERT_TRUE(
      s.write("POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext="));
  // 1 MiB of extension, never ending: refused once the buffer (about the header limit) is full.
  for (int i = 0; i < 256 && s.write(std::string(4096, 'e')); ++i) {
  }
  auto got = s.read_until("\r\n\r\n", 3s);
  EXPECT_EQ(status_of(got), 431) << got;
  EXPECT_NE(got.find("chunk extension or trailer fields too large"), std::string::npos) << got;
  EXPECT_EQ(calls.load(), 0);
  EXPECT_EQ(stats().rejected_431.load(), 1u);
}

TEST_P(http_listener, trailer_field_of_64k_gets_431_and_the_listener_lives) {
  for (std::size_t limit : {std::size_t{2048}, std::size_t{1} << 20}) {  // the second is clamped
    auto s = quick_settings();
    s.header_limit = limit;
    s.body_limit = 1 << 20;
    start(s, [](listener& l) {
      l.add(method::post, "/hook", [](request, responder r) { r.send(response::text(200, "ok")); });
    });
    raw_socket c(port());
    ASSERT_TRUE(
        c.write("POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n0\r\nX-Trailer: " +
                std::string(70'000, 't') + "\r\n\r\n"));
    auto got = c.read_until("\r\n\r\n", 3s);
    EXPECT_EQ(status_of(got), 431) << got;
    // A big header field when the configured limit is above what the parser can hold: 431 too.
    raw_socket h(port());
    ASSERT_TRUE(h.write("GET /hook HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70'000, 'b') +
                        "\r\n\r\n"));
    EXPECT_EQ(status_of(h.read_until("\r\n\r\n", 3s)), 431);
    // And the listener still serves.
    raw_socket ok(port());
    ASSERT_TRUE(
        ok.write("POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5\r\nhello\r\n0\r\nX-Small: yes\r\n\r\n"));
    EXPECT_EQ(status_of(ok.read_until("ok", 3s)), 200);
    listener_->stop();
    EXPECT_TRUE(listener_->wait_stopped(10s));
    listener_.reset();
  }
}

TEST_P(http_listener, http11_without_host_or_with_two_gets_400) {
  std::atomic<int> calls{0};
  start(quick_settings(), [&](listener& l) {
    l.add(method::get, "/hello", [&](request, responder r) {
      ++calls;
      r.send(response::text(200, "hi"));
    });
  });
  raw_socket a(port());
  ASSERT_TRUE(a.write("GET /hello HTTP/1.1\r\n\r\n"));
  auto got = a.read_until("\r\n\r\n", 3s);
  EXPECT_EQ(status_of(got), 400) << got;
  raw_socket b(port());
  ASSERT_TRUE(b.write("GET /hello HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"));
  EXPECT_EQ(status_of(b.read_until("\r\n\r\n", 3s)), 400);
  // HTTP/1.0 has no Host requirement.
  raw_socket c(port());
  ASSERT_TRUE(c.write("GET /hello HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(status_of(c.read_until("hi", 3s)), 200);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(stats().rejected_400.load(), 2u);
}

TEST_P(http_listener, content_length_with_transfer_encoding_is_rejected_400) {
  std::atomic<int> calls{0};
  start(quick_settings(), [&](listener& l) {
    l.add(method::post, "/hook", [&](request, responder r) {
      ++calls;
      r.send(response::text(200, "ok"));
    });
  });
  const char* attempts[] = {
      "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n",
      "POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
      "0\r\n\r\n",
      "POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n"
      "hello",
      "POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nhello",
  };
  for (const char* attempt : attempts) {
    raw_socket s(port());
    ASSERT_TRUE(s.write(attempt));
    auto got = s.read_until("\r\n\r\n", 3s);
    EXPECT_EQ(status_of(got), 400) << attempt << "\n--> " << got;
    EXPECT_TRUE(s.wait_closed(3s));
  }
  EXPECT_EQ(calls.load(), 0);
  EXPECT_EQ(stats().rejected_400.load(), 4u);
}

TEST_P(http_listener, header_over_limit_gets_431) {
  start(quick_settings());
  raw_socket s(port());
  ASSERT_TRUE(
      s.write("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'b') + "\r\n\r\n"));
  auto got = s.read_until("\r\n\r\n", 3s);
  EXPECT_EQ(status_of(got), 431) << got;
  EXPECT_EQ(stats().rejected_431.load(), 1u);
}

TEST_P(http_listener, malformed_request_gets_400_and_close) {
  start(quick_settings());
  raw_socket s(port());
  ASSERT_TRUE(s.write("GET /hello HTTP/1.1\r\nHost x\r\n\r\n"));
  auto got = s.read_until("\r\n\r\n", 3s);
  EXPECT_EQ(status_of(got), 400) << got;
  EXPECT_TRUE(s.wait_closed(3s));
  EXPECT_EQ(stats().rejected_400.load(), 1u);
}

TEST_P(http_listener, expect_100_continue) {
  start(quick_settings(), [](listener& l) {
    l.add(method::post, "/hook",
          [](request q, responder r) { r.send(response::text(200, q.body)); });
  });
  raw_socket s(port());
  ASSERT_TRUE(s.write(
      "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_EQ(status_of(s.read_until("\r\n\r\n", 3s)), 100);
  ASSERT_TRUE(s.write("hello"));
  auto got = s.read_until("hello", 3s);
  EXPECT_NE(got.find("200 OK"), std::string::npos) << got;
}

TEST_P(http_listener, slow_client_is_cut_off_while_others_are_served) {
  auto s = quick_settings();
  s.read_timeout = 300ms;
  start(s);
  raw_socket slow(port());
  ASSERT_TRUE(slow.connected());
  const std::string request = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Padding: slowly\r\n\r\n";
  const auto begin = std::chrono::steady_clock::now();
  bool served_other = false;
  // One byte every 100 ms (faster than the timeout, so a per-byte timer would never fire);
  // waiting for the close between bytes is the pacing.
  for (std::size_t i = 0; i < request.size() && !slow.peer_closed(); ++i) {
    if (!slow.write(request.substr(i, 1))) break;
    if (i == 2 && !served_other) {
      auto other = testing::get(port(), "/hello");
      EXPECT_EQ(other.status, 200) << other.error;
      served_other = true;
    }
    if (slow.wait_closed(100ms)) break;
  }
  EXPECT_TRUE(slow.wait_closed(3s));
  const auto elapsed = std::chrono::steady_clock::now() - begin;
  EXPECT_TRUE(served_other);
  EXPECT_LT(elapsed, 2s);  // the whole request has 300 ms; it would take ~5 s to trickle in
  EXPECT_EQ(status_of(slow.received()), 0);  // never completed, never answered
  EXPECT_TRUE(eventually([&] { return stats().timeouts.load() >= 1; }));
}

TEST_P(http_listener, idle_keep_alive_connection_is_closed_after_idle_timeout) {
  auto s = quick_settings();
  s.idle_timeout = 200ms;
  start(s);
  raw_socket c(port());
  ASSERT_TRUE(c.write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(status_of(c.read_until("hi")), 200);
  EXPECT_TRUE(c.wait_closed(3s));
  EXPECT_TRUE(eventually([&] { return stats().idle_timeouts.load() == 1; }));
}

// Raises the descriptor limit for the many-connections tests; returns false if it cannot.
bool enough_descriptors(rlim_t want) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return false;
  if (lim.rlim_cur >= want) return true;
  if (lim.rlim_max < want) return false;
  lim.rlim_cur = want;
  return setrlimit(RLIMIT_NOFILE, &lim) == 0;
}

std::vector<asio::ip::tcp::socket> open_idle(asio::io_context& ioc, std::uint16_t port, int n) {
  std::vector<asio::ip::tcp::socket> out;
  out.reserve(n);
  const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  for (int i = 0; i < n; ++i) {
    asio::ip::tcp::socket s(ioc);
    boost::system::error_code ec;
    s.connect(ep, ec);
    if (ec) break;
    out.push_back(std::move(s));
  }
  return out;
}

TEST_P(http_listener, thousand_idle_connections_do_not_block_a_valid_request) {
  if (!enough_descriptors(2600)) GTEST_SKIP() << "RLIMIT_NOFILE too low for 1000 connections";
  auto s = quick_settings();
  s.max_connections = 2000;
  s.read_timeout = 20s;
  start(s);
  asio::io_context client_ioc;
  auto idle = open_idle(client_ioc, port(), 1000);
  ASSERT_EQ(idle.size(), 1000u);
  ASSERT_TRUE(eventually([&] { return stats().active_connections.load() == 1000; }, 10s))
      << stats().active_connections.load();
  auto rep = testing::get(port(), "/hello");
  EXPECT_EQ(rep.status, 200) << rep.error;
  EXPECT_EQ(stats().connections_rejected_limit.load(), 0u);
  idle.clear();
  EXPECT_TRUE(eventually([&] { return stats().active_connections.load() == 0; }, 10s));
}

TEST_P(http_listener, connections_over_the_cap_are_rejected_and_counted) {
  auto s = quick_settings();
  s.max_connections = 100;
  s.read_timeout = 20s;
  start(s);
  asio::io_context client_ioc;
  auto idle = open_idle(client_ioc, port(), 100);
  ASSERT_EQ(idle.size(), 100u);
  ASSERT_TRUE(eventually([&] { return stats().active_connections.load() == 100; }, 10s));

  raw_socket extra(port());
  ASSERT_TRUE(extra.connected());
  EXPECT_TRUE(extra.wait_closed(3s));
  const int status = status_of(extra.received());
  EXPECT_TRUE(status == 503 || status == 0) << extra.received();
  EXPECT_EQ(stats().connections_rejected_limit.load(), 1u);
  EXPECT_EQ(stats().active_connections.load(), 100u);

  // Room again once idle clients leave.
  idle.erase(idle.begin() + 90, idle.end());
  ASSERT_TRUE(eventually([&] { return stats().active_connections.load() == 90; }, 10s));
  EXPECT_EQ(testing::get(port(), "/hello").status, 200);
}

// ---- TLS ----

TEST_P(http_listener, serves_requests_over_tls) {
  testing::self_signed material;
  auto s = quick_settings();
  s.read_timeout = 1s;
  s.tls = tls_settings{material.cert, material.key};
  start(s, [](listener& l) {
    l.add(method::get, "/secure",
          [](request q, responder r) { r.send(response::text(200, q.secure ? "tls" : "plain")); });
  });
  testing::client_options tls;
  tls.tls = true;
  testing::client c(port(), tls);
  ASSERT_TRUE(c.connected()) << c.error();
  auto a = c.get("/secure");
  EXPECT_EQ(a.status, 200) << a.error;
  EXPECT_EQ(a.body, "tls");
  EXPECT_EQ(c.get("/hello").status, 200);  // keep-alive over TLS

  // Plain HTTP against the TLS port: a handshake failure, counted; the listener carries on.
  raw_socket plain(port());
  ASSERT_TRUE(plain.write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(plain.wait_closed(3s));
  EXPECT_TRUE(eventually([&] { return stats().tls_handshake_failures.load() == 1; }));
  EXPECT_EQ(testing::get(port(), "/secure", tls).status, 200);
}

TEST_P(http_listener, start_reports_unreadable_certificate_and_port_in_use) {
  settings bad = quick_settings();
  bad.tls = tls_settings{"/nonexistent/cert.pem", "/nonexistent/key.pem"};
  listener l1(ioc_, bad);
  auto err = l1.start();
  ASSERT_TRUE(err);
  EXPECT_NE(err->message.find("/nonexistent/cert.pem"), std::string::npos) << err->message;

  testing::self_signed material;
  settings mismatch = quick_settings();
  {
    EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    std::string path = (material.dir / "other_key.pem").string();
    FILE* f = std::fopen(path.c_str(), "w");
    PEM_write_PrivateKey(f, k, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    EVP_PKEY_free(k);
    mismatch.tls = tls_settings{material.cert, path};
  }
  listener l2(ioc_, mismatch);
  err = l2.start();
  ASSERT_TRUE(err);
  EXPECT_NE(err->message.find("mismatch"), std::string::npos) << err->message;

  start(quick_settings());
  settings taken = quick_settings();
  taken.port = port();
  listener l3(ioc_, taken);
  err = l3.start();
  ASSERT_TRUE(err);
  EXPECT_NE(err->message.find("bind"), std::string::npos) << err->message;
  EXPECT_EQ(err->code, std::errc::address_in_use);
}

// ---- graceful stop ----

TEST_P(http_listener, stop_lets_in_flight_request_finish_and_closes_idle_connections) {
  std::mutex mu;
  std::vector<responder> parked;
  start(quick_settings(), [&](listener& l) {
    l.add(method::post, "/hook", [&](request, responder r) {
      std::lock_guard lock(mu);
      parked.push_back(std::move(r));
    });
  });
  raw_socket idle(port());  // keep-alive connection between requests
  ASSERT_TRUE(idle.write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_EQ(status_of(idle.read_until("hi")), 200);

  auto pending =
      std::async(std::launch::async, [&] { return testing::post(port(), "/hook", "{}"); });
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return !parked.empty();
  }));

  std::atomic<bool> stopped_callback{false};
  listener_->on_stopped([&] { stopped_callback = true; });
  listener_->stop();
  EXPECT_TRUE(idle.wait_closed(3s));                  // idle keep-alive closed at once
  EXPECT_FALSE(listener_->wait_stopped(50ms));        // the in-flight request holds the stop
  EXPECT_FALSE(testing::get(port(), "/hello").ok());  // no longer accepting

  {
    std::lock_guard lock(mu);
    EXPECT_TRUE(parked[0].send(response::text(200, "done")));
  }
  auto rep = pending.get();
  EXPECT_EQ(rep.status, 200) << rep.error;
  EXPECT_EQ(rep.body, "done");
  EXPECT_FALSE(rep.keep_alive);  // answered with Connection: close
  EXPECT_TRUE(listener_->wait_stopped(3s));
  EXPECT_TRUE(eventually([&] { return stopped_callback.load(); }));
}

TEST_P(http_listener, stop_force_closes_after_the_deadline) {
  auto s = quick_settings();
  s.shutdown_timeout = 200ms;
  std::mutex mu;
  std::vector<responder> parked;
  start(s, [&](listener& l) {
    l.add(method::post, "/hook", [&](request, responder r) {
      std::lock_guard lock(mu);
      parked.push_back(std::move(r));
    });
  });
  auto pending =
      std::async(std::launch::async, [&] { return testing::post(port(), "/hook", "{}"); });
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return !parked.empty();
  }));
  listener_->stop();
  EXPECT_TRUE(listener_->wait_stopped(3s));
  EXPECT_FALSE(pending.get().ok());
  std::lock_guard lock(mu);
  EXPECT_FALSE(parked[0].send(response::text(200, "too late")));  // connection gone: no-op
}

// ---- upgrade hook ----

TEST_P(http_listener, upgrade_handler_takes_the_stream_or_rejects) {
  std::mutex mu;
  std::shared_ptr<void> slot;
  std::shared_ptr<tcp_stream> taken;
  start(quick_settings(), [&](listener& l) {
    l.add_upgrade("/ws", [&](std::unique_ptr<upgrade> u) {
      if (u->info().query("token") != "good") {
        return u->reject(response::error(401, "unauthorized"));
      }
      EXPECT_FALSE(u->take_tls_stream());
      auto s = u->take_tcp_stream();
      ASSERT_TRUE(s);
      EXPECT_FALSE(u->take_tcp_stream());
      EXPECT_EQ(u->native().target(), "/ws?token=good");
      std::lock_guard lock(mu);
      slot = u->take_slot();
      taken = std::make_shared<tcp_stream>(std::move(*s));
      static const std::string switching =
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n";
      asio::async_write(*taken, asio::buffer(switching),
                        [keep = taken](boost::system::error_code, std::size_t) {});
    });
  });
  const std::string upgrade_request =
      " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n";
  raw_socket refused(port());
  ASSERT_TRUE(refused.write("GET /ws?token=bad" + upgrade_request));
  EXPECT_EQ(status_of(refused.read_until("\r\n\r\n")), 401);
  EXPECT_TRUE(refused.wait_closed(3s));

  raw_socket ok(port());
  ASSERT_TRUE(ok.write("GET /ws?token=good" + upgrade_request));
  EXPECT_EQ(status_of(ok.read_until("\r\n\r\n")), 101);
  EXPECT_EQ(stats().upgrades.load(), 2u);
  EXPECT_EQ(testing::get(port(), "/ws").status, 426);  // not an upgrade request

  // The upgraded connection still counts against max_connections while its slot is held.
  EXPECT_TRUE(eventually([&] { return stats().active_connections.load() == 1; }));
  {
    std::lock_guard lock(mu);
    // Close on the stream's own executor: it belongs to the upgraded protocol now.
    asio::post(taken->get_executor(), [t = taken] { t->close(); });
    taken.reset();
    slot.reset();
  }
  EXPECT_TRUE(ok.wait_closed(3s));
  EXPECT_TRUE(eventually([&] { return stats().active_connections.load() == 0; }));
}

}  // namespace
}  // namespace omni::core::http
