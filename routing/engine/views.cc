// Read-only views: queue, agent and contact status, expected waits and positions, totals.
#include "routing/engine/engine.h"

#include <algorithm>
#include <memory>

namespace omni::routing::engine {

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

}  // namespace omni::routing::engine
