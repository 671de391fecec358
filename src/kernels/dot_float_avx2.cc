// AVX2 + FMA + F16C kernels of the float weight types (F32, F16, BF16) with F32 activations.
//
// Weights are widened to F32 as they are loaded (vcvtph2ps for F16, a 16-bit shift for BF16)
// and multiplied with fused multiply-adds. Row tails (k not a multiple of 8) are copied into
// zero-padded registers-worth of memory, so no load reads past a row.
//
// gemm runs tiles of kTileRows weight rows x kTileCols activation columns with one
// accumulator per output (16 ymm registers: 8 accumulators, 4 weights, 1 activation).
#include <immintrin.h>

#include <cstring>

#include "kernels/kernel_table.h"

namespace autarky::kernels {
namespace {

constexpr int kStep = 8;  // floats per register
constexpr int kTileRows = 4;
constexpr int kTileCols = 2;

[[gnu::always_inline]] static inline float HorizontalSum(__m256 v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
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

// Loads of 8 weights as floats.
struct F32Weights {
  using Elem = float;
  [[gnu::always_inline]] static __m256 Load(const float* p) { return _mm256_loadu_ps(p); }
};

struct F16Weights {
  using Elem = uint16_t;
  [[gnu::always_inline]] static __m256 Load(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
};

struct Bf16Weights {
  using Elem = uint16_t;
  // BF16 is the upper half of an F32.
  [[gnu::always_inline]] static __m256 Load(const uint16_t* p) {
    const __m256i wide =
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
};

// The last n (< kStep) elements of a row, zero-padded to a full register's worth.
template <typename Elem>
struct Tail {
  Elem v[kStep];
  Tail(const Elem* p, int64_t n) {
    std::memset(v, 0, sizeof v);
    std::memcpy(v, p, static_cast<size_t>(n) * sizeof(Elem));
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
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  }
  int64_t i = 0;
  for (; i + kStep <= k; i += kStep) {
    __m256 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = W::Load(x[r] + i);
    for (int c = 0; c < C; ++c) {
      const __m256 av = _mm256_loadu_ps(y[c] + i);
      for (int r = 0; r < R; ++r) acc[r][c] = _mm256_fmadd_ps(wv[r], av, acc[r][c]);
    }
  }
  if (i < k) {
    __m256 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = W::Load(Tail<Elem>(x[r] + i, k - i).v);
    for (int c = 0; c < C; ++c) {
      const __m256 av = _mm256_loadu_ps(Tail<float>(y[c] + i, k - i).v);
      for (int r = 0; r < R; ++r) acc[r][c] = _mm256_fmadd_ps(wv[r], av, acc[r][c]);
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

void RegisterFloatAvx2(KernelRegistry& registry) {
  Put(registry, DType::kF32, Entry<F32Weights>());
  Put(registry, DType::kF16, Entry<F16Weights>());
  Put(registry, DType::kBF16, Entry<Bf16Weights>());
}

}  // namespace autarky::kernels
