// The steps of the sampling chain (see sampling_steps.h).
#include "sampling/sampling_steps.h"

#include <algorithm>
#include <cmath>

#include "util/check.h"

namespace autarky::sampling {

void ApplyLogitBias(std::span<float> logits, std::span<const std::pair<int32_t, float>> bias) {
  for (const auto& [token, value] : bias) {
    CHECK(token >= 0 && static_cast<size_t>(token) < logits.size());
    logits[token] += value;
  }
}

void ApplyPenalties(std::span<float> logits, std::span<const int32_t> window,
                    std::span<int32_t> counts, const PenaltyParams& params) {
  // A token may occur many times in the window but is penalized once: after its first visit
  // its count is negated, which marks it done; a second pass restores the counts.
  for (const int32_t token : window) {
    DCHECK(token >= 0 && static_cast<size_t>(token) < logits.size());
    const int32_t count = counts[token];
    if (count <= 0) continue;
    float& logit = logits[token];
    logit = logit > 0.0f ? logit / params.repeat : logit * params.repeat;
    logit -= static_cast<float>(count) * params.frequency + params.presence;
    counts[token] = -count;
  }
  for (const int32_t token : window) {
    if (counts[token] < 0) counts[token] = -counts[token];
  }
}

int32_t Argmax(std::span<const float> logits) {
  size_t best = 0;
  while (best < logits.size() && std::isnan(logits[best])) ++best;
  if (best == logits.size()) return 0;
  float best_logit = logits[best];
  for (size_t i = best + 1; i < logits.size(); ++i) {
    if (logits[i] > best_logit) {  // false for NaN
      best = i;
      best_logit = logits[i];
    }
  }
  return static_cast<int32_t>(best);
}

namespace {
// A logit that can be drawn: not NaN, not -inf (+inf is handled by KeepForced).
bool IsCandidate(float logit) { return logit > -INFINITY; }
}  // namespace

size_t GatherCandidates(std::span<const float> logits, std::span<TokenLogit> out) {
  CHECK(out.size() >= logits.size());
  size_t n = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (IsCandidate(logits[i])) out[n++] = {static_cast<int32_t>(i), logits[i]};
  }
  return n;
}

size_t TopKFromLogits(std::span<const float> logits, int32_t k, std::span<TokenLogit> out) {
  CHECK(k > 0 && static_cast<size_t>(k) <= out.size());
  // out[0, size) is a heap whose top is the worst kept candidate. Tokens come in increasing id
  // order, so a later token with the same logit as the worst never displaces it: a plain
  // "greater than the worst logit" test implements the tie rule, and rejects most tokens
  // with one comparison.
  const size_t capacity = static_cast<size_t>(k);
  size_t size = 0;
  float worst = 0.0f;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float l = logits[i];
    if (size < capacity) {
      if (!IsCandidate(l)) continue;
      out[size++] = {static_cast<int32_t>(i), l};
      std::push_heap(out.begin(), out.begin() + size, Precedes);
      worst = out[0].logit;
    } else if (l > worst) {
      std::pop_heap(out.begin(), out.begin() + size, Precedes);
      out[size - 1] = {static_cast<int32_t>(i), l};
      std::push_heap(out.begin(), out.begin() + size, Precedes);
      worst = out[0].logit;
    }
  }
  std::sort_heap(out.begin(), out.begin() + size, Precedes);
  return size;
}

size_t TopK(std::span<TokenLogit> items, bool sorted, int32_t k) {
  const size_t n = items.size();
  if (k <= 0 || static_cast<size_t>(k) >= n) return n;
  const size_t kept = static_cast<size_t>(k);
  if (!sorted) std::partial_sort(items.begin(), items.begin() + kept, items.end(), Precedes);
  return kept;
}

size_t KeepForced(std::span<TokenLogit> items) {
  size_t n_forced = 0;
  for (const TokenLogit& item : items) n_forced += item.logit == INFINITY;
  if (n_forced == 0) return items.size();
  size_t w = 0;
  for (const TokenLogit& item : items) {
    if (item.logit == INFINITY) items[w++] = {item.id, 0.0f};
  }
  return w;
}

SoftmaxNorm ComputeSoftmaxNorm(std::span<const TokenLogit> items) {
  CHECK(!items.empty());
  SoftmaxNorm norm;
  norm.max_logit = items[0].logit;
  for (const TokenLogit& item : items) norm.max_logit = std::max(norm.max_logit, item.logit);
  for (const TokenLogit& item : items) {
    norm.sum += std::exp(static_cast<double>(item.logit) - norm.max_logit);
  }
  return norm;
}

