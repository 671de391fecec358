// Hugging Face folders: a random GGUF model written out as a safetensors folder (HF names and
// [out, in] shapes, llama's Q/K rows un-permuted, config.json from its keys) loads back with the
// same tensor bytes and bit-identical logits; `convert` writes it back to an equal GGUF, and
// with --type the same bytes as quantizing the original; FP8 blocks decode to known values; a
// byte-level BPE tokenizer.json gives the hand-derived ids; bad folders give clean errors.
#include "io/hf_folder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/context.h"
#include "io/gguf_writer.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "testing/random_models.h"
#include "tokenizer/tokenizer.h"
#include "tools/convert_model.h"
#include "tools/quantize_model.h"
#include "tools/random_model.h"
#include "util/fp16.h"

namespace autarky {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

fs::path TempDir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("autarky-hf-" + std::to_string(::getpid())) / name;
  fs::create_directories(dir);
  return dir;
}

struct StTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

// The safetensors layout written here independently of the reader: u64 header length, JSON
// padded with spaces to 8 bytes (as Hugging Face's writer), then the data in order.
void WriteSafetensors(const fs::path& path, const std::vector<StTensor>& tensors) {
  Json header = Json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const StTensor& t : tensors) {
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text += ' ';
  std::ofstream out(path, std::ios::binary);
  uint64_t n = text.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << text;
  for (const StTensor& t : tensors) {
    out.write(reinterpret_cast<const char*>(t.bytes.data()),
              static_cast<std::streamsize>(t.bytes.size()));
  }
}

void WriteJson(const fs::path& path, const Json& j) { std::ofstream(path) << j.dump(2); }

// GPT-2's byte -> printable code point mapping, as UTF-8.
std::string ByteChar(int b) {
  const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  int cp = b;
  if (!printable) {
    int n = 0;
    for (int x = 0; x < b; ++x) {
      if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) ++n;
    }
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 63));
  }
  return s;
}

constexpr const char* kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// A byte-level BPE: ids 0..255 the bytes, 256 "he", 257 "Ġt", 258 "Ġthe", added tokens
// <|endoftext|> (259, special), <|im_start|> (260, special), <think> (261, not special).
void WriteTokenizer(const fs::path& dir) {
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b) vocab[ByteChar(b)] = b;
  vocab["he"] = 256;
  vocab["\xC4\xA0t"] = 257;
  vocab["\xC4\xA0the"] = 258;
  Json tok = {
      {"version", "1.0"},
      {"normalizer", {{"type", "NFC"}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern", {{"Regex", kQwen2Regex}}},
           {"behavior", "Isolated"},
           {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}},
      {"model",
       {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"h e", "\xC4\xA0 t", {"\xC4\xA0t", "he"}}}}},
      {"added_tokens",
       {{{"id", 259}, {"content", "<|endoftext|>"}, {"special", true}},
        {{"id", 260}, {"content", "<|im_start|>"}, {"special", true}},
        {{"id", 261}, {"content", "<think>"}, {"special", false}}}}};
  WriteJson(dir / "tokenizer.json", tok);
  WriteJson(dir / "tokenizer_config.json",
            {{"add_bos_token", false},
             {"eos_token", "<|endoftext|>"},
             {"pad_token", {{"content", "<|endoftext|>"}, {"__type", "AddedToken"}}},
             {"chat_template", "{{ messages[0]['content'] }}"}});
}

