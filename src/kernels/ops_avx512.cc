// AVX-512 layer operations (kernels/ops.h): 16 floats per step, masked tails, polynomial exp
// with exact gradual underflow through vscalefps.
// GCC 12's AVX-512 intrinsics fill "don't care" lanes from _mm512_undefined_ps(), which its
// -Wmaybe-uninitialized reports as a use of an uninitialized value (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>
#include <math.h>

#include "kernels/ops.h"
#include "util/fp16.h"

namespace autarky::kernels {
namespace {

inline __mmask16 TailMask(int64_t remaining) {
  return remaining >= 16 ? static_cast<__mmask16>(0xffff)
                         : static_cast<__mmask16>((1u << remaining) - 1u);
}

// exp(x) = 2^n * e^r with n = round(x / ln 2) and |r| <= ln2/2, e^r by its Taylor series to
// r^7 (truncation error < 0.35^8 / 8! = 5.2e-9, well below float's 6e-8), r by a two-part ln 2
// so that n * kLn2Hi is exact. vscalefps applies 2^n with correct overflow, underflow and
// subnormal rounding. At most 2 ulp from the correctly rounded result (see ops_test.cc).
inline __m512 Exp16(__m512 x) {
  // Beyond these bounds the result is 0 or inf anyway; clamping keeps n small. max/min return
  // their second operand when either is NaN, so a NaN input stays NaN.
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
  x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

inline __m512 Silu16(__m512 x) {
  const __m512 e = Exp16(_mm512_sub_ps(_mm512_setzero_ps(), x));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

void ExpAvx512(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = TailMask(n - i);
    _mm512_mask_storeu_ps(y + i, m, Exp16(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

void SiluAvx512(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = TailMask(n - i);
    _mm512_mask_storeu_ps(y + i, m, Silu16(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

void SwiGluAvx512(const float* gate, const float* up, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = TailMask(n - i);
    const __m512 g = Silu16(_mm512_maskz_loadu_ps(m, gate + i));
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(g, _mm512_maskz_loadu_ps(m, up + i)));
  }
}

void RmsNormAvx512(const float* x, const float* w, float* y, int64_t n, float eps) {
  // Squares in float, accumulated in double as the scalar reference does.
  __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(TailMask(n - i), x + i);
    const __m512 sq = _mm512_mul_ps(v, v);
    acc0 = _mm512_add_pd(acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(sq)));
    acc1 = _mm512_add_pd(acc1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(sq, 1)));
  }
  const double sum = _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1));
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const __m512 scale = _mm512_set1_ps(1.0f / sqrtf(mean + eps));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = TailMask(n - i);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), scale);
    if (w != nullptr) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i));
    _mm512_mask_storeu_ps(y + i, m, v);
  }
}

void SoftmaxAvx512(float* x, int64_t n, float scale, const float* mask) {
  const __m512 scale_v = _mm512_set1_ps(scale);
  __m512 max_v = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = TailMask(n - i);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), scale_v);
    if (mask != nullptr) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, mask + i));
    _mm512_mask_storeu_ps(x + i, m, v);
    max_v = _mm512_mask_max_ps(max_v, m, max_v, v);
  }
  const float max = _mm512_reduce_max_ps(max_v);
  if (max == -INFINITY) {
    for (int64_t i = 0; i < n; i += 16) {
      _mm512_mask_storeu_ps(x + i, TailMask(n - i), _mm512_setzero_ps());
    }
    return;
  }
  const __m512 max_b = _mm512_set1_ps(max);
  __m512d sum0 = _mm512_setzero_pd(), sum1 = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = TailMask(n - i);
    const __m512 e =
        _mm512_maskz_mov_ps(m, Exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), max_b)));
    _mm512_mask_storeu_ps(x + i, m, e);
    sum0 = _mm512_add_pd(sum0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    sum1 = _mm512_add_pd(sum1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
  }
  const double sum = _mm512_reduce_add_pd(_mm512_add_pd(sum0, sum1));
  const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / sum));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = TailMask(n - i);
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv));
  }
}

