#include "routing/engine/engine.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <stdexcept>
#include <utility>

namespace omni::routing::engine {

namespace {

constexpr double handle_time_weight = 0.2;  // weight of the newest handle time in the average

template <typename... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};
template <typename... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

}  // namespace

namespace {

// Every cache line of [p, p + bytes).
void prefetch_lines(const void* p, std::size_t bytes) {
  if (bytes == 0) return;
  const auto first = reinterpret_cast<std::uintptr_t>(p) & ~std::uintptr_t{63};
  const auto last = reinterpret_cast<std::uintptr_t>(p) + bytes - 1;
  for (std::uintptr_t line = first; line <= last; line += 64) {
    __builtin_prefetch(reinterpret_cast<const void*>(line));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Setup and reconfiguration.

engine::engine(engine_config config) : config_(std::move(config)) {
  const std::string errors = validate(config_);
  if (!errors.empty()) throw std::invalid_argument("routing engine config: " + errors);
  std::vector<decision> unused;
  build(0, unused, false);
}

std::string engine::reconfigure(engine_config config, timestamp now, std::vector<decision>& out) {
  std::string errors = validate(config);
  if (!errors.empty()) return errors;
  advance(now, out);
  config_ = std::move(config);
  build(now_, out, true);
  match(out);
  return {};
}

std::uint32_t engine::intern_skill(const std::string& name) {
  auto [it, inserted] =
      skill_ids_.try_emplace(name, static_cast<std::uint32_t>(skill_names_.size()));
  if (inserted) skill_names_.push_back(name);
  return it->second;
}

std::uint32_t engine::intern_profile(channel c, strategy s, std::vector<requirement> reqs) {
  auto key = std::make_tuple(c, s, reqs);
  auto it = profile_ids_.find(key);
  if (it != profile_ids_.end()) return it->second;
  const auto id = static_cast<std::uint32_t>(profiles_.size());
  profile p;
  p.chan = c;
  p.strat = s;
  p.reqs = std::move(reqs);
  if (p.reqs.empty()) {
    unconditional_profiles_.push_back(id);
  } else {
    profiles_by_anchor_[p.reqs.front().skill].push_back(id);
  }
  profiles_.push_back(std::move(p));
  heads_.emplace_back();
  profile_ids_.emplace(std::move(key), id);
  return id;
}

std::uint32_t engine::find_queue(std::string_view name) const {
  auto it = queue_ids_.find(name);
  return it == queue_ids_.end() ? npos : it->second;
}

std::uint32_t engine::profile_of(std::uint32_t q, int stage, channel c) const {
  return queues_[q].stage_profiles[static_cast<std::size_t>(stage)][index_of(c)];
}

void engine::build(timestamp now, std::vector<decision>& out, bool keep_state) {
  now_ = std::max(now_, now);
  flush_agents();  // no membership may point into the profiles about to go
  for (std::size_t h = 0; h < channel_count; ++h) {
    blocked_by_[h] = 0;
    for (std::size_t c = 0; c < channel_count; ++c) {
      if (config_.blocks[h][c]) blocked_by_[h] |= 1u << c;
    }
  }
  std::vector<queue_rec> old_queues = std::move(queues_);
  queues_.clear();
  queue_ids_.clear();
  profiles_.clear();
  heads_.clear();
  waiting_on_ = {};  // the waiting contacts are inserted again below
  profile_ids_.clear();
  profiles_by_anchor_.clear();
  unconditional_profiles_.clear();

  for (auto& qc : config_.queues) {
    std::stable_sort(
        qc.escalation.begin(), qc.escalation.end(),
        [](const escalation_step& a, const escalation_step& b) { return a.after < b.after; });
    queue_ids_.emplace(qc.name, static_cast<std::uint32_t>(queues_.size()));
    queue_rec q;
    q.cfg = qc;
    queues_.push_back(std::move(q));
  }
  default_queue_ = find_queue(config_.default_queue);

  for (std::uint32_t qi = 0; qi < queues_.size(); ++qi) {
    queue_rec& q = queues_[qi];
    for (channel c : all_channels) {
      q.serves[index_of(c)] =
          qi == default_queue_ || q.cfg.channels.empty() ||
          std::find(q.cfg.channels.begin(), q.cfg.channels.end(), c) != q.cfg.channels.end();
      q.handle_time[index_of(c)] =
          static_cast<double>(config_.channels[index_of(c)].default_handle_time);
    }
    std::map<std::uint32_t, int> reqs;
    for (const auto& r : q.cfg.required_skills) {
      int& m = reqs[intern_skill(r.skill)];
      m = std::max(m, r.min_proficiency);
    }
    auto flatten = [](const std::map<std::uint32_t, int>& m) {
      std::vector<requirement> v;
      for (auto [s, p] : m) v.push_back({s, p});
      return v;
    };
    q.stage_reqs.push_back(flatten(reqs));
    for (const auto& step : q.cfg.escalation) {
      if (step.kind == escalation_kind::relax_proficiency) {
        auto it = reqs.find(intern_skill(step.skill));
        if (it != reqs.end()) it->second = std::min(it->second, step.min_proficiency);
      } else if (step.kind == escalation_kind::drop_skill) {
        reqs.erase(intern_skill(step.skill));
      }
      q.stage_reqs.push_back(flatten(reqs));
      q.step_target.push_back(step.kind == escalation_kind::overflow ? find_queue(step.target_queue)
                                                                     : npos);
    }
    q.max_wait_target =
        q.cfg.on_max_wait == expiry_action::overflow ? find_queue(q.cfg.max_wait_target) : npos;
    for (const auto& sr : q.stage_reqs) {
      std::array<std::uint32_t, channel_count> ids;
      for (channel c : all_channels) {
        ids[index_of(c)] =
            q.serves[index_of(c)] ? intern_profile(c, q.cfg.agent_strategy, sr) : npos;
      }
      q.stage_profiles.push_back(ids);
    }
    for (const auto& old : old_queues) {
      if (old.cfg.name != q.cfg.name) continue;
      q.arrived = old.arrived;
      q.answered = old.answered;
      q.answered_within_sla = old.answered_within_sla;
      q.completed = old.completed;
      q.abandoned = old.abandoned;
      q.expired = old.expired;
      q.overflowed_in = old.overflowed_in;
      q.overflowed_out = old.overflowed_out;
      q.answer_wait_sum = old.answer_wait_sum;
      q.handle_time = old.handle_time;
    }
  }

  std::vector<std::array<bool, channel_count>> serves;
  for (const auto& r : config_.rules) {
    std::array<bool, channel_count> s{};
    const std::uint32_t q = find_queue(r.queue);
    for (channel c : all_channels) s[index_of(c)] = q != npos && queues_[q].serves[index_of(c)];
    serves.push_back(s);
  }
  classifier_.configure(config_.rules, std::move(serves));

  if (!keep_state) return;

  // Agents: memberships in the new profiles (the old profiles are gone).
  for (std::uint32_t a = 0; a < agents_.size(); ++a) {
    for (auto& ms : agents_[a].memberships) ms.clear();
    for (auto& ids : agents_[a].member_profiles) ids.clear();
    compute_memberships(a);
  }
  // Contacts: same queue by name (else the default queue), same stage if it still exists.
  for (std::uint32_t c = 0; c < contacts_.size(); ++c) {
    contact_rec& cr = contacts_[c];
    if (cr.id.empty()) continue;
    const std::string old_name = old_queues[cr.queue].cfg.name;
    std::uint32_t q = find_queue(old_name);
    bool moved = false;
    if (q == npos || !queues_[q].serves[index_of(cr.chan)]) {
      q = default_queue_;
      moved = true;
      cr.stage = 0;
      cr.queue_entered_at = now_;
      cr.max_wait_passed = false;
    }
    cr.queue = q;
    cr.stage = static_cast<std::int16_t>(
        std::min<int>(cr.stage, static_cast<int>(queues_[q].cfg.escalation.size())));
    cr.priority = queues_[q].cfg.base_priority + cr.base_extra + cr.raised;
    cr.profile = profile_of(q, cr.stage, cr.chan);
    count(cr, +1, false);
    if (cr.state == contact_state::waiting) {
      insert_waiting(c);
      mark_contact(c);
    }
    if (cr.state != contact_state::assigned) schedule_queue_timers(c);
    if (moved) {
      decision& d = emit(out, decision_kind::overflow, &cr, npos, reason_code::reconfigure);
      d.from_queue = old_name;
      queues_[q].overflowed_in++;
    }
  }
  // Agents: new capacity defaults (excess offers return), then re-index.
  for (std::uint32_t a = 0; a < agents_.size(); ++a) {
    apply_capacity(a, out);
    refresh_agent(a);
    mark_agent(a);
  }
}

void engine::compute_memberships(std::uint32_t a) {
  agent_rec& ar = agents_[a];
  ar.chan_staffed = {};  // the new memberships start unstaffed and unable
  ar.chan_take = {};
  std::vector<std::uint32_t> candidates = unconditional_profiles_;
  for (auto [skill, prof] : ar.skills) {
    auto it = profiles_by_anchor_.find(skill);
    if (it != profiles_by_anchor_.end()) {
      candidates.insert(candidates.end(), it->second.begin(), it->second.end());
    }
  }
  std::sort(candidates.begin(), candidates.end());
  for (std::uint32_t pid : candidates) {
    const profile& p = profiles_[pid];
    if (!satisfies(ar, p.reqs)) continue;
    membership m;
    m.profile = pid;
    m.strat = p.strat;
    if (p.strat == strategy::most_skilled) {
      std::int64_t score = 0;
      for (const auto& r : p.reqs) {
        auto it = std::lower_bound(ar.skills.begin(), ar.skills.end(), std::make_pair(r.skill, 0));
        score += it->second;
      }
      m.a = -score;  // constant: the key's first number
    }
    m.slot = profiles_[pid].available.acquire();
    ar.memberships[index_of(p.chan)].push_back(m);
    ar.member_profiles[index_of(p.chan)].push_back(pid);
  }
}

void engine::detach_agent(std::uint32_t a) {
  agent_rec& ar = agents_[a];
  for (auto& ms : ar.memberships) {
    for (auto& m : ms) {
      profile& p = profiles_[m.profile];
      p.available.release(m.slot);  // leaves the heap too
      p.staffed_slots -= m.staffed;
    }
    ms.clear();
  }
  for (auto& ids : ar.member_profiles) ids.clear();
}

// ---------------------------------------------------------------------------------------------
// Agents.

bool engine::satisfies(const agent_rec& a, const std::vector<requirement>& reqs) const {
  auto it = a.skills.begin();
  for (const auto& r : reqs) {
    while (it != a.skills.end() && it->first < r.skill) ++it;
    if (it == a.skills.end() || it->first != r.skill || it->second < r.min) return false;
  }
  return true;
}

std::uint32_t engine::blocked_channels(const agent_rec& a) const {
  std::uint32_t blocked = 0;
  for (std::size_t h = 0; h < channel_count; ++h) {
    if (a.load[h] > 0) blocked |= blocked_by_[h];
  }
  return blocked;
}

bool engine::can_take(const agent_rec& a, channel c, std::uint32_t blocked) const {
  const std::size_t ci = index_of(c);
  return a.state == presence::available && !a.in_wrap[ci] && a.load[ci] < a.capacity[ci] &&
         (blocked & (1u << ci)) == 0;
}

bool engine::can_take(const agent_rec& a, channel c) const {
  return can_take(a, c, blocked_channels(a));
}

engine::agent_key engine::key_for(const agent_rec& a, std::uint32_t agent,
                                  const membership& m) const {
  switch (m.strat) {
    case strategy::longest_idle:
      return {a.idle_since, 0, agent};
    case strategy::least_occupied: {
      std::int64_t load = 0, cap = 0;
      for (std::size_t i = 0; i < channel_count; ++i) {
        load += a.load[i];
        cap += a.capacity[i];
      }
      return {cap > 0 ? load * 1'000'000 / cap : 0, a.idle_since, agent};
    }
    case strategy::most_skilled:
      return {m.a, a.idle_since, agent};  // m.a = -skill score
    case strategy::round_robin:
      return {m.b, 0, agent};  // m.b = the round-robin stamp
  }
  return {0, 0, agent};
}

void engine::refresh_agent(std::uint32_t a) {
  agent_rec& ar = agents_[a];
  if (ar.heap_pending) return;
  ar.heap_pending = true;
  pending_agents_.push_back(a);
}

void engine::flush_agent(std::uint32_t a) {
  agent_rec& ar = agents_[a];
  ar.heap_pending = false;
  const std::uint32_t blocked = blocked_channels(ar);
  for (channel c : all_channels) {
    const std::size_t ci = index_of(c);
    const bool take = can_take(ar, c, blocked);
    const int staffed = ar.state == presence::available ? ar.capacity[ci] : 0;
    // Unable before and now, same staffing: none of this channel's memberships can change.
    if (!take && !ar.chan_take[ci] && staffed == ar.chan_staffed[ci]) continue;
    ar.chan_take[ci] = take;
    ar.chan_staffed[ci] = staffed;
    // The profiles are ~10-25 scattered records: start loading all of them before the walk.
    for (const auto& m : ar.memberships[ci]) {
      prefetch_lines(&profiles_[m.profile].available, sizeof(slot_order<agent_key>));
    }
    for (auto& m : ar.memberships[ci]) {
      if (m.staffed != staffed) {
        profiles_[m.profile].staffed_slots += staffed - m.staffed;
        m.staffed = staffed;
      }
      auto& order = profiles_[m.profile].available;
      if (take) {
        const agent_key key = key_for(ar, a, m);
        const bool same = key == m.key(a);
        if (m.in_available && same) continue;
        // A round-robin agent back with its stamp unchanged (a profile it was not offered
        // from) revives its erased entry instead of storing a copy; any other change re-keys.
        if (m.in_available || !m.revivable || !same || !order.revive(m.slot)) {
          order.set(m.slot, key);
        }
        m.store(key);
        m.in_available = true;
        // Only round-robin keys come back unchanged; other keys carry "idle since".
        m.revivable = m.strat == strategy::round_robin;
      } else if (m.in_available) {
        order.erase(m.slot);
        m.in_available = false;
      }
    }
  }
}

void engine::flush_agents() {
  // Index loop: flush_agent() does not add agents, but keep it robust to reallocation.
  for (std::size_t i = 0; i < pending_agents_.size(); ++i) flush_agent(pending_agents_[i]);
  pending_agents_.clear();
}

void engine::sync_head(std::uint32_t profile_id) {
  const auto& heap = profiles_[profile_id].waiting;
  waiting_head& h = heads_[profile_id];
  h.count = static_cast<std::uint32_t>(heap.size());
  if (heap.empty()) return;
  if (h.key.contact() != heap.top().key.contact()) {
    // A new head: the next agent to take from this profile reads its record, which has not
    // been touched since it arrived (minutes of traffic ago). Load it now; it is usually
    // still in the last-level cache when taken.
    prefetch_contact(heap.top().key.contact());
  }
  h.key = heap.top().key;
}

void engine::account_time(agent_rec& a) {
  if (now_ > a.accounted_at) {
    const duration dt = now_ - a.accounted_at;
    if (a.state != presence::offline) a.logged_in_ms += dt;
    if (!a.contacts.empty()) a.busy_ms += dt;
  }
  a.accounted_at = now_;
}

void engine::mark_agent(std::uint32_t a) {
  if (agents_[a].dirty) return;
  agents_[a].dirty = true;
  dirty_agents_.push_back(a);
}

const engine::membership* engine::find_membership(const agent_rec& a,
                                                  std::uint32_t profile_id) const {
  const std::size_t ci = index_of(profiles_[profile_id].chan);
  // The search reads the packed profile ids (one or two lines), then one membership.
  const auto& ids = a.member_profiles[ci];
  auto it = std::lower_bound(ids.begin(), ids.end(), profile_id);
  if (it == ids.end() || *it != profile_id) return nullptr;
  return &a.memberships[ci][static_cast<std::size_t>(it - ids.begin())];
}

engine::membership* engine::find_membership(agent_rec& a, std::uint32_t profile_id) {
  return const_cast<membership*>(std::as_const(*this).find_membership(a, profile_id));
}

void engine::set_presence(std::uint32_t a, presence p, reason_code why,
                          std::vector<decision>& out) {
  agent_rec& ar = agents_[a];
  if (ar.state != p) {
    account_time(ar);
    ar.state = p;
    if (p == presence::available) {
      ar.idle_since = now_;
      ar.misses = 0;
    }
    if (why == reason_code::not_responding) {
      decision& d = emit(out, decision_kind::agent_state, nullptr, a, why);
      d.agent_presence = p;
    }
    if (p != presence::available) {
      return_offers(a, p == presence::offline && config_.requeue_assigned_on_logout, why, out);
    }
  }
  refresh_agent(a);
  mark_agent(a);
}

void engine::return_offers(std::uint32_t a, bool include_assigned, reason_code why,
                           std::vector<decision>& out) {
  const std::vector<std::uint32_t> held = agents_[a].contacts;
  for (std::uint32_t c : held) {
    contact_rec& cr = contacts_[c];
    if (cr.state == contact_state::offered) {
      emit(out, decision_kind::revoke, &cr, a, why);
    } else if (!include_assigned) {
      continue;
    } else {
      // Accepted work re-enters the queue now: its queue timers restart from here.
      cr.queue_entered_at = now_;
      cr.max_wait_passed = false;
    }
    release_from_agent(c);
    requeue(c, why, out);
  }
}

void engine::apply_capacity(std::uint32_t a, std::vector<decision>& out) {
  agent_rec& ar = agents_[a];
  for (channel c : all_channels) {
    const std::size_t ci = index_of(c);
    ar.capacity[ci] =
        ar.cap_override[ci] >= 0 ? ar.cap_override[ci] : config_.channels[ci].default_capacity;
    // Offers beyond the new capacity go back, newest first; accepted work stays.
    for (auto it = ar.contacts.rbegin();
         ar.load[ci] > ar.capacity[ci] && ar.offered[ci] > 0 && it != ar.contacts.rend();) {
      const std::uint32_t cid = *it;
      contact_rec& cr = contacts_[cid];
      if (cr.chan != c || cr.state != contact_state::offered) {
        ++it;
        continue;
      }
      emit(out, decision_kind::revoke, &cr, a, reason_code::capacity_reduced);
      release_from_agent(cid);
      requeue(cid, reason_code::capacity_reduced, out);
      it = ar.contacts.rbegin();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Contacts.

timestamp engine::sla_deadline(const contact_rec& c) const {
  return c.arrived_at + queues_[c.queue].cfg.sla_threshold;
}

engine::contact_key engine::key_of(std::uint32_t c) const {
  const contact_rec& cr = contacts_[c];
  // Contact indexes stay below 2^31 (excluded_bit): 2^31 records would not fit in memory.
  return {sla_deadline(cr), cr.seq, cr.priority,
          c | (cr.has_excluded() ? contact_key::excluded_bit : 0u)};
}

const engine::contact_key* engine::best_waiting(std::uint32_t profile_id, std::uint32_t a) const {
  const auto* e = profiles_[profile_id].waiting.min_where([&](const auto& x) {
    return !x.key.has_excluded() || !excluded(contacts_[x.key.contact()], a);
  });
  return e == nullptr ? nullptr : &e->key;
}

void engine::insert_waiting(std::uint32_t c) {
  contact_rec& cr = contacts_[c];
  profile& p = profiles_[cr.profile];
  cr.in_waiting = true;
  waiting_on_[index_of(cr.chan)]++;
  const contact_key key = key_of(c);
  cr.waiting_slot = p.waiting.insert(key);
  waiting_head& h = heads_[cr.profile];
  if (h.count > 0 && h.key < key) {
    h.count++;  // behind the head (the usual arrival): the head stays
  } else {
    sync_head(cr.profile);
  }
  if (p.ranks) p.ranks->insert(key);
  queue_rec& q = queues_[cr.queue];
  cr.age_slot = q.by_age.acquire();
  q.by_age.set(cr.age_slot, {cr.arrived_at, cr.seq, c});
}

std::optional<timestamp> engine::oldest_waiting(std::uint32_t q) const {
  const auto& order = queues_[q].by_age;
  if (order.empty()) return std::nullopt;
  return order.top().key.arrived;
}

void engine::erase_waiting(std::uint32_t c) {
  contact_rec& cr = contacts_[c];
  if (!cr.in_waiting) return;
  cr.in_waiting = false;
  waiting_on_[index_of(cr.chan)]--;
  queues_[cr.queue].by_age.release(cr.age_slot);
  cr.age_slot = npos;
  profile& p = profiles_[cr.profile];
  p.waiting.release(cr.priority, cr.waiting_slot);  // priority as inserted (see key_of)
  cr.waiting_slot = npos;
  sync_head(cr.profile);
  if (p.ranks) p.ranks->erase(key_of(c));
}

void engine::count(const contact_rec& c, int delta, bool totals) {
  queue_rec& q = queues_[c.queue];
  const auto d = static_cast<std::int64_t>(delta);
  switch (c.state) {
    case contact_state::waiting:
      q.waiting += d;
      if (totals) totals_.waiting += d;
      break;
    case contact_state::offered:
      q.offered += d;
      if (totals) totals_.offered += d;
      break;
    case contact_state::assigned:
      q.assigned += d;
      if (totals) totals_.assigned += d;
      break;
    default:
      break;
  }
}

void engine::mark_contact(std::uint32_t c) {
  if (contacts_[c].dirty) return;
  contacts_[c].dirty = true;
  dirty_contacts_.push_back(c);
}

bool engine::excluded(const contact_rec& c, std::uint32_t a) const {
  if (!c.has_excluded()) return false;
  const auto& ex = c.more->excluded;
  return std::find(ex.begin(), ex.end(), a) != ex.end();
}

void engine::release_from_agent(std::uint32_t c) {
  contact_rec& cr = contacts_[c];
  agent_rec& ar = agents_[cr.agent];
  account_time(ar);
  const std::size_t ci = index_of(cr.chan);
  ar.load[ci]--;
  if (cr.state == contact_state::offered) ar.offered[ci]--;
  ar.contacts.erase(std::find(ar.contacts.begin(), ar.contacts.end(), c));
  const std::uint32_t a = cr.agent;
  cr.agent = npos;
  cancel_timer(cr.offer_timer);
  refresh_agent(a);
  mark_agent(a);
}

void engine::finish(std::uint32_t c, contact_state terminal) {
  contact_rec& cr = contacts_[c];
  count(cr, -1, true);
  switch (terminal) {
    case contact_state::completed:
      totals_.completed++;
      break;
    case contact_state::abandoned:
      totals_.abandoned++;
      break;
    default:
      totals_.expired++;
      break;
  }
  cancel_timer(cr.offer_timer);
  cancel_queue_timers(cr);
  remember_finished(c);
  cr = contact_rec{};
  cr.state = terminal;
  free_contacts_.push_back(c);
}

// ---------------------------------------------------------------------------------------------
// Ids.

std::uint32_t engine::find_agent(std::string_view id) const {
  return find_agent(id, id_table::hash(id));
}

std::uint32_t engine::find_agent(std::string_view id, std::uint64_t h) const {
  return agent_ids_.find(id, h, [&](std::uint32_t a) { return std::string_view(agents_[a].id); });
}

void engine::prefetch_contact(std::uint32_t value) const {
  if (value == npos || (value & finished_bit) != 0 || value >= contacts_.size()) return;
  prefetch_lines(&contacts_[value], sizeof(contact_rec));
}

void engine::prefetch_agent(std::uint32_t value) const {
  if (value == npos || value >= agents_.size()) return;
  // The decision-path fields come first in agent_rec: the first four lines hold them, up to
  // the header of the chat channel's packed profile ids.
  prefetch_lines(&agents_[value], std::min<std::size_t>(sizeof(agent_rec), 256));
}

void engine::prefetch_memberships(const agent_rec& a, std::size_t ci) const {
  const auto& ms = a.memberships[ci];
  prefetch_lines(ms.data(), ms.size() * sizeof(membership));
}

std::string_view engine::known_contact_id(std::uint32_t value) const {
  if ((value & finished_bit) != 0) return recent_ids_[value & ~finished_bit];
  return contacts_[value].id;
}

std::uint32_t engine::find_contact(std::string_view id) const {
  return find_contact(id, id_table::hash(id));
}

std::uint32_t engine::find_contact(std::string_view id, std::uint64_t h) const {
  const std::uint32_t v =
      contact_ids_.find(id, h, [&](std::uint32_t x) { return known_contact_id(x); });
  return v == npos || (v & finished_bit) != 0 ? npos : v;
}

void engine::forget_oldest_finished() {
  const std::size_t slot = recent_head_;
  const std::uint32_t pos =
      contact_ids_.position(recent_ids_[slot], recent_hashes_[slot],
                            [&](std::uint32_t x) { return known_contact_id(x); });
  contact_ids_.erase_at(pos);
  if (++recent_head_ == recent_ids_.size()) recent_head_ = 0;
  recent_count_--;
}

// The finished contact's id stays in contact_ids_ (now pointing into the recent ring) for the
// next dedupe_window finishes, so a re-delivered contact is recognised as a duplicate.
void engine::remember_finished(std::uint32_t c) {
  contact_rec& cr = contacts_[c];
  const std::size_t window = config_.dedupe_window;
  while (recent_count_ > 0 && recent_count_ >= window) forget_oldest_finished();
  auto id_of = [&](std::uint32_t x) { return known_contact_id(x); };
  const std::uint64_t h = id_table::hash(cr.id);
  const std::uint32_t pos = contact_ids_.position(cr.id, h, id_of);
  if (window == 0) {
    contact_ids_.erase_at(pos);
    return;
  }
  if (recent_count_ == recent_ids_.size()) {
    // Grow the ring (up to the window), oldest first, and repoint the table entries.
    const std::size_t size = std::min(window, std::max<std::size_t>(64, 2 * recent_ids_.size()));
    std::vector<std::uint32_t> positions;
    for (std::size_t i = 0; i < recent_count_; ++i) {
      const std::size_t old = (recent_head_ + i) % recent_ids_.size();
      positions.push_back(contact_ids_.position(recent_ids_[old], recent_hashes_[old], id_of));
    }
    std::vector<std::string> ids(size);
    std::vector<std::uint64_t> hashes(size);
    for (std::size_t i = 0; i < recent_count_; ++i) {
      const std::size_t old = (recent_head_ + i) % recent_ids_.size();
      ids[i] = std::move(recent_ids_[old]);
      hashes[i] = recent_hashes_[old];
      contact_ids_.set_value_at(positions[i], finished_bit | static_cast<std::uint32_t>(i));
    }
    recent_ids_ = std::move(ids);
    recent_hashes_ = std::move(hashes);
    recent_head_ = 0;
  }
  // recent_head_ and recent_count_ are below the ring's size: a subtraction instead of a
  // division (a 64-bit div is tens of cycles, on every completion).
  std::size_t slot = recent_head_ + recent_count_;
  if (slot >= recent_ids_.size()) slot -= recent_ids_.size();
  recent_ids_[slot].swap(cr.id);  // the record is reset right after
  recent_hashes_[slot] = h;
  contact_ids_.set_value_at(pos, finished_bit | static_cast<std::uint32_t>(slot));
  recent_count_++;
}

void engine::schedule_queue_timers(std::uint32_t c) {
  contact_rec& cr = contacts_[c];
  cancel_queue_timers(cr);
  const queue_rec& q = queues_[cr.queue];
  const auto stage = static_cast<std::size_t>(cr.stage);
  if (stage < q.cfg.escalation.size()) {
    cr.escalation_timer = add_timer(cr.queue_entered_at + q.cfg.escalation[stage].after,
                                    timer_kind::escalation, c, 0);
  }
  if (q.cfg.max_wait && !cr.max_wait_passed) {
    cr.max_wait_timer =
        add_timer(cr.queue_entered_at + *q.cfg.max_wait, timer_kind::max_wait, c, 0);
  }
}

void engine::cancel_queue_timers(contact_rec& c) {
  cancel_timer(c.escalation_timer);
  cancel_timer(c.max_wait_timer);
}

void engine::move_to_queue(std::uint32_t c, std::uint32_t q, reason_code why, int step,
                           std::vector<decision>& out) {
  contact_rec& cr = contacts_[c];
  const bool waiting = cr.state == contact_state::waiting;
  if (waiting) erase_waiting(c);
  count(cr, -1, false);
  queue_rec& from = queues_[cr.queue];
  from.overflowed_out++;
  if (!queues_[q].serves[index_of(cr.chan)]) q = default_queue_;
  const std::string from_name = from.cfg.name;
  cr.queue = q;
  cr.stage = 0;
  cr.queue_entered_at = now_;
  cr.max_wait_passed = false;
  cr.priority = queues_[q].cfg.base_priority + cr.base_extra + cr.raised;
  cr.profile = profile_of(q, 0, cr.chan);
  count(cr, +1, false);
  queues_[q].overflowed_in++;
  decision& d = emit(out, decision_kind::overflow, &cr, npos, why);
  d.from_queue = from_name;
  d.reason.step = step;
  if (waiting) {
    insert_waiting(c);
    mark_contact(c);
  }
  schedule_queue_timers(c);
}

void engine::requeue(std::uint32_t c, reason_code why, std::vector<decision>& out) {
  contact_rec& cr = contacts_[c];
  count(cr, -1, true);
  cr.state = contact_state::waiting;
  cr.affinity_offer = false;
  count(cr, +1, true);
  insert_waiting(c);
  emit(out, decision_kind::requeue, &cr, npos, why);
  mark_contact(c);
  if (!cr.escalation_timer && !cr.max_wait_timer) schedule_queue_timers(c);
  if (cr.max_wait_passed) apply_max_wait(c, out);
}

void engine::apply_max_wait(std::uint32_t c, std::vector<decision>& out) {
  contact_rec& cr = contacts_[c];
  queue_rec& q = queues_[cr.queue];
  if (q.cfg.on_max_wait == expiry_action::overflow && q.max_wait_target != npos) {
    move_to_queue(c, q.max_wait_target, reason_code::max_wait, -1, out);
    return;
  }
  erase_waiting(c);
  emit(out, decision_kind::expire, &cr, npos, reason_code::max_wait);
  q.expired++;
  finish(c, contact_state::expired);
}

void engine::offer(std::uint32_t c, std::uint32_t a, reason_code why, std::uint32_t candidates,
                   bool affinity, std::vector<decision>& out) {
  contact_rec& cr = contacts_[c];
  agent_rec& ar = agents_[a];
  const std::size_t ci = index_of(cr.chan);
  // The longest-idle agent is by construction the one touched longest ago: start loading its
  // record and memberships while the contact's side is updated.
  prefetch_agent(a);
  prefetch_memberships(ar, ci);
  erase_waiting(c);
  count(cr, -1, true);
  cr.state = contact_state::offered;
  cr.agent = a;
  cr.affinity_offer = affinity;
  count(cr, +1, true);
  account_time(ar);
  ar.load[ci]++;
  ar.offered[ci]++;
  ar.contacts.push_back(c);
  ar.offers++;
  ar.idle_since = now_;
  profile& p = profiles_[cr.profile];
  if (p.strat == strategy::round_robin) {
    if (membership* m = find_membership(ar, cr.profile))
      m->b = static_cast<std::int64_t>(++p.rr_clock);
  }
  const channel_config& cc = config_.channels[ci];
  if (cc.auto_accept) {
    assign(c, reason_code::auto_accept, out);
    decision& d = out.back();
    d.reason.candidates = candidates;
    d.reason.affinity = affinity;
  } else {
    decision& d = emit(out, decision_kind::offer, &cr, a, why);
    d.reason.candidates = candidates;
    d.reason.affinity = affinity;
    const duration timeout =
        affinity ? std::min(cc.accept_timeout, config_.affinity.timebox) : cc.accept_timeout;
    cr.offer_timer = add_timer(now_ + timeout, timer_kind::offer_timeout, c, 0);
  }
  refresh_agent(a);
}

void engine::assign(std::uint32_t c, reason_code why, std::vector<decision>& out) {
  contact_rec& cr = contacts_[c];
  agent_rec& ar = agents_[cr.agent];
  queue_rec& q = queues_[cr.queue];
  count(cr, -1, true);
  cr.state = contact_state::assigned;
  count(cr, +1, true);
  ar.offered[index_of(cr.chan)]--;
  ar.misses = 0;
  cancel_timer(cr.offer_timer);
  cancel_queue_timers(cr);
  cr.max_wait_passed = false;
  cr.assigned_at = now_;
  const duration wait = now_ - cr.arrived_at;
  q.answered++;
  q.answer_wait_sum += wait;
  if (wait <= q.cfg.sla_threshold) q.answered_within_sla++;
  decision& d = emit(out, decision_kind::assign, &cr, cr.agent, why);
  d.reason.affinity = cr.affinity_offer;
}

void engine::miss_or_reject(std::uint32_t c, bool timeout, std::vector<decision>& out) {
  contact_rec& cr = contacts_[c];
  const std::uint32_t a = cr.agent;
  agent_rec& ar = agents_[a];
  if (timeout) {
    ar.missed++;
    ar.misses++;
    emit(out, decision_kind::revoke, &cr, a, reason_code::offer_timeout);
  } else {
    ar.rejected++;
  }
  cr.extra().excluded.push_back(a);
  release_from_agent(c);
  requeue(c, timeout ? reason_code::offer_timeout : reason_code::rejected, out);
  if (timeout && ar.misses >= config_.max_consecutive_misses && ar.state == presence::available) {
    set_presence(a, presence::not_responding, reason_code::not_responding, out);
  }
}

std::optional<std::uint32_t> engine::affinity_agent(const contact_rec& c) const {
  if (!config_.affinity.enabled || !queues_[c.queue].cfg.affinity) return std::nullopt;
  std::optional<std::uint32_t> agent;
  timestamp at = 0;
  const history_hint* hint = c.more && c.more->hint ? &*c.more->hint : nullptr;
  if (c.more && !c.more->customer_id.empty()) {
    auto it = affinity_.find(c.more->customer_id);
    if (it != affinity_.end()) {
      agent = it->second.agent;
      at = it->second.at;
    }
  }
  if (hint != nullptr && (!agent || hint->at > at)) {
    const std::uint32_t hinted = find_agent(hint->agent);
    if (hinted != npos) {
      agent = hinted;
      at = hint->at;
    }
  }
  if (!agent || now_ - at > config_.affinity.window || excluded(c, *agent)) return std::nullopt;
  const membership* m = find_membership(agents_[*agent], c.profile);
  if (m == nullptr || !m->in_available) return std::nullopt;
  return agent;
}

// ---------------------------------------------------------------------------------------------
// Matching.

void engine::match(std::vector<decision>& out) {
  // A member, not a local: its buffer and the dirty lists' swap back and forth and keep their
  // capacity, so a match allocates nothing.
  std::vector<std::uint32_t>& batch = match_batch_;
  while (!dirty_contacts_.empty() || !dirty_agents_.empty()) {
    batch.swap(dirty_contacts_);
    for (std::uint32_t c : batch) {
      contacts_[c].dirty = false;
      match_contact(c, out);
    }
    batch.clear();
    batch.swap(dirty_agents_);
    for (std::uint32_t a : batch) {
      agents_[a].dirty = false;
      match_agent(a, out);
    }
    batch.clear();
  }
  flush_agents();  // between calls the heaps are exact (status queries read them)
}

void engine::match_contact(std::uint32_t c, std::vector<decision>& out) {
  contact_rec& cr = contacts_[c];
  if (cr.id.empty() || cr.state != contact_state::waiting) return;
  flush_agents();  // the agent heaps reflect every agent's current state
  const std::uint32_t pid = cr.profile;
  profile& p = profiles_[pid];
  const auto candidates = static_cast<std::uint32_t>(p.available.size());
  if (!cr.affinity_checked) {
    cr.affinity_checked = true;
    if (auto a = affinity_agent(cr)) {
      offer(c, *a, reason_code::affinity, candidates, true, out);
      return;
    }
  }
  if (candidates == 0) return;
  const auto* best =
      p.available.min_where([&](const auto& e) { return !excluded(cr, e.key.agent); });
  if (best != nullptr) offer(c, best->key.agent, reason_code::new_contact, candidates, false, out);
}

void engine::match_agent(std::uint32_t a, std::vector<decision>& out) {
  agent_rec& ar = agents_[a];
  while (ar.state == presence::available) {
    std::uint32_t best = npos;
    contact_key best_key;
    std::uint32_t candidates = 0;
    const std::uint32_t blocked = blocked_channels(ar);
    for (channel ch : all_channels) {
      // Nothing waits on the channel (idle agents, no queue: common): no profile to look at.
      if (waiting_on_[index_of(ch)] == 0 || !can_take(ar, ch, blocked)) continue;
      for (const std::uint32_t pid : ar.member_profiles[index_of(ch)]) {
        const waiting_head& h = heads_[pid];
        if (h.count == 0) continue;
        candidates += h.count;
        // The head is the best for every agent unless it excludes some (then look deeper).
        const contact_key* k = !h.key.has_excluded() ? &h.key : best_waiting(pid, a);
        if (k == nullptr) continue;
        if (best == npos || *k < best_key) {
          best = k->contact();
          best_key = *k;
        }
      }
    }
    if (best == npos) return;
    contacts_[best].affinity_checked = true;
    offer(best, a, reason_code::agent_free, candidates, false, out);
  }
}

// ---------------------------------------------------------------------------------------------
// Timers.

engine::timer_handle engine::add_timer(timestamp due, timer_kind kind, std::uint32_t target,
                                       std::uint8_t chan) {
  timer_order& t = timers_[static_cast<std::size_t>(kind)];
  const std::uint32_t slot = t.order.acquire();
  if (slot >= timer_handle::max_slots) throw std::length_error("routing engine: too many timers");
  if (slot >= t.owners.size()) t.owners.resize(slot + 1);
  t.owners[slot] = {target, chan};
  t.order.set(slot, timer_key{due, ++timer_seq_, kind});
  earliest_due_ = std::min(earliest_due_, due);
  return timer_handle(kind, slot);
}

void engine::cancel_timer(timer_handle& t) {
  if (!t) return;
  timers_[static_cast<std::size_t>(t.kind())].order.release(t.slot());
  t.reset();
}

std::optional<engine::timer_kind> engine::next_timer_kind() const {
  std::optional<timer_kind> best;
  const timer_key* best_key = nullptr;
  for (std::size_t k = 0; k < timer_kind_count; ++k) {
    const auto& order = timers_[k].order;
    if (order.empty()) continue;
    const timer_key& key = order.top().key;
    if (best_key == nullptr || key < *best_key) {
      best_key = &key;
      best = static_cast<timer_kind>(k);
    }
  }
  return best;
}

std::optional<timestamp> engine::next_deadline() const {
  const auto kind = next_timer_kind();
  if (!kind) return std::nullopt;
  return timers_[static_cast<std::size_t>(*kind)].order.top().key.due;
}

void engine::advance(timestamp now, std::vector<decision>& out) {
  now_ = std::max(now_, now);
  // Most inputs come with nothing due: earliest_due_ bounds every pending timer from below
  // (set on add, never raised by a cancel), so one comparison decides.
  if (now_ < earliest_due_) return;
  for (auto kind = next_timer_kind(); kind; kind = next_timer_kind()) {
    timer_order& t = timers_[static_cast<std::size_t>(*kind)];
    const auto& top = t.order.top();
    if (top.key.due > now_) break;
    const timer_entry due{top.key, t.owners[top.slot].target, t.owners[top.slot].chan};
    t.order.release(top.slot);  // fire() resets the owner's handle
    fire(due, out);
    match(out);
  }
  // A new bound: the orders' stored fronts (stale or not) bound their members from below.
  earliest_due_ = std::numeric_limits<timestamp>::max();
  for (const timer_order& t : timers_) {
    if (const timer_key* k = t.order.lower_bound_key())
      earliest_due_ = std::min(earliest_due_, k->due);
  }
}

void engine::tick(timestamp now, std::vector<decision>& out) {
  advance(now, out);
  match(out);
}

void engine::fire(const timer_entry& t, std::vector<decision>& out) {
  switch (t.key.kind) {
    case timer_kind::wrap_up_end: {
      agent_rec& ar = agents_[t.target];
      ar.wrap_timer[t.chan].reset();
      ar.in_wrap[t.chan] = false;
      refresh_agent(t.target);
      mark_agent(t.target);
      return;
    }
    case timer_kind::offer_timeout: {
      contact_rec& cr = contacts_[t.target];
      cr.offer_timer.reset();
      miss_or_reject(t.target, true, out);
      return;
    }
    case timer_kind::max_wait: {
      contact_rec& cr = contacts_[t.target];
      cr.max_wait_timer.reset();
      cr.max_wait_passed = true;
      if (cr.state == contact_state::waiting) apply_max_wait(t.target, out);
      return;
    }
    case timer_kind::escalation: {
      const std::uint32_t c = t.target;
      contact_rec& cr = contacts_[c];
      cr.escalation_timer.reset();
      queue_rec& q = queues_[cr.queue];
      const int step = cr.stage;
      const escalation_step& s = q.cfg.escalation[static_cast<std::size_t>(step)];
      if (s.kind == escalation_kind::overflow) {
        move_to_queue(c, q.step_target[static_cast<std::size_t>(step)],
                      reason_code::escalation_step, step, out);
        return;
      }
      const bool waiting = cr.state == contact_state::waiting;
      if (waiting) erase_waiting(c);
      cr.stage++;
      if (s.kind == escalation_kind::raise_priority) {
        cr.raised += s.priority_delta;
        cr.priority = q.cfg.base_priority + cr.base_extra + cr.raised;
      }
      cr.profile = profile_of(cr.queue, cr.stage, cr.chan);
      if (waiting) {
        insert_waiting(c);
        mark_contact(c);
      }
      decision& d = emit(out, decision_kind::escalate, &cr, npos, reason_code::escalation_step);
      d.reason.step = step;
      const auto next = static_cast<std::size_t>(cr.stage);
      if (next < q.cfg.escalation.size()) {
        cr.escalation_timer = add_timer(cr.queue_entered_at + q.cfg.escalation[next].after,
                                        timer_kind::escalation, c, 0);
      }
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs.

input_result engine::handle(const input_event& event, timestamp now, std::vector<decision>& out) {
  advance(now, out);
  const input_result r = std::visit([&](const auto& e) { return on(e, out); }, event);
  match(out);
  return r;
}

input_result engine::on(const agent_login& e, std::vector<decision>& out) {
  if (e.agent.empty() || e.initial == presence::offline) return input_result::invalid;
  for (const auto& s : e.skills) {
    if (s.skill.empty() || s.proficiency < 1 || s.proficiency > 10) return input_result::invalid;
  }
  for (const auto& [c, n] : e.capacity) {
    if (n < 0) return input_result::invalid;
  }
  std::uint32_t a = find_agent(e.agent);
  if (a == npos) {
    a = static_cast<std::uint32_t>(agents_.size());
    agent_ids_.insert(id_table::hash(e.agent), a);
    agents_.emplace_back();
    agents_[a].id = e.agent;
    agents_[a].accounted_at = now_;
    agents_[a].idle_since = now_;
    totals_.agents_known++;
  }
  agent_rec& ar = agents_[a];
  if (ar.state == presence::offline) totals_.agents_logged_in++;
  detach_agent(a);
  ar.skills.clear();
  for (const auto& s : e.skills) {
    const std::uint32_t id = intern_skill(s.skill);
    auto pos = std::lower_bound(ar.skills.begin(), ar.skills.end(), std::make_pair(id, 0));
    if (pos != ar.skills.end() && pos->first == id) {
      pos->second = std::max(pos->second, s.proficiency);
    } else {
      ar.skills.insert(pos, {id, s.proficiency});
    }
  }
  ar.cap_override.fill(-1);
  for (const auto& [c, n] : e.capacity) ar.cap_override[index_of(c)] = n;
  compute_memberships(a);
  apply_capacity(a, out);
  set_presence(a, e.initial, reason_code::presence_change, out);
  return input_result::ok;
}

input_result engine::on(const agent_logout& e, std::vector<decision>& out) {
  const std::uint32_t found = find_agent(e.agent);
  if (found == npos) return input_result::unknown_agent;
  if (agents_[found].state != presence::offline) totals_.agents_logged_in--;
  set_presence(found, presence::offline, reason_code::logout, out);
  return input_result::ok;
}

input_result engine::on(const presence_change& e, std::vector<decision>& out) {
  if (e.to == presence::offline) return on(agent_logout{e.agent}, out);
  const std::uint32_t found = find_agent(e.agent);
  if (found == npos) return input_result::unknown_agent;
  if (agents_[found].state == presence::offline) totals_.agents_logged_in++;
  set_presence(found, e.to, reason_code::presence_change, out);
  return input_result::ok;
}

input_result engine::on(const agent_update& e, std::vector<decision>& out) {
  const std::uint32_t found = find_agent(e.agent);
  if (found == npos) return input_result::unknown_agent;
  if (e.skills) {
    for (const auto& s : *e.skills) {
      if (s.skill.empty() || s.proficiency < 1 || s.proficiency > 10) {
        return input_result::invalid;
      }
    }
  }
  for (const auto& [c, n] : e.capacity) {
    if (n < 0) return input_result::invalid;
  }
  const std::uint32_t a = found;
  agent_rec& ar = agents_[a];
  if (e.skills) {
    detach_agent(a);
    ar.skills.clear();
    for (const auto& s : *e.skills) {
      const std::uint32_t id = intern_skill(s.skill);
      auto pos = std::lower_bound(ar.skills.begin(), ar.skills.end(), std::make_pair(id, 0));
      if (pos != ar.skills.end() && pos->first == id) {
        pos->second = std::max(pos->second, s.proficiency);
      } else {
        ar.skills.insert(pos, {id, s.proficiency});
      }
    }
    compute_memberships(a);
  }
  for (const auto& [c, n] : e.capacity) ar.cap_override[index_of(c)] = n;
  apply_capacity(a, out);
  refresh_agent(a);
  mark_agent(a);
  return input_result::ok;
}

input_result engine::on(const contact_arrived& e, std::vector<decision>&) {
  const contact& in = e.item;
  if (in.id.empty()) return input_result::invalid;
  const std::uint64_t id_hash = id_table::hash(in.id);
  // The id's table slot is anywhere in the table: start loading it, and resolve an upstream
  // queue (cheap, cache-resident) while it comes.
  contact_ids_.prefetch(id_hash);
  std::uint32_t q = npos;
  int rule = -1;
  int extra = 0;
  if (e.queue) {
    q = find_queue(*e.queue);
    rule = -2;
    extra = e.priority.value_or(0);
    if (q == npos || !queues_[q].serves[index_of(in.chan)]) {
      q = npos;
      rule = -1;
    }
  }
  if (contact_ids_.position(in.id, id_hash, [&](std::uint32_t x) { return known_contact_id(x); }) !=
      npos) {
    return input_result::duplicate_contact;  // active, or finished within the dedupe window
  }
  if (q == npos && rule != -2) {
    rule = e.queue ? -1 : classifier_.classify(in);
    if (rule >= 0) {
      q = find_queue(config_.rules[static_cast<std::size_t>(rule)].queue);
      extra = config_.rules[static_cast<std::size_t>(rule)].priority;
    }
  }
  if (q == npos) q = default_queue_;
  extra += in.priority_boost;
  if (!in.customer_tier.empty()) {
    auto t = config_.tier_priority.find(in.customer_tier);
    if (t != config_.tier_priority.end()) extra += t->second;
  }
  std::uint32_t c;
  if (!free_contacts_.empty()) {
    c = free_contacts_.back();
    free_contacts_.pop_back();
  } else {
    c = static_cast<std::uint32_t>(contacts_.size());
    contacts_.emplace_back();
  }
  contact_rec& cr = contacts_[c];
  cr = contact_rec{};
  cr.id = in.id;
  if (!in.customer_id.empty() || e.last_agent) {
    contact_more& more = cr.extra();
    more.customer_id = in.customer_id;
    more.hint = e.last_agent;
  }
  cr.chan = in.chan;
  cr.state = contact_state::waiting;
  cr.queue = q;
  cr.rule = static_cast<std::int16_t>(rule);
  cr.base_extra = extra;
  cr.priority = queues_[q].cfg.base_priority + extra;
  cr.seq = ++seq_;
  cr.arrived_at = now_;
  cr.queue_entered_at = now_;
  cr.profile = profile_of(q, 0, in.chan);
  contact_ids_.insert(id_hash, c);
  queues_[q].arrived++;
  totals_.arrived++;
  count(cr, +1, true);
  insert_waiting(c);
  mark_contact(c);
  schedule_queue_timers(c);
  return input_result::ok;
}

input_result engine::on(const offer_accepted& e, std::vector<decision>& out) {
  const std::uint32_t c = find_contact(e.contact);
  if (c == npos) return input_result::unknown_contact;
  const std::uint32_t a = find_agent(e.agent);
  if (a == npos) return input_result::unknown_agent;
  if (contacts_[c].state != contact_state::offered || contacts_[c].agent != a) {
    return input_result::not_offered_to_agent;
  }
  assign(c, reason_code::accepted, out);
  return input_result::ok;
}

input_result engine::on(const offer_rejected& e, std::vector<decision>& out) {
  const std::uint32_t c = find_contact(e.contact);
  if (c == npos) return input_result::unknown_contact;
  const std::uint32_t a = find_agent(e.agent);
  if (a == npos) return input_result::unknown_agent;
  if (contacts_[c].state != contact_state::offered || contacts_[c].agent != a) {
    return input_result::not_offered_to_agent;
  }
  miss_or_reject(c, false, out);
  return input_result::ok;
}

input_result engine::on(const offer_timed_out& e, std::vector<decision>& out) {
  const std::uint32_t c = find_contact(e.contact);
  if (c == npos) return input_result::unknown_contact;
  const std::uint32_t a = find_agent(e.agent);
  if (a == npos) return input_result::unknown_agent;
  if (contacts_[c].state != contact_state::offered || contacts_[c].agent != a) {
    return input_result::not_offered_to_agent;
  }
  miss_or_reject(c, true, out);
  return input_result::ok;
}

input_result engine::on(const contact_completed& e, std::vector<decision>&) {
  // A completion is the one input whose contact and agent are cold (any of the assigned
  // contacts, minutes after its offer): start every load the input will need before waiting
  // on the first, so the misses overlap instead of following one another.
  const std::uint64_t contact_hash = id_table::hash(e.contact);
  const std::uint64_t agent_hash = id_table::hash(e.agent);
  contact_ids_.prefetch(contact_hash);
  agent_ids_.prefetch(agent_hash);
  if (recent_count_ > 0 && recent_count_ >= config_.dedupe_window) {
    contact_ids_.prefetch(recent_hashes_[recent_head_]);  // forget_oldest_finished()'s entry
  }
  prefetch_contact(contact_ids_.peek(contact_hash));
  prefetch_agent(agent_ids_.peek(agent_hash));
  const std::uint32_t c = find_contact(e.contact, contact_hash);
  if (c == npos) return input_result::unknown_contact;
  const std::uint32_t a = find_agent(e.agent, agent_hash);
  if (a == npos) return input_result::unknown_agent;
  contact_rec& cr = contacts_[c];
  if (cr.state != contact_state::assigned || cr.agent != a) {
    return input_result::not_assigned_to_agent;
  }
  agent_rec& ar = agents_[a];
  const std::size_t ci = index_of(cr.chan);
  // match_agent() reads the freed agent's profiles of this channel next.
  prefetch_lines(ar.member_profiles[ci].data(),
                 ar.member_profiles[ci].size() * sizeof(std::uint32_t));
  queue_rec& q = queues_[cr.queue];
  ar.handled++;
  q.completed++;
  q.handle_time[ci] = (1 - handle_time_weight) * q.handle_time[ci] +
                      handle_time_weight * static_cast<double>(now_ - cr.assigned_at);
  if (cr.more && !cr.more->customer_id.empty() && config_.affinity.enabled) {
    affinity_[cr.more->customer_id] = {a, now_};
    affinity_order_.emplace_back(now_, cr.more->customer_id);
    while (!affinity_order_.empty() &&
           now_ - affinity_order_.front().first > config_.affinity.window) {
      auto it = affinity_.find(affinity_order_.front().second);
      if (it != affinity_.end() && it->second.at == affinity_order_.front().first) {
        affinity_.erase(it);
      }
      affinity_order_.pop_front();
    }
  }
  const duration wrap = config_.channels[ci].wrap_up;
  if (wrap > 0) {
    cancel_timer(ar.wrap_timer[ci]);
    ar.in_wrap[ci] = true;
    ar.wrap_until[ci] = now_ + wrap;
    ar.wrap_timer[ci] =
        add_timer(now_ + wrap, timer_kind::wrap_up_end, a, static_cast<std::uint8_t>(ci));
  }
  ar.idle_since = now_;
  release_from_agent(c);
  finish(c, contact_state::completed);
  return input_result::ok;
}

input_result engine::on(const contact_abandoned& e, std::vector<decision>& out) {
  const std::uint32_t c = find_contact(e.contact);
  if (c == npos) return input_result::unknown_contact;
  contact_rec& cr = contacts_[c];
  if (cr.state == contact_state::assigned) return input_result::already_assigned;
  if (cr.state == contact_state::offered) {
    emit(out, decision_kind::revoke, &cr, cr.agent, reason_code::customer_left);
    release_from_agent(c);
  } else {
    erase_waiting(c);
  }
  emit(out, decision_kind::abandon, &cr, npos, reason_code::customer_left);
  queues_[cr.queue].abandoned++;
  finish(c, contact_state::abandoned);
  return input_result::ok;
}

// ---------------------------------------------------------------------------------------------
// Decisions and views.

const std::string& engine::rule_name(const contact_rec& c) const {
  static const std::string preclassified = "preclassified", fallback = "default";
  if (c.rule == -2) return preclassified;
  if (c.rule < 0 || static_cast<std::size_t>(c.rule) >= config_.rules.size()) return fallback;
  return config_.rules[static_cast<std::size_t>(c.rule)].name;
}

decision& engine::emit(std::vector<decision>& out, decision_kind kind, const contact_rec* c,
                       std::uint32_t a, reason_code why) {
  decision& d = out.emplace_back();
  d.kind = kind;
  d.at = now_;
  d.reason.code = why;
  if (c != nullptr) {
    d.contact = c->id;
    d.queue = queues_[c->queue].cfg.name;
    d.priority = c->priority;
    d.reason.rule = rule_name(*c);
    d.reason.strat = queues_[c->queue].cfg.agent_strategy;
  }
  if (a != npos) d.agent = agents_[a].id;
  totals_.decisions++;
  return d;
}

std::optional<duration> engine::estimate_wait(std::uint32_t q, std::uint32_t profile_id,
                                              std::size_t position) const {
  if (profile_id == npos) return std::nullopt;
  const profile& p = profiles_[profile_id];
  if (p.staffed_slots <= 0) return std::nullopt;
  const double aht = queues_[q].handle_time[index_of(p.chan)];
  return static_cast<duration>(static_cast<double>(position) * aht /
                               static_cast<double>(p.staffed_slots));
}

std::size_t engine::position_of(std::uint32_t c) const {
  const profile& p = profiles_[contacts_[c].profile];
  if (!p.ranks) {
    // First query of this profile: index its waiting keys. O(waiting log waiting) once.
    p.ranks = std::make_unique<rank_index>();
    p.waiting.for_each_live([&](const auto& e) { p.ranks->insert(e.key); });
  }
  return p.ranks->order_of_key(key_of(c)) + 1;
}

std::optional<duration> engine::expected_wait(std::string_view queue, channel chan,
                                              timestamp) const {
  const std::uint32_t q = find_queue(queue);
  if (q == npos) return std::nullopt;
  const std::uint32_t pid = profile_of(q, 0, chan);
  if (pid == npos) return std::nullopt;
  if (!profiles_[pid].available.empty()) return duration{0};
  return estimate_wait(q, pid, profiles_[pid].waiting.size() + 1);
}

std::optional<queue_view> engine::queue_status(std::string_view name, timestamp now) const {
  const std::uint32_t qi = find_queue(name);
  if (qi == npos) return std::nullopt;
  const queue_rec& q = queues_[qi];
  queue_view v;
  v.name = q.cfg.name;
  v.waiting = q.waiting;
  v.offered = q.offered;
  v.assigned = q.assigned;
  if (auto oldest = oldest_waiting(qi)) v.longest_wait = std::max<duration>(0, now - *oldest);
  v.arrived = q.arrived;
  v.answered = q.answered;
  v.answered_within_sla = q.answered_within_sla;
  v.completed = q.completed;
  v.abandoned = q.abandoned;
  v.expired = q.expired;
  v.overflowed_in = q.overflowed_in;
  v.overflowed_out = q.overflowed_out;
  const std::uint64_t finished = q.answered + q.abandoned + q.expired;
  if (finished > 0) {
    v.service_level = static_cast<double>(q.answered_within_sla) / static_cast<double>(finished);
    v.abandonment_rate = static_cast<double>(q.abandoned) / static_cast<double>(finished);
  }
  v.sla_target = q.cfg.sla_target;
  if (q.answered > 0) {
    v.average_speed_of_answer = q.answer_wait_sum / static_cast<std::int64_t>(q.answered);
  }
  for (channel c : all_channels) {
    if (q.serves[index_of(c)]) v.expected_wait[index_of(c)] = expected_wait(name, c, now);
  }
  return v;
}

std::vector<queue_view> engine::queue_statuses(timestamp now) const {
  std::vector<queue_view> v;
  for (const auto& q : queues_) v.push_back(*queue_status(q.cfg.name, now));
  return v;
}

std::optional<agent_view> engine::agent_status(std::string_view id, timestamp now) const {
  const std::uint32_t found = find_agent(id);
  if (found == npos) return std::nullopt;
  const agent_rec& a = agents_[found];
  agent_view v;
  v.id = a.id;
  v.state = a.state;
  for (auto [s, p] : a.skills) v.skills.push_back({skill_names_[s], p});
  v.capacity = a.capacity;
  v.load = a.load;
  v.offered = a.offered;
  for (std::size_t i = 0; i < channel_count; ++i) {
    if (a.in_wrap[i]) v.wrap_up_until[i] = a.wrap_until[i];
  }
  for (std::uint32_t c : a.contacts) v.contacts.push_back(contacts_[c].id);
  v.consecutive_misses = a.misses;
  v.offers = a.offers;
  v.handled = a.handled;
  v.rejected = a.rejected;
  v.missed = a.missed;
  duration logged = a.logged_in_ms, busy = a.busy_ms;
  if (now > a.accounted_at) {
    if (a.state != presence::offline) logged += now - a.accounted_at;
    if (!a.contacts.empty()) busy += now - a.accounted_at;
  }
  if (logged > 0) v.occupancy = static_cast<double>(busy) / static_cast<double>(logged);
  int load = 0, cap = 0;
  for (std::size_t i = 0; i < channel_count; ++i) {
    load += a.load[i];
    cap += a.capacity[i];
  }
  if (cap > 0) v.utilization = static_cast<double>(load) / cap;
  v.idle_since = a.idle_since;
  return v;
}

std::optional<contact_view> engine::contact_status(std::string_view id, timestamp) const {
  const std::uint32_t found = find_contact(id);
  if (found == npos) return std::nullopt;
  const contact_rec& c = contacts_[found];
  contact_view v;
  v.id = c.id;
  v.chan = c.chan;
  v.state = c.state;
  v.queue = queues_[c.queue].cfg.name;
  v.rule = rule_name(c);
  v.stage = c.stage;
  v.priority = c.priority;
  if (c.agent != npos) v.agent = agents_[c.agent].id;
  v.arrived_at = c.arrived_at;
  v.queue_entered_at = c.queue_entered_at;
  v.sla_deadline = sla_deadline(c);
  if (c.more) {
    for (std::uint32_t a : c.more->excluded) v.excluded_agents.push_back(agents_[a].id);
  }
  if (c.state == contact_state::waiting) {
    v.position = position_of(found);
    v.expected_wait = estimate_wait(c.queue, c.profile, *v.position);
  }
  return v;
}

engine_totals engine::totals() const {
  engine_totals t = totals_;
  t.profiles = profiles_.size();
  t.timers = 0;
  for (const timer_order& o : timers_) t.timers += o.order.size();
  return t;
}

std::vector<std::string> engine::agent_ids() const {
  std::vector<std::string> v;
  for (const auto& a : agents_) v.push_back(a.id);
  return v;
}

std::vector<std::string> engine::active_contact_ids() const {
  std::vector<std::string> v;
  for (const auto& c : contacts_) {
    if (!c.id.empty()) v.push_back(c.id);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Invariants (tests and debugging; brute force).

std::vector<engine::requirement> engine::brute_requirements(const contact_rec& c) const {
  // Recomputed from the queue's config by name, independent of the stage tables.
  const queue_config& qc = queues_[c.queue].cfg;
  std::vector<std::pair<std::string, int>> reqs;
  auto find = [&](const std::string& s) {
    return std::find_if(reqs.begin(), reqs.end(), [&](const auto& r) { return r.first == s; });
  };
  for (const auto& r : qc.required_skills) {
    auto it = find(r.skill);
    if (it == reqs.end()) {
      reqs.emplace_back(r.skill, r.min_proficiency);
    } else {
      it->second = std::max(it->second, r.min_proficiency);
    }
  }
  for (int i = 0; i < c.stage; ++i) {
    const auto& s = qc.escalation[static_cast<std::size_t>(i)];
    auto it = find(s.skill);
    if (it == reqs.end()) continue;
    if (s.kind == escalation_kind::relax_proficiency)
      it->second = std::min(it->second, s.min_proficiency);
    if (s.kind == escalation_kind::drop_skill) reqs.erase(it);
  }
  std::vector<requirement> out;
  for (const auto& [s, m] : reqs) out.push_back({skill_ids_.at(s), m});
  std::sort(out.begin(), out.end());
  return out;
}

bool engine::eligible_brute(const agent_rec& a, const std::vector<requirement>& reqs) const {
  for (const auto& r : reqs) {
    bool ok = false;
    for (auto [s, p] : a.skills) ok = ok || (s == r.skill && p >= r.min);
    if (!ok) return false;
  }
  return true;
}

std::string engine::check_invariants() const {
  std::string err;
  auto fail = [&](const std::string& s) {
    if (err.size() < 4000) err += s + "\n";
  };
  std::uint64_t waiting = 0, offered = 0, assigned = 0;
  std::vector<std::uint32_t> holder(contacts_.size(), npos);
  for (std::uint32_t a = 0; a < agents_.size(); ++a) {
    const agent_rec& ar = agents_[a];
    per_channel load{}, off{};
    for (std::uint32_t c : ar.contacts) {
      if (c >= contacts_.size() || contacts_[c].id.empty()) {
        fail("agent " + ar.id + " holds a finished contact");
        continue;
      }
      if (holder[c] != npos) fail("contact " + contacts_[c].id + " held by two agents");
      holder[c] = a;
      const contact_rec& cr = contacts_[c];
      load[index_of(cr.chan)]++;
      if (cr.state == contact_state::offered) off[index_of(cr.chan)]++;
      if (cr.agent != a) fail("contact " + cr.id + " in " + ar.id + "'s list but not theirs");
    }
    for (std::size_t i = 0; i < channel_count; ++i) {
      if (load[i] != ar.load[i] || off[i] != ar.offered[i]) fail("agent " + ar.id + " load drift");
      if (ar.load[i] > ar.capacity[i] && ar.offered[i] > 0) {
        fail("agent " + ar.id + " over capacity with offers on " +
             std::string(to_string(all_channels[i])));
      }
      if (ar.offered[i] > 0 && ar.state != presence::available) {
        fail("agent " + ar.id + " holds offers while " + std::string(to_string(ar.state)));
      }
    }
  }
  std::vector<requirement> reqs;
  std::uint32_t reqs_of = npos;
  // Waiting heaps: sorted copies; every member must be a waiting contact of the profile,
  // holding that slot and exactly that key.
  std::size_t queued_in_profiles = 0;
  std::vector<std::vector<contact_key>> waiting_sorted(profiles_.size());
  for (std::uint32_t pid = 0; pid < profiles_.size(); ++pid) {
    const profile& p = profiles_[pid];
    if (!p.waiting.valid()) fail("waiting order broken");
    if (heads_[pid].count != p.waiting.size() ||
        (!p.waiting.empty() && heads_[pid].key != p.waiting.top().key)) {
      fail("waiting head copy drift");
    }
    auto& live = waiting_sorted[pid];
    p.waiting.for_each_live([&](const auto& e) {
      const contact_rec& cr = contacts_[e.key.contact()];
      if (!cr.id.empty() && cr.state == contact_state::waiting && cr.profile == pid &&
          cr.in_waiting && cr.waiting_slot == e.slot && key_of(e.key.contact()) == e.key) {
        live.push_back(e.key);
      } else {
        fail("waiting order holds a stale entry");
      }
    });
    std::sort(live.begin(), live.end());
    if (p.ranks) {
      // Exactly the live keys: as many as there are live contacts, each of them live.
      if (p.ranks->size() != live.size()) fail("rank index size drift");
      for (const contact_key& k : *p.ranks) {
        if (!std::binary_search(live.begin(), live.end(), k)) fail("rank index holds a stale key");
      }
    }
    queued_in_profiles += live.size();
  }
  for (const timer_order& t : timers_) {
    if (!t.order.valid()) fail("timer order broken");
    if (!t.order.empty() && t.order.top().key.due < earliest_due_) fail("earliest due too late");
  }
  std::array<std::size_t, timer_kind_count> timers_held{};
  auto check_timer = [&](const timer_handle& t, std::uint32_t target, std::size_t chan,
                         const std::string& who) {
    if (!t) return;
    const timer_order& order = timers_[static_cast<std::size_t>(t.kind())];
    timers_held[static_cast<std::size_t>(t.kind())]++;
    if (!order.order.contains(t.slot()) || order.owners[t.slot()].target != target ||
        order.owners[t.slot()].chan != chan) {
      fail("timer of " + who + " not scheduled");
    }
  };
  for (std::uint32_t a = 0; a < agents_.size(); ++a) {
    const agent_rec& ar = agents_[a];
    for (std::size_t ci = 0; ci < channel_count; ++ci) {
      check_timer(ar.wrap_timer[ci], a, ci, ar.id);
      bool packed = ar.member_profiles[ci].size() == ar.memberships[ci].size();
      for (std::size_t i = 0; packed && i < ar.memberships[ci].size(); ++i) {
        packed = ar.member_profiles[ci][i] == ar.memberships[ci][i].profile;
      }
      if (!packed) fail("packed profile ids drift " + ar.id);
    }
  }
  for (std::uint32_t c = 0; c < contacts_.size(); ++c) {
    const contact_rec& cr = contacts_[c];
    if (cr.id.empty()) continue;
    if (find_contact(cr.id) != c) fail("id map drift " + cr.id);
    if (cr.in_waiting != (cr.state == contact_state::waiting)) fail("waiting flag drift " + cr.id);
    check_timer(cr.offer_timer, c, 0, cr.id);
    check_timer(cr.escalation_timer, c, 0, cr.id);
    check_timer(cr.max_wait_timer, c, 0, cr.id);
    if (cr.profile != profile_of(cr.queue, cr.stage, cr.chan)) fail("profile drift " + cr.id);
    switch (cr.state) {
      case contact_state::waiting:
        waiting++;
        if (cr.agent != npos || holder[c] != npos) fail("waiting contact with agent " + cr.id);
        if (!cr.in_waiting || !std::binary_search(waiting_sorted[cr.profile].begin(),
                                                  waiting_sorted[cr.profile].end(), key_of(c))) {
          fail("not indexed " + cr.id);
        }
        if (!oldest_waiting(cr.queue) || *oldest_waiting(cr.queue) > cr.arrived_at) {
          fail("age index misses " + cr.id);
        }
        if (cr.dirty) fail("unmatched dirty contact " + cr.id);
        if (profiles_[cr.profile].ranks) {
          // Brute-force rank: live keys of the profile ordered before this one, + 1.
          const auto& live = waiting_sorted[cr.profile];
          const auto ahead = std::lower_bound(live.begin(), live.end(), key_of(c)) - live.begin();
          if (position_of(c) != static_cast<std::size_t>(ahead) + 1) fail("position of " + cr.id);
        }
        for (std::uint32_t a = 0; a < agents_.size(); ++a) {
          const agent_rec& ar = agents_[a];
          if (!can_take(ar, cr.chan) || excluded(cr, a)) continue;
          if (reqs.empty() || reqs_of != c) {
            reqs = brute_requirements(cr);
            reqs_of = c;
          }
          if (eligible_brute(ar, reqs)) {
            fail("not work-conserving: " + ar.id + " idle while " + cr.id + " waits");
          }
        }
        break;
      case contact_state::offered:
        offered++;
        if (holder[c] == npos || holder[c] != cr.agent) fail("offered contact holder " + cr.id);
        if (!cr.offer_timer) fail("offer without timer " + cr.id);
        break;
      case contact_state::assigned:
        assigned++;
        if (holder[c] == npos || holder[c] != cr.agent) fail("assigned contact holder " + cr.id);
        break;
      default:
        fail("active contact in terminal state " + cr.id);
    }
  }
  if (queued_in_profiles != waiting) fail("profile waiting sets hold stale entries");
  std::array<std::size_t, channel_count> waiting_on{};
  for (const contact_rec& cr : contacts_) {
    if (!cr.id.empty() && cr.in_waiting) waiting_on[index_of(cr.chan)]++;
  }
  if (waiting_on != waiting_on_) fail("waiting-per-channel counts drift");
  for (std::size_t k = 0; k < timer_kind_count; ++k) {
    if (timers_held[k] != timers_[k].order.size()) fail("timer count drift");
  }
  if (waiting != totals_.waiting || offered != totals_.offered || assigned != totals_.assigned) {
    fail("state counters drift");
  }
  if (totals_.arrived !=
      waiting + offered + assigned + totals_.completed + totals_.abandoned + totals_.expired) {
    fail("contacts lost: arrived != waiting+offered+assigned+completed+abandoned+expired");
  }
  std::size_t qw = 0, qo = 0, qa = 0;
  for (const auto& q : queues_) {
    if (q.by_age.size() != q.waiting || !q.by_age.valid()) fail("age index drift " + q.cfg.name);
    qw += q.waiting;
    qo += q.offered;
    qa += q.assigned;
  }
  if (qw != waiting || qo != offered || qa != assigned) fail("queue counters drift");
  // Agent indexes: exactly the eligible agents who can take work, with current keys.
  if (!pending_agents_.empty()) fail("agent heaps not flushed");
  for (std::uint32_t pid = 0; pid < profiles_.size(); ++pid) {
    const profile& p = profiles_[pid];
    if (!p.available.valid()) fail("agent heap order broken");
    std::vector<agent_key> sorted;
    for (const auto& e : p.available.entries()) sorted.push_back(e.key);
    std::sort(sorted.begin(), sorted.end());
    std::size_t expected = 0, indexed = 0;
    std::int64_t staffed = 0;
    for (std::uint32_t a = 0; a < agents_.size(); ++a) {
      const agent_rec& ar = agents_[a];
      if (!satisfies(ar, p.reqs)) continue;
      if (ar.state == presence::available) staffed += ar.capacity[index_of(p.chan)];
      const membership* m = find_membership(ar, pid);
      if (m == nullptr) {
        fail("missing membership " + ar.id);
        continue;
      }
      if (can_take(ar, p.chan)) {
        expected++;
        const agent_key key = key_for(ar, a, *m);
        if (!m->in_available || ar.heap_pending || m->key(a) != key ||
            !p.available.contains(m->slot) || p.available.key(m->slot) == nullptr ||
            *p.available.key(m->slot) != key) {
          fail("agent index stale for " + ar.id);
        }
      } else if (m->in_available) {
        fail("agent " + ar.id + " indexed but cannot take work");
      }
    }
    // Members recomputed from scratch: the agent can take work and holds that key now.
    for (const auto& e : p.available.entries()) {
      const agent_rec& ar = agents_[e.key.agent];
      const membership* m = find_membership(ar, pid);
      if (m != nullptr && m->slot == e.slot && can_take(ar, p.chan) &&
          key_for(ar, e.key.agent, *m) == e.key) {
        indexed++;
      }
    }
    if (expected != p.available.size() || indexed != expected) fail("agent index size drift");
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      fail("agent indexed twice");
    }
    if (staffed != p.staffed_slots) fail("staffed slots drift");
  }
  return err;
}

}  // namespace omni::routing::engine
