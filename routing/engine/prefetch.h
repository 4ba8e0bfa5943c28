#pragma once
// Software prefetch of a record before the decision path reads it (engine.cc, inputs.cc).

#include <cstddef>
#include <cstdint>

namespace omni::routing::engine::detail {

// Every cache line of [p, p + bytes). Static: each file gets its own copy, as a file-local helper
// would; with external linkage GCC inlines it differently into flush_agent (callgrind: +5%
// instructions in engine_loop's arrive loop).
static inline void prefetch_lines(const void* p, std::size_t bytes) {
  if (bytes == 0) return;
  const auto first = reinterpret_cast<std::uintptr_t>(p) & ~std::uintptr_t{63};
  const auto last = reinterpret_cast<std::uintptr_t>(p) + bytes - 1;
  for (std::uintptr_t line = first; line <= last; line += 64) {
    __builtin_prefetch(reinterpret_cast<const void*>(line));
  }
}

}  // namespace omni::routing::engine::detail
