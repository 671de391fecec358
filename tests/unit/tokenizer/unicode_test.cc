// UTF-8 scanning and U+FFFD replacement against Python's bytes.decode("utf-8", "replace"), and
// the byte-level BPE character table against GPT-2's published mapping.
#include "tokenizer/unicode.h"

#include <gtest/gtest.h>

#include <string>

namespace autarky {
namespace {

constexpr std::string_view kFffd = "\xEF\xBF\xBD";

// Concatenation by append (GCC 12 warns falsely about operator+ on literals here).
std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const std::string_view p : parts) out.append(p);
  return out;
}

std::string Repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// Expected values are Python 3.11's decode("utf-8", "replace") re-encoded: an independent
// implementation of the Unicode "maximal subpart" rule.
TEST(SanitizeUtf8Test, MatchesPythonsReplacement) {
  struct Case {
    std::string_view input;
    std::string expected;
  };
  const Case cases[] = {
      {"abc", "abc"},
      {"\x80", std::string(kFffd)},
      {"\xC3", std::string(kFffd)},
      {"\xC3(", Cat({kFffd, "("})},
      {"\xE0\x80\x80", Repeat(kFffd, 3)},      // overlong
      {"\xED\xA0\x80", Repeat(kFffd, 3)},      // surrogate
      {"\xF4\x90\x80\x80", Repeat(kFffd, 4)},  // above U+10FFFF
      {"\xF0\x9F\x98", std::string(kFffd)},    // truncated 4-byte sequence: one U+FFFD
      {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},
      {"\xE2\x82", std::string(kFffd)},
      {"\xE2\x82\xAC", "\xE2\x82\xAC"},
      {"\xC0\xAF", Repeat(kFffd, 2)},
      {"\xFF\xFE", Repeat(kFffd, 2)},
      {"a\xF1\x80\x80"
       "b",
       Cat({"a", kFffd, "b"})},
      {"\xEF\xBF\xBD", std::string(kFffd)},
      {"\xF5\x80", Repeat(kFffd, 2)},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(SanitizeUtf8(c.input), c.expected) << testing::PrintToString(std::string(c.input));
    EXPECT_EQ(IsValidUtf8(c.input), c.input == c.expected);
  }
}

TEST(ScanUtf8Test, ClassifiesUnits) {
  EXPECT_EQ(ScanUtf8("\xE2\x82", 0).kind, Utf8Unit::Kind::kIncomplete);
  EXPECT_EQ(ScanUtf8("\xE2\x82", 0).length, 2u);
  EXPECT_EQ(ScanUtf8("\xE2(", 0).kind, Utf8Unit::Kind::kIllFormed);
  EXPECT_EQ(ScanUtf8("\xE2(", 0).length, 1u);
  EXPECT_EQ(ScanUtf8("\xF0\x9F\x98\x80", 0).kind, Utf8Unit::Kind::kValid);
  EXPECT_EQ(ScanUtf8("\xF0\x9F\x98\x80", 0).length, 4u);
}

TEST(Utf8CodecTest, DecodesWhatItEncodes) {
  for (const uint32_t cp :
       {0x0u, 0x41u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    std::string s;
    AppendUtf8(s, cp);
    EXPECT_TRUE(IsValidUtf8(s)) << cp;
    size_t i = 0;
    EXPECT_EQ(DecodeUtf8At(s, i), cp);
    EXPECT_EQ(i, s.size());
  }
}

TEST(UnicodeWhitespaceTest, IsWhiteSpaceProperty) {
  for (const uint32_t cp : {0x9u, 0xAu, 0xDu, 0x20u, 0x85u, 0xA0u, 0x1680u, 0x2000u, 0x200Au,
                            0x2028u, 0x2029u, 0x202Fu, 0x205Fu, 0x3000u}) {
    EXPECT_TRUE(IsUnicodeWhitespace(cp)) << std::hex << cp;
  }
  // Format characters that some engines count as spaces are not White_Space.
  for (const uint32_t cp : {0x180Eu, 0x200Bu, 0xFEFFu, 0x1Fu, 0x41u}) {
    EXPECT_FALSE(IsUnicodeWhitespace(cp)) << std::hex << cp;
  }
}

// GPT-2's table, as seen in every byte-level vocabulary: 'Ġ' (U+0120) is the space, 'Ċ'
// (U+010A) the newline, 'ĉ' (U+0109) the tab, printable ASCII stands for itself, and 0xAD
// (soft hyphen, not printable) is the last of the moved bytes, U+0143 'Ń'.
TEST(ByteLevelTest, KnownCharacters) {
  EXPECT_EQ(ByteLevelCodepoint(' '), 0x120u);
  EXPECT_EQ(ByteLevelCodepoint('\n'), 0x10Au);
  EXPECT_EQ(ByteLevelCodepoint('\t'), 0x109u);
  EXPECT_EQ(ByteLevelCodepoint('A'), static_cast<uint32_t>('A'));
  EXPECT_EQ(ByteLevelCodepoint(0x00), 0x100u);
  EXPECT_EQ(ByteLevelCodepoint(0xAD), 0x143u);
  EXPECT_EQ(ByteLevelCodepoint(0xFF), 0xFFu);
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(ByteLevelByte(ByteLevelCodepoint(static_cast<uint8_t>(b))), b);
  }
  EXPECT_EQ(ByteLevelByte(0x20), -1);  // a real space is not a byte-level character
  EXPECT_EQ(ByteLevelByte(0x4E00), -1);
  std::string raw;
  EXPECT_TRUE(DecodeByteLevel("\xC4\xA0the\xC4\x8A", raw));  // "Ġthe" + "Ċ"
  EXPECT_EQ(raw, " the\n");
  EXPECT_FALSE(DecodeByteLevel("a b", raw));
}

}  // namespace
}  // namespace autarky
