// The steps of the sampling chain, each a small function over logits or candidates, so that
// each can be tested alone; Sampler (sampler.h) runs them in order on reused buffers.
//
// Semantics follow llama.cpp's samplers (src/llama-sampling.cpp): the same meaning for every
// parameter, so settings carry over. Candidates are ordered by logit, higher first, and by token
// id, lower first, among equal logits: a total order, which makes every result independent of
// the sorting algorithm. NaN logits never become candidates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace autarky::sampling {

struct TokenLogit {
  int32_t id;
  float logit;
};

// The candidate order: true when `a` comes before `b` (higher logit, then lower id).
inline bool Precedes(const TokenLogit& a, const TokenLogit& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// ---- steps on the dense logits {n_vocab} ----

// Adds each bias to its token's logit (-inf bans a token, +inf forces it). Token ids must be
// in range (checked by ValidateSamplingParams).
void ApplyLogitBias(std::span<float> logits, std::span<const std::pair<int32_t, float>> bias);

struct PenaltyParams {
  float repeat = 1.0f;     // divides positive logits, multiplies negative ones (CTRL paper)
  float frequency = 0.0f;  // subtracted once per occurrence in the window
  float presence = 0.0f;   // subtracted once if the token occurs at all
  bool active() const { return repeat != 1.0f || frequency != 0.0f || presence != 0.0f; }
};

// Penalizes every distinct token of `window` (the last tokens of the sequence): a logit l
// becomes (l > 0 ? l / repeat : l * repeat) - count * frequency - (count > 0) * presence.
// `counts` {n_vocab} must hold each token's number of occurrences in `window`; it is modified
// during the call and restored before returning (it serves as the "already done" mark).
void ApplyPenalties(std::span<float> logits, std::span<const int32_t> window,
                    std::span<int32_t> counts, const PenaltyParams& params);

// The first index of the highest logit (NaN counts as lowest); 0 when every logit is NaN.
int32_t Argmax(std::span<const float> logits);

// ---- steps on candidates ----

// Writes every token whose logit is not NaN or -inf to `out` (size >= logits.size()), in id
// order; returns how many.
size_t GatherCandidates(std::span<const float> logits, std::span<TokenLogit> out);

// Writes the k first candidates in the candidate order to out[0, k), sorted, reading the dense
// logits once (k comparisons per token at worst, usually one). Skips NaN and -inf logits, so
// fewer than k may be returned. 0 < k <= out.size().
size_t TopKFromLogits(std::span<const float> logits, int32_t k, std::span<TokenLogit> out);

// Keeps the k first candidates (k <= 0 or k >= size keeps all); returns the new size. The kept
// ones are sorted on return, except when all are kept (nothing to select).
size_t TopK(std::span<TokenLogit> items, bool sorted, int32_t k);

// When a candidate has logit +inf (a bias forces it), the distribution is undefined: keeps only
// the +inf candidates, each with logit 0 (equally likely). Returns the new size.
size_t KeepForced(std::span<TokenLogit> items);

// The normalizer of a softmax: p_i = exp(logit_i - max_logit) / sum.
struct SoftmaxNorm {
  float max_logit = 0.0f;
  double sum = 0.0;
};
// Over all of `items` (non-empty, finite logits).
SoftmaxNorm ComputeSoftmaxNorm(std::span<const TokenLogit> items);

// Nucleus sampling: keeps the shortest prefix in candidate order whose probability reaches
// `p`, at least `min_keep`; p >= 1 keeps all. Probabilities are those of `norm`, which the
// caller computes over the distribution top-p acts on (normally `items` itself; Sampler passes
// the norm of a superset, see sampler.cc). Unsorted input is not sorted: the kept candidates
// are moved to the front in some order, in expected linear time however many are kept (a flat
// distribution over 152k tokens keeps most of them). Sorted input stays sorted. Returns the
// new size.
size_t TopP(std::span<TokenLogit> items, bool sorted, float p, size_t min_keep,
            const SoftmaxNorm& norm);

// Keeps the candidates whose probability is at least p times the largest one (logit >= max +
// log p), at least `min_keep` (the first ones in candidate order); p <= 0 keeps all. Keeps the
// relative order of the survivors (so a sorted input stays sorted). Returns the new size.
size_t MinP(std::span<TokenLogit> items, bool sorted, float p, size_t min_keep);

// Divides every logit by `temperature` (> 0).
void ApplyTemperature(std::span<TokenLogit> items, float temperature);

// Draws from the softmax of the candidates' logits with `u` uniform in [0, 1): the first
// candidate (in the given order) whose cumulative weight exceeds u * total. Non-empty input.
int32_t DrawFromSoftmax(std::span<const TokenLogit> items, double u);

}  // namespace autarky::sampling
