// AVX2 + FMA layer operations (kernels/ops.h): 8 floats per step, tails through masked loads
// and stores, polynomial exp with a two-step 2^n scaling for exact gradual underflow.
#include <immintrin.h>
#include <math.h>

#include "kernels/ops.h"
#include "util/fp16.h"

namespace autarky::kernels {
namespace {

// Lanes [0, remaining) enabled (all 8 when remaining >= 8).
inline __m256i TailMask(int64_t remaining) {
  const int r = remaining >= 8 ? 8 : static_cast<int>(remaining);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(r), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline __m256 Load(const float* p, __m256i m) { return _mm256_maskload_ps(p, m); }
inline void Store(float* p, __m256i m, __m256 v) { _mm256_maskstore_ps(p, m, v); }

// 2^n for integer n in [-126, 127] (a normal float: the biased exponent is built directly).
inline __m256 Pow2(__m256i n) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
}

// exp(x) = 2^n * e^r with n = round(x / ln 2), |r| <= ln2/2, e^r by its Taylor series to r^7
// (truncation < 5.2e-9 relative). 2^n is applied as 2^(n/2) * 2^(n - n/2): each factor is a
// normal float for n in [-150, 128], the first product is exact and the second rounds once,
// giving correctly rounded subnormals and inf on overflow. Same arithmetic as the AVX-512
// version, so both give identical results.
inline __m256 Exp8(__m256 x) {
  x = _mm256_max_ps(_mm256_set1_ps(-104.0f), x);  // NaN (second operand) passes through
  x = _mm256_min_ps(_mm256_set1_ps(89.0f), x);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256i n2 = _mm256_sub_epi32(ni, n1);
  return _mm256_mul_ps(_mm256_mul_ps(p, Pow2(n1)), Pow2(n2));
}

inline __m256 Silu8(__m256 x) {
  const __m256 e = Exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

inline float HorizontalMax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

inline double HorizontalSum(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}

// Adds the 8 floats of v, widened to double, to two double accumulators.
inline void AccumulateDouble(__m256 v, __m256d* acc0, __m256d* acc1) {
  *acc0 = _mm256_add_pd(*acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
  *acc1 = _mm256_add_pd(*acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

void ExpAvx2(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 8) {
    const __m256i m = TailMask(n - i);
    Store(y + i, m, Exp8(Load(x + i, m)));
  }
}

void SiluAvx2(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 8) {
    const __m256i m = TailMask(n - i);
    Store(y + i, m, Silu8(Load(x + i, m)));
  }
}

void SwiGluAvx2(const float* gate, const float* up, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 8) {
    const __m256i m = TailMask(n - i);
    Store(y + i, m, _mm256_mul_ps(Silu8(Load(gate + i, m)), Load(up + i, m)));
  }
}

void RmsNormAvx2(const float* x, const float* w, float* y, int64_t n, float eps) {
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  for (int64_t i = 0; i < n; i += 8) {
    const __m256 v = Load(x + i, TailMask(n - i));  // masked lanes read as 0
    AccumulateDouble(_mm256_mul_ps(v, v), &acc0, &acc1);
  }
  const double sum = HorizontalSum(_mm256_add_pd(acc0, acc1));
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const __m256 scale = _mm256_set1_ps(1.0f / sqrtf(mean + eps));
  for (int64_t i = 0; i < n; i += 8) {
    const __m256i m = TailMask(n - i);
    __m256 v = _mm256_mul_ps(Load(x + i, m), scale);
    if (w != nullptr) v = _mm256_mul_ps(v, Load(w + i, m));
    Store(y + i, m, v);
  }
}

void SoftmaxAvx2(float* x, int64_t n, float scale, const float* mask) {
  const __m256 scale_v = _mm256_set1_ps(scale);
  const __m256 neg_inf = _mm256_set1_ps(-INFINITY);
  __m256 max_v = neg_inf;
  for (int64_t i = 0; i < n; i += 8) {
    const __m256i m = TailMask(n - i);
    __m256 v = _mm256_mul_ps(Load(x + i, m), scale_v);
    if (mask != nullptr) v = _mm256_add_ps(v, Load(mask + i, m));
    Store(x + i, m, v);
    // Disabled lanes take part as -inf.
    max_v = _mm256_max_ps(max_v, _mm256_blendv_ps(neg_inf, v, _mm256_castsi256_ps(m)));
  }
  const float max = HorizontalMax(max_v);
  if (max == -INFINITY) {
    for (int64_t i = 0; i < n; i += 8) Store(x + i, TailMask(n - i), _mm256_setzero_ps());
    return;
  }
  const __m256 max_b = _mm256_set1_ps(max);
  __m256d sum0 = _mm256_setzero_pd(), sum1 = _mm256_setzero_pd();
  for (int64_t i = 0; i < n; i += 8) {
    const __m256i m = TailMask(n - i);
    const __m256 e =
        _mm256_and_ps(Exp8(_mm256_sub_ps(Load(x + i, m), max_b)), _mm256_castsi256_ps(m));
    Store(x + i, m, e);
    AccumulateDouble(e, &sum0, &sum1);
  }
  const double sum = HorizontalSum(_mm256_add_pd(sum0, sum1));
  const __m256 inv = _mm256_set1_ps(static_cast<float>(1.0 / sum));
  for (int64_t i = 0; i < n; i += 8) {
    const __m256i m = TailMask(n - i);
    Store(x + i, m, _mm256_mul_ps(Load(x + i, m), inv));
  }
}

// Adjacent pairs, 4 per vector: x * (c, c) + swap(x) * (-s, s).
void RopeNormalHead(float* head, int half, const float* cos, const float* sin) {
  const __m256i dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
  const __m256 sign = _mm256_castsi256_ps(
      _mm256_setr_epi32(INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0, INT32_MIN, 0));
  for (int i = 0; i < half; i += 4) {
    const int pairs = half - i < 4 ? half - i : 4;
    const __m128i m4 = _mm_cmpgt_epi32(_mm_set1_epi32(pairs), _mm_setr_epi32(0, 1, 2, 3));
    const __m256i m8 = TailMask(2 * pairs);
    const __m256 c =
        _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_maskload_ps(cos + i, m4)), dup);
    const __m256 s = _mm256_xor_ps(
        _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_maskload_ps(sin + i, m4)), dup), sign);
    const __m256 v = Load(head + 2 * i, m8);
    const __m256 swapped = _mm256_permute_ps(v, 0xb1);
    Store(head + 2 * i, m8, _mm256_fmadd_ps(v, c, _mm256_mul_ps(swapped, s)));
  }
}

