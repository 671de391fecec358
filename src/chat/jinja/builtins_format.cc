// Python's str.format (through jinja2's sandboxed formatter) and the format-spec mini-language.
#include <cmath>
#include <cstdio>

#include "chat/jinja/builtins.h"
#include "chat/jinja/error.h"
#include "chat/jinja/py_unicode.h"

namespace autarky::chat::jinja {
namespace {

struct Spec {
  std::string fill = " ";
  char align = '\0';  // < > = ^ or none
  char sign = '-';
  bool alternate = false;
  int64_t width = -1;
  char grouping = '\0';
  int64_t precision = -1;
  char type = '\0';
};

Spec ParseSpec(std::string_view s) {
  Spec spec;
  size_t i = 0;
  const auto is_align = [](char c) { return c == '<' || c == '>' || c == '=' || c == '^'; };
  // A fill character is any one character followed by an alignment.
  size_t first_end = 0;
  if (!s.empty()) DecodeUtf8(s, first_end);
  if (first_end < s.size() && is_align(s[first_end])) {
    spec.fill = std::string(s.substr(0, first_end));
    spec.align = s[first_end];
    i = first_end + 1;
  } else if (!s.empty() && is_align(s[0])) {
    spec.align = s[0];
    i = 1;
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-' || s[i] == ' ')) spec.sign = s[i++];
  if (i < s.size() && s[i] == '#') {
    spec.alternate = true;
    ++i;
  }
  if (i < s.size() && s[i] == '0') {
    if (spec.align == '\0') {
      spec.fill = "0";
      spec.align = '=';
    }
    ++i;
  }
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    spec.width = (spec.width < 0 ? 0 : spec.width) * 10 + (s[i++] - '0');
    if (spec.width > 100000) Raise("ValueError", "Too many decimal digits in format string");
  }
  if (i < s.size() && (s[i] == ',' || s[i] == '_')) spec.grouping = s[i++];
  if (i < s.size() && s[i] == '.') {
    ++i;
    spec.precision = 0;
    if (i >= s.size() || s[i] < '0' || s[i] > '9')
      Raise("ValueError", "Format specifier missing precision");
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      spec.precision = spec.precision * 10 + (s[i++] - '0');
      if (spec.precision > 100000) Raise("ValueError", "Too many decimal digits in format string");
    }
  }
  if (i < s.size()) spec.type = s[i++];
  if (i != s.size()) Raise("ValueError", "Invalid format specifier");
  return spec;
}

std::string Group(const std::string& digits, char separator, size_t every) {
  std::string out;
  const size_t n = digits.size();
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && (n - i) % every == 0) out.push_back(separator);
    out.push_back(digits[i]);
  }
  return out;
}

// Pads `body` (after `prefix`, the sign and base prefix) to the spec's width.
std::string Pad(const Spec& spec, const std::string& prefix, const std::string& body,
                char default_align) {
  const char align = spec.align ? spec.align : default_align;
  const int64_t len = static_cast<int64_t>(CodePointCount(prefix) + CodePointCount(body));
  if (spec.width <= len) return prefix + body;
  const int64_t pad = spec.width - len;
  const auto fill = [&](int64_t n) {
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += spec.fill;
    return out;
  };
  switch (align) {
    case '<':
      return prefix + body + fill(pad);
    case '^':
      return fill(pad / 2) + prefix + body + fill(pad - pad / 2);
    case '=':
      return prefix + fill(pad) + body;
    default:
      return fill(pad) + prefix + body;
  }
}

std::string SignPrefix(const Spec& spec, bool negative) {
  if (negative) return "-";
  if (spec.sign == '+') return "+";
  if (spec.sign == ' ') return " ";
  return "";
}

