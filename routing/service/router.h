#pragma once
// The router service: consumes omni.contacts and omni.agent-events in the `omniroute-router`
// consumer group, feeds one routing engine per domain, publishes every decision to
// omni.assignments (the router's changelog) and rebuilds a domain's state from that changelog
// when it gets the domain's partition (at start, after a crash, after a rebalance). Customer
// identity and history (routing/history) are resolved on arrival and shown with every offer.
// Design and guarantees: routing/service/README.md.
//
// Threading: one router thread owns the consumer, the engines, the timers and the history store;
// delivery reports come back from the producer's poll thread through a mutex-protected queue.
// start()/stop()/statistics() may be called from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "core/bus/bus.h"
#include "core/result.h"
#include "routing/service/config.h"

namespace omni::routing::service {

struct router_options {
  core::bus::settings kafka;
  core::bus::topic_names topics = core::bus::topic_names::with_prefix("omni.");
  router_config config = default_router_config();
  std::filesystem::path state_dir;  // history.db lives here
  std::string node_id = "router";
  std::string group_id = "omniroute-router";
  // Called on the router thread when the router becomes (un)healthy: false while it rebuilds
  // after a failed delivery.
  std::function<void(bool)> on_health;
  // Bumped once per iteration of the router loop; the daemon's systemd watchdog pings only while
  // it moves, so a hung routing loop gets the service restarted. Must outlive the router.
  std::atomic<std::uint64_t>* loop_beat = nullptr;
  // When it stops or hands partitions over, the router writes a snapshot of what changed since the
  // last one (if snapshots are on), so the next owner replays almost nothing. Tests turn it off
  // to see the recovery a crash would get.
  bool final_snapshot = true;
};

struct router_statistics {
  std::uint64_t steps = 0;             // inputs and ticks applied live
  std::uint64_t decisions = 0;         // decisions published
  std::uint64_t duplicates = 0;        // inputs recognized as already processed
  std::uint64_t replayed_steps = 0;    // changelog markers replayed (all recoveries)
  double replay_seconds = 0;           // time spent replaying (all recoveries)
  std::uint64_t recoveries = 0;        // partitions rebuilt (at assignment, and by each rebuild)
  std::uint64_t rebuilds = 0;          // times the router left the group to rebuild after a failure
  std::uint64_t snapshots_loaded = 0;  // recoveries that started from a snapshot
  std::size_t partitions = 0;          // input partitions owned now
  std::size_t domains = 0;
};

class router {
 public:
  // Opens the history database, creates the router's own producer (gapless: records never expire,
  // so the changelog has no holes), joins the consumer group and starts the router thread.
  static core::result<std::unique_ptr<router>> start(router_options options);
  ~router();  // stop()
  router(const router&) = delete;
  router& operator=(const router&) = delete;

  // Finishes the step in progress, waits for outstanding delivery reports (bounded), stores and
  // commits their offsets and leaves the group. Idempotent.
  void stop();
  router_statistics statistics() const;
  // Applies a new routing configuration (SIGHUP reload) on the router thread at its next loop:
  // every domain's engine is reconfigured in place (engine::reconfigure: waiting contacts, offers,
  // assignments and agents are kept; offers the new rules no longer allow are revoked and
  // re-queued), the decisions that produces are published like a tick's, and domains created
  // later use the new config. `config` must have passed parse_router_config without errors.
  // Replay after a restart applies the whole changelog with the configuration then in force.
  void reconfigure(router_config config);

  struct impl;

 private:
  explicit router(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace omni::routing::service
