// Invariant checks for tests and debugging: brute force, recomputed from the records.
#include "routing/engine/engine.h"

#include <algorithm>

namespace omni::routing::engine {

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
