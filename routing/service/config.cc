#include "routing/service/config.h"

#include <chrono>

namespace omni::routing::service {
namespace {

engine::duration ms(std::chrono::milliseconds d) { return d.count(); }

}  // namespace

router_config default_router_config() {
  router_config rc;
  rc.engine = model::default_model().engine;
  rc.notify_expected_wait.insert("default");
  return rc;
}

router_config parse_router_config(const config::subtree& tree, config::diagnostics& sink) {
  if (tree.empty()) return default_router_config();
  router_config rc;
  config::reader r(tree, sink);
  const std::size_t errors_before = sink.size();
  model::routing_model m = model::read(r, [&](const std::string& queue, config::reader& q) {
    if (q.optional<bool>("notify_expected_wait", true)) rc.notify_expected_wait.insert(queue);
  });
  rc.engine = std::move(m.engine);
  rc.agents = std::move(m.agents);
  rc.default_region = r.optional<std::string>("default_region", rc.default_region);
  if (rc.default_region.size() != 2)
    r.error("default_region", "must be a two-letter region code (RU, DE, US, ...)");
  rc.history_length = r.optional<int>("history_length", rc.history_length);
  if (rc.history_length < 0 || rc.history_length > 50) r.error("history_length", "must be 0..50");
  rc.stats_interval = ms(r.optional<std::chrono::milliseconds>(
      "stats_interval", std::chrono::milliseconds(rc.stats_interval)));
  if (rc.stats_interval != 0 && (rc.stats_interval < 500 || rc.stats_interval > 3'600'000))
    r.error("stats_interval", "must be 0 (off) or between 500ms and 1h");
  const int window = r.optional<int>("dedupe_window", static_cast<int>(rc.seen_window));
  if (window < 1000 || window > 10'000'000)
    r.error("dedupe_window", "must be within 1000..10000000");
  else
    rc.seen_window = static_cast<std::size_t>(window);
  rc.engine.dedupe_window = rc.seen_window / 2;
  config::reader snap = r.child("snapshot");
  const auto every_steps = snap.optional<std::int64_t>(
      "every_steps", static_cast<std::int64_t>(rc.snapshot_every_steps));
  if (every_steps < 0 || (every_steps > 0 && every_steps < 100) || every_steps > 10'000'000)
    snap.error("every_steps", "must be 0 (off) or within 100..10000000");
  else
    rc.snapshot_every_steps = static_cast<std::uint64_t>(every_steps);
  rc.snapshot_every = ms(snap.optional<std::chrono::milliseconds>(
      "every", std::chrono::milliseconds(rc.snapshot_every)));
  if (rc.snapshot_every != 0 && (rc.snapshot_every < 1000 || rc.snapshot_every > 86'400'000))
    snap.error("every", "must be 0 (off) or between 1s and 24h");
  r.finish();
  // The engine's own cross-checks, reported at the routing section once the file read cleanly.
  if (sink.size() == errors_before) model::check(r, rc.engine);
  return rc;
}

}  // namespace omni::routing::service
