// K-quants Q2_K..Q6_K (and Q8_K dequantization): 256-weight super-blocks of 16- or 32-weight
// sub-blocks whose scales (and mins) are themselves quantized against one F16 super-scale.
// Quantization follows llama.cpp's reference row quantizers, which llama-quantize uses for these
// types without an importance matrix: a per-sub-block scale search (symmetric for Q3_K/Q6_K,
// scale + min for Q2_K/Q4_K/Q5_K), then quantized scales, then the weights re-quantized
// against the scales as stored.
#include "kernels/ref/quantize_ref.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "util/fp16.h"

namespace autarky::kernels::ref {
namespace {

// Below this magnitude a group counts as all zero (llama.cpp's GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

int Clamp(int v, int lo, int hi) { return std::max(lo, std::min(hi, v)); }

// ---- scale searches (one sub-block of n weights)

// Symmetric levels l in [-nmax, nmax): picks the scale minimizing the x^2-weighted squared
// error among the least-squares scales of 19 candidate roundings (nmax + 0.1 * is, is in
// [-9, 9]). The extreme weight sets the sign so that it lands on -nmax. Writes l + nmax to
// levels; returns the scale (0 for an all-zero group, whose levels are all 0).
float FitSymmetricScale(int n, int nmax, const float* x, int8_t* levels) {
  float abs_max = 0.0f;
  float extreme = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > abs_max) {
      abs_max = std::fabs(x[i]);
      extreme = x[i];
    }
  }
  if (abs_max < kGroupMaxEps) {
    std::memset(levels, 0, static_cast<size_t>(n));
    return 0.0f;
  }
  const float fnmax = static_cast<float>(nmax);
  // Sums for inverse scale `inv`: sum w*x*l and sum w*l^2 with w = x^2.
  auto sums = [&](float inv, float* sum_xl, float* sum_ll, int8_t* out) {
    float xl = 0.0f, ll = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = Clamp(RoundToNearestInt(inv * x[i]), -nmax, nmax - 1);
      if (out != nullptr) out[i] = static_cast<int8_t>(l + nmax);
      const float w = x[i] * x[i];
      const float fl = static_cast<float>(l);
      xl += w * x[i] * fl;
      ll += w * fl * fl;
    }
    *sum_xl = xl;
    *sum_ll = ll;
  };
  float sum_xl, sum_ll;
  sums(-fnmax / extreme, &sum_xl, &sum_ll, levels);
  float scale = sum_ll != 0.0f ? sum_xl / sum_ll : 0.0f;
  float best = scale * sum_xl;  // = sum_xl^2 / sum_ll, the error reduction to maximize
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    const float inv = -(fnmax + 0.1f * static_cast<float>(step)) / extreme;
    sums(inv, &sum_xl, &sum_ll, nullptr);
    if (sum_ll > 0.0f && sum_xl * sum_xl > best * sum_ll) {
      sums(inv, &sum_xl, &sum_ll, levels);
      scale = sum_xl / sum_ll;
      best = scale * sum_xl;
    }
  }
  return scale;
}

