#include "daemon/application.h"

#include <yaml-cpp/yaml.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include <pthread.h>

#include "config/reader.h"
#include "connectors/publisher.h"
#include "connectors/registry.h"
#include "core/bus/bus.h"
#include "core/bus/embedded_cluster.h"
#include "core/events/codec.h"
#include "core/http/io_loop.h"
#include "core/http/listener.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "daemon/admin.h"
#include "daemon/notify.h"
#include "daemon/outbound.h"
#include "daemon/validate.h"
#include "daemon/version.h"
#include "daemon/watchdog.h"
#include "routing/desk/gateway.h"
#include "routing/service/retention.h"
#include "routing/service/router.h"

namespace omni::daemon {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {
spdlog::logger& logger() {
  static auto l = core::log::get("omni.daemon");
  return *l;
}

core::log::sink_kind to_sink(config::log_sink s) {
  switch (config::resolve_log_sink(s)) {
    case config::log_sink::journald:
      return core::log::sink_kind::journald;
    default:
      return core::log::sink_kind::console;
  }
}

// How long a SIGTERM drain may take before we give up on undelivered messages (and say so).
constexpr auto drain_deadline = 20s;
}  // namespace

struct application::impl {
  config::omniroute_config cfg;
  std::filesystem::path config_path;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(ioc);
  std::vector<std::thread> io_threads;
  // The public listener's connections: one io_context per thread (a connection stays on one
  // thread, without a strand); created with the public listener, run by io_threads as well.
  std::vector<std::unique_ptr<asio::io_context>> connection_contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> connection_work;
  std::optional<asio::signal_set> signals;

  std::unique_ptr<core::bus::embedded_cluster> embedded;
  core::bus::settings kafka;
  core::bus::topic_names topics;
  std::unique_ptr<core::bus::producer> producer;
  std::vector<std::pair<std::string, std::string>> demo_logins;  // agent id, demo token
  std::unique_ptr<core::http::listener> admin_listener;
  std::unique_ptr<core::http::listener> public_listener;
  std::unique_ptr<connectors::kafka_contact_publisher> publisher;
  std::unique_ptr<connectors::kafka_agent_event_publisher> agent_event_publisher;
  // Guarded by connectors_mutex once the io threads run (reload swaps entries, the outbound
  // dispatcher reads them). `connector_routes[i]`: the listener paths connectors[i] registered.
  std::mutex connectors_mutex;
  std::vector<std::unique_ptr<connectors::connector>> connectors;
  std::vector<std::vector<std::string>> connector_routes;
  // Removed or replaced by a reload: stopped and unrouted, destroyed only at shutdown, because
  // requests they were answering may still complete into them.
  std::vector<std::unique_ptr<connectors::connector>> retired;
  connectors::context connector_ctx;
  YAML::Node running_doc;  // the file as last applied, to tell what a reload cannot change
  std::unique_ptr<outbound_dispatcher> outbound;
  std::unique_ptr<routing::service::router> router;
  // systemd's watchdog (WatchdogSec=), fed only while the io loop and the router loop beat.
  std::unique_ptr<watchdog> dog;
  std::optional<asio::steady_timer> io_beat_timer;
  std::atomic<std::uint64_t>* io_beat = nullptr;

  void start_watchdog() {
    auto interval = notify::watchdog_interval();
    if (!interval) return;
    dog =
        std::make_unique<watchdog>(std::chrono::duration_cast<std::chrono::milliseconds>(*interval),
                                   [] { notify::watchdog(); });
    io_beat = &dog->add("io");
    io_beat_timer.emplace(ioc);
    beat_io();
    logger().info("systemd watchdog: every {} ms while the io and routing loops run",
                  std::chrono::duration_cast<std::chrono::milliseconds>(*interval).count());
  }

  void beat_io() {
    io_beat->fetch_add(1, std::memory_order_relaxed);
    io_beat_timer->expires_after(1s);
    io_beat_timer->async_wait([this](const boost::system::error_code& ec) {
      if (!ec) beat_io();
    });
  }
  std::unique_ptr<routing::desk::gateway> gateway;
  std::shared_ptr<health_state> health = std::make_shared<health_state>();

