#pragma once
// What the simulator plays against a routing config: the contacts that arrive (generated from
// rates and distributions, or replayed from a recording), the agents who answer them (skills,
// capacity, shifts, accept delay) and the run's clock settings. Parsed from YAML with
// config::reader (errors as file:line:col) or built in code by tests. Plain values; see
// docs/simulator.md for the YAML keys.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostic.h"
#include "config/reader.h"
#include "routing/engine/config.h"
#include "routing/engine/types.h"
#include "routing/sim/random.h"

namespace omni::routing::sim {

// One stream of generated contacts: Poisson arrivals at `rate_per_hour`, or at
// `rates_per_hour[i]` during report interval i (the last rate holds for later intervals).
struct arrival_stream {
  std::string name;
  engine::channel chan = engine::channel::voice;
  std::optional<std::string> queue;  // pre-classified; otherwise the config's rules classify
  // Contact fields the classification rules look at.
  std::string provider = "sim";
  std::string to;
  std::string subject;
  std::string text;
  std::string language;
  std::string customer_tier;
  std::map<std::string, std::string> attributes;
  double rate_per_hour = 0.0;
  std::vector<double> rates_per_hour;
  distribution handle_time = distribution::exponential(engine::minutes(3));
  distribution patience;  // none: the customer never hangs up
};

// A period an agent is logged in, relative to the start of the run.
struct shift {
  engine::duration start = 0;
  engine::duration end = 0;
};

// `count` identical agents "<group>-001", "<group>-002", ...; occupancy is reported per group.
struct agent_group {
  std::string name;
  int count = 1;
  std::vector<engine::skill_level> skills;
  std::map<engine::channel, int> capacity;  // overrides of the channel defaults
  std::vector<shift> shifts;                // empty: the whole run (and the drain after it)
  distribution accept_delay;                // none = 0: accept at once
  // An agent the engine marked not_responding (missed offers) becomes available again after this.
  engine::duration recover_after = engine::seconds(60);
};

// Recorded omni.contact.v1 / omni.agent_event.v1 lines replayed instead of generated arrivals.
struct replay_source {
  std::filesystem::path file;  // JSON lines; relative to the scenario file
  // Handle time of a replayed contact with no recorded accept -> complete pair.
  distribution handle_time = distribution::exponential(engine::minutes(5));
  distribution accept_delay;  // of the recorded agents
  distribution patience;      // on top of the recorded abandonments
};

// Per-channel changes applied to the routing config for this run only.
struct channel_override {
  std::optional<engine::duration> wrap_up;
  std::optional<bool> auto_accept;
  std::optional<engine::duration> accept_timeout;
};

struct scenario {
  std::string source;                            // file it came from (for reports)
  engine::duration duration = engine::hours(8);  // arrivals are generated in [0, duration)
  engine::duration warmup = 0;                   // contacts arriving earlier are not reported
  engine::duration interval = engine::minutes(30);
  std::uint64_t seed = 1;
  // Wall-clock time of day of simulated time 0, for labels only ("08:00" -> intervals 08:00...).
  engine::duration day_offset = 0;
  std::vector<arrival_stream> arrivals;
  std::vector<agent_group> agents;
  std::optional<replay_source> replay;
  std::map<engine::channel, channel_override> channels;
};

// Parses a scenario document; every problem goes to `sink`.
scenario parse_scenario(const config::subtree& tree, config::diagnostics& sink);
// Reads and parses a scenario file (nullopt and diagnostics on any error).
std::optional<scenario> load_scenario(const std::filesystem::path& path, config::diagnostics& sink);

// The routing config with the scenario's channel overrides applied.
engine::engine_config apply_overrides(engine::engine_config config, const scenario& s);

}  // namespace omni::routing::sim
