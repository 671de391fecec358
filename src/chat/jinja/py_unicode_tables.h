// Tables of Python's str character classes and case mappings (generated into
// py_unicode_tables.cc by gen_py_unicode_tables.py); used through py_unicode.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace autarky::chat::jinja::tables {

struct CodePointRange {
  uint32_t first, last;  // inclusive
};

// Code points first, first + stride, ..., last map to code point + delta.
struct CaseRun {
  uint32_t first, last;
  int32_t delta;
  uint32_t stride;
};

// A code point whose mapping is several code points (e.g. U+00DF -> "SS").
struct CaseMulti {
  uint32_t code_point;
  uint32_t n;
  uint32_t to[3];
};

#define AUTARKY_PY_RANGES(name)       \
  extern const CodePointRange name[]; \
  extern const size_t name##Size;
AUTARKY_PY_RANGES(kPrintable)
AUTARKY_PY_RANGES(kAlpha)
AUTARKY_PY_RANGES(kDecimal)
AUTARKY_PY_RANGES(kDigit)
AUTARKY_PY_RANGES(kNumeric)
AUTARKY_PY_RANGES(kLowercase)
AUTARKY_PY_RANGES(kUppercase)
AUTARKY_PY_RANGES(kTitlecase)
AUTARKY_PY_RANGES(kCaseIgnorable)
#undef AUTARKY_PY_RANGES

#define AUTARKY_PY_MAPPING(name)        \
  extern const CaseRun name##Runs[];    \
  extern const size_t name##RunsSize;   \
  extern const CaseMulti name##Multi[]; \
  extern const size_t name##MultiSize;
AUTARKY_PY_MAPPING(kLower)
AUTARKY_PY_MAPPING(kUpper)
AUTARKY_PY_MAPPING(kTitle)
#undef AUTARKY_PY_MAPPING

}  // namespace autarky::chat::jinja::tables
