// Tokenizers against reference outputs in ../shared: the 9 vocabularies' test strings (llama.cpp
// and Hugging Face tokenizers' ids) and the aidreams260K prompts and generated text of llama.cpp.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "io/gguf_reader.h"
#include "testing/shared_data.h"
#include "tokenizer/tokenizer.h"

namespace autarky {
namespace {

using testing::SharedDir;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The .inp format: each test string is followed by "\n__ggml_vocab_test__\n".
std::vector<std::string> ReadInputs(const std::filesystem::path& path) {
  const std::string text = ReadFile(path);
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t pos; (pos = text.find(separator, start)) != std::string::npos;) {
    out.push_back(text.substr(start, pos - start));
    start = pos + separator.size();
  }
  return out;
}

// The .out format: one line of space-separated ids per test string.
std::vector<std::vector<int32_t>> ReadOutputs(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::vector<int32_t>> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    int32_t id;
    while (ls >> id) ids.push_back(id);
    out.push_back(ids);
  }
  return out;
}

std::unique_ptr<Tokenizer> Load(const std::filesystem::path& path) {
  Result<GgufFile> file = GgufFile::Open(path.string());
  EXPECT_TRUE(file.ok()) << file.status().message();
  if (!file.ok()) return nullptr;
  auto tokenizer = Tokenizer::FromGguf(*file);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status().message();
  if (!tokenizer.ok()) return nullptr;
  return std::move(tokenizer).value();
}

std::string Escape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  return out;
}

class VocabularyTest : public ::testing::TestWithParam<const char*> {};

TEST_P(VocabularyTest, EncodesEveryTestStringAsTheReference) {
  const std::string name = GetParam();
  const std::string base = "golden/tokenizer/" + name + ".gguf";
  SKIP_WITHOUT_SHARED(base);
  const std::vector<std::string> inputs = ReadInputs(SharedDir() / (base + ".inp"));
  const std::vector<std::vector<int32_t>> outputs = ReadOutputs(SharedDir() / (base + ".out"));
  ASSERT_EQ(inputs.size(), 46u);
  ASSERT_EQ(outputs.size(), inputs.size());
  const std::unique_ptr<Tokenizer> tokenizer = Load(SharedDir() / base);
  ASSERT_NE(tokenizer, nullptr);
  int mismatches = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<int32_t> ids = tokenizer->Encode(inputs[i], {.add_special = false});
    EXPECT_EQ(ids, outputs[i]) << name << " string " << i << ": '" << Escape(inputs[i]) << "'";
    mismatches += ids != outputs[i];
  }
  EXPECT_EQ(mismatches, 0);
}

TEST_P(VocabularyTest, DecodingTheReferenceIdsGivesTheText) {
  const std::string name = GetParam();
  const std::string base = "golden/tokenizer/" + name + ".gguf";
  SKIP_WITHOUT_SHARED(base);
  const std::vector<std::string> inputs = ReadInputs(SharedDir() / (base + ".inp"));
  const std::vector<std::vector<int32_t>> outputs = ReadOutputs(SharedDir() / (base + ".out"));
  ASSERT_EQ(outputs.size(), inputs.size());
  const std::unique_ptr<Tokenizer> tokenizer = Load(SharedDir() / base);
  ASSERT_NE(tokenizer, nullptr);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].empty()) continue;
    std::vector<int32_t> ids = outputs[i];
    std::string expected = inputs[i];
    if (tokenizer->model() == TokenizerModel::kSpm) {
      // SPM added a dummy-prefix space; with BOS in front, decoding drops it again.
      ids.insert(ids.begin(), tokenizer->bos_id());
      EXPECT_EQ(tokenizer->Decode(ids, /*skip_special=*/true), expected) << name << " " << i;
    } else {
      EXPECT_EQ(tokenizer->Decode(ids), expected) << name << " " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shared, VocabularyTest,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "deepseek-coder",
                                           "starcoder", "refact", "qwen2", "deepseek-v3", "llama3"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           std::string name = param_info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

// Ids from Hugging Face tokenizers 0.23 (the Rust library, npm "tokenizers") on the models'
// tokenizer.json files, with special tokens parsed from the text (HF always parses them).
TEST(SharedBpeTokenizerTest, ChatMarkupWithSpecialTokensMatchesHuggingFace) {
  struct Case {
    const char* vocab;
    std::string text;
    std::vector<int32_t> ids;
  };
  const Case cases[] = {
      {"qwen2",
       "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n<think>\n",
       {151644, 872, 198, 9707, 151645, 198, 151644, 77091, 198, 151667, 198}},
      {"llama3",
       "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
       {128000, 128006, 882, 128007, 271, 13347, 128009}},
      {"deepseek-v3",
       "<\xEF\xBD\x9C"
       "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C><\xEF\xBD\x9CUser"
       "\xEF\xBD\x9C>Hi<\xEF\xBD\x9C"
       "Assistant\xEF\xBD\x9C><think>\n",
       {0, 128803, 23166, 128804, 30, 37947, 1018}},
  };
  for (const Case& c : cases) {
    const std::string base = std::string("golden/tokenizer/") + c.vocab + ".gguf";
    SKIP_WITHOUT_SHARED(base);
    const std::unique_ptr<Tokenizer> t = Load(SharedDir() / base);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->Encode(c.text, {.add_special = false, .parse_special = true}), c.ids) << c.vocab;
    EXPECT_EQ(t->Decode(c.ids), c.text) << c.vocab;
    // The last special token ends the turn.
    const int32_t end = c.vocab == std::string("qwen2")    ? 151645
                        : c.vocab == std::string("llama3") ? 128009
                                                           : 1;
    EXPECT_TRUE(t->IsEndOfGeneration(end)) << c.vocab;
  }
}