  // Watches Kafka reachability for /readyz without blocking an io thread.
  std::thread kafka_watch;
  std::mutex watch_mutex;
  std::condition_variable watch_cv;
  bool watch_stop = false;

  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool stop_requested = false;
  int exit_code = 0;

  std::optional<std::string> start_kafka() {
    topics = core::bus::topic_names::with_prefix(cfg.kafka.topic_prefix);
    kafka.client = cfg.kafka.client;
    kafka.delivery_timeout = cfg.kafka.delivery_timeout;
    if (cfg.kafka.embedded) {
      auto cluster = core::bus::embedded_cluster::start(cfg.kafka.embedded_brokers);
      if (!cluster) return cluster.err().to_string();
      embedded = std::move(*cluster);
      if (auto r = embedded->create_topics(topics.all(), cfg.kafka.partitions); !r)
        return r.err().to_string();
      kafka.brokers = embedded->bootstrap();
      logger().info("kafka: embedded cluster (in memory, for trying out and tests) at {}",
                    kafka.brokers);
    } else {
      kafka.brokers = cfg.kafka.bootstrap_servers();
      logger().info("kafka: brokers {}", kafka.brokers);
      // Snapshots are a table (the newest per partition and slot): compacted, with segments
      // that roll hourly so compaction keeps recovery's read short.
      const std::map<std::string, std::map<std::string, std::string>> configs = {
          {topics.snapshots,
           {{"cleanup.policy", "compact"},
            {"segment.ms", "3600000"},
            {"segment.bytes", "67108864"}}}};
      if (auto r =
              core::bus::ensure_topics(kafka, topics.all(), cfg.kafka.partitions, 10s, configs);
          !r)
        logger().warn("kafka: could not ensure topics exist ({}); continuing", r.err().to_string());
    }
    health->set_bootstrap(kafka.brokers);
    auto p = core::bus::producer::create(kafka, "omniroute-" + cfg.node.id);
    if (!p) return p.err().to_string();
    producer = std::move(*p);
    if (!producer->reachable(10s))
      logger().warn("kafka: no broker answered at {} yet; will keep trying", kafka.brokers);
    kafka_watch = std::thread([this] {
      std::unique_lock lock(watch_mutex);
      while (!watch_stop) {
        lock.unlock();
        bool up = producer->reachable(2s);
        health->set_kafka_reachable(up);
        refresh_peers();
        lock.lock();
        watch_cv.wait_for(lock, up ? 2s : 1s, [this] { return watch_stop; });
      }
    });
    return std::nullopt;
  }

  // Connectors that pull from a peer (IMAP, a PBX): their link shows in /readyz ("peers") and in
  // omniroute_connector_peer_up, without making the node unready.
  void refresh_peers() {
    std::lock_guard lock(connectors_mutex);
    for (const auto& c : connectors) {
      auto p = c->peer();
      if (!p) continue;
      health->set_peer("connector:" + c->name(), p->connected,
                       p->connected ? "connected" : "disconnected: " + p->detail);
      core::metrics::global()
          .gauge_of("omniroute_connector_peer_up",
                    "1 while the connector is connected to the peer it pulls from (IMAP, PBX).",
                    {{"connector", c->name()}})
          .set(p->connected ? 1 : 0);
    }
  }

  std::optional<std::string> start_admin() {
    core::http::settings s;
    s.address = cfg.admin.listen.host;
    s.port = cfg.admin.listen.port;
    s.max_connections = 64;
    admin_listener = std::make_unique<core::http::listener>(ioc, s);
    register_admin_routes(*admin_listener, health, cfg.admin.token);
    if (auto err = admin_listener->start()) return "admin: " + err->message;
    export_listener_metrics(*admin_listener, "admin");
    logger().info("admin: http://{}:{}/ (healthz, readyz, metrics)", cfg.admin.listen.host,
                  admin_listener->port());
    return std::nullopt;
  }

