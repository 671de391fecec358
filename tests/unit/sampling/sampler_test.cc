// Tests of the whole sampling chain: greedy, penalties window, determinism, statistics of the
// draw (chi-square), and equality with a literal, unoptimized composition of the steps.
#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace autarky {
namespace {

using sampling::Precedes;
using sampling::TokenLogit;

constexpr float kInf = std::numeric_limits<float>::infinity();

SamplingParams Greedy() {
  SamplingParams params;
  params.temperature = 0.0f;
  return params;
}

// No filter: the draw is from the plain softmax of logits / temperature.
SamplingParams Plain(float temperature, uint64_t seed) {
  SamplingParams params;
  params.temperature = temperature;
  params.top_k = 0;
  params.top_p = 1.0f;
  params.min_p = 0.0f;
  params.seed = seed;
  return params;
}

TEST(SamplerTest, GreedyTakesTheArgmaxAfterBias) {
  const std::vector<float> logits = {1.0f, 3.0f, 3.0f, 2.0f};
  Sampler plain(Greedy(), 4);
  EXPECT_EQ(plain.Sample(logits), 1);  // ties: the lower id
  SamplingParams banned = Greedy();
  banned.logit_bias = {{1, -kInf}, {2, -kInf}};
  Sampler biased(banned, 4);
  EXPECT_EQ(biased.Sample(logits), 3);
}

TEST(SamplerTest, RepeatPenaltyWindowForgetsOldTokens) {
  // Repeat penalty 2 halves the positive logit of a token in the window of the last 2.
  SamplingParams params = Greedy();
  params.repeat_penalty = 2.0f;
  params.penalty_last_n = 2;
  const std::vector<float> logits = {1.0f, 0.9f, 0.8f};
  Sampler sampler(params, 3);
  EXPECT_EQ(sampler.Sample(logits), 0);
  sampler.Accept(0);  // 0 -> 0.5
  EXPECT_EQ(sampler.Sample(logits), 1);
  sampler.Accept(1);  // 0 -> 0.5, 1 -> 0.45
  EXPECT_EQ(sampler.Sample(logits), 2);
  sampler.Accept(2);  // window {1, 2}: token 0 is back at 1.0
  EXPECT_EQ(sampler.Sample(logits), 0);
  sampler.Reset();  // empty window
  sampler.Accept(1);
  sampler.Accept(1);
  EXPECT_EQ(sampler.Sample(logits), 0);
}

TEST(SamplerTest, FrequencyAndPresencePenaltiesCountOccurrences) {
  // Token 0 occurs 3 times: 5 - 3 * 1 - 0.5 = 1.5 < 2 (token 1); twice: 5 - 2 - 0.5 = 2.5 > 2.
  SamplingParams params = Greedy();
  params.frequency_penalty = 1.0f;
  params.presence_penalty = 0.5f;
  params.penalty_last_n = 3;
  const std::vector<float> logits = {5.0f, 2.0f};
  Sampler sampler(params, 2);
  for (int i = 0; i < 3; ++i) sampler.Accept(0);
  EXPECT_EQ(sampler.Sample(logits), 1);
  sampler.Accept(1);  // the window is now 0, 0, 1
  EXPECT_EQ(sampler.Sample(logits), 0);
}

TEST(SamplerTest, ForcedAndBannedTokens) {
  std::vector<float> logits(16);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(i);
  SamplingParams forced = Plain(1.0f, 1);
  forced.logit_bias = {{3, kInf}};
  Sampler one(forced, 16);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(one.Sample(logits), 3);

  forced.logit_bias = {{3, kInf}, {5, kInf}};
  Sampler two(forced, 16);
  std::set<int32_t> seen;
  for (int i = 0; i < 100; ++i) seen.insert(two.Sample(logits));
  EXPECT_EQ(seen, (std::set<int32_t>{3, 5}));

  SamplingParams banned;  // defaults: top-k 40, top-p 0.95, min-p 0.05
  for (int32_t t = 0; t < 16; ++t) banned.logit_bias.push_back({t, -kInf});
  Sampler none(banned, 16);
  EXPECT_EQ(none.Sample(logits), 0);  // every token banned: the argmax of -inf everywhere
  const std::vector<float> nan_logits(16, std::numeric_limits<float>::quiet_NaN());
  Sampler broken(SamplingParams{}, 16);
  EXPECT_EQ(broken.Sample(nan_logits), 0);
}

// Logits that change with the step, as a model's would.
std::vector<float> StepLogits(int n_vocab, int step) {
  std::mt19937 gen(1000 + step);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(n_vocab);
  for (float& l : logits) l = normal(gen);
  return logits;
}

std::vector<int32_t> Generate(Sampler& sampler, int n_vocab, int n_steps) {
  std::vector<int32_t> tokens;
  for (int step = 0; step < n_steps; ++step) {
    const int32_t token = sampler.Sample(StepLogits(n_vocab, step));
    sampler.Accept(token);
    tokens.push_back(token);
  }
  return tokens;
}

TEST(SamplerTest, SameSeedSameTokensAndResetRepeats) {
  constexpr int kVocab = 1000;
  SamplingParams params;
  params.seed = 5;
  params.repeat_penalty = 1.1f;
  Sampler a(params, kVocab);
  Sampler b(params, kVocab);
  const std::vector<int32_t> first = Generate(a, kVocab, 50);
  EXPECT_EQ(Generate(b, kVocab, 50), first);
  a.Reset();
  EXPECT_EQ(Generate(a, kVocab, 50), first);
  params.seed = 6;
  Sampler c(params, kVocab);
  EXPECT_NE(Generate(c, kVocab, 50), first);
}

// The chain written plainly: dense bias and penalties, a full sort, then each filter in the
// documented order over the sorted list. The optimized Sampler must end with the same set.
std::vector<TokenLogit> LiteralChain(const std::vector<float>& raw, const SamplingParams& params,
                                     const std::vector<int32_t>& window) {
  std::vector<float> logits = raw;
  for (const auto& [t, b] : params.logit_bias) logits[t] += b;
  std::map<int32_t, int> counts;
  for (const int32_t t : window) ++counts[t];
  for (const auto& [t, c] : counts) {
    float& l = logits[t];
    l = l > 0 ? l / params.repeat_penalty : l * params.repeat_penalty;
    l -= static_cast<float>(c) * params.frequency_penalty + params.presence_penalty;
  }
  std::vector<TokenLogit> items;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] > -kInf) items.push_back({static_cast<int32_t>(i), logits[i]});
  }
  std::sort(items.begin(), items.end(), Precedes);
  if (params.top_k > 0 && static_cast<size_t>(params.top_k) < items.size()) {
    items.resize(params.top_k);
  }
  if (params.top_p < 1.0f) {
    double sum = 0.0;
    for (const TokenLogit& it : items) sum += std::exp(double{it.logit} - items[0].logit);
    double cumulative = 0.0;
    size_t keep = 0;
    while (keep < items.size()) {
      cumulative += std::exp(double{items[keep].logit} - items[0].logit) / sum;
      ++keep;
      if (cumulative >= params.top_p) break;
    }
    items.resize(keep);
  }
  if (params.min_p > 0.0f) {
    const float threshold = items[0].logit + std::log(params.min_p);
    size_t keep = 1;
    while (keep < items.size() && items[keep].logit >= threshold) ++keep;
    items.resize(keep);
  }
  for (TokenLogit& it : items) it.logit /= params.temperature;
  return items;
}