// Symmetric levels in [-nmax, nmax) for Q3_K: rounds at the extreme's scale, then improves
// the x^2-weighted least-squares fit one weight at a time (up to 5 sweeps). Writes l + nmax
// (levels stay 0 for an all-zero group); returns the scale.
float FitQ3Scale(int n, int nmax, const float* x, int8_t* levels) {
  float abs_max = 0.0f;
  float extreme = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > abs_max) {
      abs_max = std::fabs(x[i]);
      extreme = x[i];
    }
  }
  if (abs_max < kGroupMaxEps) {
    std::memset(levels, 0, static_cast<size_t>(n));
    return 0.0f;
  }
  const float inv = -static_cast<float>(nmax) / extreme;
  float sum_xl = 0.0f;
  float sum_ll = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = Clamp(RoundToNearestInt(inv * x[i]), -nmax, nmax - 1);
    levels[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sum_xl += w * x[i] * static_cast<float>(l);
    sum_ll += w * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int sweep = 0; sweep < 5; ++sweep) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      const float old_l = static_cast<float>(levels[i]);
      float xl = sum_xl - w * x[i] * old_l;
      if (!(xl > 0.0f)) continue;
      float ll = sum_ll - w * old_l * old_l;
      const int l = Clamp(RoundToNearestInt(x[i] * ll / xl), -nmax, nmax - 1);
      if (l == levels[i]) continue;
      const float fl = static_cast<float>(l);
      xl += w * x[i] * fl;
      ll += w * fl * fl;
      // Keep the change if it raises sum_xl^2 / sum_ll (cross-multiplied).
      if (ll > 0.0f && xl * xl * sum_ll > sum_xl * sum_xl * ll) {
        levels[i] = static_cast<int8_t>(l);
        sum_xl = xl;
        sum_ll = ll;
        ++changed;
      }
    }
    if (changed == 0) break;
  }
  for (int i = 0; i < n; ++i) levels[i] = static_cast<int8_t>(levels[i] + nmax);
  return sum_ll > 0.0f ? sum_xl / sum_ll : 0.0f;
}

// Levels in [0, nmax] for x ~ scale * l - min (min >= 0 returned in *min_out): starts from
// the range [min(x, 0), max(x)] and tries nstep + 1 other level spacings (nmax + rmin +
// rdelta * is steps over the range), each with the weighted least-squares scale and offset,
// keeping the one of least weighted error (absolute if use_abs, else squared).
float FitScaleAndMin(int n, int nmax, const float* x, const float* weights, uint8_t* levels,
                     float* min_out, float rmin, float rdelta, int nstep, bool use_abs) {
  uint8_t trial[32];
  float lo = x[0];
  float hi = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
    sum_w += weights[i];
    sum_x += weights[i] * x[i];
  }
  if (lo > 0.0f) lo = 0.0f;
  if (hi == lo) {
    std::memset(levels, 0, static_cast<size_t>(n));
    *min_out = -lo;
    return 0.0f;
  }
  const float fnmax = static_cast<float>(nmax);
  auto error_term = [use_abs](float diff) { return use_abs ? std::fabs(diff) : diff * diff; };
  float inv = fnmax / (hi - lo);
  float scale = 1.0f / inv;
  float best_error = 0.0f;
  for (int i = 0; i < n; ++i) {
    levels[i] = static_cast<uint8_t>(Clamp(RoundToNearestInt(inv * (x[i] - lo)), 0, nmax));
    best_error += weights[i] * error_term(scale * static_cast<float>(levels[i]) + lo - x[i]);
  }
  for (int step = 0; step <= nstep; ++step) {
    inv = (rmin + rdelta * static_cast<float>(step) + fnmax) / (hi - lo);
    float sum_l = 0.0f, sum_ll = 0.0f, sum_xl = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = Clamp(RoundToNearestInt(inv * (x[i] - lo)), 0, nmax);
      trial[i] = static_cast<uint8_t>(l);
      const float fl = static_cast<float>(l);
      sum_l += weights[i] * fl;
      sum_ll += weights[i] * fl * fl;
      sum_xl += weights[i] * fl * x[i];
    }
    const float det = sum_w * sum_ll - sum_l * sum_l;
    if (!(det > 0.0f)) continue;
    float trial_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float trial_min = (sum_ll * sum_x - sum_l * sum_xl) / det;
    if (trial_min > 0.0f) {  // the offset may only lower values: refit the scale alone
      trial_min = 0.0f;
      trial_scale = sum_xl / sum_ll;
    }
    float error = 0.0f;
    for (int i = 0; i < n; ++i) {
      error +=
          weights[i] * error_term(trial_scale * static_cast<float>(trial[i]) + trial_min - x[i]);
    }
    if (error < best_error) {
      std::memcpy(levels, trial, static_cast<size_t>(n));
      best_error = error;
      scale = trial_scale;
      lo = trial_min;
    }
  }
  *min_out = -lo;
  return scale;
}

// ---- bit packing shared by several types

