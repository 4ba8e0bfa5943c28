#pragma once

// The routing engine of one routing domain: a pure, deterministic state machine that turns
// agent and contact events into offers and assignments. It reads no clock, opens no socket
// and starts no thread; every call carries `now` and appends decisions to `out`.
//
// Owned by one driver (the router service's domain task, or the simulator) and used from that
// driver's thread/strand only; it is not thread-safe. Same config + same calls = same decisions.
//
// Indexing (see README.md): contacts and agents meet in "profiles" = (channel, strategy,
// canonical skill requirements). Each profile keeps an ordered set of waiting contacts
// (priority, SLA deadline, arrival) and an ordered set of agents who are eligible and can take
// a contact on that channel now (ordered by the strategy key). A contact looks only at its
// profile's agent set; a freed agent looks only at the heads of the profiles it is eligible for.
// Both sets live in the profile's own arrays (slot_order.h: priority_buckets for contacts,
// slot_order for agents), so re-keying and head checks never touch the agent or contact record.

#include <array>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>  // kept for includers; the engine itself no longer uses std::set
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>

#include "routing/engine/classifier.h"
#include "routing/engine/config.h"
#include "routing/engine/decision.h"
#include "routing/engine/events.h"
#include "routing/engine/id_table.h"
#include "routing/engine/paged_vector.h"
#include "routing/engine/slot_order.h"
#include "routing/engine/types.h"

namespace omni::routing::engine {

struct queue_view {
  std::string name;
  std::size_t waiting = 0;
  std::size_t offered = 0;
  std::size_t assigned = 0;
  duration longest_wait = 0;  // of the contacts waiting now, since they arrived
  std::uint64_t arrived = 0;  // classified into this queue on arrival
  std::uint64_t answered = 0;
  std::uint64_t answered_within_sla = 0;
  std::uint64_t completed = 0;
  std::uint64_t abandoned = 0;
  std::uint64_t expired = 0;
  std::uint64_t overflowed_in = 0;
  std::uint64_t overflowed_out = 0;
  double service_level = 1.0;  // answered within T / (answered + abandoned + expired)
  double sla_target = 0.8;
  duration average_speed_of_answer = 0;  // mean (answer - arrival) of answered contacts
  double abandonment_rate = 0.0;         // abandoned / (answered + abandoned + expired)
  // Estimated wait of a contact arriving now, per channel the queue serves (nullopt: the
  // channel is not served, or no logged-in agent can ever take it).
  std::array<std::optional<duration>, channel_count> expected_wait;
};

struct agent_view {
  std::string id;
  presence state = presence::offline;
  std::vector<skill_level> skills;
  per_channel capacity{};
  per_channel load{};  // offered + assigned
  per_channel offered{};
  std::array<std::optional<timestamp>, channel_count> wrap_up_until;
  std::vector<std::string> contacts;  // offered or assigned, in the order they were given
  int consecutive_misses = 0;
  std::uint64_t offers = 0;
  std::uint64_t handled = 0;
  std::uint64_t rejected = 0;
  std::uint64_t missed = 0;
  double occupancy = 0.0;    // time with any work / time logged in
  double utilization = 0.0;  // load / capacity over all channels, now
  timestamp idle_since = 0;
};

struct contact_view {
  std::string id;
  channel chan = channel::email;
  contact_state state = contact_state::waiting;
  std::string queue;
  std::string rule;
  int stage = 0;  // escalation steps fired in this queue
  int priority = 0;
  std::string agent;  // offered/assigned agent
  timestamp arrived_at = 0;
  timestamp queue_entered_at = 0;
  timestamp sla_deadline = 0;
  std::optional<std::size_t> position;  // 1-based among contacts competing for the same agents
  std::optional<duration> expected_wait;
  std::vector<std::string> excluded_agents;  // rejected or missed this contact
};

struct engine_totals {
  std::uint64_t arrived = 0;
  std::uint64_t waiting = 0;
  std::uint64_t offered = 0;
  std::uint64_t assigned = 0;
  std::uint64_t completed = 0;
  std::uint64_t abandoned = 0;
  std::uint64_t expired = 0;
  std::uint64_t decisions = 0;
  std::uint64_t agents_known = 0;
  std::uint64_t agents_logged_in = 0;
  std::size_t profiles = 0;
  std::size_t timers = 0;
};

class engine {
 public:
  // Throws std::invalid_argument when validate(config) reports problems (startup only).
  explicit engine(engine_config config);

