// The Jinja lexer (see lexer.h). It follows jinja2's rules closely because whitespace
// handling decides the rendered bytes: `-` strips all whitespace beside a tag, lstrip_blocks
// strips spaces before a block or comment tag that starts a line, trim_blocks removes the
// first newline after one, and inside tags an end delimiter counts only when brackets are
// balanced ({{ {'a': 1}}} ends at the last two braces).
#include "chat/jinja/lexer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "chat/jinja/error.h"
#include "chat/jinja/py_unicode.h"

namespace autarky::chat::jinja {
namespace {

constexpr size_t kNpos = std::string_view::npos;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

struct OpSpelling {
  std::string_view text;
  Op op;
};

// Longest first, as jinja2 sorts its operator regex.
constexpr OpSpelling kOperators[] = {
    {"//", Op::kFloorDiv}, {"**", Op::kPow},      {"==", Op::kEq},    {"!=", Op::kNe},
    {">=", Op::kGtEq},     {"<=", Op::kLtEq},     {"+", Op::kAdd},    {"-", Op::kSub},
    {"/", Op::kDiv},       {"*", Op::kMul},       {"%", Op::kMod},    {"~", Op::kTilde},
    {"[", Op::kLBracket},  {"]", Op::kRBracket},  {"(", Op::kLParen}, {")", Op::kRParen},
    {"{", Op::kLBrace},    {"}", Op::kRBrace},    {">", Op::kGt},     {"<", Op::kLt},
    {"=", Op::kAssign},    {".", Op::kDot},       {":", Op::kColon},  {"|", Op::kPipe},
    {",", Op::kComma},     {";", Op::kSemicolon},
};

class Lexer {
 public:
  explicit Lexer(std::string_view source) {
    // Every line break becomes "\n" and one trailing newline is dropped (jinja2's default
    // keep_trailing_newline=False).
    src_.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\r') {
        src_.push_back('\n');
        if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
      } else {
        src_.push_back(source[i]);
      }
    }
    if (!src_.empty() && src_.back() == '\n') src_.pop_back();
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::vector<Token> Run() {
    CheckUtf8();
    while (pos_ < src_.size()) LexRoot();
    Token eof;
    eof.type = TokenType::kEof;
    SetPosition(eof, src_.size());
    tokens_.push_back(std::move(eof));
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void Fail(size_t offset, const std::string& message) {
    int line = 0, column = 0;
    Position(offset, line, column);
    throw TemplateError("TemplateSyntaxError: " + message, line, column);
  }

  void Position(size_t offset, int& line, int& column) {
    offset = std::min(offset, src_.size());
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    const size_t index = static_cast<size_t>(it - line_starts_.begin()) - 1;
    line = static_cast<int>(index + 1);
    // Tokens come in order: count characters on from the previous position when it is on the
    // same line, so that a long one-line template costs linear time, not quadratic.
    size_t from = line_starts_[index];
    int64_t count = 0;
    if (cursor_line_ == index && cursor_offset_ <= offset) {
      from = cursor_offset_;
      count = cursor_column_;
    }
    count +=
        static_cast<int64_t>(CodePointCount(std::string_view(src_).substr(from, offset - from)));
    cursor_line_ = index;
    cursor_offset_ = offset;
    cursor_column_ = count;
    column = static_cast<int>(std::min<int64_t>(count + 1, INT32_MAX));
  }

  void SetPosition(Token& token, size_t offset) { Position(offset, token.line, token.column); }

  void CheckUtf8() {
    for (size_t i = 0; i < src_.size();) {
      const size_t start = i;
      const uint32_t cp = DecodeUtf8(src_, i);
      if (cp >= 0xDC80 && cp <= 0xDCFF && static_cast<uint8_t>(src_[start]) >= 0x80) {
        Fail(start, "the template is not valid UTF-8 (byte " + std::to_string(start) + ")");
      }
    }
  }

  bool At(size_t p, std::string_view s) const { return src_.compare(p, s.size(), s) == 0; }

  size_t SkipSpace(size_t p) const {
    while (p < src_.size()) {
      size_t next = p;
      if (!IsPySpace(DecodeUtf8(src_, next))) break;
      p = next;
    }
    return p;
  }

  void EmitData(size_t offset, std::string_view text) {
    if (text.empty()) return;
    Token token;
    token.type = TokenType::kData;
    token.text = std::string(text);
    SetPosition(token, offset);
    tokens_.push_back(std::move(token));
  }

  void EmitSimple(TokenType type, size_t offset) {
    Token token;
    token.type = type;
    SetPosition(token, offset);
    tokens_.push_back(std::move(token));
  }

  // Text before a tag, after the tag's whitespace control: '-' strips all trailing
  // whitespace; otherwise lstrip_blocks removes the spaces between the last newline (or the
  // start of a line) and a block or comment tag, if only spaces are there.
  std::string_view StripBeforeTag(std::string_view text, char sign, bool lstrip_applies) const {
    if (sign == '-') return PyStrip(text, std::nullopt, false, true);
    if (sign == '+' || !lstrip_applies) return text;
    const size_t newline = text.rfind('\n');
    const size_t l_pos = newline == kNpos ? 0 : newline + 1;
    if (l_pos == 0 && !line_starting_) return text;
    const std::string_view tail = text.substr(l_pos);
    if (tail.empty() || !PyStrip(tail, std::nullopt, true, false).empty()) return text;
    return text.substr(0, l_pos);
  }

  // `{%[-+]? raw [-]%}` at p: the end of the match, or kNpos.
  size_t MatchRawBegin(size_t p) const {
    p += 2;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
    p = SkipSpace(p);
    if (!At(p, "raw")) return kNpos;
    p = SkipSpace(p + 3);
    if (At(p, "-%}")) return SkipSpace(p + 3);
    if (At(p, "%}")) return p + 2;
    return kNpos;
  }

  void LexRoot() {
    size_t k = pos_;
    for (;; ++k) {
      k = src_.find('{', k);
      if (k == kNpos || k + 1 >= src_.size()) {
        k = kNpos;
        break;
      }
      const char c = src_[k + 1];
      if (c == '{' || c == '%' || c == '#') break;
    }
    if (k == kNpos) {
      EmitData(pos_, std::string_view(src_).substr(pos_));
      pos_ = src_.size();
      return;
    }
    const char kind = src_[k + 1];
    const char sign =
        k + 2 < src_.size() && (src_[k + 2] == '-' || src_[k + 2] == '+') ? src_[k + 2] : '\0';
    const size_t raw_end = kind == '%' ? MatchRawBegin(k) : kNpos;
    const std::string_view text = std::string_view(src_).substr(pos_, k - pos_);
    EmitData(pos_, StripBeforeTag(text, sign, kind != '{'));
    if (raw_end != kNpos) {
      line_starting_ = src_[raw_end - 1] == '\n';
      LexRaw(k, raw_end);
      return;
    }
    line_starting_ = false;
    const size_t after = k + 2 + (sign != '\0' ? 1 : 0);
    if (kind == '#') {
      LexComment(k, after);
    } else {
      LexTag(kind == '%', k, after);
    }
  }

  void LexComment(size_t begin, size_t p) {
    for (; p < src_.size(); ++p) {
      size_t end = kNpos;
      if (At(p, "+#}")) {
        end = p + 3;
      } else if (At(p, "-#}")) {
        end = SkipSpace(p + 3);
      } else if (At(p, "#}")) {
        end = p + 2;
        if (end < src_.size() && src_[end] == '\n') ++end;  // trim_blocks
      }
      if (end != kNpos) {
        line_starting_ = src_[end - 1] == '\n';
        pos_ = end;
        return;
      }
    }
    Fail(begin, "Missing end of comment tag");
  }

  void LexRaw(size_t begin, size_t p) {
    for (size_t j = p; j < src_.size(); ++j) {
      if (!At(j, "{%")) continue;
      size_t q = j + 2;
      char sign = '\0';
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
      q = SkipSpace(q);
      if (!At(q, "endraw")) continue;
      q = SkipSpace(q + 6);
      size_t end = kNpos;
      if (At(q, "+%}")) {
        end = q + 3;
      } else if (At(q, "-%}")) {
        end = SkipSpace(q + 3);
      } else if (At(q, "%}")) {
        end = q + 2;
        if (end < src_.size() && src_[end] == '\n') ++end;
      }
      if (end == kNpos) continue;
      EmitData(p, StripBeforeTag(std::string_view(src_).substr(p, j - p), sign, true));
      line_starting_ = src_[end - 1] == '\n';
      pos_ = end;
      return;
    }
    Fail(begin, "Missing end of raw directive");
  }

  // End of `(\d+_)*\d+` at p (digits, single underscores between them), or kNpos.
  size_t DigitGroups(size_t p) const {
    if (p >= src_.size() || !IsDigit(src_[p])) return kNpos;
    while (p < src_.size() && IsDigit(src_[p])) ++p;
    while (p + 1 < src_.size() && src_[p] == '_' && IsDigit(src_[p + 1])) {
      ++p;
      while (p < src_.size() && IsDigit(src_[p])) ++p;
    }
    return p;
  }

  size_t Exponent(size_t p) const {
    if (p >= src_.size() || (src_[p] != 'e' && src_[p] != 'E')) return kNpos;
    ++p;
    if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
    return DigitGroups(p);
  }

  size_t MatchFloat(size_t p) const {
    if (p > 0 && src_[p - 1] == '.') return kNpos;
    const size_t int_end = DigitGroups(p);
    if (int_end == kNpos) return kNpos;
    if (int_end < src_.size() && src_[int_end] == '.') {
      const size_t frac_end = DigitGroups(int_end + 1);
      if (frac_end != kNpos) {
        const size_t exp_end = Exponent(frac_end);
        if (exp_end != kNpos) return exp_end;
      }
    }
    const size_t exp_end = Exponent(int_end);
    if (exp_end != kNpos) return exp_end;
    if (int_end < src_.size() && src_[int_end] == '.') return DigitGroups(int_end + 1);
    return kNpos;
  }

  // End of `(_?[digit])+` at p for the given digit class, or kNpos.
  size_t PrefixedDigits(size_t p, int base) const {
    const auto is_digit = [base](char c) {
      if (base == 2) return c == '0' || c == '1';
      if (base == 8) return c >= '0' && c <= '7';
      return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    };
    size_t end = kNpos;
    while (p < src_.size()) {
      size_t q = p;
      if (src_[q] == '_') ++q;
      if (q >= src_.size() || !is_digit(src_[q])) break;
      p = end = q + 1;
    }
    return end;
  }

  size_t MatchInteger(size_t p, int& base) const {
    base = 10;
    if (p + 1 < src_.size() && src_[p] == '0') {
      const char x = static_cast<char>(src_[p + 1] | 0x20);
      const int prefixed = x == 'b' ? 2 : (x == 'o' ? 8 : (x == 'x' ? 16 : 0));
      if (prefixed != 0) {
        const size_t end = PrefixedDigits(p + 2, prefixed);
        if (end != kNpos) {
          base = prefixed;
          return end;
        }
      }
    }
    if (p >= src_.size() || !IsDigit(src_[p])) return kNpos;
    const char zero_or_digit = src_[p] == '0' ? '0' : '\0';
    size_t q = p + 1;
    while (q < src_.size()) {
      size_t r = q;
      if (src_[r] == '_') ++r;
      if (r >= src_.size() || !IsDigit(src_[r]) || (zero_or_digit && src_[r] != '0')) break;
      q = r + 1;
    }
    return q;
  }

  size_t MatchName(size_t p) const {
    size_t q = p;
    while (q < src_.size()) {
      const char c = src_[q];
      if (IsAsciiAlpha(c) || IsDigit(c) || c == '_') {
        ++q;
        continue;
      }
      if (static_cast<uint8_t>(c) < 0x80) break;
      size_t next = q;
      if (!IsPyAlnum(DecodeUtf8(src_, next))) break;
      q = next;
    }
    return q == p ? kNpos : q;
  }

  void LexTag(bool block, size_t begin, size_t p) {
    EmitSimple(block ? TokenType::kBlockBegin : TokenType::kVariableBegin, begin);
    std::vector<char> balancing;
    while (p < src_.size()) {
      if (balancing.empty()) {
        size_t end = kNpos;
        if (block) {
          if (At(p, "+%}")) {
            end = p + 3;
          } else if (At(p, "-%}")) {
            end = SkipSpace(p + 3);
          } else if (At(p, "%}")) {
            end = p + 2;
            if (end < src_.size() && src_[end] == '\n') ++end;  // trim_blocks
          }
        } else if (At(p, "-}}")) {
          end = SkipSpace(p + 3);
        } else if (At(p, "}}")) {
          end = p + 2;
        }
        if (end != kNpos) {
          EmitSimple(block ? TokenType::kBlockEnd : TokenType::kVariableEnd, p);
          line_starting_ = src_[end - 1] == '\n';
          pos_ = end;
          return;
        }
      }
      const size_t space_end = SkipSpace(p);
      if (space_end != p) {
        line_starting_ = src_[space_end - 1] == '\n';
        p = space_end;
        continue;
      }
      p = LexTagToken(p, balancing);
    }
    pos_ = src_.size();  // the template ends inside a tag: the parser reports it
  }

  // Lexes one number, name, string or operator at p and returns the position after it.
  size_t LexTagToken(size_t p, std::vector<char>& balancing) {
    Token token;
    SetPosition(token, p);
    size_t end = MatchFloat(p);
    int base = 10;
    if (end != kNpos) {
      token.type = TokenType::kFloat;
      token.float_value = ParseFloat(p, end);
    } else if ((end = MatchInteger(p, base)) != kNpos) {
      token.type = TokenType::kInteger;
      token.int_value = ParseInteger(p, end, base);
    } else if ((end = MatchName(p)) != kNpos) {
      token.type = TokenType::kName;
      token.text = src_.substr(p, end - p);
      size_t first = 0;
      const uint32_t cp = DecodeUtf8(token.text, first);
      if (cp < 0x80 ? IsDigit(static_cast<char>(cp)) : !IsPyAlpha(cp)) {
        Fail(p, "Invalid character in identifier");
      }
    } else if (src_[p] == '\'' || src_[p] == '"') {
      end = MatchString(p);
      if (end == kNpos) Fail(p, std::string("unexpected char '") + src_[p] + "'");
      token.type = TokenType::kString;
      token.text = DecodeString(p + 1, end - 1);
    } else {
      for (const OpSpelling& spelling : kOperators) {
        if (At(p, spelling.text)) {
          token.type = TokenType::kOperator;
          token.op = spelling.op;
          end = p + spelling.text.size();
          break;
        }
      }
      if (end == kNpos) {
        size_t next = p;
        const uint32_t cp = DecodeUtf8(src_, next);
        std::string shown;
        AppendUtf8(shown, cp);
        Fail(p, "unexpected char '" + shown + "'");
      }
      Balance(token.op, p, balancing);
    }
    tokens_.push_back(std::move(token));
    return end;
  }

  void Balance(Op op, size_t p, std::vector<char>& balancing) {
    switch (op) {
      case Op::kLBrace:
        balancing.push_back('}');
        return;
      case Op::kLParen:
        balancing.push_back(')');
        return;
      case Op::kLBracket:
        balancing.push_back(']');
        return;
      case Op::kRBrace:
      case Op::kRParen:
      case Op::kRBracket: {
        const char c = src_[p];
        if (balancing.empty()) Fail(p, std::string("unexpected '") + c + "'");
        const char expected = balancing.back();
        balancing.pop_back();
        if (expected != c) {
          Fail(p, std::string("unexpected '") + c + "', expected '" + expected + "'");
        }
        return;
      }
      default:
        return;
    }
  }

  size_t MatchString(size_t p) const {
    const char quote = src_[p];
    for (size_t q = p + 1; q < src_.size(); ++q) {
      if (src_[q] == '\\') {
        ++q;
      } else if (src_[q] == quote) {
        return q + 1;
      }
    }
    return kNpos;
  }

  double ParseFloat(size_t p, size_t end) const {
    std::string text;
    for (size_t i = p; i < end; ++i) {
      if (src_[i] != '_') text.push_back(src_[i]);
    }
    double value = 0;
    const auto res = std::from_chars(text.data(), text.data() + text.size(), value);
    if (res.ec == std::errc::result_out_of_range) {
      // Python reads an overflowing literal as inf and an underflowing one as 0.0.
      const size_t e = text.find_first_of("eE");
      const bool negative_exponent = e != std::string::npos && text[e + 1] == '-';
      value = negative_exponent ? 0.0 : std::numeric_limits<double>::infinity();
    }
    return value;
  }

  int64_t ParseInteger(size_t p, size_t end, int base) {
    uint64_t value = 0;
    for (size_t i = p + (base == 10 ? 0 : 2); i < end; ++i) {
      const char c = src_[i];
      if (c == '_') continue;
      const int digit = IsDigit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
      if (value > (static_cast<uint64_t>(INT64_MAX) - static_cast<uint64_t>(digit)) /
                      static_cast<uint64_t>(base)) {
        Fail(p, "integer literal too large (autarky's Jinja has 64-bit integers)");
      }
      value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(digit);
    }
    return static_cast<int64_t>(value);
  }

  // Decodes the body of a string literal as jinja2 does: non-ASCII characters are first
  // written as \x, \u or \U escapes and the result is decoded with Python's
  // "unicode-escape" codec (so '\é' reads as the four characters \xe9, like in jinja2).
  std::string DecodeString(size_t begin, size_t end) {
    std::string ascii;
    const std::string_view body = std::string_view(src_).substr(begin, end - begin);
    for (size_t i = 0; i < body.size();) {
      const uint32_t cp = DecodeUtf8(body, i);
      if (cp < 0x80) {
        ascii.push_back(static_cast<char>(cp));
        continue;
      }
      char buf[16];
      if (cp <= 0xFF) {
        std::snprintf(buf, sizeof(buf), "\\x%02x", cp);
      } else if (cp <= 0xFFFF) {
        std::snprintf(buf, sizeof(buf), "\\u%04x", cp);
      } else {
        std::snprintf(buf, sizeof(buf), "\\U%08x", cp);
      }
      ascii += buf;
    }
    std::string out;
    for (size_t i = 0; i < ascii.size(); ++i) {
      const char c = ascii[i];
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i + 1 >= ascii.size()) Fail(begin, "\\ at end of string");
      const char e = ascii[++i];
      switch (e) {
        case '\n':
          break;
        case '\\':
        case '\'':
        case '"':
          out.push_back(e);
          break;
        case 'a':
          out.push_back('\a');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'v':
          out.push_back('\v');
          break;
        case 'x':
        case 'u':
        case 'U': {
          const size_t n = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
          uint32_t cp = 0;
          for (size_t k = 0; k < n; ++k) {
            const size_t at = i + 1 + k;
            const char h = at < ascii.size() ? ascii[at] : '\0';
            int digit = -1;
            if (IsDigit(h)) digit = h - '0';
            if ((h | 0x20) >= 'a' && (h | 0x20) <= 'f') digit = (h | 0x20) - 'a' + 10;
            if (digit < 0) {
              Fail(begin, std::string("truncated \\") + e + std::string(n, 'X') + " escape");
            }
            cp = cp * 16 + static_cast<uint32_t>(digit);
          }
          i += n;
          if (cp > 0x10FFFF) Fail(begin, "illegal Unicode character");
          if (cp >= 0xD800 && cp <= 0xDFFF) {
            Fail(begin, "a lone surrogate escape cannot be rendered as UTF-8");
          }
          AppendUtf8(out, cp);
          break;
        }
        case 'N':
          Fail(begin, "\\N{...} escapes are not supported");
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int k = 0;
                 k < 2 && i + 1 < ascii.size() && ascii[i + 1] >= '0' && ascii[i + 1] <= '7'; ++k) {
              cp = cp * 8 + static_cast<uint32_t>(ascii[++i] - '0');
            }
            AppendUtf8(out, cp);
          } else {
            out.push_back('\\');  // unknown escapes stay as written
            out.push_back(e);
          }
      }
    }
    return out;
  }

  std::string src_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  // The last position computed (see Position).
  size_t cursor_line_ = SIZE_MAX, cursor_offset_ = 0;
  int64_t cursor_column_ = 0;
};

}  // namespace

std::string_view OpText(Op op) {
  for (const OpSpelling& spelling : kOperators) {
    if (spelling.op == op) return spelling.text;
  }
  return "?";
}

std::vector<Token> Tokenize(std::string_view source) { return Lexer(source).Run(); }

}  // namespace autarky::chat::jinja
