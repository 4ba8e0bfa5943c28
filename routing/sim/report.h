#pragma once
// What a simulation run measured, per queue, per agent group and per report interval, and its
// renderings: JSON (machine-readable, byte-identical for the same seed), a text table for a
// terminal (one run, or several side by side) and a hand-written SVG plot. Plain values.

#include <cstdint>
#include <string>
#include <vector>

#include "routing/engine/types.h"

namespace omni::routing::sim {

// Contact outcomes of one queue (or all queues) over some span of arrivals. Contacts are counted
// in the queue they were classified into on arrival and in the interval they arrived in.
struct contact_stats {
  std::uint64_t offered = 0;     // arrived
  std::uint64_t answered = 0;    // assigned to an agent
  std::uint64_t abandoned = 0;   // the customer hung up / left first
  std::uint64_t expired = 0;     // the queue's max wait ended them
  std::uint64_t unanswered = 0;  // still waiting when the simulation ended
  std::uint64_t waited = 0;      // answered after a wait > 0
  std::uint64_t within_sla = 0;  // answered within the queue's SLA threshold
  std::int64_t wait_sum_ms = 0;  // of answered contacts
  engine::duration wait_p50_ms = 0, wait_p90_ms = 0, wait_p99_ms = 0;  // of answered contacts
  std::vector<engine::duration> waits;  // while running; emptied by finalize()

  // within_sla / (answered + abandoned + expired); 1 when nothing finished.
  double service_level() const;
  double average_speed_of_answer_ms() const;
  double probability_of_waiting() const;  // waited / answered
  double abandonment_rate() const;        // abandoned / (answered + abandoned + expired)

  void merge(const contact_stats& other);  // sums, waits appended
  void finalize();                         // percentiles (nearest rank); drops the waits
};

struct queue_report {
  std::string name;
  engine::duration sla_threshold = 0;
  double sla_target = 0.8;
  contact_stats stats;
};

struct group_report {
  std::string name;
  int agents = 0;
  double logged_in_ms = 0;
  double busy_ms = 0;  // with at least one contact assigned, or in wrap-up
  double occupancy() const { return logged_in_ms > 0 ? busy_ms / logged_in_ms : 0.0; }
};

struct interval_report {
  engine::timestamp start = 0;  // simulated time
  bool warmup = false;          // starts before the end of the warm-up
  contact_stats overall;
  std::vector<contact_stats> queues;  // in report::queues order
  double waiting_avg = 0;             // time-average of contacts waiting (not yet answered)
  std::int64_t waiting_max = 0;
  std::vector<group_report> groups;  // in report::groups order
};

struct report {
  std::string config_name;
  std::string scenario_name;
  std::uint64_t seed = 0;
  engine::duration duration = 0;
  engine::duration warmup = 0;
  engine::duration interval = 0;
  engine::duration day_offset = 0;       // time of day of simulated time 0, for labels
  engine::timestamp ended_at = 0;        // simulated time of the last event (after the drain)
  std::uint64_t contacts_simulated = 0;  // warm-up included
  std::uint64_t events = 0;
  std::uint64_t decisions = 0;
  contact_stats overall;
  std::vector<queue_report> queues;
  std::vector<group_report> groups;
  std::vector<interval_report> intervals;
};

// "08:30" for a simulated time, with the report's day offset.
std::string clock_label(const report& r, engine::timestamp t);

std::string to_json(const report& r);
// {"schema": "omni.sim_comparison.v1", "runs": [...]} for several runs.
std::string to_json(const std::vector<report>& runs);
// Per queue and overall, agent groups, and (for one run) the intervals; several runs side by side.
std::string to_table(const std::vector<report>& runs);
// Service level and waiting contacts over the simulated day; several runs overlaid.
std::string to_svg(const std::vector<report>& runs);

}  // namespace omni::routing::sim