// Q2_K/Q3_K low bits: byte l of each 32-byte half holds 2-bit levels l, l+32, l+64, l+96 of
// that half's 128 weights, lowest first.
void Pack2Bits(const uint8_t* levels, uint8_t* qs) {
  for (int half = 0; half < kQK_K; half += 128) {
    for (int l = 0; l < 32; ++l) {
      qs[half / 4 + l] =
          static_cast<uint8_t>(levels[half + l] | levels[half + l + 32] << 2 |
                               levels[half + l + 64] << 4 | levels[half + l + 96] << 6);
    }
  }
}

// Q4_K/Q5_K: 8 pairs of 6-bit (scale, min). Sub-blocks 0-3 use the low 6 bits of bytes 0-3
// (scales) and 4-7 (mins); 4-7 put their low 4 bits in bytes 8-11 and their top 2 bits in the
// spare top bits of bytes 0-7.
void PackScaleMin6(const uint8_t* sc, const uint8_t* mn, uint8_t* packed) {
  for (int j = 0; j < 4; ++j) {
    packed[j] = sc[j];
    packed[j + 4] = mn[j];
  }
  for (int j = 4; j < 8; ++j) {
    packed[j + 4] = static_cast<uint8_t>((sc[j] & 0x0f) | (mn[j] & 0x0f) << 4);
    packed[j - 4] = static_cast<uint8_t>(packed[j - 4] | (sc[j] >> 4) << 6);
    packed[j] = static_cast<uint8_t>(packed[j] | (mn[j] >> 4) << 6);
  }
}

void UnpackScaleMin6(int j, const uint8_t* packed, uint8_t* sc, uint8_t* mn) {
  if (j < 4) {
    *sc = packed[j] & 63;
    *mn = packed[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((packed[j + 4] & 0x0f) | (packed[j - 4] >> 6) << 4);
    *mn = static_cast<uint8_t>((packed[j + 4] >> 4) | (packed[j] >> 6) << 4);
  }
}

// Q3_K: sixteen 6-bit values; low nibbles of 0-7 / 8-15 in the low / high nibbles of bytes
// 0-7, top 2 bits of value j at bit 2 * (j / 4) of byte 8 + j % 4.
int UnpackQ3Scale(int j, const uint8_t* packed) {
  const int low = j < 8 ? packed[j] & 0x0f : packed[j - 8] >> 4;
  const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
  return low | high << 4;
}

// The asymmetric K-quants (Q4_K, Q5_K) share everything but the level count and search
// parameters; `levels` receives 256 levels in [0, nmax].
void QuantizeScaleMinSuperBlock(const float* x, int nmax, float rmin, int nstep, uint16_t* d_out,
                                uint16_t* dmin_out, uint8_t* packed_scales, uint8_t* levels) {
  constexpr int kSub = 32;
  float scales[kQK_K / kSub];
  float mins[kQK_K / kSub];
  float weights[kSub];
  float max_scale = 0.0f;
  float max_min = 0.0f;
  for (int j = 0; j < kQK_K / kSub; ++j) {
    const float* xs = x + kSub * j;
    float sum_sq = 0.0f;
    for (int l = 0; l < kSub; ++l) sum_sq += xs[l] * xs[l];
    // Weight each error by its magnitude plus the sub-block's RMS.
    const float rms = std::sqrt(sum_sq / 32.0f);
    for (int l = 0; l < kSub; ++l) weights[l] = rms + std::fabs(xs[l]);
    scales[j] = FitScaleAndMin(kSub, nmax, xs, weights, levels + kSub * j, &mins[j], rmin, 0.1f,
                               nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
  uint8_t q_scales[kQK_K / kSub];
  uint8_t q_mins[kQK_K / kSub];
  for (int j = 0; j < kQK_K / kSub; ++j) {
    // Narrowed to a byte before clamping, as llama.cpp does.
    q_scales[j] =
        std::min<uint8_t>(63, static_cast<uint8_t>(RoundToNearestInt(inv_scale * scales[j])));
    q_mins[j] = std::min<uint8_t>(63, static_cast<uint8_t>(RoundToNearestInt(inv_min * mins[j])));
  }
  PackScaleMin6(q_scales, q_mins, packed_scales);
  *d_out = Fp32ToFp16(max_scale / 63.0f);
  *dmin_out = Fp32ToFp16(max_min / 63.0f);
  const float d_all = Fp16ToFp32(*d_out);
  const float dmin_all = Fp16ToFp32(*dmin_out);
  for (int j = 0; j < kQK_K / kSub; ++j) {
    uint8_t sc, mn;
    UnpackScaleMin6(j, packed_scales, &sc, &mn);
    const float d = d_all * static_cast<float>(sc);
    if (d == 0.0f) continue;  // keep the search's levels; they dequantize to -dm anyway
    const float dm = dmin_all * static_cast<float>(mn);
    for (int l = 0; l < kSub; ++l) {
      const float v = x[kSub * j + l];
      levels[kSub * j + l] = static_cast<uint8_t>(Clamp(RoundToNearestInt((v + dm) / d), 0, nmax));
    }
  }
}

}  // namespace

// ---- Q2_K

void DequantizeQ2_K(const BlockQ2_K* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = Fp16ToFp32(src[b].d);
    const float dmin = Fp16ToFp32(src[b].dmin);
    const uint8_t* q = src[b].qs;
    int sub = 0;
    for (int half = 0; half < kQK_K; half += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part, ++sub) {
          const uint8_t sc = src[b].scales[sub];
          const float dl = d * static_cast<float>(sc & 0x0f);
          const float ml = dmin * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l) {
            *dst++ = dl * static_cast<float>((q[16 * part + l] >> shift) & 3) - ml;
          }
        }
      }
    }
  }
}

