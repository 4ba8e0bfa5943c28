#include "daemon/dev_kafka.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "core/bus/bus.h"
#include "core/bus/embedded_cluster.h"
#include "core/http/listener.h"
#include "core/log/log.h"

namespace omni::daemon {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

spdlog::logger& logger() {
  static auto l = core::log::get("omni.dev-kafka");
  return *l;
}

// Relays one client connection to the mock broker, byte for byte, both ways. Kafka clients only
// bootstrap through the fixed port: the metadata they get back names the broker's own address.
class relay : public std::enable_shared_from_this<relay> {
 public:
  relay(tcp::socket client, tcp::socket broker)
      : client_(std::move(client)), broker_(std::move(broker)) {}

  void start() {
    pump(client_, broker_, up_);
    pump(broker_, client_, down_);
  }

 private:
  using buffer = std::array<char, 16384>;

  void pump(tcp::socket& from, tcp::socket& to, buffer& buf) {
    from.async_read_some(
        asio::buffer(buf), [self = shared_from_this(), &from, &to, &buf](
                               const boost::system::error_code& ec, std::size_t n) {
          if (ec) return self->close();
          asio::async_write(
              to, asio::buffer(buf.data(), n),
              [self, &from, &to, &buf](const boost::system::error_code& wec, std::size_t) {
                if (wec) return self->close();
                self->pump(from, to, buf);
              });
        });
  }

  void close() {
    boost::system::error_code ignored;
    client_.close(ignored);
    broker_.close(ignored);
  }

  tcp::socket client_, broker_;
  buffer up_{}, down_{};
};

void accept_loop(tcp::acceptor& acceptor, tcp::endpoint broker) {
  acceptor.async_accept(
      [&acceptor, broker](const boost::system::error_code& ec, tcp::socket client) {
        if (ec) return;
        auto upstream = std::make_shared<tcp::socket>(acceptor.get_executor());
        upstream->async_connect(
            broker, [upstream, c = std::make_shared<tcp::socket>(std::move(client))](
                        const boost::system::error_code& cec) mutable {
              if (cec) return;
              std::make_shared<relay>(std::move(*c), std::move(*upstream))->start();
            });
        accept_loop(acceptor, broker);
      });
}

namespace http = core::http;

std::optional<int> number(std::string_view s) {
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<int> query_number(const http::request& q, std::string_view name) {
  auto v = q.query(name);
  return v ? number(*v) : std::nullopt;
}

http::response answer(const core::result<bool>& r, const std::string& done) {
  if (!r) return http::response::error(400, r.err().to_string());
  logger().info("fault injection: {}", done);
  return http::response::json(200, "{\"ok\":true}");
}

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    path.remove_prefix(path.find_first_not_of('/') == std::string_view::npos
                           ? path.size()
                           : path.find_first_not_of('/'));
    auto end = path.find('/');
    if (!path.empty()) out.push_back(path.substr(0, end));
    path.remove_prefix(end == std::string_view::npos ? path.size() : end);
  }
  return out;
}

