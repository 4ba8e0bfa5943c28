#include "routing/sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <queue>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

#include "routing/engine/classifier.h"
#include "routing/engine/engine.h"
#include "routing/sim/random.h"
#include "routing/sim/replay.h"

namespace omni::routing::sim {
namespace {

namespace eng = omni::routing::engine;
using eng::duration;
using eng::timestamp;

constexpr std::uint32_t npos = 0xffffffffu;
// After the last arrival the center drains; a run stops at the latest this long after.
constexpr duration max_drain = eng::hours(24 * 30);

enum class event_kind : std::uint8_t {
  arrival,         // target: arrival stream
  replay_contact,  // target: recording.contacts index
  replay_agent,    // target: recording.agents index
  abandon,         // target: contact slot (+ generation)
  accept,          // target: contact slot (+ generation), agent
  complete,        // target: contact slot (+ generation)
  wrap_end,        // agent
  shift_start,     // agent
  shift_end,       // agent
  recover,         // agent
};

struct event {
  timestamp at = 0;
  std::uint64_t seq = 0;
  event_kind kind = event_kind::arrival;
  std::uint32_t target = 0;
  std::uint32_t generation = 0;
  std::uint32_t agent = npos;
};

struct later {
  bool operator()(const event& a, const event& b) const {
    return a.at != b.at ? a.at > b.at : a.seq > b.seq;
  }
};

enum class contact_state : std::uint8_t { free, waiting, offered, assigned };

struct sim_contact {
  std::string id;
  std::string conversation;  // replay only
  timestamp arrived = 0;
  duration handle = 0;
  std::uint32_t queue = 0;     // report queue (classified on arrival)
  std::uint32_t interval = 0;  // arrival interval
  std::uint32_t agent = npos;
  std::uint32_t generation = 0;
  contact_state state = contact_state::free;
  eng::channel chan = eng::channel::voice;
  bool counted = false;  // arrived after the warm-up
};

struct sim_agent {
  std::string id;
  std::uint32_t group = 0;
  std::vector<eng::skill_level> skills;
  std::map<eng::channel, int> capacity;
  bool logged_in = false;
  bool leaving = false;  // shift over (or recorded logout): log out when the last contact ends
  int active = 0;        // contacts assigned
  timestamp wrap_end = 0;
  timestamp busy_since = -1;
  timestamp login_at = 0;
};

struct stream_state {
  rng arrivals;
  rng attributes;
  double t = 0.0;  // time of the last arrival, ms
  std::uint32_t queue = 0;
  eng::contact_arrived tmpl;
};

// Accumulates a span of time into per-interval buckets and into a total clipped to
// [warmup, duration).
struct time_buckets {
  std::vector<double> per_interval;
  double total = 0;
};

class simulation {
 public:
  simulation(const eng::engine_config& config, const scenario& s, const run_options& o)
      : config_(apply_overrides(config, s)), s_(s), options_(o), engine_(config_) {}

  report run() {
    setup();
    loop();
    return finish();
  }

 private:
  // ---- setup ---------------------------------------------------------------------------------

  std::uint32_t queue_index(const std::string& name) const {
    for (std::uint32_t i = 0; i < config_.queues.size(); ++i)
      if (config_.queues[i].name == name) return i;
    return npos;
  }

