// AVX-512 kernels of the float weight types (F32, F16, BF16) with F32 activations.
//
// Weights are widened to F32 as they are loaded (vcvtph2ps for F16, a 16-bit shift for BF16)
// and multiplied with fused multiply-adds; row tails use masked loads. vdpbf16ps is not used
// for BF16: it would need the activations rounded to BF16 (8 significant bits), a real loss of
// accuracy for a few percent of speed on a memory-bound product.
//
// gemm runs tiles of kTileRows weight rows x kTileCols activation columns with one
// accumulator per output, so each weight vector is loaded and widened once per tile.
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized (GCC bug 105593); see dot_legacy_avx512.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstring>

#include "kernels/kernel_table.h"

namespace autarky::kernels {
namespace {

constexpr int kStep = 16;  // floats per register
constexpr int kTileRows = 4;
constexpr int kTileCols = 4;

[[gnu::always_inline]] static inline float HorizontalSum(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  __m128 x = _mm512_castps512_ps128(v);
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}

[[gnu::always_inline]] static inline void Put(KernelRegistry& registry, DType type,
                                              const WeightKernels& kernels) {
  // Not KernelRegistry::Set: an inline member used here would be emitted as a weak symbol
  // compiled for this instruction set.
  registry.entries[static_cast<uint32_t>(type)] = kernels;
}

void CopyAct(const float* x, void* y, int64_t k) {
  std::memcpy(y, x, static_cast<size_t>(k) * sizeof(float));
}

// Loads of 16 weights as floats; the masked forms read only the first `n` (< 16) of them.
struct F32Weights {
  using Elem = float;
  [[gnu::always_inline]] static __m512 Load(const float* p) { return _mm512_loadu_ps(p); }
  [[gnu::always_inline]] static __m512 LoadMasked(const float* p, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, p);
  }
};

struct F16Weights {
  using Elem = uint16_t;
  [[gnu::always_inline]] static __m512 Load(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  [[gnu::always_inline]] static __m512 LoadMasked(const uint16_t* p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
  }
};

struct Bf16Weights {
  using Elem = uint16_t;
  // BF16 is the upper half of an F32.
  [[gnu::always_inline]] static __m512 Widen(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  [[gnu::always_inline]] static __m512 Load(const uint16_t* p) {
    return Widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  [[gnu::always_inline]] static __m512 LoadMasked(const uint16_t* p, __mmask16 m) {
    return Widen(_mm256_maskz_loadu_epi16(m, p));
  }
};

// Dot products of an R x C tile: rows w + r * w_stride, columns a + c * a_stride (bytes).
template <typename W, int R, int C>
void Tile(int64_t k, const uint8_t* w, size_t w_stride, const uint8_t* a, size_t a_stride,
          float* out, size_t out_stride) {
  using Elem = typename W::Elem;
  const Elem* x[R];
  const float* y[C];
  for (int r = 0; r < R; ++r) x[r] = reinterpret_cast<const Elem*>(w + r * w_stride);
  for (int c = 0; c < C; ++c) y[c] = reinterpret_cast<const float*>(a + c * a_stride);
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  int64_t i = 0;
  for (; i + kStep <= k; i += kStep) {
    __m512 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = W::Load(x[r] + i);
    for (int c = 0; c < C; ++c) {
      const __m512 av = _mm512_loadu_ps(y[c] + i);
      for (int r = 0; r < R; ++r) acc[r][c] = _mm512_fmadd_ps(wv[r], av, acc[r][c]);
    }
  }
  if (i < k) {
    const auto m = static_cast<__mmask16>((1u << (k - i)) - 1);
    __m512 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = W::LoadMasked(x[r] + i, m);
    for (int c = 0; c < C; ++c) {
      const __m512 av = _mm512_maskz_loadu_ps(m, y[c] + i);
      for (int r = 0; r < R; ++r) acc[r][c] = _mm512_fmadd_ps(wv[r], av, acc[r][c]);
    }
  }
  for (int c = 0; c < C; ++c) {
    for (int r = 0; r < R; ++r) out[c * out_stride + r] = HorizontalSum(acc[r][c]);
  }
}

// The 1 x 1 tile, so that vec_dot and every gemm output take the same steps (batch
// invariance); one accumulator per output is also what the decode path (gemm with one column)
// runs.
template <typename W>
float VecDot(int64_t k, const void* w, const void* a) {
  float out;
  Tile<W, 1, 1>(k, static_cast<const uint8_t*>(w), 0, static_cast<const uint8_t*>(a), 0, &out, 0);
  return out;
}

#include "kernels/gemm_tiling_inl.h"

template <typename W>
void Gemm(int64_t k, const void* w, size_t w_stride, int nr, const void* a, size_t a_stride, int nc,
          float* out, size_t out_stride) {
  GemmByTiles<W>(k, w, w_stride, nr, a, a_stride, nc, out, out_stride);
}

template <typename W>
WeightKernels Entry() {
  return WeightKernels{DType::kF32, CopyAct, VecDot<W>, Gemm<W>};
}

}  // namespace

void RegisterFloatAvx512(KernelRegistry& registry) {
  Put(registry, DType::kF32, Entry<F32Weights>());
  Put(registry, DType::kF16, Entry<F16Weights>());
  Put(registry, DType::kBF16, Entry<Bf16Weights>());
}

}  // namespace autarky::kernels