  // Applies one input at `now` (due timers up to `now` fire first) and appends decisions.
  input_result handle(const input_event& event, timestamp now, std::vector<decision>& out);
  // Fires every timer due at or before `now` (offer timeouts, escalation, max wait, wrap-up).
  void tick(timestamp now, std::vector<decision>& out);
  // When the driver should call tick() next; nullopt when no timer is pending.
  std::optional<timestamp> next_deadline() const;
  // Applies a new config keeping waiting contacts, offers, assignments and agents. Returns the
  // validation errors (and changes nothing) or an empty string.
  std::string reconfigure(engine_config config, timestamp now, std::vector<decision>& out);

  const engine_config& config() const { return config_; }

  std::optional<queue_view> queue_status(std::string_view name, timestamp now) const;
  std::vector<queue_view> queue_statuses(timestamp now) const;
  std::optional<agent_view> agent_status(std::string_view id, timestamp now) const;
  std::optional<contact_view> contact_status(std::string_view id, timestamp now) const;
  // Expected wait of a contact that would arrive now in `queue` on `chan`.
  std::optional<duration> expected_wait(std::string_view queue, channel chan, timestamp now) const;
  engine_totals totals() const;
  std::vector<std::string> agent_ids() const;
  std::vector<std::string> active_contact_ids() const;  // waiting, offered or assigned

  // Recomputes everything by brute force and compares with the indexes; also checks capacity,
  // presence, single holder, conservation of contacts and work conservation. Returns an empty
  // string when all hold, else a description of the first violations. O(agents x contacts).
  std::string check_invariants() const;

  // State export and import (snapshot.cc; README.md, "State export").
  // The domain's state as a versioned, deterministic, checksummed byte string: agents (skills,
  // capacity overrides, presence, idle-since, wrap-up, counters), active contacts (queue, stage,
  // priority parts, holder, exclusions, pending timers), the affinity table, the queues'
  // statistics, the finished-contact dedupe window, round-robin stamps and the sequences that
  // break ties. Not the config. Same state, same bytes.
  std::string export_state() const;
  struct import_summary {
    std::size_t agents = 0;
    std::size_t contacts = 0;
    std::size_t moved = 0;  // contacts whose queue the current config no longer has
  };
  // Loads an export_state() of this format version or an older one into this engine, which must
  // not have handled anything yet. Under the config the state was exported under, the engine is
  // then exactly the exporter (same decisions for the same inputs, same export). Under another
  // config, contacts keep their queue by name (else go to the default queue, an `overflow`
  // decision each) and their rule's index, as reconfigure() does, and matching then runs;
  // decisions go to `out`. Returns "" or
  // why the data was refused (damaged, newer format, references that do not resolve), in which
  // case nothing changed.
  std::string import_state(std::string_view data, std::vector<decision>& out,
                           import_summary* summary = nullptr);

 private:
  static constexpr std::uint32_t npos = 0xffffffffu;

  struct requirement {
    std::uint32_t skill;
    int min;
    bool operator==(const requirement&) const = default;
    auto operator<=>(const requirement&) const = default;
  };