  // Ingest role: the public listener and every configured connector.
  std::optional<std::string> start_ingest() {
    if (!cfg.node.has_role(config::node_role::ingest)) return std::nullopt;
    make_public_listener();
    publisher = std::make_unique<connectors::kafka_contact_publisher>(*producer, topics.contacts);
    agent_event_publisher =
        std::make_unique<connectors::kafka_agent_event_publisher>(*producer, topics.agent_events);
    connector_ctx = connectors::context{
        &ioc,        public_listener.get(),       publisher.get(), cfg.node.state_dir,
        cfg.node.id, agent_event_publisher.get(), read_outbound()};
    config::diagnostics sink;
    auto created = connectors::create_all(cfg, sink, connector_ctx);
    if (!sink.empty()) {
      std::string all;
      for (const auto& d : sink.take_sorted()) all += "\n  " + config::to_string(d);
      return "connectors:" + all;
    }
    for (auto& c : created)
      if (auto err = start_connector(std::move(c))) return *err;
    return connectors.empty() ? std::nullopt : start_outbound();
  }

  // omni.outbound read back from an offset (a group-less reader: nothing is committed).
  connectors::outbound_reader read_outbound() const {
    return
        [kafka = kafka, topic = topics.outbound](
            std::int32_t partition, std::int64_t offset,
            const std::function<bool(const core::outbound&, const connectors::outbound_position&)>&
                on_record) {
          return core::bus::read_partition(
              kafka, topic, partition, offset,
              [&](const core::bus::message& m) {
                auto o = core::decode_outbound(m.value);
                return !o || on_record(*o, {m.partition, m.offset});
              },
              30s);
        };
  }

  // Starts one connector, remembering the listener routes it registered (a reload removes them).
  std::optional<std::string> start_connector(std::unique_ptr<connectors::connector> c) {
    auto before = public_listener->paths();
    if (auto r = c->start(); !r) {
      for (const auto& path : added_paths(before)) public_listener->remove(path);
      return "connector " + c->name() + ": " + r.err().to_string();
    }
    health->set_component("connector:" + c->name(), true);
    std::lock_guard lock(connectors_mutex);
    connector_routes.push_back(added_paths(before));
    connectors.push_back(std::move(c));
    return std::nullopt;
  }

  std::vector<std::string> added_paths(const std::vector<std::string>& before) const {
    std::vector<std::string> out;
    for (auto& p : public_listener->paths())
      if (std::find(before.begin(), before.end(), p) == before.end()) out.push_back(std::move(p));
    return out;
  }

  // Stops connector i, takes its routes off the listener and retires it.
  void retire_connector(std::size_t i) {
    std::unique_ptr<connectors::connector> c;
    std::vector<std::string> routes;
    {
      std::lock_guard lock(connectors_mutex);
      c = std::move(connectors[i]);
      routes = std::move(connector_routes[i]);
      connectors.erase(connectors.begin() + static_cast<std::ptrdiff_t>(i));
      connector_routes.erase(connector_routes.begin() + static_cast<std::ptrdiff_t>(i));
    }
    c->stop();
    for (const auto& path : routes) public_listener->remove(path);
    health->remove_component("connector:" + c->name());
    retired.push_back(std::move(c));
  }

  // Replies and notices on omni.outbound, offered to each connector until one takes it.
  std::optional<std::string> start_outbound() {
    if (outbound) return std::nullopt;
    health->set_component("outbound", false, "waiting for partitions of " + topics.outbound);
    auto d = outbound_dispatcher::start(
        kafka, topics.outbound, cfg.node.id, ioc,
        [this](const core::outbound& o, std::int32_t partition, std::int64_t offset) {
          std::lock_guard lock(connectors_mutex);
          for (auto& c : connectors)
            if (c->deliver(o, {partition, offset})) return true;
          return false;
        },
        cfg.kafka.embedded, [h = health] { h->set_component("outbound", true); });
    if (!d) return "outbound: " + d.err().to_string();
    outbound = std::move(*d);
    return std::nullopt;
  }

  // With demo credentials (the shipped example config), where to try it: the desk with each demo
  // agent's token and every web chat page. Logged once the node is ready.
  void announce_demo() const {
    if (demo_logins.empty() || !public_listener) return;
    const std::string base = (cfg.http.tls ? "https://" : "http://") + cfg.http.listen.host + ":" +
                             std::to_string(public_listener->port());
    for (const auto& c : cfg.connectors)
      if (c.type == "webchat") {
        std::string path = "/chat/";
        if (auto p = c.settings.node["path"]; p && p.IsScalar()) path = p.as<std::string>();
        logger().info("demo: write as a customer at {}{}", base, path);
      }
    for (const auto& [id, token] : demo_logins)
      logger().info("demo: answer as agent {} at {}/desk/ with the token {}", id, base, token);
  }

