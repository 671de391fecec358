// SpecialTokenSplitter: leftmost-longest matching, parse_special gating, lstrip/rstrip.
#include "tokenizer/special_tokens.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace autarky {
namespace {

// Fragments as "#id" for tokens and the text otherwise.
std::vector<std::string> Split(const SpecialTokenSplitter& splitter, std::string_view text,
                               bool parse_special) {
  std::vector<TextFragment> fragments;
  splitter.Split(text, parse_special, fragments);
  std::vector<std::string> out;
  for (const TextFragment& f : fragments) {
    std::string part(f.text);
    if (f.token >= 0) part.append("#").append(std::to_string(f.token));
    out.push_back(part);
  }
  return out;
}

using Parts = std::vector<std::string>;

TEST(SpecialTokenSplitterTest, LeftmostLongestAndGating) {
  SpecialTokenSplitter s;
  s.Add(1, "<|im_end|>", /*always=*/false, false, false);
  s.Add(2, "<|im", /*always=*/false, false, false);
  s.Add(3, "<think>", /*always=*/true, false, false);
  EXPECT_EQ(Split(s, "a<|im_end|>b", true), (Parts{"a", "#1", "b"}));
  EXPECT_EQ(Split(s, "a<|im_x", true), (Parts{"a", "#2", "_x"}));
  // Control tokens stay text without parse_special; user-defined ones are always cut out.
  EXPECT_EQ(Split(s, "a<|im_end|><think>", false), (Parts{"a<|im_end|>", "#3"}));
  EXPECT_EQ(Split(s, "<think><think>", false), (Parts{"#3", "#3"}));
  EXPECT_EQ(Split(s, "", true), Parts{});
  EXPECT_EQ(Split(s, "plain", true), Parts{"plain"});
}

TEST(SpecialTokenSplitterTest, StripsWhitespaceAroundTokens) {
  SpecialTokenSplitter s;
  s.Add(7, "<L>", true, /*lstrip=*/true, false);
  s.Add(8, "<R>", true, false, /*rstrip=*/true);
  EXPECT_EQ(Split(s, "a \t<L> b", true), (Parts{"a", "#7", " b"}));
  EXPECT_EQ(Split(s, "a <R> \n b", true), (Parts{"a ", "#8", "b"}));
  // Unicode whitespace (U+3000) is stripped too; a fragment that becomes empty disappears.
  EXPECT_EQ(Split(s, "\xE3\x80\x80<L>", true), (Parts{"#7"}));
  EXPECT_EQ(Split(s, "<R>\xE3\x80\x80", true), (Parts{"#8"}));
}

}  // namespace
}  // namespace autarky