  // Ordering of agents in a profile: ascending (a, b, agent).
  struct agent_key {
    std::int64_t a = 0;
    std::int64_t b = 0;
    std::uint32_t agent = 0;
    auto operator<=>(const agent_key&) const = default;
  };
  // Ordering of waiting contacts: higher priority, earlier SLA deadline, earlier arrival.
  // 24 bytes, so a waiting-heap entry (key + slot) is 32: two sibling groups per 128 bytes.
  struct contact_key {
    static constexpr std::uint32_t excluded_bit = 0x80000000u;
    timestamp sla_deadline = 0;
    std::uint64_t seq = 0;  // unique per contact: decides every tie before `tagged`
    std::int32_t priority = 0;
    // The contact's index, with excluded_bit set when the contact excludes some agent
    // (rejected/missed it): a freed agent skips the contact record when the bit is clear.
    std::uint32_t tagged = 0;
    std::uint32_t contact() const { return tagged & ~excluded_bit; }
    bool has_excluded() const { return (tagged & excluded_bit) != 0; }
    bool operator==(const contact_key&) const = default;
    bool operator<(const contact_key& o) const {
      if (priority != o.priority) return priority > o.priority;
      if (sla_deadline != o.sla_deadline) return sla_deadline < o.sla_deadline;
      if (seq != o.seq) return seq < o.seq;
      return tagged < o.tagged;
    }
  };
  static_assert(sizeof(slot_order<contact_key>::entry) == 32, "see contact_key");

  // Both orders live in the profile's own arrays, each member (an agent's membership, a
  // waiting contact) owning a slot there, so no update or top check touches the agent or
  // contact record. Waiting contacts: priority_buckets (one slot_order per priority: an
  // arrival appends to its priority's sorted run, the best contact is a run's front).
  // Available agents: a slot_order (keys mostly grow: a re-key appends to a sorted run in
  // O(1); per-slot versions mark the old entry stale).
  // Exact rank of a waiting contact among its profile's live waiting keys in O(log n): an
  // order-statistics red-black tree (libstdc++ policy-based data structures).
  using rank_index =
      __gnu_pbds::tree<contact_key, __gnu_pbds::null_type, std::less<contact_key>,
                       __gnu_pbds::rb_tree_tag, __gnu_pbds::tree_order_statistics_node_update>;

  struct profile {
    channel chan = channel::email;
    strategy strat = strategy::longest_idle;
    std::vector<requirement> reqs;          // sorted by skill id
    slot_order<agent_key> available;        // agents eligible and able to take work on chan now
    priority_buckets<contact_key> waiting;  // contacts waiting in this profile
    std::int64_t staffed_slots = 0;         // capacity of logged-in eligible agents on chan
    std::uint64_t rr_clock = 0;
    // The live waiting keys again, ordered with ranks; built by the first position query of
    // the profile and kept in step from then on (the decision path of profiles nobody asks
    // about pays nothing). Mutable: position_of() is a const status query.
    mutable std::unique_ptr<rank_index> ranks;
  };

  enum class timer_kind : std::uint8_t { offer_timeout, escalation, max_wait, wrap_up_end };
  static constexpr std::size_t timer_kind_count = 4;
  struct timer_key {
    timestamp due = 0;
    std::uint64_t seq = 0;  // unique per timer: fires in (due, seq) order
    timer_kind kind = timer_kind::offer_timeout;
    auto operator<=>(const timer_key&) const = default;
  };
  // A pending timer as its owner (contact or agent) holds it: its kind and its slot in that
  // kind's timer order, in 4 bytes; 0 when none.
  class timer_handle {
   public:
    static constexpr std::uint32_t max_slots = (1u << 30) - 1;  // per kind; add_timer() checks
    timer_handle() = default;
    timer_handle(timer_kind k, std::uint32_t slot)
        : v_((slot + 1) | (static_cast<std::uint32_t>(k) << 30)) {}
    explicit operator bool() const { return v_ != 0; }
    void reset() { v_ = 0; }
    timer_kind kind() const { return static_cast<timer_kind>(v_ >> 30); }
    std::uint32_t slot() const { return (v_ & max_slots) - 1; }

   private:
    std::uint32_t v_ = 0;  // slot + 1 | kind << 30
  };
  static_assert(timer_kind_count <= 4, "timer_handle keeps the kind in two bits");

  // A due timer as fire() gets it.
  struct timer_entry {
    timer_key key;
    std::uint32_t target = 0;
    std::uint8_t chan = 0;
  };
  // The pending timers of one kind: a slot_order by (due, seq) (timeouts of a kind mostly
  // come due in the order they were set, so a new timer appends to the sorted run in O(1)), and
  // per slot the owner. A cancelled timer is released at once (its slot's version changes), so
  // no check ever reads an owner's record, and the order drops the stale entry by itself.
  struct timer_order {
    struct owner {
      std::uint32_t target = 0;
      std::uint8_t chan = 0;
      timestamp due = 0;  // the key again, for export_state()
      std::uint64_t seq = 0;
    };
    slot_order<timer_key> order;
    std::vector<owner> owners;  // by slot
  };

