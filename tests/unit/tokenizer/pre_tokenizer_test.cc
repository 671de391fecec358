// PreTokenizer: regex translation for PCRE2 and "Isolated" splitting (matches and the gaps
// between them), with Oniguruma's White_Space meaning of \s.
#include "tokenizer/pre_tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace autarky {
namespace {

std::vector<std::string> Split(const std::vector<std::string>& regexes, std::string_view text) {
  auto pre = PreTokenizer::Create(regexes);
  EXPECT_TRUE(pre.ok()) << pre.status().message();
  std::vector<std::string_view> pieces;
  pre->Split(text, pieces);
  return {pieces.begin(), pieces.end()};
}

using Pieces = std::vector<std::string>;

constexpr std::string_view kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

TEST(TranslateRegexTest, SpellsOutWhiteSpace) {
  EXPECT_EQ(*TranslateRegexForPcre2(R"(a\s+b)"), R"(a[\t\n\x0B\f\r\x{85}\p{Z}]+b)");
  EXPECT_EQ(*TranslateRegexForPcre2(R"([^\s\p{L}])"), R"([^\t\n\x0B\f\r\x{85}\p{Z}\p{L}])");
  EXPECT_EQ(*TranslateRegexForPcre2(R"(\S)"), R"([^\t\n\x0B\f\r\x{85}\p{Z}])");
  // Escaped backslashes and a literal ']' first in a class are not misread.
  EXPECT_EQ(*TranslateRegexForPcre2(R"(\\s[]\s])"), R"(\\s[]\t\n\x0B\f\r\x{85}\p{Z}])");
  EXPECT_EQ(*TranslateRegexForPcre2(R"([[:alpha:]\s])"), R"([[:alpha:]\t\n\x0B\f\r\x{85}\p{Z}])");
  EXPECT_FALSE(TranslateRegexForPcre2(R"([\S])").ok());
}

TEST(PreTokenizerTest, Gpt2SplitsWordsNumbersPunctuationAndSpaces) {
  const std::vector<std::string> gpt2{std::string(kGpt2)};
  EXPECT_EQ(Split(gpt2, "Hello world"), (Pieces{"Hello", " world"}));
  // A run of spaces leaves its last space to the next word.
  EXPECT_EQ(Split(gpt2, "a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_EQ(Split(gpt2, "I'll go!!"), (Pieces{"I", "'ll", " go", "!!"}));
  EXPECT_EQ(Split(gpt2, "x 12345\n"), (Pieces{"x", " 12345", "\n"}));
  EXPECT_EQ(Split(gpt2, ""), Pieces{});
}

TEST(PreTokenizerTest, WhiteSpaceIsOniguruma) {
  const std::vector<std::string> gpt2{std::string(kGpt2)};
  // U+0085 (NEL) is White_Space: the space before it is left alone and it is a piece of its own
  // (Hugging Face tokenizers gives the same pieces; JavaScript's \s would not).
  EXPECT_EQ(Split(gpt2,
                  "a \xC2\x85"
                  "b"),
            (Pieces{"a", " ", "\xC2\x85", "b"}));
  // U+180E is not (PCRE2's own \s would take it): it is "other" like punctuation.
  EXPECT_EQ(Split(gpt2,
                  "a \xE1\xA0\x8E"
                  "b"),
            (Pieces{"a", " \xE1\xA0\x8E", "b"}));
}

TEST(PreTokenizerTest, SequenceSplitsEachPieceAgain) {
  // DeepSeek V3 style: digits in threes first, then the rest.
  const std::vector<std::string> seq{R"(\p{N}{1,3})", R"([A-Za-z]+| ?[^A-Za-z0-9]+)"};
  EXPECT_EQ(Split(seq, "ab1234567 cd"), (Pieces{"ab", "123", "456", "7", " ", "cd"}));
  // Lookahead sees only its own piece: "\s+(?!\S)" takes the whole trailing run of a piece.
  const std::vector<std::string> ws{"[0-9]", R"(\s+(?!\S)|\S+)"};
  EXPECT_EQ(Split(ws, "a  1b"), (Pieces{"a", "  ", "1", "b"}));
}

TEST(PreTokenizerTest, CaseInsensitiveContractionsAndUnicodeLetters) {
  const std::vector<std::string> qwen{
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
  EXPECT_EQ(Split(qwen, "WE'RE 12"), (Pieces{"WE", "'RE", " ", "1", "2"}));
  EXPECT_EQ(Split(qwen, "\xE4\xBD\xA0\xE5\xA5\xBD!"), (Pieces{"\xE4\xBD\xA0\xE5\xA5\xBD", "!"}));
}

TEST(PreTokenizerTest, EmptyMatchesDelimitNothing) {
  const std::vector<std::string> lookahead{R"((?=\d))"};
  EXPECT_EQ(Split(lookahead, "ab12"), (Pieces{"ab12"}));
}

TEST(PreTokenizerTest, LongRunsDoNotOverflow) {
  const std::vector<std::string> gpt2{std::string(kGpt2)};
  const std::string spaces(1 << 20, ' ');
  const Pieces pieces = Split(gpt2, spaces + "x");
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0].size(), spaces.size() - 1);
  EXPECT_EQ(pieces[1], " x");
}

TEST(PreTokenizerTest, BadRegexIsAnError) {
  auto pre = PreTokenizer::Create({"(unclosed"});
  ASSERT_FALSE(pre.ok());
  EXPECT_NE(pre.status().message().find("(unclosed"), std::string::npos);
}

}  // namespace
}  // namespace autarky
