// Scalar reference of the K-quant family (Q2_K ... Q6_K, IQ4_XS) against Q8_K activations, and
// the scalar Q8_K activation quantizer. Plain per-element integer arithmetic, written straight
// from the block formats: the oracle every SIMD version is tested against.
#include <cmath>
#include <cstring>

#include "kernels/kernel_table.h"
#include "kernels/ref/act_quant_k.h"
#include "tensor/quant_blocks.h"
#include "util/check.h"
#include "util/fp16.h"

namespace autarky::kernels {
namespace {

// Round to nearest even of a value already clamped to [-127, 127]: adding 1.5 * 2^23 pushes the
// fraction out of the mantissa, and the FPU rounds that addition to nearest even.
int RoundClampedToInt(float v) {
  const float shifted = v + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

// Blocks are copied out before use: rows may sit at any byte offset, and the struct fields need
// their natural alignment.
template <class Block>
Block LoadBlock(const void* base, int64_t index) {
  Block block;
  std::memcpy(&block, static_cast<const uint8_t*>(base) + index * sizeof(Block), sizeof block);
  return block;
}

int QuantizeToInt8(float v) {
  if (std::isnan(v)) return 0;
  if (v > 127.0f) v = 127.0f;
  if (v < -127.0f) v = -127.0f;
  return RoundClampedToInt(v);
}

// Scale and min of Q4_K/Q5_K sub-block j (of 32 weights): 6-bit fields of the 12 packed bytes.
// Sub-blocks 0-3 keep their low 6 bits in bytes j (scale) and j + 4 (min); sub-blocks 4-7 keep
// their low 4 bits in byte j + 4 and their top 2 bits in the spare top bits of bytes j - 4, j.
void ScaleMinQ4K(const uint8_t* packed, int j, int* scale, int* min) {
  if (j < 4) {
    *scale = packed[j] & 63;
    *min = packed[j + 4] & 63;
  } else {
    *scale = (packed[j + 4] & 0xf) | ((packed[j - 4] >> 6) << 4);
    *min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
  }
}

// Signed scale of Q3_K sub-block j (of 16 weights): low 4 bits in the nibbles of bytes 0-7,
// top 2 bits in the bit pairs of bytes 8-11, stored with a bias of 32.
int ScaleQ3K(const uint8_t* packed, int j) {
  const int low = j < 8 ? (packed[j] & 0xf) : (packed[j - 8] >> 4);
  const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

// Element e of a Q2_K/Q3_K block: each 128-element half uses 32 bytes of qs, four 2-bit fields
// per byte; the field selected by bits 5-6 of e.
int TwoBitField(const uint8_t* qs, int e) {
  return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

float VecDotQ2K(int64_t k, const void* w, const void* a) {
  DCHECK(k % kQK_K == 0);
  float sum = 0.0f;
  for (int64_t b = 0; b < k / kQK_K; ++b) {
    const auto x = LoadBlock<BlockQ2_K>(w, b);
    const auto y = LoadBlock<BlockQ8_K>(a, b);
    int32_t scaled = 0;  // sum of scale * q * y
    int32_t mins = 0;    // sum of min * y
    for (int e = 0; e < kQK_K; ++e) {
      scaled += (x.scales[e / 16] & 0xf) * TwoBitField(x.qs, e) * y.qs[e];
    }
    for (int j = 0; j < kQK_K / 16; ++j) mins += (x.scales[j] >> 4) * y.bsums[j];
    sum += y.d * (Fp16ToFp32(x.d) * static_cast<float>(scaled) -
                  Fp16ToFp32(x.dmin) * static_cast<float>(mins));
  }
  return sum;
}

float VecDotQ3K(int64_t k, const void* w, const void* a) {
  DCHECK(k % kQK_K == 0);
  float sum = 0.0f;
  for (int64_t b = 0; b < k / kQK_K; ++b) {
    const auto x = LoadBlock<BlockQ3_K>(w, b);
    const auto y = LoadBlock<BlockQ8_K>(a, b);
    int32_t scaled = 0;
    for (int e = 0; e < kQK_K; ++e) {
      // The high bit of element e is bit (e / 32) of hmask[e % 32]; a clear bit means q - 4.
      const int high = (x.hmask[e % 32] >> (e / 32)) & 1;
      const int q = TwoBitField(x.qs, e) - (high ? 0 : 4);
      scaled += ScaleQ3K(x.scales, e / 16) * q * y.qs[e];
    }
    sum += y.d * Fp16ToFp32(x.d) * static_cast<float>(scaled);
  }
  return sum;
}

// Q4_K element e lives in the 64-element chunk e / 64: its 32 bytes hold the first 32 elements
// in the low nibbles and the next 32 in the high nibbles.
int NibbleQ4K(const uint8_t* qs, int e) {
  const uint8_t byte = qs[32 * (e / 64) + e % 32];
  return (e % 64) < 32 ? (byte & 0xf) : (byte >> 4);
}

float VecDotQ4K(int64_t k, const void* w, const void* a) {
  DCHECK(k % kQK_K == 0);
  float sum = 0.0f;
  for (int64_t b = 0; b < k / kQK_K; ++b) {
    const auto x = LoadBlock<BlockQ4_K>(w, b);
    const auto y = LoadBlock<BlockQ8_K>(a, b);
    int32_t scaled = 0;
    int32_t mins = 0;
    for (int j = 0; j < 8; ++j) {
      int scale, min;
      ScaleMinQ4K(x.scales, j, &scale, &min);
      int32_t dot = 0;
      for (int e = 32 * j; e < 32 * j + 32; ++e) dot += NibbleQ4K(x.qs, e) * y.qs[e];
      scaled += scale * dot;
      mins += min * (y.bsums[2 * j] + y.bsums[2 * j + 1]);
    }
    sum += y.d * (Fp16ToFp32(x.d) * static_cast<float>(scaled) -
                  Fp16ToFp32(x.dmin) * static_cast<float>(mins));
  }
  return sum;
}

float VecDotQ5K(int64_t k, const void* w, const void* a) {
  DCHECK(k % kQK_K == 0);
  float sum = 0.0f;
  for (int64_t b = 0; b < k / kQK_K; ++b) {
    const auto x = LoadBlock<BlockQ5_K>(w, b);
    const auto y = LoadBlock<BlockQ8_K>(a, b);
    int32_t scaled = 0;
    int32_t mins = 0;
    for (int j = 0; j < 8; ++j) {
      int scale, min;
      ScaleMinQ4K(x.scales, j, &scale, &min);
      int32_t dot = 0;
      for (int e = 32 * j; e < 32 * j + 32; ++e) {
        // The fifth bit of element e is bit (e / 32) of qh[e % 32].
        const int q = NibbleQ4K(x.qs, e) | (((x.qh[e % 32] >> (e / 32)) & 1) << 4);
        dot += q * y.qs[e];
      }
      scaled += scale * dot;
      mins += min * (y.bsums[2 * j] + y.bsums[2 * j + 1]);
    }
    sum += y.d * (Fp16ToFp32(x.d) * static_cast<float>(scaled) -
                  Fp16ToFp32(x.dmin) * static_cast<float>(mins));
  }
  return sum;
}

float VecDotQ6K(int64_t k, const void* w, const void* a) {
  DCHECK(k % kQK_K == 0);
  float sum = 0.0f;
  for (int64_t b = 0; b < k / kQK_K; ++b) {
    const auto x = LoadBlock<BlockQ6_K>(w, b);
    const auto y = LoadBlock<BlockQ8_K>(a, b);
    int32_t scaled = 0;
    for (int e = 0; e < kQK_K; ++e) {
      // Each 128-element half has 64 ql bytes (elements 0-63 in the low nibbles, 64-127 in the
      // high ones) and 32 qh bytes (four 2-bit fields, field (e % 128) / 32 of byte e % 32).
      const int half = e / 128, i = e % 128;
      const uint8_t ql = x.ql[64 * half + i % 64];
      const int low = i < 64 ? (ql & 0xf) : (ql >> 4);
      const int high = (x.qh[32 * half + i % 32] >> (2 * (i / 32))) & 3;
      scaled += x.scales[e / 16] * ((low | (high << 4)) - 32) * y.qs[e];
    }
    sum += y.d * Fp16ToFp32(x.d) * static_cast<float>(scaled);
  }
  return sum;
}

float VecDotIQ4XS(int64_t k, const void* w, const void* a) {
  DCHECK(k % kQK_K == 0);
  float sum = 0.0f;
  for (int64_t b = 0; b < k / kQK_K; ++b) {
    const auto x = LoadBlock<BlockIQ4_XS>(w, b);
    const auto y = LoadBlock<BlockQ8_K>(a, b);
    int32_t scaled = 0;
    for (int j = 0; j < 8; ++j) {
      const int low = (x.scales_l[j / 2] >> (4 * (j % 2))) & 0xf;
      const int high = (x.scales_h >> (2 * j)) & 3;
      const int scale = (low | (high << 4)) - 32;
      int32_t dot = 0;
      for (int i = 0; i < 32; ++i) {
        // Sub-block j: 16 bytes, the first 16 elements in the low nibbles, the rest high.
        const uint8_t byte = x.qs[16 * j + i % 16];
        dot += kIq4nlValues[i < 16 ? (byte & 0xf) : (byte >> 4)] * y.qs[32 * j + i];
      }
      scaled += scale * dot;
    }
    sum += y.d * Fp16ToFp32(x.d) * static_cast<float>(scaled);
  }
  return sum;
}

}  // namespace

void QuantizeBlockQ8KRef(const float* x, void* y) {
  BlockQ8_K block;
  float amax = 0.0f;
  float max = 0.0f;  // the signed value of largest magnitude, the first one on ties
  for (int j = 0; j < kQK_K; ++j) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  if (amax == 0.0f) {
    std::memset(&block, 0, sizeof block);  // d = 0 and every quant and sum 0
  } else {
    // -127 rather than 127 keeps every quant in [-127, 127] (never -128), which the SIMD dot
    // products rely on when they flip signs of activations.
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQK_K; ++j) {
      block.qs[j] = static_cast<int8_t>(QuantizeToInt8(iscale * x[j]));
    }
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += block.qs[16 * j + i];
      block.bsums[j] = static_cast<int16_t>(sum);
    }
    block.d = 1.0f / iscale;
  }
  std::memcpy(y, &block, sizeof block);
}

void QuantizeRowQ8KRef(const float* x, void* y, int64_t k) {
  DCHECK(k % kQK_K == 0);
  for (int64_t b = 0; b < k / kQK_K; ++b) {
    QuantizeBlockQ8KRef(x + b * kQK_K, static_cast<uint8_t*>(y) + b * sizeof(BlockQ8_K));
  }
}

namespace {

template <VecDotFn kVecDot>
WeightKernels Q8KEntry() {
  return WeightKernels{DType::kQ8_K, QuantizeRowQ8KRef, kVecDot, GemmFromVecDot<kVecDot>};
}

}  // namespace

void RegisterKQuantsScalar(KernelRegistry& registry) {
  registry.Set(DType::kQ2_K, Q8KEntry<VecDotQ2K>());
  registry.Set(DType::kQ3_K, Q8KEntry<VecDotQ3K>());
  registry.Set(DType::kQ4_K, Q8KEntry<VecDotQ4K>());
  registry.Set(DType::kQ5_K, Q8KEntry<VecDotQ5K>());
  registry.Set(DType::kQ6_K, Q8KEntry<VecDotQ6K>());
  registry.Set(DType::kIQ4_XS, Q8KEntry<VecDotIQ4XS>());
}

}  // namespace autarky::kernels
