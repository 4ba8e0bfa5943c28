#pragma once
// A bounded "recently seen" set: the dedupe window every stage keeps against redelivery (the
// contact publisher, the router per domain, the desk read model, the IMAP reply sender, the call
// tracker), each with its own capacity.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace omni::core {

// The last `capacity` distinct ids, exactly (the dedupe window). A ring holds the ids in arrival
// order; an open-addressing index into it (linear probing, backward-shift deletion) keeps 32 bits
// of each id's hash beside its ring slot, so a lookup of a new id — the common case — reads one
// 8-byte entry and compares no string. Memory per id: its std::string in the ring (32 bytes, plus a
// heap buffer for ids over 15 bytes) and 16-32 bytes of index, allocated as the window fills.
// Not thread-safe.
class recent_ids {
 public:
  explicit recent_ids(std::size_t capacity);  // at most 2^30
  bool contains(std::string_view id) const;
  // Remembers `id`, forgetting the oldest when full. Nothing when it is already remembered or the
  // capacity is 0.
  // True when `id` was not remembered yet (a first sighting).
  bool insert(std::string_view id);
  std::size_t size() const { return ring_.size(); }
  // Calls f(std::string_view) for every remembered id, oldest first (what a snapshot writes, and
  // inserting them in this order into an empty set of the same capacity rebuilds this one).
  template <typename F>
  void for_each(F&& f) const {
    const std::size_t first = ring_.size() < capacity_ ? 0 : next_;
    for (std::size_t k = 0; k < ring_.size(); ++k)
      f(std::string_view(ring_[(first + k) % ring_.size()]));
  }

 private:
  struct entry {
    std::uint32_t slot = 0;  // ring index + 1; 0: empty
    std::uint32_t hash = 0;  // the id's hash >> 32; its low bits are the home position
  };
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_capacity = std::size_t{1}
                                              << 30;  // the table's index fits the 32 hash bits
  static std::uint32_t hash_of(std::string_view id);
  std::size_t find(std::string_view id, std::uint32_t h) const;  // table index, or npos
  void erase_at(std::size_t i);
  void grow();
  void place(std::size_t slot, std::uint32_t h);  // index entry for ring slot `slot`

  std::size_t capacity_;
  std::vector<std::string> ring_;
  std::size_t next_ = 0;  // once full: the slot of the oldest id
  std::vector<entry> table_;
  std::size_t mask_ = 0;
};

}  // namespace omni::core
