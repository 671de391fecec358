// Sampler: picks the next token from one position's logits with llama.cpp's chain of samplers:
// logit bias -> repetition/frequency/presence penalties -> (greedy when temperature <= 0) ->
// top-k -> top-p -> min-p -> temperature -> a seeded draw.
//
// Deterministic: the same parameters, seed, accepted tokens and logits give the same token on
// every platform (own generator, see rng.h; fixed candidate order, see sampling_steps.h). All
// buffers are allocated by the constructor; Sample and Accept never allocate.
//
// Usage:
//   RETURN_IF_ERROR(ValidateSamplingParams(params, n_vocab));  // flags are user input
//   Sampler sampler(params, n_vocab);
//   for (int32_t t : prompt) sampler.Accept(t);   // the prompt feeds the penalty window too
//   int32_t next = sampler.Sample(logits);        // logits {n_vocab}
//   sampler.Accept(next);                          // Sample does not accept by itself
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "sampling/rng.h"
#include "sampling/sampling_steps.h"
#include "util/status.h"

namespace autarky {

struct SamplingParams {
  float temperature = 0.8f;        // <= 0: greedy (argmax after bias and penalties)
  int32_t top_k = 40;              // <= 0 or >= n_vocab: no limit
  float top_p = 0.95f;             // in [0, 1]; 1 disables
  float min_p = 0.05f;             // in [0, 1]; 0 disables
  float repeat_penalty = 1.0f;     // > 0; 1 disables
  float frequency_penalty = 0.0f;  // 0 disables
  float presence_penalty = 0.0f;   // 0 disables
  int32_t penalty_last_n = 64;     // window of accepted tokens the penalties look at; 0 disables
  std::vector<std::pair<int32_t, float>> logit_bias;  // added to the raw logit; -inf bans
  uint64_t seed = 0;
};

// Checks parameters that come from flags or requests: ranges above, finite values, bias token
// ids in [0, n_vocab) and not NaN. The message names the parameter.
Status ValidateSamplingParams(const SamplingParams& params, int32_t n_vocab);

class Sampler {
 public:
  // `params` must pass ValidateSamplingParams (CHECKed: the caller validates input first).
  Sampler(const SamplingParams& params, int32_t n_vocab);

  // The next token for the raw logits of one position, {n_vocab}. Draws one random number
  // unless greedy. If every token is banned (or every logit NaN), returns the argmax of the
  // biased logits (token 0 when all are equal).
  int32_t Sample(std::span<const float> logits);

  // Appends a token of the sequence (prompt or generated) to the penalty window. 0 <= token <
  // n_vocab (CHECKed: token ids come from the tokenizer or the sampler).
  void Accept(int32_t token);

  // Back to the state after construction: empty window, generator reseeded.
  void Reset();

  const SamplingParams& params() const { return params_; }
  // The distribution the last non-greedy Sample drew from: the surviving candidates with their
  // final logits (after temperature), for diagnostics and tests. Empty after a greedy Sample.
  std::span<const sampling::TokenLogit> last_candidates() const {
    return {candidates_.data(), n_candidates_};
  }

 private:
  SamplingParams params_;
  sampling::PenaltyParams penalties_;
  int32_t n_vocab_;
  Xoshiro256 rng_;

  std::vector<float> logits_;                     // {n_vocab}: biased and penalized copy
  std::vector<sampling::TokenLogit> candidates_;  // {n_vocab}
  size_t n_candidates_ = 0;

  // The penalty window: a ring of the last penalty_last_n accepted tokens, with each token's
  // count in it kept up to date (so Sample only visits the window, never the vocabulary).
  std::vector<int32_t> window_;  // {penalty_last_n}
  size_t window_start_ = 0;
  size_t window_size_ = 0;
  std::vector<int32_t> window_linear_;  // {penalty_last_n}: the ring unrolled for ApplyPenalties
  std::vector<int32_t> counts_;         // {n_vocab} when penalties are active, else empty
};

}  // namespace autarky
