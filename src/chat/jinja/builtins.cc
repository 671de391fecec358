// Helpers shared by the builtin filters, tests, methods and globals (see builtins.h).
#include "chat/jinja/builtins.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "chat/jinja/error.h"
#include "chat/jinja/operators.h"
#include "chat/jinja/py_unicode.h"

namespace autarky::chat::jinja {
namespace {

class FunctionObject : public Object {
 public:
  FunctionObject(std::string name, NativeBody body, std::string type_name)
      : name_(std::move(name)), body_(std::move(body)), type_name_(std::move(type_name)) {}
  std::string TypeName() const override { return type_name_; }
  bool IsCallable() const override { return true; }
  Value Call(Interpreter& interp, CallArgs& args) override { return body_(interp, args); }
  std::string Repr() const override { return "<built-in " + type_name_ + " " + name_ + ">"; }

 private:
  std::string name_;
  NativeBody body_;
  std::string type_name_;
};

std::string_view StripPySpace(std::string_view s) { return PyStrip(s, std::nullopt, true, true); }

bool IsDigitIn(char c, int base) {
  int d = -1;
  if (c >= '0' && c <= '9') d = c - '0';
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') d = (c | 0x20) - 'a' + 10;
  return d >= 0 && d < base;
}

// Digits with single underscores between them (Python's numeric literal rule); the cleaned
// digits, or nullopt.
std::optional<std::string> DigitPart(std::string_view s, int base, bool allow_leading_underscore) {
  std::string out;
  size_t i = 0;
  if (allow_leading_underscore && i < s.size() && s[i] == '_') ++i;
  if (i >= s.size() || !IsDigitIn(s[i], base)) return std::nullopt;
  out.push_back(s[i++]);
  while (i < s.size()) {
    if (s[i] == '_') ++i;
    if (i >= s.size() || !IsDigitIn(s[i], base)) return std::nullopt;
    out.push_back(s[i++]);
  }
  return out;
}

}  // namespace

std::vector<Value> BindArgs(std::string_view function, CallArgs& args,
                            std::initializer_list<Param> params) {
  const std::string fn(function);
  std::vector<std::optional<Value>> bound(params.size());
  if (args.positional.size() > params.size()) {
    Raise("TypeError", fn + "() takes at most " + std::to_string(params.size()) + " argument(s) (" +
                           std::to_string(args.positional.size()) + " given)");
  }
  for (size_t i = 0; i < args.positional.size(); ++i) bound[i] = args.positional[i];
  for (auto& [name, value] : args.keyword) {
    size_t index = 0;
    for (const Param& p : params) {
      if (p.name == name) break;
      ++index;
    }
    if (index == params.size()) {
      Raise("TypeError", fn + "() got an unexpected keyword argument '" + name + "'");
    }
    if (bound[index]) Raise("TypeError", fn + "() got multiple values for argument '" + name + "'");
    bound[index] = value;
  }
  std::vector<Value> out;
  out.reserve(params.size());
  size_t i = 0;
  for (const Param& p : params) {
    if (bound[i]) {
      out.push_back(std::move(*bound[i]));
    } else if (p.default_value) {
      out.push_back(*p.default_value);
    } else {
      Raise("TypeError", fn + "() missing required argument '" + std::string(p.name) + "'");
    }
    ++i;
  }
  return out;
}

Value MakeFunction(std::string name, NativeBody body, std::string type_name) {
  return Value::FromObject(
      std::make_shared<FunctionObject>(std::move(name), std::move(body), std::move(type_name)));
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

int64_t ExpectInt(const Value& v, std::string_view what) {
  if (v.is_integral()) return v.int_value();
  if (v.is_undefined()) RaiseUndefined(v);
  Raise("TypeError", "'" + TypeName(v) + "' object cannot be interpreted as an integer (" +
                         std::string(what) + ")");
}

std::optional<int64_t> ParsePyInt(std::string_view text, int base) {
  std::string_view s = StripPySpace(text);
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  bool prefixed = false;
  if (s.size() >= 2 && s[0] == '0') {
    const char x = static_cast<char>(s[1] | 0x20);
    const int prefix_base = x == 'x' ? 16 : (x == 'o' ? 8 : (x == 'b' ? 2 : 0));
    if (prefix_base != 0 && (base == 0 || base == prefix_base)) {
      base = prefix_base;
      s.remove_prefix(2);
      prefixed = true;
    }
  }
  if (base == 0) {
    // Base 0 without a prefix: decimal, and no leading zeros unless all zeros.
    base = 10;
    if (s.size() > 1 && s[0] == '0' && s.find_first_not_of("0_") != std::string_view::npos) {
      return std::nullopt;
    }
  }
  if (base < 2 || base > 36) Raise("ValueError", "int() base must be >= 2 and <= 36, or 0");
  const std::optional<std::string> digits = DigitPart(s, base, prefixed);
  if (!digits) return std::nullopt;
  uint64_t value = 0;
  for (char c : *digits) {
    const int d = (c >= '0' && c <= '9') ? c - '0' : (c | 0x20) - 'a' + 10;
    if (value > (static_cast<uint64_t>(INT64_MAX) + 1 - static_cast<uint64_t>(d)) /
                    static_cast<uint64_t>(base)) {
      Raise("OverflowError", "integer too large (autarky's Jinja has 64-bit integers)");
    }
    value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  if (!negative && value > static_cast<uint64_t>(INT64_MAX)) {
    Raise("OverflowError", "integer too large (autarky's Jinja has 64-bit integers)");
  }
  return negative ? static_cast<int64_t>(0 - value) : static_cast<int64_t>(value);
}

std::optional<double> ParsePyFloat(std::string_view text) {
  std::string_view s = StripPySpace(text);
  std::string clean;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    clean.push_back(s[0]);
    s.remove_prefix(1);
  }
  std::string lower = PyLower(s);
  if (lower == "inf" || lower == "infinity") {
    return clean == "-" ? -HUGE_VAL : HUGE_VAL;
  }
  if (lower == "nan") return std::nan("");
  // digitpart ["." [digitpart]] | "." digitpart, then an optional exponent.
  const size_t e = lower.find('e');
  const std::string_view mantissa = std::string_view(lower).substr(0, e);
  const size_t dot = mantissa.find('.');
  const std::string_view int_part = mantissa.substr(0, dot);
  const std::string_view frac_part =
      dot == std::string_view::npos ? std::string_view() : mantissa.substr(dot + 1);
  std::optional<std::string> int_digits, frac_digits;
  if (!int_part.empty()) {
    int_digits = DigitPart(int_part, 10, false);
    if (!int_digits) return std::nullopt;
  }
  if (!frac_part.empty()) {
    frac_digits = DigitPart(frac_part, 10, false);
    if (!frac_digits) return std::nullopt;
  }
  if (!int_digits && !frac_digits) return std::nullopt;
  clean += int_digits.value_or("0");
  if (frac_digits) clean += "." + *frac_digits;
  if (e != std::string::npos) {
    std::string_view exp = std::string_view(lower).substr(e + 1);
    clean += 'e';
    if (!exp.empty() && (exp[0] == '+' || exp[0] == '-')) {
      clean.push_back(exp[0]);
      exp.remove_prefix(1);
    }
    const std::optional<std::string> exp_digits = DigitPart(exp, 10, false);
    if (!exp_digits) return std::nullopt;
    clean += *exp_digits;
  }
  return std::strtod(clean.c_str(), nullptr);
}

double PyRound(double x, int64_t ndigits) {
  if (!std::isfinite(x) || x == 0) return x;
  // Beyond these the result is x itself, or a zero of x's sign (CPython's bounds).
  if (ndigits > 323) return x;
  if (ndigits < -308) return 0.0 * x;
  // The exact decimal expansion of |x| (glibc prints doubles exactly), rounded half to even
  // at `ndigits` places after the point, as CPython's correctly rounded dtoa does.
  char buf[1500];
  std::snprintf(buf, sizeof(buf), "%.1100f", std::fabs(x));
  std::string digits(buf);
  const size_t point = digits.find('.');
  std::string all = digits.substr(0, point) + digits.substr(point + 1);
  const int64_t int_len = static_cast<int64_t>(point);
  const int64_t keep = int_len + ndigits;  // digits kept from the start of `all`
  if (keep < 0) return 0.0 * x;
  std::string kept = all.substr(0, static_cast<size_t>(keep));
  const std::string rest = all.substr(static_cast<size_t>(keep));
  bool round_up = false;
  if (!rest.empty()) {
    if (rest[0] > '5') {
      round_up = true;
    } else if (rest[0] == '5') {
      const bool exact_half = rest.find_first_not_of('0', 1) == std::string::npos;
      const int last = kept.empty() ? 0 : kept.back() - '0';
      round_up = !exact_half || (last % 2 == 1);
    }
  }
  if (kept.empty()) kept = "0";
  if (round_up) {
    int i = static_cast<int>(kept.size()) - 1;
    while (i >= 0 && kept[static_cast<size_t>(i)] == '9') kept[static_cast<size_t>(i--)] = '0';
    if (i < 0) {
      kept.insert(kept.begin(), '1');
    } else {
      ++kept[static_cast<size_t>(i)];
    }
  }
  std::string text = kept + "e" + std::to_string(-ndigits);
  const double result = std::strtod(text.c_str(), nullptr);
  return x < 0 ? -result : result;
}

namespace {

std::string PadToWidth(std::string s, int64_t width, bool left_align, char fill) {
  const int64_t len = static_cast<int64_t>(CodePointCount(s));
  if (width <= len) return s;
  const std::string pad(static_cast<size_t>(width - len), fill);
  return left_align ? s + pad : pad + s;
}

}  // namespace

std::string PercentFormat(Interpreter& interp, const Value& format, const Value& args) {
  const std::string& fmt = format.str();
  const bool markup = format.is_safe();
  std::vector<Value> positional;
  const bool is_tuple = args.is_list() && args.seq_kind() == SeqKind::kTuple;
  if (is_tuple) {
    positional = args.list().items;
  } else {
    positional.push_back(args);
  }
  size_t next = 0;
  bool used_mapping = false;
  const auto take = [&]() -> Value {
    if (next >= positional.size()) Raise("TypeError", "not enough arguments for format string");
    return positional[next++];
  };
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out.push_back(fmt[i]);
      continue;
    }
    if (++i >= fmt.size()) Raise("ValueError", "incomplete format");
    std::optional<Value> mapped;
    if (fmt[i] == '(') {
      const size_t close = fmt.find(')', i);
      if (close == std::string::npos) Raise("ValueError", "incomplete format key");
      if (!args.is_dict()) Raise("TypeError", "format requires a mapping");
      const Value* v = args.dict().Find(std::string_view(fmt).substr(i + 1, close - i - 1));
      if (v == nullptr) {
        Raise("KeyError", "'" + fmt.substr(i + 1, close - i - 1) + "'");
      }
      mapped = *v;
      used_mapping = true;
      i = close + 1;
    }
    std::string flags;
    while (i < fmt.size() && std::string_view("-+ #0").find(fmt[i]) != std::string_view::npos) {
      flags.push_back(fmt[i++]);
    }
    int64_t width = -1, precision = -1;
    if (i < fmt.size() && fmt[i] == '*') {
      width = ExpectInt(take(), "* wants int");
      ++i;
    } else {
      while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') {
        width = (width < 0 ? 0 : width) * 10 + (fmt[i++] - '0');
        if (width > 100000) Raise("ValueError", "width too big");
      }
    }
    if (i < fmt.size() && fmt[i] == '.') {
      ++i;
      precision = 0;
      if (i < fmt.size() && fmt[i] == '*') {
        precision = ExpectInt(take(), "* wants int");
        ++i;
      } else {
        while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') {
          precision = precision * 10 + (fmt[i++] - '0');
          if (precision > 100000) Raise("ValueError", "precision too big");
        }
      }
    }
    while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
    if (i >= fmt.size()) Raise("ValueError", "incomplete format");
    const char conv = fmt[i];
    if (conv == '%') {
      out.push_back('%');
      continue;
    }
    const Value arg = mapped ? *mapped : take();
    const bool left = flags.find('-') != std::string::npos;
    std::string piece;
    switch (conv) {
      case 's':
      case 'r':
      case 'a': {
        std::string text = conv == 's' ? ToStr(arg) : Repr(arg);
        if (markup && !(conv == 's' && arg.is_string() && arg.is_safe())) text = HtmlEscape(text);
        if (precision >= 0) {
          text = text.substr(0, CodePointOffset(text, static_cast<size_t>(precision)));
        }
        piece = PadToWidth(std::move(text), width, left, ' ');
        break;
      }
      case 'd':
      case 'i':
      case 'u':
      case 'o':
      case 'x':
      case 'X':
      case 'c': {
        if (!arg.is_number()) {
          if (conv == 'c' && arg.is_string() && CodePointCount(arg.str()) == 1) {
            piece = PadToWidth(arg.str(), width, left, ' ');
            break;
          }
          Raise("TypeError", std::string("%") + conv + " format: a real number is required, not " +
                                 TypeName(arg));
        }
        if (arg.is_float() && conv != 'd' && conv != 'i' && conv != 'u') {
          Raise("TypeError",
                std::string("%") + conv + " format: an integer is required, not float");
        }
        const double f = arg.AsDouble();
        if (arg.is_float() && !std::isfinite(f)) {
          Raise("OverflowError", "cannot convert float infinity or NaN to integer");
        }
        const int64_t n = arg.is_float() ? static_cast<int64_t>(f) : arg.int_value();
        if (conv == 'c') {
          std::string ch;
          AppendUtf8(ch, static_cast<uint32_t>(n));
          piece = PadToWidth(ch, width, left, ' ');
          break;
        }
        std::string spec = "%" + flags;
        if (width >= 0) spec += std::to_string(width);
        if (precision >= 0) spec += "." + std::to_string(precision);
        spec += "ll";
        spec += (conv == 'i' || conv == 'u') ? 'd' : conv;
        char buf[256];
        std::snprintf(buf, sizeof(buf), spec.c_str(), static_cast<long long>(n));
        piece = buf;
        // Python writes an alternate-form octal as 0o17 (C writes 017).
        if (conv == 'o' && flags.find('#') != std::string::npos) {
          const size_t at = piece.find_first_of("01234567");
          if (at != std::string::npos && piece[at] == '0') piece.insert(at + 1, "o");
        }
        break;
      }
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G': {
        if (!arg.is_number()) {
          Raise("TypeError", "must be real number, not " + TypeName(arg));
        }
        std::string spec = "%" + flags;
        if (width >= 0) spec += std::to_string(width);
        spec += "." + std::to_string(precision >= 0 ? precision : 6);
        spec += conv;
        std::vector<char> buf(static_cast<size_t>(std::max<int64_t>(width, 0)) +
                              static_cast<size_t>(std::max<int64_t>(precision, 6)) + 400);
        std::snprintf(buf.data(), buf.size(), spec.c_str(), arg.AsDouble());
        piece = buf.data();
        break;
      }
      default:
        Raise("ValueError", std::string("unsupported format character '") + conv + "'");
    }
    interp.CheckSize(out.size() + piece.size());
    out += piece;
  }
  // Python skips this check when the single argument is a mapping or any other non-tuple
  // sequence (it has __getitem__): '%s' % [1] and 'x' % {'a': 1} are fine.
  const bool mapping_like = !is_tuple && (args.is_dict() || args.is_undefined() ||
                                          (args.is_list() && (args.seq_kind() == SeqKind::kList ||
                                                              args.seq_kind() == SeqKind::kRange)));
  if (!used_mapping && next < positional.size() && !mapping_like) {
    Raise("TypeError", "not all arguments converted during string formatting");
  }
  return out;
}

}  // namespace autarky::chat::jinja