void QuantizeQ2_K(const float* src, BlockQ2_K* dst, int64_t n) {
  constexpr int kSub = 16;
  uint8_t levels[kQK_K];
  float weights[kSub];
  float scales[kQK_K / kSub];
  float mins[kQK_K / kSub];
  for (int64_t b = 0; b < n / kQK_K; ++b, src += kQK_K) {
    BlockQ2_K& y = dst[b];
    float max_scale = 0.0f;
    float max_min = 0.0f;
    for (int j = 0; j < kQK_K / kSub; ++j) {
      const float* xs = src + kSub * j;
      for (int l = 0; l < kSub; ++l) weights[l] = std::fabs(xs[l]);
      scales[j] =
          FitScaleAndMin(kSub, 3, xs, weights, levels + kSub * j, &mins[j], -0.5f, 0.1f, 15, true);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    // 4-bit scale (low nibble) and min (high nibble) per sub-block, each against a super-scale.
    if (max_scale > 0.0f) {
      const float inv = 15.0f / max_scale;
      for (int j = 0; j < kQK_K / kSub; ++j) {
        y.scales[j] = static_cast<uint8_t>(RoundToNearestInt(inv * scales[j]));
      }
      y.d = Fp32ToFp16(max_scale / 15.0f);
    } else {
      std::memset(y.scales, 0, sizeof y.scales);
      y.d = Fp32ToFp16(0.0f);
    }
    if (max_min > 0.0f) {
      const float inv = 15.0f / max_min;
      for (int j = 0; j < kQK_K / kSub; ++j) {
        const auto l = static_cast<unsigned>(RoundToNearestInt(inv * mins[j]));
        y.scales[j] = static_cast<uint8_t>(y.scales[j] | l << 4);
      }
      y.dmin = Fp32ToFp16(max_min / 15.0f);
    } else {
      y.dmin = Fp32ToFp16(0.0f);
    }
    const float d_all = Fp16ToFp32(y.d);
    const float dmin_all = Fp16ToFp32(y.dmin);
    for (int j = 0; j < kQK_K / kSub; ++j) {
      const float d = d_all * static_cast<float>(y.scales[j] & 0x0f);
      if (d == 0.0f) continue;
      const float dm = dmin_all * static_cast<float>(y.scales[j] >> 4);
      for (int l = 0; l < kSub; ++l) {
        const float v = src[kSub * j + l];
        levels[kSub * j + l] = static_cast<uint8_t>(Clamp(RoundToNearestInt((v + dm) / d), 0, 3));
      }
    }
    Pack2Bits(levels, y.qs);
  }
}

// ---- Q3_K

void DequantizeQ3_K(const BlockQ3_K* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d_all = Fp16ToFp32(src[b].d);
    const uint8_t* q = src[b].qs;
    const uint8_t* hmask = src[b].hmask;
    uint8_t bit = 1;
    int sub = 0;
    for (int half = 0; half < kQK_K; half += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, bit = static_cast<uint8_t>(bit << 1)) {
        for (int part = 0; part < 2; ++part, ++sub) {
          const float dl = d_all * static_cast<float>(UnpackQ3Scale(sub, src[b].scales) - 32);
          for (int l = 0; l < 16; ++l) {
            const int i = 16 * part + l;
            // A clear high bit means the level is 4 lower (levels run -4..3).
            const int level = ((q[i] >> shift) & 3) - ((hmask[i] & bit) != 0 ? 0 : 4);
            *dst++ = dl * static_cast<float>(level);
          }
        }
      }
    }
  }
}

