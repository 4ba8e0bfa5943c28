#include "routing/sim/random.h"

#include <cmath>

namespace omni::routing::sim {

double rng::exponential(double mean) { return -mean * std::log(uniform()); }

double rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  const double u1 = uniform(), u2 = uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  constexpr double two_pi = 6.283185307179586476925286766559;
  spare_ = radius * std::sin(two_pi * u2);
  has_spare_ = true;
  return radius * std::cos(two_pi * u2);
}

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  auto mix = [](std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  return mix(mix(seed) ^ (stream * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull));
}

engine::duration distribution::sample(rng& r) const {
  double v = 0.0;
  switch (kind) {
    case distribution_kind::none:
      return -1;
    case distribution_kind::fixed:
      v = mean_ms;
      break;
    case distribution_kind::exponential:
      v = r.exponential(mean_ms);
      break;
    case distribution_kind::lognormal: {
      if (mean_ms <= 0.0) break;
      // Parameters of the underlying normal from the mean and standard deviation wanted.
      const double ratio = sd_ms / mean_ms;
      const double sigma2 = std::log1p(ratio * ratio);
      const double mu = std::log(mean_ms) - sigma2 / 2.0;
      v = std::exp(mu + std::sqrt(sigma2) * r.normal());
      break;
    }
  }
  if (!(v > 0.0)) return 0;
  if (v > 9.0e15) return static_cast<engine::duration>(9.0e15);
  return static_cast<engine::duration>(std::llround(v));
}

}  // namespace omni::routing::sim