  struct age_entry {
    timestamp arrived = 0;
    std::uint64_t seq = 0;
    std::uint32_t contact = 0;
    auto operator<=>(const age_entry&) const = default;
  };

  struct queue_rec {
    queue_config cfg;
    std::vector<std::vector<requirement>> stage_reqs;  // escalation.size() + 1
    std::vector<std::array<std::uint32_t, channel_count>> stage_profiles;
    std::vector<std::uint32_t> step_target;  // overflow target queue per step, npos otherwise
    std::uint32_t max_wait_target = npos;
    bool serves[channel_count] = {};
    // Oldest waiting contact first: arrivals come in time order, so a slot_order (sorted run,
    // O(1) append; requeued contacts keep their old arrival and go to its side heap).
    slot_order<age_entry> by_age;
    std::size_t waiting = 0, offered = 0, assigned = 0;
    std::uint64_t arrived = 0, answered = 0, answered_within_sla = 0, completed = 0, abandoned = 0,
                  expired = 0, overflowed_in = 0, overflowed_out = 0;
    std::int64_t answer_wait_sum = 0;
    std::array<double, channel_count> handle_time{};  // moving average, ms
  };

  // What few contacts need, or only on arrival and completion: out of line, so a contact record
  // is 152 bytes (was 328): fewer cache lines per contact on the decision path, and at 10k
  // agents the 110k records of the benchmark world take 17 MB instead of 36.
  struct contact_more {
    std::string customer_id;              // read on arrival and completion only
    std::optional<history_hint> hint;     // read by the affinity check on arrival
    std::vector<std::uint32_t> excluded;  // agents who rejected or missed the contact
  };

  // Two cache lines, aligned (the pages of contacts_ are): taking a waiting contact or
  // completing one loads exactly two lines, where a 152-byte record spanned three or four.
  // The SLA deadline is not stored: arrival + the current queue's threshold (sla_deadline()).
  struct alignas(64) contact_rec {
    std::string id;
    std::uint32_t queue = npos;
    std::uint32_t profile = npos;
    std::uint32_t agent = npos;
    std::uint32_t waiting_slot = npos;  // its slot in its profile's waiting heap while in_waiting
    std::uint32_t age_slot = npos;      // its slot in its queue's by_age while in_waiting
    int priority = 0;
    std::uint64_t seq = 0;
    timestamp arrived_at = 0;
    timestamp queue_entered_at = 0;
    timestamp assigned_at = 0;
    timer_handle offer_timer, escalation_timer, max_wait_timer;
    std::int16_t stage = 0;  // validate() bounds escalation steps and rules (max_config_index)
    std::int16_t rule = -1;  // -1 default, -2 preclassified
    int base_extra = 0;      // rule + boost + tier
    int raised = 0;          // escalation raises
    channel chan = channel::email;
    contact_state state = contact_state::waiting;
    bool affinity_offer = false;
    bool affinity_checked = false;
    bool max_wait_passed = false;
    bool dirty = false;
    bool in_waiting = false;  // a member of its profile's waiting heap
    std::unique_ptr<contact_more> more;

    bool has_excluded() const { return more && !more->excluded.empty(); }
    contact_more& extra() {
      if (!more) more = std::make_unique<contact_more>();
      return *more;
    }
  };
  static_assert(sizeof(contact_rec) == 128, "two cache lines: see contact_more");

