#pragma once
// The world of the engine benchmarks, shared by engine_bench.cc (Google Benchmark) and
// engine_loop.cc (fixed iterations, for callgrind): 200 skills, 500 queues (1 skill each,
// chat + email, the four strategies in turn, a 5-minute raise-priority escalation), agents
// with 4 random skills and one chat slot, and the two loop bodies whose cost is measured.

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "routing/engine/engine.h"

namespace omni::routing::engine::bench {

constexpr int skill_count = 200;
constexpr int queue_count = 500;
constexpr int waiting_per_agent = 10;

// prefix + number, built by append (GCC 12 -O3 warns falsely on "x" + std::to_string(n)).
inline std::string name(const char* prefix, std::uint64_t n) {
  std::string s(prefix);
  s.append(std::to_string(n));
  return s;
}

inline engine_config bench_config() {
  engine_config c;
  c.default_queue = "q0";
  for (int i = 0; i < queue_count; ++i) {
    queue_config q;
    q.name = name("q", i);
    q.required_skills.push_back({name("s", i % skill_count), 1 + (i / skill_count)});
    q.channels = {channel::chat, channel::email};
    q.agent_strategy = static_cast<strategy>(i % 4);
    q.escalation.push_back({minutes(5), escalation_kind::raise_priority, "", 1, "", 1});
    c.queues.push_back(std::move(q));
  }
  return c;
}

struct world {
  std::unique_ptr<engine> eng = std::make_unique<engine>(bench_config());
  timestamp now = 0;
  std::mt19937_64 rng{12345};
  std::uint64_t next_contact = 0;
  std::vector<std::pair<std::string, std::string>> assigned;  // (contact, agent)
  std::vector<decision> out;

  // Offers and assigns in `out`: the routing decisions.
  std::uint64_t routing_decisions() const {
    std::uint64_t n = 0;
    for (const auto& d : out) {
      n += d.kind == decision_kind::offer || d.kind == decision_kind::assign ? 1 : 0;
    }
    return n;
  }
  void arrive(bool accept) {
    contact_arrived e;
    e.item.id = name("c", next_contact++);
    e.item.chan = channel::chat;
    e.queue = name("q", rng() % queue_count);
    e.priority = static_cast<int>(rng() % 3);
    out.clear();
    eng->handle(e, now, out);
    if (accept) accept_offers();
  }
  void accept_offers() {
    // The offers' (contact, agent), moved out: each handle() below reuses `out`.
    offers.clear();
    for (auto& d : out) {
      if (d.kind == decision_kind::offer)
        offers.emplace_back(std::move(d.contact), std::move(d.agent));
    }
    for (auto& [contact, agent] : offers) {
      out.clear();
      eng->handle(offer_accepted{contact, agent}, now, out);
      assigned.emplace_back(std::move(contact), std::move(agent));
    }
  }
  std::vector<std::pair<std::string, std::string>> offers;  // accept_offers()' scratch

  void login_agents(int agents) {
    std::mt19937_64 skills_rng(777);
    for (int a = 0; a < agents; ++a) {
      agent_login l;
      l.agent = name("a", a);
      for (int k = 0; k < 4; ++k) {
        l.skills.push_back(
            {name("s", skills_rng() % skill_count), 3 + static_cast<int>(skills_rng() % 8)});
      }
      // One chat at a time keeps "busy agents + 10x waiting" exact.
      l.capacity = {{channel::chat, 1},
                    {channel::email, 0},
                    {channel::voice, 0},
                    {channel::messenger, 0},
                    {channel::sms, 0}};
      out.clear();
      eng->handle(l, now, out);
    }
  }
  // Every agent busy (arrivals accepted at once), virtual time 1 ms per arrival.
  void occupy_agents(int agents) {
    for (int i = 0; i < agents * 2; ++i) {
      now += 1;
      arrive(true);
    }
  }
  void queue_waiting(int agents) {
    while (eng->totals().waiting < static_cast<std::uint64_t>(agents) * waiting_per_agent) {
      now += 1;
      arrive(true);
    }
  }

  // Agent side: an agent completes; the engine offers it the best waiting contact among the
  // queues it serves; the agent accepts; a new contact arrives (and waits). Returns the routing
  // decisions (offer + assign).
  std::uint64_t agent_frees() {
    const std::size_t i = rng() % assigned.size();
    auto [contact_id, agent_id] = assigned[i];
    assigned[i] = assigned.back();
    assigned.pop_back();
    now += 1;
    out.clear();
    eng->handle(contact_completed{contact_id, agent_id, "done"}, now, out);
    const std::uint64_t offers = routing_decisions();
    accept_offers();
    arrive(false);
    return 2 * offers + routing_decisions();
  }

  // Contact side: agents mostly idle; a contact arrives, the engine offers it to the best
  // eligible available agent by the queue's strategy; accept; complete. Returns the routing
  // decisions (offer + assign).
  std::uint64_t contact_arrives() {
    now += 1;
    arrive(false);
    std::uint64_t decisions = 2 * routing_decisions();
    accept_offers();
    while (!assigned.empty()) {
      auto [contact_id, agent_id] = assigned.back();
      assigned.pop_back();
      out.clear();
      eng->handle(contact_completed{contact_id, agent_id, "done"}, now, out);
      decisions += routing_decisions();
    }
    return decisions;
  }
};

}  // namespace omni::routing::engine::bench
