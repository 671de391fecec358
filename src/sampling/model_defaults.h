// The sampling values a model's publisher recommends (GGUF general.sampling.*, which a Hugging
// Face folder's generation_config.json becomes) as defaults under the user's own flags.
//
//   ModelSamplingHints hints = ...;            // read from the model file by the caller
//   GivenSamplingFlags given{.temperature = cmd->count("--temp") > 0, ...};
//   for (const std::string& note : ApplyModelSamplingHints(hints, given, &params)) ...
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sampling/sampler.h"

namespace autarky {

// Each field is set when the model carries it.
struct ModelSamplingHints {
  std::optional<float> temperature;     // general.sampling.temp (0 for do_sample=false: greedy)
  std::optional<int32_t> top_k;         // general.sampling.top_k
  std::optional<float> top_p;           // general.sampling.top_p
  std::optional<float> min_p;           // general.sampling.min_p
  std::optional<float> repeat_penalty;  // general.sampling.penalty_repeat
};

// Which values the user gave explicitly (flags, request fields): those always win.
struct GivenSamplingFlags {
  bool temperature = false;
  bool top_k = false;
  bool top_p = false;
  bool min_p = false;
  bool repeat_penalty = false;
};

// Sets every field of *params that the user did not give and the model recommends. Returns one
// note per value taken from the model, e.g. "temperature 0.6 (general.sampling.temp)"; a value
// that ValidateSamplingParams would refuse is not taken, and its note ends in "ignored: out of
// range".
std::vector<std::string> ApplyModelSamplingHints(const ModelSamplingHints& hints,
                                                 const GivenSamplingFlags& given,
                                                 SamplingParams* params);

}  // namespace autarky
