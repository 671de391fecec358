// Run-time selection of the layer-operation kernels and the ISA-independent parts of RoPE.
#include <array>
#include <cmath>

#include "kernels/ops.h"
#include "util/check.h"

namespace autarky::kernels {
namespace {

using Tables = std::array<OpsKernels, kNumIsas>;

Tables BuildTables() {
  Tables t{};
  for (OpsKernels& ops : t) RegisterOpsScalar(ops);  // every ISA starts from the reference
#if defined(__x86_64__)
  if (IsaSupported(Isa::kAvx2)) RegisterOpsAvx2(t[static_cast<int>(Isa::kAvx2)]);
  if (IsaSupported(Isa::kAvx512)) {
    RegisterOpsAvx2(t[static_cast<int>(Isa::kAvx512)]);  // fills what AVX-512 lacks
    RegisterOpsAvx512(t[static_cast<int>(Isa::kAvx512)]);
  }
#endif
#if defined(__aarch64__)
  RegisterOpsNeon(t[static_cast<int>(Isa::kNeon)]);
#endif
  return t;
}

}  // namespace

const OpsKernels& GetOpsKernels(Isa isa) {
  static const Tables tables = BuildTables();
  // An ISA this CPU cannot run gets the scalar kernels rather than a crash.
  return IsaSupported(isa) ? tables[static_cast<int>(isa)] : tables[0];
}

const OpsKernels& GetOpsKernels() {
  static const OpsKernels& active = GetOpsKernels(ActiveIsa());
  return active;
}

void RmsNorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  GetOpsKernels().rms_norm(x, w, y, n, eps);
}
void Softmax(float* x, int64_t n, float scale, const float* mask) {
  GetOpsKernels().softmax(x, n, scale, mask);
}
void Silu(const float* x, float* y, int64_t n) { GetOpsKernels().silu(x, y, n); }
void SwiGlu(const float* gate, const float* up, float* y, int64_t n) {
  GetOpsKernels().swiglu(gate, up, y, n);
}
void Exp(const float* x, float* y, int64_t n) { GetOpsKernels().exp(x, y, n); }

void RopeAngles(int32_t position, const RopeParams& params, float* cos, float* sin) {
  CHECK(params.n_rot > 0 && params.n_rot % 2 == 0);
  // theta_i = pos * base^(-2i/n_rot) by repeated multiplication in float, as llama.cpp builds
  // its rotation cache, so that both engines rotate by the same float angles.
  const float theta_scale = std::pow(params.freq_base, -2.0f / static_cast<float>(params.n_rot));
  float theta = static_cast<float>(position);
  for (int i = 0; i < params.n_rot / 2; ++i) {
    const float angle = params.freq_factors != nullptr ? theta / params.freq_factors[i] : theta;
    cos[i] = std::cos(angle);
    sin[i] = std::sin(angle);
    theta *= theta_scale;
  }
}

void Rope(float* x, int64_t n_tokens, int n_heads, int head_dim, size_t token_stride,
          const int32_t* positions, const RopeParams& params) {
  CHECK_MSG(params.n_rot > 0 && params.n_rot % 2 == 0 && params.n_rot <= head_dim &&
                params.n_rot <= kMaxRopeDims,
            "n_rot must be even, positive, at most head_dim and kMaxRopeDims");
  CHECK(n_heads >= 0 && token_stride >= static_cast<size_t>(n_heads) * head_dim);
  const OpsKernels& ops = GetOpsKernels();
  float cos[kMaxRopeDims / 2];
  float sin[kMaxRopeDims / 2];
  for (int64_t t = 0; t < n_tokens; ++t) {
    RopeAngles(positions[t], params, cos, sin);
    ops.rope(x + t * token_stride, n_heads, head_dim, params.n_rot, cos, sin, params.style);
  }
}

}  // namespace autarky::kernels
