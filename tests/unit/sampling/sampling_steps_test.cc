// Tests of each sampling step against hand-computed results and brute-force sorting.
#include "sampling/sampling_steps.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace autarky::sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<int32_t> Ids(std::span<const TokenLogit> items) {
  std::vector<int32_t> ids;
  for (const TokenLogit& item : items) ids.push_back(item.id);
  return ids;
}

// The ids in candidate order, for steps whose output order is unspecified.
std::vector<int32_t> SortedIds(std::span<const TokenLogit> items) {
  std::vector<TokenLogit> copy(items.begin(), items.end());
  std::sort(copy.begin(), copy.end(), Precedes);
  return Ids(copy);
}

// Candidates with the given probabilities (logit = log p), in the given id order.
std::vector<TokenLogit> FromProbs(const std::vector<std::pair<int32_t, double>>& probs) {
  std::vector<TokenLogit> items;
  for (const auto& [id, p] : probs) items.push_back({id, static_cast<float>(std::log(p))});
  return items;
}

// ids 0..3 with probabilities 0.15, 0.5, 0.05, 0.3: candidate order is 1, 3, 0, 2.
std::vector<TokenLogit> FourTokens() {
  return FromProbs({{0, 0.15}, {1, 0.5}, {2, 0.05}, {3, 0.3}});
}

TEST(SamplingStepsTest, LogitBiasAddsAndBans) {
  std::vector<float> logits = {1.0f, 2.0f, 3.0f};
  const std::vector<std::pair<int32_t, float>> bias = {{0, 0.5f}, {2, -kInf}, {0, 1.0f}};
  ApplyLogitBias(logits, bias);
  EXPECT_EQ(logits, (std::vector<float>{2.5f, 2.0f, -kInf}));
}

TEST(SamplingStepsTest, PenaltiesFollowTheLlamaCppFormula) {
  // Window 0,1,0,3,0: token 0 three times, 1 and 3 once. repeat 2, frequency 0.5,
  // presence 0.25:
  //   token 0: logit 2 > 0 -> 2/2 = 1, minus 3*0.5 + 0.25 -> -0.75
  //   token 1: logit -2 -> -2*2 = -4, minus 0.5 + 0.25 -> -4.75
  //   token 3: logit 0 (not > 0) -> 0*2 = 0, minus 0.75 -> -0.75
  //   tokens 2 and 4 are not in the window.
  std::vector<float> logits = {2.0f, -2.0f, 1.0f, 0.0f, 3.0f};
  const std::vector<int32_t> window = {0, 1, 0, 3, 0};
  std::vector<int32_t> counts = {3, 1, 0, 1, 0};
  const std::vector<int32_t> counts_before = counts;
  ApplyPenalties(logits, window, counts, {2.0f, 0.5f, 0.25f});
  EXPECT_EQ(logits, (std::vector<float>{-0.75f, -4.75f, 1.0f, -0.75f, 3.0f}));
  EXPECT_EQ(counts, counts_before);
}

TEST(SamplingStepsTest, ArgmaxTakesTheFirstMaximumAndSkipsNaN) {
  EXPECT_EQ(Argmax(std::vector<float>{1.0f, kNaN, 3.0f, 3.0f}), 2);
  EXPECT_EQ(Argmax(std::vector<float>{kNaN, -1.0f}), 1);
  EXPECT_EQ(Argmax(std::vector<float>{kNaN, kNaN}), 0);
  EXPECT_EQ(Argmax(std::vector<float>{-kInf, -kInf}), 0);
  EXPECT_EQ(Argmax(std::vector<float>{0.0f, kInf, kInf}), 1);
}

TEST(SamplingStepsTest, GatherSkipsNaNAndBannedTokens) {
  const std::vector<float> logits = {0.5f, -kInf, kNaN, kInf, -3.0f};
  std::vector<TokenLogit> out(logits.size());
  const size_t n = GatherCandidates(logits, out);
  EXPECT_EQ(Ids(std::span(out).first(n)), (std::vector<int32_t>{0, 3, 4}));
}

TEST(SamplingStepsTest, TopKFromLogitsKeepsTheBestSorted) {
  const std::vector<float> logits = {0.5f, 2.0f, -kInf, 2.0f, kNaN, 1.0f, 3.0f};
  std::vector<TokenLogit> out(logits.size());
  EXPECT_EQ(Ids(std::span(out).first(TopKFromLogits(logits, 3, out))),
            (std::vector<int32_t>{6, 1, 3}));
  // Ties at the boundary: the lower id wins.
  EXPECT_EQ(Ids(std::span(out).first(TopKFromLogits(logits, 2, out))),
            (std::vector<int32_t>{6, 1}));
  // More than the drawable tokens: all of them, sorted.
  EXPECT_EQ(Ids(std::span(out).first(TopKFromLogits(logits, 7, out))),
            (std::vector<int32_t>{6, 1, 3, 5, 0}));
}

