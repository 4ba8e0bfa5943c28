#pragma once

// Test driver for the routing engine: feeds inputs at a test-controlled clock, keeps the
// decisions of the last call, and checks the engine's invariants after every call.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "routing/engine/engine.h"

namespace omni::routing::engine::testing {

inline contact make_contact(std::string id, channel c, std::string customer = "") {
  contact k;
  k.id = std::move(id);
  k.chan = c;
  k.customer_id = std::move(customer);
  return k;
}

inline queue_config make_queue(std::string name, std::vector<skill_requirement> skills = {},
                               std::vector<channel> channels = {}) {
  queue_config q;
  q.name = std::move(name);
  q.required_skills = std::move(skills);
  q.channels = std::move(channels);
  return q;
}

// One general queue (default, no skills) plus whatever the test adds.
inline engine_config base_config() {
  engine_config c;
  c.queues.push_back(make_queue("general"));
  c.default_queue = "general";
  return c;
}

class harness {
 public:
  explicit harness(engine_config config) : engine_(std::move(config)) {}

  input_result send(const input_event& e) {
    out_.clear();
    const input_result r = engine_.handle(e, now_, out_);
    check();
    return r;
  }
  void at(timestamp t) {
    now_ = t;
    out_.clear();
    engine_.tick(now_, out_);
    check();
  }
  void check() {
    const std::string violations = engine_.check_invariants();
    EXPECT_EQ(violations, "") << "at t=" << now_;
  }

  input_result login(const std::string& agent, std::vector<skill_level> skills = {},
                     std::map<channel, int> capacity = {}) {
    return send(agent_login{agent, std::move(skills), std::move(capacity)});
  }
  input_result arrive(const std::string& id, channel c, std::string customer = "") {
    return send(contact_arrived{make_contact(id, c, std::move(customer))});
  }
  input_result arrive_in(const std::string& id, channel c, const std::string& queue,
                         int priority = 0) {
    contact_arrived e{make_contact(id, c)};
    e.queue = queue;
    e.priority = priority;
    return send(e);
  }
  input_result accept(const std::string& c, const std::string& a) {
    return send(offer_accepted{c, a});
  }
  input_result complete(const std::string& c, const std::string& a) {
    return send(contact_completed{c, a, "resolved"});
  }

  // Decisions of the last call of the given kind.
  std::vector<decision> of(decision_kind k) const {
    std::vector<decision> v;
    for (const auto& d : out_) {
      if (d.kind == k) v.push_back(d);
    }
    return v;
  }
  // "contact->agent" of every offer (or assign, for auto-accept) of the last call.
  std::vector<std::string> offers() const {
    std::vector<std::string> v;
    for (const auto& d : out_) {
      if (d.kind == decision_kind::offer ||
          (d.kind == decision_kind::assign && d.reason.code == reason_code::auto_accept)) {
        v.push_back(d.contact + "->" + d.agent);
      }
    }
    return v;
  }
  std::string text() const {
    std::string s;
    for (const auto& d : out_) s += to_string(d) + "\n";
    return s;
  }
  contact_state state_of(const std::string& c) const {
    auto v = engine_.contact_status(c, now_);
    return v ? v->state : contact_state::completed;
  }
  std::string agent_of(const std::string& c) const {
    auto v = engine_.contact_status(c, now_);
    return v ? v->agent : "";
  }

  engine& eng() { return engine_; }
  const std::vector<decision>& out() const { return out_; }
  timestamp now() const { return now_; }

 private:
  engine engine_;
  timestamp now_ = 0;
  std::vector<decision> out_;
};

}  // namespace omni::routing::engine::testing
