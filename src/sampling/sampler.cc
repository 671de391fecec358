// Sampler: runs the sampling chain on reused buffers (see sampler.h).
#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "util/check.h"

namespace autarky {

namespace {
Status ParamError(const char* name, const std::string& why) {
  return ErrorStatus(std::string("sampling parameter ") + name + ": " + why);
}
}  // namespace

Status ValidateSamplingParams(const SamplingParams& params, int32_t n_vocab) {
  if (n_vocab <= 0) return ErrorStatus("sampling: the vocabulary is empty");
  if (!std::isfinite(params.temperature)) {
    return ParamError("temperature", "must be a finite number");
  }
  if (params.top_k < 0) return ParamError("top_k", "must be >= 0 (0 disables)");
  if (!(params.top_p >= 0.0f && params.top_p <= 1.0f)) {
    return ParamError("top_p", "must be in [0, 1] (1 disables)");
  }
  if (!(params.min_p >= 0.0f && params.min_p <= 1.0f)) {
    return ParamError("min_p", "must be in [0, 1] (0 disables)");
  }
  if (!(params.repeat_penalty > 0.0f) || !std::isfinite(params.repeat_penalty)) {
    return ParamError("repeat_penalty", "must be a finite number > 0 (1 disables)");
  }
  if (!std::isfinite(params.frequency_penalty)) {
    return ParamError("frequency_penalty", "must be a finite number");
  }
  if (!std::isfinite(params.presence_penalty)) {
    return ParamError("presence_penalty", "must be a finite number");
  }
  if (params.penalty_last_n < 0) return ParamError("penalty_last_n", "must be >= 0 (0 disables)");
  for (const auto& [token, bias] : params.logit_bias) {
    if (token < 0 || token >= n_vocab) {
      return ParamError("logit_bias", "token " + std::to_string(token) +
                                          " is outside the vocabulary [0, " +
                                          std::to_string(n_vocab) + ")");
    }
    if (std::isnan(bias)) {
      return ParamError("logit_bias", "bias of token " + std::to_string(token) + " is NaN");
    }
  }
  return Status::Ok();
}

Sampler::Sampler(const SamplingParams& params, int32_t n_vocab)
    : params_(params), n_vocab_(n_vocab), rng_(params.seed) {
  const Status valid = ValidateSamplingParams(params, n_vocab);
  CHECK_MSG(valid.ok(), valid.message().c_str());
  penalties_ = {params.repeat_penalty, params.frequency_penalty, params.presence_penalty};
  logits_.resize(static_cast<size_t>(n_vocab));
  candidates_.resize(static_cast<size_t>(n_vocab));
  if (penalties_.active() && params.penalty_last_n > 0) {
    window_.resize(static_cast<size_t>(params.penalty_last_n));
    window_linear_.resize(window_.size());
    counts_.assign(static_cast<size_t>(n_vocab), 0);
  }
}

void Sampler::Reset() {
  rng_.Seed(params_.seed);
  std::fill(counts_.begin(), counts_.end(), 0);
  window_start_ = 0;
  window_size_ = 0;
  n_candidates_ = 0;
}

void Sampler::Accept(int32_t token) {
  CHECK(token >= 0 && token < n_vocab_);
  if (window_.empty()) return;
  const size_t capacity = window_.size();
  if (window_size_ == capacity) {
    --counts_[window_[window_start_]];  // the oldest token leaves the window
    window_[window_start_] = token;
    window_start_ = (window_start_ + 1) % capacity;
  } else {
    window_[(window_start_ + window_size_) % capacity] = token;
    ++window_size_;
  }
  ++counts_[token];
}

int32_t Sampler::Sample(std::span<const float> logits) {
  CHECK(logits.size() == static_cast<size_t>(n_vocab_));
  n_candidates_ = 0;
  std::copy(logits.begin(), logits.end(), logits_.begin());
  sampling::ApplyLogitBias(logits_, params_.logit_bias);
  if (window_size_ > 0) {
    for (size_t i = 0; i < window_size_; ++i) {
      window_linear_[i] = window_[(window_start_ + i) % window_.size()];
    }
    sampling::ApplyPenalties(logits_, std::span(window_linear_.data(), window_size_), counts_,
                             penalties_);
  }
  if (params_.temperature <= 0.0f) return sampling::Argmax(logits_);

  // Top-k straight from the dense logits when it limits anything (one pass, sorted result);
  // otherwise every drawable token is a candidate, unsorted.
  size_t n = 0;
  bool sorted = false;
  if (params_.top_k > 0 && params_.top_k < n_vocab_) {
    n = sampling::TopKFromLogits(logits_, params_.top_k, candidates_);
    sorted = true;
  } else {
    n = sampling::GatherCandidates(logits_, candidates_);
  }
  if (n == 0) return sampling::Argmax(logits_);
  std::span<sampling::TokenLogit> items(candidates_.data(), n);
  items = items.first(sampling::KeepForced(items));

  // Top-p, then min-p. Both keep a prefix of the candidate order, and min-p's threshold (a
  // ratio to the largest probability) does not depend on which tail top-p removed, so the
  // result is the shorter of the two prefixes whichever runs first. Running min-p first
  // (one linear pass) leaves top-p less to search; top-p then uses the normalizer of the set
  // before min-p, which is the distribution it is defined on.
  constexpr size_t kMinKeep = 1;
  if (params_.top_p < 1.0f) {
    const sampling::SoftmaxNorm norm = sampling::ComputeSoftmaxNorm(items);
    items = items.first(sampling::MinP(items, sorted, params_.min_p, kMinKeep));
    items = items.first(sampling::TopP(items, sorted, params_.top_p, kMinKeep, norm));
  } else {
    items = items.first(sampling::MinP(items, sorted, params_.min_p, kMinKeep));
  }
  sampling::ApplyTemperature(items, params_.temperature);
  n_candidates_ = items.size();
  return sampling::DrawFromSoftmax(items, rng_.NextDouble());
}

}  // namespace autarky
