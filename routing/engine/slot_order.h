#pragma once

// Internal to the routing engine: the profile-local orders, whose members are named by small
// integer *slots* owned by the order (acquire() / release()), so re-keying or removing a
// member touches only the order's own memory (never the member's record).
//
// - slot_order: agents available in a profile, and other keys that mostly arrive in
//   increasing order (a sorted run with O(1) appends, a side heap for the rest).
// - priority_buckets: the waiting contacts of a profile; one slot_order per priority, so a
//   contact arriving appends to its priority's run and the best one is taken from a run's
//   front: one or two cache lines each, where a heap of thousands walked its height.
//
// Owned by one engine profile; used from the engine's thread only.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace omni::routing::engine {

// Internal to the routing engine: an ordered set of slots for keys that mostly arrive in
// increasing order (agents re-keyed by "idle since now" or a round-robin clock). A re-key
// appends the new key to a sorted run when it is not smaller than the run's last key (O(1)),
// else pushes it on a small min-heap; the old entry goes stale. Liveness is a per-slot
// version in this structure's own array (never the owner's record). Stale entries are dropped
// when they reach the front, or by a linear compaction (no sort: the run stays sorted) once
// they outnumber live ones. top() is the smaller of the run's and the heap's first live entry.
// An erased slot's entry stays (stale) until dropped; revive() makes it live again in O(1)
// when the owner knows the key has not changed since that entry was stored (an agent back to
// a round-robin order with its old stamp), instead of storing a copy (usually on the heap).
//
// Owned by one engine profile (its available agents); used from the engine's thread only.
template <typename Key>
class slot_order {
 public:
  static constexpr std::uint32_t npos = 0xffffffffu;

  struct entry {
    Key key;
    std::uint32_t slot = npos;
    std::uint32_t version = 0;
  };

  bool empty() const { return live_ == 0; }
  std::size_t size() const { return live_; }

  std::uint32_t acquire() {
    if (!free_.empty()) {
      const std::uint32_t s = free_.back();
      free_.pop_back();
      return s;
    }
    state_.push_back(0);
    return static_cast<std::uint32_t>(state_.size() - 1);
  }
  void release(std::uint32_t s) {
    erase(s);
    state_[s] = ((state_[s] >> 2) + 1) << 2;  // new version: a later owner revives nothing
    free_.push_back(s);
  }
  bool contains(std::uint32_t s) const { return (state_[s] & member_bit) != 0; }

  // Inserts the slot with `k` or moves it to `k`. O(1) when `k` is not below the run's end.
  void set(std::uint32_t s, const Key& k) {
    if (!contains(s)) live_++;
    state_[s] = ((state_[s] >> 2) + 1) << 2 | stored_bit | member_bit;  // new version
    const entry e{k, s, state_[s] >> 2};
    if (run_.size() == head_ || !(k < run_.back().key)) {
      run_.push_back(e);
    } else {
      heap_.push_back(e);
      std::push_heap(heap_.begin(), heap_.end(), later);
    }
    if (run_.size() - head_ + heap_.size() > 2 * live_ + 64) compact();
  }
  void erase(std::uint32_t s) {
    if (!contains(s)) return;
    state_[s] &= ~member_bit;  // same version: its entry stays, stale, revivable
    live_--;
    if (live_ == 0) {
      for (std::size_t i = head_; i < run_.size(); ++i) forget(run_[i]);
      for (const entry& e : heap_) forget(e);
      run_.clear();
      heap_.clear();
      head_ = 0;
    }
  }

  // Makes a non-member slot a member again with the key of its last set(), when that entry
  // is still stored (not dropped or compacted away since erase()); O(1). Returns false (and
  // changes nothing) otherwise: the caller then set()s. The caller guarantees the key it
  // means is the one of the slot's last set().
  bool revive(std::uint32_t s) {
    if (contains(s) || (state_[s] & stored_bit) == 0) return false;
    state_[s] |= member_bit;
    live_++;
    return true;
  }

  // A key no member's key is below (the smaller stored front, stale or not), or nullptr when
  // nothing is stored: a cheap "nothing before k" test that drops no stale entry.
  const Key* lower_bound_key() const {
    const Key* k = run_.size() == head_ ? nullptr : &run_[head_].key;
    if (!heap_.empty() && (k == nullptr || heap_.front().key < *k)) k = &heap_.front().key;
    return k;
  }

