// Python str semantics on UTF-8 strings: code point iteration, character classes and the
// string methods chat templates call (lower, upper, title, strip, split, splitlines, ...).
//
// Strings stay UTF-8 (std::string). Python counts and indexes code points, so these helpers
// do too. Bytes that are not well-formed UTF-8 (possible only in inputs built by a program,
// never in parsed JSON or a validated template) decode to U+DC80..U+DCFF, the way Python's
// "surrogateescape" does, and encode back to the same byte: no input makes them fail.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace autarky::chat::jinja {

// Decodes the code point at s[i] and advances i (by 1 for an ill-formed byte).
uint32_t DecodeUtf8(std::string_view s, size_t& i);
void AppendUtf8(std::string& out, uint32_t cp);
std::u32string ToCodePoints(std::string_view s);
std::string FromCodePoints(std::u32string_view cps);
size_t CodePointCount(std::string_view s);
bool IsAscii(std::string_view s);
// Byte offset of code point `index` (0 <= index <= count) in s.
size_t CodePointOffset(std::string_view s, size_t index);

// Character classes, as the single-character str methods of Python.
bool IsPySpace(uint32_t cp);  // str.isspace (also re's \s)
bool IsPyPrintable(uint32_t cp);
bool IsPyAlpha(uint32_t cp);
bool IsPyDecimal(uint32_t cp);
bool IsPyDigit(uint32_t cp);
bool IsPyNumeric(uint32_t cp);
bool IsPyAlnum(uint32_t cp);
bool IsPyLowercase(uint32_t cp);
bool IsPyUppercase(uint32_t cp);
bool IsPyTitlecase(uint32_t cp);
bool IsPyCased(uint32_t cp);
// Line boundaries of str.splitlines.
bool IsPyLineBreak(uint32_t cp);

// String methods with Python's results (full case mappings, final sigma, ...).
std::string PyLower(std::string_view s);
std::string PyUpper(std::string_view s);
std::string PyTitle(std::string_view s);       // str.title
std::string PyCapitalize(std::string_view s);  // str.capitalize
std::string PySwapCase(std::string_view s);
bool PyIsLower(std::string_view s);
bool PyIsUpper(std::string_view s);
bool PyIsTitle(std::string_view s);
// str.isspace/isalpha/isdigit/isdecimal/isnumeric/isalnum: non-empty and every char in class.
bool PyAll(std::string_view s, bool (*pred)(uint32_t));

// str.strip / lstrip / rstrip; `chars` nullopt strips whitespace.
std::string_view PyStrip(std::string_view s, const std::optional<std::string>& chars, bool left,
                         bool right);
// str.split() without a separator: runs of whitespace; maxsplit < 0 is unlimited.
std::vector<std::string> PySplitWhitespace(std::string_view s, int64_t maxsplit);
std::vector<std::string> PyRSplitWhitespace(std::string_view s, int64_t maxsplit);
// str.split(sep) / rsplit(sep); sep must not be empty.
std::vector<std::string> PySplit(std::string_view s, std::string_view sep, int64_t maxsplit);
std::vector<std::string> PyRSplit(std::string_view s, std::string_view sep, int64_t maxsplit);
std::vector<std::string> PySplitLines(std::string_view s, bool keepends);
// str.replace with Python's count (< 0: all) and empty-pattern behaviour.
std::string PyReplace(std::string_view s, std::string_view old, std::string_view repl,
                      int64_t count);
// Number of non-overlapping occurrences (str.count) within the whole string.
size_t PyCount(std::string_view s, std::string_view sub);

}  // namespace autarky::chat::jinja
