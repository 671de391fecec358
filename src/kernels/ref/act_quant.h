// Scalar quantizers of F32 activation rows to the Q8_0 / Q8_1 dot-product types: the reference
// that every SIMD activation quantizer must reproduce bit for bit.
#pragma once

#include <cstdint>

namespace autarky::kernels::ref {

// Both quantizers, per block of 32 values x:
//   d = F16(max|x| / 127); stored as d. With df = F32(d): id = df != 0 ? 1 / df : 0,
//   q = clamp(round_half_even(x * id), -127, 127).
// Dividing by the *stored* (rounded) scale, unlike llama.cpp which uses the unrounded one, keeps
// |x - df * q| <= df / 2 (plus one rounding of x * id) whenever df is a normal F16. The clamp
// matters only when df is an F16 subnormal; it also keeps -128 out, which the sign-trick kernels
// (|w| * sign(a, w)) need. Non-finite inputs give unspecified (but defined) quants.
// Q8_1 additionally stores s = F16(df * sum(q)), the block sum the offset weight types need.
// `k` is a multiple of 32.
void QuantizeActQ8_0(const float* x, void* y, int64_t k);  // y: k / 32 BlockQ8_0
void QuantizeActQ8_1(const float* x, void* y, int64_t k);  // y: k / 32 BlockQ8_1

// Round half to even of a float, valid for |v| <= 2^22 (the quantizers clamp first): adding
// 1.5 * 2^23 leaves the rounded integer in the low mantissa bits, the FPU rounding to nearest
// even exactly as the SIMD conversions (cvtps2dq, fcvtns) do.
static inline int32_t RoundHalfEven(float v) {
  const float shifted = v + 12582912.0f;
  uint32_t bits;
  __builtin_memcpy(&bits, &shifted, sizeof bits);
  return static_cast<int32_t>(bits & 0x007fffffu) - 0x00400000;
}

}  // namespace autarky::kernels::ref
