// Tokenizer on small hand-made vocabularies whose results can be worked out by hand: BPE merge
// order and ties, ignore_merges, SPM scores, ties and byte fallback, special tokens, decoding
// rules, invalid input; and the errors of malformed GGUF tokenizer metadata.
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "io/gguf_reader.h"
#include "io/gguf_writer.h"
#include "tokenizer/unicode.h"

namespace autarky {
namespace {

using Ids = std::vector<int32_t>;

// A byte-level vocabulary: ids 0..255 are the bytes (id == byte), then the given tokens.
VocabData ByteLevelVocab(const std::vector<std::string>& extra_raw,
                         const std::vector<std::string>& merges) {
  VocabData v;
  v.model = TokenizerModel::kBpe;
  auto encode = [](std::string_view raw) {
    std::string s;
    for (const char c : raw) AppendUtf8(s, ByteLevelCodepoint(static_cast<uint8_t>(c)));
    return s;
  };
  for (int b = 0; b < 256; ++b) v.tokens.push_back(encode(std::string(1, static_cast<char>(b))));
  for (const std::string& raw : extra_raw) v.tokens.push_back(encode(raw));
  v.types.assign(v.tokens.size(), TokenType::kNormal);
  for (const std::string& m : merges) {
    const size_t space = m.find(' ');
    v.merges.push_back(encode(m.substr(0, space)) + " " + encode(m.substr(space + 1)));
  }
  v.split_regexes = {
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"};
  return v;
}

std::unique_ptr<Tokenizer> Build(VocabData v) {
  auto t = Tokenizer::FromVocab(std::move(v));
  EXPECT_TRUE(t.ok()) << t.status().message();
  return t.ok() ? std::move(t).value() : nullptr;
}

constexpr EncodeOptions kNoSpecial{.add_special = false};

TEST(BpeTokenizerTest, MergesLowestRankFirst) {
  // 256 "ab", 257 "bc", 258 "abc".
  auto t = Build(ByteLevelVocab({"ab", "bc", "abc"}, {"a b", "b c", "ab c"}));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->Encode("abc", kNoSpecial), (Ids{258}));
  // With "b c" ranked first, "a" cannot join "bc" (no such merge).
  auto u = Build(ByteLevelVocab({"ab", "bc", "abc"}, {"b c", "a b", "ab c"}));
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->Encode("abc", kNoSpecial), (Ids{'a', 257}));
}

TEST(BpeTokenizerTest, EqualRanksMergeLeftmostFirst) {
  auto t = Build(ByteLevelVocab({"aa"}, {"a a"}));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->Encode("aaa", kNoSpecial), (Ids{256, 'a'}));
  EXPECT_EQ(t->Encode("aaaa", kNoSpecial), (Ids{256, 256}));
  // Words are merged separately: the space starts a new piece.
  EXPECT_EQ(t->Encode("aa aa", kNoSpecial), (Ids{256, ' ', 256}));
}

TEST(BpeTokenizerTest, IgnoreMergesTakesWholeWordTokens) {
  // "abc" is a token no merge sequence reaches.
  VocabData v = ByteLevelVocab({"ab", "abc"}, {"a b"});
  auto merged = Build(v);
  ASSERT_NE(merged, nullptr);
  EXPECT_EQ(merged->Encode("abc", kNoSpecial), (Ids{256, 'c'}));
  v.ignore_merges = true;
  auto whole = Build(v);
  ASSERT_NE(whole, nullptr);
  EXPECT_EQ(whole->Encode("abc", kNoSpecial), (Ids{257}));
}

TEST(BpeTokenizerTest, LongWordsMergeCompletely) {
  auto t = Build(ByteLevelVocab({"aa", "aaaa"}, {"a a", "aa aa"}));
  ASSERT_NE(t, nullptr);
  const Ids ids = t->Encode(std::string(100001, 'a'), kNoSpecial);
  ASSERT_EQ(ids.size(), 25001u);
  EXPECT_EQ(ids.front(), 257);
  EXPECT_EQ(ids.back(), 'a');
}