  // An agent's place in one profile: `in_available` = the agent is in the profile's order of
  // available agents, with the key stored here. Brought up to date by flush_agent() (see
  // refresh_agent()). 32 bytes, two per cache line: flush_agent() walks every membership of a
  // channel whose state changed.
  struct membership {
    std::uint32_t profile = npos;
    std::uint32_t slot = npos;                // the agent's slot in the profile's available order
    strategy strat = strategy::longest_idle;  // the profile's, kept here (no profile access)
    bool in_available = false;
    // Round-robin only: the order's last entry for this slot was stored with the key held here
    // now, so when the agent comes back with its stamp unchanged flush_agent() revives that
    // entry (slot_order::revive) instead of storing a copy.
    bool revivable = false;
    std::int32_t staffed = 0;
    // The strategy key's (a, b) as last stored (see key()). most_skilled keeps -skill score in
    // `a` from login on; round_robin keeps its stamp in `b` (its key's b is always 0).
    std::int64_t a = 0;
    std::int64_t b = 0;

    agent_key key(std::uint32_t agent) const {
      if (strat == strategy::round_robin || strat == strategy::longest_idle) return {a, 0, agent};
      return {a, b, agent};
    }
    void store(const agent_key& k) {
      a = k.a;
      if (strat != strategy::round_robin) b = k.b;
    }
  };
  static_assert(sizeof(membership) == 32);

  // Fields in order of use on the decision path (an agent's change touches the first few
  // cache lines only); login-time and status-only fields last.
  struct alignas(64) agent_rec {  // aligned: the decision-path fields are whole lines
    std::string id;               // compared by every lookup, copied into every decision
    presence state = presence::offline;
    bool dirty = false;
    bool heap_pending = false;  // in pending_agents_: its memberships await flush_agent()
    std::array<bool, channel_count> in_wrap{};
    std::array<bool, channel_count> chan_take{};
    int misses = 0;
    per_channel capacity{};
    per_channel load{};
    per_channel offered{};
    // Per channel, the state refresh_agent() left every membership of that channel in
    // (staffed capacity, able to take work): a channel that was and stays unable with the
    // same staffing is skipped without touching its memberships (chan_take above).
    per_channel chan_staffed{};
    timestamp idle_since = 0;
    timestamp accounted_at = 0;
    duration logged_in_ms = 0, busy_ms = 0;  // account_time(), on every load change
    std::uint64_t offers = 0, handled = 0;
    std::vector<std::uint32_t> contacts;
    // The memberships' profile ids, packed (4 bytes each; the channel's vector header within
    // the record's first four lines, which prefetch_agent() loads): a freed agent compares the
    // heads of its profiles reading one or two lines instead of every membership.
    std::array<std::vector<std::uint32_t>, channel_count> member_profiles;
    std::array<std::vector<membership>, channel_count> memberships;  // sorted by profile
    // Status-only and login-time fields last.
    std::uint64_t rejected = 0, missed = 0;
    std::vector<std::pair<std::uint32_t, int>> skills;  // sorted by skill id
    per_channel cap_override{-1, -1, -1, -1, -1};
    std::array<timestamp, channel_count> wrap_until{};
    std::array<timer_handle, channel_count> wrap_timer;
  };

  struct affinity_rec {
    std::uint32_t agent;
    timestamp at;
  };

  // Setup.
  void build(timestamp now, std::vector<decision>& out, bool keep_state);
  std::uint32_t intern_skill(const std::string& name);
  std::uint32_t intern_profile(channel c, strategy s, std::vector<requirement> reqs);
  void compute_memberships(std::uint32_t a);
  void detach_agent(std::uint32_t a);
  void apply_capacity(std::uint32_t a, std::vector<decision>& out);
  std::uint32_t find_queue(std::string_view name) const;
  std::uint32_t profile_of(std::uint32_t q, int stage, channel c) const;