  // The public listener (`http:`) shared by connectors and the desk gateway; started by
  // start_public() once every role has registered its routes.
  void make_public_listener() {
    if (public_listener) return;
    core::http::settings s;
    s.address = cfg.http.listen.host;
    s.port = cfg.http.listen.port;
    s.max_connections = static_cast<std::size_t>(cfg.http.max_connections);
    s.header_limit = cfg.http.header_limit;
    s.body_limit = cfg.http.body_limit;
    s.read_timeout = cfg.http.read_timeout;
    s.idle_timeout = cfg.http.idle_timeout;
    if (cfg.http.tls)
      s.tls = core::http::tls_settings{cfg.http.tls->cert.string(), cfg.http.tls->key.string()};
    std::vector<asio::io_context*> contexts;
    for (unsigned i = 0; i < io_thread_count(); ++i) {
      auto& c = connection_contexts.emplace_back(std::make_unique<asio::io_context>(1));
      connection_work.push_back(asio::make_work_guard(*c));
      contexts.push_back(c.get());
    }
    public_listener = std::make_unique<core::http::listener>(ioc, s, std::move(contexts));
  }

  static unsigned io_thread_count() {
    return std::max(2u, std::min(4u, std::thread::hardware_concurrency()));
  }

  // Named threads: their own lines in top -H, perf and tests/bench/webhook_load.py --cpu.
  // omni-io runs the shared context (acceptor, admin, timers); omni-http-N one connection context.
  void start_io_threads() {
    for (unsigned i = 0; i < io_thread_count(); ++i)
      io_threads.emplace_back([this] { run_io_thread(ioc, "omni-io"); });
    for (std::size_t i = 0; i < connection_contexts.size(); ++i)
      io_threads.emplace_back([&c = *connection_contexts[i], i] {
        run_io_thread(c, "omni-http-" + std::to_string(i));
      });
  }

  // No exception ends an io thread (and with it the process): one that escapes a handler is
  // logged and counted, and the thread runs on (core/http/io_loop.h).
  static void run_io_thread(asio::io_context& c, const std::string& name) {
    pthread_setname_np(pthread_self(), name.c_str());
    auto& escaped = core::metrics::global().counter_of(
        "omniroute_io_exceptions_total",
        "Exceptions that escaped an io handler (the operation was dropped, the thread ran on).",
        {{"thread", name}});
    core::http::run_io_loop(c, [&](std::string_view what) {
      escaped.inc();
      logger().error("{}: an exception escaped an io handler and was contained: {}", name, what);
    });
  }

  std::optional<std::string> start_public() {
    if (!public_listener) return std::nullopt;
    if (auto err = public_listener->start()) return "http: " + err->message;
    export_listener_metrics(*public_listener, "public");
    logger().info("http: public listener on {}:{} with {} connector(s){}", cfg.http.listen.host,
                  public_listener->port(), connectors.size(),
                  gateway ? " and the desk gateway" : "");
    return std::nullopt;
  }