// The fault-injection interface (plain HTTP on loopback, for tests):
//   GET  /                                       {"bootstrap","brokers"}
//   POST /brokers/<id>/down | /brokers/<id>/up
//   POST /brokers/<id>/latency?ms=N
//   POST /partitions/<topic>/<partition>/leader?broker=<id>
//   POST /errors?api=<Kafka API key>&count=N&error=<Kafka error code>   (count=0 clears)
void add_fault_routes(http::listener& l, core::bus::embedded_cluster& cluster) {
  l.add(http::method::get, "/", [&cluster](http::request, http::responder r) {
    r.send(http::response::json(200, "{\"bootstrap\":\"" + cluster.bootstrap() + "\",\"brokers\":" +
                                         std::to_string(cluster.brokers()) + "}"));
  });
  l.add_prefix(
      http::method::post, "/brokers/", [&cluster](http::request q, http::responder r) -> void {
        auto s = segments(q.path);
        auto id = s.size() == 3 ? number(s[1]) : std::nullopt;
        if (!id)
          return (void)r.send(http::response::error(404, "POST /brokers/<id>/{down,up,latency}"));
        if (s[2] == "down" || s[2] == "up")
          return (void)r.send(answer(cluster.set_broker_up(*id, s[2] == "up"),
                                     "broker " + std::to_string(*id) + " " + std::string(s[2])));
        if (s[2] == "latency") {
          auto ms = query_number(q, "ms");
          if (!ms) return (void)r.send(http::response::error(400, "ms: a number of milliseconds"));
          return (void)r.send(
              answer(cluster.set_latency(*id, *ms),
                     "broker " + std::to_string(*id) + " latency " + std::to_string(*ms) + " ms"));
        }
        r.send(http::response::error(404, "POST /brokers/<id>/{down,up,latency}"));
      });
  l.add_prefix(
      http::method::post, "/partitions/", [&cluster](http::request q, http::responder r) -> void {
        auto s = segments(q.path);
        const int partition = s.size() == 4 && s[3] == "leader" ? number(s[2]).value_or(-1) : -1;
        const int broker = query_number(q, "broker").value_or(-1);
        if (partition < 0 || broker < 0)
          return (void)r.send(
              http::response::error(404, "POST /partitions/<topic>/<p>/leader?broker=<id>"));
        const std::string topic(s[1]);
        r.send(answer(
            cluster.set_leader(topic, partition, broker),
            topic + "[" + std::to_string(partition) + "] led by broker " + std::to_string(broker)));
      });
  l.add(http::method::post, "/errors", [&cluster](http::request q, http::responder r) -> void {
    auto api = query_number(q, "api"), count = query_number(q, "count");
    auto code = query_number(q, "error").value_or(7);  // REQUEST_TIMED_OUT
    if (!api || !count) return (void)r.send(http::response::error(400, "api and count: numbers"));
    r.send(answer(cluster.fail_requests(*api, *count, code),
                  "the next " + std::to_string(*count) + " requests of API " +
                      std::to_string(*api) + " fail with error " + std::to_string(code)));
  });
}

}  // namespace

int run_dev_kafka(const dev_kafka_options& o) {
  auto cluster = core::bus::embedded_cluster::start(o.brokers);
  if (!cluster) {
    std::fprintf(stderr, "omniroute dev-kafka: %s\n", cluster.err().to_string().c_str());
    return 1;
  }
  auto topics = core::bus::topic_names::with_prefix(o.topic_prefix);
  if (auto r = (*cluster)->create_topics(topics.all(), o.partitions); !r) {
    std::fprintf(stderr, "omniroute dev-kafka: %s\n", r.err().to_string().c_str());
    return 1;
  }
  std::string bootstrap = (*cluster)->bootstrap();

  asio::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  if (o.port != 0) {
    auto first = bootstrap.substr(0, bootstrap.find(','));
    auto colon = first.rfind(':');
    tcp::endpoint broker(asio::ip::make_address(first.substr(0, colon)),
                         static_cast<std::uint16_t>(std::stoi(first.substr(colon + 1))));
    boost::system::error_code ec;
    acceptor.emplace(ioc);
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), o.port);
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      std::fprintf(stderr, "omniroute dev-kafka: cannot listen on 127.0.0.1:%u: %s\n", o.port,
                   ec.message().c_str());
      return 1;
    }
    accept_loop(*acceptor, broker);
    bootstrap = "127.0.0.1:" + std::to_string(o.port);
  }

  std::unique_ptr<http::listener> admin;
  if (o.admin_port != 0) {
    http::settings hs;
    hs.port = o.admin_port;
    hs.max_connections = 64;
    admin = std::make_unique<http::listener>(ioc, hs);
    add_fault_routes(*admin, **cluster);
    if (auto err = admin->start()) {
      std::fprintf(stderr, "omniroute dev-kafka: admin: %s\n", err->message.c_str());
      return 1;
    }
    logger().info("fault injection on http://127.0.0.1:{}/", o.admin_port);
  }

  // The one line a script waits for.
  std::printf("bootstrap.servers=%s\n", bootstrap.c_str());
  std::fflush(stdout);
  if (!o.bootstrap_file.empty()) {
    std::string tmp = o.bootstrap_file + ".tmp";
    std::ofstream(tmp) << bootstrap << '\n';
    std::rename(tmp.c_str(), o.bootstrap_file.c_str());
  }
  logger().info("embedded Kafka ready at {} with topics {}* ({} partitions); Ctrl-C to stop",
                bootstrap, o.topic_prefix, o.partitions);

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    logger().info("stopping");
    if (acceptor) acceptor->close();
    if (admin) admin->stop();
    ioc.stop();
  });
  ioc.run();
  return 0;
}

}  // namespace omni::daemon
