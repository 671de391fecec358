// The sampler's random generator: xoshiro256** seeded through splitmix64, defined here in full
// so that a seed gives the same stream on every platform, compiler and standard library (the
// distributions of <random> are implementation-defined).
#pragma once

#include <cstdint>

namespace autarky {

// splitmix64 (Steele, Lea, Flood 2014): spreads one 64-bit seed over the xoshiro state, so
// that nearby seeds (0, 1, 2...) give unrelated streams and the state is never all zero.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ull;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// xoshiro256** 1.0 (Blackman, Vigna 2018): fast, 256 bits of state, passes BigCrush.
class Xoshiro256 {
 public:
  explicit Xoshiro256(uint64_t seed) { Seed(seed); }

  void Seed(uint64_t seed) {
    SplitMix64 mix(seed);
    for (uint64_t& word : s_) word = mix.Next();
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

  // Uniform in [0, 1) on the grid k * 2^-53: the top 53 bits fill a double's mantissa exactly,
  // so the conversion involves no rounding and is the same everywhere.
  double NextDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace autarky