TEST(SamplingStepsTest, TopKFromLogitsMatchesAFullSortWithManyTies) {
  // Logits on a coarse grid, so that many tokens tie at every boundary.
  std::mt19937 gen(3);
  std::uniform_int_distribution<int> level(-20, 20);
  std::vector<float> logits(5000);
  for (float& l : logits) l = static_cast<float>(level(gen)) * 0.25f;
  std::vector<TokenLogit> all(logits.size());
  const size_t n_all = GatherCandidates(logits, all);
  std::sort(all.begin(), all.begin() + n_all, Precedes);
  for (const int32_t k : {1, 2, 40, 333, 4999, 5000}) {
    std::vector<TokenLogit> out(logits.size());
    const size_t n = TopKFromLogits(logits, k, out);
    ASSERT_EQ(n, static_cast<size_t>(k));
    EXPECT_EQ(Ids(std::span(out).first(n)), Ids(std::span(all).first(n))) << "k = " << k;
  }
}

TEST(SamplingStepsTest, TopKOnCandidates) {
  std::vector<TokenLogit> items = FourTokens();
  EXPECT_EQ(TopK(items, false, 0), 4u);
  EXPECT_EQ(TopK(items, false, 4), 4u);
  ASSERT_EQ(TopK(items, false, 2), 2u);
  EXPECT_EQ(Ids(std::span(items).first(2)), (std::vector<int32_t>{1, 3}));
}

TEST(SamplingStepsTest, KeepForcedKeepsOnlyInfiniteLogitsAsEqual) {
  std::vector<TokenLogit> items = {{0, 1.0f}, {1, kInf}, {2, 5.0f}, {3, kInf}};
  const size_t n = KeepForced(items);
  ASSERT_EQ(n, 2u);
  EXPECT_EQ(items[0].id, 1);
  EXPECT_EQ(items[1].id, 3);
  EXPECT_EQ(items[0].logit, 0.0f);
  EXPECT_EQ(items[1].logit, 0.0f);
  std::vector<TokenLogit> finite = FourTokens();
  EXPECT_EQ(KeepForced(finite), 4u);
}

TEST(SamplingStepsTest, SoftmaxNormOfKnownProbabilities) {
  // Probabilities 0.15, 0.5, 0.05, 0.3: max logit log 0.5, sum of p/0.5 = 1/0.5 = 2.
  const std::vector<TokenLogit> items = FourTokens();
  const SoftmaxNorm norm = ComputeSoftmaxNorm(items);
  EXPECT_EQ(norm.max_logit, static_cast<float>(std::log(0.5)));
  // Each exp(log p - log 0.5) carries a float rounding of log p (relative 2^-24 in the logit,
  // |log p| < 3, so < 2e-7 absolute in the exponent) and the sum of 4 terms adds 4 doubles'
  // rounding: 4e-7 relative bounds it.
  constexpr double kNormTol = 2.0 * 4e-7;
  EXPECT_NEAR(norm.sum, 2.0, kNormTol);
}

TEST(SamplingStepsTest, TopPKeepsTheShortestPrefixReachingP) {
  // Candidate order 1 (0.5), 3 (0.3), 0 (0.15), 2 (0.05); cumulative 0.5, 0.8, 0.95, 1.
  struct Case {
    float p;
    size_t min_keep;
    std::vector<int32_t> kept;
  };
  const std::vector<Case> cases = {
      {0.75f, 1, {1, 3}},   {0.81f, 1, {1, 3, 0}},    {0.0f, 1, {1}},          {0.45f, 1, {1}},
      {0.1f, 3, {1, 3, 0}}, {0.99f, 1, {1, 3, 0, 2}}, {1.0f, 1, {1, 3, 0, 2}},
  };
  for (const Case& c : cases) {
    for (const bool sorted : {false, true}) {
      std::vector<TokenLogit> items = FourTokens();
      if (sorted) std::sort(items.begin(), items.end(), Precedes);
      const SoftmaxNorm norm = ComputeSoftmaxNorm(items);
      const size_t n = TopP(items, sorted, c.p, c.min_keep, norm);
      const std::span<const TokenLogit> kept = std::span(items).first(n);
      // Sorted input stays sorted; unsorted input has the kept ones first, in some order.
      EXPECT_EQ(sorted ? Ids(kept) : SortedIds(kept), c.kept)
          << "p = " << c.p << " sorted " << sorted;
    }
  }
}

