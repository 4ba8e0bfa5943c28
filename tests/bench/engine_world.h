#pragma once
// The world of the engine benchmarks, shared by engine_bench.cc (Google Benchmark) and
// engine_loop.cc (fixed iterations, for callgrind): 200 skills, 500 queues (1 skill each,
// chat + email, the four strategies in turn, a 5-minute raise-priority escalation), agents
// with 4 random skills and one chat slot, and the two loop bodies whose cost is measured.

#include <charconv>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "routing/engine/engine.h"

namespace omni::routing::engine::bench {

constexpr int skill_count = 200;
constexpr int queue_count = 500;
constexpr int waiting_per_agent = 10;

// prefix + number (ids and names of the world: "c123", "q7"). Written with to_chars into one
// buffer: the harness's own work is part of the timed loop, and a router gets its ids ready-made.
inline std::string name(const char* prefix, std::uint64_t n) {
  char buf[32];
  const std::size_t len = std::strlen(prefix);
  std::memcpy(buf, prefix, len);
  const auto end = std::to_chars(buf + len, buf + sizeof buf, n).ptr;
  return std::string(buf, end);
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
  std::vector<std::string> queue_names = [] {
    std::vector<std::string> v;
    for (int i = 0; i < queue_count; ++i) v.push_back(name("q", i));
    return v;
  }();

  // Offers and assigns in `out`: the routing decisions.
  std::uint64_t routing_decisions() const {
    std::uint64_t n = 0;
    for (const auto& d : out) {
      n += d.kind == decision_kind::offer || d.kind == decision_kind::assign ? 1 : 0;
    }
    return n;
  }
  // Inputs are built in an input_event, as the router's decoder does (passing a contact_arrived
  // where an input_event is expected would copy the whole event into a temporary variant on
  // each call). The arrival event is one value refilled per arrival: id, queue and priority
  // change; the contact's other (empty) fields are not rebuilt and destroyed every time.
  input_event arrival{std::in_place_type<contact_arrived>};
  void arrive(bool accept) {
    auto& e = std::get<contact_arrived>(arrival);
    e.item.id = name("c", next_contact++);
    e.item.chan = channel::chat;
    e.queue = queue_names[rng() % queue_count];
    e.priority = static_cast<int>(rng() % 3);
    out.clear();
    eng->handle(arrival, now, out);
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
      input_event ev(std::in_place_type<offer_accepted>, std::move(contact), std::move(agent));
      out.clear();
      eng->handle(ev, now, out);
      auto& accepted = std::get<offer_accepted>(ev);
      assigned.emplace_back(std::move(accepted.contact), std::move(accepted.agent));
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
    input_event ev(std::in_place_type<contact_completed>, std::move(assigned[i].first),
                   std::move(assigned[i].second), "done");
    assigned[i] = std::move(assigned.back());
    assigned.pop_back();
    now += 1;
    out.clear();
    eng->handle(ev, now, out);
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
      input_event ev(std::in_place_type<contact_completed>, std::move(assigned.back().first),
                     std::move(assigned.back().second), "done");
      assigned.pop_back();
      out.clear();
      eng->handle(ev, now, out);
      decisions += routing_decisions();
    }
    return decisions;
  }
};

}  // namespace omni::routing::engine::bench
