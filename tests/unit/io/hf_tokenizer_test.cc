// Hugging Face tokenizer.json kinds beyond byte-level BPE: SentencePiece-style BPE (byte_fallback;
// Llama 2's normalizer form and the Metaspace form) becomes the GGUF "llama" tokenizer whose
// scores reproduce the merge order (hand-derived ids on a tiny vocabulary; llama-spm's vocabulary
// written as Hugging Face's converter would gives the reference ids of llama-spm.gguf.out), and
// DeepSeek LLM/V2's pre-tokenizer is recognised as "deepseek-llm". Unsupported shapes are refused.
#include "io/hf_tokenizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "testing/shared_data.h"
#include "tokenizer/tokenizer.h"

namespace autarky {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr const char* kSpace = "\xE2\x96\x81";  // U+2581

// A fresh folder under the temporary directory, removed with everything in it at the end of
// the test.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(fs::temp_directory_path() /
              ("autarky-hftok-" + std::to_string(::getpid()) + "-" + name)) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void WriteJson(const fs::path& path, const Json& j) { std::ofstream(path) << j.dump(1); }

std::string Sp(const std::string& s) { return kSpace + s; }

Json AddedToken(int id, const std::string& content) {
  return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", true}};
}

// Llama 2's tokenizer.json sections around a BPE model.
Json Llama2Tokenizer(const Json& vocab, const Json& merges) {
  Json tok = Json::object();
  tok["version"] = "1.0";
  tok["added_tokens"] = {AddedToken(0, "<unk>"), AddedToken(1, "<s>"), AddedToken(2, "</s>")};
  Json prepend = {{"type", "Prepend"}, {"prepend", kSpace}};
  Json replace = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}};
  tok["normalizer"] = {{"type", "Sequence"}, {"normalizers", {prepend, replace}}};
  tok["pre_tokenizer"] = nullptr;
  Json bos = {{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}};
  Json text = {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};
  tok["post_processor"] = {{"type", "TemplateProcessing"}, {"single", {bos, text}}};
  Json unspace = {{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}};
  Json strip = {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}};
  tok["decoder"] = {
      {"type", "Sequence"},
      {"decoders", {unspace, Json{{"type", "ByteFallback"}}, Json{{"type", "Fuse"}}, strip}}};
  Json model = Json::object();
  model["type"] = "BPE";
  model["dropout"] = nullptr;
  model["unk_token"] = "<unk>";
  model["continuing_subword_prefix"] = nullptr;
  model["end_of_word_suffix"] = nullptr;
  model["fuse_unk"] = true;
  model["byte_fallback"] = true;
  model["vocab"] = vocab;
  model["merges"] = merges;
  tok["model"] = model;
  return tok;
}

// Tiny SentencePiece-style vocabulary: 0 <unk>, 1 <s>, 2 </s>, 3 <0x0A>, 4 ▁, 5 a, 6 b, 7 c,
// 8 ab, 9 ▁a, 10 bc, 11 ▁ab, 12 abc. Merges in the converter's form: every split of a token
// into two tokens, tokens in order of decreasing score.
Json TinyVocab() {
  return {{"<unk>", 0}, {"<s>", 1},     {"</s>", 2}, {"<0x0A>", 3}, {kSpace, 4},
          {"a", 5},     {"b", 6},       {"c", 7},    {"ab", 8},     {Sp("a"), 9},
          {"bc", 10},   {Sp("ab"), 11}, {"abc", 12}};
}
Json TinyMerges() { return {"a b", Sp(" a"), "b c", Sp(" ab"), Sp("a b"), "a bc", "ab c"}; }

void WriteTinySpm(const fs::path& dir, const Json& tok) {
  WriteJson(dir / "tokenizer.json", tok);
  WriteJson(dir / "tokenizer_config.json", {{"add_bos_token", true},
                                            {"add_eos_token", false},
                                            {"bos_token", "<s>"},
                                            {"eos_token", "</s>"},
                                            {"unk_token", "<unk>"}});
}

std::unique_ptr<Tokenizer> LoadTokenizer(const fs::path& dir) {
  Result<GgufFile> file = LoadHfTokenizer(dir.string());
  EXPECT_TRUE(file.ok()) << file.status().message();
  if (!file.ok()) return nullptr;
  auto tok = Tokenizer::FromGguf(*file);
  EXPECT_TRUE(tok.ok()) << tok.status().message();
  if (!tok.ok()) return nullptr;
  return std::move(tok).value();
}

