// StopStringMatcher: text is released exactly up to the first stop string, whatever the split of
// the text into pushes, and nothing of a stop string (or of a possible one) leaks early.
#include "engine/stop_strings.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace autarky {
namespace {

// Pushes `text` in pieces of `piece` bytes; returns everything released (and flushed unless a
// stop matched) plus whether a stop matched.
std::pair<std::string, bool> PushAll(const std::vector<std::string>& stops, const std::string& text,
                                     size_t piece) {
  StopStringMatcher m(stops);
  std::string out;
  bool stopped = false;
  for (size_t i = 0; i < text.size() && !stopped; i += piece) {
    auto o = m.Push(text.substr(i, piece));
    out += o.text;
    stopped = o.stopped;
  }
  if (!stopped) out += m.Flush();
  return {out, stopped};
}

TEST(StopStrings, CutsBeforeTheFirstStopForEverySplit) {
  const std::string text = "Hello world. ###END### and more ###END### text";
  for (size_t piece = 1; piece <= text.size(); ++piece) {
    auto [out, stopped] = PushAll({"###END###"}, text, piece);
    EXPECT_TRUE(stopped) << piece;
    EXPECT_EQ(out, "Hello world. ") << piece;
  }
}

TEST(StopStrings, EarliestOfSeveralStopsWins) {
  for (size_t piece = 1; piece <= 8; ++piece) {
    auto [out, stopped] = PushAll({"world", "lo w", "xyz"}, "Hello world", piece);
    EXPECT_TRUE(stopped);
    EXPECT_EQ(out, "Hel") << piece;
  }
}

TEST(StopStrings, NoStopReleasesEverythingAfterFlush) {
  const std::string text = "abcabcab";  // ends with a prefix of the stop string
  for (size_t piece = 1; piece <= text.size(); ++piece) {
    auto [out, stopped] = PushAll({"abcd"}, text, piece);
    EXPECT_FALSE(stopped);
    EXPECT_EQ(out, text);
  }
}

TEST(StopStrings, HoldsBackOnlyWhatCouldStartAStop) {
  StopStringMatcher m({"</answer>"});
  auto o = m.Push("The answer is 4 <");
  EXPECT_EQ(o.text, "The answer is 4 ");
  EXPECT_EQ(m.held(), 1u);
  o = m.Push("/ans");
  EXPECT_EQ(o.text, "");
  o = m.Push("wer");  // "</answer" is still a prefix
  EXPECT_EQ(o.text, "");
  o = m.Push("s!");  // "</answers!" is not
  EXPECT_EQ(o.text, "</answers!");
  EXPECT_FALSE(o.stopped);
  EXPECT_EQ(m.held(), 0u);
}

TEST(StopStrings, OverlappingPrefixesAreFound) {
  // "aab" inside "aaab": a naive matcher that restarts after a mismatch misses it.
  for (size_t piece = 1; piece <= 4; ++piece) {
    auto [out, stopped] = PushAll({"aab"}, "xaaab", piece);
    EXPECT_TRUE(stopped);
    EXPECT_EQ(out, "xa");
  }
}

TEST(StopStrings, MultiByteCharactersAreNeverSplit) {
  // "é" is C3 A9; the stop "éa" must hold back the whole "é" but release "è" (C3 A8).
  StopStringMatcher m(
      {"\xC3\xA9"
       "a"});
  auto o = m.Push("x\xC3\xA8\xC3\xA9");
  EXPECT_EQ(o.text, "x\xC3\xA8");
  o = m.Push("b");
  EXPECT_EQ(o.text,
            "\xC3\xA9"
            "b");
}

TEST(StopStrings, EmptyStopsAreIgnoredAndNothingFollowsAStop) {
  StopStringMatcher m({"", "."});
  auto o = m.Push("a.b");
  EXPECT_TRUE(o.stopped);
  EXPECT_EQ(o.text, "a");
  o = m.Push("more");
  EXPECT_FALSE(o.stopped);
  EXPECT_EQ(o.text, "");
  StopStringMatcher none({""});
  EXPECT_EQ(none.Push("text").text, "text");
}

}  // namespace
}  // namespace autarky
