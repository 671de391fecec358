// Python str semantics on UTF-8 strings (see py_unicode.h).
#include "chat/jinja/py_unicode.h"

#include <algorithm>

#include "chat/jinja/py_unicode_tables.h"

namespace autarky::chat::jinja {
namespace {

using tables::CaseMulti;
using tables::CaseRun;
using tables::CodePointRange;

bool InRanges(const CodePointRange* ranges, size_t n, uint32_t cp) {
  const CodePointRange* end = ranges + n;
  const CodePointRange* it = std::upper_bound(
      ranges, end, cp, [](uint32_t c, const CodePointRange& r) { return c < r.first; });
  if (it == ranges) return false;
  --it;
  return cp <= it->last;
}

// Appends the full case mapping of cp from one of the generated tables.
void AppendMapped(const CaseRun* runs, size_t n_runs, const CaseMulti* multi, size_t n_multi,
                  uint32_t cp, std::u32string& out) {
  const CaseMulti* multi_end = multi + n_multi;
  const CaseMulti* m = std::lower_bound(
      multi, multi_end, cp, [](const CaseMulti& e, uint32_t c) { return e.code_point < c; });
  if (m != multi_end && m->code_point == cp) {
    out.append(m->to, m->to + m->n);
    return;
  }
  const CaseRun* runs_end = runs + n_runs;
  const CaseRun* it = std::upper_bound(runs, runs_end, cp,
                                       [](uint32_t c, const CaseRun& r) { return c < r.first; });
  if (it != runs) {
    --it;
    if (cp <= it->last && (cp - it->first) % it->stride == 0) {
      out.push_back(static_cast<uint32_t>(static_cast<int64_t>(cp) + it->delta));
      return;
    }
  }
  out.push_back(cp);
}

void AppendLowerFull(uint32_t cp, std::u32string& out) {
  AppendMapped(tables::kLowerRuns, tables::kLowerRunsSize, tables::kLowerMulti,
               tables::kLowerMultiSize, cp, out);
}
void AppendUpperFull(uint32_t cp, std::u32string& out) {
  AppendMapped(tables::kUpperRuns, tables::kUpperRunsSize, tables::kUpperMulti,
               tables::kUpperMultiSize, cp, out);
}
void AppendTitleFull(uint32_t cp, std::u32string& out) {
  AppendMapped(tables::kTitleRuns, tables::kTitleRunsSize, tables::kTitleMulti,
               tables::kTitleMultiSize, cp, out);
}

bool IsCaseIgnorable(uint32_t cp) {
  return InRanges(tables::kCaseIgnorable, tables::kCaseIgnorableSize, cp);
}

constexpr uint32_t kCapitalSigma = 0x3A3;
constexpr uint32_t kSmallSigma = 0x3C3;
constexpr uint32_t kFinalSigma = 0x3C2;

// Lower-cases s[i], where a capital sigma becomes final sigma at the end of a word (the rule
// of Python's str.lower: a cased letter before it and none after, skipping case-ignorables).
void AppendLowerAt(const std::u32string& s, size_t i, std::u32string& out) {
  if (s[i] != kCapitalSigma) {
    AppendLowerFull(s[i], out);
    return;
  }
  size_t j = i;
  while (j > 0 && IsCaseIgnorable(s[j - 1])) --j;
  bool final_sigma = j > 0 && IsPyCased(s[j - 1]);
  if (final_sigma) {
    size_t k = i + 1;
    while (k < s.size() && IsCaseIgnorable(s[k])) ++k;
    final_sigma = k == s.size() || !IsPyCased(s[k]);
  }
  out.push_back(final_sigma ? kFinalSigma : kSmallSigma);
}

bool InCharSet(const std::u32string& set, uint32_t cp) {
  return set.find(static_cast<char32_t>(cp)) != std::u32string::npos;
}

}  // namespace

uint32_t DecodeUtf8(std::string_view s, size_t& i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b0 = byte(i);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  size_t need = 0;
  uint32_t cp = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  }
  if (need == 0 || i + need >= s.size()) {
    ++i;
    return 0xDC00 | b0;
  }
  for (size_t k = 1; k <= need; ++k) {
    const uint8_t b = byte(i + k);
    const uint8_t min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xBF;
    if (b < min || b > max) {
      ++i;
      return 0xDC00 | b0;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  i += need + 1;
  return cp;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp >= 0xDC80 && cp <= 0xDCFF) {
    out.push_back(static_cast<char>(cp & 0xFF));  // an escaped ill-formed byte
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::u32string ToCodePoints(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) out.push_back(DecodeUtf8(s, i));
  return out;
}

std::string FromCodePoints(std::u32string_view cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t cp : cps) AppendUtf8(out, cp);
  return out;
}

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<uint8_t>(c) >= 0x80) return false;
  }
  return true;
}

