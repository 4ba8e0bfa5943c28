#pragma once

// Internal to the routing engine: an addressable 4-ary min-heap whose members are named by
// small integer *slots* owned by the heap (acquire() / release()). Each slot's position in the
// heap lives in a side array of the heap itself, so re-keying or removing a member touches
// only this heap's memory (never the member's record): no stale entries, no liveness checks,
// no compaction. The top is always a current member. Keys need a strict total order
// (operator<) for the order of equal-priority members to be deterministic.
//
// Layout: the entries live in a 64-byte-aligned array whose first `pad` (3) entries are unused,
// so the four children of every node start at a multiple of four entries from the array's
// start. With 32-byte entries (the engine's waiting contacts) a node's children are then
// exactly two cache lines: a sift-down level reads two lines, never three.
//
// Owned by one engine profile (one per agent order and one per waiting-contact order); used
// from the engine's thread only.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <vector>

namespace omni::routing::engine {

// std::allocator with a larger alignment (operator new with std::align_val_t).
template <typename T, std::size_t Align>
struct aligned_allocator {
  using value_type = T;
  template <typename U>
  struct rebind {
    using other = aligned_allocator<U, Align>;
  };
  aligned_allocator() = default;
  template <typename U>
  aligned_allocator(const aligned_allocator<U, Align>&) {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{Align}));
  }
  void deallocate(T* p, std::size_t n) {
    ::operator delete (p, n * sizeof(T), std::align_val_t{Align});
  }
  friend bool operator==(const aligned_allocator&, const aligned_allocator&) { return true; }
};

template <typename Key>
class slot_heap {
 public:
  static constexpr std::uint32_t npos = 0xffffffffu;
  static constexpr std::uint32_t arity = 4;
  // Unused entries before the root: children of logical node i are 4i+1..4i+4, stored at
  // 4(i+1)+0..3, a multiple of four (see the layout note above).
  static constexpr std::uint32_t pad = arity - 1;

  struct entry {
    Key key;
    std::uint32_t slot = npos;
  };

  slot_heap() : store_(pad) {}

  bool empty() const { return size() == 0; }
  std::size_t size() const { return store_.size() - pad; }
  const entry& top() const { return store_[pad]; }
  // Every member, in heap order (not sorted).
  std::span<const entry> entries() const { return {store_.data() + pad, size()}; }

  // A fresh slot, not in the heap yet (reuses released slots).
  std::uint32_t acquire() {
    if (!free_.empty()) {
      const std::uint32_t s = free_.back();
      free_.pop_back();
      return s;
    }
    pos_.push_back(npos);
    return static_cast<std::uint32_t>(pos_.size() - 1);
  }
  // Removes the slot's member (if any) and recycles the slot.
  void release(std::uint32_t s) {
    erase(s);
    free_.push_back(s);
  }

  bool contains(std::uint32_t s) const { return pos_[s] != npos; }
  const Key& key(std::uint32_t s) const { return at(pos_[s]).key; }

  // Inserts a slot that is not a member (the caller knows: this skips reading its position,
  // a cache miss when the heap has many slots). O(log n).
  void insert(std::uint32_t s, const Key& k) {
    const auto i = static_cast<std::uint32_t>(size());
    store_.push_back({k, s});
    sift_up(i);
  }

  // Inserts the slot with `k`, or moves it to `k` if it is a member. O(log n).
  void set(std::uint32_t s, const Key& k) {
    const std::uint32_t i = pos_[s];
    if (i == npos) {
      insert(s, k);
      return;
    }
    const bool up = k < at(i).key;
    at(i).key = k;
    if (up) {
      sift_up(i);
    } else {
      sift_down(i);
    }
  }

  // Removes the slot's member; no-op when it is not one. O(log n).
  void erase(std::uint32_t s) {
    const std::uint32_t i = pos_[s];
    if (i == npos) return;
    pos_[s] = npos;
    const auto last = static_cast<std::uint32_t>(size() - 1);
    if (i == last) {
      store_.pop_back();
      return;
    }
    at(i) = store_.back();
    store_.pop_back();
    if (i > 0 && at(i).key < at((i - 1) / arity).key) {
      sift_up(i);
    } else {
      sift_down(i);
    }
  }

