// IEEE half (F16) and bfloat16 (BF16) <-> float conversions, bit-exact with llama.cpp's.
// Functions are `static inline` on purpose: SIMD translation units include this header, and
// internal linkage keeps their ISA-specific copies from replacing the baseline ones at link time.
#pragma once

#include <cstdint>
#include <cstring>

namespace autarky {

static inline uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
static inline float BitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// F16 -> F32 is exact for every input.
static inline float Fp16ToFp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return BitsToFloat(sign | 0x7f800000u | (mantissa << 13));  // inf/nan
  if (exponent != 0) return BitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
  if (mantissa == 0) return BitsToFloat(sign);
  // Subnormal half: value = mantissa * 2^-24, exactly representable as a float.
  const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
  return BitsToFloat(sign | FloatBits(magnitude));
}

// F32 -> F16 with round-to-nearest-even, overflow to infinity, NaN to the quiet NaN 0x7e00.
static inline uint16_t Fp32ToFp16(float f) {
  const uint32_t bits = FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (abs_bits >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65520: infinity
  if (abs_bits >= 0x38800000u) {                       // normal half range (>= 2^-14)
    // Rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to nearest even.
    const uint32_t rebiased = abs_bits - (112u << 23);
    const uint32_t round_bias = 0xfffu + ((rebiased >> 13) & 1u);
    return sign | static_cast<uint16_t>((rebiased + round_bias) >> 13);
  }
  if (abs_bits < 0x33000000u) return sign;  // below half the smallest subnormal: +-0
  // Subnormal result: value / 2^-24 rounded to nearest even integer (exact float arithmetic,
  // because the FPU rounds to nearest even when adding the 2^23 magic constant).
  const float scaled = BitsToFloat(abs_bits) * 16777216.0f;  // * 2^24, exact
  const float rounded = (scaled + 8388608.0f) - 8388608.0f;
  return sign | static_cast<uint16_t>(rounded);
}

static inline float Bf16ToFp32(uint16_t h) { return BitsToFloat(static_cast<uint32_t>(h) << 16); }

// F32 -> BF16 with round-to-nearest-even; NaN keeps its payload's top bits and is made quiet.
static inline uint16_t Fp32ToBf16(float f) {
  const uint32_t bits = FloatBits(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 64u);
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

}  // namespace autarky
