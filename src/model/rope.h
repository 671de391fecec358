// Rotary position embedding as the models configure it: base frequency, rotated dimensions,
// pairing style, and context-extension scaling (linear, YaRN, Llama 3 frequency factors).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/gguf_reader.h"
#include "kernels/ops.h"
#include "util/status.h"

namespace autarky {

struct RopeConfig {
  int n_rot = 0;             // rotated dimensions per head (even)
  float freq_base = 10000.0f;
  kernels::RopeStyle style = kernels::RopeStyle::kNormal;
  std::string scaling = "none";  // none | linear | yarn (Llama 3 uses freq_factors instead)
  float freq_scale = 1.0f;       // 1 / rope.scaling.factor for linear and yarn
  // YaRN: how much of the high-frequency dimensions keep their original (extrapolated) angle
  // (1 for YaRN, 0 otherwise), the magnitude multiplier, and the correction range in terms of
  // rotations over the original context.
  float ext_factor = 0.0f;
  float attn_factor = 1.0f;
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  int32_t n_ctx_orig = 0;
  std::vector<float> freq_factors;  // {n_rot / 2} divisors of the angles (rope_freqs), or empty
};

// Reads {arch}.rope.* keys (and the rope_freqs.weight tensor) of a GGUF. `head_dim` is the
// default for rope.dimension_count; `n_ctx_train` the default original context.
Result<RopeConfig> ReadRopeConfig(const GgufFile& file, const std::string& arch, int head_dim,
                                  int32_t n_ctx_train, kernels::RopeStyle style);

// The cosines and sines {n_rot / 2} for `position`, as llama.cpp's rope computes them: the
// angle pos * base^(-2i/n_rot) by repeated float multiplication, divided by the frequency
// factor, then interpolated per YaRN's ramp, then scaled by the magnitude factor.
void RopeCosSin(const RopeConfig& config, int32_t position, float* cos, float* sin);

}  // namespace autarky
