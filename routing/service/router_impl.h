#pragma once
// The router's private state (router::impl) and the types its parts share. The parts live in
// files named for their job: router.cc (the loop, partitions and delivery reports), steps.cc
// (consumed messages -> engine steps), changelog.cc (the records a step publishes), emitter.cc
// (the thread that encodes and produces them) and replay.cc (recovery from the changelog).
// Included only by those files.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/events/codec.h"
#include "core/identity/normalize.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "core/recent_ids.h"
#include "routing/engine/engine.h"
#include "routing/history/store.h"
#include "routing/service/router.h"
#include "routing/service/step.h"

namespace omni::routing::service {
namespace detail {

namespace eng = engine;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using json = nlohmann::json;

inline spdlog::logger& logger() {
  static auto l = core::log::get("omni.router");
  return *l;
}

struct domain_state {
  explicit domain_state(std::size_t seen_window) : seen(seen_window) {}
  std::string name;
  std::unique_ptr<eng::engine> engine;
  std::int64_t seq = 0;  // last changelog sequence number used
  std::unordered_map<std::string, contact_meta> contacts;
  std::unordered_map<std::string, std::string> conversations;  // key -> active contact id
  core::recent_ids seen;   // contact and agent-event ids (routing.dedupe_window)
  std::string last_stats;  // the statistics last published, to skip unchanged ones
  eng::timestamp last_stats_at = 0;
};

// Offsets of one input partition whose steps are in flight, in consumption order.
struct pending_offset {
  std::int64_t offset;
  bool done;
};

// A snapshot written (its chunks produced) whose manifest waits for the changelog offset it
// covers: the delivery of marker `marker` (README, "Snapshots").
struct snapshot_in_flight {
  std::uint64_t marker = 0;
  json manifest;  // without changelog_offset, added when the marker is delivered
  std::uint64_t id = 0;
};

struct partition_state {
  std::int32_t partition = -1;
  std::uint64_t generation = 0;
  std::map<std::string, std::unique_ptr<domain_state>> domains;
  // Snapshots (snapshot.cc). Markers are numbered as emitted; delivery reports come in order.
  std::uint64_t markers_emitted = 0, markers_delivered = 0;
  std::int64_t marker_offset = -1;  // changelog offset of the last marker delivered or replayed
  std::map<std::string, std::int64_t> through;           // source topic -> highest offset taken
  std::map<std::string, std::int64_t> snapshot_through;  // ... as of the snapshot recovery loaded
  std::uint64_t steps_since_snapshot = 0;
  clock_type::time_point last_snapshot = clock_type::now();
  std::uint64_t snapshot_id = 0;    // the last written or loaded (ids grow across owners)
  std::int64_t snapshot_taken = 0;  // wall clock (ms) of the last delivered or loaded snapshot
  std::optional<snapshot_in_flight> snapshot_wait;
  // Source topic -> the offsets the changelog has a marker for, from the group's committed offset
  // on (what the consumer may deliver again after a rebuild). A set, not the highest offset: an
  // input whose marker is missing is consumed again even when later ones are recorded.
  std::map<std::string, std::set<std::int64_t>> recorded;
  std::map<std::string, std::deque<pending_offset>> pending;
};

struct completion {
  std::uint64_t generation;
  std::int32_t partition;
  std::string topic;  // empty: a record whose offset is not stored (decisions, tick markers)
  std::int64_t offset;
  bool ok;
  std::string error;
  std::uint64_t marker = 0;           // a marker's number in its partition (0: not a marker)
  std::int64_t produced_offset = -1;  // where the record landed (set by the delivery report)
  std::uint64_t snapshot = 0;         // a snapshot manifest's id (0: not a manifest)
  std::int64_t snapshot_taken = 0;
};

struct source_ref {
  std::string topic;  // empty for a tick
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};

// One record for the emitter thread to encode and produce, in the order the router made them.
struct emission {
  std::string topic;
  std::int32_t partition = -1;  // -1: by key
  std::string key;
  std::string value;                       // ready, or empty while `record` is set
  std::optional<core::assignment> record;  // encoded by the emitter
  std::optional<step> marker_step;         // a marker's step, serialized into record's `step`
  completion on_done;
};

}  // namespace detail

// The router's files (and router::impl below) name these unqualified.
using namespace detail;

struct router::impl {
  router_options opts;
  // The router's own producer, in gapless mode: the changelog on Kafka is always a prefix of what
  // the router produced, so a rebuild never meets a marker whose predecessor is missing (which
  // would make it skip that predecessor's input as already recorded). Replaced after a fatal error
  // (rebuild_producer); the emitter takes its pointer per batch.
  std::mutex producer_mutex;
  std::shared_ptr<core::bus::producer> producer;
  std::unique_ptr<history::store> history;
  core::identity_normalizer normalizer;
  std::unique_ptr<core::bus::consumer> consumer;

  std::thread thread;
  std::atomic<bool> stopping{false};
  std::once_flag stop_once;

  std::mutex completions_mutex;
  std::vector<completion> completions;
  // Records handed to the emitter and not yet reported delivered (or refused).
  std::atomic<std::int64_t> outstanding{0};

  // The emitter: encodes the router's records and produces them, in order, on its own thread
  // (README, "Threading"), so that JSON encoding and the producer's work overlap the routing.
  std::thread emitter;
  std::mutex emit_mutex;
  std::condition_variable emit_ready, emit_space;
  std::vector<emission> emit_queue;
  bool emit_stop = false;
  // Set by the emitter when the producer refused a record: every record after it fails too, so
  // none of them can reach the changelog behind the missing one. Cleared by a rebuild, once
  // nothing is outstanding.
  bool emit_broken = false;