TEST(BpeTokenizerTest, SpecialTokensAndDecoding) {
  VocabData v = ByteLevelVocab({"ab"}, {"a b"});
  v.tokens.push_back("<|end|>");  // 257
  v.types.push_back(TokenType::kControl);
  v.tokens.push_back("<t>");  // 258
  v.types.push_back(TokenType::kUserDefined);
  v.eos_id = 257;
  v.eog_ids = {257};
  auto t = Build(v);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->Encode("ab<|end|>", {.add_special = false, .parse_special = true}), (Ids{256, 257}));
  const Ids as_text = t->Encode("ab<|end|>", kNoSpecial);
  // Pieces "ab", "<|", "end", "|>": one merged token and seven bytes.
  EXPECT_EQ(as_text.size(), 8u);
  EXPECT_EQ(t->Decode(as_text), "ab<|end|>");
  EXPECT_EQ(t->Encode("<t>x", kNoSpecial), (Ids{258, 'x'}));  // user-defined: always
  EXPECT_EQ(t->Decode(Ids{256, 257, 258}), "ab<|end|><t>");
  EXPECT_EQ(t->Decode(Ids{256, 257, 258}, /*skip_special=*/true), "ab<t>");
  EXPECT_TRUE(t->IsEndOfGeneration(257));
  EXPECT_FALSE(t->IsEndOfGeneration(256));
  EXPECT_FALSE(t->add_bos());
  EXPECT_EQ(t->FindToken("<t>"), 258);
  EXPECT_EQ(t->FindToken("nope"), -1);
}

TEST(BpeTokenizerTest, InvalidIdsDecodeToNothing) {
  auto t = Build(ByteLevelVocab({}, {}));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->Decode(Ids{'h', -1, 'i', 1 << 30, 256}), "hi");
  EXPECT_EQ(t->TokenBytes(-5), "");
  EXPECT_EQ(t->TokenText(999), "");
  EXPECT_FALSE(t->IsEndOfGeneration(-1));
  EXPECT_EQ(t->token_type(999), TokenType::kUndefined);
}

TEST(BpeTokenizerTest, InvalidUtf8IsEncodedAsReplacementCharacters) {
  auto t = Build(ByteLevelVocab({}, {}));
  ASSERT_NE(t, nullptr);
  const std::string bad = "a\xC3(\xFF\xF0\x9F\x98";
  EXPECT_EQ(t->Encode(bad, kNoSpecial), t->Encode(SanitizeUtf8(bad), kNoSpecial));
  EXPECT_EQ(t->Decode(t->Encode(bad, kNoSpecial)), SanitizeUtf8(bad));
}

TEST(BpeTokenizerTest, EncodeIsThreadSafe) {
  auto t = Build(ByteLevelVocab({"ab", "bc", "abc"}, {"a b", "b c", "ab c"}));
  ASSERT_NE(t, nullptr);
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "abc cab bca \xE4\xBD\xA0 ";
  const Ids expected = t->Encode(text);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] { ok[k] = t->Encode(text) == expected; });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok, (std::vector<int>{1, 1, 1, 1}));
}

// SPM: <unk>, <s>, </s>, the 256 byte tokens (3..258), then pieces with scores.
VocabData SpmVocab(const std::vector<std::pair<std::string, float>>& pieces) {
  VocabData v;
  v.model = TokenizerModel::kSpm;
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">");
    v.types.push_back(TokenType::kByte);
  }
  v.scores.assign(v.tokens.size(), 0.0f);
  for (const auto& [text, score] : pieces) {
    v.tokens.push_back(text);
    v.types.push_back(TokenType::kNormal);
    v.scores.push_back(score);
  }
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = 2;
  v.eog_ids = {2};
  v.add_bos = true;
  v.add_space_prefix = true;
  return v;
}

constexpr int32_t kFirstPiece = 259;

