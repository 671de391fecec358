// Tests of the random-weight model writer: keys and tensors per architecture, determinism,
// weight statistics, the made-up and copied vocabularies, quantization mixes written directly,
// and refusals.
#include "tools/random_model.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "io/gguf_reader.h"
#include "testing/shared_data.h"
#include "tools/quantize_model.h"
#include "tools/quantize_plan.h"
#include "util/fp16.h"

namespace autarky::tools {
namespace {

class RandomModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("autarky_random_model_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  RandomModelOptions Tiny(const std::string& arch, const std::string& name) {
    RandomModelOptions o;
    o.arch = arch;
    EXPECT_TRUE(ApplyRandomModelPreset("tiny", &o).ok());
    o.output = (dir_ / name).string();
    o.progress = false;
    o.threads = 2;
    return o;
  }

  static std::string ReadAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  std::filesystem::path dir_;
};

std::vector<float> TensorValues(const GgufTensorInfo& t) {
  std::vector<float> v(static_cast<size_t>(t.n_elements));
  for (size_t i = 0; i < v.size(); ++i) {
    if (t.type == DType::kF32) {
      std::memcpy(&v[i], t.data + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      v[i] = t.type == DType::kF16 ? Fp16ToFp32(h) : Bf16ToFp32(h);
    }
  }
  return v;
}

TEST_F(RandomModelTest, LlamaHasTheConverterKeysAndTensors) {
  RandomModelOptions o = Tiny("llama", "llama.gguf");
  auto stats = WriteRandomModel(o);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  auto file = GgufFile::Open(o.output);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(*file->GetString("general.architecture"), "llama");
  EXPECT_EQ(*file->GetU32("llama.block_count"), 2u);
  EXPECT_EQ(*file->GetU32("llama.embedding_length"), 64u);
  EXPECT_EQ(*file->GetU32("llama.feed_forward_length"), 128u);
  EXPECT_EQ(*file->GetU32("llama.attention.head_count"), 4u);
  EXPECT_EQ(*file->GetU32("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(*file->GetU32("llama.rope.dimension_count"), 16u);
  EXPECT_EQ(*file->GetU32("llama.vocab_size"), 512u);
  EXPECT_EQ(*file->GetF32("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
  EXPECT_EQ(*file->GetF32("llama.rope.freq_base"), 10000.0f);
  EXPECT_FALSE(file->Has("llama.attention.key_length"));  // head size is dim / heads
  EXPECT_FALSE(file->Has("llama.rope.scaling.type"));
  const std::vector<std::string> names = {
      "token_embd.weight",     "blk.0.attn_norm.weight", "blk.0.attn_q.weight",
      "blk.0.attn_k.weight",   "blk.0.attn_v.weight",    "blk.0.attn_output.weight",
      "blk.0.ffn_norm.weight", "blk.0.ffn_gate.weight",  "blk.0.ffn_up.weight",
      "blk.0.ffn_down.weight", "blk.1.attn_norm.weight", "blk.1.attn_q.weight",
      "blk.1.attn_k.weight",   "blk.1.attn_v.weight",    "blk.1.attn_output.weight",
      "blk.1.ffn_norm.weight", "blk.1.ffn_gate.weight",  "blk.1.ffn_up.weight",
      "blk.1.ffn_down.weight", "output_norm.weight",     "output.weight"};
  ASSERT_EQ(file->tensors().size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(file->tensors()[i].name, names[i]);
  const GgufTensorInfo* k = file->FindTensor("blk.0.attn_k.weight");
  EXPECT_EQ(k->dims[0], 64);
  EXPECT_EQ(k->dims[1], 32);  // 2 kv heads x 16
  EXPECT_EQ(file->FindTensor("blk.0.ffn_down.weight")->dims[0], 128);
  EXPECT_EQ(file->FindTensor("output.weight")->dims[1], 512);
  EXPECT_EQ(stats->n_tensors, 21);
}

TEST_F(RandomModelTest, Qwen2HasBiasesAndQwen3HasHeadNorms) {
  RandomModelOptions q2 = Tiny("qwen2", "qwen2.gguf");
  q2.tied = true;
  ASSERT_TRUE(WriteRandomModel(q2).ok());
  auto f2 = GgufFile::Open(q2.output);
  ASSERT_TRUE(f2.ok());
  EXPECT_EQ(*f2->GetF32("qwen2.attention.layer_norm_rms_epsilon"), 1e-6f);
  EXPECT_FALSE(f2->Has("qwen2.rope.dimension_count"));  // the converter writes none for qwen2
  EXPECT_EQ(f2->FindTensor("blk.1.attn_q.bias")->dims[0], 64);
  EXPECT_EQ(f2->FindTensor("blk.1.attn_k.bias")->dims[0], 32);
  EXPECT_EQ(f2->FindTensor("blk.1.attn_v.bias")->dims[0], 32);
  EXPECT_EQ(f2->FindTensor("output.weight"), nullptr);  // tied
  EXPECT_EQ(f2->FindTensor("blk.0.attn_q_norm.weight"), nullptr);

  RandomModelOptions q3 = Tiny("qwen3", "qwen3.gguf");
  ASSERT_TRUE(WriteRandomModel(q3).ok());
  auto f3 = GgufFile::Open(q3.output);
  ASSERT_TRUE(f3.ok());
  EXPECT_EQ(*f3->GetU32("qwen3.attention.key_length"), 32u);  // wider than 64 / 4
  EXPECT_EQ(*f3->GetU32("qwen3.attention.value_length"), 32u);
  EXPECT_EQ(f3->FindTensor("blk.0.attn_q_norm.weight")->dims[0], 32);
  EXPECT_EQ(f3->FindTensor("blk.0.attn_k_norm.weight")->dims[0], 32);
  EXPECT_EQ(f3->FindTensor("blk.0.attn_q.weight")->dims[1], 128);  // 4 heads x 32
  EXPECT_EQ(f3->FindTensor("blk.0.attn_output.weight")->dims[0], 128);
  EXPECT_EQ(f3->FindTensor("blk.0.attn_q.bias"), nullptr);
}

TEST_F(RandomModelTest, RopeScalingKeysAndLlama3Factors) {
  RandomModelOptions yarn = Tiny("qwen2", "yarn.gguf");
  yarn.rope_scaling = RopeScaling::kYarn;
  yarn.rope_factor = 4.0f;
  ASSERT_TRUE(WriteRandomModel(yarn).ok());
  auto fy = GgufFile::Open(yarn.output);
  ASSERT_TRUE(fy.ok());
  EXPECT_EQ(*fy->GetString("qwen2.rope.scaling.type"), "yarn");
  EXPECT_EQ(*fy->GetF32("qwen2.rope.scaling.factor"), 4.0f);
  EXPECT_EQ(*fy->GetU32("qwen2.rope.scaling.original_context_length"), 512u);  // 2048 / 4

  RandomModelOptions llama3 = Tiny("llama", "llama3.gguf");
  llama3.rope_scaling = RopeScaling::kLlama3;
  llama3.rope_factor = 8.0f;
  llama3.rope_orig_ctx = 256;
  ASSERT_TRUE(WriteRandomModel(llama3).ok());
  auto fl = GgufFile::Open(llama3.output);
  ASSERT_TRUE(fl.ok());
  EXPECT_FALSE(fl->Has("llama.rope.scaling.type"));  // llama.cpp would read a factor as linear
  const GgufTensorInfo* freqs = fl->FindTensor("rope_freqs.weight");
  ASSERT_NE(freqs, nullptr);
  ASSERT_EQ(freqs->n_elements, 8);
  // Hand-computed for head size 16, base 10000, original context 256, band factors 1 and 4:
  // wavelength of pair i is 2 pi 10000^(i/8). Below 256/4 = 64 (i = 0, 1, 2: 6.3, 19.9, 62.8)
  // the factor is 1; above 256 (i >= 4: 628, ...) it is 8; i = 3 (198.7) is in the smooth band:
  // smooth = (256 / 198.69 - 1) / 3 = 0.09614, factor 1 / ((1 - 0.09614) / 8 + 0.09614) = 4.7818.
  const std::vector<float> got = TensorValues(*freqs);
  EXPECT_EQ(got[0], 1.0f);
  EXPECT_EQ(got[1], 1.0f);
  EXPECT_EQ(got[2], 1.0f);
  // The hand computation above keeps 5 digits.
  constexpr float kHandRoundingTol = 1e-3f;
  EXPECT_NEAR(got[3], 4.7818f, kHandRoundingTol);
  for (int i = 4; i < 8; ++i) EXPECT_EQ(got[i], 8.0f);
}

TEST_F(RandomModelTest, SameSeedSameBytesWhateverTheThreads) {
  RandomModelOptions a = Tiny("qwen2", "a.gguf");
  a.seed = 9;
  a.threads = 1;
  a.n_vocab = 20000;  // token_embd (1.3M elements) spans 20 generator chunks, two slices
  RandomModelOptions b = a;
  b.output = (dir_ / "b.gguf").string();
  b.threads = 3;
  RandomModelOptions c = a;
  c.output = (dir_ / "c.gguf").string();
  c.seed = 10;
  ASSERT_TRUE(WriteRandomModel(a).ok());
  ASSERT_TRUE(WriteRandomModel(b).ok());
  ASSERT_TRUE(WriteRandomModel(c).ok());
  const std::string bytes_a = ReadAll(a.output);
  EXPECT_EQ(bytes_a, ReadAll(b.output));
  EXPECT_NE(bytes_a, ReadAll(c.output));
}

TEST_F(RandomModelTest, WeightStatisticsKeepActivationsSane) {
  RandomModelOptions o = Tiny("qwen2", "stats.gguf");
  o.n_embd = 256;
  o.n_ff = 512;
  o.type = DType::kF16;
  ASSERT_TRUE(WriteRandomModel(o).ok());
  auto file = GgufFile::Open(o.output);
  ASSERT_TRUE(file.ok());
  struct Expect {
    const char* name;
    double mean, std;
  };
  // Matrices: std 1/sqrt(row length); norms 1 + 0.1 z; biases 0.2 z.
  for (const Expect& e :
       {Expect{"blk.0.ffn_up.weight", 0.0, 1.0 / 16.0},
        Expect{"blk.0.ffn_down.weight", 0.0, 1.0 / std::sqrt(512.0)},
        Expect{"blk.1.attn_norm.weight", 1.0, 0.1}, Expect{"blk.1.attn_k.bias", 0.0, 0.2}}) {
    const GgufTensorInfo* t = file->FindTensor(e.name);
    ASSERT_NE(t, nullptr) << e.name;
    const std::vector<float> v = TensorValues(*t);
    double sum = 0, sum2 = 0;
    for (const float x : v) sum += x;
    const double mean = sum / v.size();
    for (const float x : v) sum2 += (x - mean) * (x - mean);
    const double std = std::sqrt(sum2 / v.size());
    // Sampling error of n draws: the mean's std is std/sqrt(n), the std's is about
    // std/sqrt(2n) (a bell-shaped law); 5 of those bounds a false failure far below 1e-5.
    const double n = static_cast<double>(v.size());
    EXPECT_NEAR(mean, e.mean, 5.0 * e.std / std::sqrt(n)) << e.name;
    EXPECT_NEAR(std, e.std, 5.0 * e.std / std::sqrt(2.0 * n)) << e.name;
  }
  EXPECT_EQ(file->FindTensor("blk.0.ffn_up.weight")->type, DType::kF16);
  EXPECT_EQ(file->FindTensor("blk.0.attn_norm.weight")->type, DType::kF32);  // 1-D stays F32
  EXPECT_EQ(*file->GetU32("general.file_type"), 1u);
}

TEST_F(RandomModelTest, SelfMadeVocabularyHasSpecialAndByteTokens) {
  RandomModelOptions o = Tiny("llama", "vocab.gguf");
  ASSERT_TRUE(WriteRandomModel(o).ok());
  auto file = GgufFile::Open(o.output);
  ASSERT_TRUE(file.ok());
  auto tokens = file->GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), 512u);
  EXPECT_EQ((*tokens)[0], "<unk>");
  EXPECT_EQ((*tokens)[1], "<s>");
  EXPECT_EQ((*tokens)[2], "</s>");
  EXPECT_EQ((*tokens)[3], "<0x00>");
  EXPECT_EQ((*tokens)[3 + 0xAB], "<0xAB>");
  EXPECT_EQ((*tokens)[258], "<0xFF>");
  EXPECT_EQ((*tokens)[259], "\xe2\x96\x81");
  std::set<std::string_view> unique(tokens->begin(), tokens->end());
  EXPECT_EQ(unique.size(), tokens->size());
  const std::vector<int32_t> types = *file->GetI32Array("tokenizer.ggml.token_type");
  EXPECT_EQ(types[0], 2);
  EXPECT_EQ(types[1], 3);
  EXPECT_EQ(types[100], 6);
  EXPECT_EQ(types[300], 1);
  EXPECT_EQ(*file->GetString("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(*file->GetU32("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(file->GetF32Array("tokenizer.ggml.scores")->size(), 512u);
}

TEST_F(RandomModelTest, VocabFromCopiesTheTokenizer) {
  SKIP_WITHOUT_SHARED("golden/tokenizer/qwen2.gguf");
  const std::string source = (testing::SharedDir() / "golden/tokenizer/qwen2.gguf").string();
  auto vocab = GgufFile::Open(source);
  ASSERT_TRUE(vocab.ok());
  RandomModelOptions o = Tiny("qwen2", "copied.gguf");
  o.vocab_from = source;
  auto stats = WriteRandomModel(o);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  auto file = GgufFile::Open(o.output);
  ASSERT_TRUE(file.ok());
  int n_copied = 0;
  for (const GgufKeyValue& kv : vocab->metadata()) {
    if (!kv.key.starts_with("tokenizer.")) continue;
    ++n_copied;
    const GgufValue* got = file->Find(kv.key);
    ASSERT_NE(got, nullptr) << kv.key;
    EXPECT_TRUE(*got == kv.value) << kv.key;
  }
  EXPECT_GT(n_copied, 3);
  const int64_t n_vocab =
      static_cast<int64_t>(vocab->GetStringArray("tokenizer.ggml.tokens")->size());
  EXPECT_EQ(stats->n_vocab, n_vocab);
  EXPECT_EQ(file->FindTensor("token_embd.weight")->dims[1], n_vocab);
}

// The padded form is what makes a bench model loadable by llama.cpp-family tools at the exact
// R1-Distill-Qwen shape: qwen2.gguf has 151,669 tokens, the embedding 151,936 rows.
TEST_F(RandomModelTest, VocabFromPaddedToTheEmbeddingSize) {
  SKIP_WITHOUT_SHARED("golden/tokenizer/qwen2.gguf");
  const std::string source = (testing::SharedDir() / "golden/tokenizer/qwen2.gguf").string();
  auto vocab = GgufFile::Open(source);
  ASSERT_TRUE(vocab.ok());
  const auto source_tokens = *vocab->GetStringArray("tokenizer.ggml.tokens");
  const int64_t n_source = static_cast<int64_t>(source_tokens.size());
  RandomModelOptions o = Tiny("qwen2", "padded.gguf");
  o.vocab_from = source;
  o.pad_vocab_to = n_source + 267;
  auto stats = WriteRandomModel(o);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->n_vocab, o.pad_vocab_to);
  auto file = GgufFile::Open(o.output);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->FindTensor("token_embd.weight")->dims[1], o.pad_vocab_to);
  const auto tokens = *file->GetStringArray("tokenizer.ggml.tokens");
  ASSERT_EQ(static_cast<int64_t>(tokens.size()), o.pad_vocab_to);
  for (int64_t i = 0; i < n_source; ++i) ASSERT_EQ(tokens[i], source_tokens[i]) << i;
  EXPECT_EQ(tokens[n_source], "[PAD" + std::to_string(n_source) + "]");
  EXPECT_EQ(tokens[o.pad_vocab_to - 1], "[PAD" + std::to_string(o.pad_vocab_to - 1) + "]");
  const std::vector<int32_t> types =
      (*file->GetArray("tokenizer.ggml.token_type", GgufType::kI32))->ToVector<int32_t>();
  const std::vector<int32_t> source_types =
      (*vocab->GetArray("tokenizer.ggml.token_type", GgufType::kI32))->ToVector<int32_t>();
  ASSERT_EQ(static_cast<int64_t>(types.size()), o.pad_vocab_to);
  EXPECT_TRUE(std::equal(source_types.begin(), source_types.end(), types.begin()));
  EXPECT_EQ(types[n_source], 5);  // UNUSED
  // Every other tokenizer key is copied as it is.
  for (const GgufKeyValue& kv : vocab->metadata()) {
    if (!kv.key.starts_with("tokenizer.") || kv.key == "tokenizer.ggml.tokens" ||
        kv.key == "tokenizer.ggml.token_type") {
      continue;
    }
    const GgufValue* got = file->Find(kv.key);
    ASSERT_NE(got, nullptr) << kv.key;
    EXPECT_TRUE(*got == kv.value) << kv.key;
  }
  // Padding below the file's own size is refused.
  o.pad_vocab_to = n_source - 1;
  auto refused = WriteRandomModel(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("--vocab"), std::string::npos);
}

TEST_F(RandomModelTest, PresetOfTheR1DistillQwen) {
  RandomModelOptions o;
  ASSERT_TRUE(ApplyRandomModelPreset("r1-distill-qwen-1.5b", &o).ok());
  EXPECT_EQ(o.arch, "qwen2");
  EXPECT_EQ(o.n_layer, 28);
  EXPECT_EQ(o.n_embd, 1536);
  EXPECT_EQ(o.n_ff, 8960);
  EXPECT_EQ(o.n_head, 12);
  EXPECT_EQ(o.n_head_kv, 2);
  EXPECT_EQ(o.n_vocab, 151936);
  EXPECT_EQ(o.n_ctx_train, 131072);
  EXPECT_EQ(o.rms_eps, 1e-6f);
  EXPECT_FALSE(o.tied);
  o.arch = "llama";
  EXPECT_FALSE(ApplyRandomModelPreset("r1-distill-qwen-1.5b", &o).ok());
  EXPECT_FALSE(ApplyRandomModelPreset("huge", &o).ok());
}

// A mix written directly is the F32 file of the same seed quantized by autarky quantize: the
// same tensors in the same order, types and bytes (llama-quantize's per-tensor rules).
TEST_F(RandomModelTest, QuantMixEqualsQuantizingTheF32File) {
  for (const char* mix : {"Q4_K_M", "Q8_0"}) {
    for (const char* preset : {"tiny", "tiny-v3"}) {
      RandomModelOptions o = Tiny("deepseek2", std::string(preset) + "-F32.gguf");
      ASSERT_TRUE(ApplyRandomModelPreset(preset, &o).ok());
      o.n_embd = 256;  // rows of 256: K-quant blocks fit, as in real models
      o.seed = 11;
      ASSERT_TRUE(WriteRandomModel(o).ok());
      QuantizeModelOptions q;
      q.input = o.output;
      q.output = (dir_ / (std::string(preset) + "-via-quantize.gguf")).string();
      q.mix = FindQuantMix(mix);
      q.threads = 1;
      q.progress = false;
      q.log_tensors = false;
      auto quantized = QuantizeModel(q);
      ASSERT_TRUE(quantized.ok()) << quantized.status().message();
      o.output = (dir_ / (std::string(preset) + "-direct.gguf")).string();
      o.quant_mix = mix;
      auto direct_stats = WriteRandomModel(o);
      ASSERT_TRUE(direct_stats.ok()) << direct_stats.status().message();

      auto direct = GgufFile::Open(o.output);
      auto via = GgufFile::Open(q.output);
      ASSERT_TRUE(direct.ok() && via.ok());
      ASSERT_EQ(direct->tensors().size(), via->tensors().size());
      std::set<DType> types;
      for (size_t i = 0; i < via->tensors().size(); ++i) {
        const GgufTensorInfo& a = direct->tensors()[i];
        const GgufTensorInfo& b = via->tensors()[i];
        ASSERT_EQ(a.name, b.name) << mix << " " << preset << " tensor " << i;
        EXPECT_EQ(a.type, b.type) << a.name;
        ASSERT_EQ(a.n_bytes, b.n_bytes) << a.name;
        EXPECT_EQ(std::memcmp(a.data, b.data, a.n_bytes), 0) << a.name;
        types.insert(a.type);
      }
      EXPECT_GT(types.size(), 1u) << mix << ": a mix keeps norms in F32";
      EXPECT_EQ(*direct->GetU32("general.file_type"), FindQuantMix(mix)->file_type);
    }
  }
}

TEST_F(RandomModelTest, RefusesBadOptionsWithoutWriting) {
  struct Case {
    void (*mutate)(RandomModelOptions&);
    const char* message_part;
  };
  const std::vector<Case> cases = {
      {[](RandomModelOptions& o) { o.arch = "gpt2"; }, "--arch"},
      {[](RandomModelOptions& o) { o.n_layer = 0; }, "--layers"},
      {[](RandomModelOptions& o) { o.n_head_kv = 3; }, "multiple of --kv-heads"},
      {[](RandomModelOptions& o) { o.n_embd = 66; }, "give --head-dim"},
      {[](RandomModelOptions& o) { o.head_dim = 15; }, "even"},
      {[](RandomModelOptions& o) { o.n_vocab = 100; }, "--vocab"},
      {[](RandomModelOptions& o) {
         o.rope_scaling = RopeScaling::kLinear;
         o.rope_factor = -1.0f;
       },
       "--rope-factor"},
      {[](RandomModelOptions& o) {
         o.arch = "qwen2";
         o.rope_scaling = RopeScaling::kLlama3;
       },
       "llama3"},
      {[](RandomModelOptions& o) { o.type = DType::kQ4_0; }, "--type"},
      {[](RandomModelOptions& o) { o.vocab_from = "/nonexistent/vocab.gguf"; }, "vocab.gguf"},
  };
  for (const Case& c : cases) {
    RandomModelOptions o = Tiny("llama", "refused.gguf");
    c.mutate(o);
    auto stats = WriteRandomModel(o);
    ASSERT_FALSE(stats.ok()) << c.message_part;
    EXPECT_NE(stats.status().message().find(c.message_part), std::string::npos)
        << stats.status().message();
    EXPECT_FALSE(std::filesystem::exists(o.output)) << c.message_part;
  }
}

}  // namespace
}  // namespace autarky::tools
