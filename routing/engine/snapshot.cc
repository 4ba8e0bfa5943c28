// State export and import (README.md, "State export"): the domain's state as a versioned,
// deterministic byte string, and its load into a fresh engine, so a driver can recover from a
// snapshot plus the inputs after it instead of every input ever applied.
//
// What is written is the logical state, not the indexes: agents in index order (the index is
// the last tie-break of every agent order, so it must survive), active contacts in arrival
// order with their record index and the free records (reconfigure() walks contacts by index,
// so that order decides too) and their pending timers' (due, sequence), the finished-contact window
// oldest first, the affinity table, the queues' statistics, the round-robin stamps, and the
// counters that break ties (contact and timer sequences). Import rebuilds the profiles, orders,
// heads and id tables from it with the same code paths as reconfigure(), so a driver that imports
// and then applies the remaining inputs makes exactly the decisions of one that applied them all
// (tests/routing/engine/snapshot_test.cc).
//
// Format (version 1): the magic "omni.engine.state", a varint version, then sections in the
// codec of state_codec.h (varints, strings, doubles, front-coded id lists), and finally the
// FNV-1a 64 of everything before it. A reader refuses an
// unknown (newer) version, a wrong checksum, a truncated or over-long field, and references
// that do not resolve (an unknown agent in a contact, ...), all before changing anything.
#include <algorithm>
#include <cstring>
#include <limits>

#include "routing/engine/engine.h"
#include "routing/engine/state_codec.h"

namespace omni::routing::engine {

namespace {

constexpr std::string_view magic = "omni.engine.state";
constexpr std::uint64_t format_version = 1;

using state_codec::reader;
using state_codec::writer;

struct timer_image {
  timestamp due = 0;
  std::uint64_t seq = 0;
};

void put_timer(writer& w, const std::optional<timer_image>& t) {
  w.b(t.has_value());
  if (t) {
    w.i(t->due);
    w.u(t->seq);
  }
}

std::optional<timer_image> get_timer(reader& r) {
  if (!r.b()) return std::nullopt;
  timer_image t;
  t.due = r.i();
  t.seq = r.u();
  return t;
}

}  // namespace

// The state as read, before anything is applied (names instead of indexes where the index is
// the engine's own).
struct engine::state_image {
  struct queue_stats {
    std::string name;
    std::uint64_t arrived = 0, answered = 0, answered_within_sla = 0, completed = 0, abandoned = 0,
                  expired = 0, overflowed_in = 0, overflowed_out = 0;
    std::int64_t answer_wait_sum = 0;
    std::array<double, channel_count> handle_time{};
  };
  struct round_robin_profile {
    channel chan = channel::email;
    std::vector<std::pair<std::string, int>> reqs;
    std::uint64_t clock = 0;
  };
  struct agent {
    std::string id;
    presence state = presence::offline;
    int misses = 0;
    per_channel cap_override{};
    std::vector<std::pair<std::string, int>> skills;
    timestamp idle_since = 0, accounted_at = 0;
    duration logged_in_ms = 0, busy_ms = 0;
    std::uint64_t offers = 0, handled = 0, rejected = 0, missed = 0;
    std::array<bool, channel_count> in_wrap{};
    std::array<timestamp, channel_count> wrap_until{};
    std::array<std::optional<timer_image>, channel_count> wrap_timer;
    std::vector<std::string> contacts;                         // held, in the order they were given
    std::vector<std::pair<std::size_t, std::int64_t>> stamps;  // round_robin_profile, stamp
  };
  struct contact {
    std::uint64_t index = 0;  // of its record
    std::string id;
    channel chan = channel::email;
    contact_state state = contact_state::waiting;
    std::string queue;
    int rule = -1;  // -1 default, -2 preclassified, else the rule's index in the config
    int stage = 0;
    std::uint64_t seq = 0;
    timestamp arrived_at = 0, queue_entered_at = 0, assigned_at = 0;
    int base_extra = 0, raised = 0;
    std::string agent;  // offered or assigned to
    bool affinity_offer = false, affinity_checked = false, max_wait_passed = false;
    std::string customer_id;
    std::optional<history_hint> hint;
    std::vector<std::string> excluded;
    std::optional<timer_image> offer_timer, escalation_timer, max_wait_timer;
  };