// HF name of a GGUF tensor (the inverse of the loader's table, written out separately).
std::string HfName(const std::string& g) {
  if (g == "token_embd.weight") return "model.embed_tokens.weight";
  if (g == "output_norm.weight") return "model.norm.weight";
  if (g == "output.weight") return "lm_head.weight";
  const size_t dot = g.find('.', 4);
  const std::string layer = g.substr(4, dot - 4), part = g.substr(dot + 1);
  const std::vector<std::pair<std::string, std::string>> parts = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_v.bias", "self_attn.v_proj.bias"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"attn_q_norm.weight", "self_attn.q_norm.weight"},
      {"attn_k_norm.weight", "self_attn.k_norm.weight"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"}};
  for (const auto& [a, b] : parts) {
    if (a == part) return "model.layers." + layer + "." + b;
  }
  ADD_FAILURE() << "no HF name for " << g;
  return g;
}

// Writes `gguf` as a Hugging Face folder in `dir` (n_shards files with an index when > 1).
void WriteFolder(const GgufFile& gguf, const fs::path& dir, int n_shards) {
  const std::string arch(*gguf.GetString("general.architecture"));
  const std::string p = arch + ".";
  const int64_t n_embd = *gguf.GetInteger<int64_t>(p + "embedding_length");
  const int64_t n_head = *gguf.GetInteger<int64_t>(p + "attention.head_count");
  const int64_t n_head_kv = *gguf.GetInteger<int64_t>(p + "attention.head_count_kv");
  const int64_t head_dim = *gguf.GetIntegerOr<int64_t>(p + "attention.key_length", n_embd / n_head);
  const GgufTensorInfo* embd = gguf.FindTensor("token_embd.weight");
  Json config = {{"architectures",
                  {arch == "llama"   ? "LlamaForCausalLM"
                   : arch == "qwen2" ? "Qwen2ForCausalLM"
                                     : "Qwen3ForCausalLM"}},
                 {"num_hidden_layers", *gguf.GetInteger<int64_t>(p + "block_count")},
                 {"hidden_size", n_embd},
                 {"intermediate_size", *gguf.GetInteger<int64_t>(p + "feed_forward_length")},
                 {"num_attention_heads", n_head},
                 {"num_key_value_heads", n_head_kv},
                 {"head_dim", head_dim},
                 {"vocab_size", embd->dims[1]},
                 {"max_position_embeddings", *gguf.GetInteger<int64_t>(p + "context_length")},
                 {"rope_theta", *gguf.GetFloatOr(p + "rope.freq_base", 10000.0)},
                 {"rms_norm_eps", *gguf.GetFloat(p + "attention.layer_norm_rms_epsilon")},
                 {"tie_word_embeddings", gguf.FindTensor("output.weight") == nullptr},
                 {"bos_token_id", 259},
                 {"eos_token_id", 259}};
  WriteJson(dir / "config.json", config);
  WriteTokenizer(dir);

  std::vector<std::vector<StTensor>> shards(n_shards);
  Json weight_map = Json::object();
  int i = 0;
  for (const GgufTensorInfo& t : gguf.tensors()) {
    StTensor st;
    st.name = HfName(std::string(t.name));
    st.dtype = t.type == DType::kF32 ? "F32" : t.type == DType::kF16 ? "F16" : "BF16";
    for (int d = t.n_dims - 1; d >= 0; --d) st.shape.push_back(t.dims[d]);
    st.bytes.assign(t.data, t.data + t.n_bytes);
    const bool q = t.name.ends_with("attn_q.weight"), k = t.name.ends_with("attn_k.weight");
    if (arch == "llama" && (q || k)) {
      // GGUF row h*hd + 2i + j holds HF row h*hd + j*hd/2 + i.
      const size_t row = t.n_bytes / t.dims[1];
      const int64_t heads = q ? n_head : n_head_kv, hd = t.dims[1] / heads;
      for (int64_t h = 0; h < heads; ++h) {
        for (int64_t r = 0; r < hd; ++r) {
          const int64_t g_row = h * hd + 2 * (r % (hd / 2)) + r / (hd / 2);
          std::memcpy(st.bytes.data() + (h * hd + r) * row, t.data + g_row * row, row);
        }
      }
    }
    const int shard = i++ % n_shards;
    weight_map[st.name] = "model-0000" + std::to_string(shard + 1) + "-of-0000" +
                          std::to_string(n_shards) + ".safetensors";
    shards[shard].push_back(std::move(st));
  }
  if (n_shards == 1) {
    WriteSafetensors(dir / "model.safetensors", shards[0]);
    return;
  }
  for (int s = 0; s < n_shards; ++s) {
    WriteSafetensors(dir / ("model-0000" + std::to_string(s + 1) + "-of-0000" +
                            std::to_string(n_shards) + ".safetensors"),
                     shards[s]);
  }
  WriteJson(dir / "model.safetensors.index.json",
            {{"metadata", Json::object()}, {"weight_map", weight_map}});
}

constexpr int64_t kVocab = 320;

std::string RandomGguf(const std::string& arch, const std::string& type) {
  tools::RandomModelOptions o;
  o.output = (TempDir("gguf") / (arch + "-F32.gguf")).string();
  o.arch = arch;
  o.n_layer = 2;
  o.n_embd = 64;
  o.n_ff = 96;
  o.n_head = 4;
  o.n_head_kv = 2;
  o.head_dim = arch == "qwen3" ? 32 : 0;  // qwen3's head size is not n_embd / n_head
  o.n_vocab = kVocab;
  o.n_ctx_train = 128;
  o.rope_base = arch == "llama" ? 500000.0f : 1000000.0f;
  o.tied = arch == "qwen2";
  o.seed = 11;
  o.progress = false;
  o.threads = 1;
  return testing::RandomModelFile(o, type, /*pure=*/true);
}

std::vector<float> Logits(const Model& model) {
  std::vector<int32_t> tokens;
  for (int i = 0; i < 19; ++i) tokens.push_back((i * 37 + 11) % kVocab);
  ContextOptions options;
  options.n_ctx = 32;
  options.n_threads = 1;
  auto ctx = InferenceContext::Create(model, options);
  EXPECT_TRUE(ctx.ok()) << ctx.status().message();
  std::vector<float> logits;
  Status s = (*ctx)->Eval(tokens, 0, 0, true, logits);
  EXPECT_TRUE(s.ok()) << s.message();
  return logits;
}

void ExpectSameTensors(const GgufFile& a, const GgufFile& b) {
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (const GgufTensorInfo& t : a.tensors()) {
    const GgufTensorInfo* u = b.FindTensor(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_EQ(t.type, u->type) << t.name;
    EXPECT_EQ(t.dims, u->dims) << t.name;
    ASSERT_EQ(t.n_bytes, u->n_bytes) << t.name;
    EXPECT_EQ(std::memcmp(t.data, u->data, t.n_bytes), 0) << t.name;
  }
}

void ExpectBitIdentical(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

// `autarky convert` of the folder `dir` (loaded as `folder_model`): the GGUF holds the same
// tensors, names `pre` as its pre-tokenizer (unless empty) and gives `logits`, bit for bit.
void ExpectConvertRoundTrip(const fs::path& dir, const Model& folder_model,
                            const std::vector<float>& logits, const std::string& pre) {
  const fs::path out = dir / "converted.gguf";
  tools::ConvertModelOptions options;
  options.input = dir.string();
  options.output = out.string();
  options.progress = false;
  auto stats = tools::ConvertModel(options);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  auto converted = GgufFile::Open(out.string());
  ASSERT_TRUE(converted.ok()) << converted.status().message();
  ExpectSameTensors(*converted, folder_model.file());
  if (!pre.empty()) {
    EXPECT_EQ(*converted->GetString("tokenizer.ggml.pre"), pre);
  }
  auto c_model = LoadModel(out.string());
  ASSERT_TRUE(c_model.ok()) << c_model.status().message();
  ExpectBitIdentical(logits, Logits(**c_model));
}

struct Case {
  const char* arch;
  const char* type;
  int shards;
};

class HfFolder : public ::testing::TestWithParam<Case> {};

TEST_P(HfFolder, SameTensorsAndLogitsAsTheGguf) {
  const Case c = GetParam();
  const std::string gguf_path = RandomGguf(c.arch, c.type);
  auto gguf = GgufFile::Open(gguf_path);
  ASSERT_TRUE(gguf.ok()) << gguf.status().message();
  const fs::path dir = TempDir(std::string(c.arch) + "-" + c.type + "-" + std::to_string(c.shards));
  WriteFolder(*gguf, dir, c.shards);
  ASSERT_TRUE(IsHfFolder(dir.string()));

  auto folder = LoadHfFolder(dir.string());
  ASSERT_TRUE(folder.ok()) << folder.status().message();
  ExpectSameTensors(*gguf, *folder);
  // The hyper-parameters the forward reads agree.
  const std::string p = std::string(c.arch) + ".";
  for (const char* key : {"block_count", "embedding_length", "feed_forward_length",
                          "attention.head_count", "attention.head_count_kv", "context_length"}) {
    EXPECT_EQ(*folder->GetInteger<int64_t>(p + key), *gguf->GetInteger<int64_t>(p + key)) << key;
  }
  EXPECT_EQ(*folder->GetFloat(p + "rope.freq_base"), *gguf->GetFloat(p + "rope.freq_base"));

  auto a = LoadModel(std::make_shared<const GgufFile>(std::move(*gguf)));
  auto b = LoadModel(std::make_shared<const GgufFile>(std::move(*folder)));
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE(b.ok()) << b.status().message();
  ExpectBitIdentical(Logits(**a), Logits(**b));

  // convert: the GGUF written from the folder holds the same tensors and gives the same logits.
  ExpectConvertRoundTrip(dir, **b, Logits(**a), "qwen2");
}

INSTANTIATE_TEST_SUITE_P(Archs, HfFolder,
                         ::testing::Values(Case{"llama", "F32", 1}, Case{"llama", "BF16", 2},
                                           Case{"qwen2", "F32", 3}, Case{"qwen2", "F16", 1},
                                           Case{"qwen3", "BF16", 1}, Case{"qwen3", "F32", 2}),
                         [](const auto& param_info) {
                           const Case& c = param_info.param;
                           return std::string(c.arch) + "_" + c.type + "_" +
                                  std::to_string(c.shards);
                         });

TEST(HfFolderConvert, QuantizedConversionEqualsQuantizingTheGguf) {
  const std::string f32 = RandomGguf("qwen3", "F32");
  auto gguf = GgufFile::Open(f32);
  ASSERT_TRUE(gguf.ok());
  const fs::path dir = TempDir("convert-q8");
  WriteFolder(*gguf, dir, 1);
  tools::ConvertModelOptions options;
  options.input = dir.string();
  options.output = (dir / "q8.gguf").string();
  options.type = "Q8_0";
  options.threads = 1;
  options.progress = false;
  ASSERT_TRUE(tools::ConvertModel(options).ok());
  tools::QuantizeModelOptions q;
  q.input = f32;
  q.output = (dir / "q8-from-gguf.gguf").string();
  q.mix = tools::FindQuantMix("Q8_0");
  q.threads = 1;
  q.progress = false;
  ASSERT_TRUE(tools::QuantizeModel(q).ok());
  auto a = GgufFile::Open(options.output);
  auto b = GgufFile::Open(q.output);
  ASSERT_TRUE(a.ok() && b.ok());
  ExpectSameTensors(*a, *b);
  EXPECT_EQ(*a->GetInteger<uint32_t>("general.file_type"),
            *b->GetInteger<uint32_t>("general.file_type"));
}

TEST(HfFolderTokenizer, ByteLevelBpeFromTokenizerJson) {
  auto gguf = GgufFile::Open(RandomGguf("qwen2", "F32"));
  ASSERT_TRUE(gguf.ok());
  const fs::path dir = TempDir("tokenizer");
  WriteFolder(*gguf, dir, 1);
  auto folder = LoadHfFolder(dir.string());
  ASSERT_TRUE(folder.ok()) << folder.status().message();
  EXPECT_EQ(*folder->GetString("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(*folder->GetString("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ(*folder->GetString("tokenizer.chat_template"), "{{ messages[0]['content'] }}");
  EXPECT_EQ(*folder->GetInteger<int>("tokenizer.ggml.eos_token_id"), 259);
  EXPECT_EQ(*folder->GetInteger<int>("tokenizer.ggml.padding_token_id"), 259);
  EXPECT_FALSE(*folder->GetBool("tokenizer.ggml.add_bos_token"));
  auto tokens = folder->GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), static_cast<size_t>(kVocab));  // padded to the embedding
  EXPECT_EQ((*tokens)[300], "[PAD300]");
  auto types = folder->GetIntegerArray("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.ok());
  EXPECT_EQ((*types)[65], 1);   // normal
  EXPECT_EQ((*types)[259], 3);  // control
  EXPECT_EQ((*types)[261], 4);  // user-defined
  EXPECT_EQ((*types)[300], 5);  // unused
  auto tok = Tokenizer::FromGguf(*folder);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  // "the" -> 't' + "he"; " the" -> "Ġthe"; <think> is cut out even without parse_special.
  EXPECT_EQ((*tok)->Encode("the the"), (std::vector<int32_t>{'t', 256, 258}));
  EXPECT_EQ((*tok)->Encode("<think>x"), (std::vector<int32_t>{261, 'x'}));
  EncodeOptions special;
  special.parse_special = true;
  EXPECT_EQ((*tok)->Encode("<|im_start|> t", special), (std::vector<int32_t>{260, 257}));
  EXPECT_EQ((*tok)->Decode(std::vector<int32_t>{258, 261}), " the<think>");
}

// Known E4M3FN values: 0x38 = 1, 0x40 = 2, 0xC0 = -2, 0x01 = 2^-9 (smallest subnormal),
// 0x7E = 448 (largest), 0x08 = 2^-6 (smallest normal), 0x3C = 1.5.
TEST(HfFolderFp8, BlockScaledWeightsDecodeToBf16) {
  auto gguf = GgufFile::Open(RandomGguf("qwen2", "F32"));
  ASSERT_TRUE(gguf.ok());
  const fs::path dir = TempDir("fp8");
  WriteFolder(*gguf, dir, 1);
  // Replace layer 0's ffn_down ({n_embd=64, n_ff=96} in HF order [64, 96]) by FP8 with scales
  // per 128x128 block: one block here, scale 0.5.
  const uint8_t codes[] = {0x38, 0x40, 0xC0, 0x01, 0x7E, 0x08, 0x3C, 0x00};
  const float values[] = {1.0f, 2.0f, -2.0f, 0x1p-9f, 448.0f, 0x1p-6f, 1.5f, 0.0f};
  std::vector<StTensor> tensors;
  {
    auto file = SafetensorsFile::Open((dir / "model.safetensors").string());
    ASSERT_TRUE(file.ok());
    for (const SafetensorsTensor& t : file->tensors()) {
      StTensor st{t.name, std::string(StDTypeName(t.dtype)), t.shape,
                  std::vector<uint8_t>(t.data, t.data + t.n_bytes)};
      if (t.name == "model.layers.0.mlp.down_proj.weight") {
        st.dtype = "F8_E4M3";
        st.bytes.resize(64 * 96);
        for (size_t i = 0; i < st.bytes.size(); ++i) st.bytes[i] = codes[i % 8];
        const float half = 0.5f;
        std::vector<uint8_t> scale(4);
        std::memcpy(scale.data(), &half, 4);
        tensors.push_back({t.name + "_scale_inv", "F32", {1, 1}, scale});
      }
      tensors.push_back(std::move(st));
    }
  }
  WriteSafetensors(dir / "model.safetensors", tensors);
  auto folder = LoadHfFolder(dir.string());
  ASSERT_TRUE(folder.ok()) << folder.status().message();
  const GgufTensorInfo* t = folder->FindTensor("blk.0.ffn_down.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, DType::kBF16);
  for (int i = 0; i < 64 * 96; ++i) {
    uint16_t h;
    std::memcpy(&h, t->data + 2 * i, 2);
    ASSERT_EQ(Bf16ToFp32(h), values[i % 8] * 0.5f) << i;
  }
  EXPECT_EQ(folder->FindTensor("blk.0.ffn_down.weight_scale_inv"), nullptr);
}

TEST(HfFolderErrors, BadFoldersAreCleanErrors) {
  auto gguf = GgufFile::Open(RandomGguf("qwen2", "F32"));
  ASSERT_TRUE(gguf.ok());
  const fs::path dir = TempDir("errors");
  WriteFolder(*gguf, dir, 1);
  ASSERT_TRUE(LoadHfFolder(dir.string()).ok());
  auto expect_error = [&](const std::string& what) {
    auto f = LoadHfFolder(dir.string());
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find(what), std::string::npos) << f.status().message();
  };
  // Truncated weights.
  const fs::path st = dir / "model.safetensors";
  const auto size = fs::file_size(st);
  fs::resize_file(st, size - 1);
  expect_error("run past the data section");
  fs::resize_file(st, 4);
  expect_error("shorter than the 8-byte header length");
  WriteFolder(*gguf, dir, 1);
  // An unknown architecture and a missing field.
  Json config = Json::parse(std::ifstream(dir / "config.json"));
  const Json good = config;
  config["architectures"] = {"GPTNeoXForCausalLM"};
  WriteJson(dir / "config.json", config);
  expect_error("'GPTNeoXForCausalLM' is not supported");
  config = good;
  config.erase("hidden_size");
  WriteJson(dir / "config.json", config);
  expect_error("config.json: field 'hidden_size' is missing");
  config = good;
  config["num_attention_heads"] = "four";
  WriteJson(dir / "config.json", config);
  expect_error("field 'num_attention_heads' is not an integer");
  std::ofstream(dir / "config.json") << "{";
  expect_error("config.json: not valid JSON");
  WriteJson(dir / "config.json", good);
  // An unknown tensor, and an unknown pre-tokenizer.
  std::ofstream(dir / "tokenizer.json") << R"({"model":{"type":"Unigram"}})";
  expect_error("model.type 'Unigram' is not supported");
  WriteTokenizer(dir);
  fs::remove(dir / "model.safetensors");
  expect_error("no *.safetensors files");
  EXPECT_FALSE(IsHfFolder((dir / "missing").string()));
}

// generation_config.json becomes llama.cpp's general.sampling.* keys; do_sample=false is greedy
// (temperature 0) and nothing else; a bad value is an error naming the file and the field.
TEST(HfFolderGenerationConfig, SamplingKeys) {
  auto gguf = GgufFile::Open(RandomGguf("qwen2", "F32"));
  ASSERT_TRUE(gguf.ok());
  const fs::path dir = TempDir("generation-config");
  WriteFolder(*gguf, dir, 1);
  {
    auto plain = LoadHfFolder(dir.string());
    ASSERT_TRUE(plain.ok()) << plain.status().message();
    EXPECT_FALSE(plain->Has("general.sampling.temp"));
  }
  WriteJson(dir / "generation_config.json", {{"do_sample", true},
                                             {"temperature", 0.7},
                                             {"top_p", 0.8},
                                             {"top_k", 20},
                                             {"repetition_penalty", 1.05},
                                             {"bos_token_id", 259}});
  auto folder = LoadHfFolder(dir.string());
  ASSERT_TRUE(folder.ok()) << folder.status().message();
  EXPECT_EQ(*folder->GetFloat("general.sampling.temp"), 0.7f);
  EXPECT_EQ(*folder->GetFloat("general.sampling.top_p"), 0.8f);
  EXPECT_EQ(*folder->GetInteger<int32_t>("general.sampling.top_k"), 20);
  EXPECT_EQ(*folder->GetFloat("general.sampling.penalty_repeat"), 1.05f);
  EXPECT_FALSE(folder->Has("general.sampling.min_p"));

  WriteJson(dir / "generation_config.json", {{"do_sample", false}, {"temperature", 0.7}});
  auto greedy = LoadHfFolder(dir.string());
  ASSERT_TRUE(greedy.ok()) << greedy.status().message();
  EXPECT_EQ(*greedy->GetFloat("general.sampling.temp"), 0.0f);
  EXPECT_FALSE(greedy->Has("general.sampling.top_p"));

  WriteJson(dir / "generation_config.json", {{"top_p", 1.5}});
  auto bad = LoadHfFolder(dir.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("generation_config.json: field 'top_p'"), std::string::npos)
      << bad.status().message();
}

// ---- DeepSeek V2/V3 (deepseek2) folders ----

// HF name of a deepseek2 GGUF tensor other than the stacked experts (written out here
// independently of io/hf_deepseek.cc's table).
std::string DeepseekHfName(const std::string& g) {
  if (g == "token_embd.weight") return "model.embed_tokens.weight";
  if (g == "output_norm.weight") return "model.norm.weight";
  if (g == "output.weight") return "lm_head.weight";
  const size_t dot = g.find('.', 4);
  const std::string layer = g.substr(4, dot - 4), part = g.substr(dot + 1);
  const std::vector<std::pair<std::string, std::string>> parts = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_q_a.weight", "self_attn.q_a_proj.weight"},
      {"attn_q_a_norm.weight", "self_attn.q_a_layernorm.weight"},
      {"attn_q_b.weight", "self_attn.q_b_proj.weight"},
      {"attn_kv_a_mqa.weight", "self_attn.kv_a_proj_with_mqa.weight"},
      {"attn_kv_a_norm.weight", "self_attn.kv_a_layernorm.weight"},
      {"attn_kv_b.weight", "self_attn.kv_b_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
      {"ffn_gate_inp.weight", "mlp.gate.weight"},
      {"exp_probs_b.bias", "mlp.gate.e_score_correction_bias"},
      {"ffn_gate_shexp.weight", "mlp.shared_experts.gate_proj.weight"},
      {"ffn_up_shexp.weight", "mlp.shared_experts.up_proj.weight"},
      {"ffn_down_shexp.weight", "mlp.shared_experts.down_proj.weight"}};
  for (const auto& [a, b] : parts) {
    if (a == part) return "model.layers." + layer + "." + b;
  }
  ADD_FAILURE() << "no HF name for " << g;
  return g;
}

// E4M3FN by its definition: bias 7, 3 mantissa bits, subnormals at exponent 0.
float DecodeE4m3(uint8_t c) {
  const int e = (c >> 3) & 15, m = c & 7;
  const float mag = e == 0 ? std::ldexp(m / 8.0f, -6) : std::ldexp(1.0f + m / 8.0f, e - 7);
  return (c & 0x80) ? -mag : mag;
}

tools::RandomModelOptions DeepseekOptions(const std::string& preset) {
  tools::RandomModelOptions o;
  o.arch = "deepseek2";
  EXPECT_TRUE(tools::ApplyRandomModelPreset(preset, &o).ok());
  o.seed = 5;
  o.progress = false;
  o.threads = 1;
  return o;
}

std::string RandomDeepseekGguf(const std::string& preset, DType type) {
  tools::RandomModelOptions o = DeepseekOptions(preset);
  o.type = type;
  const fs::path out = TempDir("gguf") / ("deepseek2-" + preset + "-" +
                                          std::to_string(static_cast<int>(type)) + ".gguf");
  o.output = out.string();
  if (!fs::exists(out)) {
    auto written = tools::WriteRandomModel(o);
    EXPECT_TRUE(written.ok()) << written.status().message();
  }
  return out.string();
}

// config.json of a DeepSeek checkpoint with the random model's hyper-parameters, in the fields
// of the published V2 (DeepseekV2ForCausalLM, softmax) and V3 (sigmoid, groups, YaRN) configs.
Json DeepseekConfig(const tools::RandomModelOptions& o) {
  const bool v3 = o.expert_gating == 2;
  Json c = {{"architectures", {v3 ? "DeepseekV3ForCausalLM" : "DeepseekV2ForCausalLM"}},
            {"vocab_size", o.n_vocab},
            {"hidden_size", o.n_embd},
            {"intermediate_size", o.n_ff},
            {"moe_intermediate_size", o.n_ff_exp},
            {"num_hidden_layers", o.n_layer},
            {"num_attention_heads", o.n_head},
            {"num_key_value_heads", o.n_head},
            {"n_shared_experts", o.n_expert_shared},
            {"n_routed_experts", o.n_expert},
            {"routed_scaling_factor", o.expert_weights_scale},
            {"kv_lora_rank", o.kv_lora_rank},
            {"q_lora_rank", o.q_lora_rank > 0 ? Json(o.q_lora_rank) : Json(nullptr)},
            {"qk_rope_head_dim", o.qk_rope_dim},
            {"v_head_dim", o.v_head_dim},
            {"qk_nope_head_dim", o.qk_nope_dim},
            {"topk_method", v3 ? "noaux_tc" : "greedy"},
            {"n_group", v3 ? o.n_group : 1},
            {"topk_group", v3 ? o.n_group_used : 1},
            {"num_experts_per_tok", o.n_expert_used},
            {"first_k_dense_replace", o.n_dense_lead},
            {"norm_topk_prob", o.expert_weights_norm},
            {"scoring_func", v3 ? "sigmoid" : "softmax"},
            {"max_position_embeddings", o.n_ctx_train},
            {"rope_theta", o.rope_base},
            {"rms_norm_eps", o.rms_eps},
            {"tie_word_embeddings", false},
            {"bos_token_id", 259},
            {"eos_token_id", 259}};
  if (v3) {
    // mscale_all_dim = yarn_log_multiplier / 0.1.
    c["rope_scaling"] = {{"type", "yarn"},
                         {"factor", o.rope_factor},
                         {"original_max_position_embeddings", o.rope_orig_ctx},
                         {"beta_fast", 32},
                         {"beta_slow", 1},
                         {"mscale", 1.0},
                         {"mscale_all_dim", 1.0}};
  }
  return c;
}

// Writes the deepseek2 GGUF as a DeepSeek folder: experts unstacked into mlp.experts.E.*, plus
// an MTP-style layer past num_hidden_layers that the loader must drop. With fp8, every
// projection (not the router, embedding or head) becomes E4M3 codes with a 128x128 block scale
// of 2^-11, and `fp8_values` (if given) receives the BF16 folder equal to the decoded values.
void WriteDeepseekFolder(const GgufFile& gguf, const tools::RandomModelOptions& o,
                         const fs::path& dir, bool fp8, const fs::path* fp8_values) {
  WriteJson(dir / "config.json", DeepseekConfig(o));
  WriteTokenizer(dir);
  std::vector<StTensor> tensors, decoded;
  uint32_t state = 12345;
  auto add = [&](std::string name, std::string dtype, std::vector<int64_t> shape,
                 const uint8_t* data, size_t n_bytes) {
    const bool proj = name.ends_with("_proj.weight") || name.ends_with("_with_mqa.weight");
    StTensor st{name, dtype, shape, std::vector<uint8_t>(data, data + n_bytes)};
    if (!fp8 || !proj) {
      decoded.push_back(st);
      tensors.push_back(std::move(st));
      return;
    }
    const int64_t n = shape[0] * shape[1];
    StTensor codes{name, "F8_E4M3", shape, std::vector<uint8_t>(n)};
    StTensor values{name, "BF16", shape, std::vector<uint8_t>(2 * n)};
    constexpr float kScale = 0x1p-11f;
    for (int64_t i = 0; i < n; ++i) {
      state = state * 1664525u + 1013904223u;
      uint8_t c = static_cast<uint8_t>(state >> 24);
      if ((c & 0x7F) == 0x7F) c ^= 1;  // not NaN
      codes.bytes[i] = c;
      const uint16_t b = Fp32ToBf16(DecodeE4m3(c) * kScale);
      std::memcpy(values.bytes.data() + 2 * i, &b, 2);
    }
    std::vector<uint8_t> scale(4);
    std::memcpy(scale.data(), &kScale, 4);
    const int64_t br = (shape[0] + 127) / 128, bc = (shape[1] + 127) / 128;
    std::vector<uint8_t> scales;
    for (int64_t i = 0; i < br * bc; ++i) scales.insert(scales.end(), scale.begin(), scale.end());
    tensors.push_back({name + "_scale_inv", "F32", {br, bc}, scales});
    tensors.push_back(std::move(codes));
    decoded.push_back(std::move(values));
  };
  for (const GgufTensorInfo& t : gguf.tensors()) {
    const std::string dtype = t.type == DType::kF32   ? "F32"
                              : t.type == DType::kF16 ? "F16"
                                                      : "BF16";
    const std::string name(t.name);
    if (t.n_dims == 3) {
      // {k, n, n_expert} -> n_expert matrices [n, k].
      const std::string proj = name.find("gate") != std::string::npos ? "gate_proj"
                               : name.find("up") != std::string::npos ? "up_proj"
                                                                      : "down_proj";
      const size_t piece = t.n_bytes / t.dims[2];
      for (int64_t e = 0; e < t.dims[2]; ++e) {
        add("model.layers." + name.substr(4, name.find('.', 4) - 4) + ".mlp.experts." +
                std::to_string(e) + "." + proj + ".weight",
            dtype, {t.dims[1], t.dims[0]}, t.data + e * piece, piece);
      }
      continue;
    }
    std::vector<int64_t> shape;
    for (int d = t.n_dims - 1; d >= 0; --d) shape.push_back(t.dims[d]);
    add(DeepseekHfName(name), dtype, shape, t.data, t.n_bytes);
  }
  // A multi-token-prediction layer (V3 ships one after the last layer).
  const float one = 1.0f;
  tensors.push_back({"model.layers." + std::to_string(o.n_layer) + ".enorm.weight",
                     "F32",
                     {1},
                     std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(&one),
                                          reinterpret_cast<const uint8_t*>(&one) + 4)});
  WriteSafetensors(dir / "model.safetensors", tensors);
  if (fp8_values != nullptr) {
    WriteJson(*fp8_values / "config.json", DeepseekConfig(o));
    WriteTokenizer(*fp8_values);
    WriteSafetensors(*fp8_values / "model.safetensors", decoded);
  }
}

struct DeepseekCase {
  const char* preset;
  DType type;
};

class HfDeepseekFolder : public ::testing::TestWithParam<DeepseekCase> {};

// The folder gives the GGUF's tensors (experts stacked, attn_kv_b split as the converter does),
// the converter's MLA keys, and bit-identical logits in absorbed and naive attention.
TEST_P(HfDeepseekFolder, SameTensorsAndLogitsAsTheGguf) {
  const DeepseekCase c = GetParam();
  const tools::RandomModelOptions o = DeepseekOptions(c.preset);
  auto gguf = GgufFile::Open(RandomDeepseekGguf(c.preset, c.type));
  ASSERT_TRUE(gguf.ok()) << gguf.status().message();
  const fs::path dir =
      TempDir(std::string("deepseek-") + c.preset + "-" + std::to_string(static_cast<int>(c.type)));
  WriteDeepseekFolder(*gguf, o, dir, false, nullptr);
  auto folder = LoadHfFolder(dir.string());
  ASSERT_TRUE(folder.ok()) << folder.status().message();

  // Every GGUF tensor but attn_kv_b is there byte for byte; attn_kv_b is split per head into
  // attn_k_b {nope, kv_lora, head} (transposed) and attn_v_b {kv_lora, v, head}.
  const int64_t nope = o.qk_nope_dim, v = o.v_head_dim, kv = o.kv_lora_rank, heads = o.n_head;
  const size_t es = c.type == DType::kF32 ? 4 : 2;
  size_t n_split = 0;
  for (const GgufTensorInfo& t : gguf->tensors()) {
    if (!t.name.ends_with("attn_kv_b.weight")) {
      const GgufTensorInfo* u = folder->FindTensor(t.name);
      ASSERT_NE(u, nullptr) << t.name;
      EXPECT_EQ(t.type, u->type) << t.name;
      EXPECT_EQ(t.dims, u->dims) << t.name;
      ASSERT_EQ(t.n_bytes, u->n_bytes) << t.name;
      EXPECT_EQ(std::memcmp(t.data, u->data, t.n_bytes), 0) << t.name;
      continue;
    }
    ++n_split;
    const std::string blk = std::string(t.name.substr(0, t.name.size() - 16));
    const GgufTensorInfo* kb = folder->FindTensor(blk + "attn_k_b.weight");
    const GgufTensorInfo* vb = folder->FindTensor(blk + "attn_v_b.weight");
    ASSERT_TRUE(kb != nullptr && vb != nullptr) << blk;
    EXPECT_EQ(kb->dims, (std::array<int64_t, 4>{nope, kv, heads, 1}));
    EXPECT_EQ(vb->dims, (std::array<int64_t, 4>{kv, v, heads, 1}));
    EXPECT_EQ(folder->FindTensor(t.name), nullptr);
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t r = 0; r < kv; ++r) {
        for (int64_t i = 0; i < nope; ++i) {
          ASSERT_EQ(std::memcmp(kb->data + ((h * kv + r) * nope + i) * es,
                                t.data + ((h * (nope + v) + i) * kv + r) * es, es),
                    0);
        }
        for (int64_t j = 0; j < v; ++j) {
          ASSERT_EQ(std::memcmp(vb->data + ((h * v + j) * kv + r) * es,
                                t.data + ((h * (nope + v) + nope + j) * kv + r) * es, es),
                    0);
        }
      }
    }
  }
  EXPECT_EQ(n_split, static_cast<size_t>(o.n_layer));
  EXPECT_EQ(folder->tensors().size(), gguf->tensors().size() + n_split);  // MTP layer dropped
  const std::string p = "deepseek2.";
  EXPECT_EQ(*folder->GetInteger<int64_t>(p + "attention.head_count_kv"), 1);
  EXPECT_EQ(*folder->GetInteger<int64_t>(p + "attention.key_length"), kv + o.qk_rope_dim);
  EXPECT_EQ(*folder->GetInteger<int64_t>(p + "attention.value_length"), kv);
  EXPECT_EQ(*folder->GetInteger<int64_t>(p + "attention.key_length_mla"), nope + o.qk_rope_dim);
  EXPECT_EQ(*folder->GetInteger<int64_t>(p + "attention.value_length_mla"), v);
  for (const char* key :
       {"block_count", "embedding_length", "feed_forward_length", "attention.head_count",
        "context_length", "attention.kv_lora_rank", "rope.dimension_count",
        "leading_dense_block_count", "expert_count", "expert_used_count",
        "expert_feed_forward_length", "expert_shared_count", "expert_gating_func"}) {
    EXPECT_EQ(*folder->GetInteger<int64_t>(p + key), *gguf->GetInteger<int64_t>(p + key)) << key;
  }
  EXPECT_EQ(*folder->GetFloatOr(p + "expert_weights_scale", 1.0),
            *gguf->GetFloat(p + "expert_weights_scale"));
  EXPECT_EQ(*folder->GetBoolOr(p + "expert_weights_norm", false),
            *gguf->GetBool(p + "expert_weights_norm"));
  if (o.q_lora_rank > 0) {
    EXPECT_EQ(*folder->GetInteger<int64_t>(p + "attention.q_lora_rank"), o.q_lora_rank);
    EXPECT_EQ(*folder->GetInteger<int64_t>(p + "expert_group_count"), o.n_group);
    EXPECT_EQ(*folder->GetInteger<int64_t>(p + "expert_group_used_count"), o.n_group_used);
    EXPECT_EQ(*folder->GetString(p + "rope.scaling.type"), "yarn");
    EXPECT_EQ(*folder->GetFloat(p + "rope.scaling.factor"), o.rope_factor);
    EXPECT_EQ(*folder->GetInteger<int64_t>(p + "rope.scaling.original_context_length"),
              o.rope_orig_ctx);
    EXPECT_EQ(*folder->GetFloat(p + "rope.scaling.yarn_log_multiplier"),
              *gguf->GetFloat(p + "rope.scaling.yarn_log_multiplier"));
  }

  auto gguf_file = std::make_shared<const GgufFile>(std::move(*gguf));
  auto folder_file = std::make_shared<const GgufFile>(std::move(*folder));
  if (c.type == DType::kF32) {
    // The naive path decompresses K and V through attn_kv_b, which the folder's loader rebuilds
    // from the split tensors in F32: exact for F32 weights only.
    ::setenv("AUTARKY_MLA", "naive", 1);
    auto na = LoadModel(gguf_file);
    auto nb = LoadModel(folder_file);
    ::unsetenv("AUTARKY_MLA");
    ASSERT_TRUE(na.ok()) << na.status().message();
    ASSERT_TRUE(nb.ok()) << nb.status().message();
    ExpectBitIdentical(Logits(**na), Logits(**nb));
  }
  auto a = LoadModel(gguf_file);
  auto b = LoadModel(folder_file);
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE(b.ok()) << b.status().message();
  ExpectBitIdentical(Logits(**a), Logits(**b));

  // convert: the GGUF of the folder holds the same tensors and gives the same logits.
  ExpectConvertRoundTrip(dir, **b, Logits(**a), "");
}

INSTANTIATE_TEST_SUITE_P(Presets, HfDeepseekFolder,
                         ::testing::Values(DeepseekCase{"tiny", DType::kF32},
                                           DeepseekCase{"tiny-v3", DType::kF32},
                                           DeepseekCase{"tiny", DType::kBF16},
                                           DeepseekCase{"tiny-v3", DType::kBF16}),
                         [](const auto& param_info) {
                           const DeepseekCase& c = param_info.param;
                           return std::string(c.preset[4] == '-' ? "V3" : "V2") + "_" +
                                  (c.type == DType::kF32 ? "F32" : "BF16");
                         });

// FP8 E4M3 projections with block scales (experts included) load as the BF16 folder of their
// decoded values: the same tensors and bit-identical logits.
TEST(HfDeepseekFolderFp8, EqualsTheDecodedBf16Folder) {
  const tools::RandomModelOptions o = DeepseekOptions("tiny-v3");
  auto gguf = GgufFile::Open(RandomDeepseekGguf("tiny-v3", DType::kF32));
  ASSERT_TRUE(gguf.ok()) << gguf.status().message();
  const fs::path fp8 = TempDir("deepseek-fp8"), bf16 = TempDir("deepseek-fp8-decoded");
  WriteDeepseekFolder(*gguf, o, fp8, true, &bf16);
  auto a = LoadHfFolder(fp8.string());
  auto b = LoadHfFolder(bf16.string());
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE(b.ok()) << b.status().message();
  ExpectSameTensors(*a, *b);
  const GgufTensorInfo* exps = a->FindTensor("blk.1.ffn_up_exps.weight");
  ASSERT_NE(exps, nullptr);
  EXPECT_EQ(exps->type, DType::kBF16);
  auto ma = LoadModel(std::make_shared<const GgufFile>(std::move(*a)));
  auto mb = LoadModel(std::make_shared<const GgufFile>(std::move(*b)));
  ASSERT_TRUE(ma.ok()) << ma.status().message();
  ASSERT_TRUE(mb.ok()) << mb.status().message();
  ExpectBitIdentical(Logits(**ma), Logits(**mb));
}

TEST(HfDeepseekFolderErrors, MissingExpertAndBadConfigAreCleanErrors) {
  const tools::RandomModelOptions o = DeepseekOptions("tiny");
  auto gguf = GgufFile::Open(RandomDeepseekGguf("tiny", DType::kF32));
  ASSERT_TRUE(gguf.ok());
  const fs::path dir = TempDir("deepseek-errors");
  WriteDeepseekFolder(*gguf, o, dir, false, nullptr);
  ASSERT_TRUE(LoadHfFolder(dir.string()).ok());
  auto expect_error = [&](const std::string& what) {
    auto f = LoadHfFolder(dir.string());
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find(what), std::string::npos) << f.status().message();
  };
  Json config = DeepseekConfig(o);
  config["n_routed_experts"] = o.n_expert + 1;
  WriteJson(dir / "config.json", config);
  expect_error("expert " + std::to_string(o.n_expert) + " is missing");
  config = DeepseekConfig(o);
  config["n_routed_experts"] = o.n_expert - 1;
  WriteJson(dir / "config.json", config);
  expect_error("n_routed_experts is " + std::to_string(o.n_expert - 1));
  config = DeepseekConfig(o);
  config["scoring_func"] = "sqrtsoftplus";
  WriteJson(dir / "config.json", config);
  expect_error("scoring_func 'sqrtsoftplus' is not supported");
  config = DeepseekConfig(o);
  config["v_head_dim"] = o.v_head_dim + 1;
  WriteJson(dir / "config.json", config);
  expect_error("self_attn.kv_b_proj.weight");
  config = DeepseekConfig(o);
  config.erase("qk_rope_head_dim");
  WriteJson(dir / "config.json", config);
  expect_error("field 'qk_rope_head_dim' is missing");
}

