// Typed scalar row converters behind kernels/quantize.h, one pair per stored type, plus the
// rounding helpers the families share. Each function converts `n` elements, a whole number of
// blocks (callers check); quantizers follow llama.cpp's llama-quantize (no importance matrix)
// operation for operation so that their bytes match it exactly.
#pragma once

// Bit-exactness needs every float operation rounded on its own, as in ggml's FMA-free x86-64
// build: the whole project compiles with -ffp-contract=off (CMakeLists.txt), because GCC fuses
// a*b+c into one multiply-add by default even for ISO C++ (on AArch64, and with -mfma).

#include <cstdint>
#include <cstring>

#include "tensor/quant_blocks.h"

namespace autarky::kernels::ref {

// ---- float family (quantize_float.cc)
void DequantizeF16(const uint16_t* src, float* dst, int64_t n);
void QuantizeF16(const float* src, uint16_t* dst, int64_t n);
void DequantizeBf16(const uint16_t* src, float* dst, int64_t n);
void QuantizeBf16(const float* src, uint16_t* dst, int64_t n);

// ---- legacy 32-weight blocks (quantize_legacy.cc)
void DequantizeQ4_0(const BlockQ4_0* src, float* dst, int64_t n);
void QuantizeQ4_0(const float* src, BlockQ4_0* dst, int64_t n);
void DequantizeQ4_1(const BlockQ4_1* src, float* dst, int64_t n);
void QuantizeQ4_1(const float* src, BlockQ4_1* dst, int64_t n);
void DequantizeQ5_0(const BlockQ5_0* src, float* dst, int64_t n);
void QuantizeQ5_0(const float* src, BlockQ5_0* dst, int64_t n);
void DequantizeQ5_1(const BlockQ5_1* src, float* dst, int64_t n);
void QuantizeQ5_1(const float* src, BlockQ5_1* dst, int64_t n);
void DequantizeQ8_0(const BlockQ8_0* src, float* dst, int64_t n);
void QuantizeQ8_0(const float* src, BlockQ8_0* dst, int64_t n);
void DequantizeQ8_1(const BlockQ8_1* src, float* dst, int64_t n);  // activation type

// ---- K-quants, 256-weight super-blocks (quantize_kquants.cc)
void DequantizeQ2_K(const BlockQ2_K* src, float* dst, int64_t n);
void QuantizeQ2_K(const float* src, BlockQ2_K* dst, int64_t n);
void DequantizeQ3_K(const BlockQ3_K* src, float* dst, int64_t n);
void QuantizeQ3_K(const float* src, BlockQ3_K* dst, int64_t n);
void DequantizeQ4_K(const BlockQ4_K* src, float* dst, int64_t n);
void QuantizeQ4_K(const float* src, BlockQ4_K* dst, int64_t n);
void DequantizeQ5_K(const BlockQ5_K* src, float* dst, int64_t n);
void QuantizeQ5_K(const float* src, BlockQ5_K* dst, int64_t n);
void DequantizeQ6_K(const BlockQ6_K* src, float* dst, int64_t n);
void QuantizeQ6_K(const float* src, BlockQ6_K* dst, int64_t n);
void DequantizeQ8_K(const BlockQ8_K* src, float* dst, int64_t n);  // activation type

// ---- non-linear 4-bit (quantize_iq4.cc)
void DequantizeIQ4_NL(const BlockIQ4_NL* src, float* dst, int64_t n);
void QuantizeIQ4_NL(const float* src, BlockIQ4_NL* dst, int64_t n);
void DequantizeIQ4_XS(const BlockIQ4_XS* src, float* dst, int64_t n);
void QuantizeIQ4_XS(const float* src, BlockIQ4_XS* dst, int64_t n);

// ---- shared helpers (static inline: internal linkage, no cross-TU inline symbols)

// Round to nearest, ties to even, for |v| <= 2^22 - 1: adding 1.5 * 2^23 leaves the rounded
// integer in the low mantissa bits. Outside that range (or for inf/NaN) the result is garbage
// but well defined, as in llama.cpp, whose callers clamp it.
static inline int RoundToNearestInt(float v) {
  const float shifted = v + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

// C's float -> integer conversion (truncation toward zero) as x86-64's cvttss2si performs it,
// which is what llama.cpp's casts compile to: out-of-range and NaN give INT32_MIN. Defined for
// every input, unlike a plain cast (blocks of denormals make llama.cpp scale by infinity).
static inline int32_t TruncateToInt(float v) {
  if (v > -2147483648.0f && v < 2147483648.0f) return static_cast<int32_t>(v);
  return INT32_MIN;
}

}  // namespace autarky::kernels::ref
