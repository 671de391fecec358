// NEON (AArch64 Advanced SIMD) layer operations (kernels/ops.h): 4 floats per step, tails
// through a small padded copy, the same polynomial exp as the x86 versions.
#include <arm_neon.h>
#include <math.h>

#include "kernels/ops.h"
#include "util/fp16.h"

namespace autarky::kernels {
namespace {

// Copies up to 4 floats into a vector, filling the missing lanes with `fill`.
inline float32x4_t LoadTail(const float* p, int64_t count, float fill) {
  float buf[4] = {fill, fill, fill, fill};
  for (int64_t i = 0; i < count; ++i) buf[i] = p[i];
  return vld1q_f32(buf);
}

inline void StoreTail(float* p, int64_t count, float32x4_t v) {
  float buf[4];
  vst1q_f32(buf, v);
  for (int64_t i = 0; i < count; ++i) p[i] = buf[i];
}

// 2^n for integer n in [-126, 127].
inline float32x4_t Pow2(int32x4_t n) {
  return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n, vdupq_n_s32(127)), 23));
}

// exp(x) = 2^n * e^r, n = round(x / ln 2), e^r by Taylor to r^7, 2^n applied in two steps for
// exact subnormals (see ops_avx2.cc, whose arithmetic this repeats operation for operation).
inline float32x4_t Exp4(float32x4_t x) {
  // vmaxq/vminq return NaN when either operand is NaN, so NaN inputs stay NaN.
  x = vmaxq_f32(x, vdupq_n_f32(-104.0f));
  x = vminq_f32(x, vdupq_n_f32(89.0f));
  const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.0f / 5040.0f);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 720.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  const int32x4_t ni = vcvtq_s32_f32(n);  // n is integral: truncation is exact
  const int32x4_t n1 = vshrq_n_s32(ni, 1);
  const int32x4_t n2 = vsubq_s32(ni, n1);
  return vmulq_f32(vmulq_f32(p, Pow2(n1)), Pow2(n2));
}

inline float32x4_t Silu4(float32x4_t x) {
  const float32x4_t e = Exp4(vnegq_f32(x));
  return vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0f), e));
}

void ExpNeon(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, Exp4(vld1q_f32(x + i)));
  if (i < n) StoreTail(y + i, n - i, Exp4(LoadTail(x + i, n - i, 0.0f)));
}

void SiluNeon(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, Silu4(vld1q_f32(x + i)));
  if (i < n) StoreTail(y + i, n - i, Silu4(LoadTail(x + i, n - i, 0.0f)));
}

void SwiGluNeon(const float* gate, const float* up, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    vst1q_f32(y + i, vmulq_f32(Silu4(vld1q_f32(gate + i)), vld1q_f32(up + i)));
  }
  if (i < n) {
    const float32x4_t g = Silu4(LoadTail(gate + i, n - i, 0.0f));
    StoreTail(y + i, n - i, vmulq_f32(g, LoadTail(up + i, n - i, 0.0f)));
  }
}

// Adds the squares (in float) of v, widened to double, to two double accumulators.
inline void AccumulateSquares(float32x4_t v, float64x2_t* acc0, float64x2_t* acc1) {
  const float32x4_t sq = vmulq_f32(v, v);
  *acc0 = vaddq_f64(*acc0, vcvt_f64_f32(vget_low_f32(sq)));
  *acc1 = vaddq_f64(*acc1, vcvt_high_f64_f32(sq));
}

void RmsNormNeon(const float* x, const float* w, float* y, int64_t n, float eps) {
  float64x2_t acc0 = vdupq_n_f64(0.0), acc1 = vdupq_n_f64(0.0);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) AccumulateSquares(vld1q_f32(x + i), &acc0, &acc1);
  if (i < n) AccumulateSquares(LoadTail(x + i, n - i, 0.0f), &acc0, &acc1);
  const double sum = vaddvq_f64(vaddq_f64(acc0, acc1));
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float32x4_t scale = vdupq_n_f32(1.0f / sqrtf(mean + eps));
  for (i = 0; i + 4 <= n; i += 4) {
    float32x4_t v = vmulq_f32(vld1q_f32(x + i), scale);
    if (w != nullptr) v = vmulq_f32(v, vld1q_f32(w + i));
    vst1q_f32(y + i, v);
  }
  if (i < n) {
    float32x4_t v = vmulq_f32(LoadTail(x + i, n - i, 0.0f), scale);
    if (w != nullptr) v = vmulq_f32(v, LoadTail(w + i, n - i, 0.0f));
    StoreTail(y + i, n - i, v);
  }
}