void QuantizeQ3_K(const float* src, BlockQ3_K* dst, int64_t n) {
  constexpr int kSub = 16;
  int8_t levels[kQK_K];
  float scales[kQK_K / kSub];
  for (int64_t b = 0; b < n / kQK_K; ++b, src += kQK_K) {
    BlockQ3_K& y = dst[b];
    float max_scale = 0.0f;
    float abs_max = 0.0f;
    for (int j = 0; j < kQK_K / kSub; ++j) {
      scales[j] = FitQ3Scale(kSub, 4, src + kSub * j, levels + kSub * j);
      if (std::fabs(scales[j]) > abs_max) {
        abs_max = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    std::memset(y.scales, 0, sizeof y.scales);
    if (max_scale != 0.0f) {
      // 6-bit signed sub-scales in [-32, 31], stored +32; the largest maps to -32.
      const float inv = -32.0f / max_scale;
      for (int j = 0; j < kQK_K / kSub; ++j) {
        const auto rounded = static_cast<int8_t>(RoundToNearestInt(inv * scales[j]));
        const auto l = static_cast<unsigned>(Clamp(rounded, -32, 31) + 32);
        if (j < 8) {
          y.scales[j] = static_cast<uint8_t>(l & 0x0f);
        } else {
          y.scales[j - 8] = static_cast<uint8_t>(y.scales[j - 8] | (l & 0x0f) << 4);
        }
        y.scales[8 + j % 4] = static_cast<uint8_t>(y.scales[8 + j % 4] | (l >> 4) << (2 * (j / 4)));
      }
      y.d = Fp32ToFp16(1.0f / inv);
    } else {
      y.d = Fp32ToFp16(0.0f);
    }
    const float d_all = Fp16ToFp32(y.d);
    for (int j = 0; j < kQK_K / kSub; ++j) {
      const float d = d_all * static_cast<float>(UnpackQ3Scale(j, y.scales) - 32);
      if (d == 0.0f) continue;
      for (int l = 0; l < kSub; ++l) {
        const int q = Clamp(RoundToNearestInt(src[kSub * j + l] / d), -4, 3);
        levels[kSub * j + l] = static_cast<int8_t>(q + 4);
      }
    }
    // Bit 2 of level i goes to hmask[i % 32], bit i / 32; the low 2 bits as in Q2_K.
    std::memset(y.hmask, 0, sizeof y.hmask);
    uint8_t low[kQK_K];
    for (int i = 0; i < kQK_K; ++i) {
      if (levels[i] > 3) {
        y.hmask[i % 32] = static_cast<uint8_t>(y.hmask[i % 32] | 1u << (i / 32));
      }
      low[i] = static_cast<uint8_t>(levels[i] > 3 ? levels[i] - 4 : levels[i]);
    }
    Pack2Bits(low, y.qs);
  }
}

// ---- Q4_K

void DequantizeQ4_K(const BlockQ4_K* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = Fp16ToFp32(src[b].d);
    const float dmin = Fp16ToFp32(src[b].dmin);
    const uint8_t* q = src[b].qs;
    // Each 32 bytes hold sub-blocks 2p (low nibbles) and 2p + 1 (high nibbles).
    for (int pair = 0; pair < 4; ++pair, q += 32) {
      uint8_t sc, mn;
      UnpackScaleMin6(2 * pair, src[b].scales, &sc, &mn);
      const float d1 = d * static_cast<float>(sc);
      const float m1 = dmin * static_cast<float>(mn);
      UnpackScaleMin6(2 * pair + 1, src[b].scales, &sc, &mn);
      const float d2 = d * static_cast<float>(sc);
      const float m2 = dmin * static_cast<float>(mn);
      for (int l = 0; l < 32; ++l) *dst++ = d1 * static_cast<float>(q[l] & 0x0f) - m1;
      for (int l = 0; l < 32; ++l) *dst++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void QuantizeQ4_K(const float* src, BlockQ4_K* dst, int64_t n) {
  uint8_t levels[kQK_K];
  for (int64_t b = 0; b < n / kQK_K; ++b, src += kQK_K) {
    BlockQ4_K& y = dst[b];
    QuantizeScaleMinSuperBlock(src, 15, -1.0f, 20, &y.d, &y.dmin, y.scales, levels);
    for (int pair = 0; pair < 4; ++pair) {
      for (int l = 0; l < 32; ++l) {
        y.qs[32 * pair + l] =
            static_cast<uint8_t>(levels[64 * pair + l] | levels[64 * pair + 32 + l] << 4);
      }
    }
  }
}

// ---- Q5_K

void DequantizeQ5_K(const BlockQ5_K* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = Fp16ToFp32(src[b].d);
    const float dmin = Fp16ToFp32(src[b].dmin);
    const uint8_t* ql = src[b].qs;
    const uint8_t* qh = src[b].qh;
    // As Q4_K; the fifth bit of sub-block s is bit s of qh[l].
    for (int pair = 0; pair < 4; ++pair, ql += 32) {
      uint8_t sc, mn;
      UnpackScaleMin6(2 * pair, src[b].scales, &sc, &mn);
      const float d1 = d * static_cast<float>(sc);
      const float m1 = dmin * static_cast<float>(mn);
      UnpackScaleMin6(2 * pair + 1, src[b].scales, &sc, &mn);
      const float d2 = d * static_cast<float>(sc);
      const float m2 = dmin * static_cast<float>(mn);
      const int bit1 = 1 << (2 * pair);
      const int bit2 = 2 << (2 * pair);
      for (int l = 0; l < 32; ++l) {
        *dst++ = d1 * static_cast<float>((ql[l] & 0x0f) + ((qh[l] & bit1) != 0 ? 16 : 0)) - m1;
      }
      for (int l = 0; l < 32; ++l) {
        *dst++ = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & bit2) != 0 ? 16 : 0)) - m2;
      }
    }
  }
}

