#pragma once
// The simulator: drives the routing engine the daemon uses (routing/engine) in virtual time with
// generated or replayed contacts and simulated agents, and measures what customers and agents
// would see. A discrete-event loop: a min-heap of arrivals, accepts, completions, abandonments,
// wrap-up ends, shift starts/ends, interleaved with the engine's own deadlines
// (next_deadline()). No Kafka, no sockets, no threads, no clock: the same config, scenario and
// seed give the same report byte for byte. Runs on the caller's thread.

#include <functional>
#include <string>

#include "routing/engine/config.h"
#include "routing/sim/report.h"
#include "routing/sim/scenario.h"

namespace omni::routing::sim {

struct run_options {
  std::string config_name = "config";  // how the report names the config
  // Called now and then with the share of simulated time done (0..1); may be empty.
  std::function<void(double)> progress;
};

// Runs `s` against `config` (with the scenario's channel overrides). Throws std::invalid_argument
// when the config is invalid or the scenario names a queue the config lacks, and
// std::runtime_error when a replay file cannot be read.
report simulate(const engine::engine_config& config, const scenario& s,
                const run_options& options = {});

}  // namespace omni::routing::sim
