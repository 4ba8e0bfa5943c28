// Fixed-iteration driver of engine_bench's two loops, for deterministic comparisons under
// load: `valgrind --tool=callgrind --toggle-collect='loop_*'` counts only the loop (not the
// setup), and the same binary and arguments give the same counts whatever else runs on the
// machine. The world (200 skills, 500 queues, agents with 4 skills and one chat slot, 10
// waiting contacts per agent for `frees`) and the loop bodies are those of engine_bench.cc.
//
// Usage: engine_loop frees|arrives <agents> <iterations> [rounds]
// Prints the thread CPU time per routing decision (iteration / 2) of each round.

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "routing/engine/engine.h"

namespace omni::routing::engine {
namespace {

constexpr int skill_count = 200;
constexpr int queue_count = 500;
constexpr int waiting_per_agent = 10;

std::string name(const char* prefix, std::uint64_t n) {
  std::string s(prefix);
  s.append(std::to_string(n));
  return s;
}

engine_config bench_config() {
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
  std::unique_ptr<engine> eng;
  timestamp now = 0;
  std::mt19937_64 rng{12345};
  std::uint64_t next_contact = 0;
  std::vector<std::pair<std::string, std::string>> assigned;  // (contact, agent)
  std::vector<decision> out;
  std::uint64_t decisions = 0;  // all decisions seen in the loops (keeps them observable)

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
    std::vector<decision> offers;
    for (const auto& d : out) {
      if (d.kind == decision_kind::offer) offers.push_back(d);
    }
    for (const auto& d : offers) {
      out.clear();
      eng->handle(offer_accepted{d.contact, d.agent}, now, out);
      assigned.emplace_back(d.contact, d.agent);
    }
  }
};

void build(world& w, int agents, bool with_waiting) {
  w.eng = std::make_unique<engine>(bench_config());
  std::mt19937_64 rng(777);
  for (int a = 0; a < agents; ++a) {
    agent_login l;
    l.agent = name("a", a);
    for (int k = 0; k < 4; ++k) {
      l.skills.push_back({name("s", rng() % skill_count), 3 + static_cast<int>(rng() % 8)});
    }
    l.capacity = {{channel::chat, 1},
                  {channel::email, 0},
                  {channel::voice, 0},
                  {channel::messenger, 0},
                  {channel::sms, 0}};
    w.out.clear();
    w.eng->handle(l, w.now, w.out);
  }
  if (!with_waiting) return;
  for (int i = 0; i < agents * 2; ++i) {
    w.now += 1;
    w.arrive(true);
  }
  while (w.eng->totals().waiting < static_cast<std::uint64_t>(agents) * waiting_per_agent) {
    w.now += 1;
    w.arrive(true);
  }
}

// Not inlined: callgrind's --toggle-collect='loop_*' names these.
__attribute__((noinline)) void loop_agent_frees(world& w, long iterations) {
  for (long it = 0; it < iterations; ++it) {
    const std::size_t i = w.rng() % w.assigned.size();
    auto [contact_id, agent_id] = w.assigned[i];
    w.assigned[i] = w.assigned.back();
    w.assigned.pop_back();
    w.now += 1;
    w.out.clear();
    w.eng->handle(contact_completed{contact_id, agent_id, "done"}, w.now, w.out);
    w.decisions += w.out.size();
    w.accept_offers();
    w.arrive(false);
    w.decisions += w.out.size();
  }
}

__attribute__((noinline)) void loop_contact_arrives(world& w, long iterations) {
  for (long it = 0; it < iterations; ++it) {
    w.now += 1;
    w.arrive(false);
    w.decisions += w.out.size();
    w.accept_offers();
    while (!w.assigned.empty()) {
      auto [contact_id, agent_id] = w.assigned.back();
      w.assigned.pop_back();
      w.out.clear();
      w.eng->handle(contact_completed{contact_id, agent_id, "done"}, w.now, w.out);
      w.decisions += w.out.size();
    }
  }
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace
}  // namespace omni::routing::engine

int main(int argc, char** argv) {
  using namespace omni::routing::engine;
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s frees|arrives <agents> <iterations> [rounds]\n", argv[0]);
    return 2;
  }
  const std::string which = argv[1];
  const int agents = std::atoi(argv[2]);
  const long iterations = std::atol(argv[3]);
  const int rounds = argc > 4 ? std::atoi(argv[4]) : 1;
  const bool frees = which == "frees";
  if ((!frees && which != "arrives") || agents <= 0 || iterations <= 0) {
    std::fprintf(stderr, "bad arguments\n");
    return 2;
  }
  world w;
  build(w, agents, frees);
  for (int r = 0; r < rounds; ++r) {
    const double t0 = thread_cpu_seconds();
    if (frees) {
      loop_agent_frees(w, iterations);
    } else {
      loop_contact_arrives(w, iterations);
    }
    const double t1 = thread_cpu_seconds();
    std::printf("%s %d agents: %.3f us CPU per decision\n", which.c_str(), agents,
                (t1 - t0) * 1e6 / static_cast<double>(iterations) / 2);
  }
  std::printf("decisions seen: %llu\n", static_cast<unsigned long long>(w.decisions));
  return 0;
}