  // Agents.
  bool can_take(const agent_rec& a, channel c) const;
  // `blocked` = blocked_channels(a): the channels the agent's held work blocks (config blocks).
  bool can_take(const agent_rec& a, channel c, std::uint32_t blocked) const;
  std::uint32_t blocked_channels(const agent_rec& a) const;
  bool satisfies(const agent_rec& a, const std::vector<requirement>& reqs) const;
  agent_key key_for(const agent_rec& a, std::uint32_t agent, const membership& m) const;
  // Notes that the agent's state changed; flush_agent() (run by flush_agents() before anything
  // reads an agent order or a membership, and at the end of every match()) recomputes its
  // memberships and the profiles' orders in one pass. An agent freed and offered work within
  // the same match() (the usual case with a backlog) is computed once, and a channel it could
  // not and still cannot serve is skipped; every reader flushes first, so the decisions are
  // those of eager updates.
  void refresh_agent(std::uint32_t a);
  void flush_agent(std::uint32_t a);
  void flush_agents();
  void sync_head(std::uint32_t profile);
  void account_time(agent_rec& a);
  void set_presence(std::uint32_t a, presence p, reason_code why, std::vector<decision>& out);
  void return_offers(std::uint32_t a, bool include_assigned, reason_code why,
                     std::vector<decision>& out);
  void mark_agent(std::uint32_t a);
  const membership* find_membership(const agent_rec& a, std::uint32_t profile) const;
  membership* find_membership(agent_rec& a, std::uint32_t profile);

  // Ids.
  std::uint32_t find_agent(std::string_view id) const;
  std::uint32_t find_contact(std::string_view id) const;                 // active contacts only
  std::uint32_t find_agent(std::string_view id, std::uint64_t h) const;  // h = id_table::hash
  std::uint32_t find_contact(std::string_view id, std::uint64_t h) const;
  // Loading hints (no effect on results): a contact record by its id-table value (an active
  // contact's index; anything else is ignored), an agent record's decision-path fields, and an
  // agent's memberships of one channel.
  void prefetch_contact(std::uint32_t value) const;
  void prefetch_agent(std::uint32_t value) const;
  void prefetch_memberships(const agent_rec& a, std::size_t ci) const;
  std::string_view known_contact_id(std::uint32_t value) const;
  void remember_finished(std::uint32_t c);
  void forget_oldest_finished();

  // Contacts.
  void insert_waiting(std::uint32_t c);
  void erase_waiting(std::uint32_t c);
  void count(const contact_rec& c, int delta, bool totals);
  contact_key key_of(std::uint32_t c) const;
  timestamp sla_deadline(const contact_rec& c) const;  // arrival + its queue's SLA threshold
  // Key of the best waiting contact of `profile` not excluded for agent `a` (nullptr: none).
  const contact_key* best_waiting(std::uint32_t profile, std::uint32_t a) const;
  void mark_contact(std::uint32_t c);
  void release_from_agent(std::uint32_t c);
  void finish(std::uint32_t c, contact_state terminal);
  void schedule_queue_timers(std::uint32_t c);
  void cancel_queue_timers(contact_rec& c);
  void move_to_queue(std::uint32_t c, std::uint32_t q, reason_code why, int step,
                     std::vector<decision>& out);
  void requeue(std::uint32_t c, reason_code why, std::vector<decision>& out);
  void apply_max_wait(std::uint32_t c, std::vector<decision>& out);
  void offer(std::uint32_t c, std::uint32_t a, reason_code why, std::uint32_t candidates,
             bool affinity, std::vector<decision>& out);
  void assign(std::uint32_t c, reason_code why, std::vector<decision>& out);
  void miss_or_reject(std::uint32_t c, bool timeout, std::vector<decision>& out);
  bool excluded(const contact_rec& c, std::uint32_t a) const;
  std::optional<std::uint32_t> affinity_agent(const contact_rec& c) const;

  // Matching: drains dirty contacts and agents until no eligible pair remains.
  void match(std::vector<decision>& out);
  void match_contact(std::uint32_t c, std::vector<decision>& out);
  void match_agent(std::uint32_t a, std::vector<decision>& out);

  // Timers.
  timer_handle add_timer(timestamp due, timer_kind kind, std::uint32_t target, std::uint8_t chan);
  // A timer with a given key (add_timer() numbers it next; import_state() restores its number).
  timer_handle place_timer(const timer_key& key, std::uint32_t target, std::uint8_t chan);
  void cancel_timer(timer_handle& t);
  // The kind whose next timer has the smallest (due, seq); nullopt when no timer is pending.
  std::optional<timer_kind> next_timer_kind() const;
  void fire(const timer_entry& t, std::vector<decision>& out);
  void advance(timestamp now, std::vector<decision>& out);