  void setup() {
    duration_ = s_.duration;
    if (s_.replay) {
      recording_ = load_recording(s_.replay->file);
      duration_ = (recording_->last - recording_->origin) / s_.interval * s_.interval + s_.interval;
    }
    if (s_.warmup >= duration_)
      throw std::invalid_argument("the warm-up is not shorter than the run");
    intervals_ = static_cast<std::size_t>((duration_ + s_.interval - 1) / s_.interval);
    nq_ = config_.queues.size();
    cells_.assign(intervals_ * nq_, contact_stats{});
    waiting_area_.assign(intervals_, 0.0);
    waiting_max_.assign(intervals_, 0);

    // Classification for the report (the engine does the same on its side).
    std::vector<std::array<bool, eng::channel_count>> serves;
    for (const auto& rule : config_.rules) {
      std::array<bool, eng::channel_count> on{};
      const std::uint32_t q = queue_index(rule.queue);
      for (auto c : eng::all_channels) {
        if (q == npos) continue;
        const auto& chans = config_.queues[q].channels;
        on[eng::index_of(c)] =
            chans.empty() || std::find(chans.begin(), chans.end(), c) != chans.end();
      }
      serves.push_back(on);
    }
    classifier_.configure(config_.rules, serves);
    default_queue_ = queue_index(config_.default_queue);
    for (auto c : eng::all_channels)
      auto_accept_[eng::index_of(c)] = config_.channels[eng::index_of(c)].auto_accept;

    // Agents.
    for (const auto& g : s_.agents) {
      group_names_.push_back(g.name);
      group_sizes_.push_back(g.count);
      accept_delay_.push_back(g.accept_delay);
      recover_after_.push_back(g.recover_after);
      delay_rng_.emplace_back(derive_seed(s_.seed, 3000 + delay_rng_.size()));
    }
    if (s_.replay) {
      recorded_group_ = static_cast<std::uint32_t>(group_names_.size());
      group_names_.push_back("recorded");
      group_sizes_.push_back(0);
      accept_delay_.push_back(s_.replay->accept_delay);
      recover_after_.push_back(eng::seconds(60));
      delay_rng_.emplace_back(derive_seed(s_.seed, 3000 + delay_rng_.size()));
    }
    logged_.assign(group_names_.size(), time_buckets{std::vector<double>(intervals_, 0.0), 0});
    busy_ = logged_;
    for (std::uint32_t g = 0; g < s_.agents.size(); ++g) {
      const auto& group = s_.agents[g];
      for (int i = 0; i < group.count; ++i) {
        char suffix[16];
        std::snprintf(suffix, sizeof suffix, "-%03d", i + 1);
        sim_agent a;
        a.id = group.name + suffix;
        a.group = g;
        a.skills = group.skills;
        a.capacity = group.capacity;
        const auto index = static_cast<std::uint32_t>(agents_.size());
        agent_ids_.emplace(a.id, index);
        agents_.push_back(std::move(a));
        if (group.shifts.empty()) {
          login(index);
        } else {
          for (const auto& sh : group.shifts) {
            push(sh.start, event_kind::shift_start, 0, 0, index);
            push(sh.end, event_kind::shift_end, 0, 0, index);
          }
        }
      }
    }

    // Arrivals.
    for (std::uint32_t i = 0; i < s_.arrivals.size(); ++i) {
      const auto& a = s_.arrivals[i];
      stream_state st{rng(derive_seed(s_.seed, 1000 + i)), rng(derive_seed(s_.seed, 2000 + i))};
      st.tmpl.item.chan = a.chan;
      st.tmpl.item.provider = a.provider;
      st.tmpl.item.to = a.to;
      st.tmpl.item.subject = a.subject;
      st.tmpl.item.text = a.text;
      st.tmpl.item.language = a.language;
      st.tmpl.item.customer_tier = a.customer_tier;
      st.tmpl.item.attributes = a.attributes;
      if (a.queue) {
        st.queue = queue_index(*a.queue);
        if (st.queue == npos)
          throw std::invalid_argument("arrivals '" + a.name + "': the config has no queue '" +
                                      *a.queue + "'");
        st.tmpl.queue = a.queue;
      } else {
        st.queue = classify(st.tmpl.item);
      }
      streams_.push_back(std::move(st));
      schedule_arrival(i);
    }
    if (recording_) {
      replay_rng_.emplace(derive_seed(s_.seed, 4000));
      for (std::uint32_t i = 0; i < recording_->contacts.size(); ++i)
        push(recording_->contacts[i].received_at - recording_->origin, event_kind::replay_contact,
             i);
      for (std::uint32_t i = 0; i < recording_->agents.size(); ++i)
        push(recording_->agents[i].at - recording_->origin, event_kind::replay_agent, i);
    }
  }

  std::uint32_t classify(const eng::contact& c) const {
    const int rule = classifier_.classify(c);
    if (rule >= 0) return queue_index(config_.rules[static_cast<std::size_t>(rule)].queue);
    return default_queue_;
  }

