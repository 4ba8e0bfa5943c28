#pragma once

// Internal to the routing engine: string id -> 32-bit slot, as an open-addressing hash table
// (linear probing, power-of-two size, backward-shift deletion, no tombstones). It stores only
// a 32-bit fold of the id's hash and the slot (8 bytes an entry, eight to a cache line); the id
// itself lives in the owner's record and is compared on every hit (`id_of(slot)`), so lookups
// are exact. One flat array: a lookup is one hash and usually one cache line, with no node
// allocation. Owned by the engine; same thread.

#include <cstdint>
#include <cstring>
#include <functional>
#include <string_view>
#include <vector>

namespace omni::routing::engine {

class id_table {
 public:
  static constexpr std::uint32_t npos = 0xffffffffu;

  // A short-key hash for ids and names (most are under 24 bytes): 16 bytes per step through a
  // 64x64->128-bit multiply folded to 64 bits, the last 1-16 bytes read as two overlapping words.
  // About a fifth of the instructions of std::hash (MurmurHash2 over every byte, ~60 for a
  // 7-byte id), with every input bit reaching the low bits that pick the home slot.
  static std::uint64_t hash(std::string_view id) {
    constexpr std::uint64_t k0 = 0x9e3779b97f4a7c15ull, k1 = 0xbf58476d1ce4e5b9ull,
                            k2 = 0x94d049bb133111ebull;
    const char* p = id.data();
    std::size_t n = id.size();
    std::uint64_t h = k0 ^ (n * k1);
    for (; n > 16; p += 16, n -= 16) h = fold(load8(p) ^ k1 ^ h, load8(p + 8) ^ k2);
    std::uint64_t a = 0, b = 0;
    if (n >= 8) {
      a = load8(p);
      b = load8(p + n - 8);
    } else if (n >= 4) {
      a = load4(p);
      b = load4(p + n - 4);
    } else if (n > 0) {
      const auto byte = [&](std::size_t i) {
        return static_cast<std::uint64_t>(static_cast<unsigned char>(p[i]));
      };
      a = byte(0) << 16 | byte(n / 2) << 8 | byte(n - 1);
    }
    return fold(a ^ k1 ^ h, b ^ k2 ^ n);
  }

  // Position of `id` in the table, or npos. IdOf: std::string_view(std::uint32_t slot).
  template <typename IdOf>
  std::uint32_t position(std::string_view id, std::uint64_t h, const IdOf& id_of) const {
    if (slots_.empty()) return npos;
    const std::uint32_t t = tag(h);
    for (std::size_t i = t & mask_;; i = (i + 1) & mask_) {
      const entry& e = slots_[i];
      if (e.value == npos) return npos;
      if (e.tag == t && id_of(e.value) == id) return static_cast<std::uint32_t>(i);
    }
  }

  template <typename IdOf>
  std::uint32_t find(std::string_view id, const IdOf& id_of) const {
    return find(id, hash(id), id_of);
  }
  template <typename IdOf>
  std::uint32_t find(std::string_view id, std::uint64_t h, const IdOf& id_of) const {
    const std::uint32_t p = position(id, h, id_of);
    return p == npos ? npos : slots_[p].value;
  }

  // Starts loading the home slot of hash `h` (a hint; no effect on results).
  void prefetch(std::uint64_t h) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[tag(h) & mask_]);
  }
  // The value of the first entry whose tag matches `h` (npos: none), without comparing ids:
  // a guess used to start loading the owner's record before the exact find() compares it.
  std::uint32_t peek(std::uint64_t h) const {
    if (slots_.empty()) return npos;
    const std::uint32_t t = tag(h);
    for (std::size_t i = t & mask_;; i = (i + 1) & mask_) {
      const entry& e = slots_[i];
      if (e.value == npos || e.tag == t) return e.value;
    }
  }

  std::uint32_t value_at(std::uint32_t position) const { return slots_[position].value; }
  void set_value_at(std::uint32_t position, std::uint32_t value) { slots_[position].value = value; }

  // The caller guarantees the id is not present.
  void insert(std::uint64_t h, std::uint32_t value) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const std::uint32_t t = tag(h);
    std::size_t i = t & mask_;
    while (slots_[i].value != npos) i = (i + 1) & mask_;
    slots_[i] = {t, value};
    size_++;
  }

  void erase_at(std::uint32_t position) {
    // Backward shift: move later entries of the probe run into the hole when their home slot
    // is not between the hole and themselves.
    std::size_t hole = position;
    for (std::size_t j = (hole + 1) & mask_; slots_[j].value != npos; j = (j + 1) & mask_) {
      const std::size_t home = slots_[j].tag & mask_;
      const bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
      if (movable) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = {};
    size_--;
  }

  std::size_t size() const { return size_; }
  std::size_t bytes() const { return slots_.capacity() * sizeof(entry); }

 private:
  struct entry {
    std::uint32_t tag = 0;  // tag(hash): the home slot is tag & mask_ (tables < 2^32 slots)
    std::uint32_t value = npos;
  };
  static_assert(sizeof(entry) == 8);

  static std::uint64_t fold(std::uint64_t a, std::uint64_t b) {
    __extension__ typedef unsigned __int128 u128;  // GCC/Clang; __extension__: -Wpedantic
    const u128 r = static_cast<u128>(a) * b;
    return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
  }
  static std::uint64_t load8(const char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  static std::uint64_t load4(const char* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }

  static std::uint32_t tag(std::uint64_t h) { return static_cast<std::uint32_t>(h ^ (h >> 32)); }

  void grow() {
    std::vector<entry> old = std::move(slots_);
    slots_.assign(old.empty() ? 64 : old.size() * 2, entry{});
    mask_ = slots_.size() - 1;
    for (const entry& e : old) {
      if (e.value == npos) continue;
      std::size_t i = e.tag & mask_;
      while (slots_[i].value != npos) i = (i + 1) & mask_;
      slots_[i] = e;
    }
  }

  std::vector<entry> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace omni::routing::engine
