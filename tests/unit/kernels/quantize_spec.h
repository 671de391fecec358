// Test-side decoder of the quantized formats, written per element straight from the format
// descriptions (tensor/quant_blocks.h and llama.cpp's block layouts) rather than from the
// production loops, so that a layout mistake in either shows up as a disagreement. Also
// input generators shared by the quantization tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/quant_blocks.h"
#include "util/fp16.h"

namespace autarky::testing {

// How element e of a row is coded: value(code) = scale * level(code) [+ offset], where
// level(code) = grid[code] for the non-linear types and code - zero otherwise. Every code in
// [code_min, code_max] is representable with the block's stored scales.
struct ElementCoding {
  float scale = 0.0f;
  float offset = 0.0f;
  bool has_offset = false;
  int code = 0;
  int code_min = 0;
  int code_max = 0;
  int zero = 0;
  const int8_t* grid = nullptr;

  float Value(int c) const {
    const float level =
        grid != nullptr ? static_cast<float>(grid[c]) : static_cast<float>(c - zero);
    const float v = scale * level;
    return has_offset ? v + offset : v;
  }
  float Value() const { return Value(code); }
};

inline uint32_t LoadLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// Low nibble of byte j holds element j of a 32-group, the high nibble element j + 16.
inline int Nibble32(const uint8_t* qs, int e) { return e < 16 ? qs[e] & 0x0f : qs[e - 16] >> 4; }

// Q4_K/Q5_K 6-bit scale (which = 0) or min (which = 1) of sub-block j.
inline int ScaleMin6(const uint8_t* s, int j, int which) {
  if (j < 4) return s[j + 4 * which] & 63;
  const int low = which == 0 ? s[j + 4] & 0x0f : s[j + 4] >> 4;
  const int high = s[j - 4 + 4 * which] >> 6;
  return low | high << 4;
}

// 2-bit field of element e (0..255) in the Q2_K/Q3_K low-bit array: 32 bytes per 128 elements,
// field (e % 128) / 32 of byte e % 32.
inline int Low2Bits(const uint8_t* qs, int e) {
  return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

inline ElementCoding DecodeElement(DType type, const uint8_t* row, int64_t element) {
  ElementCoding c;
  const int64_t block_elems = Traits(type).block_elems;
  const uint8_t* blk = row + (element / block_elems) * Traits(type).block_bytes;
  const int e = static_cast<int>(element % block_elems);
  switch (type) {
    case DType::kQ4_0: {
      const auto* b = reinterpret_cast<const BlockQ4_0*>(blk);
      c.scale = Fp16ToFp32(b->d);
      c.code = Nibble32(b->qs, e);
      c.code_max = 15;
      c.zero = 8;
      break;
    }
    case DType::kQ4_1: {
      const auto* b = reinterpret_cast<const BlockQ4_1*>(blk);
      c.scale = Fp16ToFp32(b->d);
      c.offset = Fp16ToFp32(b->m);
      c.has_offset = true;
      c.code = Nibble32(b->qs, e);
      c.code_max = 15;
      break;
    }
    case DType::kQ5_0: {
      const auto* b = reinterpret_cast<const BlockQ5_0*>(blk);
      c.scale = Fp16ToFp32(b->d);
      c.code = Nibble32(b->qs, e) | static_cast<int>((LoadLe32(b->qh) >> e) & 1u) << 4;
      c.code_max = 31;
      c.zero = 16;
      break;
    }
    case DType::kQ5_1: {
      const auto* b = reinterpret_cast<const BlockQ5_1*>(blk);
      c.scale = Fp16ToFp32(b->d);
      c.offset = Fp16ToFp32(b->m);
      c.has_offset = true;
      c.code = Nibble32(b->qs, e) | static_cast<int>((LoadLe32(b->qh) >> e) & 1u) << 4;
      c.code_max = 31;
      break;
    }
    case DType::kQ8_0: {
      const auto* b = reinterpret_cast<const BlockQ8_0*>(blk);
      c.scale = Fp16ToFp32(b->d);
      c.code = b->qs[e];
      c.code_min = -128;
      c.code_max = 127;
      break;
    }
    case DType::kQ8_1: {
      const auto* b = reinterpret_cast<const BlockQ8_1*>(blk);
      c.scale = Fp16ToFp32(b->d);
      c.code = b->qs[e];
      c.code_min = -128;
      c.code_max = 127;
      break;
    }
    case DType::kQ2_K: {
      const auto* b = reinterpret_cast<const BlockQ2_K*>(blk);
      const int sub = e / 16;
      c.scale = Fp16ToFp32(b->d) * static_cast<float>(b->scales[sub] & 0x0f);
      c.offset = -(Fp16ToFp32(b->dmin) * static_cast<float>(b->scales[sub] >> 4));
      c.has_offset = true;
      c.code = Low2Bits(b->qs, e);
      c.code_max = 3;
      break;
    }
    case DType::kQ3_K: {
      const auto* b = reinterpret_cast<const BlockQ3_K*>(blk);
      const int sub = e / 16;
      const int low = sub < 8 ? b->scales[sub] & 0x0f : b->scales[sub - 8] >> 4;
      const int high = (b->scales[8 + sub % 4] >> (2 * (sub / 4))) & 3;
      c.scale = Fp16ToFp32(b->d) * static_cast<float>((low | high << 4) - 32);
      c.code = Low2Bits(b->qs, e) | ((b->hmask[e % 32] >> (e / 32)) & 1) << 2;
      c.code_max = 7;
      c.zero = 4;
      break;
    }
    case DType::kQ4_K: {
      const auto* b = reinterpret_cast<const BlockQ4_K*>(blk);
      const int sub = e / 32;
      c.scale = Fp16ToFp32(b->d) * static_cast<float>(ScaleMin6(b->scales, sub, 0));
      c.offset = -(Fp16ToFp32(b->dmin) * static_cast<float>(ScaleMin6(b->scales, sub, 1)));
      c.has_offset = true;
      // Bytes 32p..32p+31 hold sub-block 2p in low nibbles and 2p + 1 in high nibbles.
      c.code = (b->qs[32 * (e / 64) + e % 32] >> (4 * (sub % 2))) & 0x0f;
      c.code_max = 15;
      break;
    }
    case DType::kQ5_K: {
      const auto* b = reinterpret_cast<const BlockQ5_K*>(blk);
      const int sub = e / 32;
      c.scale = Fp16ToFp32(b->d) * static_cast<float>(ScaleMin6(b->scales, sub, 0));
      c.offset = -(Fp16ToFp32(b->dmin) * static_cast<float>(ScaleMin6(b->scales, sub, 1)));
      c.has_offset = true;
      c.code = ((b->qs[32 * (e / 64) + e % 32] >> (4 * (sub % 2))) & 0x0f) |
               ((b->qh[e % 32] >> sub) & 1) << 4;
      c.code_max = 31;
      break;
    }
    case DType::kQ6_K: {
      const auto* b = reinterpret_cast<const BlockQ6_K*>(blk);
      const int half = e / 128, k = (e % 128) / 32, l = e % 32;
      const int low = (b->ql[64 * half + l + 32 * (k % 2)] >> (4 * (k / 2))) & 0x0f;
      const int high = (b->qh[32 * half + l] >> (2 * k)) & 3;
      c.scale = Fp16ToFp32(b->d) * static_cast<float>(b->scales[e / 16]);
      c.code = low | high << 4;
      c.code_max = 63;
      c.zero = 32;
      break;
    }
    case DType::kQ8_K: {
      const auto* b = reinterpret_cast<const BlockQ8_K*>(blk);
      c.scale = b->d;
      c.code = b->qs[e];
      c.code_min = -128;
      c.code_max = 127;
      break;
    }
    case DType::kIQ4_NL: {
      const auto* b = reinterpret_cast<const BlockIQ4_NL*>(blk);
      c.scale = Fp16ToFp32(b->d);
      c.code = Nibble32(b->qs, e);
      c.code_max = 15;
      c.grid = kIq4nlValues;
      break;
    }
    case DType::kIQ4_XS: {
      const auto* b = reinterpret_cast<const BlockIQ4_XS*>(blk);
      const int sub = e / 32;
      const int ls = ((b->scales_l[sub / 2] >> (4 * (sub % 2))) & 0x0f) |
                     ((b->scales_h >> (2 * sub)) & 3) << 4;
      c.scale = Fp16ToFp32(b->d) * static_cast<float>(ls - 32);
      c.code = Nibble32(b->qs + 16 * sub, e % 32);
      c.code_max = 15;
      c.grid = kIq4nlValues;
      break;
    }
    default:
      break;
  }
  return c;
}

// Row generators for the quantization tests ({n} floats each).
enum class RowKind {
  kGaussian,      // N(0, scale^2)
  kNegativeOnly,  // -|N(0, scale^2)|
  kPositiveOnly,
  kOutliers,      // Gaussian with one weight in 37 multiplied by 300
  kSparse,        // Gaussian with three quarters zero
  kHalfIntegers,  // multiples of 0.5 in [-16, 16]: many exact ties in the rounding
  kConstant,      // every weight equal to `scale`
};

inline std::vector<float> MakeRow(RowKind kind, int64_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    float v = normal(rng);
    switch (kind) {
      case RowKind::kGaussian:
        break;
      case RowKind::kNegativeOnly:
        v = -std::fabs(v);
        break;
      case RowKind::kPositiveOnly:
        v = std::fabs(v);
        break;
      case RowKind::kOutliers:
        if (rng() % 37 == 0) v *= 300.0f;
        break;
      case RowKind::kSparse:
        if (rng() % 4 != 0) v = 0.0f;
        break;
      case RowKind::kHalfIntegers:
        v = static_cast<float>(static_cast<int>(rng() % 65) - 32) * 0.5f;
        break;
      case RowKind::kConstant:
        v = scale;
        break;
    }
    x[static_cast<size_t>(i)] = v;
  }
  return x;
}

inline constexpr RowKind kAllRowKinds[] = {
    RowKind::kGaussian, RowKind::kNegativeOnly, RowKind::kPositiveOnly, RowKind::kOutliers,
    RowKind::kSparse,   RowKind::kHalfIntegers, RowKind::kConstant};

// The quantized weight types.
inline constexpr DType kQuantizedWeightTypes[] = {
    DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ8_0,   DType::kQ2_K,
    DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kIQ4_NL, DType::kIQ4_XS};

}  // namespace autarky::testing