  // The smallest member; requires !empty().
  const entry& top() const {
    drop_stale_fronts();
    if (run_.size() == head_) return heap_.front();
    if (heap_.empty() || run_[head_].key < heap_.front().key) return run_[head_];
    return heap_.front();
  }

  // The smallest member for which ok(entry) holds, or nullptr. O(1) when the top qualifies,
  // else a scan of the live entries (the run in order, the heap in full).
  template <typename Ok>
  const entry* min_where(Ok&& ok) const {
    if (live_ == 0) return nullptr;
    const entry& t = top();
    if (ok(t)) return &t;
    const entry* best = nullptr;
    for (std::size_t i = head_; i < run_.size(); ++i) {
      if (live(run_[i]) && ok(run_[i])) {
        best = &run_[i];
        break;  // sorted: the first qualifying live entry is the run's best
      }
    }
    for (const entry& e : heap_) {
      if (live(e) && ok(e) && (best == nullptr || e.key < best->key)) best = &e;
    }
    return best;
  }

  // The live entries (unordered); for invariant checks.
  std::vector<entry> entries() const {
    std::vector<entry> v;
    for_each_live([&](const entry& e) { v.push_back(e); });
    return v;
  }
  // Calls f(entry) for every live entry (unordered), without allocating.
  template <typename F>
  void for_each_live(F&& f) const {
    for (std::size_t i = head_; i < run_.size(); ++i) {
      if (live(run_[i])) f(run_[i]);
    }
    for (const entry& e : heap_) {
      if (live(e)) f(e);
    }
  }
  // The run is sorted, the heap is a heap, each member has exactly one live entry.
  bool valid() const {
    for (std::size_t i = head_ + 1; i < run_.size(); ++i) {
      if (run_[i].key < run_[i - 1].key) return false;
    }
    if (!std::is_heap(heap_.begin(), heap_.end(), later)) return false;
    std::size_t live_entries = 0;
    for_each_live([&](const entry&) { live_entries++; });
    std::size_t members = 0, with_entry = 0, current = 0;
    for (std::size_t s = 0; s < state_.size(); ++s) {
      members += contains(s) ? 1 : 0;
      with_entry += (state_[s] & stored_bit) != 0 ? 1 : 0;
      if (contains(s) && (state_[s] & stored_bit) == 0) return false;
    }
    // Exactly one stored entry carries the current version of each slot marked stored.
    auto is_current = [&](const entry& e) { return state_[e.slot] >> 2 == e.version; };
    for (std::size_t i = head_; i < run_.size(); ++i) current += is_current(run_[i]) ? 1 : 0;
    for (const entry& e : heap_) current += is_current(e) ? 1 : 0;
    return live_entries == live_ && members == live_ && current == with_entry;
  }
  // Entries held, live and stale (bounded by 2 x size() + 64 through compaction).
  std::size_t stored() const { return run_.size() - head_ + heap_.size(); }
  const Key* key(std::uint32_t s) const {
    for (std::size_t i = head_; i < run_.size(); ++i) {
      if (run_[i].slot == s && live(run_[i])) return &run_[i].key;
    }
    for (const entry& e : heap_) {
      if (e.slot == s && live(e)) return &e.key;
    }
    return nullptr;
  }

 private:
  static bool later(const entry& a, const entry& b) { return b.key < a.key; }
  static constexpr std::uint32_t member_bit = 1u;
  static constexpr std::uint32_t stored_bit = 2u;  // the current version's entry is stored
  bool live(const entry& e) const {
    return state_[e.slot] == (e.version << 2 | stored_bit | member_bit);
  }
  // A stale entry leaves the structure: if it carries its slot's current version (an erased,
  // revivable member), the slot can no longer be revived.
  void forget(const entry& e) const {
    if (state_[e.slot] >> 2 == e.version) state_[e.slot] &= ~stored_bit;
  }