  // Input handlers.
  input_result on(const agent_login& e, std::vector<decision>& out);
  input_result on(const agent_logout& e, std::vector<decision>& out);
  input_result on(const presence_change& e, std::vector<decision>& out);
  input_result on(const agent_update& e, std::vector<decision>& out);
  input_result on(const contact_arrived& e, std::vector<decision>& out);
  input_result on(const offer_accepted& e, std::vector<decision>& out);
  input_result on(const offer_rejected& e, std::vector<decision>& out);
  input_result on(const offer_timed_out& e, std::vector<decision>& out);
  input_result on(const contact_completed& e, std::vector<decision>& out);
  input_result on(const contact_abandoned& e, std::vector<decision>& out);

  decision& emit(std::vector<decision>& out, decision_kind kind, const contact_rec* c,
                 std::uint32_t a, reason_code why);
  const std::string& rule_name(const contact_rec& c) const;
  std::optional<duration> estimate_wait(std::uint32_t q, std::uint32_t profile,
                                        std::size_t position) const;
  std::vector<requirement> brute_requirements(const contact_rec& c) const;
  std::size_t position_of(std::uint32_t c) const;
  std::optional<timestamp> oldest_waiting(std::uint32_t q) const;
  bool eligible_brute(const agent_rec& a, const std::vector<requirement>& reqs) const;

  // Import.
  struct state_image;
  static std::string read_state(std::string_view data, state_image& img);

  engine_config config_;
  // blocked_by_[h]: bit c set when holding work on channel h blocks offers on c
  // (config_.blocks[h][c]); set by build().
  std::array<std::uint32_t, channel_count> blocked_by_{};
  classifier classifier_;
  timestamp now_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t timer_seq_ = 0;

  std::unordered_map<std::string, std::uint32_t> skill_ids_;
  std::vector<std::string> skill_names_;

  std::vector<queue_rec> queues_;
  // Transparent hash: find_queue() looks up a string_view without building a std::string.
  struct name_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return id_table::hash(s); }
  };
  std::unordered_map<std::string, std::uint32_t, name_hash, std::equal_to<>> queue_ids_;
  std::uint32_t default_queue_ = 0;

  std::vector<profile> profiles_;
  // Per profile, a copy of the waiting heap's top and size in one dense array: a freed agent
  // compares the heads of its ~10-25 profiles without touching each profile's heap memory.
  struct waiting_head {
    contact_key key;  // valid when count > 0
    std::uint32_t count = 0;
  };
  std::vector<waiting_head> heads_;
  std::array<std::size_t, channel_count> waiting_on_{};  // waiting contacts per channel
  std::map<std::tuple<channel, strategy, std::vector<requirement>>, std::uint32_t> profile_ids_;
  std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> profiles_by_anchor_;
  std::vector<std::uint32_t> unconditional_profiles_;

  std::vector<agent_rec> agents_;
  id_table agent_ids_;  // id -> index in agents_

  paged_vector<contact_rec> contacts_;  // pages of 4,096 records: growing never moves one
  std::vector<std::uint32_t> free_contacts_;
  // Active contacts (value = index in contacts_) and the last dedupe_window finished ids
  // (value = finished_bit | index in the recent_ids_ ring, oldest at recent_head_).
  static constexpr std::uint32_t finished_bit = 0x80000000u;
  id_table contact_ids_;
  std::vector<std::string> recent_ids_;
  std::vector<std::uint64_t> recent_hashes_;
  std::size_t recent_head_ = 0;
  std::size_t recent_count_ = 0;

  std::unordered_map<std::string, affinity_rec> affinity_;
  std::deque<std::pair<timestamp, std::string>> affinity_order_;

  std::array<timer_order, timer_kind_count> timers_;
  // No pending timer is due before this (advance() returns at once while now is earlier).
  timestamp earliest_due_ = std::numeric_limits<timestamp>::max();

  std::vector<std::uint32_t> dirty_contacts_;
  std::vector<std::uint32_t> dirty_agents_;
  std::vector<std::uint32_t> pending_agents_;  // heap_pending agents
  std::vector<std::uint32_t> match_batch_;     // match()'s scratch (empty between calls)

  engine_totals totals_;
};

}  // namespace omni::routing::engine
