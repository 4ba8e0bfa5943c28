#pragma once

// Inputs of the routing engine. One variant value per fact the engine must learn; the router
// service decodes them from omni.contacts / omni.agent-events, the simulator generates them.

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "routing/engine/types.h"

namespace omni::routing::engine {

// Agent logs in (or re-logs in): replaces skills, applies capacity overrides, becomes available.
struct agent_login {
  std::string agent;
  std::vector<skill_level> skills;
  std::map<channel, int> capacity;  // overrides of the channel default; 0 disables a channel
  presence initial = presence::available;
};

// Agent logs out or its desk disconnects: unaccepted offers return to their queue.
struct agent_logout {
  std::string agent;
};

struct presence_change {
  std::string agent;
  presence to = presence::available;
};

// Skill and/or capacity update for a logged-in or known agent.
struct agent_update {
  std::string agent;
  std::optional<std::vector<skill_level>> skills;  // replaces all skills when set
  std::map<channel, int> capacity;                 // per-channel overrides to apply
};

// The history service's hint: this customer's last contact was handled by `agent` at `at`.
struct history_hint {
  std::string agent;
  timestamp at = 0;
};

struct contact_arrived {
  contact item;
  std::optional<std::string> queue;  // already classified upstream: skip the rules
  std::optional<int> priority;       // with `queue`: replaces the rule priority
  std::optional<history_hint> last_agent;
};

struct offer_accepted {
  std::string contact;
  std::string agent;
};

struct offer_rejected {
  std::string contact;
  std::string agent;
};

// The desk reports a missed offer (the engine also times offers out by itself).
struct offer_timed_out {
  std::string contact;
  std::string agent;
};

struct contact_completed {
  std::string contact;
  std::string agent;
  std::string disposition;
};

// The customer left before an agent accepted.
struct contact_abandoned {
  std::string contact;
};

using input_event = std::variant<agent_login, agent_logout, presence_change, agent_update,
                                 contact_arrived, offer_accepted, offer_rejected, offer_timed_out,
                                 contact_completed, contact_abandoned>;

// What handle() made of an input. Anything but `ok` changed nothing.
enum class input_result : std::uint8_t {
  ok,
  unknown_agent,
  unknown_contact,
  duplicate_contact,
  not_offered_to_agent,   // accept/reject/timeout for an offer that is not outstanding
  not_assigned_to_agent,  // completion by an agent who does not hold the contact
  already_assigned,       // abandon of a contact an agent already accepted
  invalid,                // malformed input (empty id, proficiency out of range, ...)
};
std::string_view to_string(input_result r);

}  // namespace omni::routing::engine
