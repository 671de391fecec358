// UTF-8 scanning, U+FFFD replacement and the byte-level BPE character table.
#include "tokenizer/unicode.h"

#include <array>

namespace autarky {
namespace {

bool IsContinuation(uint8_t c) { return (c & 0xC0) == 0x80; }

// The allowed range of the second byte of a sequence, which depends on its lead byte (this is
// what excludes overlong forms, surrogates and code points above U+10FFFF).
struct SecondByteRange {
  uint8_t low;
  uint8_t high;
};

SecondByteRange SecondRange(uint8_t lead) {
  switch (lead) {
    case 0xE0:
      return {0xA0, 0xBF};
    case 0xED:
      return {0x80, 0x9F};
    case 0xF0:
      return {0x90, 0xBF};
    case 0xF4:
      return {0x80, 0x8F};
    default:
      return {0x80, 0xBF};
  }
}

// The byte -> character table: printable bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves,
// the rest to 256, 257, ... in byte order.
struct ByteLevelTable {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 324> to_byte{};  // indexed by code point; every mapped one is below 324

  ByteLevelTable() {
    to_byte.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      to_cp[b] = printable ? static_cast<uint32_t>(b) : next++;
      to_byte[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteLevelTable& Table() {
  static const ByteLevelTable table;
  return table;
}

}  // namespace

Utf8Unit ScanUtf8(std::string_view s, size_t i) {
  const auto lead = static_cast<uint8_t>(s[i]);
  if (lead < 0x80) return {Utf8Unit::Kind::kValid, 1};
  size_t need = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 3;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 4;
  } else {
    return {Utf8Unit::Kind::kIllFormed, 1};
  }
  const SecondByteRange second = SecondRange(lead);
  size_t k = 1;
  for (; k < need; ++k) {
    if (i + k >= s.size()) return {Utf8Unit::Kind::kIncomplete, k};
    const auto c = static_cast<uint8_t>(s[i + k]);
    const bool ok = k == 1 ? (c >= second.low && c <= second.high) : IsContinuation(c);
    if (!ok) return {Utf8Unit::Kind::kIllFormed, k};
  }
  return {Utf8Unit::Kind::kValid, need};
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    // ASCII runs are the common case.
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const Utf8Unit unit = ScanUtf8(s, i);
    if (unit.kind != Utf8Unit::Kind::kValid) return false;
    i += unit.length;
  }
  return true;
}

std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const Utf8Unit unit = ScanUtf8(s, i);
    if (unit.kind == Utf8Unit::Kind::kValid) {
      out.append(s.substr(i, unit.length));
    } else {
      out.append(kReplacementUtf8);
    }
    i += unit.length;
  }
  return out;
}

uint32_t DecodeUtf8At(std::string_view s, size_t& i) {
  const auto lead = static_cast<uint8_t>(s[i]);
  const size_t n = Utf8LengthFromLead(lead);
  if (n == 1 || i + n > s.size()) {
    ++i;
    return lead;
  }
  uint32_t cp = lead & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
  i += n;
  return cp;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool IsUnicodeWhitespace(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  switch (cp) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

uint32_t ByteLevelCodepoint(uint8_t byte) { return Table().to_cp[byte]; }

int ByteLevelByte(uint32_t cp) {
  if (cp >= Table().to_byte.size()) return -1;
  return Table().to_byte[cp];
}

bool DecodeByteLevel(std::string_view text, std::string& out) {
  out.clear();
  size_t i = 0;
  while (i < text.size()) {
    const Utf8Unit unit = ScanUtf8(text, i);
    if (unit.kind != Utf8Unit::Kind::kValid) return false;
    const uint32_t cp = DecodeUtf8At(text, i);
    const int byte = ByteLevelByte(cp);
    if (byte < 0) return false;
    out += static_cast<char>(byte);
  }
  return true;
}

}  // namespace autarky
