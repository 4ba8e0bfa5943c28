// Routing engine benchmarks: cost of a routing decision at 1k / 10k / 100k agents with 200
// skills, 500 queues and 10 waiting contacts per agent, plus memory per agent and per waiting
// contact (glibc mallinfo2). Run: build/bench/tests/bench/engine_bench (see
// routing/engine/README.md).
//
// What is timed: only the loop body (the populated engine is built once per agent count,
// outside the timed region). Each benchmark runs 5 repetitions and reports aggregates; the
// figure to quote is the median. "decisions" counts routing decisions only (offer + assign);
// everything else the engine does on those inputs (timers, escalations, bookkeeping, parsing
// the input events' strings) is in the time. Virtual time advances 1 ms per arrival, in
// setup too, so the 5-minute escalation timers come due at a steady rate instead of all at
// once (a burst the original setup at t=0 produced after 300k iterations).
//
// bm_host_memory (not the engine's): the host's cost of a dependent load in 4 and 64 MiB, in
// the same run, to read the engine's figures against the VM's state at that moment.
//
// bm_contact_status (not a routing decision): the router's status query for each arriving
// contact (position + expected wait) with a 1k / 100k backlog in one queue; time per
// arrive + contact_status + abandon.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "routing/engine/engine.h"
#include "tests/bench/engine_world.h"

