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