TEST(SamplingStepsTest, TopPOnALargeFlatDistributionMatchesAFullSort) {
  // A flat distribution makes the kept prefix long: the bisection runs many rounds on both
  // sides before the final scan. Also a prefix shorter than the final scan range (p = 0.01).
  std::mt19937 gen(11);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  std::vector<TokenLogit> items(20000);
  for (size_t i = 0; i < items.size(); ++i) items[i] = {static_cast<int32_t>(i), normal(gen)};
  const SoftmaxNorm norm = ComputeSoftmaxNorm(items);
  std::vector<TokenLogit> reference = items;
  std::sort(reference.begin(), reference.end(), Precedes);
  for (const float p : {0.0001f, 0.01f, 0.3f, 0.9f, 0.9999f}) {
    double cumulative = 0.0;
    size_t expected = 0;
    while (expected < reference.size()) {
      cumulative +=
          std::exp(static_cast<double>(reference[expected].logit) - norm.max_logit) / norm.sum;
      ++expected;
      if (cumulative >= p) break;
    }
    std::vector<TokenLogit> work = items;
    const size_t n = TopP(work, false, p, 1, norm);
    ASSERT_EQ(n, expected) << "p = " << p;
    EXPECT_EQ(SortedIds(std::span(work).first(n)), Ids(std::span(reference).first(n)));
  }
}

TEST(SamplingStepsTest, MinPKeepsTokensAboveAFractionOfTheTop) {
  // p_max = 0.5. min_p 0.25: threshold 0.125 keeps 0.5, 0.3, 0.15; min_p 0.5: threshold 0.25
  // keeps 0.5, 0.3; min_p 1: only the top.
  struct Case {
    float p;
    size_t min_keep;
    std::vector<int32_t> kept_unsorted, kept_sorted;
  };
  const std::vector<Case> cases = {
      {0.25f, 1, {0, 1, 3}, {1, 3, 0}},
      {0.5f, 1, {1, 3}, {1, 3}},
      {1.0f, 1, {1}, {1}},
      {1.0f, 2, {1, 3}, {1, 3}},
      {0.0f, 1, {0, 1, 2, 3}, {1, 3, 0, 2}},
  };
  for (const Case& c : cases) {
    std::vector<TokenLogit> items = FourTokens();
    EXPECT_EQ(Ids(std::span(items).first(MinP(items, false, c.p, c.min_keep))), c.kept_unsorted)
        << "p = " << c.p;
    items = FourTokens();
    std::sort(items.begin(), items.end(), Precedes);
    EXPECT_EQ(Ids(std::span(items).first(MinP(items, true, c.p, c.min_keep))), c.kept_sorted)
        << "p = " << c.p;
  }
}

TEST(SamplingStepsTest, TemperatureDividesLogits) {
  std::vector<TokenLogit> items = {{0, 2.0f}, {1, -1.0f}};
  ApplyTemperature(items, 0.5f);
  EXPECT_EQ(items[0].logit, 4.0f);
  EXPECT_EQ(items[1].logit, -2.0f);
}

TEST(SamplingStepsTest, DrawInvertsTheCumulativeDistribution) {
  // Weights 1, 2, 1 -> probabilities 0.25, 0.5, 0.25; boundaries at u = 0.25 and 0.75.
  const std::vector<TokenLogit> items = {
      {7, 0.0f}, {8, static_cast<float>(std::log(2.0))}, {9, 0.0f}};
  EXPECT_EQ(DrawFromSoftmax(items, 0.0), 7);
  EXPECT_EQ(DrawFromSoftmax(items, 0.24), 7);
  EXPECT_EQ(DrawFromSoftmax(items, 0.26), 8);
  EXPECT_EQ(DrawFromSoftmax(items, 0.74), 8);
  EXPECT_EQ(DrawFromSoftmax(items, 0.76), 9);
  EXPECT_EQ(DrawFromSoftmax(items, 1.0 - 0x1.0p-53), 9);
  // A single candidate is always drawn; a zero-weight tail is never.
  EXPECT_EQ(DrawFromSoftmax(std::vector<TokenLogit>{{3, -50.0f}}, 0.9), 3);
  EXPECT_EQ(DrawFromSoftmax(std::vector<TokenLogit>{{1, 0.0f}, {2, -1e30f}}, 1.0 - 0x1.0p-53), 1);
}

}  // namespace
}  // namespace autarky::sampling
