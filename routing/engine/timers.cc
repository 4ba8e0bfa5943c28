// Timers: offer timeouts, escalation steps, maximum waits and wrap-ups, fired in (due, sequence)
// order by advance().
#include "routing/engine/engine.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace omni::routing::engine {

engine::timer_handle engine::add_timer(timestamp due, timer_kind kind, std::uint32_t target,
                                       std::uint8_t chan) {
  return place_timer(timer_key{due, ++timer_seq_, kind}, target, chan);
}

engine::timer_handle engine::place_timer(const timer_key& key, std::uint32_t target,
                                         std::uint8_t chan) {
  timer_order& t = timers_[static_cast<std::size_t>(key.kind)];
  const std::uint32_t slot = t.order.acquire();
  if (slot >= timer_handle::max_slots) throw std::length_error("routing engine: too many timers");
  if (slot >= t.owners.size()) t.owners.resize(slot + 1);
  t.owners[slot] = {target, chan, key.due, key.seq};
  t.order.set(slot, key);
  earliest_due_ = std::min(earliest_due_, key.due);
  return timer_handle(key.kind, slot);
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

}  // namespace omni::routing::engine