TEST(SamplerTest, OptimizedChainEqualsTheLiteralComposition) {
  struct Case {
    int32_t top_k;
    float top_p, min_p, temperature;
  };
  const std::vector<Case> cases = {
      {40, 0.95f, 0.05f, 0.8f},   {0, 0.95f, 0.05f, 0.8f}, {0, 0.9f, 0.0f, 1.0f},
      {0, 1.0f, 0.1f, 1.5f},      {0, 1.0f, 0.0f, 1.0f},   {500, 0.5f, 0.0f, 0.3f},
      {3000, 0.99f, 0.01f, 1.0f}, {7, 0.0f, 0.0f, 1.0f},   {0, 0.3f, 0.9f, 2.0f},
  };
  constexpr int kVocab = 3000;
  for (size_t c = 0; c < cases.size(); ++c) {
    SamplingParams params;
    params.top_k = cases[c].top_k;
    params.top_p = cases[c].top_p;
    params.min_p = cases[c].min_p;
    params.temperature = cases[c].temperature;
    params.repeat_penalty = 1.3f;
    params.frequency_penalty = 0.2f;
    params.presence_penalty = 0.1f;
    params.penalty_last_n = 16;
    params.logit_bias = {{0, 4.0f}, {1, -kInf}, {2, -1.0f}};
    Sampler sampler(params, kVocab);
    std::vector<int32_t> window;
    for (int step = 0; step < 30; ++step) {
      const std::vector<float> logits = StepLogits(kVocab, step);
      const int32_t token = sampler.Sample(logits);
      std::vector<TokenLogit> got(sampler.last_candidates().begin(),
                                  sampler.last_candidates().end());
      std::sort(got.begin(), got.end(), Precedes);
      const std::vector<TokenLogit> want = LiteralChain(logits, params, window);
      ASSERT_EQ(got.size(), want.size()) << "case " << c << " step " << step;
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(got[i].id, want[i].id) << "case " << c << " step " << step << " rank " << i;
        ASSERT_EQ(got[i].logit, want[i].logit) << "case " << c << " step " << step;
      }
      EXPECT_TRUE(std::any_of(want.begin(), want.end(),
                              [&](const TokenLogit& it) { return it.id == token; }));
      sampler.Accept(token);
      window.push_back(token);
      if (window.size() > 16) window.erase(window.begin());
    }
  }
}

// Upper 0.1% points of the chi-square distribution with 1..7 degrees of freedom: a correct
// sampler exceeds them with probability 0.001 (the seeds are fixed, so the tests are stable).
constexpr double kChiSquare999[] = {0.0, 10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322};

