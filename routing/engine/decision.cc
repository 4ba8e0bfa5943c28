#include "routing/engine/decision.h"

#include <array>

namespace omni::routing::engine {

namespace {
constexpr std::array<std::string_view, 9> kind_names = {"offer",   "revoke",   "assign",
                                                        "requeue", "escalate", "overflow",
                                                        "abandon", "expire",   "agent_state"};
constexpr std::array<std::string_view, 15> reason_names = {
    "new_contact",      "agent_free",      "affinity", "auto_accept",     "accepted",
    "rejected",         "offer_timeout",   "logout",   "presence_change", "not_responding",
    "capacity_reduced", "escalation_step", "max_wait", "customer_left",   "reconfigure"};
}  // namespace

std::string_view to_string(decision_kind k) { return kind_names[static_cast<std::size_t>(k)]; }
std::string_view to_string(reason_code r) { return reason_names[static_cast<std::size_t>(r)]; }

std::string to_string(const decision& d) {
  std::string s = "t=" + std::to_string(d.at) + " " + std::string(to_string(d.kind));
  if (!d.contact.empty()) s += " contact=" + d.contact;
  if (!d.agent.empty()) s += " agent=" + d.agent;
  if (!d.queue.empty()) s += " queue=" + d.queue;
  if (!d.from_queue.empty()) s += " from=" + d.from_queue;
  if (d.kind == decision_kind::agent_state) {
    s += " presence=" + std::string(to_string(d.agent_presence));
  } else {
    s += " prio=" + std::to_string(d.priority);
  }
  s += " reason=" + std::string(to_string(d.reason.code));
  if (!d.reason.rule.empty()) s += " rule=" + d.reason.rule;
  if (d.reason.step >= 0) s += " step=" + std::to_string(d.reason.step);
  if (d.kind == decision_kind::offer || d.kind == decision_kind::assign) {
    s += " strategy=" + std::string(to_string(d.reason.strat));
    s += " candidates=" + std::to_string(d.reason.candidates);
    s += " affinity=" + std::string(d.reason.affinity ? "1" : "0");
  }
  return s;
}

}  // namespace omni::routing::engine
