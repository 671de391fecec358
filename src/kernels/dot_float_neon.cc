// AArch64 NEON kernels of the float weight types (F32, F16, BF16) with F32 activations.
//
// Weights are widened to F32 as they are loaded (FCVTL for F16, a 16-bit shift for BF16) and
// multiplied with fused multiply-adds. Row tails (k not a multiple of 4) are copied into a
// zero-padded register's worth of memory, so no load reads past a row.
//
// gemm runs tiles of kTileRows weight rows x kTileCols activation columns with one
// accumulator per output.
#include <arm_neon.h>

#include <cstring>

#include "kernels/kernel_table.h"

namespace autarky::kernels {
namespace {

constexpr int kStep = 4;  // floats per register
constexpr int kTileRows = 4;
constexpr int kTileCols = 4;

[[gnu::always_inline]] static inline void Put(KernelRegistry& registry, DType type,
                                              const WeightKernels& kernels) {
  // Not KernelRegistry::Set: an inline member used here would be emitted as a weak symbol
  // compiled for this instruction set.
  registry.entries[static_cast<uint32_t>(type)] = kernels;
}

void CopyAct(const float* x, void* y, int64_t k) {
  std::memcpy(y, x, static_cast<size_t>(k) * sizeof(float));
}

// Loads of 4 weights as floats.
struct F32Weights {
  using Elem = float;
  [[gnu::always_inline]] static float32x4_t Load(const float* p) { return vld1q_f32(p); }
};

struct F16Weights {
  using Elem = uint16_t;
  [[gnu::always_inline]] static float32x4_t Load(const uint16_t* p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
  }
};

struct Bf16Weights {
  using Elem = uint16_t;
  // BF16 is the upper half of an F32.
  [[gnu::always_inline]] static float32x4_t Load(const uint16_t* p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
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
  float32x4_t acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = vdupq_n_f32(0.0f);
  }
  int64_t i = 0;
  for (; i + kStep <= k; i += kStep) {
    float32x4_t wv[R];
    for (int r = 0; r < R; ++r) wv[r] = W::Load(x[r] + i);
    for (int c = 0; c < C; ++c) {
      const float32x4_t av = vld1q_f32(y[c] + i);
      for (int r = 0; r < R; ++r) acc[r][c] = vfmaq_f32(acc[r][c], wv[r], av);
    }
  }
  if (i < k) {
    float32x4_t wv[R];
    for (int r = 0; r < R; ++r) wv[r] = W::Load(Tail<Elem>(x[r] + i, k - i).v);
    for (int c = 0; c < C; ++c) {
      const float32x4_t av = vld1q_f32(Tail<float>(y[c] + i, k - i).v);
      for (int r = 0; r < R; ++r) acc[r][c] = vfmaq_f32(acc[r][c], wv[r], av);
    }
  }
  for (int c = 0; c < C; ++c) {
    for (int r = 0; r < R; ++r) out[c * out_stride + r] = vaddvq_f32(acc[r][c]);
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

void RegisterFloatNeon(KernelRegistry& registry) {
  Put(registry, DType::kF32, Entry<F32Weights>());
  Put(registry, DType::kF16, Entry<F16Weights>());
  Put(registry, DType::kBF16, Entry<Bf16Weights>());
}

}  // namespace autarky::kernels
