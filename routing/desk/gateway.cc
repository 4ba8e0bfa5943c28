// The gateway's Kafka side (the reader thread feeding the read model and the pushes, the events
// and replies it produces) and its start and stop.
#include "routing/desk/gateway.h"

#include "routing/desk/gateway_impl.h"

namespace omni::routing::desk {

void gateway::impl::deliver(const std::vector<push>& out) {
  if (out.empty()) return;
  std::vector<std::pair<std::shared_ptr<session_base>, const std::string*>> targets;
  {
    std::lock_guard lock(mutex);
    for (const auto& p : out) {
      if (!p.agent.empty()) {
        auto it = agents.find(p.agent);
        if (it == agents.end()) continue;
        for (auto& w : it->second.sockets)
          if (auto s = w.lock()) targets.emplace_back(std::move(s), &p.json);
      } else {
        for (auto& [id, a] : agents) {
          if (a.id.domain != p.domain) continue;
          for (auto& w : a.sockets)
            if (auto s = w.lock()) targets.emplace_back(std::move(s), &p.json);
        }
      }
    }
  }
  for (auto& [s, text] : targets) s->send(*text);
}

void gateway::impl::produce_event(const core::agent_event& e,
                                  std::function<void(bool, std::string)> done,
                                  const core::bus::executor& post) {
  if (stopped) return done(false, "gateway stopping");
  auto st = producer->produce(
      topics.agent_events, e.domain, core::encode(e),
      [self = shared_from_this(), done](const core::bus::delivery& d) {
        if (d.ok) ++self->events_produced;
        done(d.ok, d.error);
      },
      post);
  if (st == core::bus::produce_status::queue_full)
    done(false, "Kafka queue full");
  else if (st == core::bus::produce_status::failed)
    done(false, "Kafka produce failed");
}

void gateway::impl::produce_outbound(const core::outbound& o,
                                     std::function<void(bool, std::string)> done,
                                     const core::bus::executor& post) {
  if (stopped) return done(false, "gateway stopping");
  const std::string& key = o.conversation.empty() ? o.contact_id : o.conversation;
  auto st = producer->produce(
      topics.outbound, key, core::encode(o),
      [self = shared_from_this(), done](const core::bus::delivery& d) {
        if (d.ok) ++self->events_produced;
        done(d.ok, d.error);
      },
      post);
  if (st == core::bus::produce_status::queue_full)
    done(false, "Kafka queue full");
  else if (st == core::bus::produce_status::failed)
    done(false, "Kafka produce failed");
}

void gateway::impl::note_read(const core::bus::message& m) {
  if (caught_up) return;
  next_offsets[{m.topic, m.partition}] = m.offset + 1;
  check_caught_up();
}

void gateway::impl::check_caught_up() {
  if (caught_up) return;
  if (!catch_up) {
    // The end offsets as of the first answer: asked here rather than in start(), so a broker that
    // is down at start delays readiness instead of failing the daemon.
    if (std::chrono::steady_clock::now() < next_ends_query) return;
    next_ends_query = std::chrono::steady_clock::now() + 5s;
    std::map<topic_partition, std::int64_t> ends;
    for (const auto& topic : {topics.assignments, topics.agent_events}) {
      auto w = core::bus::watermarks(kafka, topic, 5s);
      if (!w) {
        logger().warn("desk: cannot read the end offsets of {} yet: {}", topic, w.err().message);
        return;
      }
      for (const auto& p : *w)
        if (p.high > p.low) ends[{topic, p.partition}] = p.high;
    }
    catch_up = std::move(ends);
  }
  std::erase_if(*catch_up, [&](const auto& e) {
    auto it = next_offsets.find(e.first);
    return it != next_offsets.end() && it->second >= e.second;
  });
  if (!catch_up->empty()) return;
  caught_up = true;
  next_offsets.clear();
  logger().info("desk: read model caught up ({} records)", records_read.load());
  if (on_caught_up) on_caught_up();
}

void gateway::impl::read_loop(std::unique_ptr<core::bus::consumer> c) {
  while (!reader_stop) {
    auto m = c->poll(100ms);
    if (!m) {
      check_caught_up();
      continue;
    }
    ++records_read;
    note_read(*m);
    if (m->topic == topics.assignments) {
      auto a = core::decode_assignment(m->value);
      if (!a) {
        logger().warn("desk: skipping bad record {}[{}]@{}: {}", m->topic, m->partition, m->offset,
                      a.err().to_string());
        continue;
      }
      deliver(model.apply(*a));
    } else if (m->topic == topics.agent_events) {
      auto e = core::decode_agent_event(m->value);
      if (!e) continue;
      deliver(model.apply(*e));
    }
  }
  c->close();
}

// --- gateway -----------------------------------------------------------------------------------

gateway::gateway(std::shared_ptr<impl> p) : impl_(std::move(p)) {}
gateway::~gateway() { stop(); }

core::result<std::unique_ptr<gateway>> gateway::create(gateway_options o) {
  if (!o.ioc || !o.listener || !o.producer)
    return core::error{"gateway needs an io_context, a listener and a producer", "gateway"};
  auto p = std::make_shared<impl>(o.config);
  p->ioc = o.ioc;
  p->producer = o.producer;
  p->kafka = std::move(o.kafka);
  p->topics = std::move(o.topics);
  p->cfg = std::move(o.config);
  p->node_id = std::move(o.node_id);
  p->on_caught_up = std::move(o.on_caught_up);
  p->auth = std::make_unique<authenticator>(p->cfg);
  p->register_routes(*o.listener);
  return std::unique_ptr<gateway>(new gateway(std::move(p)));
}

core::result<bool> gateway::start() {
  auto& d = *impl_;
  core::bus::consumer_options co;
  co.group_id = "omniroute-desk-" + d.node_id + "-" + random_id("");
  co.topics = {d.topics.assignments, d.topics.agent_events};
  co.from_beginning = true;
  // Offers are latency-sensitive: do not let an idle fetch sit on the broker for librdkafka's
  // default 500 ms (an operator's own kafka.client setting wins).
  core::bus::settings ks = d.kafka;
  ks.client.try_emplace("fetch.wait.max.ms", "10");
  auto c = core::bus::consumer::create(ks, std::move(co));
  if (!c) return c.err();
  d.reader = std::thread([p = impl_, c = std::move(*c)]() mutable { p->read_loop(std::move(c)); });
  auto& reg = core::metrics::global();
  std::weak_ptr<impl> weak = impl_;
  reg.callback_gauge("omniroute_desk_connections", "Open agent desk WebSocket connections", {},
                     [weak] {
                       auto p = weak.lock();
                       return p ? double(p->connections.load()) : 0.0;
                     });
  reg.callback_counter("omniroute_desk_events_produced_total",
                       "Agent events and replies the desk gateway stored in Kafka", {}, [weak] {
                         auto p = weak.lock();
                         return p ? double(p->events_produced.load()) : 0.0;
                       });
  logger().info("desk: gateway on /agent/v1/ws, /api/v1/, /desk/ ({} static agent(s){})",
                d.cfg.agents.size(), d.cfg.jwt ? ", JWT" : "");
  return true;
}

void gateway::stop() {
  auto& d = *impl_;
  if (d.stopped.exchange(true)) return;
  std::vector<std::shared_ptr<session_base>> open;
  {
    std::lock_guard lock(d.mutex);
    for (auto& w : d.sessions)
      if (auto s = w.lock()) open.push_back(std::move(s));
    for (auto& [id, a] : d.agents)
      if (a.grace) a.grace->cancel();
  }
  for (auto& s : open) s->close(close_code::going_away, "gateway stopping");
  d.reader_stop = true;
  if (d.reader.joinable()) d.reader.join();
  core::metrics::global().drop_callback("omniroute_desk_connections", {});
  core::metrics::global().drop_callback("omniroute_desk_events_produced_total", {});
}

gateway_statistics gateway::statistics() const {
  auto& d = *impl_;
  gateway_statistics s;
  s.connections = d.connections;
  {
    std::lock_guard lock(d.mutex);
    for (const auto& [id, a] : d.agents)
      for (const auto& w : a.sockets)
        if (!w.expired()) {
          ++s.agents_online;
          break;
        }
  }
  s.messages_in = d.messages_in;
  s.pushes = d.pushes;
  s.events_produced = d.events_produced;
  s.errors = d.errors;
  s.records_read = d.records_read;
  return s;
}

}  // namespace omni::routing::desk
