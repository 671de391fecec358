// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (and Q8_1 dequantization): blocks of 32 weights with one F16
// scale (and offset). Quantization is llama.cpp's reference ("_ref") row quantizer, which
// llama-quantize uses for these types without an importance matrix: one pass, scale from the
// block's extreme value(s), truncating casts with a +0.5 bias rather than round-to-nearest.
#include "kernels/ref/quantize_ref.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "util/fp16.h"

namespace autarky::kernels::ref {
namespace {

constexpr int kHalf = kQK / 2;  // element j of a block shares a byte with element j + kHalf

// The block's element of largest magnitude, with its sign (the first one on ties).
float SignedAbsMax(const float* x) {
  float abs_max = 0.0f;
  float extreme = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    if (abs_max < std::fabs(x[j])) {
      abs_max = std::fabs(x[j]);
      extreme = x[j];
    }
  }
  return extreme;
}

// The C conversion (T)v of llama.cpp's code for an in-range v (see TruncateToInt).
int8_t CastToInt8(float v) { return static_cast<int8_t>(TruncateToInt(v)); }
uint8_t CastToUint8(float v) { return static_cast<uint8_t>(TruncateToInt(v)); }

// Packs the fifth bits of 32 quants (bit j <- bit 4 of q[j]) little-endian into qh.
void StoreHighBits(const uint8_t* q, uint8_t* qh) {
  uint32_t bits = 0;
  for (int j = 0; j < kQK; ++j) bits |= static_cast<uint32_t>((q[j] >> 4) & 1u) << j;
  for (int b = 0; b < 4; ++b) qh[b] = static_cast<uint8_t>(bits >> (8 * b));
}

uint32_t LoadHighBits(const uint8_t* qh) {
  return static_cast<uint32_t>(qh[0]) | static_cast<uint32_t>(qh[1]) << 8 |
         static_cast<uint32_t>(qh[2]) << 16 | static_cast<uint32_t>(qh[3]) << 24;
}

// Two quants per byte: q[j] in the low nibble, q[j + 16] in the high one.
void PackNibbles(const uint8_t* q, uint8_t* qs) {
  for (int j = 0; j < kHalf; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | (q[j + kHalf] & 0x0f) << 4);
  }
}

void MinMax(const float* x, float* min_out, float* max_out) {
  float lo = FLT_MAX;
  float hi = -FLT_MAX;
  for (int j = 0; j < kQK; ++j) {
    if (x[j] < lo) lo = x[j];
    if (x[j] > hi) hi = x[j];
  }
  *min_out = lo;
  *max_out = hi;
}

}  // namespace

void DequantizeQ4_0(const BlockQ4_0* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
    const float d = Fp16ToFp32(src[b].d);
    for (int j = 0; j < kHalf; ++j) {
      dst[j] = static_cast<float>((src[b].qs[j] & 0x0f) - 8) * d;
      dst[j + kHalf] = static_cast<float>((src[b].qs[j] >> 4) - 8) * d;
    }
  }
}

void QuantizeQ4_0(const float* src, BlockQ4_0* dst, int64_t n) {
  uint8_t q[kQK];
  for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
    // The extreme maps to level 0 (-8 * d); the other side reaches at most +7.
    const float d = SignedAbsMax(src) / -8.0f;
    const float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
    dst[b].d = Fp32ToFp16(d);
    for (int j = 0; j < kQK; ++j) {
      q[j] =
          static_cast<uint8_t>(std::min(15, static_cast<int>(CastToInt8(src[j] * inv_d + 8.5f))));
    }
    for (int j = 0; j < kHalf; ++j) dst[b].qs[j] = static_cast<uint8_t>(q[j] | q[j + kHalf] << 4);
  }
}

void DequantizeQ4_1(const BlockQ4_1* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
    const float d = Fp16ToFp32(src[b].d);
    const float m = Fp16ToFp32(src[b].m);
    for (int j = 0; j < kHalf; ++j) {
      dst[j] = static_cast<float>(src[b].qs[j] & 0x0f) * d + m;
      dst[j + kHalf] = static_cast<float>(src[b].qs[j] >> 4) * d + m;
    }
  }
}