  void push(timestamp at, event_kind kind, std::uint32_t target, std::uint32_t generation = 0,
            std::uint32_t agent = npos) {
    heap_.push(event{std::max(at, now_), seq_++, kind, target, generation, agent});
  }

  // Next Poisson arrival of stream i: piecewise-constant rate per interval; by memorylessness a
  // draw that crosses an interval boundary restarts at the boundary with the next rate.
  void schedule_arrival(std::uint32_t i) {
    const auto& spec = s_.arrivals[i];
    auto& st = streams_[i];
    const double end = static_cast<double>(s_.duration);
    double t = st.t;
    while (t < end) {
      double rate = spec.rate_per_hour, piece_end = end;
      if (!spec.rates_per_hour.empty()) {
        const auto k = static_cast<std::size_t>(t / static_cast<double>(s_.interval));
        rate = spec.rates_per_hour[std::min(k, spec.rates_per_hour.size() - 1)];
        piece_end = std::min(end, static_cast<double>(k + 1) * static_cast<double>(s_.interval));
      }
      if (rate <= 0) {
        if (spec.rates_per_hour.empty()) return;
        t = piece_end;
        continue;
      }
      const double next = t + st.arrivals.exponential(3.6e6 / rate);
      if (next < piece_end) {
        st.t = next;
        push(static_cast<timestamp>(std::llround(next)), event_kind::arrival, i);
        return;
      }
      t = piece_end;
    }
    st.t = t;
  }

  // ---- the loop ------------------------------------------------------------------------------

  void loop() {
    std::uint64_t since_progress = 0;
    while (true) {
      const std::optional<timestamp> due = engine_.next_deadline();
      if (due && (heap_.empty() || *due <= heap_.top().at)) {
        now_ = std::max(now_, *due);
        if (now_ > duration_ + max_drain) break;
        out_.clear();
        engine_.tick(now_, out_);
        apply();
        continue;
      }
      if (heap_.empty()) break;
      const event ev = heap_.top();
      heap_.pop();
      now_ = ev.at;
      if (now_ > duration_ + max_drain) break;
      ++events_;
      process(ev);
      if (options_.progress && ++since_progress == 16384) {
        since_progress = 0;
        options_.progress(
            std::min(1.0, static_cast<double>(now_) / static_cast<double>(duration_)));
      }
    }
    if (options_.progress) options_.progress(1.0);
  }

  void feed(const eng::input_event& e) {
    out_.clear();
    (void)engine_.handle(e, now_, out_);
    apply();
  }

  void process(const event& ev) {
    switch (ev.kind) {
      case event_kind::arrival: {
        auto& st = streams_[ev.target];
        const auto& spec = s_.arrivals[ev.target];
        eng::contact_arrived a = st.tmpl;
        a.item.id = "c" + std::to_string(++contact_seq_);
        const duration handle = spec.handle_time.sample(st.attributes);
        const duration patience = spec.patience.sample(st.attributes);
        admit(std::move(a), st.queue, handle, patience, {});
        schedule_arrival(ev.target);
        break;
      }
      case event_kind::replay_contact:
        replay_contact(recording_->contacts[ev.target]);
        break;
      case event_kind::replay_agent:
        replay_agent(recording_->agents[ev.target]);
        break;
      case event_kind::abandon: {
        if (!live(ev)) break;
        const auto& c = contacts_[ev.target];
        if (c.state == contact_state::waiting || c.state == contact_state::offered)
          feed(eng::contact_abandoned{c.id});
        break;
      }
      case event_kind::accept: {
        if (!live(ev)) break;
        const auto& c = contacts_[ev.target];
        if (c.state == contact_state::offered && c.agent == ev.agent)
          feed(eng::offer_accepted{c.id, agents_[ev.agent].id});
        break;
      }
      case event_kind::complete: {
        if (!live(ev) || contacts_[ev.target].state != contact_state::assigned) break;
        complete(ev.target);
        break;
      }
      case event_kind::wrap_end: {
        auto& a = agents_[ev.agent];
        if (a.active == 0 && now_ >= a.wrap_end) close_busy(a, now_);
        break;
      }
      case event_kind::shift_start: {
        auto& a = agents_[ev.agent];
        if (!a.logged_in) {
          login(ev.agent);
        } else if (a.leaving) {  // still finishing the last shift's contact
          a.leaving = false;
          feed(eng::presence_change{a.id, eng::presence::available});
        }
        break;
      }
      case event_kind::shift_end:
        leave(ev.agent);
        break;
      case event_kind::recover: {
        auto& a = agents_[ev.agent];
        if (a.logged_in && !a.leaving) feed(eng::presence_change{a.id, eng::presence::available});
        break;
      }
    }
  }