void SoftmaxNeon(float* x, int64_t n, float scale, const float* mask) {
  const float32x4_t scale_v = vdupq_n_f32(scale);
  float32x4_t max_v = vdupq_n_f32(-INFINITY);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    float32x4_t v = vmulq_f32(vld1q_f32(x + i), scale_v);
    if (mask != nullptr) v = vaddq_f32(v, vld1q_f32(mask + i));
    vst1q_f32(x + i, v);
    max_v = vmaxq_f32(max_v, v);
  }
  float max = vmaxvq_f32(max_v);
  for (; i < n; ++i) {
    float v = x[i] * scale;
    if (mask != nullptr) v += mask[i];
    x[i] = v;
    if (v > max) max = v;
  }
  if (max == -INFINITY) {
    for (i = 0; i < n; ++i) x[i] = 0.0f;
    return;
  }
  const float32x4_t max_b = vdupq_n_f32(max);
  float64x2_t sum0 = vdupq_n_f64(0.0), sum1 = vdupq_n_f64(0.0);
  for (i = 0; i + 4 <= n; i += 4) {
    const float32x4_t e = Exp4(vsubq_f32(vld1q_f32(x + i), max_b));
    vst1q_f32(x + i, e);
    sum0 = vaddq_f64(sum0, vcvt_f64_f32(vget_low_f32(e)));
    sum1 = vaddq_f64(sum1, vcvt_high_f64_f32(e));
  }
  if (i < n) {
    // Padding with -inf gives exp = 0, which adds nothing to the sum.
    const float32x4_t e = Exp4(vsubq_f32(LoadTail(x + i, n - i, -INFINITY), max_b));
    StoreTail(x + i, n - i, e);
    sum0 = vaddq_f64(sum0, vcvt_f64_f32(vget_low_f32(e)));
    sum1 = vaddq_f64(sum1, vcvt_high_f64_f32(e));
  }
  const double sum = vaddvq_f64(vaddq_f64(sum0, sum1));
  const float32x4_t inv = vdupq_n_f32(static_cast<float>(1.0 / sum));
  for (i = 0; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_f32(vld1q_f32(x + i), inv));
  for (; i < n; ++i) x[i] = x[i] * vgetq_lane_f32(inv, 0);
}

// Adjacent pairs: vld2q splits 4 pairs into (even, odd) vectors, vst2q interleaves them back.
void RopeNormalHead(float* head, int half, const float* cos, const float* sin) {
  int i = 0;
  for (; i + 4 <= half; i += 4) {
    const float32x4_t c = vld1q_f32(cos + i);
    const float32x4_t s = vld1q_f32(sin + i);
    float32x4x2_t v = vld2q_f32(head + 2 * i);
    const float32x4_t x0 = v.val[0], x1 = v.val[1];
    v.val[0] = vfmsq_f32(vmulq_f32(x0, c), x1, s);
    v.val[1] = vfmaq_f32(vmulq_f32(x1, c), x0, s);
    vst2q_f32(head + 2 * i, v);
  }
  for (; i < half; ++i) {
    const float x0 = head[2 * i], x1 = head[2 * i + 1];
    head[2 * i] = x0 * cos[i] - x1 * sin[i];
    head[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
  }
}

// Pairs half apart: a' = a c - b s, b' = a s + b c.
void RopeNeoxHead(float* head, int half, const float* cos, const float* sin) {
  int i = 0;
  for (; i + 4 <= half; i += 4) {
    const float32x4_t c = vld1q_f32(cos + i);
    const float32x4_t s = vld1q_f32(sin + i);
    const float32x4_t a = vld1q_f32(head + i);
    const float32x4_t b = vld1q_f32(head + half + i);
    vst1q_f32(head + i, vfmsq_f32(vmulq_f32(a, c), b, s));
    vst1q_f32(head + half + i, vfmaq_f32(vmulq_f32(b, c), a, s));
  }
  for (; i < half; ++i) {
    const float a = head[i], b = head[half + i];
    head[i] = a * cos[i] - b * sin[i];
    head[half + i] = a * sin[i] + b * cos[i];
  }
}

void RopeNeon(float* x, int n_heads, int head_dim, int n_rot, const float* cos, const float* sin,
              RopeStyle style) {
  const int half = n_rot / 2;
  for (int h = 0; h < n_heads; ++h) {
    float* head = x + static_cast<int64_t>(h) * head_dim;
    if (style == RopeStyle::kNeox) {
      RopeNeoxHead(head, half, cos, sin);
    } else {
      RopeNormalHead(head, half, cos, sin);
    }
  }
}

}  // namespace

namespace {

// FCVTL, except for signaling NaNs (which it would quiet): those 4 go the scalar way.
void F16ToF32Neon(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint16x4_t h = vld1_u16(src + i);
    const uint16x4_t exp_all_ones = vceq_u16(vand_u16(h, vdup_n_u16(0x7c00)), vdup_n_u16(0x7c00));
    const uint16x4_t nan = vand_u16(exp_all_ones, vtst_u16(h, vdup_n_u16(0x03ff)));
    if (vget_lane_u64(vreinterpret_u64_u16(nan), 0) != 0) {
      for (int j = 0; j < 4; ++j) dst[i + j] = Fp16ToFp32(src[i + j]);
      continue;
    }
    vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(h)));
  }
  for (; i < n; ++i) dst[i] = Fp16ToFp32(src[i]);
}

}  // namespace

void RegisterOpsNeon(OpsKernels& ops) {
  ops.rms_norm = RmsNormNeon;
  ops.softmax = SoftmaxNeon;
  ops.silu = SiluNeon;
  ops.swiglu = SwiGluNeon;
  ops.exp = ExpNeon;
  ops.rope = RopeNeon;
  ops.f16_to_f32 = F16ToF32Neon;
}

}  // namespace autarky::kernels
