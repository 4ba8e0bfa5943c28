// Inputs: handle() advances the clock and dispatches each input event to its on() overload.
#include "routing/engine/engine.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "routing/engine/prefetch.h"

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

using detail::prefetch_lines;

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

}  // namespace omni::routing::engine