  bool live(const event& ev) const {
    const auto& c = contacts_[ev.target];
    return c.generation == ev.generation && c.state != contact_state::free;
  }

  // ---- contacts ------------------------------------------------------------------------------

  void admit(eng::contact_arrived a, std::uint32_t queue, duration handle, duration patience,
             std::string conversation) {
    std::uint32_t slot;
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else {
      slot = static_cast<std::uint32_t>(contacts_.size());
      contacts_.emplace_back();
    }
    auto& c = contacts_[slot];
    c.id = a.item.id;
    c.conversation = std::move(conversation);
    c.arrived = now_;
    c.handle = std::max<duration>(0, handle);
    c.queue = queue;
    c.interval = static_cast<std::uint32_t>(
        std::min<std::size_t>(static_cast<std::size_t>(now_ / s_.interval), intervals_ - 1));
    c.agent = npos;
    c.state = contact_state::waiting;
    c.chan = a.item.chan;
    c.counted = now_ >= s_.warmup && now_ < duration_;
    ++simulated_;
    ids_.emplace(c.id, slot);
    if (!c.conversation.empty()) conversations_[c.conversation] = slot;
    if (c.counted) cell(c).offered++;
    change_waiting(+1);
    feed(a);
    auto& after = contacts_[slot];
    if (patience >= 0 &&
        (after.state == contact_state::waiting || after.state == contact_state::offered))
      push(now_ + patience, event_kind::abandon, slot, after.generation);
  }

  contact_stats& cell(const sim_contact& c) { return cells_[c.interval * nq_ + c.queue]; }

  void release(std::uint32_t slot) {
    auto& c = contacts_[slot];
    ids_.erase(c.id);
    if (!c.conversation.empty()) {
      auto it = conversations_.find(c.conversation);
      if (it != conversations_.end() && it->second == slot) conversations_.erase(it);
    }
    c.state = contact_state::free;
    c.generation++;
    free_slots_.push_back(slot);
  }

  void complete(std::uint32_t slot) {
    const std::uint32_t agent = contacts_[slot].agent;
    const eng::channel chan = contacts_[slot].chan;
    feed(eng::contact_completed{contacts_[slot].id, agents_[agent].id, "simulated"});
    release(slot);
    auto& a = agents_[agent];
    if (--a.active > 0) return;
    if (a.leaving) {
      logout(agent);
      return;
    }
    const duration wrap = config_.channels[eng::index_of(chan)].wrap_up;
    if (wrap > 0) {
      a.wrap_end = now_ + wrap;
      push(a.wrap_end, event_kind::wrap_end, 0, 0, agent);
    } else {
      close_busy(a, now_);
    }
  }

  void change_waiting(int delta) {
    integrate_waiting(now_);
    waiting_ += delta;
    if (now_ >= 0 && now_ < duration_) {
      auto k = static_cast<std::size_t>(now_ / s_.interval);
      waiting_max_[k] = std::max(waiting_max_[k], waiting_);
    }
  }

  void integrate_waiting(timestamp to) {
    timestamp from = std::max<timestamp>(waiting_since_, 0);
    waiting_since_ = to;
    to = std::min(to, duration_);
    while (from < to) {
      const auto k = static_cast<std::size_t>(from / s_.interval);
      const timestamp end = std::min<timestamp>(to, static_cast<timestamp>(k + 1) * s_.interval);
      waiting_area_[k] += static_cast<double>(waiting_) * static_cast<double>(end - from);
      waiting_max_[k] = std::max(waiting_max_[k], waiting_);
      from = end;
    }
  }