void QuantizeQ5_K(const float* src, BlockQ5_K* dst, int64_t n) {
  uint8_t levels[kQK_K];
  for (int64_t b = 0; b < n / kQK_K; ++b, src += kQK_K) {
    BlockQ5_K& y = dst[b];
    QuantizeScaleMinSuperBlock(src, 31, -0.5f, 15, &y.d, &y.dmin, y.scales, levels);
    std::memset(y.qh, 0, sizeof y.qh);
    for (int pair = 0; pair < 4; ++pair) {
      for (int l = 0; l < 32; ++l) {
        const int l1 = levels[64 * pair + l];
        const int l2 = levels[64 * pair + 32 + l];
        if (l1 > 15) y.qh[l] = static_cast<uint8_t>(y.qh[l] | 1u << (2 * pair));
        if (l2 > 15) y.qh[l] = static_cast<uint8_t>(y.qh[l] | 2u << (2 * pair));
        y.qs[32 * pair + l] = static_cast<uint8_t>((l1 & 0x0f) | (l2 & 0x0f) << 4);
      }
    }
  }
}

// ---- Q6_K

void DequantizeQ6_K(const BlockQ6_K* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = Fp16ToFp32(src[b].d);
    const uint8_t* ql = src[b].ql;
    const uint8_t* qh = src[b].qh;
    const int8_t* sc = src[b].scales;
    // Per 128 weights: 64 ql bytes (two nibbles) and 32 qh bytes (four 2-bit fields); weight
    // l + 32 * k takes nibble k / 2 of ql[l + 32 * (k % 2)] and field k of qh[l].
    for (int half = 0; half < 2; ++half, dst += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int sub = l / 16;
        const int q1 = ((ql[l] & 0x0f) | ((qh[l] >> 0) & 3) << 4) - 32;
        const int q2 = ((ql[l + 32] & 0x0f) | ((qh[l] >> 2) & 3) << 4) - 32;
        const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
        const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
        dst[l] = d * static_cast<float>(sc[sub]) * static_cast<float>(q1);
        dst[l + 32] = d * static_cast<float>(sc[sub + 2]) * static_cast<float>(q2);
        dst[l + 64] = d * static_cast<float>(sc[sub + 4]) * static_cast<float>(q3);
        dst[l + 96] = d * static_cast<float>(sc[sub + 6]) * static_cast<float>(q4);
      }
    }
  }
}