TEST(HfTokenizerSpm, Llama2FormBecomesTheLlamaTokenizerWithMergeOrderScores) {
  const TempDir temp("llama2");
  const fs::path& dir = temp.path();
  WriteTinySpm(dir, Llama2Tokenizer(TinyVocab(), TinyMerges()));
  Result<GgufFile> file = LoadHfTokenizer(dir.string());
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(*file->GetString("tokenizer.ggml.model"), "llama");
  EXPECT_FALSE(file->Has("tokenizer.ggml.merges"));
  EXPECT_FALSE(file->Has("tokenizer.ggml.pre"));
  EXPECT_TRUE(*file->GetBool("tokenizer.ggml.add_space_prefix"));
  EXPECT_TRUE(*file->GetBool("tokenizer.ggml.add_bos_token"));
  EXPECT_EQ(*file->GetInteger<int>("tokenizer.ggml.unknown_token_id"), 0);
  EXPECT_EQ(*file->GetInteger<int>("tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(*file->GetInteger<int>("tokenizer.ggml.eos_token_id"), 2);
  // UNKNOWN 2, CONTROL 3, BYTE 6, NORMAL 1.
  const std::vector<int64_t> want_types = {2, 3, 3, 6, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  auto types = file->GetIntegerArray("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.ok());
  EXPECT_EQ(std::vector<int64_t>(types->begin(), types->end()), want_types);
  // A token scores -(rank of its first merge); pieces no merge makes score -(number of merges);
  // special and byte tokens 0.
  const std::vector<float> want_scores = {0, 0, 0, 0, -7, -7, -7, -7, 0, -1, -2, -3, -5};
  auto scores = file->GetF32Array("tokenizer.ggml.scores");
  ASSERT_TRUE(scores.ok()) << scores.status().message();
  EXPECT_EQ(std::vector<float>(scores->begin(), scores->end()), want_scores);

  auto tok = LoadTokenizer(dir);
  ASSERT_NE(tok, nullptr);
  // "▁abc": ab (rank 0) first, then ▁ab (rank 3); "▁ab"+"c" is no merge.
  EXPECT_EQ(tok->Encode("abc", {.add_special = false}), (std::vector<int32_t>{11, 7}));
  // "▁bc\n": bc; "\n" has no piece, so its byte token.
  EXPECT_EQ(tok->Encode("bc\n", {.add_special = false}), (std::vector<int32_t>{4, 10, 3}));
  EXPECT_EQ(tok->Encode("a", {.add_special = true}), (std::vector<int32_t>{1, 9}));
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{1, 11, 7, 4, 10, 3}, /*skip_special=*/true),
            "abc bc\n");
}

TEST(HfTokenizerSpm, MetaspaceFormAndItsPrependScheme) {
  Json tok = Llama2Tokenizer(TinyVocab(), TinyMerges());
  tok["normalizer"] = nullptr;
  tok["decoder"] = {{"type", "Sequence"},
                    {"decoders",
                     {{{"type", "Metaspace"}, {"replacement", kSpace}, {"prepend_scheme", "first"}},
                      {{"type", "ByteFallback"}},
                      {{"type", "Fuse"}}}}};
  for (const char* scheme : {"first", "always", "never"}) {
    for (const bool split : {false, true}) {
      tok["pre_tokenizer"] = {{"type", "Metaspace"},
                              {"replacement", kSpace},
                              {"prepend_scheme", scheme},
                              {"split", split}};
      const TempDir temp(std::string("metaspace-") + scheme + (split ? "-split" : ""));
      const fs::path& dir = temp.path();
      WriteTinySpm(dir, tok);
      Result<GgufFile> file = LoadHfTokenizer(dir.string());
      ASSERT_TRUE(file.ok()) << file.status().message();
      const bool prefix = std::string(scheme) != "never";
      EXPECT_EQ(*file->GetBool("tokenizer.ggml.add_space_prefix"), prefix) << scheme;
      auto t = LoadTokenizer(dir);
      ASSERT_NE(t, nullptr);
      // Without the prefix "abc" is one word: ab, then abc (rank 6).
      const std::vector<int32_t> want =
          prefix ? std::vector<int32_t>{11, 7} : std::vector<int32_t>{12};
      EXPECT_EQ(t->Encode("abc", {.add_special = false}), want) << scheme;
    }
  }
  // Older files: add_prefix_space instead of prepend_scheme.
  tok["pre_tokenizer"] = {
      {"type", "Metaspace"}, {"replacement", kSpace}, {"add_prefix_space", false}};
  const TempDir temp("metaspace-old");
  const fs::path& dir = temp.path();
  WriteTinySpm(dir, tok);
  Result<GgufFile> file = LoadHfTokenizer(dir.string());
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_FALSE(*file->GetBool("tokenizer.ggml.add_space_prefix"));
}

// The error for `tok` contains `want`.
void ExpectRefused(const std::string& name, const Json& tok, const std::string& want) {
  const TempDir temp("refused-" + name);
  const fs::path& dir = temp.path();
  WriteTinySpm(dir, tok);
  Result<GgufFile> file = LoadHfTokenizer(dir.string());
  ASSERT_FALSE(file.ok()) << name;
  EXPECT_NE(file.status().message().find(want), std::string::npos)
      << name << ": " << file.status().message();
  EXPECT_NE(file.status().message().find("tokenizer.json"), std::string::npos) << name;
}

TEST(HfTokenizerSpm, ShapesTheSpmEncoderCannotReproduceAreRefused) {
  const Json good = Llama2Tokenizer(TinyVocab(), TinyMerges());
  {
    // "ab c" before "▁ab": abc's merges are no longer consecutive.
    Json tok = good;
    tok["model"]["merges"] = {"a b", Sp(" a"), "b c", "a bc", Sp(" ab"), Sp("a b"), "ab c"};
    ExpectRefused("order", tok, "not consecutive");
  }
  {
    // abc = a + bc, but only ab + c is listed: the SPM encoder would make abc from a + bc.
    Json tok = good;
    tok["model"]["merges"] = {"a b", Sp(" a"), "b c", Sp(" ab"), Sp("a b"), "ab c"};
    ExpectRefused("missing-merge", tok, "'a' + 'bc'");
  }
  {
    Json tok = good;
    tok["model"]["merges"].push_back("c c");
    ExpectRefused("unknown-result", tok, "makes no token");
  }
  {
    Json tok = good;
    tok["normalizer"] = {{"type", "NFKC"}};
    ExpectRefused("normalizer", tok, "normalizer step 'NFKC'");
  }
  {
    Json tok = good;
    tok["normalizer"] = nullptr;
    ExpectRefused("no-spaces", tok, "not both or neither");
  }
  {
    Json tok = good;
    tok["decoder"] = {{"type", "Fuse"}};
    ExpectRefused("decoder", tok, "ByteFallback");
  }
  {
    Json tok = good;
    tok["model"]["dropout"] = 0.1;
    ExpectRefused("dropout", tok, "model.dropout");
  }
  {
    // Metaspace with split: a token with a "▁" inside is never made by Hugging Face.
    Json tok = good;
    tok["normalizer"] = nullptr;
    tok["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", kSpace}, {"split", true}};
    tok["model"]["vocab"][Sp("a") + kSpace] = 13;
    tok["model"]["merges"].push_back(Sp("a ") + kSpace);
    ExpectRefused("split", tok, "a \"\xE2\x96\x81\" inside");
  }
  {
    Json tok = good;
    tok["model"] = {{"type", "Unigram"}, {"vocab", Json::array()}};
    ExpectRefused("unigram", tok, "model.type 'Unigram' is not supported");
  }
}

// ---- llama-spm.gguf's vocabulary as Hugging Face's converter writes it ----

// The merges Hugging Face's SentencePiece converter derives from a vocabulary with scores: for
// each piece (in id order) every split into two pieces of the vocabulary, ordered by the ids of
// the halves; then all of them stably sorted by the score of the piece, highest first.
Json ConverterMerges(const std::vector<std::string>& tokens, const std::vector<float>& scores) {
  std::unordered_map<std::string, int> ids;
  for (size_t i = 0; i < tokens.size(); ++i) ids.emplace(tokens[i], static_cast<int>(i));
  struct Merge {
    int left;
    int right;
    float score;
  };
  std::vector<Merge> merges;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    std::vector<Merge> local;
    for (size_t cut = 1; cut < t.size(); ++cut) {
      if ((static_cast<uint8_t>(t[cut]) & 0xC0) == 0x80) continue;  // inside a character
      const auto l = ids.find(t.substr(0, cut));
      const auto r = ids.find(t.substr(cut));
      if (l != ids.end() && r != ids.end()) local.push_back({l->second, r->second, scores[i]});
    }
    std::sort(local.begin(), local.end(), [](const Merge& a, const Merge& b) {
      return a.left != b.left ? a.left < b.left : a.right < b.right;
    });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  std::stable_sort(merges.begin(), merges.end(),
                   [](const Merge& a, const Merge& b) { return a.score > b.score; });
  Json out = Json::array();
  for (const Merge& m : merges) out.push_back(tokens[m.left] + " " + tokens[m.right]);
  return out;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(HfTokenizerSpmShared, LlamaSpmVocabularyAsTokenizerJsonGivesTheReferenceIds) {
  const std::string base = "golden/tokenizer/llama-spm.gguf";
  SKIP_WITHOUT_SHARED(base);
  Result<GgufFile> gguf = GgufFile::Open((testing::SharedDir() / base).string());
  ASSERT_TRUE(gguf.ok()) << gguf.status().message();
  auto tokens_view = gguf->GetStringArray("tokenizer.ggml.tokens");
  auto scores_view = gguf->GetF32Array("tokenizer.ggml.scores");
  auto types_view = gguf->GetIntegerArray("tokenizer.ggml.token_type");
  ASSERT_TRUE(tokens_view.ok() && scores_view.ok() && types_view.ok());
  const std::vector<std::string> tokens(tokens_view->begin(), tokens_view->end());
  const std::vector<float> scores(scores_view->begin(), scores_view->end());
  const std::vector<int64_t> types(types_view->begin(), types_view->end());

  Json vocab = Json::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  const TempDir temp("llama-spm");
  const fs::path& dir = temp.path();
  WriteTinySpm(dir, Llama2Tokenizer(vocab, ConverterMerges(tokens, scores)));

  Result<GgufFile> folder = LoadHfTokenizer(dir.string());
  ASSERT_TRUE(folder.ok()) << folder.status().message();
  auto folder_tokens = folder->GetStringArray("tokenizer.ggml.tokens");
  auto folder_types = folder->GetIntegerArray("tokenizer.ggml.token_type");
  auto folder_scores = folder->GetF32Array("tokenizer.ggml.scores");
  ASSERT_TRUE(folder_tokens.ok() && folder_types.ok() && folder_scores.ok());
  EXPECT_EQ(std::vector<std::string>(folder_tokens->begin(), folder_tokens->end()), tokens);
  EXPECT_EQ(std::vector<int64_t>(folder_types->begin(), folder_types->end()), types);
  // The derived scores order the pieces that merges make as the original scores do (the
  // others score the lowest of all, -(number of merges)).
  float lowest = 0;
  for (size_t i = 0; i < tokens.size(); ++i) lowest = std::min(lowest, (*folder_scores)[i]);
  std::vector<size_t> merged;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (types[i] == 1 && (*folder_scores)[i] > lowest) merged.push_back(i);
  }
  EXPECT_GT(merged.size(), tokens.size() / 2);
  int inverted = 0;
  for (size_t k = 1; k < merged.size(); ++k) {
    const size_t a = merged[k - 1];
    const size_t b = merged[k];
    if (scores[a] == scores[b]) continue;
    inverted += (scores[a] > scores[b]) != ((*folder_scores)[a] > (*folder_scores)[b]);
  }
  EXPECT_EQ(inverted, 0);

  auto tok = LoadTokenizer(dir);
  ASSERT_NE(tok, nullptr);
  const std::string separator = "\n__ggml_vocab_test__\n";
  const std::string inp = ReadFile(testing::SharedDir() / (base + ".inp"));
  std::istringstream out(ReadFile(testing::SharedDir() / (base + ".out")));
  size_t start = 0;
  int n = 0;
  for (size_t pos; (pos = inp.find(separator, start)) != std::string::npos; ++n) {
    const std::string text = inp.substr(start, pos - start);
    start = pos + separator.size();
    std::string line;
    ASSERT_TRUE(std::getline(out, line));
    std::istringstream ls(line);
    std::vector<int32_t> want;
    for (int32_t id; ls >> id;) want.push_back(id);
    EXPECT_EQ(tok->Encode(text, {.add_special = false}), want) << "string " << n << ": " << text;
  }
  EXPECT_EQ(n, 46);
}

// ---- DeepSeek LLM / V2 pre-tokenizer ----

// DeepSeek-V2(-Lite)'s tokenizer.json pre_tokenizer (the same as DeepSeek LLM's).
Json DeepseekV2PreTokenizer(bool individual_digits) {
  auto split = [](const std::string& regex) {
    return Json{{"type", "Split"},
                {"pattern", {{"Regex", regex}}},
                {"behavior", "Isolated"},
                {"invert", false}};
  };
  return {
      {"type", "Sequence"},
      {"pretokenizers",
       {split("[\r\n]"),
        split(
            std::string("\\s?[") +
            R"(A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-)"
            "\u1f7d"
            R"(ᾀ-ᾴᾶ-ᾼ)"
            "\u1fbe"
            R"(ῂ-ῄῆ-ῌῐ-)"
            "\u1fd3"
            R"(ῖ-)"
            "\u1fdb"
            R"(ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ)"
            "\u2126"
            R"(ℨ)"
            "\u212a"
            R"(-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃)" +
            "]+"),
        split("\\s?[!-/:-~！-／：-～‘-‟　-。]+"),
        split("\\s+$"),
        split("[一-龥ࠀ-一가-퟿]+"),
        {{"type", "Digits"}, {"individual_digits", individual_digits}},
        {{"type", "ByteLevel"},
         {"add_prefix_space", false},
         {"trim_offsets", true},
         {"use_regex", false}}}}};
}

void WriteByteLevelTokenizer(const fs::path& dir, const Json& pre_tokenizer) {
  Json vocab = Json::object();
  // Printable ASCII maps to itself in the byte-level alphabet; enough for these tests.
  for (int c = 33; c < 127; ++c) vocab[std::string(1, static_cast<char>(c))] = c - 33;
  vocab["\xC4\xA0"] = 94;  // Ġ, the space
  vocab["\xC4\xA0h"] = 95;
  vocab["\xC4\xA0hi"] = 96;
  vocab["a_"] = 97;
  WriteJson(dir / "tokenizer.json", {{"pre_tokenizer", pre_tokenizer},
                                     {"model",
                                      {{"type", "BPE"},
                                       {"vocab", vocab},
                                       {"merges", {"\xC4\xA0 h", "\xC4\xA0h i", "a _"}},
                                       {"byte_fallback", false}}}});
}

TEST(HfTokenizerPre, DeepseekV2PreTokenizerIsDeepseekLlm) {
  const TempDir temp("deepseek-llm");
  const fs::path& dir = temp.path();
  WriteByteLevelTokenizer(dir, DeepseekV2PreTokenizer(true));
  Result<GgufFile> file = LoadHfTokenizer(dir.string());
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(*file->GetString("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(*file->GetString("tokenizer.ggml.pre"), "deepseek-llm");
  auto tok = LoadTokenizer(dir);
  ASSERT_NE(tok, nullptr);
  // " hi" is one letter run with its space (Ġhi); the space before the digits is a piece alone.
  EXPECT_EQ(tok->Encode("a hi 12", {.add_special = false}),
            (std::vector<int32_t>{'a' - 33, 96, 94, '1' - 33, '2' - 33}));
  // "_" is punctuation, not a letter: "a_" is never one piece, so never the token 97.
  EXPECT_EQ(tok->Encode("a_b", {.add_special = false}),
            (std::vector<int32_t>{'a' - 33, '_' - 33, 'b' - 33}));

  // Digits in runs, or a missing stage, is another pre-tokenizer.
  WriteByteLevelTokenizer(dir, DeepseekV2PreTokenizer(false));
  Result<GgufFile> runs = LoadHfTokenizer(dir.string());
  ASSERT_FALSE(runs.ok());
  EXPECT_NE(runs.status().message().find("DeepSeek LLM/V2"), std::string::npos);
  Json fewer = DeepseekV2PreTokenizer(true);
  fewer["pretokenizers"].erase(3);
  WriteByteLevelTokenizer(dir, fewer);
  EXPECT_FALSE(LoadHfTokenizer(dir.string()).ok());
}

}  // namespace
}  // namespace autarky