std::string FormatFloatSpec(const Spec& spec, double x) {
  char type = spec.type;
  const bool negative = std::signbit(x) && !std::isnan(x);
  const double a = std::fabs(x);
  std::string body;
  bool percent = false;
  if (type == '%') {
    percent = true;
    type = 'f';
  }
  if (type == 'n') type = 'g';
  if (std::isinf(a) || std::isnan(a)) {
    body = std::isnan(a) ? "nan" : "inf";
    if (type == 'E' || type == 'F' || type == 'G') body = PyUpper(body);
  } else if (type == '\0' && spec.precision < 0) {
    body = FormatFloat(a);
  } else {
    const int64_t precision = spec.precision < 0 ? 6 : spec.precision;
    const char conv = type == '\0' ? 'g' : type;
    std::string fmt = std::string("%") + (spec.alternate ? "#" : "") + "." +
                      std::to_string(conv == 'g' && precision == 0 ? 1 : precision) + conv;
    std::vector<char> buf(static_cast<size_t>(precision) + 400);
    std::snprintf(buf.data(), buf.size(), fmt.c_str(), percent ? a * 100 : a);
    body = buf.data();
    if (type == '\0' && body.find_first_of(".e") == std::string::npos) body += ".0";
  }
  if (spec.grouping != '\0' && std::isfinite(a)) {
    const size_t end = body.find_first_of(".eE");
    const std::string int_part = body.substr(0, end);
    body = Group(int_part, spec.grouping, 3) + (end == std::string::npos ? "" : body.substr(end));
  }
  if (percent) body += "%";
  return Pad(spec, SignPrefix(spec, negative), body, '>');
}

std::string FormatIntSpec(const Spec& spec, int64_t n) {
  if (spec.precision >= 0) Raise("ValueError", "Precision not allowed in integer format specifier");
  const bool negative = n < 0;
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  std::string digits, prefix;
  int base = 10;
  switch (spec.type) {
    case 'b':
      base = 2;
      prefix = "0b";
      break;
    case 'o':
      base = 8;
      prefix = "0o";
      break;
    case 'x':
      base = 16;
      prefix = "0x";
      break;
    case 'X':
      base = 16;
      prefix = "0X";
      break;
    case 'c': {
      std::string ch;
      AppendUtf8(ch, static_cast<uint32_t>(n));
      return Pad(spec, "", ch, '<');
    }
    default:
      break;
  }
  static const char kDigits[] = "0123456789abcdef";
  uint64_t m = magnitude;
  do {
    digits.insert(digits.begin(), kDigits[m % static_cast<uint64_t>(base)]);
    m /= static_cast<uint64_t>(base);
  } while (m > 0);
  if (spec.type == 'X') digits = PyUpper(digits);
  if (spec.grouping != '\0') digits = Group(digits, spec.grouping, base == 10 ? 3 : 4);
  return Pad(spec, SignPrefix(spec, negative) + (spec.alternate ? prefix : ""), digits, '>');
}

std::string FormatValue(const Value& v, std::string_view spec_text) {
  if (v.is_undefined()) {
    if (spec_text.empty()) return "";
    Raise("TypeError", "unsupported format string passed to Undefined.__format__");
  }
  if (spec_text.empty()) return ToStr(v);
  const Spec spec = ParseSpec(spec_text);
  if (v.is_string()) {
    if (spec.type != '\0' && spec.type != 's') {
      Raise("ValueError",
            std::string("Unknown format code '") + spec.type + "' for object of type 'str'");
    }
    if (spec.sign != '-' || spec.align == '=' || spec.alternate) {
      Raise("ValueError", "Sign not allowed in string format specifier");
    }
    std::string s = v.str();
    if (spec.precision >= 0)
      s = s.substr(0, CodePointOffset(s, static_cast<size_t>(spec.precision)));
    return Pad(spec, "", s, '<');
  }
  if (v.is_integral()) {
    switch (spec.type) {
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G':
      case '%':
        return FormatFloatSpec(spec, static_cast<double>(v.int_value()));
      case '\0':
      case 'd':
      case 'n':
      case 'b':
      case 'o':
      case 'x':
      case 'X':
      case 'c':
        return FormatIntSpec(spec, v.int_value());
      default:
        Raise("ValueError",
              std::string("Unknown format code '") + spec.type + "' for object of type 'int'");
    }
  }
  if (v.is_float()) {
    switch (spec.type) {
      case '\0':
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G':
      case 'n':
      case '%':
        return FormatFloatSpec(spec, v.float_value());
      default:
        Raise("ValueError",
              std::string("Unknown format code '") + spec.type + "' for object of type 'float'");
    }
  }
  Raise("TypeError", "unsupported format string passed to " + TypeName(v) + ".__format__");
}

}  // namespace

