// Scalar reference of the layer operations (kernels/ops.h): plain loops, libm exp, the oracle
// that the SIMD versions are tested against.
#include <cmath>

#include "kernels/ops.h"
#include "util/fp16.h"

namespace autarky::kernels {
namespace {

void RmsNormScalar(const float* x, const float* w, float* y, int64_t n, float eps) {
  // Squares in float, summed in double (as llama.cpp), so the result hardly depends on n.
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  if (w == nullptr) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
  }
}

void SoftmaxScalar(float* x, int64_t n, float scale, const float* mask) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i] * scale;
    if (mask != nullptr) v += mask[i];
    x[i] = v;
    if (v > max) max = v;
  }
  if (max == -INFINITY) {  // every entry masked: no probability mass anywhere
    for (int64_t i = 0; i < n; ++i) x[i] = 0.0f;
    return;
  }
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

float SiluOne(float v) { return v / (1.0f + std::exp(-v)); }

void SiluScalar(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = SiluOne(x[i]);
}

void SwiGluScalar(const float* gate, const float* up, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = SiluOne(gate[i]) * up[i];
}

void ExpScalar(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}

void RopeScalar(float* x, int n_heads, int head_dim, int n_rot, const float* cos, const float* sin,
                RopeStyle style) {
  const int half = n_rot / 2;
  // Distance between the two elements of a rotated pair, and between consecutive pairs.
  const int pair_gap = style == RopeStyle::kNeox ? half : 1;
  const int pair_step = style == RopeStyle::kNeox ? 1 : 2;
  for (int h = 0; h < n_heads; ++h) {
    float* head = x + static_cast<int64_t>(h) * head_dim;
    for (int i = 0; i < half; ++i) {
      float* a = head + i * pair_step;
      float* b = a + pair_gap;
      const float x0 = *a, x1 = *b;
      *a = x0 * cos[i] - x1 * sin[i];
      *b = x0 * sin[i] + x1 * cos[i];
    }
  }
}

}  // namespace

namespace {
void F16ToF32Scalar(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = Fp16ToFp32(src[i]);
}
}  // namespace

void RegisterOpsScalar(OpsKernels& ops) {
  ops.rms_norm = RmsNormScalar;
  ops.softmax = SoftmaxScalar;
  ops.silu = SiluScalar;
  ops.swiglu = SwiGluScalar;
  ops.exp = ExpScalar;
  ops.rope = RopeScalar;
  ops.f16_to_f32 = F16ToF32Scalar;
}

}  // namespace autarky::kernels
