#pragma once
// The router's typed configuration: the `routing:` subtree of omniroute.yaml parsed with
// config::reader (errors as file:line:col, unknown keys with "did you mean"). The routing model
// (queues, rules, channels, agents: routing/model) is read by its own library; this adds the
// service's keys around it (history, expected-wait notices, statistics, dedupe window, region).
// Plain values, built on the startup thread; see README.md for the keys.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/diagnostic.h"
#include "config/reader.h"
#include "routing/engine/config.h"
#include "routing/model/config.h"

namespace omni::routing::service {

using model::agent_profile;

struct router_config {
  engine::engine_config engine;
  std::map<std::string, agent_profile> agents;
  std::string default_region = "RU";  // phone numbers written in national format
  int history_length = 5;             // last contacts attached to every offer
  // Queues that tell a queued customer their position and expected wait (chat, messenger and
  // email only: never voice).
  std::set<std::string> notify_expected_wait;
  // Recently seen contact and agent-event ids per domain, to drop redeliveries (`dedupe_window`;
  // the engine remembers half as many finished contact ids).
  std::size_t seen_window = 200'000;
  // How often each domain's queue and agent statistics go to omni.assignments (type "stats", for
  // the desk gateway); unchanged statistics are repeated only once a minute. 0: never.
  engine::duration stats_interval = 5000;
  // Snapshots of each partition's domains (routing.snapshot, README "Snapshots"): after this many
  // steps, or this long after the last one when anything changed, whichever comes first. 0 turns
  // that trigger off; both 0: no snapshots (recovery replays the whole changelog).
  std::uint64_t snapshot_every_steps = 2000;
  engine::duration snapshot_every = 60'000;
};

// The configuration used when omniroute.yaml has no `routing:` section: one queue `default`
// serving every channel, nobody preconfigured.
router_config default_router_config();

// Parses `routing:`; every problem goes to `sink` (the result is then not to be used).
router_config parse_router_config(const config::subtree& tree, config::diagnostics& sink);

}  // namespace omni::routing::service