  // Gateway role: the agent desk (routing/desk) on the public listener, after the router.
  std::optional<std::string> start_gateway() {
    if (!cfg.node.has_role(config::node_role::gateway)) return std::nullopt;
    config::diagnostics sink;
    routing::desk::gateway_options o;
    o.config = routing::desk::parse_gateway_config(cfg.gateway, sink);
    if (!sink.empty()) {
      std::string all;
      for (const auto& d : sink.take_sorted()) all += "\n  " + config::to_string(d);
      return "gateway:" + all;
    }
    // Demo credentials are for one machine: a listener others can reach needs real tokens.
    if (auto demo = routing::desk::demo_agents(o.config); !demo.empty()) {
      if (!config::is_loopback(cfg.http.listen.host))
        return "gateway: agent " + demo.front() +
               " has a demo token (\"demo-...\"), accepted only while http.listen is a loopback "
               "address (it is " +
               cfg.http.listen.to_string() + "): give every agent a real secret";
      for (const auto& id : demo) demo_logins.emplace_back(id, o.config.agents.at(id).token);
    }
    make_public_listener();
    o.ioc = &ioc;
    o.listener = public_listener.get();
    o.producer = producer.get();
    o.kafka = kafka;
    o.topics = topics;
    o.node_id = cfg.node.id;
    health->set_component("gateway", false, "reading omni.assignments");
    o.on_caught_up = [h = health] { h->set_component("gateway", true); };
    auto g = routing::desk::gateway::create(std::move(o));
    if (!g) return "gateway: " + g.err().to_string();
    gateway = std::move(*g);
    if (auto r = gateway->start(); !r) return "gateway: " + r.err().to_string();
    return std::nullopt;
  }

  // What the broker keeps of the router's topics must allow recovery from snapshots: warnings
  // only (the broker is the operator's), and none when it does not answer DescribeConfigs.
  void check_retention(const routing::service::router_config& rc) {
    auto configs = core::bus::topic_configs(kafka, {topics.assignments, topics.snapshots}, 10s);
    if (!configs) {
      logger().info("kafka: cannot check the retention of the router's topics ({})",
                    configs.err().to_string());
      return;
    }
    for (const auto& problem : routing::service::retention_problems(topics, *configs, rc))
      logger().warn("kafka: {}", problem);
  }

  // Router role: the routing engines on Kafka (routing/service), after Kafka, before the admin.
  std::optional<std::string> start_router() {
    if (!cfg.node.has_role(config::node_role::router)) return std::nullopt;
    config::diagnostics sink;
    routing::service::router_options o;
    o.config = routing::service::parse_router_config(cfg.routing, sink);
    if (!sink.empty()) {
      std::string all;
      for (const auto& d : sink.take_sorted()) all += "\n  " + config::to_string(d);
      return "routing:" + all;
    }
    o.kafka = kafka;
    o.topics = topics;
    o.state_dir = cfg.node.state_dir;
    o.node_id = cfg.node.id;
    if (!cfg.kafka.embedded) check_retention(o.config);
    // Ready once the group has assigned this node its partitions and each is rebuilt from the
    // changelog: a contact routed before that would meet an engine that knows no agent.
    health->set_component("router", false, "joining the consumer group");
    o.on_health = [h = health](bool ok) {
      h->set_component("router", ok, ok ? "started" : "rebuilding partitions");
    };
    if (dog) o.loop_beat = &dog->add("router");
    auto r = routing::service::router::start(std::move(o));
    if (!r) return "router: " + r.err().to_string();
    router = std::move(*r);
    return std::nullopt;
  }

  void stop_all() {
    notify::stopping("draining");
    // The loops stop beating on purpose now; the watchdog keeps pinging through the drain.
    if (dog) {
      dog->remove("router");
      dog->remove("io");
    }
    if (io_beat_timer) io_beat_timer->cancel();
    if (outbound) outbound->stop();  // before the io loop stops: it waits for the handler
    {
      std::lock_guard lock(connectors_mutex);
      for (auto& c : connectors) c->stop();
    }
    if (router) router->stop();    // flushes its own producer (changelog), bounded
    if (gateway) gateway->stop();  // closes desk sockets; agents' last events are queued by now
    if (public_listener) {
      public_listener->stop();
      public_listener->wait_stopped(10s);
      unexport_listener_metrics("public");
    }
    if (admin_listener) admin_listener->stop();
    if (producer) {
      auto queued = producer->in_flight();
      if (!producer->flush(drain_deadline))
        logger().error("drain: {} message(s) still undelivered after {}s", producer->in_flight(),
                       drain_deadline.count());
      else if (queued)
        logger().info("drain: {} queued message(s) delivered", queued);
    }
    {
      std::lock_guard lock(watch_mutex);
      watch_stop = true;
    }
    watch_cv.notify_all();
    if (kafka_watch.joinable()) kafka_watch.join();
    if (admin_listener) {
      admin_listener->wait_stopped(5s);
      unexport_listener_metrics("admin");
    }
    if (signals) signals->cancel();
    work.reset();
    ioc.stop();
    connection_work.clear();
    for (auto& c : connection_contexts) c->stop();
    for (auto& t : io_threads)
      if (t.joinable()) t.join();
    io_threads.clear();
    admin_listener.reset();
    public_listener.reset();
    outbound.reset();
    connectors.clear();
    retired.clear();
    publisher.reset();
    agent_event_publisher.reset();
    router.reset();
    gateway.reset();
    producer.reset();
    embedded.reset();
    io_beat_timer.reset();
    dog.reset();  // after the router, which holds a pointer to its beat counter
  }