  std::map<std::int32_t, std::unique_ptr<partition_state>> partitions;
  std::uint64_t next_generation = 0;
  bool resync = false;

  mutable std::mutex stats_mutex;
  router_statistics stats;

  core::metrics::histogram& decision_seconds = core::metrics::global().histogram_of(
      "omniroute_routing_decision_seconds",
      "Time the router took for one step (input consumed to decisions produced).");
  core::metrics::gauge& recovery_steps = core::metrics::global().gauge_of(
      "omniroute_router_recovery_steps_replayed",
      "Changelog steps the last recovery of a partition replayed after its snapshot.");
  core::metrics::gauge& recovery_seconds = core::metrics::global().gauge_of(
      "omniroute_router_recovery_seconds",
      "Time the last recovery of a partition took (snapshot load and replay).");
  core::metrics::histogram& snapshot_seconds = core::metrics::global().histogram_of(
      "omniroute_router_snapshot_build_seconds",
      "Time the router thread spent building one partition snapshot.");
  std::map<std::string, core::metrics::gauge*> snapshot_age_gauges, snapshot_size_gauges;
  std::map<std::string, std::size_t> snapshot_sizes;  // domain -> bytes in its last snapshot
  std::map<std::string, core::metrics::counter*> decision_counters;
  std::map<std::string, core::metrics::gauge*> waiting_gauges, service_level_gauges;
  clock_type::time_point next_gauges = clock_type::now();
  clock_type::time_point next_stats = clock_type::now();
  std::mutex reconfigure_mutex;
  std::optional<router_config> pending_config;  // from reconfigure(), applied by the loop
  // The history row of the contact arriving in the step being processed (resolve_customer), kept
  // until the step's decisions say whether it was assigned at once (record_arrival).
  std::optional<history::contact_record> arrival_record;

  explicit impl(router_options o) : opts(std::move(o)), normalizer(opts.config.default_region) {}

  // router.cc: bookkeeping shared by live steps and replay, the loop, partitions, delivery reports
  core::result<std::shared_ptr<core::bus::producer>> make_producer() const;
  domain_state& domain_of(partition_state& ps, const std::string& name);
  void forget(domain_state& d, const std::string& contact);
  std::vector<eng::decision> apply(domain_state& d, const step& s, bool tick);
  void mark_done(partition_state& ps, const std::string& topic, std::int64_t offset);
  void process(const core::bus::message& msg, std::optional<eng::timestamp> forced_now = {});
  void tick_due(eng::timestamp now);
  void run_tick(partition_state& ps, domain_state& d, eng::timestamp now);
  std::chrono::milliseconds poll_timeout(eng::timestamp now) const;
  void drain_completions();
  void settle(std::chrono::milliseconds timeout);
  bool settle_all();
  std::optional<std::string> rebuild_producer();
  void on_assigned(const std::vector<core::bus::topic_partition>& parts);
  void on_revoked(const std::vector<core::bus::topic_partition>& parts);
  std::optional<std::string> make_consumer();
  void update_gauges();
  void apply_pending_config();
  void run();

  // steps.cc: turning consumed messages into steps
  std::optional<step> contact_step(domain_state& d, core::contact& c, eng::timestamp now);
  void resolve_customer(domain_state& d, const core::contact& c, eng::timestamp now,
                        contact_meta& m, eng::contact_arrived& a);
  std::string record_arrival(const std::vector<eng::decision>& out);
  std::optional<step> agent_step(domain_state& d, const core::agent_event& e, eng::timestamp now);
  void transfer_step(domain_state& d, const core::agent_event& e, eng::timestamp now, step& s);

  // changelog.cc: the records of a step, statistics
  core::assignment record_of(domain_state& d, const eng::decision& dec, const std::string& step_tag,
                             eng::timestamp now);
  void publish(partition_state& ps, domain_state& d, step s, bool tick,
               const std::vector<eng::decision>& out, const source_ref& src,
               std::string_view answered = {});
  void notify_expected_wait(domain_state& d, const contact_meta& m, eng::timestamp now);
  void count_decision(const std::string& type);
  void publish_stats(eng::timestamp now);
  static json queue_json(const eng::queue_view& q);
  static json agent_json(const eng::agent_view& a);

  // emitter.cc: the emitter thread
  void post_completion(completion c);
  void emit(emission e);
  void produce_to(const std::string& topic, std::int32_t partition, const std::string& key,
                  std::string value, completion on_done);
  void produce_record(const std::string& topic, std::int32_t partition, const std::string& key,
                      core::assignment record, completion on_done,
                      std::optional<step> marker_step = std::nullopt);
  void run_emitter();
  void fail_emission(emission& e, const char* why);
  void stop_emitter();
  bool produce_now(core::bus::producer& to, emission& e);

  // snapshot.cc: snapshots of a partition's domains, and loading the newest at recovery
  bool snapshots_enabled() const {
    return opts.config.snapshot_every_steps > 0 || opts.config.snapshot_every > 0;
  }
  void maybe_snapshot(partition_state& ps);
  void take_snapshot(partition_state& ps);
  void write_manifest(partition_state& ps, json manifest, std::uint64_t id,
                      std::int64_t changelog_offset);
  void on_marker_delivered(partition_state& ps, const completion& c);
  // Loads the newest complete snapshot of partition p into `ps`; the changelog offset to replay
  // from (0 when there is none).
  std::int64_t load_snapshot(partition_state& ps);

  // replay.cc: recovery
  void recover(std::int32_t p);
  template <class U>
  void redo(partition_state& ps, const U& orphan);
};

}  // namespace omni::routing::service