// Qwen2's tokenizer.json normalizes to NFC: decomposed é, Hangul jamo and the Angstrom sign
// encode like their composed forms (HF: [963, 126804, 79252]); Llama 3 has no normalizer.
TEST(SharedBpeTokenizerTest, Qwen2NormalizesToNfc) {
  SKIP_WITHOUT_SHARED("golden/tokenizer/qwen2.gguf");
  SKIP_WITHOUT_SHARED("golden/tokenizer/llama3.gguf");
  const std::string decomposed = "e\xCC\x81 \xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8 \xE2\x84\xAB";
  const std::string composed = "\xC3\xA9 \xEA\xB0\x81 \xC3\x85";
  const std::unique_ptr<Tokenizer> qwen = Load(SharedDir() / "golden/tokenizer/qwen2.gguf");
  ASSERT_NE(qwen, nullptr);
  const std::vector<int32_t> expected = {963, 126804, 79252};
  EXPECT_EQ(qwen->Encode(decomposed, {.add_special = false}), expected);
  EXPECT_EQ(qwen->Encode(composed, {.add_special = false}), expected);
  EXPECT_EQ(qwen->Decode(expected), composed);
  const std::unique_ptr<Tokenizer> llama = Load(SharedDir() / "golden/tokenizer/llama3.gguf");
  ASSERT_NE(llama, nullptr);
  EXPECT_NE(llama->Encode(decomposed, {.add_special = false}),
            llama->Encode(composed, {.add_special = false}));
  EXPECT_EQ(llama->Decode(llama->Encode(decomposed, {.add_special = false})), decomposed);
}

TEST(Aidreams260KTokenizerTest, PromptTokensAndGeneratedTextMatchLlamaCpp) {
  SKIP_WITHOUT_SHARED("models/aidreams260K.gguf");
  const std::unique_ptr<Tokenizer> tokenizer = Load(SharedDir() / "models/aidreams260K.gguf");
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->n_vocab(), 512);
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_TRUE(tokenizer->add_bos());
  EXPECT_TRUE(tokenizer->IsEndOfGeneration(2));
  EXPECT_FALSE(tokenizer->IsEndOfGeneration(1));
  int files = 0;
  for (int n = 1; n <= 4; ++n) {
    const auto path = SharedDir() / ("golden/aidreams260K-greedy-" + std::to_string(n) + ".json");
    if (!std::filesystem::exists(path)) continue;
    ++files;
    const nlohmann::json golden = nlohmann::json::parse(ReadFile(path));
    const std::string prompt = golden["prompt"];
    const auto prompt_tokens = golden["prompt_tokens"].get<std::vector<int32_t>>();
    const auto generated = golden["generated_tokens"].get<std::vector<int32_t>>();
    const std::string generated_text = golden["generated_text"];
    EXPECT_EQ(tokenizer->Encode(prompt), prompt_tokens) << path;
    EXPECT_EQ(tokenizer->Decode(generated), generated_text) << path;
    // Token by token through the stream gives the same text.
    Utf8Stream stream;
    std::string streamed;
    for (const int32_t id : generated) streamed += stream.Push(tokenizer->TokenBytes(id));
    streamed += stream.Flush();
    EXPECT_EQ(streamed, generated_text) << path;
    // The prompt round-trips: BOS and the dummy-prefix space are dropped.
    EXPECT_EQ(tokenizer->Decode(prompt_tokens, /*skip_special=*/true), prompt) << path;
  }
  EXPECT_EQ(files, 4);
}

}  // namespace
}  // namespace autarky
