// Setup and reconfiguration: the queues, escalation stages and profiles built from the config,
// and the agents' memberships in them.
#include "routing/engine/engine.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace omni::routing::engine {

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

}  // namespace omni::routing::engine
