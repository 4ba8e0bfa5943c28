#pragma once

// Internal to the routing engine: an append-only array of records in fixed pages of
// 2^PageBits elements. Unlike std::vector, growing never moves a record: no copy of the whole
// table (hundreds of MB at 100k agents, a stall of the routing thread) and no spare capacity
// of up to the table's size again; references stay valid. Indexing is one shift into a small,
// cache-resident page table. Owned by the engine; same thread.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace omni::routing::engine {

template <typename T, unsigned PageBits = 12>
class paged_vector {
 public:
  static constexpr std::size_t page_size = std::size_t{1} << PageBits;

  T& operator[](std::size_t i) { return pages_[i >> PageBits][i & (page_size - 1)]; }
  const T& operator[](std::size_t i) const { return pages_[i >> PageBits][i & (page_size - 1)]; }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  T& emplace_back() {
    if ((size_ & (page_size - 1)) == 0 && (size_ >> PageBits) == pages_.size()) {
      pages_.push_back(std::make_unique<T[]>(page_size));
    }
    return (*this)[size_++];
  }

  void clear() {
    pages_.clear();
    size_ = 0;
  }

  // Index-based iteration (for status queries and invariant checks).
  template <typename Self, typename Ref>
  class basic_iterator {
   public:
    basic_iterator(Self* v, std::size_t i) : v_(v), i_(i) {}
    Ref operator*() const { return (*v_)[i_]; }
    basic_iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const basic_iterator& o) const { return i_ != o.i_; }

   private:
    Self* v_;
    std::size_t i_;
  };
  using iterator = basic_iterator<paged_vector, T&>;
  using const_iterator = basic_iterator<const paged_vector, const T&>;
  iterator begin() { return {this, 0}; }
  iterator end() { return {this, size_}; }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size_}; }

  // Memory held by the pages (all allocated, whole pages).
  std::size_t bytes() const { return pages_.size() * page_size * sizeof(T); }

 private:
  std::vector<std::unique_ptr<T[]>> pages_;
  std::size_t size_ = 0;
};

}  // namespace omni::routing::engine
