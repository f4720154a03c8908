// Deterministic random numbers.
//
// CounterHash gives a stateless uniform number for (seed, counter): dropout
// masks and shuffles depend only on the seed and a position, so CPU and CUDA
// draw identical masks and a resumed run reproduces the same stream. Rng is a
// small sequential generator (SplitMix64-seeded xoshiro256**) for data
// generation and parameter initialisation. Neither is thread-safe; use one Rng
// per thread.
#ifndef LADLE_COMMON_RANDOM_H_
#define LADLE_COMMON_RANDOM_H_

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define LADLE_HOST_DEVICE __host__ __device__
#else
#define LADLE_HOST_DEVICE
#endif

namespace ladle {

LADLE_HOST_DEVICE inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Uniform in [0, 1) from (seed, counter), 24 bits of mantissa.
LADLE_HOST_DEVICE inline float CounterUniform(uint64_t seed, uint64_t counter) {
  const uint64_t h = SplitMix64(seed ^ SplitMix64(counter));
  return static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (auto& s : s_) {
      x += 0x9E3779B97F4A7C15ULL;
      s = SplitMix64(x);
    }
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // Uniform integer in [0, n); n > 0. Lemire's unbiased method is overkill
  // here; the modulo bias for n < 2^32 is below 2^-32.
  uint64_t Below(uint64_t n) { return Next() % n; }

  // Standard normal (Box-Muller; one value per call for simplicity and
  // reproducibility).
  double Normal() {
    double u1 = Uniform();
    while (u1 <= 0.0) u1 = Uniform();
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace ladle

#endif  // LADLE_COMMON_RANDOM_H_