  void drop_stale_fronts() const {
    while (head_ < run_.size() && !live(run_[head_])) forget(run_[head_++]);
    if (head_ == run_.size()) {
      run_.clear();
      head_ = 0;
    } else if (head_ > 64 && head_ * 2 > run_.size()) {
      run_.erase(run_.begin(), run_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    while (!heap_.empty() && !live(heap_.front())) {
      forget(heap_.front());
      std::pop_heap(heap_.begin(), heap_.end(), later);
      heap_.pop_back();
    }
  }
  void compact() {
    std::size_t n = 0;
    for (std::size_t i = head_; i < run_.size(); ++i) {
      if (live(run_[i])) {
        run_[n++] = run_[i];
      } else {
        forget(run_[i]);
      }
    }
    run_.resize(n);
    head_ = 0;
    std::erase_if(heap_, [&](const entry& e) {
      if (live(e)) return false;
      forget(e);
      return true;
    });
    std::make_heap(heap_.begin(), heap_.end(), later);
  }

  // Mutable: top() (a const read) drops stale entries it meets at the fronts.
  mutable std::vector<entry> run_;  // sorted by key from head_
  mutable std::size_t head_ = 0;
  mutable std::vector<entry> heap_;  // min-heap of keys that arrived out of order
  // slot -> version << 2 | stored_bit | member_bit; mutable: dropping a stale entry at a
  // front (top(), a const read) clears its slot's stored_bit.
  mutable std::vector<std::uint32_t> state_;
  std::vector<std::uint32_t> free_;
  std::size_t live_ = 0;
};

// The waiting contacts of a profile, ordered by Key (which starts with `priority`, higher
// first): one slot_order per distinct priority, kept in descending priority. Within a priority
// contacts arrive in the order of their key (SLA deadline, then arrival) when the profile's
// queues share one SLA threshold, so an arrival appends to that priority's sorted run in O(1)
// and the best contact is the front of the highest non-empty run; anything else (a requeued or
// escalated contact, mixed thresholds) goes to that run's side heap. A member is named by its
// priority and the slot insert() returned.
template <typename Key>
class priority_buckets {
 public:
  using entry = typename slot_order<Key>::entry;

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  // Adds a member with key `k`; returns its slot within the bucket of k.priority.
  std::uint32_t insert(const Key& k) {
    slot_order<Key>& order = bucket(k.priority);
    const std::uint32_t s = order.acquire();
    order.set(s, k);
    size_++;
    return s;
  }
  // Removes the member inserted with `priority` at slot `s` (and recycles the slot).
  void release(std::int32_t priority, std::uint32_t s) {
    for (auto it = buckets_.begin(); it != buckets_.end(); ++it) {
      if (it->priority != priority) continue;
      it->order.release(s);
      size_--;
      // Few priorities stay in use; drop an emptied bucket only when many exist, so the usual
      // handful are not freed and rebuilt over and over.
      if (it->order.empty() && buckets_.size() > max_idle_buckets) buckets_.erase(it);
      return;
    }
  }
  bool contains(std::int32_t priority, std::uint32_t s) const {
    for (const auto& b : buckets_) {
      if (b.priority == priority) return b.order.contains(s);
    }
    return false;
  }

  // The smallest member; requires !empty().
  const entry& top() const {
    for (const auto& b : buckets_) {
      if (!b.order.empty()) return b.order.top();
    }
    return buckets_.front().order.top();  // unreachable when !empty()
  }
  // The smallest member for which ok(entry) holds, or nullptr.
  template <typename Ok>
  const entry* min_where(Ok&& ok) const {
    for (const auto& b : buckets_) {
      if (const entry* e = b.order.min_where(ok)) return e;
    }
    return nullptr;
  }
  // Calls f(entry) for every member (unordered); for status indexes and invariant checks.
  template <typename F>
  void for_each_live(F&& f) const {
    for (const auto& b : buckets_) b.order.for_each_live(f);
  }
  // Buckets in strictly descending priority, each valid and holding only its priority.
  bool valid() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
      if (i > 0 && !(buckets_[i].priority < buckets_[i - 1].priority)) return false;
      if (!buckets_[i].order.valid()) return false;
      bool same = true;
      buckets_[i].order.for_each_live(
          [&](const entry& e) { same = same && e.key.priority == buckets_[i].priority; });
      if (!same) return false;
      n += buckets_[i].order.size();
    }
    return n == size_;
  }

 private:
  static constexpr std::size_t max_idle_buckets = 8;
  struct bucket_t {
    std::int32_t priority = 0;
    slot_order<Key> order;
  };
  slot_order<Key>& bucket(std::int32_t priority) {
    auto it = buckets_.begin();
    while (it != buckets_.end() && it->priority > priority) ++it;
    if (it == buckets_.end() || it->priority != priority) {
      it = buckets_.insert(it, bucket_t{priority, {}});
    }
    return it->order;
  }

  std::vector<bucket_t> buckets_;  // descending priority
  std::size_t size_ = 0;
};

}  // namespace omni::routing::engine