// Adjacent pairs: 8 pairs per vector. out[2i] = x0 c - x1 s, out[2i+1] = x1 c + x0 s, as
// x * (c, c) + swap(x) * (-s, s).
void RopeNormalHead(float* head, int half, const float* cos, const float* sin) {
  const __m512i dup = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
  const __m512 sign =
      _mm512_castsi512_ps(_mm512_set_epi32(0, INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0, INT32_MIN,
                                           0, INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0, INT32_MIN));
  for (int i = 0; i < half; i += 8) {
    const int pairs = half - i < 8 ? half - i : 8;
    const __mmask8 m8 = static_cast<__mmask8>((1u << pairs) - 1u);
    const __mmask16 m16 = static_cast<__mmask16>((1u << (2 * pairs)) - 1u);
    const __m512 c =
        _mm512_permutexvar_ps(dup, _mm512_castps256_ps512(_mm256_maskz_loadu_ps(m8, cos + i)));
    const __m512 s = _mm512_xor_ps(
        _mm512_permutexvar_ps(dup, _mm512_castps256_ps512(_mm256_maskz_loadu_ps(m8, sin + i))),
        sign);
    const __m512 v = _mm512_maskz_loadu_ps(m16, head + 2 * i);
    const __m512 swapped = _mm512_permute_ps(v, 0xb1);
    _mm512_mask_storeu_ps(head + 2 * i, m16, _mm512_fmadd_ps(v, c, _mm512_mul_ps(swapped, s)));
  }
}

// Pairs half apart: a = x[i], b = x[i + half]; a' = a c - b s, b' = a s + b c.
void RopeNeoxHead(float* head, int half, const float* cos, const float* sin) {
  for (int i = 0; i < half; i += 16) {
    const __mmask16 m = TailMask(half - i);
    const __m512 c = _mm512_maskz_loadu_ps(m, cos + i);
    const __m512 s = _mm512_maskz_loadu_ps(m, sin + i);
    const __m512 a = _mm512_maskz_loadu_ps(m, head + i);
    const __m512 b = _mm512_maskz_loadu_ps(m, head + half + i);
    _mm512_mask_storeu_ps(head + i, m, _mm512_fmsub_ps(a, c, _mm512_mul_ps(b, s)));
    _mm512_mask_storeu_ps(head + half + i, m, _mm512_fmadd_ps(a, s, _mm512_mul_ps(b, c)));
  }
}

void RopeAvx512(float* x, int n_heads, int head_dim, int n_rot, const float* cos, const float* sin,
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

// vcvtph2ps, except for signaling NaNs (which it would quiet): those 16 go the scalar way.
void F16ToF32Avx512(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m256i exp_all_ones = _mm256_cmpeq_epi16(_mm256_and_si256(h, _mm256_set1_epi16(0x7c00)),
                                                    _mm256_set1_epi16(0x7c00));
    const __m256i mantissa = _mm256_and_si256(h, _mm256_set1_epi16(0x03ff));
    if (_mm256_movemask_epi8(_mm256_andnot_si256(
            _mm256_cmpeq_epi16(mantissa, _mm256_setzero_si256()), exp_all_ones)) != 0) {
      for (int j = 0; j < 16; ++j) dst[i + j] = Fp16ToFp32(src[i + j]);
      continue;
    }
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(h));
  }
  for (; i < n; ++i) dst[i] = Fp16ToFp32(src[i]);
}

}  // namespace

void RegisterOpsAvx512(OpsKernels& ops) {
  ops.rms_norm = RmsNormAvx512;
  ops.softmax = SoftmaxAvx512;
  ops.silu = SiluAvx512;
  ops.swiglu = SwiGluAvx512;
  ops.exp = ExpAvx512;
  ops.rope = RopeAvx512;
  ops.f16_to_f32 = F16ToF32Avx512;
}

}  // namespace autarky::kernels
