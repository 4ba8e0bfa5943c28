#pragma once
// The wall clock in the events' unit (milliseconds since the Unix epoch). One definition for every
// module that stamps events; the routing engine does not read it (its clock is injected).

#include <chrono>

#include "core/events/events.h"

namespace omni::core {

inline timestamp_ms now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace omni::core