size_t CodePointCount(std::string_view s) {
  if (IsAscii(s)) return s.size();
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) DecodeUtf8(s, i);
  return n;
}

size_t CodePointOffset(std::string_view s, size_t index) {
  size_t i = 0;
  for (size_t n = 0; n < index && i < s.size(); ++n) DecodeUtf8(s, i);
  return i;
}

bool IsPySpace(uint32_t cp) {
  if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool IsPyPrintable(uint32_t cp) { return InRanges(tables::kPrintable, tables::kPrintableSize, cp); }
bool IsPyAlpha(uint32_t cp) { return InRanges(tables::kAlpha, tables::kAlphaSize, cp); }
bool IsPyDecimal(uint32_t cp) { return InRanges(tables::kDecimal, tables::kDecimalSize, cp); }
bool IsPyDigit(uint32_t cp) { return InRanges(tables::kDigit, tables::kDigitSize, cp); }
bool IsPyNumeric(uint32_t cp) { return InRanges(tables::kNumeric, tables::kNumericSize, cp); }
bool IsPyAlnum(uint32_t cp) {
  return IsPyAlpha(cp) || IsPyDecimal(cp) || IsPyDigit(cp) || IsPyNumeric(cp);
}
bool IsPyLowercase(uint32_t cp) { return InRanges(tables::kLowercase, tables::kLowercaseSize, cp); }
bool IsPyUppercase(uint32_t cp) { return InRanges(tables::kUppercase, tables::kUppercaseSize, cp); }
bool IsPyTitlecase(uint32_t cp) { return InRanges(tables::kTitlecase, tables::kTitlecaseSize, cp); }
bool IsPyCased(uint32_t cp) { return IsPyLowercase(cp) || IsPyUppercase(cp) || IsPyTitlecase(cp); }
bool IsPyLineBreak(uint32_t cp) {
  return (cp >= 0x0A && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1E) || cp == 0x85 || cp == 0x2028 ||
         cp == 0x2029;
}

std::string PyLower(std::string_view s) {
  if (IsAscii(s)) {
    std::string out(s);
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
  }
  const std::u32string cps = ToCodePoints(s);
  std::u32string out;
  out.reserve(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) AppendLowerAt(cps, i, out);
  return FromCodePoints(out);
}

std::string PyUpper(std::string_view s) {
  if (IsAscii(s)) {
    std::string out(s);
    for (char& c : out) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return out;
  }
  std::u32string out;
  for (size_t i = 0; i < s.size();) AppendUpperFull(DecodeUtf8(s, i), out);
  return FromCodePoints(out);
}

std::string PyTitle(std::string_view s) {
  const std::u32string cps = ToCodePoints(s);
  std::u32string out;
  bool previous_is_cased = false;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (previous_is_cased) {
      AppendLowerAt(cps, i, out);
    } else {
      AppendTitleFull(cps[i], out);
    }
    previous_is_cased = IsPyCased(cps[i]);
  }
  return FromCodePoints(out);
}

