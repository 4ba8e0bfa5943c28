#pragma once
// A recorded day for replay: omni.contact.v1 and omni.agent_event.v1 events from a JSON-lines
// file (one event per line, told apart by their `schema` field, e.g. a kcat dump of
// omni.contacts and omni.agent-events). Contact arrivals and abandonments, and agent logins,
// logouts, presence and skill changes are replayed at their recorded times; the recorded accepts
// and completions only give each contact its handle time (accept -> complete), since under the
// simulated config the contact may well go to another agent at another time.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/events/events.h"
#include "routing/engine/types.h"

namespace omni::routing::sim {

struct recording {
  // Time 0 of the simulation: midnight (UTC) of the day of the first event, so report intervals
  // fall on the clock.
  core::timestamp_ms origin = 0;
  core::timestamp_ms last = 0;            // the latest event time
  std::vector<core::contact> contacts;    // in time order (stable)
  std::vector<core::agent_event> agents;  // login/logout/presence/skills, in time order
  std::unordered_map<std::string, engine::duration> handle_times;  // by contact id
};

// Throws std::runtime_error("file:line: problem") on an unreadable file or a bad line.
recording load_recording(const std::filesystem::path& file);

}  // namespace omni::routing::sim
