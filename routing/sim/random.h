#pragma once
// Seeded random numbers and the handle-time / patience / accept-delay distributions of the
// simulator. The generator is std::mt19937_64 (its output sequence is fixed by the standard);
// every distribution is computed here (inverse transform, Box-Muller) rather than with the
// std:: distributions, whose algorithms differ between library versions, so the same seed gives
// the same report byte for byte everywhere. Plain values; one owner, no threads.

#include <cstdint>
#include <random>

#include "routing/engine/types.h"

namespace omni::routing::sim {

// One independent stream of random numbers.
class rng {
 public:
  explicit rng(std::uint64_t seed) : gen_(seed) {}

  // Uniform in the open interval (0, 1).
  double uniform() {
    return (static_cast<double>(gen_() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  }
  // Exponential with the given mean (inverse transform).
  double exponential(double mean);
  // Standard normal (Box-Muller; the second value of each pair is kept for the next call).
  double normal();

 private:
  std::mt19937_64 gen_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// A seed for stream `stream` of a run seeded with `seed` (splitmix64 of both), so that each
// arrival stream, agent group and purpose draws from its own sequence: changing one part of a
// scenario does not shift the random numbers of the others, and two configs compared with the
// same seed see the same contacts.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream);

enum class distribution_kind : std::uint8_t { none, fixed, exponential, lognormal };

// A distribution of durations in milliseconds. `none` means "never" (no abandonment) and samples
// as -1.
struct distribution {
  distribution_kind kind = distribution_kind::none;
  double mean_ms = 0.0;
  double sd_ms = 0.0;  // lognormal only

  static distribution fixed(engine::duration d) {
    return {distribution_kind::fixed, static_cast<double>(d), 0.0};
  }
  static distribution exponential(engine::duration mean) {
    return {distribution_kind::exponential, static_cast<double>(mean), 0.0};
  }
  static distribution lognormal(engine::duration mean, engine::duration sd) {
    return {distribution_kind::lognormal, static_cast<double>(mean), static_cast<double>(sd)};
  }

  bool is_set() const { return kind != distribution_kind::none; }
  // A sample rounded to whole milliseconds (>= 0), or -1 for `none`.
  engine::duration sample(rng& r) const;
};

}  // namespace omni::routing::sim