std::string PyCapitalize(std::string_view s) {
  const std::u32string cps = ToCodePoints(s);
  std::u32string out;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (i == 0) {
      AppendTitleFull(cps[i], out);
    } else {
      AppendLowerAt(cps, i, out);
    }
  }
  return FromCodePoints(out);
}

std::string PySwapCase(std::string_view s) {
  const std::u32string cps = ToCodePoints(s);
  std::u32string out;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (IsPyUppercase(cps[i])) {
      AppendLowerAt(cps, i, out);
    } else if (IsPyLowercase(cps[i])) {
      AppendUpperFull(cps[i], out);
    } else {
      out.push_back(cps[i]);
    }
  }
  return FromCodePoints(out);
}

bool PyIsLower(std::string_view s) {
  bool cased = false;
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = DecodeUtf8(s, i);
    if (IsPyUppercase(cp) || IsPyTitlecase(cp)) return false;
    if (IsPyLowercase(cp)) cased = true;
  }
  return cased;
}

bool PyIsUpper(std::string_view s) {
  bool cased = false;
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = DecodeUtf8(s, i);
    if (IsPyLowercase(cp) || IsPyTitlecase(cp)) return false;
    if (IsPyUppercase(cp)) cased = true;
  }
  return cased;
}

bool PyIsTitle(std::string_view s) {
  bool cased = false, previous_is_cased = false;
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = DecodeUtf8(s, i);
    if (IsPyUppercase(cp) || IsPyTitlecase(cp)) {
      if (previous_is_cased) return false;
      previous_is_cased = cased = true;
    } else if (IsPyLowercase(cp)) {
      if (!previous_is_cased) return false;
      previous_is_cased = cased = true;
    } else {
      previous_is_cased = false;
    }
  }
  return cased;
}

bool PyAll(std::string_view s, bool (*pred)(uint32_t)) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size();) {
    if (!pred(DecodeUtf8(s, i))) return false;
  }
  return true;
}

std::string_view PyStrip(std::string_view s, const std::optional<std::string>& chars, bool left,
                         bool right) {
  const std::u32string set = chars ? ToCodePoints(*chars) : std::u32string();
  const auto strip_it = [&](uint32_t cp) { return chars ? InCharSet(set, cp) : IsPySpace(cp); };
  size_t begin = 0, end = s.size();
  if (left) {
    while (begin < end) {
      size_t next = begin;
      if (!strip_it(DecodeUtf8(s, next))) break;
      begin = next;
    }
  }
  if (right) {
    while (end > begin) {
      // Step back to the start of the last character (continuation bytes are 10xxxxxx).
      size_t start = end - 1;
      while (start > begin && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) --start;
      size_t next = start;
      uint32_t cp = DecodeUtf8(s, next);
      if (next != end) {  // an ill-formed tail: the last byte stands alone
        start = end - 1;
        next = start;
        cp = DecodeUtf8(s, next);
      }
      if (!strip_it(cp)) break;
      end = start;
    }
  }
  return s.substr(begin, end - begin);
}

std::vector<std::string> PySplitWhitespace(std::string_view s, int64_t maxsplit) {
  const std::u32string cps = ToCodePoints(s);
  std::vector<std::string> out;
  size_t i = 0;
  const size_t n = cps.size();
  int64_t remaining = maxsplit < 0 ? INT64_MAX : maxsplit;
  while (remaining-- > 0) {
    while (i < n && IsPySpace(cps[i])) ++i;
    if (i == n) break;
    const size_t j = i;
    while (i < n && !IsPySpace(cps[i])) ++i;
    out.push_back(FromCodePoints(std::u32string_view(cps).substr(j, i - j)));
  }
  if (i < n) {
    while (i < n && IsPySpace(cps[i])) ++i;
    if (i != n) out.push_back(FromCodePoints(std::u32string_view(cps).substr(i)));
  }
  return out;
}