  // The smallest member for which ok(entry) holds, or nullptr; does not modify the heap.
  // Best-first walk of the heap tree from the root, so it visits members in key order and
  // costs O(k log k) for k rejected members (k = 0 in the common case).
  template <typename Ok>
  const entry* min_where(Ok&& ok) const {
    if (empty()) return nullptr;
    if (ok(at(0))) return &at(0);
    auto later = [&](std::uint32_t a, std::uint32_t b) { return at(b).key < at(a).key; };
    std::vector<std::uint32_t> frontier;
    const std::size_t n = size();
    auto push_children = [&](std::uint32_t i) {
      const std::size_t first = static_cast<std::size_t>(i) * arity + 1;
      const std::size_t end = std::min(first + arity, n);
      for (std::size_t c = first; c < end; ++c) {
        frontier.push_back(static_cast<std::uint32_t>(c));
        std::push_heap(frontier.begin(), frontier.end(), later);
      }
    };
    push_children(0);
    while (!frontier.empty()) {
      std::pop_heap(frontier.begin(), frontier.end(), later);
      const std::uint32_t i = frontier.back();
      frontier.pop_back();
      if (ok(at(i))) return &at(i);
      push_children(i);
    }
    return nullptr;
  }

  // Heap order holds and every slot's position points at its entry (for invariant checks).
  bool valid() const {
    std::size_t members = 0;
    for (std::size_t s = 0; s < pos_.size(); ++s) {
      if (pos_[s] == npos) continue;
      members++;
      if (pos_[s] >= size() || at(pos_[s]).slot != s) return false;
    }
    if (members != size()) return false;
    for (std::size_t i = 1; i < size(); ++i) {
      if (at(i).key < at((i - 1) / arity).key) return false;
    }
    return true;
  }

  std::size_t bytes() const {
    return store_.capacity() * sizeof(entry) + (pos_.capacity() + free_.capacity()) * 4;
  }

 private:
  entry& at(std::size_t i) { return store_[i + pad]; }
  const entry& at(std::size_t i) const { return store_[i + pad]; }
  void place(std::uint32_t i, const entry& e) {
    at(i) = e;
    pos_[e.slot] = i;
  }
  void sift_up(std::uint32_t i) {
    const entry e = at(i);
    while (i > 0) {
      const std::uint32_t parent = (i - 1) / arity;
      if (!(e.key < at(parent).key)) break;
      place(i, at(parent));
      i = parent;
    }
    place(i, e);
  }
  void sift_down(std::uint32_t i) {
    const entry e = at(i);
    const std::size_t n = size();
    for (;;) {
      const std::size_t first = static_cast<std::size_t>(i) * arity + 1;
      if (first >= n) break;
      const std::size_t end = std::min(first + arity, n);
      std::size_t best = first;
      for (std::size_t c = first + 1; c < end; ++c) {
        if (at(c).key < at(best).key) best = c;
      }
      if (!(at(best).key < e.key)) break;
      place(i, at(best));
      i = static_cast<std::uint32_t>(best);
    }
    place(i, e);
  }

  // pad unused entries, then the heap (logical index i at store_[i + pad]).
  std::vector<entry, aligned_allocator<entry, 64>> store_;
  std::vector<std::uint32_t> pos_;  // slot -> logical index in the heap, npos when not a member
  std::vector<std::uint32_t> free_;
};

}  // namespace omni::routing::engine

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
    for (std::size_t i = head_; i < run_.size(); ++i) {
      if (live(run_[i])) v.push_back(run_[i]);
    }
    for (const entry& e : heap_) {
      if (live(e)) v.push_back(e);
    }
    return v;
  }
  // The run is sorted, the heap is a heap, each member has exactly one live entry.
  bool valid() const {
    for (std::size_t i = head_ + 1; i < run_.size(); ++i) {
      if (run_[i].key < run_[i - 1].key) return false;
    }
    if (!std::is_heap(heap_.begin(), heap_.end(), later)) return false;
    const auto v = entries();
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
    return v.size() == live_ && members == live_ && current == with_entry;
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

}  // namespace omni::routing::engine