  void on_signal(int signo) {
    if (signo == SIGHUP) {
      reload();
    } else {
      logger().info("received {}, draining", signo == SIGTERM ? "SIGTERM" : "SIGINT");
      request_stop();
      return;
    }
    wait_signal();
  }

  void wait_signal() {
    signals->async_wait([this](const boost::system::error_code& ec, int signo) {
      if (!ec) on_signal(signo);
    });
  }

  // SIGHUP: the whole new file is validated first (as check-config does); only then logging,
  // routing and connectors change. Anything else that differs needs a restart and is logged.
  void reload() {
    notify::reloading();
    logger().info("reload: reading {}", config_path.string());
    if (auto err = apply_reload())
      logger().error("reload: rejected, the running configuration stays: {}", *err);
    notify::ready(status_line());
  }

  std::optional<std::string> apply_reload() {
    auto loaded = config::load_file(config_path);
    if (!loaded.ok()) {
      for (const auto& d : loaded.errors) logger().error("reload: {}", config::to_string(d));
      return std::to_string(loaded.errors.size()) + " error(s) in " + config_path.string();
    }
    config::omniroute_config& next = *loaded.config;
    // The same check as check-config and serve: nothing changes unless the whole file passes.
    validation checked = validate(next);
    if (!checked.ok()) {
      for (const auto& d : checked.errors) logger().error("reload: {}", config::to_string(d));
      return std::to_string(checked.errors.size()) + " error(s) in " + config_path.string();
    }
    std::optional<routing::service::router_config> routing_next;
    if (router) routing_next = std::move(checked.routing);
    config::diagnostics sink;
    // Connectors: an entry whose type and settings did not change keeps its instance (and its
    // sockets, webhooks in flight, IMAP sessions); new and changed ones are created (validated,
    // no I/O yet) now, started below.
    struct plan {
      std::vector<std::unique_ptr<connectors::connector>> fresh;
      std::vector<std::string> replaced_or_removed;  // names of running connectors to retire
    } p;
    const bool ingest = cfg.node.has_role(config::node_role::ingest);
    if (ingest) {
      std::map<std::string, const config::connector_config*> running;
      for (const auto& e : cfg.connectors) running[e.name] = &e;
      config::omniroute_config changed = next;
      changed.connectors.clear();
      for (const auto& e : next.connectors) {
        auto it = running.find(e.name);
        if (it != running.end() && same_entry(*it->second, e)) {
          running.erase(it);
          continue;
        }
        changed.connectors.push_back(e);
        if (it != running.end()) {
          p.replaced_or_removed.push_back(e.name);
          running.erase(it);
        }
      }
      for (const auto& [name, e] : running) p.replaced_or_removed.push_back(name);
      p.fresh = connectors::create_all(changed, sink, connector_ctx);
    }
    if (!sink.empty()) {  // validated above; creating them with the live context cannot differ
      auto all = sink.take_sorted();
      for (const auto& d : all) logger().error("reload: {}", config::to_string(d));
      return std::to_string(all.size()) + " error(s) in " + config_path.string();
    }

    // Valid: apply.
    core::log::init(config::to_string(next.logging.level), to_sink(next.logging.sink));
    warn_restart_only(loaded.document);
    if (routing_next) router->reconfigure(std::move(*routing_next));
    std::size_t retired_now = 0, started = 0;
    for (const auto& name : p.replaced_or_removed) {
      for (std::size_t i = 0; i < connectors.size(); ++i)
        if (connectors[i]->name() == name) {
          retire_connector(i);
          ++retired_now;
          break;
        }
    }
    for (auto& c : p.fresh) {
      const std::string name = c->name();
      if (auto err = start_connector(std::move(c))) {
        logger().error("reload: {} (the other changes are applied)", *err);
        health->set_component("connector:" + name, false);
        continue;
      }
      ++started;
    }
    if (!connectors.empty())
      if (auto err = start_outbound()) logger().error("reload: {}", *err);
    cfg.logging = next.logging;
    cfg.routing = next.routing;
    cfg.connectors = next.connectors;
    logger().info("reload: applied (logging{}; connectors: {} kept, {} started, {} stopped)",
                  routing_next ? ", routing" : "", connectors.size() - started, started,
                  retired_now);
    return std::nullopt;
  }

