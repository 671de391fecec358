// Helpers shared by the dot-product kernel tests: the ISAs to test, misaligned buffers, random
// data, and float rounding-error bounds (Higham's gamma_n) for naming tolerances.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <vector>

#include "util/cpu_features.h"
#include "util/fp16.h"

namespace autarky::testing {

// Every SIMD level this CPU (and binary) runs; the scalar level is the reference, not listed.
inline std::vector<Isa> SimdIsasToTest() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
    if (IsaSupported(isa)) isas.push_back(isa);
  }
  return isas;
}

// A zeroed byte buffer whose data() lies `offset` (mod 64) bytes past a 64-byte boundary, so
// kernels see every misalignment, and which ends exactly at data() + size(): AddressSanitizer
// then reports any read past the end.
class MisalignedBuffer {
 public:
  MisalignedBuffer(size_t size, size_t offset)
      : storage_(static_cast<uint8_t*>(::operator new(offset % 64 + size, kAlign))),
        data_(storage_.get() + offset % 64),
        size_(size) {
    std::memset(storage_.get(), 0, offset % 64 + size);
  }

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  static constexpr std::align_val_t kAlign{64};
  struct Free {
    void operator()(uint8_t* p) const { ::operator delete(p, kAlign); }
  };
  std::unique_ptr<uint8_t, Free> storage_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Unit roundoff of float arithmetic with rounding to nearest: 2^-24.
inline constexpr double kFloatUnitRoundoff = FLT_EPSILON / 2;

// gamma_n = n u / (1 - n u): a computation of n float roundings in sequence (a sum of n + 1
// terms, a product of n + 1 factors) has relative error at most gamma_n with respect to the
// sum of the magnitudes of its terms (Higham, Accuracy and Stability, sec. 3.1).
inline double Gamma(int64_t n) {
  const double nu = static_cast<double>(n) * kFloatUnitRoundoff;
  return nu / (1.0 - nu);
}

inline void FillRandomBytes(std::mt19937_64& rng, uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(rng() >> 56);
}

// An F16 with magnitude log-uniform in [lo, hi) and a random sign when `random_sign`.
inline uint16_t RandomF16(std::mt19937_64& rng, float lo, float hi, bool random_sign) {
  std::uniform_real_distribution<float> exponent(std::log2(lo), std::log2(hi));
  float v = std::exp2(exponent(rng));
  if (random_sign && (rng() & 1) != 0) v = -v;
  return Fp32ToFp16(v);
}

// Activation-like floats: each 32-value stretch has its own scale (log-uniform over a few
// decades), values mostly normal around zero with an occasional large outlier and a few exact
// zeros, as hidden states look.
inline std::vector<float> RandomActivations(std::mt19937_64& rng, int64_t k) {
  std::vector<float> x(static_cast<size_t>(k));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> decade(-3.0f, 1.0f);
  float scale = 1.0f;
  for (int64_t i = 0; i < k; ++i) {
    if (i % 32 == 0) scale = std::pow(10.0f, decade(rng));
    const uint64_t r = rng() % 64;
    float v = normal(rng) * scale;
    if (r == 0) v *= 20.0f;
    if (r == 1) v = 0.0f;
    x[static_cast<size_t>(i)] = v;
  }
  return x;
}

}  // namespace autarky::testing
