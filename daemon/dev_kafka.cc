#include "daemon/dev_kafka.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <fstream>
#include <memory>

#include "core/bus/bus.h"
#include "core/bus/embedded_cluster.h"
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
    ioc.stop();
  });
  ioc.run();
  return 0;
}

}  // namespace omni::daemon
