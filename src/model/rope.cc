// RoPE configuration from GGUF and the YaRN-aware angle table.
#include "model/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "kernels/quantize.h"

namespace autarky {
namespace {

// The dimension index at which rotations over the original context complete `n_rotations`
// turns (YaRN's correction boundary).
float CorrectionDim(int n_dims, int32_t n_ctx_orig, float n_rotations, float base) {
  return static_cast<float>(n_dims) *
         std::log(static_cast<float>(n_ctx_orig) / (n_rotations * 2.0f * std::numbers::pi_v<float>)) /
         (2.0f * std::log(base));
}

}  // namespace

Result<RopeConfig> ReadRopeConfig(const GgufFile& file, const std::string& arch, int head_dim,
                                  int32_t n_ctx_train, kernels::RopeStyle style) {
  RopeConfig rope;
  rope.style = style;
  const std::string p = arch + ".rope.";
  ASSIGN_OR_RETURN(rope.n_rot, file.GetIntegerOr<int>(p + "dimension_count", head_dim));
  if (rope.n_rot <= 0 || rope.n_rot % 2 != 0 || rope.n_rot > head_dim ||
      rope.n_rot > kernels::kMaxRopeDims) {
    return ErrorStatus(file.name() + ": " + p + "dimension_count = " +
                       std::to_string(rope.n_rot) + " must be even and at most the head size " +
                       std::to_string(head_dim));
  }
  ASSIGN_OR_RETURN(double base, file.GetFloatOr(p + "freq_base", 10000.0));
  if (!(base > 1.0) || !std::isfinite(base)) {
    return ErrorStatus(file.name() + ": " + p + "freq_base must be a finite number above 1");
  }
  rope.freq_base = static_cast<float>(base);

  // Scaling: rope.scaling.type + factor (newer files), or the older rope.scale_linear.
  double factor = 1.0;
  if (file.Has(p + "scaling.type")) {
    ASSIGN_OR_RETURN(std::string_view type, file.GetString(p + "scaling.type"));
    rope.scaling = std::string(type);
    ASSIGN_OR_RETURN(factor, file.GetFloatOr(p + "scaling.factor", 1.0));
  } else if (file.Has(p + "scale_linear")) {
    ASSIGN_OR_RETURN(factor, file.GetFloat(p + "scale_linear"));
    rope.scaling = "linear";
  }
  if (rope.scaling != "none" && rope.scaling != "linear" && rope.scaling != "yarn") {
    return ErrorStatus(file.name() + ": rope scaling type '" + rope.scaling +
                       "' is not supported (none, linear, yarn)");
  }
  if (!(factor > 0.0) || !std::isfinite(factor)) {
    return ErrorStatus(file.name() + ": " + p + "scaling.factor must be positive");
  }
  if (rope.scaling == "none") factor = 1.0;
  rope.freq_scale = static_cast<float>(1.0 / factor);
  ASSIGN_OR_RETURN(rope.n_ctx_orig,
                   file.GetIntegerOr<int32_t>(p + "scaling.original_context_length", n_ctx_train));
  if (rope.scaling == "yarn") {
    rope.ext_factor = 1.0f;
    ASSIGN_OR_RETURN(double attn, file.GetFloatOr(p + "scaling.attn_factor", 1.0));
    rope.attn_factor = static_cast<float>(attn);
    ASSIGN_OR_RETURN(double fast, file.GetFloatOr(p + "scaling.yarn_beta_fast", 32.0));
    ASSIGN_OR_RETURN(double slow, file.GetFloatOr(p + "scaling.yarn_beta_slow", 1.0));
    rope.beta_fast = static_cast<float>(fast);
    rope.beta_slow = static_cast<float>(slow);
    if (rope.n_ctx_orig <= 0) {
      return ErrorStatus(file.name() + ": YaRN needs " + p + "scaling.original_context_length");
    }
  }

  // Llama 3.1+: per-dimension divisors of the angles, stored as a tensor.
  if (const GgufTensorInfo* t = file.FindTensor("rope_freqs.weight")) {
    if (t->n_elements != rope.n_rot / 2 || !kernels::CanDequantize(t->type) ||
        Traits(t->type).block_elems != 1) {
      return ErrorStatus(file.name() + ": tensor 'rope_freqs.weight' must hold " +
                         std::to_string(rope.n_rot / 2) + " floats");
    }
    rope.freq_factors.resize(rope.n_rot / 2);
    kernels::DequantizeRow(t->type, t->data, rope.freq_factors.data(), rope.n_rot / 2);
    for (float f : rope.freq_factors) {
      if (!(f > 0.0f) || !std::isfinite(f)) {
        return ErrorStatus(file.name() + ": tensor 'rope_freqs.weight' has a non-positive entry");
      }
    }
  }
  return rope;
}

void RopeCosSin(const RopeConfig& config, int32_t position, float* cos, float* sin) {
  const int half = config.n_rot / 2;
  const float theta_scale = std::pow(config.freq_base, -2.0f / static_cast<float>(config.n_rot));
  float low = 0.0f, high = 0.0f;
  float mscale = config.attn_factor;
  if (config.ext_factor != 0.0f) {
    low = std::max(0.0f, std::floor(CorrectionDim(config.n_rot, config.n_ctx_orig,
                                                  config.beta_fast, config.freq_base)));
    high = std::min(static_cast<float>(config.n_rot - 1),
                    std::ceil(CorrectionDim(config.n_rot, config.n_ctx_orig, config.beta_slow,
                                            config.freq_base)));
    // Interpolated angles are smaller, so attention gets flatter; YaRN compensates.
    mscale *= 1.0f + 0.1f * std::log(1.0f / config.freq_scale);
  }
  float theta = static_cast<float>(position);
  for (int i = 0; i < half; ++i) {
    const float extrapolated = config.freq_factors.empty() ? theta : theta / config.freq_factors[i];
    const float interpolated = config.freq_scale * extrapolated;
    float angle = interpolated;
    if (config.ext_factor != 0.0f) {
      // 1 for dimensions that rotate fast enough to keep their angle, 0 for slow ones.
      const float y = (static_cast<float>(i) - low) / std::max(0.001f, high - low);
      const float keep = (1.0f - std::min(1.0f, std::max(0.0f, y))) * config.ext_factor;
      angle = interpolated * (1.0f - keep) + extrapolated * keep;
    }
    cos[i] = std::cos(angle) * mscale;
    sin[i] = std::sin(angle) * mscale;
    theta *= theta_scale;
  }
}

}  // namespace autarky
