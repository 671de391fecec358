// IQ4_NL and IQ4_XS: 4-bit indices into the non-uniform grid kIq4nlValues, scaled per
// 32-weight group (IQ4_NL: F16 scale per group; IQ4_XS: 6-bit group scales under one F16
// super-scale per 256). llama-quantize always uses the searching quantizer for these types,
// here without an importance matrix: each group's scale is the best weighted (w = x^2)
// least-squares fit over 16 candidate grid alignments, then weights are re-indexed against
// the scale as stored.
#include "kernels/ref/quantize_ref.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "util/fp16.h"

namespace autarky::kernels::ref {
namespace {

constexpr int kGroup = 32;
constexpr int kGroupsPerXs = kQK_K / kGroup;
// Below this magnitude a group counts as all zero (llama.cpp's GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;
// Candidate alignments tried on each side of the extreme-to-end-of-grid one.
constexpr int kAlignSteps = 7;

float Level(int index) { return static_cast<float>(kIq4nlValues[index]); }

// Index of the grid value nearest to v (the upper one on exact ties), by bisection of the
// sorted grid; NaN maps to the top index.
int NearestIndex(float v) {
  if (v <= Level(0)) return 0;
  if (v >= Level(15)) return 15;
  int lo = 0;
  int hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (v < Level(mid)) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return v - Level(hi - 1) < Level(hi) - v ? hi - 1 : hi;
}

// Best scale for one group of 32 weights (0 when the group is all zero).
float FitGroupScale(const float* x) {
  float abs_max = 0.0f;
  float extreme = 0.0f;
  for (int j = 0; j < kGroup; ++j) {
    if (std::fabs(x[j]) > abs_max) {
      abs_max = std::fabs(x[j]);
      extreme = x[j];
    }
  }
  if (abs_max < kGroupMaxEps) return 0.0f;
  // Sums of w*q*x and w*q*q over the group when indexing with inverse scale `inv`.
  auto sums = [x](float inv, float* sum_qx, float* sum_qq) {
    float qx = 0.0f, qq = 0.0f;
    for (int j = 0; j < kGroup; ++j) {
      const float q = Level(NearestIndex(inv * x[j]));
      const float w = x[j] * x[j];
      qx += w * q * x[j];
      qq += w * q * q;
    }
    *sum_qx = qx;
    *sum_qq = qq;
  };
  // First candidate: the extreme on the grid's far end (-127, the largest magnitude).
  float d = -extreme / Level(0);
  float sum_qx, sum_qq;
  sums(1.0f / d, &sum_qx, &sum_qq);
  d = sum_qq > 0.0f ? sum_qx / sum_qq : 0.0f;
  float best = d * sum_qx;  // = sum_qx^2 / sum_qq, the error reduction to maximize
  for (int step = -kAlignSteps; step <= kAlignSteps; ++step) {
    sums(static_cast<float>(step + kIq4nlValues[0]) / extreme, &sum_qx, &sum_qq);
    if (sum_qq > 0.0f && sum_qx * sum_qx > best * sum_qq) {
      d = sum_qx / sum_qq;
      best = d * sum_qx;
    }
  }
  return d;
}

// Indices of 32 weights against scale d, packed two per byte (j low, j + 16 high nibble).
void IndexAndPack(const float* x, float d, uint8_t* qs) {
  const float inv = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < kGroup / 2; ++j) {
    const int lo = NearestIndex(inv * x[j]);
    const int hi = NearestIndex(inv * x[j + kGroup / 2]);
    qs[j] = static_cast<uint8_t>(lo | hi << 4);
  }
}

}  // namespace

void DequantizeIQ4_NL(const BlockIQ4_NL* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
    const float d = Fp16ToFp32(src[b].d);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = d * Level(src[b].qs[j] & 0x0f);
      dst[j + kQK / 2] = d * Level(src[b].qs[j] >> 4);
    }
  }
}

void QuantizeIQ4_NL(const float* src, BlockIQ4_NL* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
    const float d = FitGroupScale(src);
    dst[b].d = Fp32ToFp16(d);
    // Indexed against the unrounded scale, as llama.cpp does.
    IndexAndPack(src, d, dst[b].qs);
  }
}

void DequantizeIQ4_XS(const BlockIQ4_XS* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = Fp16ToFp32(src[b].d);
    const uint8_t* qs = src[b].qs;
    for (int g = 0; g < kGroupsPerXs; ++g, dst += kGroup, qs += kGroup / 2) {
      const int ls = ((src[b].scales_l[g / 2] >> (4 * (g % 2))) & 0x0f) |
                     ((src[b].scales_h >> (2 * g)) & 3) << 4;
      const float dl = d * static_cast<float>(ls - 32);
      for (int j = 0; j < kGroup / 2; ++j) {
        dst[j] = dl * Level(qs[j] & 0x0f);
        dst[j + kGroup / 2] = dl * Level(qs[j] >> 4);
      }
    }
  }
}

void QuantizeIQ4_XS(const float* src, BlockIQ4_XS* dst, int64_t n) {
  float scales[kGroupsPerXs];
  for (int64_t b = 0; b < n / kQK_K; ++b, src += kQK_K) {
    BlockIQ4_XS& y = dst[b];
    float max_scale = 0.0f;
    float abs_max = 0.0f;
    for (int g = 0; g < kGroupsPerXs; ++g) {
      scales[g] = FitGroupScale(src + kGroup * g);
      if (std::fabs(scales[g]) > abs_max) {
        abs_max = std::fabs(scales[g]);
        max_scale = scales[g];
      }
    }
    // Group scales become 6-bit signed multiples of d in [-32, 31], the largest mapping to -32
    // (an all-zero super-block stores d = -0).
    const float d = -max_scale / 32.0f;
    y.d = Fp32ToFp16(d);
    const float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
    uint32_t scales_h = 0;
    std::memset(y.scales_l, 0, sizeof y.scales_l);
    for (int g = 0; g < kGroupsPerXs; ++g) {
      const int l = std::max(-32, std::min(31, RoundToNearestInt(inv_d * scales[g])));
      // Indexed against the group scale as stored, in float (d unrounded).
      IndexAndPack(src + kGroup * g, d * static_cast<float>(l), y.qs + kGroup / 2 * g);
      const auto stored = static_cast<unsigned>(l + 32);
      y.scales_l[g / 2] =
          static_cast<uint8_t>(y.scales_l[g / 2] | (stored & 0x0f) << (4 * (g % 2)));
      scales_h |= (stored >> 4) << (2 * g);
    }
    y.scales_h = static_cast<uint16_t>(scales_h);
  }
}

}  // namespace autarky::kernels::ref