namespace {
// Probability mass of items under `norm`.
double Mass(std::span<const TokenLogit> items, const SoftmaxNorm& norm) {
  double mass = 0.0;
  for (const TokenLogit& item : items) {
    mass += std::exp(static_cast<double>(item.logit) - norm.max_logit);
  }
  return mass / norm.sum;
}
}  // namespace

size_t TopP(std::span<TokenLogit> items, bool sorted, float p, size_t min_keep,
            const SoftmaxNorm& norm) {
  const size_t n = items.size();
  if (p >= 1.0f || n == 0) return n;
  min_keep = std::max<size_t>(min_keep, 1);
  // The kept count m is the first prefix length in candidate order whose mass reaches p.
  // Unsorted input: bisect on the position with nth_element, which splits [lo, hi) around its
  // middle rank in linear time, and add up the mass of the upper half only; [0, lo) always
  // holds the lo first candidates (in some order) with mass `before`. The ranges halve, so
  // the whole search costs about 2n comparisons and n exponentials, however many tokens a
  // flat distribution keeps; only the last small range is sorted and scanned in order.
  constexpr size_t kScanRange = 64;
  size_t lo = 0;
  size_t hi = n;
  double before = 0.0;
  if (!sorted) {
    while (hi - lo > kScanRange) {
      const size_t mid = lo + (hi - lo) / 2;
      std::nth_element(items.begin() + lo, items.begin() + mid, items.begin() + hi, Precedes);
      // [lo, mid] now holds the candidates of ranks lo..mid.
      const double upper = Mass(items.subspan(lo, mid + 1 - lo), norm);
      if (before + upper >= p) {
        hi = mid + 1;  // reached within ranks lo..mid
      } else {
        before += upper;
        lo = mid + 1;
      }
    }
    std::sort(items.begin() + lo, items.begin() + hi, Precedes);
  }
  size_t kept = hi;  // the mass never reached p (the caller pre-cut the tail, or rounding)
  double cumulative = before;
  for (size_t i = lo; i < hi; ++i) {
    cumulative += std::exp(static_cast<double>(items[i].logit) - norm.max_logit) / norm.sum;
    if (cumulative >= p) {
      kept = i + 1;
      break;
    }
  }
  if (kept < min_keep) {
    kept = std::min(min_keep, n);
    if (!sorted) std::nth_element(items.begin(), items.begin() + (kept - 1), items.end(), Precedes);
  }
  return kept;
}

size_t MinP(std::span<TokenLogit> items, bool sorted, float p, size_t min_keep) {
  const size_t n = items.size();
  if (p <= 0.0f || n == 0) return n;
  min_keep = std::max<size_t>(min_keep, 1);
  float max_logit = items[0].logit;
  if (!sorted) {
    for (const TokenLogit& item : items) max_logit = std::max(max_logit, item.logit);
  }
  // p_i >= p * p_max  <=>  logit_i >= max_logit + log(p), computed in float as llama.cpp does.
  const float threshold = max_logit + std::log(p);
  if (sorted) {
    size_t i = 1;
    while (i < n && (items[i].logit >= threshold || i < min_keep)) ++i;
    return i;
  }
  size_t n_kept = 0;
  for (const TokenLogit& item : items) n_kept += item.logit >= threshold;
  if (n_kept < min_keep) {
    const size_t kept = std::min(min_keep, n);
    std::partial_sort(items.begin(), items.begin() + kept, items.end(), Precedes);
    return kept;
  }
  size_t w = 0;
  for (size_t r = 0; r < n; ++r) {
    if (items[r].logit >= threshold) items[w++] = items[r];
  }
  return w;
}

void ApplyTemperature(std::span<TokenLogit> items, float temperature) {
  DCHECK(temperature > 0.0f);
  for (TokenLogit& item : items) item.logit /= temperature;
}

int32_t DrawFromSoftmax(std::span<const TokenLogit> items, double u) {
  CHECK(!items.empty());
  const SoftmaxNorm norm = ComputeSoftmaxNorm(items);
  const double target = u * norm.sum;
  double cumulative = 0.0;
  for (const TokenLogit& item : items) {
    cumulative += std::exp(static_cast<double>(item.logit) - norm.max_logit);
    if (target < cumulative) return item.id;
  }
  // u * sum rounded up to the total (u close to 1): the last candidate with a non-zero weight.
  for (size_t i = items.size(); i-- > 0;) {
    if (std::exp(static_cast<double>(items[i].logit) - norm.max_logit) > 0.0) return items[i].id;
  }
  return items.back().id;
}

}  // namespace autarky::sampling