  // ---- decisions -----------------------------------------------------------------------------

  std::uint32_t slot_of(const std::string& id) const {
    auto it = ids_.find(id);
    return it == ids_.end() ? npos : it->second;
  }
  std::uint32_t agent_of(const std::string& id) const {
    auto it = agent_ids_.find(id);
    return it == agent_ids_.end() ? npos : it->second;
  }

  void apply() {
    decisions_ += out_.size();
    for (const auto& d : out_) {
      if (d.kind == eng::decision_kind::agent_state) {
        const std::uint32_t a = agent_of(d.agent);
        if (a != npos && d.agent_presence == eng::presence::not_responding)
          push(now_ + recover_after_[agents_[a].group], event_kind::recover, 0, 0, a);
        continue;
      }
      const std::uint32_t slot = slot_of(d.contact);
      if (slot == npos) continue;
      auto& c = contacts_[slot];
      switch (d.kind) {
        case eng::decision_kind::offer: {
          const std::uint32_t a = agent_of(d.agent);
          c.state = contact_state::offered;
          c.agent = a;
          if (a != npos && !auto_accept_[eng::index_of(c.chan)]) {
            const auto g = agents_[a].group;
            const duration delay = std::max<duration>(0, accept_delay_[g].sample(delay_rng_[g]));
            push(now_ + delay, event_kind::accept, slot, c.generation, a);
          }
          break;
        }
        case eng::decision_kind::assign: {
          const std::uint32_t a = agent_of(d.agent);
          if (a == npos || c.state == contact_state::assigned) break;
          c.state = contact_state::assigned;
          c.agent = a;
          change_waiting(-1);
          if (c.counted) {
            auto& st = cell(c);
            const duration wait = now_ - c.arrived;
            st.answered++;
            if (wait > 0) st.waited++;
            if (wait <= config_.queues[c.queue].sla_threshold) st.within_sla++;
            st.wait_sum_ms += wait;
            st.waits.push_back(wait);
          }
          auto& ag = agents_[a];
          if (ag.active++ == 0 && ag.busy_since < 0) ag.busy_since = now_;
          push(now_ + c.handle, event_kind::complete, slot, c.generation);
          break;
        }
        case eng::decision_kind::requeue:
        case eng::decision_kind::revoke:
          if (c.state == contact_state::offered) c.state = contact_state::waiting;
          break;
        case eng::decision_kind::abandon:
        case eng::decision_kind::expire:
          if (c.state == contact_state::assigned) break;
          change_waiting(-1);
          if (c.counted) {
            if (d.kind == eng::decision_kind::abandon)
              cell(c).abandoned++;
            else
              cell(c).expired++;
          }
          release(slot);
          break;
        default:
          break;
      }
    }
  }

  // ---- agents --------------------------------------------------------------------------------

  void login(std::uint32_t index) {
    auto& a = agents_[index];
    a.logged_in = true;
    a.leaving = false;
    a.login_at = now_;
    feed(eng::agent_login{a.id, a.skills, a.capacity, eng::presence::available});
  }

  void leave(std::uint32_t index) {
    auto& a = agents_[index];
    if (!a.logged_in || a.leaving) return;
    a.leaving = true;
    if (a.active == 0) {
      logout(index);
    } else {
      feed(eng::presence_change{a.id, eng::presence::away});
    }
  }

  void logout(std::uint32_t index) {
    auto& a = agents_[index];
    feed(eng::agent_logout{a.id});
    close_busy(a, now_);
    add_time(logged_[a.group], a.login_at, now_);
    a.logged_in = false;
    a.leaving = false;
  }

  void close_busy(sim_agent& a, timestamp at) {
    if (a.busy_since < 0) return;
    add_time(busy_[a.group], a.busy_since, at);
    a.busy_since = -1;
  }

  void add_time(time_buckets& b, timestamp from, timestamp to) {
    from = std::max<timestamp>(from, 0);
    to = std::min(to, duration_);
    if (to <= from) return;
    b.total += static_cast<double>(std::max<timestamp>(0, to - std::max(from, s_.warmup)));
    while (from < to) {
      const auto k = static_cast<std::size_t>(from / s_.interval);
      const timestamp end = std::min<timestamp>(to, static_cast<timestamp>(k + 1) * s_.interval);
      b.per_interval[k] += static_cast<double>(end - from);
      from = end;
    }
  }