TEST(SpmTokenizerTest, MergesHighestScoreFirst) {
  // 259 "▁", 260 "a", 261 "b", 262 "▁a", 263 "ab", 264 "▁ab".
  auto t = Build(SpmVocab({{"\xE2\x96\x81", -1},
                           {"a", -2},
                           {"b", -2},
                           {"\xE2\x96\x81"
                            "a",
                            -0.5f},
                           {"ab", -0.1f},
                           {"\xE2\x96\x81"
                            "ab",
                            -3}}));
  ASSERT_NE(t, nullptr);
  // "ab" (-0.1) beats "▁a" (-0.5); then "▁" + "ab" forms "▁ab".
  EXPECT_EQ(t->Encode("ab"), (Ids{1, kFirstPiece + 5}));
  EXPECT_EQ(t->Encode("ab", kNoSpecial), (Ids{kFirstPiece + 5}));
  // The dummy prefix is dropped when decoding after BOS only.
  EXPECT_EQ(t->Decode(Ids{1, kFirstPiece + 5}), "<s>ab");
  EXPECT_EQ(t->Decode(Ids{1, kFirstPiece + 5}, /*skip_special=*/true), "ab");
  EXPECT_EQ(t->Decode(Ids{kFirstPiece + 5}), " ab");
  EXPECT_EQ(t->Decode(t->Encode(" a b"), /*skip_special=*/true), " a b");
}

TEST(SpmTokenizerTest, EqualScoresMergeLeftmostFirst) {
  // 259 "▁", 260 "x", 261 "xx".
  auto t = Build(SpmVocab({{"\xE2\x96\x81", -1}, {"x", -1}, {"xx", -1}}));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->Encode("xxx", kNoSpecial), (Ids{259, 261, 260}));
}

