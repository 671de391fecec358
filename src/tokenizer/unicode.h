// UTF-8 helpers for the tokenizers: scanning and validation, U+FFFD replacement of ill-formed
// input, and the byte <-> character table of byte-level BPE (GPT-2's "bytes_to_unicode").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace autarky {

inline constexpr uint32_t kReplacementChar = 0xFFFD;
inline constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";

// What starts at a position of a byte string.
struct Utf8Unit {
  enum class Kind {
    kValid,       // a complete, well-formed character of `length` bytes
    kIllFormed,   // `length` bytes (>= 1) that can never start a character: one U+FFFD
    kIncomplete,  // a well-formed prefix of `length` bytes cut off by the end of the string
  };
  Kind kind;
  size_t length;
};

// Classifies the bytes at s[i] (i < s.size()). Ill-formed units follow the Unicode
// "maximal subpart" rule (as Python's errors="replace", JavaScript's TextDecoder and HF
// tokenizers' from_utf8_lossy): the longest prefix of a valid sequence counts as one unit.
Utf8Unit ScanUtf8(std::string_view s, size_t i);

bool IsValidUtf8(std::string_view s);

// `s` with every ill-formed or truncated unit replaced by U+FFFD; valid input is returned as is.
std::string SanitizeUtf8(std::string_view s);

// Decodes the valid character at s[i] and advances i past it. The caller guarantees validity
// (e.g. after SanitizeUtf8).
uint32_t DecodeUtf8At(std::string_view s, size_t& i);

void AppendUtf8(std::string& out, uint32_t cp);

// Byte length of the character whose lead byte is `lead` (1 for bytes that cannot lead).
inline size_t Utf8LengthFromLead(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

// Unicode White_Space (what Rust's char::is_whitespace and Oniguruma's \s match).
bool IsUnicodeWhitespace(uint32_t cp);

// Byte-level BPE writes every byte as one printable character: bytes that are printable Latin-1
// stand for themselves, the other 68 are moved to U+0100.. in byte order.
uint32_t ByteLevelCodepoint(uint8_t byte);
// The byte a byte-level character stands for, or -1 for a character outside the table.
int ByteLevelByte(uint32_t cp);

// Decodes a byte-level string ("Ġthe" -> " the") into `out`; false (and `out` unspecified) when
// a character is outside the byte table.
bool DecodeByteLevel(std::string_view text, std::string& out);

}  // namespace autarky