  static bool same_entry(const config::connector_config& a, const config::connector_config& b) {
    return a.type == b.type && YAML::Dump(a.settings.node) == YAML::Dump(b.settings.node);
  }

  // Sections a running daemon cannot change: said once per reload, applied at the next restart.
  void warn_restart_only(const YAML::Node& next) {
    std::string keys;
    for (const char* key : {"node", "kafka", "http", "admin", "gateway"})
      if (YAML::Dump(running_doc[key]) != YAML::Dump(next[key]))
        keys += (keys.empty() ? "" : ", ") + std::string(key);
    if (!keys.empty()) logger().warn("reload: changes to {} take effect at the next restart", keys);
    running_doc = YAML::Clone(next);
  }

  std::string status_line() const {
    return "serving; kafka " + kafka.brokers + (health->kafka_reachable() ? "" : " (unreachable)");
  }

  void request_stop() {
    std::lock_guard lock(stop_mutex);
    stop_requested = true;
    stop_cv.notify_all();
  }
};

application::application(config::omniroute_config cfg, std::filesystem::path config_path)
    : impl_(std::make_unique<impl>()) {
  impl_->cfg = std::move(cfg);
  impl_->config_path = std::move(config_path);
}

application::~application() {
  if (impl_) impl_->stop_all();
}

std::optional<std::string> application::start() {
  auto& d = *impl_;
  core::log::init(config::to_string(d.cfg.logging.level), to_sink(d.cfg.logging.sink));
  logger().info("omniroute {} starting (node {}, config {})", version_string(), d.cfg.node.id,
                d.config_path.string());
  d.health->set_version(version_string());
  if (!d.config_path.empty()) {
    config::diagnostics ignored;  // main() loaded it already
    if (auto doc = config::parse_yaml_file(d.config_path, ignored)) d.running_doc = doc->node;
  }
  if (auto err = d.start_kafka()) {
    d.stop_all();
    return "kafka: " + *err;
  }
  d.health->set_component("kafka", true);
  if (auto err = d.start_ingest()) {
    d.stop_all();
    return *err;
  }
  d.start_watchdog();
  if (auto err = d.start_router()) {
    d.stop_all();
    return *err;
  }
  if (auto err = d.start_gateway()) {
    d.stop_all();
    return *err;
  }
  if (auto err = d.start_public()) {
    d.stop_all();
    return *err;
  }
  if (auto err = d.start_admin()) {
    d.stop_all();
    return *err;
  }
  d.signals.emplace(d.ioc, SIGINT, SIGTERM, SIGHUP);
  d.wait_signal();
  d.start_io_threads();
  d.health->set_started(true);
  notify::ready(d.status_line());
  logger().info("ready");
  d.announce_demo();
  return std::nullopt;
}

int application::run() {
  auto& d = *impl_;
  {
    std::unique_lock lock(d.stop_mutex);
    d.stop_cv.wait(lock, [&] { return d.stop_requested; });
  }
  d.health->set_started(false);
  d.stop_all();
  logger().info("stopped");
  return d.exit_code;
}

void application::request_stop() { impl_->request_stop(); }

std::string application::kafka_bootstrap() const { return impl_->kafka.brokers; }

std::uint16_t application::http_port() const {
  return impl_->public_listener ? impl_->public_listener->port() : 0;
}

std::uint16_t application::admin_port() const {
  return impl_->admin_listener ? impl_->admin_listener->port() : 0;
}

}  // namespace omni::daemon
