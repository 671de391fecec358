// Batch and thread invariance of the forward pass: a sequence's logits are bit-identical whether
// its tokens are evaluated all at once, one by one, or in chunks of any size, with 1 or 2
// threads, for every architecture, weight type and KV cache type. (The forward is built for
// this: every output is computed by one fixed sequence of operations; see model/model.h.)
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/context.h"
#include "model/model.h"
#include "testing/random_models.h"
#include "tools/random_model.h"

namespace autarky {
namespace {

namespace fs = std::filesystem;

fs::path TempDir() {
  const fs::path dir = fs::temp_directory_path() / ("autarky-invariance-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

// A small model whose row lengths (256, 512) suit every weight type, K-quants included, and
// whose head size (64) suits the Q8_0 cache; GQA with 2 query heads per KV head.
std::string MakeModel(const std::string& arch, const std::string& type) {
  tools::RandomModelOptions o;
  o.output = (TempDir() / (arch + "-F32.gguf")).string();
  o.arch = arch;
  o.n_layer = 2;
  o.n_embd = 256;
  o.n_ff = 512;
  o.n_head = 4;
  o.n_head_kv = 2;
  o.n_vocab = 320;
  o.n_ctx_train = 256;
  o.seed = 7;
  o.progress = false;
  o.threads = 1;
  return testing::RandomModelFile(o, type, /*pure=*/true);
}

// Logits {n_tokens, n_vocab} of `tokens` evaluated in chunks of `chunk`, with `threads`.
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

struct Case {
  const char* arch;
  const char* type;
};

class ForwardInvariance : public ::testing::TestWithParam<Case> {};

TEST_P(ForwardInvariance, LogitsDoNotDependOnChunkingOrThreads) {
  const Case c = GetParam();
  auto model = LoadModel(MakeModel(c.arch, c.type));
  ASSERT_TRUE(model.ok()) << model.status().message();
  std::vector<int32_t> tokens;
  for (int i = 0; i < 23; ++i) tokens.push_back((i * 37 + 11) % 320);
  for (DType kv : {DType::kF16, DType::kF32, DType::kQ8_0}) {
    const std::vector<float> reference = Logits(**model, tokens, 64, 1, kv);
    ASSERT_EQ(reference.size(), tokens.size() * 320);
    for (int chunk : {1, 5, 8, 23}) {
      for (int threads : {1, 2}) {
        const std::vector<float> got = Logits(**model, tokens, chunk, threads, kv);
        ASSERT_EQ(got.size(), reference.size());
        size_t first_diff = got.size();
        for (size_t i = 0; i < got.size(); ++i) {
          if (std::memcmp(&got[i], &reference[i], sizeof(float)) != 0) {
            first_diff = i;
            break;
          }
        }
        EXPECT_EQ(first_diff, got.size())
            << c.arch << " " << c.type << " kv " << DTypeName(kv) << " chunk " << chunk
            << " threads " << threads << ": token " << first_diff / 320 << " logit "
            << first_diff % 320 << " differs: " << got[first_diff] << " vs "
            << reference[first_diff];
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Archs, ForwardInvariance,
    ::testing::Values(Case{"llama", "F32"}, Case{"qwen2", "F32"}, Case{"qwen3", "F32"},
                      Case{"llama", "F16"}, Case{"qwen2", "Q8_0"}, Case{"qwen2", "Q4_0"},
                      Case{"llama", "Q4_K"}, Case{"qwen3", "Q6_K"}, Case{"qwen2", "IQ4_XS"}),
    [](const ::testing::TestParamInfo<Case>& param_info) {
      return std::string(param_info.param.arch) + "_" + param_info.param.type;
    });

}  // namespace
}  // namespace autarky