  // ---- replay --------------------------------------------------------------------------------

  void replay_contact(const core::contact& rc) {
    if (rc.kind == core::contact_kind::abandoned) {
      std::uint32_t slot = npos;
      if (auto a = rc.attributes.find("contact_id"); a != rc.attributes.end())
        slot = slot_of(a->second);
      if (slot == npos && !rc.conversation.empty()) {
        auto it = conversations_.find(rc.conversation);
        if (it != conversations_.end()) slot = it->second;
      }
      if (slot == npos) slot = slot_of(rc.id);
      if (slot != npos && (contacts_[slot].state == contact_state::waiting ||
                           contacts_[slot].state == contact_state::offered))
        feed(eng::contact_abandoned{contacts_[slot].id});
      return;
    }
    if (ids_.count(rc.id)) return;  // a re-delivered event
    // A message in a conversation that is already waiting or being handled is a follow-up, not
    // a new contact to route (as the router does).
    if (!rc.conversation.empty() && conversations_.count(rc.conversation)) return;
    eng::contact_arrived a;
    a.item.id = rc.id;
    a.item.chan = eng::parse_channel(core::to_string(rc.chan)).value_or(eng::channel::chat);
    a.item.provider = rc.provider;
    a.item.to = rc.to;
    a.item.subject = rc.subject;
    a.item.text = rc.text.substr(0, 4096);
    a.item.language = rc.language;
    a.item.attributes = rc.attributes;
    a.item.customer_tier = rc.customer.tier;
    if (!rc.customer.identities.empty())
      a.item.customer_id =
          rc.customer.identities.front().kind + ":" + rc.customer.identities.front().value;
    const std::uint32_t queue = classify(a.item);
    duration handle;
    if (auto h = recording_->handle_times.find(rc.id); h != recording_->handle_times.end())
      handle = h->second;
    else
      handle = s_.replay->handle_time.sample(*replay_rng_);
    const duration patience = s_.replay->patience.sample(*replay_rng_);
    admit(std::move(a), queue, handle, patience, rc.conversation);
  }

  void replay_agent(const core::agent_event& e) {
    std::uint32_t index = agent_of(e.agent_id);
    using T = core::agent_event_type;
    std::vector<eng::skill_level> skills;
    for (const auto& [k, v] : e.skills) skills.push_back({k, v});
    std::map<eng::channel, int> capacity;
    for (const auto& [k, v] : e.capacity)
      if (auto ch = eng::parse_channel(k)) capacity[*ch] = v;
    if (index == npos) {
      if (e.type != T::login) return;
      sim_agent a;
      a.id = e.agent_id;
      a.group = recorded_group_;
      index = static_cast<std::uint32_t>(agents_.size());
      agent_ids_.emplace(a.id, index);
      agents_.push_back(std::move(a));
      group_sizes_[recorded_group_]++;
    }
    auto& a = agents_[index];
    switch (e.type) {
      case T::login:
        if (!skills.empty()) a.skills = skills;
        if (!capacity.empty()) a.capacity = capacity;
        if (!a.logged_in) {
          login(index);
        } else {
          a.leaving = false;
          feed(eng::agent_login{a.id, a.skills, a.capacity, eng::presence::available});
        }
        break;
      case T::logout:
        leave(index);
        break;
      case T::presence:
        if (auto p = eng::parse_presence(e.presence); p && a.logged_in && !a.leaving)
          feed(eng::presence_change{a.id, *p});
        break;
      case T::skills: {
        eng::agent_update u{a.id, std::nullopt, capacity};
        if (!skills.empty()) u.skills = skills;
        feed(u);
        break;
      }
      default:
        break;
    }
  }

  // ---- the report ----------------------------------------------------------------------------

