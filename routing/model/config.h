#pragma once
// The engine's part of the `routing:` section of omniroute.yaml: queues (skills, channels,
// priority, SLA, escalation, max wait, strategy, affinity), classification rules, the default
// queue, per-channel capacity and timers, affinity, tier priorities, and agents known in advance.
// read() takes a config::reader positioned at `routing:` and consumes only these keys; the caller
// reads its own keys (the router service: history, statistics, dedupe window, region) and then
// calls reader::finish() and check(). Errors go to the reader's sink as file:line:col.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "config/reader.h"
#include "routing/engine/config.h"

namespace omni::routing::model {

// An agent known in advance: what a login without skills or capacity gets.
struct agent_profile {
  std::string display_name;
  std::vector<engine::skill_level> skills;
  std::map<engine::channel, int> capacity;
};

struct routing_model {
  engine::engine_config engine;
  std::map<std::string, agent_profile> agents;
};

// The model when omniroute.yaml has no `routing:` section (or no queues): one queue `default`
// serving every channel, nobody preconfigured.
routing_model default_model();

// Called for every queue after its engine keys are read, with the queue's reader, so the caller
// can read (or accept) its own per-queue keys before the queue's unknown keys are reported.
using queue_keys = std::function<void(const std::string& queue, config::reader& q)>;

// Reads the engine's keys from `r` (see the header comment). With neither queues nor a
// default_queue, the result is default_model() and `queue_keys` saw no queue.
routing_model read(config::reader& r, const queue_keys& on_queue = {});

// The engine's cross-checks of a model read without errors (rules and escalation steps that name
// unknown queues, ...), each reported at `r`.
void check(config::reader& r, const engine::engine_config& engine);

}  // namespace omni::routing::model
