// Tests of the quantization mix rules against llama-quantize's documented behaviour.
#include "tools/quantize_plan.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace autarky::tools {
namespace {

// A Qwen2-style dense model (the DeepSeek-R1-Distill-Qwen-1.5B shape): {d, d} attention,
// GQA 12/2, FFN 8960.
std::vector<TensorToPlan> QwenLikeTensors(int n_layer, bool with_output) {
  const int64_t d = 1536, ff = 8960, kv = 256, vocab = 151936;
  std::vector<TensorToPlan> t;
  t.push_back({"token_embd.weight", DType::kF32, {d, vocab}});
  t.push_back({"output_norm.weight", DType::kF32, {d}});
  if (with_output) t.push_back({"output.weight", DType::kF32, {d, vocab}});
  for (int i = 0; i < n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    t.push_back({p + "attn_norm.weight", DType::kF32, {d}});
    t.push_back({p + "attn_q.weight", DType::kF32, {d, d}});
    t.push_back({p + "attn_q.bias", DType::kF32, {d}});
    t.push_back({p + "attn_k.weight", DType::kF32, {d, kv}});
    t.push_back({p + "attn_v.weight", DType::kF32, {d, kv}});
    t.push_back({p + "attn_output.weight", DType::kF32, {d, d}});
    t.push_back({p + "ffn_norm.weight", DType::kF32, {d}});
    t.push_back({p + "ffn_gate.weight", DType::kF32, {d, ff}});
    t.push_back({p + "ffn_up.weight", DType::kF32, {d, ff}});
    t.push_back({p + "ffn_down.weight", DType::kF32, {ff, d}});
  }
  return t;
}

QuantPlanOptions Opts(std::string_view mix) {
  QuantPlanOptions opts;
  opts.mix = FindQuantMix(mix);
  return opts;
}

std::map<std::string, DType> PlanByName(const std::vector<TensorToPlan>& tensors,
                                        const ModelFacts& facts, const QuantPlanOptions& opts) {
  auto plan = PlanQuantization(tensors, facts, opts);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  std::map<std::string, DType> by_name;
  if (!plan.ok()) return by_name;
  for (const PlannedTensor& p : *plan) by_name[tensors[p.index].name] = p.target;
  return by_name;
}

TEST(QuantizePlanTest, FindsMixesAndAliases) {
  ASSERT_NE(FindQuantMix("q4_k_m"), nullptr);
  EXPECT_EQ(FindQuantMix("Q4_K_M")->file_type, 15u);
  EXPECT_EQ(FindQuantMix("Q4_K")->name, "Q4_K_M");
  EXPECT_EQ(FindQuantMix("Q8_0")->file_type, 7u);
  EXPECT_EQ(FindQuantMix("BF16")->file_type, 32u);
  EXPECT_EQ(FindQuantMix("IQ2_XXS"), nullptr);
  EXPECT_EQ(FindQuantMix("Q8_K"), nullptr);
  EXPECT_EQ(FindQuantMix(""), nullptr);
}

TEST(QuantizePlanTest, Q4KMGivesQ6KToOutputAndSensitiveLayers) {
  const int n_layer = 28;
  const auto tensors = QwenLikeTensors(n_layer, /*with_output=*/true);
  const ModelFacts facts{"qwen2", n_layer, 12, 2, 0};
  const auto types = PlanByName(tensors, facts, Opts("Q4_K_M"));

  // use_more_bits for 28 layers: i < 3, i >= 24, and (i - 3) % 3 == 2.
  const std::set<int> more_bits = {0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27};
  EXPECT_EQ(types.at("output.weight"), DType::kQ6_K);
  EXPECT_EQ(types.at("token_embd.weight"), DType::kQ4_K);  // untied: base type
  EXPECT_EQ(types.at("output_norm.weight"), DType::kF32);
  for (int i = 0; i < n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    const DType sensitive = more_bits.count(i) ? DType::kQ6_K : DType::kQ4_K;
    EXPECT_EQ(types.at(p + "attn_v.weight"), sensitive) << i;
    EXPECT_EQ(types.at(p + "ffn_down.weight"), sensitive) << i;
    EXPECT_EQ(types.at(p + "attn_q.weight"), DType::kQ4_K) << i;
    EXPECT_EQ(types.at(p + "attn_k.weight"), DType::kQ4_K) << i;
    EXPECT_EQ(types.at(p + "ffn_gate.weight"), DType::kQ4_K) << i;
    EXPECT_EQ(types.at(p + "attn_q.bias"), DType::kF32) << i;  // not a weight
    EXPECT_EQ(types.at(p + "attn_norm.weight"), DType::kF32) << i;
  }
}

TEST(QuantizePlanTest, TiedEmbeddingsGetTheOutputType) {
  const auto tensors = QwenLikeTensors(4, /*with_output=*/false);
  const ModelFacts facts{"qwen2", 4, 12, 2, 0};
  EXPECT_EQ(PlanByName(tensors, facts, Opts("Q4_0")).at("token_embd.weight"),
            DType::kQ6_K);
  EXPECT_EQ(PlanByName(tensors, facts, Opts("Q8_0")).at("token_embd.weight"),
            DType::kQ8_0);
}

TEST(QuantizePlanTest, PureGivesEveryMatrixTheBaseType) {
  const auto tensors = QwenLikeTensors(8, true);
  const ModelFacts facts{"qwen2", 8, 12, 2, 0};
  QuantPlanOptions opts = Opts("Q4_K_S");
  opts.pure = true;
  for (const auto& [name, type] : PlanByName(tensors, facts, opts)) {
    const bool matrix = name.find("norm") == std::string::npos && name.find("bias") == std::string::npos;
    EXPECT_EQ(type, matrix ? DType::kQ4_K : DType::kF32) << name;
  }
}

TEST(QuantizePlanTest, Q2KAndQ3KMixes) {
  const auto tensors = QwenLikeTensors(16, true);
  const ModelFacts facts{"llama", 16, 32, 8, 0};  // GQA factor 4
  auto q2 = PlanByName(tensors, facts, Opts("Q2_K"));
  EXPECT_EQ(q2.at("blk.3.attn_v.weight"), DType::kQ4_K);
  EXPECT_EQ(q2.at("blk.3.ffn_down.weight"), DType::kQ3_K);
  EXPECT_EQ(q2.at("blk.3.attn_output.weight"), DType::kQ3_K);
  EXPECT_EQ(q2.at("blk.3.ffn_up.weight"), DType::kQ2_K);
  auto q3m = PlanByName(tensors, facts, Opts("Q3_K_M"));
  EXPECT_EQ(q3m.at("blk.0.attn_v.weight"), DType::kQ5_K);
  EXPECT_EQ(q3m.at("blk.1.attn_v.weight"), DType::kQ5_K);
  EXPECT_EQ(q3m.at("blk.2.attn_v.weight"), DType::kQ4_K);
  EXPECT_EQ(q3m.at("blk.0.ffn_down.weight"), DType::kQ5_K);  // i < n/16
  EXPECT_EQ(q3m.at("blk.5.ffn_down.weight"), DType::kQ4_K);
  EXPECT_EQ(q3m.at("blk.5.attn_output.weight"), DType::kQ4_K);
  auto q3l = PlanByName(tensors, facts, Opts("Q3_K_L"));
  EXPECT_EQ(q3l.at("blk.9.ffn_down.weight"), DType::kQ5_K);
  EXPECT_EQ(q3l.at("blk.9.attn_v.weight"), DType::kQ5_K);
  auto iq4 = PlanByName(tensors, facts, Opts("IQ4_XS"));
  EXPECT_EQ(iq4.at("blk.9.attn_v.weight"), DType::kQ5_K);  // GQA >= 4
  EXPECT_EQ(iq4.at("blk.1.ffn_down.weight"), DType::kQ5_K);  // first eighth
  EXPECT_EQ(iq4.at("blk.2.ffn_down.weight"), DType::kIQ4_XS);
}

TEST(QuantizePlanTest, RowLengthsThatDoNotFitFallBack) {
  std::vector<TensorToPlan> tensors = {{"blk.0.ffn_up.weight", DType::kF32, {96, 8}},
                                       {"blk.0.ffn_gate.weight", DType::kF32, {40, 8}},
                                       {"blk.0.attn_q.weight", DType::kF32, {256, 8}}};
  const ModelFacts facts{"llama", 1, 4, 4, 0};
  auto plan = PlanQuantization(tensors, facts, Opts("Q4_K_S"));
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  std::map<std::string, PlannedTensor> by_name;
  for (const auto& p : *plan) by_name.emplace(tensors[p.index].name, p);
  EXPECT_EQ(by_name.at("blk.0.ffn_up.weight").target, DType::kQ5_0);
  EXPECT_TRUE(by_name.at("blk.0.ffn_up.weight").fell_back);
  EXPECT_EQ(by_name.at("blk.0.ffn_gate.weight").target, DType::kF16);
  EXPECT_FALSE(by_name.at("blk.0.attn_q.weight").fell_back);

  // A legacy base type has no smaller relative: F16 (where llama-quantize refuses the model).
  auto q8 = PlanQuantization({{"blk.0.ffn_up.weight", DType::kF32, {40, 8}}}, facts, Opts("Q8_0"));
  ASSERT_TRUE(q8.ok()) << q8.status().message();
  EXPECT_EQ((*q8)[0].target, DType::kF16);
  EXPECT_TRUE((*q8)[0].fell_back);
}

TEST(QuantizePlanTest, OrdersTensorsLikeLlamaQuantize) {
  // The order of fixture-f32.gguf and the order llama-quantize wrote in fixture-Q4_0.gguf.
  const std::vector<std::string> input = {
      "token_embd.weight",  "output_norm.weight",      "output.weight",
      "blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight",
      "blk.0.attn_v.weight", "blk.0.attn_output.weight", "blk.0.ffn_norm.weight",
      "blk.0.ffn_gate.weight", "blk.0.ffn_up.weight",   "blk.0.ffn_down.weight"};
  const std::vector<std::string> expected = {
      "output.weight",       "output_norm.weight",    "token_embd.weight",
      "blk.0.attn_k.weight", "blk.0.attn_norm.weight", "blk.0.attn_output.weight",
      "blk.0.attn_q.weight", "blk.0.attn_v.weight",   "blk.0.ffn_down.weight",
      "blk.0.ffn_gate.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_up.weight"};
  std::vector<TensorToPlan> tensors;
  for (const auto& name : input) tensors.push_back({name, DType::kF32, {256, 256}});
  // Numeric, not lexical, block order: blk.10 after blk.9.
  tensors.push_back({"blk.10.attn_q.weight", DType::kF32, {256, 256}});
  tensors.push_back({"blk.9.attn_q.weight", DType::kF32, {256, 256}});
  auto plan = PlanQuantization(tensors, {"llama", 11, 4, 4, 0}, Opts("Q4_0"));
  ASSERT_TRUE(plan.ok());
  std::vector<std::string> got;
  for (const auto& p : *plan) got.push_back(tensors[p.index].name);
  std::vector<std::string> want = expected;
  want.push_back("blk.9.attn_q.weight");
  want.push_back("blk.10.attn_q.weight");
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace autarky::tools
