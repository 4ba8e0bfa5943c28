// Fixed-iteration driver of engine_bench's two loops, for deterministic comparisons under
// load: `valgrind --tool=callgrind --toggle-collect='loop_*'` counts only the loop (not the
// setup), and the same binary and arguments give the same counts whatever else runs on the
// machine. The world and the loop bodies are engine_bench.cc's (engine_world.h); `frees` also
// queues 10 waiting contacts per agent.
//
// Usage: engine_loop frees|arrives <agents> <iterations> [rounds] [latency]
// Prints the thread CPU time per routing decision (iteration / 2) of each round. With
// `latency`, also the distribution of the per-decision cost: each iteration is timed on its
// own (steady_clock: ~31 ns a reading on this VM, about one reading of which falls inside each
// timed iteration, i.e. ~15 ns per decision in the figures) and divided by its decisions; the
// percentiles are over iterations (p50 = the median routing decision's cost).

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "routing/engine/engine.h"
#include "tests/bench/engine_world.h"

namespace omni::routing::engine {
namespace {

using bench::world;

// Not inlined: callgrind's --toggle-collect='*::loop_*' names these.
__attribute__((noinline)) std::uint64_t loop_agent_frees(world& w, long iterations) {
  std::uint64_t decisions = 0;
  for (long it = 0; it < iterations; ++it) decisions += w.agent_frees();
  return decisions;
}

__attribute__((noinline)) std::uint64_t loop_contact_arrives(world& w, long iterations) {
  std::uint64_t decisions = 0;
  for (long it = 0; it < iterations; ++it) decisions += w.contact_arrives();
  return decisions;
}

// One round with every iteration timed: per-decision cost (ns) of each iteration.
__attribute__((noinline)) std::uint64_t loop_timed(world& w, bool frees, long iterations,
                                                   std::vector<double>& per_decision) {
  std::uint64_t decisions = 0;
  for (long it = 0; it < iterations; ++it) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::uint64_t d = frees ? w.agent_frees() : w.contact_arrives();
    const auto t1 = std::chrono::steady_clock::now();
    decisions += d;
    if (d > 0)
      per_decision.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() /
                             static_cast<double>(d));
  }
  return decisions;
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
    std::fprintf(stderr, "usage: %s frees|arrives <agents> <iterations> [rounds] [latency]\n",
                 argv[0]);
    return 2;
  }
  const std::string which = argv[1];
  const int agents = std::atoi(argv[2]);
  const long iterations = std::atol(argv[3]);
  const int rounds = argc > 4 ? std::atoi(argv[4]) : 1;
  const bool frees = which == "frees";
  const bool latency = argc > 5 && std::string(argv[5]) == "latency";
  if ((!frees && which != "arrives") || agents <= 0 || iterations <= 0 || (argc > 5 && !latency)) {
    std::fprintf(stderr, "bad arguments\n");
    return 2;
  }
  world w;
  w.login_agents(agents);
  if (frees) {
    w.occupy_agents(agents);
    w.queue_waiting(agents);
  }
  std::uint64_t decisions = 0;
  for (int r = 0; r < rounds; ++r) {
    const double t0 = thread_cpu_seconds();
    decisions += frees ? loop_agent_frees(w, iterations) : loop_contact_arrives(w, iterations);
    const double t1 = thread_cpu_seconds();
    std::printf("%s %d agents: %.3f us CPU per decision\n", which.c_str(), agents,
                (t1 - t0) * 1e6 / static_cast<double>(iterations) / 2);
  }
  if (latency) {
    std::vector<double> per;
    per.reserve(static_cast<std::size_t>(iterations));
    decisions += loop_timed(w, frees, iterations, per);
    std::sort(per.begin(), per.end());
    auto at = [&](double q) {
      return per.empty()
                 ? 0.0
                 : per[static_cast<std::size_t>(q * static_cast<double>(per.size() - 1))] / 1e3;
    };
    std::printf("%s %d agents: per-decision cost p50 %.3f p90 %.3f p99 %.3f us (%zu iterations)\n",
                which.c_str(), agents, at(0.5), at(0.9), at(0.99), per.size());
  }
  std::printf("routing decisions: %llu\n", static_cast<unsigned long long>(decisions));
  return 0;
}