std::vector<std::string> PyRSplitWhitespace(std::string_view s, int64_t maxsplit) {
  const std::u32string cps = ToCodePoints(s);
  std::vector<std::string> out;
  size_t i = cps.size();  // one past the current position
  int64_t remaining = maxsplit < 0 ? INT64_MAX : maxsplit;
  while (remaining-- > 0) {
    while (i > 0 && IsPySpace(cps[i - 1])) --i;
    if (i == 0) break;
    const size_t j = i;
    while (i > 0 && !IsPySpace(cps[i - 1])) --i;
    out.push_back(FromCodePoints(std::u32string_view(cps).substr(i, j - i)));
  }
  if (i > 0) {
    while (i > 0 && IsPySpace(cps[i - 1])) --i;
    if (i != 0) out.push_back(FromCodePoints(std::u32string_view(cps).substr(0, i)));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> PySplit(std::string_view s, std::string_view sep, int64_t maxsplit) {
  std::vector<std::string> out;
  size_t start = 0;
  int64_t remaining = maxsplit < 0 ? INT64_MAX : maxsplit;
  while (remaining-- > 0) {
    const size_t at = s.find(sep, start);
    if (at == std::string_view::npos) break;
    out.emplace_back(s.substr(start, at - start));
    start = at + sep.size();
  }
  out.emplace_back(s.substr(start));
  return out;
}

std::vector<std::string> PyRSplit(std::string_view s, std::string_view sep, int64_t maxsplit) {
  std::vector<std::string> out;
  size_t end = s.size();
  int64_t remaining = maxsplit < 0 ? INT64_MAX : maxsplit;
  while (remaining-- > 0 && end >= sep.size()) {
    const size_t at = s.rfind(sep, end - sep.size());
    if (at == std::string_view::npos) break;
    out.emplace_back(s.substr(at + sep.size(), end - at - sep.size()));
    end = at;
  }
  out.emplace_back(s.substr(0, end));
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> PySplitLines(std::string_view s, bool keepends) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    const size_t j = i;
    size_t eol = s.size(), next = s.size();
    while (i < s.size()) {
      size_t k = i;
      const uint32_t cp = DecodeUtf8(s, k);
      if (IsPyLineBreak(cp)) {
        eol = i;
        next = k;
        if (cp == '\r' && next < s.size() && s[next] == '\n') ++next;
        break;
      }
      i = k;
    }
    if (i >= s.size()) {
      out.emplace_back(s.substr(j));
      break;
    }
    out.emplace_back(s.substr(j, (keepends ? next : eol) - j));
    i = next;
  }
  return out;
}

std::string PyReplace(std::string_view s, std::string_view old, std::string_view repl,
                      int64_t count) {
  std::string out;
  int64_t remaining = count < 0 ? INT64_MAX : count;
  if (old.empty()) {
    // Python inserts the replacement before every character and at the end.
    size_t i = 0;
    while (i < s.size()) {
      if (remaining > 0) {
        out.append(repl);
        --remaining;
      }
      const size_t start = i;
      DecodeUtf8(s, i);
      out.append(s.substr(start, i - start));
    }
    if (remaining > 0) out.append(repl);
    return out;
  }
  size_t start = 0;
  while (remaining > 0) {
    const size_t at = s.find(old, start);
    if (at == std::string_view::npos) break;
    out.append(s.substr(start, at - start));
    out.append(repl);
    start = at + old.size();
    --remaining;
  }
  out.append(s.substr(start));
  return out;
}

size_t PyCount(std::string_view s, std::string_view sub) {
  if (sub.empty()) return CodePointCount(s) + 1;
  size_t n = 0;
  for (size_t at = s.find(sub); at != std::string_view::npos; at = s.find(sub, at + sub.size())) {
    ++n;
  }
  return n;
}

}  // namespace autarky::chat::jinja