  report finish() {
    // Agents without a shift end stay logged in to the end of the run even when the last event
    // came earlier; contacts still waiting then count as waiting to the end too.
    const timestamp end = std::max(now_, duration_);
    integrate_waiting(end);
    for (std::uint32_t i = 0; i < agents_.size(); ++i) {
      auto& a = agents_[i];
      if (!a.logged_in) continue;
      close_busy(a, now_);
      add_time(logged_[a.group], a.login_at, end);
    }
    for (const auto& c : contacts_)
      if (c.state != contact_state::free && c.counted)
        cells_[c.interval * nq_ + c.queue].unanswered++;

    report r;
    r.config_name = options_.config_name;
    r.scenario_name = s_.source.empty() ? "scenario" : s_.source;
    r.seed = s_.seed;
    r.duration = duration_;
    r.warmup = s_.warmup;
    r.interval = s_.interval;
    r.day_offset = s_.day_offset;
    r.ended_at = now_;
    r.contacts_simulated = simulated_;
    r.events = events_;
    r.decisions = decisions_;
    for (const auto& q : config_.queues)
      r.queues.push_back({q.name, q.sla_threshold, q.sla_target, {}});
    for (std::size_t g = 0; g < group_names_.size(); ++g)
      r.groups.push_back({group_names_[g], group_sizes_[g], logged_[g].total, busy_[g].total});
    for (std::size_t k = 0; k < intervals_; ++k) {
      interval_report iv;
      iv.start = static_cast<timestamp>(k) * s_.interval;
      iv.warmup = iv.start < s_.warmup;
      for (std::size_t q = 0; q < nq_; ++q) {
        contact_stats& cs = cells_[k * nq_ + q];
        iv.overall.merge(cs);
        r.queues[q].stats.merge(cs);
        r.overall.merge(cs);
        cs.finalize();
        iv.queues.push_back(std::move(cs));
      }
      iv.overall.finalize();
      const timestamp len = std::min<timestamp>(s_.interval, duration_ - iv.start);
      iv.waiting_avg = len > 0 ? waiting_area_[k] / static_cast<double>(len) : 0.0;
      iv.waiting_max = waiting_max_[k];
      for (std::size_t g = 0; g < group_names_.size(); ++g)
        iv.groups.push_back({group_names_[g], group_sizes_[g], logged_[g].per_interval[k],
                             busy_[g].per_interval[k]});
      r.intervals.push_back(std::move(iv));
    }
    for (auto& q : r.queues) q.stats.finalize();
    r.overall.finalize();
    return r;
  }

  eng::engine_config config_;
  const scenario& s_;
  const run_options& options_;
  eng::engine engine_;
  eng::classifier classifier_;
  std::uint32_t default_queue_ = 0;
  std::array<bool, eng::channel_count> auto_accept_{};

  timestamp now_ = 0;
  duration duration_ = 0;
  std::size_t intervals_ = 0;
  std::size_t nq_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t contact_seq_ = 0;
  std::uint64_t simulated_ = 0, events_ = 0, decisions_ = 0;
  std::priority_queue<event, std::vector<event>, later> heap_;
  std::vector<eng::decision> out_;

  std::vector<stream_state> streams_;
  std::optional<recording> recording_;
  std::optional<rng> replay_rng_;

  std::vector<sim_contact> contacts_;
  std::vector<std::uint32_t> free_slots_;
  std::unordered_map<std::string, std::uint32_t> ids_;
  std::unordered_map<std::string, std::uint32_t> conversations_;

  std::vector<sim_agent> agents_;
  std::unordered_map<std::string, std::uint32_t> agent_ids_;
  std::vector<std::string> group_names_;
  std::vector<int> group_sizes_;
  std::vector<distribution> accept_delay_;
  std::vector<duration> recover_after_;
  std::vector<rng> delay_rng_;
  std::uint32_t recorded_group_ = npos;

  std::vector<contact_stats> cells_;  // [interval][queue]
  std::int64_t waiting_ = 0;
  timestamp waiting_since_ = 0;
  std::vector<double> waiting_area_;
  std::vector<std::int64_t> waiting_max_;
  std::vector<time_buckets> logged_, busy_;
};

}  // namespace

report simulate(const engine::engine_config& config, const scenario& s,
                const run_options& options) {
  simulation sim(config, s, options);
  return sim.run();
}

}  // namespace omni::routing::sim
