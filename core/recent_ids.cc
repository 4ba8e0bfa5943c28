#include "core/recent_ids.h"

#include <algorithm>
#include <functional>

namespace omni::core {

recent_ids::recent_ids(std::size_t capacity) : capacity_(std::min(capacity, max_capacity)) {
  if (capacity_ == 0) return;
  table_.resize(16);
  mask_ = 15;
}

// The index at most half full (short probe runs), grown with the ring: a window that never fills
// (a quiet domain of a large capacity) costs what it holds, not its capacity.
void recent_ids::grow() {
  table_.assign(table_.size() * 2, entry{});
  mask_ = table_.size() - 1;
  for (std::size_t slot = 0; slot < ring_.size(); ++slot) place(slot, hash_of(ring_[slot]));
}

void recent_ids::place(std::size_t slot, std::uint32_t h) {
  std::size_t i = h & mask_;
  while (table_[i].slot != 0) i = (i + 1) & mask_;
  table_[i] = entry{static_cast<std::uint32_t>(slot + 1), h};
}

std::uint32_t recent_ids::hash_of(std::string_view id) {
  return static_cast<std::uint32_t>(std::hash<std::string_view>{}(id) >> 32);
}

std::size_t recent_ids::find(std::string_view id, std::uint32_t h) const {
  if (table_.empty()) return npos;
  for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
    const entry& e = table_[i];
    if (e.slot == 0) return npos;
    if (e.hash == h && ring_[e.slot - 1] == id) return i;
  }
}

bool recent_ids::contains(std::string_view id) const { return find(id, hash_of(id)) != npos; }

void recent_ids::erase_at(std::size_t i) {
  // Backward shift: pull later entries of the run into the hole unless that would move one before
  // its home position, so every remembered id stays reachable from its home without tombstones.
  for (std::size_t j = i;;) {
    j = (j + 1) & mask_;
    if (table_[j].slot == 0) break;
    const std::size_t home = table_[j].hash & mask_;
    const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays) continue;
    table_[i] = table_[j];
    i = j;
  }
  table_[i] = entry{};
}

bool recent_ids::insert(std::string_view id) {
  const std::uint32_t h = hash_of(id);
  if (find(id, h) != npos) return false;
  if (capacity_ == 0) return true;
  std::size_t slot = 0;
  if (ring_.size() < capacity_) {
    if ((ring_.size() + 1) * 2 > table_.size()) grow();
    ring_.emplace_back(id);
    slot = ring_.size() - 1;
  } else {
    // Full: forget the oldest (slot next_), found by its slot number, and reuse its string buffer.
    slot = next_;
    const std::uint32_t old = hash_of(ring_[slot]);
    std::size_t i = old & mask_;
    while (table_[i].slot != slot + 1) i = (i + 1) & mask_;
    erase_at(i);
    ring_[slot].assign(id);
    next_ = (next_ + 1) % capacity_;
  }
  place(slot, h);
  return true;
}

}  // namespace omni::core
