// The router loop: polls the inputs, keeps the partitions it owns and their domains, applies
// steps, stores offsets once their markers are delivered, ticks timers, and the public API.
#include "routing/service/router_impl.h"

#include <array>

#include <pthread.h>

namespace omni::routing::service {
namespace {

eng::timestamp wall_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The gauge `name{label="value"}`: registered on first use, then taken from `cache` (update_gauges
// runs every second over every queue and domain).
core::metrics::gauge& labelled_gauge(std::map<std::string, core::metrics::gauge*>& cache,
                                     const char* name, const char* help, const char* label,
                                     const std::string& value) {
  auto& g = cache[value];
  if (!g) g = &core::metrics::global().gauge_of(name, help, {{label, value}});
  return *g;
}

}  // namespace

core::result<std::shared_ptr<core::bus::producer>> router::impl::make_producer() const {
  // The changelog and the snapshots are repetitive JSON and ids: lz4 stores them in a fraction of
  // the space (and of the embedded cluster's 5 MiB per partition), unless kafka.client says
  // otherwise.
  core::bus::settings kafka = opts.kafka;
  kafka.client.try_emplace("compression.type", "lz4");
  auto p = core::bus::producer::create(kafka, "omniroute-router-" + opts.node_id,
                                       core::bus::delivery_mode::gapless);
  if (!p) return p.err();
  return std::shared_ptr<core::bus::producer>(std::move(*p));
}

domain_state& router::impl::domain_of(partition_state& ps, const std::string& name) {
  auto& slot = ps.domains[name];
  if (!slot) {
    slot = std::make_unique<domain_state>(opts.config.seen_window);
    slot->name = name;
    slot->engine = std::make_unique<eng::engine>(opts.config.engine);
  }
  return *slot;
}

void router::impl::forget(domain_state& d, const std::string& contact) {
  auto it = d.contacts.find(contact);
  if (it == d.contacts.end()) return;
  auto conv = d.conversations.find(it->second.conversation);
  if (conv != d.conversations.end() && conv->second == contact) d.conversations.erase(conv);
  d.contacts.erase(it);
}

// Applies a step to the domain: engine inputs (or a tick), then what the router keeps.
std::vector<eng::decision> router::impl::apply(domain_state& d, const step& s, bool tick) {
  std::vector<eng::decision> out;
  if (tick) d.engine->tick(s.now, out);
  for (const auto& in : s.inputs) {
    auto r = d.engine->handle(in, s.now, out);
    if (r != eng::input_result::ok)
      logger().debug("domain {}: input refused by the engine: {}", d.name, eng::to_string(r));
  }
  for (const auto& m : s.arrivals) {
    auto& kept = d.contacts[m.id] = m;
    for (const auto& in : s.inputs)
      if (const auto* a = std::get_if<eng::contact_arrived>(&in); a && a->item.id == m.id) {
        kept.text = cut_utf8(a->item.text, core::codec_limits::max_subject_bytes);
        kept.text_cut = kept.text.size() < a->item.text.size();
      }
    if (!m.conversation.empty()) d.conversations[m.conversation] = m.id;
  }
  for (const auto& id : s.seen)
    if (!id.empty()) d.seen.insert(id);
  for (const auto& id : s.finished) forget(d, id);
  for (const auto& dec : out)
    if (dec.kind == eng::decision_kind::abandon || dec.kind == eng::decision_kind::expire)
      forget(d, dec.contact);
  return out;
}

void router::impl::mark_done(partition_state& ps, const std::string& topic, std::int64_t offset) {
  auto& q = ps.pending[topic];
  if (q.empty()) {
    consumer->store({topic, ps.partition, offset, {}, {}, -1});
    return;
  }
  q.push_back({offset, true});
}

void router::impl::process(const core::bus::message& msg,
                           std::optional<eng::timestamp> forced_now) {
  auto pit = partitions.find(msg.partition);
  if (pit == partitions.end()) return;
  partition_state& ps = *pit->second;
  auto& through = ps.through[msg.topic];
  through = std::max(through, msg.offset);
  // Taken before the snapshot recovery loaded (redelivered from the group's committed offset).
  if (auto snap = ps.snapshot_through.find(msg.topic); snap != ps.snapshot_through.end()) {
    if (msg.offset <= snap->second) {
      mark_done(ps, msg.topic, msg.offset);
      return;
    }
    ps.snapshot_through.erase(snap);  // consumed in order: nothing below it comes again
  }
  if (auto rec = ps.recorded.find(msg.topic); rec != ps.recorded.end()) {
    auto& offsets = rec->second;
    const bool recorded = offsets.count(msg.offset) > 0;              // redelivered after recovery
    offsets.erase(offsets.begin(), offsets.upper_bound(msg.offset));  // consumed in order
    if (offsets.empty()) ps.recorded.erase(rec);
    if (recorded) {
      mark_done(ps, msg.topic, msg.offset);
      return;
    }
  }
  const auto started = clock_type::now();
  const eng::timestamp now = forced_now.value_or(wall_now());
  arrival_record.reset();
  std::optional<step> s;
  domain_state* d = nullptr;
  bool duplicate = false;
  if (msg.topic == opts.topics.contacts) {
    auto c = core::decode_contact(msg.value);
    if (!c) {
      logger().warn("{}[{}]@{}: not a contact: {}", msg.topic, msg.partition, msg.offset,
                    c.err().to_string());
    } else {
      d = &domain_of(ps, c->domain.empty() ? msg.key : c->domain);
      duplicate = d->seen.contains(c->id);
      if (!duplicate) s = contact_step(*d, *c, now);
    }
  } else {
    auto e = core::decode_agent_event(msg.value);
    if (!e) {
      logger().warn("{}[{}]@{}: not an agent event: {}", msg.topic, msg.partition, msg.offset,
                    e.err().to_string());
    } else {
      d = &domain_of(ps, e->domain.empty() ? msg.key : e->domain);
      duplicate = !e->id.empty() && d->seen.contains(e->id);
      if (!duplicate) s = agent_step(*d, *e, now);
    }
  }
  if (duplicate) {
    std::lock_guard lock(stats_mutex);
    stats.duplicates++;
  }
  if (!s || !d) {
    mark_done(ps, msg.topic, msg.offset);
    return;
  }
  auto out = apply(*d, *s, false);
  const std::string answered = record_arrival(out);
  publish(ps, *d, std::move(*s), false, out, {msg.topic, msg.partition, msg.offset}, answered);
  decision_seconds.observe(std::chrono::duration<double>(clock_type::now() - started).count());
  std::lock_guard lock(stats_mutex);
  stats.steps++;
}

void router::impl::tick_due(eng::timestamp now) {
  for (auto& [p, ps] : partitions) {
    for (auto& [name, d] : ps->domains) {
      auto due = d->engine->next_deadline();
      if (!due || *due > now) continue;
      run_tick(*ps, *d, now);
    }
  }
}

void router::impl::run_tick(partition_state& ps, domain_state& d, eng::timestamp now) {
  step s;
  s.now = now;
  auto out = apply(d, s, true);
  publish(ps, d, std::move(s), true, out, {});
  std::lock_guard lock(stats_mutex);
  stats.steps++;
}

std::chrono::milliseconds router::impl::poll_timeout(eng::timestamp now) const {
  eng::timestamp wait = 100;
  for (const auto& [p, ps] : partitions)
    for (const auto& [name, d] : ps->domains)
      if (auto due = d->engine->next_deadline()) wait = std::min(wait, *due - now);
  return std::chrono::milliseconds(std::max<eng::timestamp>(wait, 0));
}

void router::impl::drain_completions() {
  std::vector<completion> batch;
  {
    std::lock_guard lock(completions_mutex);
    batch.swap(completions);
  }
  for (auto& c : batch) {
    if (!c.ok) {
      logger().error("changelog delivery to partition {} failed ({}): rebuilding from Kafka",
                     c.partition, c.error);
      resync = true;
      continue;
    }
    auto pit = partitions.find(c.partition);
    if (pit == partitions.end() || pit->second->generation != c.generation) continue;
    partition_state& ps = *pit->second;
    if (c.marker != 0) on_marker_delivered(ps, c);
    if (c.snapshot != 0) ps.snapshot_taken = c.snapshot_taken;
    if (c.topic.empty()) continue;
    auto& q = ps.pending[c.topic];
    for (auto& p : q)
      if (p.offset == c.offset) p.done = true;
    std::int64_t last = -1;
    while (!q.empty() && q.front().done) {
      last = q.front().offset;
      q.pop_front();
    }
    if (last >= 0) consumer->store({c.topic, ps.partition, last, {}, {}, -1});
  }
}

// Waits until every record produced so far has its delivery report, then stores offsets.
void router::impl::settle(std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  while (outstanding.load() > 0 && clock_type::now() < deadline) {
    drain_completions();
    std::this_thread::sleep_for(2ms);
  }
  drain_completions();
}

// Before a rebuild: every record produced so far has its delivery report (records never expire,
// so this lasts as long as Kafka is away), then the emitter may produce again. False when the
// router stops meanwhile.
bool router::impl::settle_all() {
  for (int seconds = 0; outstanding.load() > 0; ++seconds) {
    if (stopping.load()) return false;
    if (opts.loop_beat) opts.loop_beat->fetch_add(1, std::memory_order_relaxed);
    if (seconds > 0 && seconds % 10 == 0)
      logger().warn("router: {} record(s) still waiting for Kafka before the rebuild",
                    outstanding.load());
    settle(1s);
  }
  drain_completions();
  std::lock_guard lock(emit_mutex);
  emit_broken = false;
  return true;
}

// A producer that raised a fatal error delivers nothing more: the rebuild gets a new one
// (nothing is outstanding, so the emitter does not hold the old one).
std::optional<std::string> router::impl::rebuild_producer() {
  {
    std::lock_guard lock(producer_mutex);
    if (producer && !producer->fatal()) return std::nullopt;
  }
  logger().warn("router: the producer had a fatal error; creating a new one");
  auto p = make_producer();
  if (!p) return p.err().to_string();
  std::lock_guard lock(producer_mutex);
  producer = std::move(*p);
  return std::nullopt;
}

void router::impl::on_assigned(const std::vector<core::bus::topic_partition>& parts) {
  std::set<std::int32_t> wanted;
  for (const auto& tp : parts)
    if (tp.topic == opts.topics.contacts || tp.topic == opts.topics.agent_events)
      wanted.insert(tp.partition);
  for (auto p : wanted)
    if (!partitions.count(p)) recover(p);
  if (opts.on_health) opts.on_health(!resync);
}

void router::impl::on_revoked(const std::vector<core::bus::topic_partition>& parts) {
  // Everything published for these partitions reaches Kafka and its offsets are stored before
  // the group hands them to another node (which then loads our snapshot, written here, and
  // replays the changelog after it).
  if (opts.final_snapshot)
    for (const auto& tp : parts)
      if (auto it = partitions.find(tp.partition);
          it != partitions.end() && it->second->steps_since_snapshot > 0 &&
          !it->second->snapshot_wait && snapshots_enabled())
        take_snapshot(*it->second);
  settle(10s);
  for (const auto& tp : parts) partitions.erase(tp.partition);
}

std::optional<std::string> router::impl::make_consumer() {
  core::bus::consumer_options co;
  co.group_id = opts.group_id;
  co.topics = {opts.topics.contacts, opts.topics.agent_events};
  co.assignment_strategy = "range";
  co.on_assigned = [this](const auto& parts) { on_assigned(parts); };
  co.on_revoked = [this](const auto& parts) { on_revoked(parts); };
  // Failover speed: a crashed router's domains move after the session timeout, so keep it
  // short unless the operator chose otherwise (kafka.client).
  core::bus::settings kafka = opts.kafka;
  kafka.client.try_emplace("session.timeout.ms", "6000");
  kafka.client.try_emplace("heartbeat.interval.ms", "1000");
  // Latency: a fetch that finds nothing new returns after at most 10 ms (the mock cluster holds
  // it for the whole wait even when data arrives).
  kafka.client.try_emplace("fetch.wait.max.ms", "10");
  auto c = core::bus::consumer::create(kafka, std::move(co));
  if (!c) return c.err().to_string();
  consumer = std::move(*c);
  return std::nullopt;
}

void router::impl::update_gauges() {
  std::map<std::string, std::pair<double, std::array<double, 2>>> per_queue;
  const auto now = wall_now();
  for (const auto& [p, ps] : partitions)
    for (const auto& [name, d] : ps->domains)
      for (const auto& q : d->engine->queue_statuses(now)) {
        auto& e = per_queue[q.name];
        e.first += static_cast<double>(q.waiting);
        e.second[0] += static_cast<double>(q.answered_within_sla);
        e.second[1] += static_cast<double>(q.answered + q.abandoned + q.expired);
      }
  for (const auto& [queue, e] : per_queue) {
    labelled_gauge(waiting_gauges, "omniroute_queue_waiting",
                   "Contacts waiting in the queue, all domains.", "queue", queue)
        .set(e.first);
    labelled_gauge(service_level_gauges, "omniroute_queue_service_level",
                   "Share of contacts answered within the SLA threshold (answered / finished).",
                   "queue", queue)
        .set(e.second[1] > 0 ? e.second[0] / e.second[1] : 1.0);
  }
  for (const auto& [p, ps] : partitions) {
    if (ps->snapshot_taken == 0) continue;
    for (const auto& [name, d] : ps->domains) {
      labelled_gauge(snapshot_age_gauges, "omniroute_router_snapshot_age_seconds",
                     "Age of the domain's newest snapshot in omni.snapshots (delivered or loaded).",
                     "domain", name)
          .set(static_cast<double>(now - ps->snapshot_taken) / 1000.0);
      auto& size =
          labelled_gauge(snapshot_size_gauges, "omniroute_router_snapshot_bytes",
                         "Size of the domain's part of its newest snapshot.", "domain", name);
      if (auto it = snapshot_sizes.find(name); it != snapshot_sizes.end())
        size.set(static_cast<double>(it->second));
    }
  }
  std::size_t domains = 0;
  for (const auto& [p, ps] : partitions) domains += ps->domains.size();
  std::lock_guard lock(stats_mutex);
  stats.partitions = partitions.size();
  stats.domains = domains;
}

void router::impl::apply_pending_config() {
  std::optional<router_config> next;
  {
    std::lock_guard lock(reconfigure_mutex);
    next.swap(pending_config);
  }
  if (!next) return;
  const auto now = wall_now();
  std::size_t domains = 0, decisions = 0;
  for (auto& [p, ps] : partitions)
    for (auto& [name, d] : ps->domains) {
      std::vector<eng::decision> out;
      auto problems = d->engine->reconfigure(next->engine, now, out);
      if (!problems.empty()) {  // parse_router_config validated it: not expected
        logger().error("router: domain {} refused the new configuration: {}", name, problems);
        continue;
      }
      // Skills and capacity of configured agents who are logged in now take effect at once.
      step s;
      s.now = now;
      for (const auto& [id, profile] : next->agents) {
        auto before = opts.config.agents.find(id);
        if (before != opts.config.agents.end() && before->second.skills == profile.skills &&
            before->second.capacity == profile.capacity)
          continue;
        if (!d->engine->agent_status(id, now)) continue;
        s.inputs.push_back(eng::agent_update{id, profile.skills, profile.capacity});
      }
      for (auto& dec : apply(*d, s, false)) out.push_back(std::move(dec));
      ++domains;
      decisions += out.size();
      if (out.empty() && s.inputs.empty()) continue;
      publish(*ps, *d, std::move(s), true, out, {});  // a tick marker: replay applies its inputs
    }
  opts.config = std::move(*next);
  logger().info("router: configuration reloaded ({} domain(s) reconfigured, {} decision(s))",
                domains, decisions);
}

void router::impl::run() {
  while (!stopping.load()) {
    apply_pending_config();
    if (opts.loop_beat) opts.loop_beat->fetch_add(1, std::memory_order_relaxed);
    if (resync) {
      logger().warn("router: leaving the group to rebuild every partition from the changelog");
      if (opts.on_health) opts.on_health(false);
      if (!settle_all()) break;  // stopping
      if (auto err = rebuild_producer()) {
        logger().error("router: cannot replace the producer: {}", *err);
        std::this_thread::sleep_for(1s);
        continue;
      }
      consumer.reset();
      partitions.clear();
      resync = false;
      {
        std::lock_guard lock(stats_mutex);
        stats.rebuilds++;
      }
      if (auto err = make_consumer()) {
        logger().error("router: cannot rejoin: {}", *err);
        resync = true;
        std::this_thread::sleep_for(1s);
        continue;
      }
    }
    drain_completions();
    auto m = consumer->poll(poll_timeout(wall_now()));
    {
      // One history transaction per batch, committed before the next drain_completions()
      // stores the batch's offsets.
      std::optional<history::store::batch> tx;
      if (history && m) tx.emplace(*history);
      for (int batch = 0; m && batch < 500; ++batch) {
        process(*m);
        m = consumer->poll(0ms);
      }
      if (m) process(*m);
      tick_due(wall_now());
    }
    for (auto& [p, ps] : partitions) maybe_snapshot(*ps);
    if (clock_type::now() >= next_gauges) {
      update_gauges();
      next_gauges = clock_type::now() + 1s;
    }
    if (opts.config.stats_interval > 0 && clock_type::now() >= next_stats) {
      publish_stats(wall_now());
      next_stats = clock_type::now() + std::chrono::milliseconds(opts.config.stats_interval);
    }
  }
  // A snapshot of what changed since the last one, so the next owner replays (almost) nothing.
  if (opts.final_snapshot)
    for (auto& [p, ps] : partitions)
      if (ps->steps_since_snapshot > 0 && !ps->snapshot_wait && snapshots_enabled())
        take_snapshot(*ps);
  settle(10s);
  if (consumer) consumer->close();
}

router::router(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

core::result<std::unique_ptr<router>> router::start(router_options options) {
  if (auto problems = eng::validate(options.config.engine); !problems.empty())
    return core::error{problems, "routing"};
  auto p = std::make_unique<impl>(std::move(options));
  auto producer = p->make_producer();
  if (!producer) return producer.err();
  p->producer = std::move(*producer);
  if (!p->opts.state_dir.empty()) {
    auto h = history::store::open(p->opts.state_dir / "history.db");
    if (!h) return h.err();
    p->history = std::move(*h);
  }
  if (auto err = p->make_consumer()) return core::error{*err, "kafka"};
  impl* raw = p.get();
  p->emitter = std::thread([raw] {
    pthread_setname_np(pthread_self(), "omni-router-out");
    raw->run_emitter();
  });
  p->thread = std::thread([raw] {
    pthread_setname_np(pthread_self(), "omni-router");  // its own line in top -H and perf
    // An exception leaving a step ends nothing but that step: the router leaves the group and
    // rebuilds every partition from the changelog, the recovery it uses after a failed delivery.
    for (;;) {
      try {
        raw->run();
        return;
      } catch (const std::exception& e) {
        logger().error("router: step failed with an exception ({}); rebuilding from Kafka",
                       e.what());
      } catch (...) {
        logger().error("router: step failed with an exception; rebuilding from Kafka");
      }
      core::metrics::global()
          .counter_of("omniroute_router_exceptions_total",
                      "Exceptions that ended a router step (the router rebuilt from Kafka).")
          .inc();
      raw->resync = true;
    }
  });
  logger().info("router: joined group {} on {} and {}", raw->opts.group_id,
                raw->opts.topics.contacts, raw->opts.topics.agent_events);
  return std::unique_ptr<router>(new router(std::move(p)));
}

router::~router() { stop(); }

void router::stop() {
  if (!impl_) return;
  std::call_once(impl_->stop_once, [this] {
    {
      std::lock_guard lock(impl_->emit_mutex);  // wakes a router thread waiting for queue space
      impl_->stopping = true;
    }
    impl_->emit_space.notify_all();
    if (impl_->thread.joinable()) impl_->thread.join();  // settles what it emitted first
    impl_->stop_emitter();
    impl_->consumer.reset();
    // Flushes what is left (bounded), then fails the rest: their inputs' offsets were never
    // stored, so the next owner consumes them again.
    impl_->producer.reset();
  });
}

void router::reconfigure(router_config config) {
  std::lock_guard lock(impl_->reconfigure_mutex);
  impl_->pending_config = std::move(config);
}

router_statistics router::statistics() const {
  std::lock_guard lock(impl_->stats_mutex);
  return impl_->stats;
}

}  // namespace omni::routing::service
