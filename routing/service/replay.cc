// Recovery: rebuilds a partition's domains from the changelog and finishes an interrupted step
// (README, "Recovery").
#include "routing/service/router_impl.h"

namespace omni::routing::service {
namespace {

std::int64_t to_int(const std::string& s, std::int64_t fallback) {
  try {
    return s.empty() ? fallback : std::stoll(s);
  } catch (const std::exception&) {
    return fallback;
  }
}

}  // namespace

void router::impl::recover(std::int32_t p) {
  const auto started = clock_type::now();
  auto ps = std::make_unique<partition_state>();
  ps->partition = p;
  ps->generation = ++next_generation;
  struct unfinished {
    std::string domain;
    std::string step_tag;
    eng::timestamp now = 0;
  };
  std::optional<unfinished> orphan;
  std::uint64_t replayed = 0;
  bool checked_start = false;
  // The newest complete snapshot, then the changelog after the step it covers.
  const std::int64_t from = load_snapshot(*ps);
  auto r = core::bus::read_partition(
      opts.kafka, opts.topics.assignments, p, from,
      [&](const core::bus::message& m) {
        if (!checked_start) {
          checked_start = true;
          if (m.offset > from)  // the broker deleted records the recovery needs (retention)
            logger().error(
                "partition {}: the changelog continues at offset {}, not {}: steps in between "
                "are lost and the rebuilt state is incomplete (retention on {} must keep more "
                "than the snapshot interval; README, \"Snapshots\")",
                p, m.offset, from, opts.topics.assignments);
        }
        auto a = core::decode_assignment(m.value);
        if (!a) {
          logger().warn("{}[{}]@{}: skipped in replay: {}", m.topic, p, m.offset,
                        a.err().to_string());
          return true;
        }
        domain_state& d = domain_of(*ps, a->domain);
        auto attr = [&](const char* k) {
          auto it = a->attributes.find(k);
          return it == a->attributes.end() ? std::string() : it->second;
        };
        if (a->type == "stats") return true;  // for desks only; no routing state
        if (a->type != "input" && a->type != "tick") {
          if (a->seq > d.seq)
            orphan = unfinished{a->domain, attr("step"), to_int(attr("now"), a->at)};
          return true;
        }
        if (a->seq <= d.seq) return true;  // a step redone after a crash, recorded twice
        const std::string topic = attr("source_topic");
        std::int64_t offset = -1;
        if (a->type == "input") {
          offset = to_int(attr("source_offset"), -1);
          if (ps->recorded[topic].count(offset)) return true;
        }
        auto s = decode_step(core::joined_attribute(a->attributes, "step"));
        if (!s) {
          logger().error("{}[{}]@{}: {}", m.topic, p, m.offset, s.err().to_string());
          return true;
        }
        (void)apply(d, *s, a->type == "tick");
        d.seq = a->seq;
        ps->marker_offset = m.offset;
        ps->steps_since_snapshot++;  // the next snapshot also covers what was replayed
        if (offset >= 0) {
          ps->recorded[topic].insert(offset);
          auto& through = ps->through[topic];
          through = std::max(through, offset);
        }
        orphan.reset();
        ++replayed;
        return true;
      },
      120s);
  if (!r) {
    logger().error("recovery of partition {} failed: {}; will retry", p, r.err().to_string());
    resync = true;
    return;
  }
  // Inputs before the group's committed offset are not delivered again: forget their markers.
  for (auto it = ps->recorded.begin(); it != ps->recorded.end();) {
    if (auto c = consumer->committed(it->first, p, 10s); c && *c > 0)
      it->second.erase(it->second.begin(), it->second.lower_bound(*c));
    else if (!c)
      logger().warn("partition {}: {}; keeping every recorded offset", p, c.err().to_string());
    it = it->second.empty() ? ps->recorded.erase(it) : std::next(it);
  }
  const double seconds = std::chrono::duration<double>(clock_type::now() - started).count();
  logger().info(
      "partition {}: rebuilt {} domain(s) from {} ({} changelog record(s) after it, {} step(s) "
      "replayed) in {:.3f}s",
      p, ps->domains.size(),
      ps->snapshot_taken > 0 ? "snapshot " + std::to_string(ps->snapshot_id)
                             : std::string("no snapshot"),
      *r, replayed, seconds);
  recovery_steps.set(static_cast<double>(replayed));
  recovery_seconds.set(seconds);
  {
    std::lock_guard lock(stats_mutex);
    stats.replayed_steps += replayed;
    stats.replay_seconds += seconds;
    stats.recoveries++;
    if (from > 0) stats.snapshots_loaded++;
  }
  partition_state& owned = *ps;
  partitions[p] = std::move(ps);
  if (orphan) redo(owned, *orphan);
}

// The last step of the partition had published decisions but no marker: do it again, at the
// same `now`, so it publishes the same decisions under the same ids, then its marker.
template <class U>
void router::impl::redo(partition_state& ps, const U& orphan) {
  logger().info("partition {}: finishing the interrupted step {} of domain {}", ps.partition,
                orphan.step_tag, orphan.domain);
  if (orphan.step_tag == "tick") {
    run_tick(ps, domain_of(ps, orphan.domain), orphan.now);
    return;
  }
  const auto at = orphan.step_tag.rfind('@');
  if (at == std::string::npos) return;
  const std::string topic = orphan.step_tag.substr(0, at);
  const std::int64_t offset = to_int(orphan.step_tag.substr(at + 1), -1);
  if (offset < 0) return;
  std::optional<core::bus::message> source;
  auto r = core::bus::read_partition(
      opts.kafka, topic, ps.partition, offset,
      [&](const core::bus::message& m) {
        source = m;
        return false;
      },
      30s);
  if (!r || !source || source->offset != offset) {
    logger().warn("partition {}: cannot fetch {} to finish its step; it is redelivered instead",
                  ps.partition, orphan.step_tag);
    return;
  }
  process(*source, orphan.now);
}

}  // namespace omni::routing::service