// ---- lazy decoding (convert and --quantize hold one decoded tensor at a time) ----

std::vector<uint8_t> ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Rewrites dir/model.safetensors with every *_proj.weight as E4M3 codes (a fixed LCG, NaN
// avoided) under 128x128 block scales that differ per block, so a block index mix-up shows.
void MakeProjectionsFp8(const fs::path& dir) {
  std::vector<StTensor> tensors;
  {  // the mapping closes before the file is rewritten
    auto file = SafetensorsFile::Open((dir / "model.safetensors").string());
    ASSERT_TRUE(file.ok()) << file.status().message();
    uint32_t state = 777;
    for (const SafetensorsTensor& t : file->tensors()) {
      StTensor st{t.name, std::string(StDTypeName(t.dtype)), t.shape,
                  std::vector<uint8_t>(t.data, t.data + t.n_bytes)};
      if (t.name.ends_with("_proj.weight") && t.shape.size() == 2) {
        st.dtype = "F8_E4M3";
        st.bytes.assign(t.n_elements, 0);
        for (uint8_t& c : st.bytes) {
          state = state * 1664525u + 1013904223u;
          c = static_cast<uint8_t>(state >> 24);
          if ((c & 0x7F) == 0x7F) c ^= 1;
        }
        const int64_t br = (t.shape[0] + 127) / 128, bc = (t.shape[1] + 127) / 128;
        std::vector<uint8_t> scales(4 * br * bc);
        for (int64_t i = 0; i < br * bc; ++i) {
          const float s = std::ldexp(1.0f + 0.125f * static_cast<float>(i % 5), -10);
          std::memcpy(scales.data() + 4 * i, &s, 4);
        }
        tensors.push_back({t.name + "_scale_inv", "F32", {br, bc}, scales});
      }
      tensors.push_back(std::move(st));
    }
  }
  WriteSafetensors(dir / "model.safetensors", tensors);
}

// The GGUF the converter wrote before tensors became lazy: the materialized folder's bytes.
void WriteMaterialized(const GgufFile& folder, const fs::path& out) {
  GgufWriter writer;
  writer.CopyMetadataFrom(folder);
  for (const GgufTensorInfo& t : folder.tensors()) {
    ASSERT_TRUE(writer.AddTensor(t.name, t.type, t.shape()).ok());
  }
  ASSERT_TRUE(writer.Begin(out.string()).ok());
  for (const GgufTensorInfo& t : folder.tensors()) {
    ASSERT_TRUE(writer.WriteTensor(t.name, t.data, t.n_bytes).ok());
  }
  ASSERT_TRUE(writer.Finish().ok());
}

// An FP8 folder loaded lazily has the materialized folder's tensors (FP8 weights, permuted
// llama Q/K, DeepSeek expert stacks and attn_k_b/attn_v_b decoded on demand), and `convert`,
// plain and --type Q8_0, writes byte for byte the GGUF of the materialized folder.
void ExpectLazyConvertEqualsMaterialized(const fs::path& dir) {
  auto eager = LoadHfFolder(dir.string());
  ASSERT_TRUE(eager.ok()) << eager.status().message();
  EXPECT_FALSE(eager->has_lazy_tensors());
  auto lazy = LoadHfFolder(dir.string(), FileLoad::kMap, HfTensorLoad::kLazy);
  ASSERT_TRUE(lazy.ok()) << lazy.status().message();
  EXPECT_TRUE(lazy->has_lazy_tensors());
  ASSERT_EQ(lazy->tensors().size(), eager->tensors().size());
  int n_lazy = 0;
  for (size_t i = 0; i < lazy->tensors().size(); ++i) {
    const GgufTensorInfo& t = lazy->tensors()[i];
    const GgufTensorInfo& u = eager->tensors()[i];
    ASSERT_EQ(t.name, u.name);
    EXPECT_EQ(t.type, u.type) << t.name;
    EXPECT_EQ(t.dims, u.dims) << t.name;
    ASSERT_EQ(t.n_bytes, u.n_bytes) << t.name;
    n_lazy += t.data == nullptr;
    std::vector<uint8_t> bytes(t.n_bytes);
    ASSERT_TRUE(lazy->ReadTensorData(t, bytes.data()).ok()) << t.name;
    EXPECT_EQ(std::memcmp(bytes.data(), u.data, t.n_bytes), 0) << t.name;
  }
  EXPECT_GT(n_lazy, 0);

  WriteMaterialized(*eager, dir / "materialized.gguf");
  tools::ConvertModelOptions options;
  options.input = dir.string();
  options.output = (dir / "lazy.gguf").string();
  options.threads = 1;
  options.progress = false;
  auto converted = tools::ConvertModel(options);
  ASSERT_TRUE(converted.ok()) << converted.status().message();
  const std::vector<uint8_t> want = ReadBytes(dir / "materialized.gguf");
  ASSERT_GT(want.size(), 0u);
  EXPECT_TRUE(ReadBytes(dir / "lazy.gguf") == want);

  options.type = "Q8_0";
  options.output = (dir / "lazy-q8.gguf").string();
  converted = tools::ConvertModel(options);
  ASSERT_TRUE(converted.ok()) << converted.status().message();
  tools::QuantizeModelOptions q;
  q.input = dir.string();
  q.input_file = &*eager;
  q.output = (dir / "materialized-q8.gguf").string();
  q.mix = tools::FindQuantMix("Q8_0");
  q.threads = 1;
  q.progress = false;
  q.log_tensors = false;
  ASSERT_TRUE(tools::QuantizeModel(q).ok());
  const std::vector<uint8_t> want_q8 = ReadBytes(dir / "materialized-q8.gguf");
  ASSERT_GT(want_q8.size(), 0u);
  EXPECT_TRUE(ReadBytes(dir / "lazy-q8.gguf") == want_q8);
}

TEST(HfFolderLazy, Fp8DeepseekConvertEqualsTheMaterializedFolder) {
  const tools::RandomModelOptions o = DeepseekOptions("tiny-v3");
  auto gguf = GgufFile::Open(RandomDeepseekGguf("tiny-v3", DType::kF32));
  ASSERT_TRUE(gguf.ok()) << gguf.status().message();
  const fs::path dir = TempDir("lazy-deepseek-fp8");
  WriteDeepseekFolder(*gguf, o, dir, true, nullptr);
  ExpectLazyConvertEqualsMaterialized(dir);
}

TEST(HfFolderLazy, Fp8LlamaConvertEqualsTheMaterializedFolder) {
  auto gguf = GgufFile::Open(RandomGguf("llama", "F32"));
  ASSERT_TRUE(gguf.ok());
  const fs::path dir = TempDir("lazy-llama-fp8");
  WriteFolder(*gguf, dir, 1);
  MakeProjectionsFp8(dir);
  ExpectLazyConvertEqualsMaterialized(dir);
}

}  // namespace
}  // namespace autarky