// Draws `n_draws` tokens and returns the chi-square statistic against `expected` (token ->
// probability); a draw outside `expected` fails the test.
double ChiSquareOfDraws(Sampler& sampler, const std::vector<float>& logits,
                        const std::map<int32_t, double>& expected, int n_draws) {
  std::map<int32_t, int> observed;
  for (int i = 0; i < n_draws; ++i) {
    const int32_t token = sampler.Sample(logits);
    EXPECT_TRUE(expected.count(token)) << "drew token " << token << " outside the kept set";
    ++observed[token];
  }
  double chi_square = 0.0;
  for (const auto& [token, p] : expected) {
    const double e = p * n_draws;
    chi_square += (observed[token] - e) * (observed[token] - e) / e;
  }
  return chi_square;
}

TEST(SamplerTest, DrawFollowsTheSoftmaxChiSquare) {
  // 8 tokens, temperature 1, no filters: p_i = exp(l_i) / sum exp(l).
  const std::vector<float> logits = {0.0f, 1.0f, -0.5f, 2.0f, 0.3f, -1.0f, 1.5f, 0.7f};
  double sum = 0.0;
  for (const float l : logits) sum += std::exp(double{l});
  std::map<int32_t, double> expected;
  for (int32_t i = 0; i < 8; ++i) expected[i] = std::exp(double{logits[i]}) / sum;
  Sampler sampler(Plain(1.0f, 2024), 8);
  EXPECT_LT(ChiSquareOfDraws(sampler, logits, expected, 80000), kChiSquare999[7]);
}

TEST(SamplerTest, FilteredDrawFollowsTheKeptDistributionChiSquare) {
  // top-k 6 drops ids 2 and 5 (logits -0.5, -1). Over the 6 kept, logits 2, 1.5, 1, 0.7,
  // 0.3, 0 have weights e^(l-2) = 1, 0.607, 0.368, 0.273, 0.183, 0.135 (sum 2.565), so the
  // cumulative probabilities are 0.390, 0.626, 0.770, 0.876, 0.947: top-p 0.9 keeps 5 tokens
  // (ids 3, 6, 1, 7, 4). min-p 0.2 then drops relative weight 0.183 < 0.2 (id 4). The draw is
  // from ids 3, 6, 1, 7 with logits divided by the temperature 0.7, renormalized.
  const std::vector<float> logits = {0.0f, 1.0f, -0.5f, 2.0f, 0.3f, -1.0f, 1.5f, 0.7f};
  SamplingParams params;
  params.top_k = 6;
  params.top_p = 0.9f;
  params.min_p = 0.2f;
  params.temperature = 0.7f;
  params.seed = 77;
  std::map<int32_t, double> expected;
  double sum = 0.0;
  for (const int32_t id : {3, 6, 1, 7}) sum += std::exp(double{logits[id] / 0.7f});
  for (const int32_t id : {3, 6, 1, 7}) expected[id] = std::exp(double{logits[id] / 0.7f}) / sum;
  Sampler sampler(params, 8);
  EXPECT_LT(ChiSquareOfDraws(sampler, logits, expected, 60000), kChiSquare999[3]);
}

TEST(SamplerTest, ValidateNamesTheBadParameter) {
  EXPECT_TRUE(ValidateSamplingParams(SamplingParams{}, 10).ok());
  struct Case {
    void (*mutate)(SamplingParams&);
    const char* name;
  };
  const std::vector<Case> cases = {
      {[](SamplingParams& p) { p.temperature = std::numeric_limits<float>::quiet_NaN(); },
       "temperature"},
      {[](SamplingParams& p) { p.top_k = -1; }, "top_k"},
      {[](SamplingParams& p) { p.top_p = 1.5f; }, "top_p"},
      {[](SamplingParams& p) { p.min_p = -0.1f; }, "min_p"},
      {[](SamplingParams& p) { p.repeat_penalty = 0.0f; }, "repeat_penalty"},
      {[](SamplingParams& p) { p.frequency_penalty = kInf; }, "frequency_penalty"},
      {[](SamplingParams& p) { p.presence_penalty = -kInf; }, "presence_penalty"},
      {[](SamplingParams& p) { p.penalty_last_n = -1; }, "penalty_last_n"},
      {[](SamplingParams& p) {
         p.logit_bias = {{10, 1.0f}};
       },
       "logit_bias"},
      {[](SamplingParams& p) {
         p.logit_bias = {{3, std::nanf("")}};
       },
       "logit_bias"},
  };
  for (const Case& c : cases) {
    SamplingParams params;
    c.mutate(params);
    const Status status = ValidateSamplingParams(params, 10);
    ASSERT_FALSE(status.ok()) << c.name;
    EXPECT_NE(status.message().find(c.name), std::string::npos) << status.message();
  }
  EXPECT_FALSE(ValidateSamplingParams(SamplingParams{}, 0).ok());
}

}  // namespace
}  // namespace autarky