void QuantizeQ6_K(const float* src, BlockQ6_K* dst, int64_t n) {
  constexpr int kSub = 16;
  int8_t levels[kQK_K];
  float scales[kQK_K / kSub];
  for (int64_t b = 0; b < n / kQK_K; ++b, src += kQK_K) {
    BlockQ6_K& y = dst[b];
    float max_scale = 0.0f;
    float abs_max = 0.0f;
    for (int j = 0; j < kQK_K / kSub; ++j) {
      scales[j] = FitSymmetricScale(kSub, 32, src + kSub * j, levels + kSub * j);
      if (std::fabs(scales[j]) > abs_max) {
        abs_max = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    if (abs_max < kGroupMaxEps) {
      std::memset(&y, 0, sizeof y);
      continue;
    }
    // 8-bit signed sub-scales; the largest maps to -128 (clamped to 127 on the other side).
    const float inv = -128.0f / max_scale;
    y.d = Fp32ToFp16(1.0f / inv);
    for (int j = 0; j < kQK_K / kSub; ++j) {
      y.scales[j] = static_cast<int8_t>(std::min(127, RoundToNearestInt(inv * scales[j])));
    }
    const float d_all = Fp16ToFp32(y.d);
    for (int j = 0; j < kQK_K / kSub; ++j) {
      const float d = d_all * static_cast<float>(y.scales[j]);
      if (d == 0.0f) continue;
      for (int l = 0; l < kSub; ++l) {
        const int q = Clamp(RoundToNearestInt(src[kSub * j + l] / d), -32, 31);
        levels[kSub * j + l] = static_cast<int8_t>(q + 32);
      }
    }
    for (int half = 0; half < 2; ++half) {
      const int8_t* lv = levels + 128 * half;
      uint8_t* ql = y.ql + 64 * half;
      uint8_t* qh = y.qh + 32 * half;
      for (int l = 0; l < 32; ++l) {
        const int q1 = lv[l], q2 = lv[l + 32], q3 = lv[l + 64], q4 = lv[l + 96];
        ql[l] = static_cast<uint8_t>((q1 & 0x0f) | (q3 & 0x0f) << 4);
        ql[l + 32] = static_cast<uint8_t>((q2 & 0x0f) | (q4 & 0x0f) << 4);
        qh[l] = static_cast<uint8_t>((q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
      }
    }
  }
}

// ---- Q8_K

void DequantizeQ8_K(const BlockQ8_K* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    for (int j = 0; j < kQK_K; ++j) *dst++ = src[b].d * static_cast<float>(src[b].qs[j]);
  }
}

}  // namespace autarky::kernels::ref
