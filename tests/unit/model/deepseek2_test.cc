// deepseek2 (MLA + MoE): the compressed KV cache's size, results independent of threads, prompt
// chunking and batch composition in both attention modes, absorbed == naive attention, and the
// expert usage counts of --verbose.
// (Agreement with the PyTorch reference is tests/e2e/deepseek_reference.sh.)
#include <gtest/gtest.h>

#include <unistd.h>

#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "engine/context.h"
#include "model/model.h"
#include "testing/random_models.h"
#include "tools/random_model.h"
#include "util/thread_pool.h"

namespace autarky {
namespace {

namespace fs = std::filesystem;

fs::path TempDir() {
  const fs::path dir =
      fs::temp_directory_path() / ("autarky-deepseek2-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

// preset "tiny" (V2-Lite style) or "tiny-v3"; type F32 or a quantization mix.
std::string MakeModel(const std::string& preset, const std::string& type) {
  tools::RandomModelOptions o;
  o.arch = "deepseek2";
  EXPECT_TRUE(tools::ApplyRandomModelPreset(preset, &o).ok());
  o.output = (TempDir() / (preset + "-F32.gguf")).string();
  o.seed = 7;
  o.progress = false;
  o.threads = 1;
  return testing::RandomModelFile(o, type);
}

// Sets AUTARKY_MLA for the loads in its scope.
class MlaMode {
 public:
  explicit MlaMode(const char* mode) { setenv("AUTARKY_MLA", mode, 1); }
  ~MlaMode() { unsetenv("AUTARKY_MLA"); }
};

std::unique_ptr<Model> Load(const std::string& path, const char* mode) {
  MlaMode m(mode);
  auto model = LoadModel(path);
  EXPECT_TRUE(model.ok()) << model.status().message();
  return model.ok() ? std::move(*model) : nullptr;
}

std::vector<float> Logits(const Model& model, const std::vector<int32_t>& tokens, int chunk,
                          int threads, DType kv_type) {
  ContextOptions options;
  options.n_ctx = 64;
  options.n_batch = chunk;
  options.n_threads = threads;
  options.kv_type = kv_type;
  auto ctx = InferenceContext::Create(model, options);
  EXPECT_TRUE(ctx.ok()) << ctx.status().message();
  std::vector<float> logits;
  Status s = (*ctx)->Eval(tokens, 0, 0, true, logits);
  EXPECT_TRUE(s.ok()) << s.message();
  return logits;
}

size_t FirstDifference(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return i;
  }
  return a.size();
}

constexpr int kVocab = 512;

std::vector<int32_t> Tokens(int n) {
  std::vector<int32_t> tokens;
  for (int i = 0; i < n; ++i) tokens.push_back((i * 37 + 11) % kVocab);
  return tokens;
}

TEST(Deepseek2KvCache, StoresOnlyTheLatentAndTheRopeKey) {
  // DeepSeek-V3's attention widths (kv_lora_rank 512, qk_rope 64, 128 + 64 per head) on an
  // otherwise tiny model: a cache row is 512 + 64 = 576 values per layer, against
  // 2 x n_head x 192 for a cache of decompressed keys and values.
  tools::RandomModelOptions o;
  o.arch = "deepseek2";
  ASSERT_TRUE(tools::ApplyRandomModelPreset("tiny", &o).ok());
  o.n_layer = 2;
  o.kv_lora_rank = 512;
  o.qk_nope_dim = 128;
  o.qk_rope_dim = 64;
  o.v_head_dim = 128;
  o.output = (TempDir() / "v3-widths.gguf").string();
  o.progress = false;
  ASSERT_TRUE(tools::WriteRandomModel(o).ok());
  auto model = Load(o.output, "absorbed");
  ASSERT_NE(model, nullptr);
  constexpr size_t kRow = 512 + 64;
  const struct {
    DType type;
    size_t bytes_per_layer;
  } cases[] = {{DType::kF32, kRow * 4}, {DType::kF16, kRow * 2}, {DType::kQ8_0, kRow / 32 * 34}};
  for (const auto& c : cases) {
    auto kv = KvCache::Create(model->CacheShape(), c.type, 16, 1);
    ASSERT_TRUE(kv.ok()) << kv.status().message();
    EXPECT_EQ((*kv)->BytesPerToken(), 2 * c.bytes_per_layer) << DTypeName(c.type);
  }
}

struct Case {
  const char* preset;
  const char* type;
};

class Deepseek2Invariance : public ::testing::TestWithParam<Case> {};

TEST_P(Deepseek2Invariance, LogitsDoNotDependOnChunkingOrThreads) {
  const Case c = GetParam();
  const std::string path = MakeModel(c.preset, c.type);
  const std::vector<int32_t> tokens = Tokens(23);
  for (const char* mode : {"absorbed", "naive"}) {
    auto model = Load(path, mode);
    ASSERT_NE(model, nullptr);
    for (DType kv : {DType::kF16, DType::kF32, DType::kQ8_0}) {
      const std::vector<float> reference = Logits(*model, tokens, 64, 1, kv);
      ASSERT_EQ(reference.size(), tokens.size() * kVocab);
      for (int chunk : {1, 5, 23}) {
        for (int threads : {1, 2}) {
          const std::vector<float> got = Logits(*model, tokens, chunk, threads, kv);
          const size_t diff = FirstDifference(got, reference);
          EXPECT_EQ(diff, got.size()) << mode << " kv " << DTypeName(kv) << " chunk " << chunk
                                      << " threads " << threads << ": token " << diff / kVocab;
        }
      }
    }
  }
}

TEST_P(Deepseek2Invariance, AbsorbedAttentionEqualsNaive) {
  const Case c = GetParam();
  const std::string path = MakeModel(c.preset, c.type);
  const std::vector<int32_t> tokens = Tokens(40);
  auto absorbed = Load(path, "absorbed");
  auto naive = Load(path, "naive");
  ASSERT_NE(absorbed, nullptr);
  ASSERT_NE(naive, nullptr);
  for (DType kv : {DType::kF32, DType::kF16}) {
    const std::vector<float> a = Logits(*absorbed, tokens, 16, 2, kv);
    const std::vector<float> b = Logits(*naive, tokens, 16, 2, kv);
    ASSERT_EQ(a.size(), b.size());
    float max_abs = 0.0f, max_diff = 0.0f;
    for (size_t i = 0; i < a.size(); ++i) {
      max_abs = std::fmax(max_abs, std::fabs(b[i]));
      max_diff = std::fmax(max_diff, std::fabs(a[i] - b[i]));
    }
    // The two orders of the same products (W_UK folded into q, or into the keys) differ by
    // float rounding only: with F32 weights, dots of length <= 128 over ~37 chained matmuls
    // (tests/e2e/deepseek_reference.sh derives 1e-4 as the F32 bound against float64). With
    // quantized weights, the absorbed path quantizes the absorbed query for the cache's
    // kernels (Q8_0 activations for a Q8_0 attn_kv_b), the naive path the latents for
    // attn_kv_b: 8-bit rounding of one activation vector per layer, 1/127 relative, over
    // sqrt(2L) independent entries.
    const bool quantized = std::string(c.type) != "F32";
    const float tol = quantized ? 3.0f / 127.0f * std::sqrt(6.0f) : 1e-4f;
    EXPECT_LE(max_diff, tol * max_abs)
        << DTypeName(kv) << ": max |absorbed - naive| " << max_diff << ", max |logit| " << max_abs;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, Deepseek2Invariance,
                         ::testing::Values(Case{"tiny", "F32"}, Case{"tiny-v3", "F32"},
                                           Case{"tiny", "Q8_0"}, Case{"tiny-v3", "Q4_K_M"}),
                         [](const ::testing::TestParamInfo<Case>& param_info) {
                           std::string name =
                               std::string(param_info.param.preset) + "_" + param_info.param.type;
                           for (char& ch : name) ch = ch == '-' ? '_' : ch;
                           return name;
                         });

// Two sequences whose tokens are interleaved in one batch get the logits each gets alone.
TEST(Deepseek2Batch, InterleavedSequencesEqualSeparateOnes) {
  for (const char* mode : {"absorbed", "naive"}) {
    auto model = Load(MakeModel("tiny-v3", "F32"), mode);
    ASSERT_NE(model, nullptr);
    ThreadPool pool(2);
    const int n = 9;
    const std::vector<int32_t> a = Tokens(n), b = Tokens(n + 5);
    auto run = [&](const std::vector<std::pair<int, int>>& order) {  // (seq, pos) per token
      auto kv = KvCache::Create(model->CacheShape(), DType::kF16, 32, 2);
      EXPECT_TRUE(kv.ok());
      auto scratch = model->NewScratch(2 * n, 2 * n);
      Batch batch;
      for (auto [seq, pos] : order) batch.Add(seq == 0 ? a[pos] : b[pos + 5], pos, seq, true);
      std::vector<float> logits(batch.size() * kVocab);
      model->Forward(batch, **kv, *scratch, pool, logits.data());
      return logits;
    };
    std::vector<std::pair<int, int>> mixed, seq0, seq1;
    for (int p = 0; p < n; ++p) {
      mixed.push_back({0, p});
      mixed.push_back({1, p});
      seq0.push_back({0, p});
      seq1.push_back({1, p});
    }
    const std::vector<float> together = run(mixed);
    const std::vector<float> alone0 = run(seq0), alone1 = run(seq1);
    for (int p = 0; p < n; ++p) {
      EXPECT_EQ(std::memcmp(&together[(2 * p) * kVocab], &alone0[p * kVocab], kVocab * 4), 0)
          << mode << " seq 0 position " << p;
      EXPECT_EQ(std::memcmp(&together[(2 * p + 1) * kVocab], &alone1[p * kVocab], kVocab * 4), 0)
          << mode << " seq 1 position " << p;
    }
  }
}

// The split attn_k_b / attn_v_b form (newer converters) holds the same values as attn_kv_b:
// F32 weights load to the same per-head matrices, so the logits are identical byte for byte.
TEST(Deepseek2SplitKvB, LogitsEqualTheAttnKvBFile) {
  for (const char* preset : {"tiny", "tiny-v3"}) {
    const fs::path split = TempDir() / (std::string(preset) + "-split-F32.gguf");
    tools::RandomModelOptions o;
    o.arch = "deepseek2";
    ASSERT_TRUE(tools::ApplyRandomModelPreset(preset, &o).ok());
    o.output = split.string();
    o.seed = 7;  // MakeModel's
    o.progress = false;
    o.threads = 1;
    o.split_kv_b = true;
    auto written = tools::WriteRandomModel(o);
    ASSERT_TRUE(written.ok()) << written.status().message();
    auto file = GgufFile::Open(split.string());
    ASSERT_TRUE(file.ok());
    EXPECT_EQ(file->FindTensor("blk.0.attn_kv_b.weight"), nullptr);
    const GgufTensorInfo* k_b = file->FindTensor("blk.0.attn_k_b.weight");
    ASSERT_NE(k_b, nullptr);
    EXPECT_EQ(k_b->shape()[0], o.qk_nope_dim);
    const std::vector<int32_t> tokens = Tokens(21);
    for (const char* mode : {"absorbed", "naive"}) {
      auto joined = Load(MakeModel(preset, "F32"), mode);
      auto parts = Load(split.string(), mode);
      ASSERT_NE(joined, nullptr);
      ASSERT_NE(parts, nullptr);
      const std::vector<float> a = Logits(*joined, tokens, 8, 2, DType::kF16);
      const std::vector<float> b = Logits(*parts, tokens, 8, 2, DType::kF16);
      const size_t diff = FirstDifference(a, b);
      EXPECT_EQ(diff, a.size()) << preset << " " << mode << ": token " << diff / kVocab;
    }
  }
}

// Expert usage of a whole prompt evaluated in chunks of `chunk` with counting enabled.
ExpertUsage CountUsage(const Model& model, const std::vector<int32_t>& tokens, int chunk) {
  ContextOptions options;
  options.n_ctx = 64;
  options.n_batch = chunk;
  options.n_threads = 2;
  auto ctx = InferenceContext::Create(model, options);
  EXPECT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_EQ((*ctx)->expert_usage(), nullptr) << "counting must be off by default";
  (*ctx)->EnableExpertUsage();
  std::vector<float> logits;
  Status s = (*ctx)->Eval(tokens, 0, 0, false, logits);
  EXPECT_TRUE(s.ok()) << s.message();
  const ExpertUsage* usage = (*ctx)->expert_usage();
  EXPECT_NE(usage, nullptr);
  return usage != nullptr ? *usage : ExpertUsage{};
}

TEST(Deepseek2ExpertUsage, EveryTokenIsCountedOncePerChosenExpert) {
  for (const char* preset : {"tiny", "tiny-v3"}) {
    auto model = Load(MakeModel(preset, "F32"), "absorbed");
    ASSERT_NE(model, nullptr);
    const std::vector<int32_t> tokens = Tokens(33);
    const ExpertUsage usage = CountUsage(*model, tokens, 64);
    // Both presets: 3 layers, the first dense.
    EXPECT_EQ(usage.layers, (std::vector<int>{1, 2})) << preset;
    ASSERT_EQ(usage.counts.size(), usage.layers.size() * usage.n_expert);
    for (size_t i = 0; i < usage.layers.size(); ++i) {
      const uint64_t* c = usage.Layer(i);
      EXPECT_EQ(std::accumulate(c, c + usage.n_expert, uint64_t{0}),
                tokens.size() * static_cast<uint64_t>(usage.n_used))
          << preset << " layer " << usage.layers[i];
      for (int e = 0; e < usage.n_expert; ++e) EXPECT_LE(c[e], tokens.size());
    }
    // Routing is per token, so the counts do not depend on how the prompt is chunked.
    EXPECT_EQ(CountUsage(*model, tokens, 5).counts, usage.counts) << preset;
    // One expert's gate, up and down: 3 x n_embd x n_ff_exp floats.
    EXPECT_EQ(usage.expert_bytes[0], 3u * 64 * 32 * sizeof(float)) << preset;
  }
}

TEST(Deepseek2ExpertUsage, ZeroRouterSendsEveryTokenToTheFirstExperts) {
  // A router of zeros gives every expert the same softmax probability; ties go to the lower
  // index, so each token of each MoE layer is served by experts 0 and 1 (tiny: 2 of 8).
  const fs::path path = TempDir() / "tiny-zero-router.gguf";
  fs::copy_file(MakeModel("tiny", "F32"), path, fs::copy_options::overwrite_existing);
  {
    auto file = GgufFile::Open(path.string());
    ASSERT_TRUE(file.ok()) << file.status().message();
    std::fstream out(path, std::ios::in | std::ios::out | std::ios::binary);
    for (const char* name : {"blk.1.ffn_gate_inp.weight", "blk.2.ffn_gate_inp.weight"}) {
      const GgufTensorInfo* t = file->FindTensor(name);
      ASSERT_NE(t, nullptr) << name;
      const std::vector<char> zeros(t->n_bytes, 0);
      out.seekp(static_cast<std::streamoff>(t->file_offset));
      out.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
    }
    ASSERT_TRUE(out.good());
  }
  auto model = Load(path.string(), "absorbed");
  ASSERT_NE(model, nullptr);
  const std::vector<int32_t> tokens = Tokens(17);
  const ExpertUsage usage = CountUsage(*model, tokens, 4);
  ASSERT_EQ(usage.n_expert, 8);
  ASSERT_EQ(usage.n_used, 2);
  std::vector<uint64_t> expected(2 * 8, 0);
  for (int layer = 0; layer < 2; ++layer) expected[layer * 8] = expected[layer * 8 + 1] = 17;
  EXPECT_EQ(usage.counts, expected);
  const std::string text = FormatExpertUsage(usage);
  EXPECT_NE(text.find("layer   1: min 0 median 0 max 17, 2/8 touched, top 0:17 1:17\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("(25.0%)"), std::string::npos) << text;
}

TEST(Deepseek2ExpertUsage, DenseModelsHaveNoTable) {
  tools::RandomModelOptions o;
  o.arch = "llama";
  ASSERT_TRUE(tools::ApplyRandomModelPreset("tiny", &o).ok());
  o.output = (TempDir() / "llama-tiny.gguf").string();
  o.progress = false;
  ASSERT_TRUE(tools::WriteRandomModel(o).ok());
  auto model = LoadModel(o.output);
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto ctx = InferenceContext::Create(**model, ContextOptions{});
  ASSERT_TRUE(ctx.ok());
  (*ctx)->EnableExpertUsage();
  EXPECT_EQ((*ctx)->expert_usage(), nullptr);
  EXPECT_EQ(FormatExpertUsage(ExpertUsage{}), "");
}

}  // namespace
}  // namespace autarky