  timestamp now = 0;
  std::uint64_t seq = 0, timer_seq = 0;
  engine_totals totals;
  std::vector<std::string> skills;  // in the order they were interned
  std::vector<queue_stats> queues;
  std::vector<round_robin_profile> round_robin;
  std::vector<agent> agents;
  std::uint64_t records = 0;        // contact records, active or free
  std::vector<std::uint32_t> free;  // free records, the next one to reuse last
  std::vector<contact> contacts;
  std::vector<std::string> finished;  // the dedupe window, oldest first
  std::vector<std::tuple<std::string, std::string, timestamp>> affinity;  // customer, agent, at
  std::vector<std::pair<timestamp, std::string>> affinity_order;
};

std::string engine::export_state() const {
  writer w;
  w.raw(magic);
  w.u(format_version);
  w.i(now_);
  w.u(seq_);
  w.u(timer_seq_);
  for (std::uint64_t v : {totals_.arrived, totals_.completed, totals_.abandoned, totals_.expired,
                          totals_.decisions, totals_.agents_known, totals_.agents_logged_in})
    w.u(v);

  w.u(skill_names_.size());
  for (const auto& s : skill_names_) w.s(s);

  w.u(queues_.size());
  for (const auto& q : queues_) {
    w.s(q.cfg.name);
    for (std::uint64_t v : {q.arrived, q.answered, q.answered_within_sla, q.completed, q.abandoned,
                            q.expired, q.overflowed_in, q.overflowed_out})
      w.u(v);
    w.i(q.answer_wait_sum);
    for (double h : q.handle_time) w.f(h);
  }

  // Round-robin profiles by what defines them (ids are rebuilt on import), with their clocks.
  std::vector<std::uint32_t> rr_index(profiles_.size(), npos);
  std::uint32_t rr_count = 0;
  for (std::uint32_t p = 0; p < profiles_.size(); ++p)
    if (profiles_[p].strat == strategy::round_robin) rr_index[p] = rr_count++;
  w.u(rr_count);
  for (const auto& p : profiles_) {
    if (p.strat != strategy::round_robin) continue;
    w.u(static_cast<std::uint64_t>(p.chan));
    w.u(p.reqs.size());
    for (const auto& r : p.reqs) {
      w.s(skill_names_[r.skill]);
      w.i(r.min);
    }
    w.u(p.rr_clock);
  }

  auto timer_of = [&](const timer_handle& t) -> std::optional<timer_image> {
    if (!t) return std::nullopt;
    const auto& o = timers_[static_cast<std::size_t>(t.kind())].owners[t.slot()];
    return timer_image{o.due, o.seq};
  };

  w.u(agents_.size());
  for (const auto& a : agents_) {
    w.s(a.id);
    w.u(static_cast<std::uint64_t>(a.state));
    w.i(a.misses);
    for (int c : a.cap_override) w.i(c);
    w.u(a.skills.size());
    for (const auto& [skill, level] : a.skills) {
      w.s(skill_names_[skill]);
      w.i(level);
    }
    w.i(a.idle_since);
    w.i(a.accounted_at);
    w.i(a.logged_in_ms);
    w.i(a.busy_ms);
    for (std::uint64_t v : {a.offers, a.handled, a.rejected, a.missed}) w.u(v);
    for (std::size_t c = 0; c < channel_count; ++c) {
      w.b(a.in_wrap[c]);
      w.i(a.wrap_until[c]);
      put_timer(w, timer_of(a.wrap_timer[c]));
    }
    w.u(a.contacts.size());
    for (std::uint32_t c : a.contacts) w.s(contacts_[c].id);
    std::vector<std::pair<std::uint32_t, std::int64_t>> stamps;
    for (const auto& ms : a.memberships)
      for (const auto& m : ms)
        if (rr_index[m.profile] != npos) stamps.emplace_back(rr_index[m.profile], m.b);
    std::sort(stamps.begin(), stamps.end());
    w.u(stamps.size());
    for (const auto& [p, b] : stamps) {
      w.u(p);
      w.i(b);
    }
  }

  // Active contacts in arrival order, each with its record index; then the free records in
  // the order they will be reused.
  std::vector<std::uint32_t> active;
  for (std::uint32_t c = 0; c < contacts_.size(); ++c)
    if (!contacts_[c].id.empty()) active.push_back(c);
  std::sort(active.begin(), active.end(),
            [&](std::uint32_t x, std::uint32_t y) { return contacts_[x].seq < contacts_[y].seq; });
  w.u(contacts_.size());
  w.u(free_contacts_.size());
  for (std::uint32_t c : free_contacts_) w.u(c);
  w.u(active.size());
  for (std::uint32_t ci : active) {
    const contact_rec& c = contacts_[ci];
    w.u(ci);
    w.s(c.id);
    w.u(static_cast<std::uint64_t>(c.chan));
    w.u(static_cast<std::uint64_t>(c.state));
    w.s(queues_[c.queue].cfg.name);
    w.i(c.rule);
    w.i(c.stage);
    w.u(c.seq);
    w.i(c.arrived_at);
    w.i(c.queue_entered_at);
    w.i(c.assigned_at);
    w.i(c.base_extra);
    w.i(c.raised);
    w.s(c.agent == npos ? std::string_view() : std::string_view(agents_[c.agent].id));
    w.b(c.affinity_offer);
    w.b(c.affinity_checked);
    w.b(c.max_wait_passed);
    w.s(c.more ? std::string_view(c.more->customer_id) : std::string_view());
    const bool hinted = c.more && c.more->hint;
    w.b(hinted);
    if (hinted) {
      w.s(c.more->hint->agent);
      w.i(c.more->hint->at);
    }
    w.u(c.more ? c.more->excluded.size() : 0);
    if (c.more)
      for (std::uint32_t a : c.more->excluded) w.s(agents_[a].id);
    put_timer(w, timer_of(c.offer_timer));
    put_timer(w, timer_of(c.escalation_timer));
    put_timer(w, timer_of(c.max_wait_timer));
  }

  w.ids(recent_count_);
  for (std::size_t i = 0; i < recent_count_; ++i)
    w.id(recent_ids_[(recent_head_ + i) % recent_ids_.size()]);

  std::vector<const std::pair<const std::string, affinity_rec>*> affinity;
  for (const auto& e : affinity_) affinity.push_back(&e);
  std::sort(affinity.begin(), affinity.end(),
            [](const auto* x, const auto* y) { return x->first < y->first; });
  w.u(affinity.size());
  for (const auto* e : affinity) {
    w.s(e->first);
    w.s(agents_[e->second.agent].id);
    w.i(e->second.at);
  }
  w.u(affinity_order_.size());
  for (const auto& [at, customer] : affinity_order_) {
    w.i(at);
    w.s(customer);
  }
  return w.finish();
}

std::string engine::read_state(std::string_view data, state_image& img) {
  if (data.size() < magic.size() + 9 || data.substr(0, magic.size()) != magic)
    return "not an engine state (no \"omni.engine.state\" header)";
  std::string_view body;
  if (!reader::verify(data, body)) return "checksum mismatch: the state is damaged or incomplete";
  reader r(body.substr(magic.size()));
  const std::uint64_t version = r.u();
  if (version == 0 || version > format_version)
    return "engine state format " + std::to_string(version) + " is newer than this release (" +
           std::to_string(format_version) + ")";

  img.now = r.i();
  img.seq = r.u();
  img.timer_seq = r.u();
  for (std::uint64_t* v :
       {&img.totals.arrived, &img.totals.completed, &img.totals.abandoned, &img.totals.expired,
        &img.totals.decisions, &img.totals.agents_known, &img.totals.agents_logged_in})
    *v = r.u();

  img.skills.resize(r.count());
  for (auto& s : img.skills) s = r.s();

  img.queues.resize(r.count());
  for (auto& q : img.queues) {
    q.name = r.s();
    for (std::uint64_t* v : {&q.arrived, &q.answered, &q.answered_within_sla, &q.completed,
                             &q.abandoned, &q.expired, &q.overflowed_in, &q.overflowed_out})
      *v = r.u();
    q.answer_wait_sum = r.i();
    for (double& h : q.handle_time) h = r.f();
  }

  img.round_robin.resize(r.count());
  for (auto& p : img.round_robin) {
    p.chan = r.e<channel>(channel_count);
    p.reqs.resize(r.count());
    for (auto& [skill, min] : p.reqs) {
      skill = r.s();
      min = r.small(0, 10);
    }
    p.clock = r.u();
  }

  img.agents.resize(r.count());
  for (auto& a : img.agents) {
    a.id = r.s();
    a.state = r.e<presence>(5);
    a.misses = r.small(0, std::numeric_limits<int>::max());
    for (int& c : a.cap_override) c = r.small(-1, std::numeric_limits<int>::max());
    a.skills.resize(r.count());
    for (auto& [skill, level] : a.skills) {
      skill = r.s();
      level = r.small(1, 10);
    }
    a.idle_since = r.i();
    a.accounted_at = r.i();
    a.logged_in_ms = r.i();
    a.busy_ms = r.i();
    for (std::uint64_t* v : {&a.offers, &a.handled, &a.rejected, &a.missed}) *v = r.u();
    for (std::size_t c = 0; c < channel_count; ++c) {
      a.in_wrap[c] = r.b();
      a.wrap_until[c] = r.i();
      a.wrap_timer[c] = get_timer(r);
    }
    a.contacts.resize(r.count());
    for (auto& c : a.contacts) c = r.s();
    a.stamps.resize(r.count());
    for (auto& [p, b] : a.stamps) {
      p = r.u();
      b = r.i();
      if (p >= img.round_robin.size()) r.fail("a round-robin stamp names no profile");
    }
  }

  img.records = r.u();
  img.free.resize(r.count());
  for (auto& c : img.free) c = static_cast<std::uint32_t>(r.u());
  img.contacts.resize(r.count());
  for (auto& c : img.contacts) {
    c.index = r.u();
    c.id = r.s();
    c.chan = r.e<channel>(channel_count);
    c.state = r.e<contact_state>(3);  // active contacts only: waiting, offered, assigned
    c.queue = r.s();
    c.rule = r.small(-2, max_config_index);
    c.stage = r.small(0, max_config_index);
    c.seq = r.u();
    c.arrived_at = r.i();
    c.queue_entered_at = r.i();
    c.assigned_at = r.i();
    c.base_extra = r.small(std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
    c.raised = r.small(std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
    c.agent = r.s();
    c.affinity_offer = r.b();
    c.affinity_checked = r.b();
    c.max_wait_passed = r.b();
    c.customer_id = r.s();
    if (r.b()) {
      history_hint h;
      h.agent = r.s();
      h.at = r.i();
      c.hint = std::move(h);
    }
    c.excluded.resize(r.count());
    for (auto& a : c.excluded) a = r.s();
    c.offer_timer = get_timer(r);
    c.escalation_timer = get_timer(r);
    c.max_wait_timer = get_timer(r);
  }

  img.finished = r.ids();
  img.affinity.resize(r.count());
  for (auto& [customer, agent, at] : img.affinity) {
    customer = r.s();
    agent = r.s();
    at = r.i();
  }
  img.affinity_order.resize(r.count());
  for (auto& [at, customer] : img.affinity_order) {
    at = r.i();
    customer = r.s();
  }
  if (!r.error().empty()) return "engine state: " + r.error();
  if (!r.at_end()) return "engine state: unexpected data after the last section";

  // References: every name must resolve, and nothing may be there twice.
  std::unordered_map<std::string_view, std::size_t> agent_at;
  for (std::size_t i = 0; i < img.agents.size(); ++i)
    if (img.agents[i].id.empty() || !agent_at.emplace(img.agents[i].id, i).second)
      return "engine state: agent '" + img.agents[i].id + "' is empty or listed twice";
  std::unordered_map<std::string_view, std::size_t> contact_at;
  for (std::size_t i = 0; i < img.contacts.size(); ++i) {
    const auto& c = img.contacts[i];
    if (c.id.empty() || !contact_at.emplace(c.id, i).second)
      return "engine state: contact '" + c.id + "' is empty or listed twice";
    const bool held = c.state != contact_state::waiting;
    if (held != !c.agent.empty() || (held && !agent_at.count(c.agent)))
      return "engine state: contact '" + c.id + "' has no valid holder";
    for (const auto& a : c.excluded)
      if (!agent_at.count(a))
        return "engine state: contact '" + c.id + "' excludes unknown '" + a + "'";
    if (c.seq == 0 || c.seq > img.seq)
      return "engine state: contact '" + c.id + "' has a bad sequence";
  }
  // Records: every one either active or free, exactly once.
  if (img.records != img.contacts.size() + img.free.size() || img.records >= finished_bit)
    return "engine state: contact records do not add up";
  std::vector<bool> used(img.records, false);
  auto claim = [&](std::uint64_t i) {
    if (i >= img.records || used[i]) return false;
    used[i] = true;
    return true;
  };
  for (const auto& c : img.contacts)
    if (!claim(c.index)) return "engine state: contact '" + c.id + "' has a bad record index";
  for (std::uint32_t f : img.free)
    if (!claim(f)) return "engine state: a free contact record is bad";
  std::size_t held = 0;
  for (const auto& a : img.agents)
    for (const auto& c : a.contacts) {
      auto it = contact_at.find(c);
      if (it == contact_at.end() || img.contacts[it->second].agent != a.id)
        return "engine state: agent '" + a.id + "' holds '" + c + "', which is not held by it";
      ++held;
    }
  std::size_t should_hold = 0;
  for (const auto& c : img.contacts) should_hold += c.state != contact_state::waiting;
  if (held != should_hold) return "engine state: holders and held contacts disagree";
  std::unordered_set<std::string_view> finished;
  for (const auto& id : img.finished)
    if (id.empty() || contact_at.count(id) || !finished.insert(id).second)
      return "engine state: finished contact '" + id + "' is empty, active or listed twice";
  for (const auto& [customer, agent, at] : img.affinity)
    if (!agent_at.count(agent)) return "engine state: affinity names unknown agent '" + agent + "'";
  return {};
}

std::string engine::import_state(std::string_view data, std::vector<decision>& out,
                                 import_summary* summary) {
  if (!agents_.empty() || !contacts_.empty() || totals_.decisions != 0)
    return "engine state can only be imported into an engine that has handled nothing";
  state_image img;
  if (std::string error = read_state(data, img); !error.empty()) return error;
  import_summary done;

  // Skills in their original order, so requirements sort and profiles number as before; then
  // the queues, profiles and classifier of the current config around them.
  now_ = img.now;
  seq_ = img.seq;
  timer_seq_ = img.timer_seq;
  skill_ids_.clear();
  skill_names_.clear();
  for (const auto& s : img.skills) intern_skill(s);
  std::vector<decision> unused;
  build(now_, unused, false);
  totals_ = engine_totals{};
  totals_.arrived = img.totals.arrived;
  totals_.completed = img.totals.completed;
  totals_.abandoned = img.totals.abandoned;
  totals_.expired = img.totals.expired;
  totals_.decisions = img.totals.decisions;
  totals_.agents_known = img.agents.size();
  totals_.agents_logged_in = img.totals.agents_logged_in;
  for (const auto& qs : img.queues) {
    const std::uint32_t qi = find_queue(qs.name);
    if (qi == npos) continue;
    queue_rec& q = queues_[qi];
    q.arrived = qs.arrived;
    q.answered = qs.answered;
    q.answered_within_sla = qs.answered_within_sla;
    q.completed = qs.completed;
    q.abandoned = qs.abandoned;
    q.expired = qs.expired;
    q.overflowed_in = qs.overflowed_in;
    q.overflowed_out = qs.overflowed_out;
    q.answer_wait_sum = qs.answer_wait_sum;
    q.handle_time = qs.handle_time;
  }

  // Agents, in their original order (the index breaks ties in every agent order).
  agents_.reserve(img.agents.size());
  for (const auto& ai : img.agents) {
    const auto a = static_cast<std::uint32_t>(agents_.size());
    agent_ids_.insert(id_table::hash(ai.id), a);
    agent_rec& ar = agents_.emplace_back();
    ar.id = ai.id;
    ar.state = ai.state;
    ar.misses = ai.misses;
    ar.cap_override = ai.cap_override;
    for (const auto& [skill, level] : ai.skills) ar.skills.emplace_back(intern_skill(skill), level);
    std::sort(ar.skills.begin(), ar.skills.end());
    ar.idle_since = ai.idle_since;
    ar.accounted_at = ai.accounted_at;
    ar.logged_in_ms = ai.logged_in_ms;
    ar.busy_ms = ai.busy_ms;
    ar.offers = ai.offers;
    ar.handled = ai.handled;
    ar.rejected = ai.rejected;
    ar.missed = ai.missed;
    ar.in_wrap = ai.in_wrap;
    ar.wrap_until = ai.wrap_until;
    for (std::size_t c = 0; c < channel_count; ++c) {
      ar.capacity[c] =
          ar.cap_override[c] >= 0 ? ar.cap_override[c] : config_.channels[c].default_capacity;
      if (ai.wrap_timer[c])
        ar.wrap_timer[c] = place_timer(
            timer_key{ai.wrap_timer[c]->due, ai.wrap_timer[c]->seq, timer_kind::wrap_up_end}, a,
            static_cast<std::uint8_t>(c));
    }
    compute_memberships(a);
  }

  // Round-robin stamps, where the profile still exists.
  std::vector<std::uint32_t> rr_profile(img.round_robin.size(), npos);
  for (std::size_t i = 0; i < img.round_robin.size(); ++i) {
    const auto& p = img.round_robin[i];
    std::vector<requirement> reqs;
    for (const auto& [skill, min] : p.reqs) reqs.push_back({intern_skill(skill), min});
    std::sort(reqs.begin(), reqs.end());
    auto it = profile_ids_.find(std::make_tuple(p.chan, strategy::round_robin, reqs));
    if (it == profile_ids_.end()) continue;
    rr_profile[i] = it->second;
    profiles_[it->second].rr_clock = p.clock;
  }
  for (std::uint32_t a = 0; a < agents_.size(); ++a)
    for (const auto& [p, b] : img.agents[a].stamps)
      if (rr_profile[p] != npos)
        if (membership* m = find_membership(agents_[a], rr_profile[p])) m->b = b;

  // Contacts, in arrival order, each in its own record; the free records as they were.
  for (std::uint64_t i = 0; i < img.records; ++i)
    contacts_.emplace_back().state = contact_state::completed;
  free_contacts_ = img.free;
  // By record index, as reconfigure() walks them (the order of any overflow decision below).
  std::vector<const state_image::contact*> by_index;
  for (const auto& ci : img.contacts) by_index.push_back(&ci);
  std::sort(by_index.begin(), by_index.end(),
            [](const auto* x, const auto* y) { return x->index < y->index; });
  std::unordered_map<std::string_view, std::uint32_t> contact_index;
  for (const auto* cp : by_index) {
    const state_image::contact& ci = *cp;
    const auto c = static_cast<std::uint32_t>(ci.index);
    contact_rec& cr = contacts_[c];
    cr = contact_rec{};
    contact_index.emplace(ci.id, c);
    cr.id = ci.id;
    cr.chan = ci.chan;
    cr.state = ci.state;
    cr.seq = ci.seq;
    cr.arrived_at = ci.arrived_at;
    cr.queue_entered_at = ci.queue_entered_at;
    cr.assigned_at = ci.assigned_at;
    cr.base_extra = ci.base_extra;
    cr.raised = ci.raised;
    cr.affinity_offer = ci.affinity_offer;
    cr.affinity_checked = ci.affinity_checked;
    cr.max_wait_passed = ci.max_wait_passed;
    if (!ci.customer_id.empty() || ci.hint) {
      cr.extra().customer_id = ci.customer_id;
      cr.extra().hint = ci.hint;
    }
    for (const auto& a : ci.excluded) cr.extra().excluded.push_back(find_agent(a));
    cr.rule = static_cast<std::int16_t>(ci.rule);  // an index, kept as reconfigure() keeps it
    // The same queue by name, else the default queue (as reconfigure() does).
    std::uint32_t q = find_queue(ci.queue);
    const bool moved = q == npos || !queues_[q].serves[index_of(cr.chan)];
    if (moved) {
      q = default_queue_;
      cr.queue_entered_at = now_;
      cr.max_wait_passed = false;
    }
    cr.queue = q;
    cr.stage = static_cast<std::int16_t>(
        moved ? 0 : std::min<int>(ci.stage, static_cast<int>(queues_[q].cfg.escalation.size())));
    cr.priority = queues_[q].cfg.base_priority + cr.base_extra + cr.raised;
    cr.profile = profile_of(q, cr.stage, cr.chan);
    if (!ci.agent.empty()) cr.agent = find_agent(ci.agent);
    contact_ids_.insert(id_table::hash(cr.id), c);
    count(cr, +1, true);
    if (cr.state == contact_state::waiting) insert_waiting(c);
    if (ci.offer_timer)
      cr.offer_timer = place_timer(
          timer_key{ci.offer_timer->due, ci.offer_timer->seq, timer_kind::offer_timeout}, c, 0);
    if (moved) {
      if (cr.state != contact_state::assigned) schedule_queue_timers(c);
      decision& d = emit(out, decision_kind::overflow, &cr, npos, reason_code::reconfigure);
      d.from_queue = ci.queue;
      queues_[q].overflowed_in++;
      done.moved++;
    } else {
      if (ci.escalation_timer &&
          static_cast<std::size_t>(cr.stage) < queues_[q].cfg.escalation.size())
        cr.escalation_timer = place_timer(
            timer_key{ci.escalation_timer->due, ci.escalation_timer->seq, timer_kind::escalation},
            c, 0);
      if (ci.max_wait_timer && queues_[q].cfg.max_wait)
        cr.max_wait_timer = place_timer(
            timer_key{ci.max_wait_timer->due, ci.max_wait_timer->seq, timer_kind::max_wait}, c, 0);
    }
  }
  for (std::uint32_t a = 0; a < agents_.size(); ++a) {
    agent_rec& ar = agents_[a];
    for (const auto& id : img.agents[a].contacts) {
      const std::uint32_t c = contact_index.at(id);
      const std::size_t ci = index_of(contacts_[c].chan);
      ar.contacts.push_back(c);
      ar.load[ci]++;
      if (contacts_[c].state == contact_state::offered) ar.offered[ci]++;
    }
  }

  // The finished-contact window, oldest first.
  recent_ids_.assign(img.finished.begin(), img.finished.end());
  recent_hashes_.clear();
  for (const auto& id : recent_ids_) recent_hashes_.push_back(id_table::hash(id));
  recent_head_ = 0;
  recent_count_ = recent_ids_.size();
  for (std::size_t i = 0; i < recent_count_; ++i)
    contact_ids_.insert(recent_hashes_[i], finished_bit | static_cast<std::uint32_t>(i));
  while (recent_count_ > 0 && recent_count_ > config_.dedupe_window) forget_oldest_finished();

  for (const auto& [customer, agent, at] : img.affinity)
    affinity_[customer] = affinity_rec{find_agent(agent), at};
  affinity_order_.assign(img.affinity_order.begin(), img.affinity_order.end());

  // Indexes: every agent's memberships and the profiles' orders, then anything a changed
  // config made possible (nothing when the config is the one exported under).
  for (std::uint32_t a = 0; a < agents_.size(); ++a) {
    refresh_agent(a);
    mark_agent(a);
  }
  for (std::uint32_t c = 0; c < contacts_.size(); ++c)
    if (!contacts_[c].id.empty() && contacts_[c].state == contact_state::waiting) mark_contact(c);
  match(out);
  done.agents = agents_.size();
  done.contacts = img.contacts.size();
  if (summary != nullptr) *summary = done;
  return {};
}

}  // namespace omni::routing::engine
