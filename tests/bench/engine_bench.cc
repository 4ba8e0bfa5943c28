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
// bm_contact_status (not a routing decision): the router's status query for each arriving
// contact (position + expected wait) with a 1k / 100k backlog in one queue; time per
// arrive + contact_status + abandon.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "routing/engine/engine.h"

namespace omni::routing::engine {
namespace {

constexpr int skill_count = 200;
constexpr int queue_count = 500;
constexpr int waiting_per_agent = 10;

std::size_t heap_in_use() { return mallinfo2().uordblks; }

// prefix + number, built by append (GCC 12 -O3 warns falsely on "x" + std::to_string(n)).
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

// One populated engine per agent count, built once and shared by the benchmarks.
struct world {
  std::unique_ptr<engine> eng;
  timestamp now = 0;
  std::mt19937_64 rng{12345};
  std::uint64_t next_contact = 0;
  std::vector<std::pair<std::string, std::string>> assigned;  // (contact, agent)
  std::vector<decision> out;
  double bytes_per_agent = 0;
  double bytes_per_contact = 0;

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
    // Copy: handle() clears `out` through the caller's reuse below.
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

world& world_for(int agents, bool with_waiting) {
  static std::map<std::pair<int, bool>, std::unique_ptr<world>> worlds;
  auto& w = worlds[{agents, with_waiting}];
  if (w) return *w;
  w = std::make_unique<world>();
  const std::size_t heap0 = heap_in_use();
  w->eng = std::make_unique<engine>(bench_config());
  const std::size_t heap1 = heap_in_use();
  std::mt19937_64 rng(777);
  for (int a = 0; a < agents; ++a) {
    agent_login l;
    l.agent = name("a", a);
    for (int k = 0; k < 4; ++k) {
      l.skills.push_back({name("s", rng() % skill_count), 3 + static_cast<int>(rng() % 8)});
    }
    // One chat at a time keeps "busy agents + 10x waiting" exact.
    l.capacity = {{channel::chat, 1},
                  {channel::email, 0},
                  {channel::voice, 0},
                  {channel::messenger, 0},
                  {channel::sms, 0}};
    w->out.clear();
    w->eng->handle(l, w->now, w->out);
  }
  const std::size_t heap2 = heap_in_use();
  w->bytes_per_agent = static_cast<double>(heap2 - heap1) / agents;
  if (with_waiting) {
    // Fill every agent, then queue 10 waiting contacts per agent.
    for (int i = 0; i < agents * 2; ++i) {
      w->now += 1;
      w->arrive(true);
    }
    const std::size_t heap3 = heap_in_use();
    const auto before = w->eng->totals().waiting;
    while (w->eng->totals().waiting < static_cast<std::uint64_t>(agents) * waiting_per_agent) {
      w->now += 1;
      w->arrive(true);
    }
    w->bytes_per_contact = static_cast<double>(heap_in_use() - heap3) /
                           static_cast<double>(w->eng->totals().waiting - before);
  }
  (void)heap0;
  return *w;
}

// Agent side: an agent completes; the engine picks the best waiting contact among the queues
// the agent serves and offers it; the agent accepts; a new contact arrives (and waits).
// Decisions per iteration: offer + assign.
void bm_agent_frees(benchmark::State& state) {
  world& w = world_for(static_cast<int>(state.range(0)), true);
  std::uint64_t decisions = 0;
  for (auto _ : state) {
    const std::size_t i = w.rng() % w.assigned.size();
    auto [contact_id, agent_id] = w.assigned[i];
    w.assigned[i] = w.assigned.back();
    w.assigned.pop_back();
    w.now += 1;
    w.out.clear();
    w.eng->handle(contact_completed{contact_id, agent_id, "done"}, w.now, w.out);
    decisions += w.routing_decisions();
    const std::size_t offers = w.routing_decisions();
    w.accept_offers();
    decisions += offers;
    w.arrive(false);
    decisions += w.routing_decisions();
  }
  state.counters["decisions/s"] =
      benchmark::Counter(static_cast<double>(decisions), benchmark::Counter::kIsRate);
  state.counters["ns/decision"] = benchmark::Counter(
      static_cast<double>(decisions), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["waiting"] = static_cast<double>(w.eng->totals().waiting);
  state.counters["bytes/agent"] = w.bytes_per_agent;
  state.counters["bytes/waiting_contact"] = w.bytes_per_contact;
}

// Contact side: agents mostly idle; a contact arrives, the engine picks the best eligible
// available agent by the queue's strategy and offers; accept; complete.
// Decisions per iteration: offer + assign.
void bm_contact_arrives(benchmark::State& state) {
  world& w = world_for(static_cast<int>(state.range(0)), false);
  std::uint64_t decisions = 0;
  for (auto _ : state) {
    w.now += 1;
    w.arrive(false);
    decisions += w.routing_decisions();
    const std::size_t offers = w.routing_decisions();
    w.accept_offers();
    decisions += offers;
    while (!w.assigned.empty()) {
      auto [contact_id, agent_id] = w.assigned.back();
      w.assigned.pop_back();
      w.out.clear();
      w.eng->handle(contact_completed{contact_id, agent_id, "done"}, w.now, w.out);
      decisions += w.routing_decisions();
    }
  }
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

}  // namespace
}  // namespace omni::routing::engine

BENCHMARK_MAIN();