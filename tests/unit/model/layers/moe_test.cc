// Expert routing (RouteToken) on hand-computed cases: softmax top-k, sigmoid with the selection
// bias, group-limited choice, normalization and scaling of the weights; MoeForward's usage
// counts for hand-routed tokens.
#include "model/layers/moe.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <vector>

#include "kernels/matmul.h"
#include "util/thread_pool.h"

namespace autarky {
namespace {

// Probabilities are computed in float from float logits: a few ulps.
constexpr float kProbTol = 8 * FLT_EPSILON;

struct Routed {
  std::vector<int32_t> ids;
  std::vector<float> weights;
};

Routed Route(const RouterConfig& c, const std::vector<float>& logits,
             const std::vector<float>& bias = {}) {
  Routed r{std::vector<int32_t>(c.n_used), std::vector<float>(c.n_used)};
  std::vector<float> work(2 * c.n_expert);
  RouteToken(c, logits.data(), bias.empty() ? nullptr : bias.data(), r.ids.data(), r.weights.data(),
             work.data());
  return r;
}

TEST(RouteToken, SoftmaxTopKWithoutNormalization) {
  RouterConfig c{.n_expert = 4, .n_used = 2};
  const std::vector<float> logits = {0.0f, 2.0f, 1.0f, -1.0f};
  const Routed r = Route(c, logits);
  double z = 0;
  for (float l : logits) z += std::exp(static_cast<double>(l));
  EXPECT_EQ(r.ids, (std::vector<int32_t>{1, 2}));
  EXPECT_NEAR(r.weights[0], std::exp(2.0) / z, kProbTol);
  EXPECT_NEAR(r.weights[1], std::exp(1.0) / z, kProbTol);
}

TEST(RouteToken, TiesGoToTheLowerIndex) {
  RouterConfig c{.n_expert = 4, .n_used = 2};
  const Routed r = Route(c, {1.0f, 3.0f, 1.0f, 3.0f});
  EXPECT_EQ(r.ids, (std::vector<int32_t>{1, 3}));
}

TEST(RouteToken, SigmoidBiasSteersTheChoiceButNotTheWeights) {
  RouterConfig c{.n_expert = 4, .n_used = 2, .sigmoid = true, .norm = true, .scale = 2.5f};
  const std::vector<float> logits = {3.0f, 2.0f, 1.0f, 0.0f};
  // Without bias: experts 0 and 1. A bias of +1 on expert 3 makes it second.
  const Routed r = Route(c, logits, {0.0f, 0.0f, 0.0f, 1.0f});
  EXPECT_EQ(r.ids, (std::vector<int32_t>{3, 0}));
  const double s0 = 1.0 / (1.0 + std::exp(-3.0)), s3 = 0.5;
  EXPECT_NEAR(r.weights[0], 2.5 * s3 / (s0 + s3), kProbTol * 4);
  EXPECT_NEAR(r.weights[1], 2.5 * s0 / (s0 + s3), kProbTol * 4);
}

TEST(RouteToken, GroupsLimitTheSearch) {
  // 3 groups of 2; group scores (sum of both): g0 = 0.9 + 0.0, g1 = 0.5 + 0.5, g2 = 0.8 + 0.1.
  // With 2 groups searched, g1 (1.0) and g0 (0.9) stay; expert 4 (0.8, in g2) is excluded
  // although it beats experts 2 and 3.
  RouterConfig c{.n_expert = 6, .n_used = 2, .n_group = 3, .n_group_used = 2, .sigmoid = true};
  auto logit = [](double p) { return static_cast<float>(std::log(p / (1 - p))); };
  const std::vector<float> logits = {logit(0.9),        logit(1e-6), logit(0.5),
                                     logit(0.5 - 1e-3), logit(0.8),  logit(0.1)};
  const Routed r = Route(c, logits);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{0, 2}));
  c.n_group_used = 3;
  EXPECT_EQ(Route(c, logits).ids, (std::vector<int32_t>{0, 4}));
}

TEST(RouteToken, SoftmaxGroupsAreRankedByTheirBest) {
  // V2's group_limited_greedy: group scores are maxima. Groups of 2: g0 = {0.30, 0.01},
  // g1 = {0.20, 0.19}, g2 = {0.25, 0.05} (as softmax probabilities). By best, g0 and g2 are
  // searched (the top-2 sum would have picked g1 over g2).
  RouterConfig c{.n_expert = 6, .n_used = 2, .n_group = 3, .n_group_used = 2};
  const std::vector<double> p = {0.30, 0.01, 0.20, 0.19, 0.25, 0.05};
  std::vector<float> logits;
  for (double v : p) logits.push_back(static_cast<float>(std::log(v)));
  const Routed r = Route(c, logits);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{0, 4}));
  EXPECT_NEAR(r.weights[0], 0.30f, kProbTol);
  EXPECT_NEAR(r.weights[1], 0.25f, kProbTol);
}

TEST(MoeForward, CountsTheTokensEachExpertServes) {
  // 4 experts of width 2 over n_embd 4, all weights 0.01 (the values do not matter here).
  constexpr int kExperts = 4, kEmbd = 4, kFf = 2, kUsed = 2;
  const std::vector<float> gate_up(kExperts * kFf * kEmbd, 0.01f),
      down(kExperts * kEmbd * kFf, 0.01f);
  auto experts = [](const std::vector<float>& data, int64_t n_out, int64_t k) {
    ExpertMatrices m;
    m.first.type = DType::kF32;
    m.first.data = data.data();
    m.first.n_out = n_out;
    m.first.k = k;
    m.first.row_stride = sizeof(float) * k;
    m.n_expert = kExperts;
    m.expert_bytes = m.first.row_stride * n_out;
    return m;
  };
  MoeWeights w{experts(gate_up, kFf, kEmbd), experts(gate_up, kFf, kEmbd),
               experts(down, kEmbd, kFf)};
  // Hand routing of 3 tokens: {0, 2}, {2, 1}, {2, 3}.
  const std::vector<int32_t> ids = {0, 2, 2, 1, 2, 3};
  const std::vector<float> weights(ids.size(), 0.5f);
  const std::vector<float> x(3 * kEmbd, 1.0f);
  std::vector<float> out(3 * kEmbd);
  MoeScratch scratch;
  kernels::MatmulScratch matmul;
  ThreadPool pool(1);
  std::vector<uint64_t> usage(kExperts, 0);
  MoeForward(w, kUsed, x.data(), 3, ids.data(), weights.data(), out.data(), scratch, pool, matmul,
             usage.data());
  EXPECT_EQ(usage, (std::vector<uint64_t>{1, 1, 3, 1}));
  // Counts accumulate over calls; one token routed to {3, 0}.
  MoeForward(w, kUsed, x.data(), 1, std::vector<int32_t>{3, 0}.data(), weights.data(), out.data(),
             scratch, pool, matmul, usage.data());
  EXPECT_EQ(usage, (std::vector<uint64_t>{2, 1, 3, 2}));
}

}  // namespace
}  // namespace autarky
