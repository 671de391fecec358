// Utf8Stream: characters split across pushes come out whole; the concatenated output equals
// SanitizeUtf8 of everything pushed.
#include "tokenizer/utf8_stream.h"

#include <gtest/gtest.h>

#include <string>

#include "tokenizer/unicode.h"

namespace autarky {
namespace {

TEST(Utf8StreamTest, HoldsBackSplitCharacters) {
  Utf8Stream stream;
  EXPECT_EQ(stream.Push("a\xF0\x9F"), "a");
  EXPECT_EQ(stream.pending(), 2u);
  EXPECT_EQ(stream.Push("\x98"), "");
  EXPECT_EQ(stream.Push("\x80z"), "\xF0\x9F\x98\x80z");
  EXPECT_EQ(stream.pending(), 0u);
  EXPECT_EQ(stream.Flush(), "");
}

TEST(Utf8StreamTest, FlushReplacesAnUnfinishedCharacter) {
  Utf8Stream stream;
  EXPECT_EQ(stream.Push("\xE4\xBD"), "");
  EXPECT_EQ(stream.Flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.Flush(), "");
}

TEST(Utf8StreamTest, EverySplitGivesTheSanitizedText) {
  // Valid characters of 1-4 bytes and ill-formed bytes of several kinds.
  const std::string text =
      "h\xC3\xA9llo \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x91\x8D\x80 \xC3( \xE0\x80\x80 \xF0\x9F\x98 x"
      "\xED\xA0\x80\xF4\x90\x80\x80\xFF";
  const std::string expected = SanitizeUtf8(text);
  ASSERT_TRUE(IsValidUtf8(expected));
  for (size_t a = 0; a <= text.size(); ++a) {
    for (size_t b = a; b <= text.size(); ++b) {
      Utf8Stream stream;
      std::string out = stream.Push(text.substr(0, a));
      out += stream.Push(text.substr(a, b - a));
      out += stream.Push(text.substr(b));
      out += stream.Flush();
      ASSERT_EQ(out, expected) << "split at " << a << ", " << b;
    }
  }
  // One byte at a time.
  Utf8Stream stream;
  std::string out;
  for (const char c : text) {
    const std::string piece = stream.Push(std::string_view(&c, 1));
    EXPECT_TRUE(IsValidUtf8(piece));
    out += piece;
  }
  out += stream.Flush();
  EXPECT_EQ(out, expected);
}

}  // namespace
}  // namespace autarky
