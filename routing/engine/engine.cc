// The decision path: the agents' availability in each profile, the waiting contacts, ids, offers
// and assignments, and matching. These stay in one translation unit so the compiler can inline
// the small helpers (can_take, excluded, best_waiting, key_of, ...) into the matching loops.
#include "routing/engine/engine.h"

#include <algorithm>
#include <utility>

#include "routing/engine/prefetch.h"

namespace omni::routing::engine {

using detail::prefetch_lines;

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
// Decisions.

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

}  // namespace omni::routing::engine