namespace omni::routing::engine {
namespace {

using bench::bench_config;
using bench::name;
using bench::world;

// Bytes allocated: chunks in use in the arenas plus mmap()ed chunks (glibc serves blocks above
// its mmap threshold, 128 KiB to 32 MiB, by mmap, and uordblks leaves them out: the engine's
// large arrays, i.e. most of its memory, were not counted before 2026-12-03).
std::size_t heap_in_use() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

// One populated engine per agent count, built once and shared by the benchmarks, with the
// memory it took per agent and per waiting contact.
struct measured_world {
  world w;
  double bytes_per_agent = 0;
  double bytes_per_contact = 0;
  double heap_total = 0;  // the populated world: engine (config included), harness state
};

world& world_for(int agents, bool with_waiting, const measured_world** measured = nullptr) {
  static std::map<std::pair<int, bool>, std::unique_ptr<measured_world>> worlds;
  auto& m = worlds[{agents, with_waiting}];
  if (!m) {
    const std::size_t heap0 = heap_in_use();
    m = std::make_unique<measured_world>();
    const std::size_t heap1 = heap_in_use();
    m->w.login_agents(agents);
    m->bytes_per_agent = static_cast<double>(heap_in_use() - heap1) / agents;
    if (with_waiting) {
      // Fill every agent, then queue 10 waiting contacts per agent.
      m->w.occupy_agents(agents);
      const std::size_t heap3 = heap_in_use();
      const auto before = m->w.eng->totals().waiting;
      m->w.queue_waiting(agents);
      m->bytes_per_contact = static_cast<double>(heap_in_use() - heap3) /
                             static_cast<double>(m->w.eng->totals().waiting - before);
    }
    m->heap_total = static_cast<double>(heap_in_use() - heap0);
  }
  if (measured) *measured = m.get();
  return m->w;
}

void bm_agent_frees(benchmark::State& state) {
  const measured_world* m = nullptr;
  world& w = world_for(static_cast<int>(state.range(0)), true, &m);
  std::uint64_t decisions = 0;
  for (auto _ : state) decisions += w.agent_frees();
  state.counters["decisions/s"] =
      benchmark::Counter(static_cast<double>(decisions), benchmark::Counter::kIsRate);
  state.counters["ns/decision"] = benchmark::Counter(
      static_cast<double>(decisions), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["waiting"] = static_cast<double>(w.eng->totals().waiting);
  state.counters["bytes/agent"] = m->bytes_per_agent;
  state.counters["bytes/waiting_contact"] = m->bytes_per_contact;
  state.counters["heap_MiB"] = m->heap_total / (1024.0 * 1024.0);
}

void bm_contact_arrives(benchmark::State& state) {
  world& w = world_for(static_cast<int>(state.range(0)), false);
  std::uint64_t decisions = 0;
  for (auto _ : state) decisions += w.contact_arrives();
  state.counters["decisions/s"] =
      benchmark::Counter(static_cast<double>(decisions), benchmark::Counter::kIsRate);
  state.counters["ns/decision"] = benchmark::Counter(
      static_cast<double>(decisions), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Status query with a backlog: no agent logged in (night), `backlog` contacts waiting in one
// queue. Per iteration a contact arrives with a random priority and the caller asks for its
// status (position and expected wait), as the router does for every arriving chat, messenger
// and email contact; then a random waiting contact is abandoned, keeping the backlog constant.
void bm_contact_status(benchmark::State& state) {
  const auto backlog = static_cast<std::size_t>(state.range(0));
  engine eng(bench_config());
  std::mt19937_64 rng(99);
  std::vector<decision> out;
  std::vector<std::string> waiting;
  timestamp now = 0;
  std::uint64_t next = 0;
  auto arrive = [&] {
    contact_arrived e;
    e.item.id = name("b", next++);
    e.item.chan = channel::email;
    e.queue = "q0";
    e.priority = static_cast<int>(rng() % 3);
    out.clear();
    eng.handle(e, ++now, out);
    waiting.push_back(e.item.id);
  };
  while (waiting.size() < backlog) arrive();
  std::size_t position_sum = 0;
  for (auto _ : state) {
    arrive();
    const auto v = eng.contact_status(waiting.back(), now);
    position_sum += v->position.value_or(0);
    const std::size_t i = rng() % waiting.size();
    out.clear();
    eng.handle(contact_abandoned{waiting[i]}, now, out);
    waiting[i] = std::move(waiting.back());
    waiting.pop_back();
  }
  benchmark::DoNotOptimize(position_sum);
  state.counters["waiting"] = static_cast<double>(eng.totals().waiting);
  state.counters["mean_position"] =
      static_cast<double>(position_sum) / static_cast<double>(state.iterations());
}

// The host's memory in the same run: a chain of dependent loads over a random cyclic
// permutation of `MiB` (one pointer per 64-byte line), ns per load. Not the engine's: a
// reference to read the engine's figures against, as this VM's effective cache and its miss
// cost change with its neighbours (routing/engine/README.md, "Round 7").
void bm_host_memory(benchmark::State& state) {
  const std::size_t lines = static_cast<std::size_t>(state.range(0)) * 1024 * 1024 / 64;
  struct alignas(64) line_t {
    std::size_t next;
  };
  std::vector<line_t> mem(lines);
  std::vector<std::size_t> order(lines);
  for (std::size_t i = 0; i < lines; ++i) order[i] = i;
  std::mt19937_64 rng(7);
  std::shuffle(order.begin(), order.end(), rng);
  for (std::size_t i = 0; i < lines; ++i) mem[order[i]].next = order[(i + 1) % lines];
  std::size_t at = order[0];
  constexpr int steps = 1024;
  for (auto _ : state) {
    for (int i = 0; i < steps; ++i) at = mem[at].next;
    benchmark::DoNotOptimize(at);
  }
  state.counters["ns/load"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * steps,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// State export and import (snapshots, routing/engine/README.md "State export") of the world
// with `agents` busy agents and 10x as many waiting contacts: the time the router thread spends
// exporting, and the time a recovery spends importing. Counter bytes: the export's size.
void bm_state_export(benchmark::State& state) {
  world& w = world_for(static_cast<int>(state.range(0)), true);
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string data = w.eng->export_state();
    bytes = data.size();
    benchmark::DoNotOptimize(data);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}

void bm_state_import(benchmark::State& state) {
  world& w = world_for(static_cast<int>(state.range(0)), true);
  const std::string data = w.eng->export_state();
  std::vector<decision> out;
  for (auto _ : state) {
    state.PauseTiming();
    auto fresh = std::make_unique<engine>(bench_config());
    out.clear();
    state.ResumeTiming();
    const std::string err = fresh->import_state(data, out);
    if (!err.empty() || !out.empty()) state.SkipWithError("import failed or decided");
    state.PauseTiming();
    fresh.reset();  // its destruction is not the import's cost
    state.ResumeTiming();
  }
  state.counters["bytes"] = static_cast<double>(data.size());
}

BENCHMARK(bm_state_export)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Unit(benchmark::kMillisecond)
    ->Repetitions(3)
    ->ReportAggregatesOnly(true);
BENCHMARK(bm_state_import)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Unit(benchmark::kMillisecond)
    ->Repetitions(3)
    ->ReportAggregatesOnly(true);

BENCHMARK(bm_agent_frees)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Unit(benchmark::kNanosecond)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);
BENCHMARK(bm_contact_arrives)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Unit(benchmark::kNanosecond)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);

BENCHMARK(bm_contact_status)
    ->Arg(1'000)
    ->Arg(100'000)
    ->Unit(benchmark::kNanosecond)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);
BENCHMARK(bm_host_memory)
    ->Arg(4)
    ->Arg(64)
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);

}  // namespace
}  // namespace omni::routing::engine

BENCHMARK_MAIN();