void QuantizeQ4_1(const float* src, BlockQ4_1* dst, int64_t n) {
  uint8_t q[kQK];
  for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
    float lo, hi;
    MinMax(src, &lo, &hi);
    const float d = (hi - lo) / 15.0f;
    const float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
    dst[b].d = Fp32ToFp16(d);
    dst[b].m = Fp32ToFp16(lo);
    for (int j = 0; j < kQK; ++j) {
      q[j] = static_cast<uint8_t>(
          std::min(15, static_cast<int>(CastToInt8((src[j] - lo) * inv_d + 0.5f))));
    }
    for (int j = 0; j < kHalf; ++j) dst[b].qs[j] = static_cast<uint8_t>(q[j] | q[j + kHalf] << 4);
  }
}

void DequantizeQ5_0(const BlockQ5_0* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
    const float d = Fp16ToFp32(src[b].d);
    const uint32_t qh = LoadHighBits(src[b].qh);
    for (int j = 0; j < kHalf; ++j) {
      const int lo = (src[b].qs[j] & 0x0f) | static_cast<int>((qh >> j) & 1u) << 4;
      const int hi = (src[b].qs[j] >> 4) | static_cast<int>((qh >> (j + kHalf)) & 1u) << 4;
      dst[j] = static_cast<float>(lo - 16) * d;
      dst[j + kHalf] = static_cast<float>(hi - 16) * d;
    }
  }
}

void QuantizeQ5_0(const float* src, BlockQ5_0* dst, int64_t n) {
  uint8_t q[kQK];
  for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
    const float d = SignedAbsMax(src) / -16.0f;
    const float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
    dst[b].d = Fp32ToFp16(d);
    for (int j = 0; j < kQK; ++j) {
      q[j] =
          static_cast<uint8_t>(std::min(31, static_cast<int>(CastToInt8(src[j] * inv_d + 16.5f))));
    }
    PackNibbles(q, dst[b].qs);
    StoreHighBits(q, dst[b].qh);
  }
}

void DequantizeQ5_1(const BlockQ5_1* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
    const float d = Fp16ToFp32(src[b].d);
    const float m = Fp16ToFp32(src[b].m);
    const uint32_t qh = LoadHighBits(src[b].qh);
    for (int j = 0; j < kHalf; ++j) {
      const int lo = (src[b].qs[j] & 0x0f) | static_cast<int>((qh >> j) & 1u) << 4;
      const int hi = (src[b].qs[j] >> 4) | static_cast<int>((qh >> (j + kHalf)) & 1u) << 4;
      dst[j] = static_cast<float>(lo) * d + m;
      dst[j + kHalf] = static_cast<float>(hi) * d + m;
    }
  }
}

void QuantizeQ5_1(const float* src, BlockQ5_1* dst, int64_t n) {
  uint8_t q[kQK];
  for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
    float lo, hi;
    MinMax(src, &lo, &hi);
    const float d = (hi - lo) / 31.0f;
    const float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
    dst[b].d = Fp32ToFp16(d);
    dst[b].m = Fp32ToFp16(lo);
    // No clamp: (x - min) / d <= 31 up to rounding, and +0.5 then truncation stays <= 31.
    for (int j = 0; j < kQK; ++j) q[j] = CastToUint8((src[j] - lo) * inv_d + 0.5f);
    PackNibbles(q, dst[b].qs);
    StoreHighBits(q, dst[b].qh);
  }
}

void DequantizeQ8_0(const BlockQ8_0* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
    const float d = Fp16ToFp32(src[b].d);
    for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(src[b].qs[j]) * d;
  }
}

void QuantizeQ8_0(const float* src, BlockQ8_0* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
    float abs_max = 0.0f;
    for (int j = 0; j < kQK; ++j) {
      const float a = std::fabs(src[j]);
      abs_max = abs_max > a ? abs_max : a;
    }
    const float d = abs_max / 127.0f;
    const float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
    dst[b].d = Fp32ToFp16(d);
    // Rounds half away from zero (roundf), unlike the K-quants' ties-to-even.
    for (int j = 0; j < kQK; ++j) dst[b].qs[j] = CastToInt8(std::round(src[j] * inv_d));
  }
}

void DequantizeQ8_1(const BlockQ8_1* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
    const float d = Fp16ToFp32(src[b].d);
    for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(src[b].qs[j]) * d;
  }
}

}  // namespace autarky::kernels::ref
