// Element-wise and row operations of the transformer layers (RMSNorm, RoPE, softmax, SiLU,
// SwiGLU, exp): a scalar reference (ref/ops.cc) and AVX2/AVX-512/NEON versions, dispatched at
// run time like the dot-product kernels.
//
// Numerics follow llama.cpp's CPU backend: sums of squares and softmax denominators accumulate
// in double; the RoPE angles are theta_i = pos * base^(-2i/n_rot), computed by repeated float
// multiplication (the same table for every ISA). The SIMD versions use a polynomial exp (at most
// a few ulp from the correctly rounded value), so softmax and SiLU differ from the scalar
// reference by a few ulp; everything else differs only by float rounding order.
#pragma once

#include <cstddef>
#include <cstdint>

#include "util/cpu_features.h"

namespace autarky::kernels {

// How RoPE pairs the dimensions of a head: kNormal rotates adjacent pairs (x[2i], x[2i+1])
// (llama.cpp's mode 0: Llama, DeepSeek); kNeox rotates (x[i], x[i + n_rot/2]) (mode 2: Qwen2,
// GPT-NeoX).
enum class RopeStyle { kNormal = 0, kNeox = 2 };

// The per-ISA implementations. Every pointer is set for every ISA (missing entries fall back to
// the scalar reference).
struct OpsKernels {
  // y = x * 1/sqrt(mean(x²) + eps) * w over n elements; w == nullptr means no weight. y may be x.
  void (*rms_norm)(const float* x, const float* w, float* y, int64_t n, float eps);
  // x = softmax(x * scale + mask) in place over n elements; mask ({n}, additive, -inf allowed)
  // may be nullptr. A row whose entries are all -inf becomes all zeros.
  void (*softmax)(float* x, int64_t n, float scale, const float* mask);
  // y = x / (1 + exp(-x)); y may be x.
  void (*silu)(const float* x, float* y, int64_t n);
  // y = silu(gate) * up; y may be gate or up.
  void (*swiglu)(const float* gate, const float* up, float* y, int64_t n);
  // y = exp(x); y may be x.
  void (*exp)(const float* x, float* y, int64_t n);
  // Rotates the first n_rot dimensions of each of the n_heads heads of one token, x
  // {n_heads, head_dim}, by the angles whose cosines and sines are cos/sin {n_rot / 2}
  // (RopeAngles); dimensions n_rot..head_dim-1 are left untouched.
  void (*rope)(float* x, int n_heads, int head_dim, int n_rot, const float* cos, const float* sin,
               RopeStyle style);
  // dst = F16 src converted to float, bit-identical to util/fp16.h's Fp16ToFp32 (NaNs keep
  // their payload). Used by DequantizeRow (kernels/quantize.h) for F16 rows.
  void (*f16_to_f32)(const uint16_t* src, float* dst, int64_t n);
};

// Kernels of `isa` (scalar for an ISA this binary lacks); ActiveIsa()'s without an argument.
const OpsKernels& GetOpsKernels(Isa isa);
const OpsKernels& GetOpsKernels();

// Filled per ISA (ops_<isa>.cc); the scalar reference is in ref/ops.cc.
void RegisterOpsScalar(OpsKernels& ops);
#if defined(__x86_64__)
void RegisterOpsAvx2(OpsKernels& ops);
void RegisterOpsAvx512(OpsKernels& ops);
#endif
#if defined(__aarch64__)
void RegisterOpsNeon(OpsKernels& ops);
#endif

// ---- Convenience entry points at the active ISA.

void RmsNorm(const float* x, const float* w, float* y, int64_t n, float eps);
void Softmax(float* x, int64_t n, float scale = 1.0f, const float* mask = nullptr);
void Silu(const float* x, float* y, int64_t n);
void SwiGlu(const float* gate, const float* up, float* y, int64_t n);
void Exp(const float* x, float* y, int64_t n);

// Largest n_rot accepted by Rope (a bound for its stack buffers).
inline constexpr int kMaxRopeDims = 1024;

struct RopeParams {
  int n_rot = 0;               // rotated dimensions per head: even, <= head_dim, <= kMaxRopeDims
  float freq_base = 10000.0f;  // theta_i = pos * freq_base^(-2i/n_rot)
  RopeStyle style = RopeStyle::kNormal;
  // Optional {n_rot / 2} divisors of the angles (Llama 3 style frequency factors); nullptr: 1.
  const float* freq_factors = nullptr;
};

// The cosines and sines {n_rot / 2} of the angles pos * freq_base^(-2i/n_rot) / freq_factors[i].
void RopeAngles(int32_t position, const RopeParams& params, float* cos, float* sin);

// Applies RoPE to x {n_tokens, n_heads, head_dim}, token rows `token_stride` floats apart
// (>= n_heads * head_dim), token t at positions[t].
void Rope(float* x, int64_t n_tokens, int n_heads, int head_dim, size_t token_stride,
          const int32_t* positions, const RopeParams& params);

}  // namespace autarky::kernels