std::string PyStrFormat(Interpreter& interp, const Value& format, CallArgs& args, int depth) {
  if (depth > 2) Raise("ValueError", "Max string recursion exceeded");
  const std::string& f = format.str();
  const bool markup = format.is_safe();
  std::string out;
  size_t auto_index = 0;
  bool used_auto = false, used_manual = false;
  for (size_t i = 0; i < f.size(); ++i) {
    const char c = f[i];
    if (c == '}') {
      if (i + 1 < f.size() && f[i + 1] == '}') {
        out.push_back('}');
        ++i;
        continue;
      }
      Raise("ValueError", "Single '}' encountered in format string");
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    // Find the matching close brace (the spec may hold nested {fields}).
    size_t j = i + 1;
    int nesting = 1;
    for (; j < f.size(); ++j) {
      if (f[j] == '{') ++nesting;
      if (f[j] == '}' && --nesting == 0) break;
    }
    if (j >= f.size()) Raise("ValueError", "expected '}' before end of string");
    const std::string field = f.substr(i + 1, j - i - 1);
    i = j;
    // field_name[!conversion][:spec]
    size_t name_end = 0;
    while (name_end < field.size() && field[name_end] != '!' && field[name_end] != ':') {
      if (field[name_end] == '[') {
        const size_t close = field.find(']', name_end);
        if (close == std::string::npos) Raise("ValueError", "Missing ']' in format string");
        name_end = close;
      }
      ++name_end;
    }
    const std::string name = field.substr(0, name_end);
    char conversion = '\0';
    std::string spec;
    size_t k = name_end;
    if (k < field.size() && field[k] == '!') {
      if (k + 1 >= field.size())
        Raise("ValueError", "end of string while looking for conversion specifier");
      conversion = field[k + 1];
      k += 2;
      if (k < field.size() && field[k] != ':')
        Raise("ValueError", "expected ':' after conversion specifier");
    }
    if (k < field.size() && field[k] == ':') spec = field.substr(k + 1);
    // The first part: an index, a keyword or empty (automatic numbering).
    size_t first_end = 0;
    while (first_end < name.size() && name[first_end] != '.' && name[first_end] != '[') ++first_end;
    const std::string first = name.substr(0, first_end);
    Value value;
    if (first.empty() || PyAll(first, IsPyDecimal)) {
      size_t index = 0;
      if (first.empty()) {
        if (used_manual)
          Raise("ValueError",
                "cannot switch from manual field specification to automatic field numbering");
        used_auto = true;
        index = auto_index++;
      } else {
        if (used_auto)
          Raise("ValueError",
                "cannot switch from automatic field numbering to manual field specification");
        used_manual = true;
        index = static_cast<size_t>(*ParsePyInt(first, 10));
      }
      if (index >= args.positional.size()) {
        Raise("IndexError", "Replacement index " + std::to_string(index) +
                                " out of range for positional args tuple");
      }
      value = args.positional[index];
    } else {
      bool found = false;
      for (const auto& [key, v] : args.keyword) {
        if (key == first) {
          value = v;
          found = true;
        }
      }
      if (!found) Raise("KeyError", "'" + first + "'");
    }
    // .attr and [key] parts, through the sandbox.
    for (size_t p = first_end; p < name.size();) {
      if (name[p] == '.') {
        size_t q = p + 1;
        while (q < name.size() && name[q] != '.' && name[q] != '[') ++q;
        value = interp.GetAttr(value, name.substr(p + 1, q - p - 1));
        p = q;
      } else {
        const size_t close = name.find(']', p);
        const std::string key = name.substr(p + 1, close - p - 1);
        value = interp.GetItem(value, PyAll(key, IsPyDecimal) && IsAscii(key)
                                          ? Value::Int(*ParsePyInt(key, 10))
                                          : Value::String(key));
        p = close + 1;
      }
    }
    if (conversion == 'r' || conversion == 'a') {
      value = Value::String(Repr(value));
    } else if (conversion == 's') {
      value = Value::String(ToStr(value));
    } else if (conversion != '\0') {
      Raise("ValueError", std::string("Unknown conversion specifier ") + conversion);
    }
    if (spec.find('{') != std::string::npos) {
      CallArgs nested = args;
      spec = PyStrFormat(interp, Value::String(spec), nested, depth + 1);
    }
    std::string piece = FormatValue(value, spec);
    if (markup && !(value.is_string() && value.is_safe())) piece = HtmlEscape(piece);
    out += piece;
    interp.CheckSize(out.size());
  }
  return out;
}

}  // namespace autarky::chat::jinja