TEST(SpmTokenizerTest, UnknownCharactersFallBackToBytes) {
  auto t = Build(SpmVocab({{"\xE2\x96\x81", -1}}));
  ASSERT_NE(t, nullptr);
  // "é" = C3 A9 -> <0xC3> <0xA9> (ids 3 + byte).
  EXPECT_EQ(t->Encode("\xC3\xA9", kNoSpecial), (Ids{259, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(t->Decode(Ids{1, 259, 3 + 0xC3, 3 + 0xA9}), "<s>\xC3\xA9");
  // Without byte tokens, one <unk> per character.
  VocabData v = SpmVocab({{"\xE2\x96\x81", -1}});
  for (int b = 0; b < 256; ++b) v.types[3 + b] = TokenType::kUnused;
  auto u = Build(v);
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->Encode("\xC3\xA9\xC3\xA9", kNoSpecial), (Ids{259, 0, 0}));
}

TEST(SpmTokenizerTest, SpacePrefixAfterSpecialTokens) {
  auto t = Build(SpmVocab({{"\xE2\x96\x81", -1},
                           {"a", -2},
                           {"\xE2\x96\x81"
                            "a",
                            -0.5f}}));
  ASSERT_NE(t, nullptr);
  // "a</s>a" with special parsing: each text fragment after a special token gets the prefix.
  EXPECT_EQ(t->Encode("a</s>a", {.add_special = true, .parse_special = true}),
            (Ids{1, 261, 2, 261}));
  EXPECT_EQ(t->Encode("", {.add_special = true}), (Ids{1}));
  EXPECT_EQ(t->Encode("", kNoSpecial), Ids{});
}

// ---- GGUF metadata errors ----

struct GgufImage {
  std::vector<uint8_t> bytes;
  Result<std::unique_ptr<Tokenizer>> Load() const {
    auto file = GgufFile::Parse(bytes.data(), bytes.size(), "vocab.gguf");
    if (!file.ok()) return file.status();
    return Tokenizer::FromGguf(*file);
  }
};

GgufImage Write(const std::function<void(GgufWriter&)>& fill) {
  GgufWriter w;
  fill(w);
  EXPECT_TRUE(w.BeginInMemory().ok());
  EXPECT_TRUE(w.Finish().ok());
  return {w.TakeBuffer()};
}

void MinimalSpm(GgufWriter& w) {
  w.Set("tokenizer.ggml.model", GgufValue::String("llama"));
  w.Set("tokenizer.ggml.tokens", GgufValue::StringArray(std::vector<std::string>{
                                     "<unk>", "<s>", "</s>", "\xE2\x96\x81", "a"}));
  w.Set("tokenizer.ggml.scores", GgufValue::Array(std::vector<float>{0, 0, 0, -1, -2}));
  w.Set("tokenizer.ggml.token_type", GgufValue::Array(std::vector<int32_t>{2, 3, 3, 1, 1}));
}

TEST(GgufTokenizerTest, LoadsAMinimalSpmVocabulary) {
  const auto t = Write(MinimalSpm).Load();
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ((*t)->Encode("a"), (Ids{1, 3, 4}));
  EXPECT_EQ((*t)->eos_id(), 2);
  EXPECT_TRUE((*t)->IsEndOfGeneration(2));
}

TEST(GgufTokenizerTest, ErrorsNameTheFileAndField) {
  auto expect_error = [](const GgufImage& image, std::string_view part) {
    const auto t = image.Load();
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.status().message().find("vocab.gguf"), std::string::npos) << t.status().message();
    EXPECT_NE(t.status().message().find(part), std::string::npos) << t.status().message();
  };
  expect_error(Write([](GgufWriter& w) {
                 MinimalSpm(w);
                 w.Remove("tokenizer.ggml.model");
               }),
               "tokenizer.ggml.model");
  expect_error(Write([](GgufWriter& w) {
                 MinimalSpm(w);
                 w.Set("tokenizer.ggml.model", GgufValue::String("bert"));
               }),
               "'bert' is not supported");
  expect_error(Write([](GgufWriter& w) {
                 MinimalSpm(w);
                 w.Set("tokenizer.ggml.scores", GgufValue::Array(std::vector<float>{0, 0}));
               }),
               "tokenizer.ggml.scores has 2 elements, expected 5");
  expect_error(Write([](GgufWriter& w) {
                 MinimalSpm(w);
                 w.Set("tokenizer.ggml.token_type", GgufValue::String("x"));
               }),
               "tokenizer.ggml.token_type");
  expect_error(Write([](GgufWriter& w) {
                 MinimalSpm(w);
                 w.Set("tokenizer.ggml.tokens", GgufValue::StringArray(std::vector<std::string>{}));
               }),
               "tokenizer.ggml.tokens has 0 tokens");
  expect_error(Write([](GgufWriter& w) {
                 MinimalSpm(w);
                 w.Set("tokenizer.ggml.model", GgufValue::String("gpt2"));
               }),
               "tokenizer.ggml.merges");
  expect_error(Write([](GgufWriter& w) {
                 MinimalSpm(w);
                 w.Set("tokenizer.ggml.model", GgufValue::String("gpt2"));
                 w.Set("tokenizer.ggml.merges", GgufValue::StringArray(std::vector<std::string>{}));
                 w.Set("tokenizer.ggml.pre", GgufValue::String("no-such-pre"));
               }),
               "unknown pre-tokenizer type 'no-such-pre'");
}

TEST(GgufTokenizerTest, OutOfRangeSpecialIdsAreIgnored) {
  const auto t = Write([](GgufWriter& w) {
                   MinimalSpm(w);
                   w.Set("tokenizer.ggml.bos_token_id", GgufValue::U32(0xFFFFFFFFu));
                   w.Set("tokenizer.ggml.eos_token_id", GgufValue::U32(99));
                 }).Load();
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ((*t)->bos_id(), -1);
  EXPECT_EQ((*t)->eos_id(), -1);
  EXPECT_FALSE((*t)->add_bos());
  EXPECT_EQ((*t)->Encode("a"), (Ids{3, 4}));
}

}  // namespace
}  // namespace autarky
