#pragma once

// Outputs of the routing engine. Every decision says what to do and why, in machine-readable
// form; to_string() gives a stable one-line text used by logs and determinism tests.

#include <cstdint>
#include <string>

#include "routing/engine/types.h"

namespace omni::routing::engine {

enum class decision_kind : std::uint8_t {
  offer,        // offer `contact` to `agent`; the desk shows it until accept/reject/timeout
  revoke,       // withdraw the outstanding offer of `contact` from `agent`
  assign,       // `agent` now handles `contact` (accepted, or auto-accepted)
  requeue,      // `contact` is waiting again in `queue` (after reject/timeout/logout)
  escalate,     // escalation step `reason.step` of `queue` fired for `contact`
  overflow,     // `contact` moved from `from_queue` to `queue`
  abandon,      // the customer left; `contact` is finished
  expire,       // `contact` waited longer than its queue's max wait; finished
  agent_state,  // the engine changed `agent`'s presence (to not_responding)
};

enum class reason_code : std::uint8_t {
  new_contact,       // a contact arrived or returned to waiting and found an agent
  agent_free,        // an agent gained capacity and picked the best waiting contact
  affinity,          // the customer's recent agent gets the first, time-boxed offer
  auto_accept,       // the channel auto-accepts offers
  accepted,          // the agent accepted the offer
  rejected,          // the agent rejected the offer
  offer_timeout,     // the offer was not answered within the accept timeout
  logout,            // the agent logged out or disconnected
  presence_change,   // the agent left `available`
  not_responding,    // too many consecutive missed offers
  capacity_reduced,  // the agent's capacity fell below its outstanding offers
  escalation_step,   // a timed escalation step
  max_wait,          // the queue's max wait elapsed
  customer_left,     // the customer abandoned
  reconfigure,       // the contact's queue disappeared in a reconfiguration
};
std::string_view to_string(decision_kind k);
std::string_view to_string(reason_code r);

struct decision_reason {
  reason_code code = reason_code::new_contact;
  std::string rule;  // classification rule that chose the queue ("default", "preclassified")
  int step = -1;     // escalation step index, when code == escalation_step
  strategy strat = strategy::longest_idle;  // agent choice strategy of the queue
  std::uint32_t candidates = 0;             // eligible available agents (offer on arrival) or
                                            // waiting contacts considered (agent_free)
  bool affinity = false;                    // the offer went to the customer's recent agent
};

struct decision {
  decision_kind kind = decision_kind::offer;
  timestamp at = 0;
  std::string contact;
  std::string agent;
  std::string queue;
  std::string from_queue;                         // overflow only
  int priority = 0;                               // the contact's effective priority
  presence agent_presence = presence::available;  // agent_state only
  decision_reason reason;
};

// e.g. "t=1000 offer contact=c1 agent=a1 queue=sales prio=5 reason=new_contact rule=r1
// strategy=longest_idle candidates=3 affinity=0"
std::string to_string(const decision& d);

}  // namespace omni::routing::engine