// Pairs half apart: a' = a c - b s, b' = a s + b c.
void RopeNeoxHead(float* head, int half, const float* cos, const float* sin) {
  for (int i = 0; i < half; i += 8) {
    const __m256i m = TailMask(half - i);
    const __m256 c = Load(cos + i, m);
    const __m256 s = Load(sin + i, m);
    const __m256 a = Load(head + i, m);
    const __m256 b = Load(head + half + i, m);
    Store(head + i, m, _mm256_fmsub_ps(a, c, _mm256_mul_ps(b, s)));
    Store(head + half + i, m, _mm256_fmadd_ps(a, s, _mm256_mul_ps(b, c)));
  }
}

void RopeAvx2(float* x, int n_heads, int head_dim, int n_rot, const float* cos, const float* sin,
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

// vcvtph2ps, except for signaling NaNs (which it would quiet): those 8 go the scalar way.
void F16ToF32Avx2(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m128i exp_all_ones =
        _mm_cmpeq_epi16(_mm_and_si128(h, _mm_set1_epi16(0x7c00)), _mm_set1_epi16(0x7c00));
    const __m128i mantissa = _mm_and_si128(h, _mm_set1_epi16(0x03ff));
    if (_mm_movemask_epi8(
            _mm_andnot_si128(_mm_cmpeq_epi16(mantissa, _mm_setzero_si128()), exp_all_ones)) != 0) {
      for (int j = 0; j < 8; ++j) dst[i + j] = Fp16ToFp32(src[i + j]);
      continue;
    }
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) dst[i] = Fp16ToFp32(src[i]);
}

}  // namespace

void RegisterOpsAvx2(OpsKernels& ops) {
  ops.rms_norm = RmsNormAvx2;
  ops.softmax = SoftmaxAvx2;
  ops.silu = SiluAvx2;
  ops.swiglu = SwiGluAvx2;
  ops.exp = ExpAvx2;
  ops.rope = RopeAvx2;
  ops.f16_to_f32 = F16ToF32Avx2;
}

}  // namespace autarky::kernels
