// What continuous batching relies on: a sequence's logits are bit-identical whether its tokens
// are evaluated alone or in multi-sequence batches together with other sequences' decode tokens
// and prompt chunks, for every weight type the server may meet. (forward_invariance_test checks
// the chunking of one sequence; this checks the mixing of several.)
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

constexpr int32_t kVocab = 320;

fs::path ModelDir() {
  return fs::temp_directory_path() / ("autarky-batch-mix-" + std::to_string(::getpid()));
}

std::string MakeModel(const std::string& type) {
  const fs::path dir = ModelDir();
  fs::create_directories(dir);
  tools::RandomModelOptions o;
  o.output = (dir / "qwen2-F32.gguf").string();
  o.arch = "qwen2";
  o.n_layer = 2;
  o.n_embd = 256;
  o.n_ff = 512;
  o.n_head = 4;
  o.n_head_kv = 2;
  o.n_vocab = kVocab;
  o.n_ctx_train = 256;
  o.seed = 21;
  o.progress = false;
  o.threads = 1;
  return testing::RandomModelFile(o, type);
}

std::vector<int32_t> Tokens(int n, int salt) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back((i * 53 + salt * 17 + 5) % kVocab);
  return t;
}

class BatchComposition : public ::testing::TestWithParam<const char*> {
 protected:
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(ModelDir(), ignored);
  }
};

// Sequence 0 (a 9-token prompt, then 12 decode steps) is evaluated alone, one token per
// forward pass after the prompt; then again with sequences 1 and 2 in the same passes: their
// prompts arrive in chunks of different sizes while sequence 0 decodes, then they decode too.
TEST_P(BatchComposition, LogitsOfOneSequenceDoNotDependOnTheOthers) {
  auto model = LoadModel(MakeModel(GetParam()));
  ASSERT_TRUE(model.ok()) << model.status().message();
  ContextOptions options;
  options.n_ctx = 64;
  options.n_batch = 64;
  options.n_seq = 3;
  options.n_threads = 2;
  const std::vector<int32_t> a = Tokens(21, 0), b = Tokens(30, 1), c = Tokens(25, 2);
  const int a_prompt = 9;

  // Alone: the prompt as one batch, then one token per pass.
  std::vector<std::vector<float>> alone;  // {steps}{n_vocab}: logits after each of a's passes
  {
    auto ctx = InferenceContext::Create(**model, options);
    ASSERT_TRUE(ctx.ok()) << ctx.status().message();
    Batch batch;
    std::vector<float> logits;
    for (int i = 0; i < a_prompt; ++i) batch.Add(a[i], i, 0, i == a_prompt - 1);
    ASSERT_TRUE((*ctx)->Decode(batch, logits).ok());
    alone.push_back(logits);
    for (int i = a_prompt; i < static_cast<int>(a.size()); ++i) {
      batch.Clear();
      batch.Add(a[i], i, 0, true);
      ASSERT_TRUE((*ctx)->Decode(batch, logits).ok());
      alone.push_back(logits);
    }
  }

  // Mixed: each pass holds a's next token(s) plus chunks of b and c (their positions advance
  // independently), with logits wanted for some of the others' tokens too.
  auto ctx = InferenceContext::Create(**model, options);
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  Batch batch;
  std::vector<float> logits;
  int pb = 0, pc = 0;
  const int b_chunks[] = {7, 1, 5, 1, 1, 3, 1, 1, 2, 1, 1, 1, 1};
  const int c_chunks[] = {0, 4, 1, 6, 1, 1, 2, 1, 1, 1, 1, 1, 1};
  for (int step = 0; step < 13; ++step) {
    batch.Clear();
    // b's chunk first, so that a's tokens sit at varying offsets in the batch.
    for (int k = 0; k < b_chunks[step] && pb < static_cast<int>(b.size()); ++k, ++pb) {
      batch.Add(b[pb], pb, 1, k == b_chunks[step] - 1);
    }
    int a_row = 0;
    if (step == 0) {
      for (int i = 0; i < a_prompt; ++i) batch.Add(a[i], i, 0, i == a_prompt - 1);
    } else {
      batch.Add(a[a_prompt + step - 1], a_prompt + step - 1, 0, true);
    }
    for (int64_t t = 0; t + 1 < batch.size(); ++t) a_row += batch.want_logits[t];
    for (int k = 0; k < c_chunks[step] && pc < static_cast<int>(c.size()); ++k, ++pc) {
      batch.Add(c[pc], pc, 2, true);
    }
    ASSERT_TRUE((*ctx)->Decode(batch, logits).ok());
    const float* got = logits.data() + static_cast<size_t>(a_row) * kVocab;
    ASSERT_EQ(std::memcmp(got, alone[step].data(), kVocab * sizeof(float)), 0)
        << GetParam() << ": sequence 0's logits at step " << step << " differ when batched ("
        << got[0] << " vs " << alone[step][0] << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(Types, BatchComposition,
                         ::testing::Values("F32", "F16", "Q8_0", "Q4_0", "Q4_K_M", "Q6_K",
                                           "IQ4_XS"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                           return std::string(param.param);
                         });

}  // namespace
}  // namespace autarky
