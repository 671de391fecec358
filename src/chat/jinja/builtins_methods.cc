// Methods of str, list and dict that templates call (`s.startswith(...)`, `d.items()`), with
// the immutable sandbox's rule: methods that would mutate a list or dict are refused (they
// come back as an Undefined that raises SecurityError when called).
#include <algorithm>

#include "chat/jinja/builtins.h"
#include "chat/jinja/error.h"
#include "chat/jinja/operators.h"
#include "chat/jinja/py_unicode.h"

namespace autarky::chat::jinja {
namespace {

using Method = Value (*)(Interpreter& interp, const Value& self, CallArgs& args);

Value Str(std::string s, const Value& self) { return Value::String(std::move(s), self.is_safe()); }

std::optional<std::string> OptionalChars(const Value& v, std::string_view method) {
  if (v.is_none()) return std::nullopt;
  if (!v.is_string()) {
    Raise("TypeError", std::string(method) + " arg must be None or str");
  }
  return v.str();
}

const std::string& ExpectStr(const Value& v, std::string_view what) {
  if (!v.is_string()) {
    Raise("TypeError", std::string(what) + " must be str, not " + TypeName(v));
  }
  return v.str();
}

// Code point range [start, end) of s selected by Python's optional start/end arguments;
// nullopt when start lies beyond the string.
struct Window {
  std::u32string cps;
  int64_t start = 0, end = 0;
};
std::optional<Window> MakeWindow(const std::string& s, const Value& start, const Value& end) {
  Window w;
  w.cps = ToCodePoints(s);
  const int64_t len = static_cast<int64_t>(w.cps.size());
  const auto adjust = [len](const Value& v, int64_t fallback) {
    if (v.is_none()) return fallback;
    int64_t x = ExpectInt(v, "slice index");
    if (x < 0) x = std::max<int64_t>(0, x + len);
    return std::min(x, len);
  };
  w.start = adjust(start, 0);
  w.end = adjust(end, len);
  if (!start.is_none() && ExpectInt(start, "slice index") > len) return std::nullopt;
  return w;
}

int64_t FindIn(const Window& w, const std::u32string& sub, bool reverse) {
  if (w.end - w.start < static_cast<int64_t>(sub.size())) return -1;
  const auto begin = w.cps.begin() + w.start, end = w.cps.begin() + w.end;
  const auto it = reverse ? std::find_end(begin, end, sub.begin(), sub.end())
                          : std::search(begin, end, sub.begin(), sub.end());
  if (it == end && !sub.empty()) return -1;
  if (sub.empty()) return reverse ? w.end : w.start;
  return it - w.cps.begin();
}

Value StrFind(const Value& self, CallArgs& args, std::string_view name, bool reverse, bool raise) {
  const auto a = BindArgs(
      name, args, {{"sub", std::nullopt}, {"start", Value::None()}, {"end", Value::None()}});
  const std::u32string sub = ToCodePoints(ExpectStr(a[0], "must be str"));
  const std::optional<Window> w = MakeWindow(self.str(), a[1], a[2]);
  const int64_t at = w ? FindIn(*w, sub, reverse) : -1;
  if (at < 0 && raise) Raise("ValueError", "substring not found");
  return Value::Int(at);
}

Value AffixTest(const Value& self, CallArgs& args, std::string_view name, bool suffix) {
  const auto a = BindArgs(
      name, args, {{"prefix", std::nullopt}, {"start", Value::None()}, {"end", Value::None()}});
  std::vector<Value> options;
  if (a[0].is_string()) {
    options.push_back(a[0]);
  } else if (a[0].is_list() && a[0].seq_kind() == SeqKind::kTuple) {
    options = a[0].list().items;
  } else {
    Raise("TypeError",
          std::string(name) + " first arg must be str or a tuple of str, not " + TypeName(a[0]));
  }
  const std::optional<Window> w = MakeWindow(self.str(), a[1], a[2]);
  if (!w) return Value::Bool(false);
  for (const Value& option : options) {
    const std::u32string affix = ToCodePoints(ExpectStr(option, "tuple item"));
    const int64_t n = static_cast<int64_t>(affix.size());
    if (w->end - w->start < n) continue;
    const int64_t at = suffix ? w->end - n : w->start;
    if (std::equal(affix.begin(), affix.end(), w->cps.begin() + at)) return Value::Bool(true);
  }
  return Value::Bool(false);
}

std::vector<Value> StringList(const std::vector<std::string>& parts, const Value& self) {
  std::vector<Value> out;
  out.reserve(parts.size());
  for (const std::string& p : parts) out.push_back(Str(p, self));
  return out;
}

Value Split(const Value& self, CallArgs& args, bool reverse) {
  const auto a = BindArgs(reverse ? "rsplit" : "split", args,
                          {{"sep", Value::None()}, {"maxsplit", Value::Int(-1)}});
  const int64_t maxsplit = ExpectInt(a[1], "maxsplit");
  if (a[0].is_none()) {
    return Value::List(StringList(reverse ? PyRSplitWhitespace(self.str(), maxsplit)
                                          : PySplitWhitespace(self.str(), maxsplit),
                                  self));
  }
  const std::string& sep = ExpectStr(a[0], "sep");
  if (sep.empty()) Raise("ValueError", "empty separator");
  return Value::List(StringList(
      reverse ? PyRSplit(self.str(), sep, maxsplit) : PySplit(self.str(), sep, maxsplit), self));
}

Value Justify(Interpreter& interp, const Value& self, CallArgs& args, std::string_view name,
              char how) {
  const auto a = BindArgs(name, args, {{"width", std::nullopt}, {"fillchar", Value::String(" ")}});
  const int64_t width = ExpectInt(a[0], "width");
  const std::string& fill = ExpectStr(a[1], "fillchar");
  if (CodePointCount(fill) != 1) {
    Raise("TypeError", "The fill character must be exactly one character long");
  }
  const std::string& s = self.str();
  const int64_t len = static_cast<int64_t>(CodePointCount(s));
  if (width <= len) return self;
  interp.CheckSize(static_cast<size_t>(width) * fill.size());
  const int64_t marg = width - len;
  int64_t left = 0;
  if (how == '>') left = marg;
  if (how == '^') left = marg / 2 + (marg & width & 1);
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = left; i < marg; ++i) out += fill;
  return Str(std::move(out), self);
}

Value Partition(const Value& self, CallArgs& args, bool reverse) {
  const auto a = BindArgs(reverse ? "rpartition" : "partition", args, {{"sep", std::nullopt}});
  const std::string& sep = ExpectStr(a[0], "sep");
  if (sep.empty()) Raise("ValueError", "empty separator");
  const std::string& s = self.str();
  const size_t at = reverse ? s.rfind(sep) : s.find(sep);
  if (at == std::string::npos) {
    return reverse ? Value::Tuple({Str("", self), Str("", self), self})
                   : Value::Tuple({self, Str("", self), Str("", self)});
  }
  return Value::Tuple(
      {Str(s.substr(0, at), self), Str(sep, self), Str(s.substr(at + sep.size()), self)});
}

Value Predicate(const Value& self, CallArgs& args, std::string_view name, bool (*pred)(uint32_t)) {
  BindArgs(name, args, {});
  return Value::Bool(PyAll(self.str(), pred));
}

bool IsAsciiCp(uint32_t cp) { return cp < 0x80; }
bool IsPrintableCp(uint32_t cp) { return IsPyPrintable(cp); }

// Dispatches a str method; nullopt when str has no such method.
std::optional<Value> CallStrMethod(Interpreter& interp, std::string_view name, const Value& self,
                                   CallArgs& args) {
  const std::string& s = self.str();
  const auto no_args = [&] { BindArgs(name, args, {}); };
  if (name == "lower") return no_args(), Str(PyLower(s), self);
  if (name == "upper") return no_args(), Str(PyUpper(s), self);
  if (name == "title") return no_args(), Str(PyTitle(s), self);
  if (name == "capitalize") return no_args(), Str(PyCapitalize(s), self);
  if (name == "swapcase") return no_args(), Str(PySwapCase(s), self);
  if (name == "casefold") return no_args(), Value::String(PyLower(s));
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const auto a = BindArgs(name, args, {{"chars", Value::None()}});
    return Str(
        std::string(PyStrip(s, OptionalChars(a[0], name), name != "rstrip", name != "lstrip")),
        self);
  }
  if (name == "split") return Split(self, args, false);
  if (name == "rsplit") return Split(self, args, true);
  if (name == "splitlines") {
    const auto a = BindArgs(name, args, {{"keepends", Value::Bool(false)}});
    return Value::List(StringList(PySplitLines(s, Truthy(a[0])), self));
  }
  if (name == "startswith") return AffixTest(self, args, name, false);
  if (name == "endswith") return AffixTest(self, args, name, true);
  if (name == "find") return StrFind(self, args, name, false, false);
  if (name == "rfind") return StrFind(self, args, name, true, false);
  if (name == "index") return StrFind(self, args, name, false, true);
  if (name == "rindex") return StrFind(self, args, name, true, true);
  if (name == "count") {
    const auto a = BindArgs(
        name, args, {{"sub", std::nullopt}, {"start", Value::None()}, {"end", Value::None()}});
    const std::string& sub = ExpectStr(a[0], "must be str");
    const std::optional<Window> w = MakeWindow(s, a[1], a[2]);
    if (!w) return Value::Int(0);
    const std::string window = FromCodePoints(std::u32string_view(w->cps).substr(
        static_cast<size_t>(w->start), static_cast<size_t>(w->end - w->start)));
    return Value::Int(static_cast<int64_t>(PyCount(window, sub)));
  }
  if (name == "replace") {
    const auto a = BindArgs(
        name, args, {{"old", std::nullopt}, {"new", std::nullopt}, {"count", Value::Int(-1)}});
    std::string out = PyReplace(s, ExpectStr(a[0], "replace() argument 1"),
                                ExpectStr(a[1], "replace() argument 2"), ExpectInt(a[2], "count"));
    interp.CheckSize(out.size());
    return Str(std::move(out), self);
  }
  if (name == "join") {
    const auto a = BindArgs(name, args, {{"iterable", std::nullopt}});
    std::string out;
    size_t index = 0;
    for (const Value& item : Iterate(a[0])) {
      interp.Charge(1);
      if (!item.is_string()) {
        Raise("TypeError", "sequence item " + std::to_string(index) + ": expected str instance, " +
                               TypeName(item) + " found");
      }
      if (index++ > 0) out += s;
      out += self.is_safe() && !item.is_safe() ? HtmlEscape(item.str()) : item.str();
      interp.CheckSize(out.size());
    }
    return Str(std::move(out), self);
  }
  if (name == "center") return Justify(interp, self, args, name, '^');
  if (name == "ljust") return Justify(interp, self, args, name, '<');
  if (name == "rjust") return Justify(interp, self, args, name, '>');
  if (name == "zfill") {
    const int64_t width = ExpectInt(BindArgs(name, args, {{"width", std::nullopt}})[0], "width");
    const int64_t len = static_cast<int64_t>(CodePointCount(s));
    if (width <= len) return self;
    interp.CheckSize(static_cast<size_t>(width));
    const bool sign = !s.empty() && (s[0] == '+' || s[0] == '-');
    std::string out = sign ? s.substr(0, 1) : "";
    out.append(static_cast<size_t>(width - len), '0');
    out += sign ? s.substr(1) : s;
    return Str(std::move(out), self);
  }
  if (name == "partition") return Partition(self, args, false);
  if (name == "rpartition") return Partition(self, args, true);
  if (name == "removeprefix" || name == "removesuffix") {
    const std::string& affix = ExpectStr(BindArgs(name, args, {{"affix", std::nullopt}})[0], "arg");
    if (name == "removeprefix" && s.compare(0, affix.size(), affix) == 0) {
      return Str(s.substr(affix.size()), self);
    }
    if (name == "removesuffix" && !affix.empty() && s.size() >= affix.size() &&
        s.compare(s.size() - affix.size(), affix.size(), affix) == 0) {
      return Str(s.substr(0, s.size() - affix.size()), self);
    }
    return self;
  }
  if (name == "format") return Str(PyStrFormat(interp, self, args), self);
  if (name == "format_map") {
    const Value mapping = BindArgs(name, args, {{"mapping", std::nullopt}})[0];
    if (!mapping.is_dict()) Raise("TypeError", "format_map() argument must be a mapping");
    CallArgs named;
    for (const auto& [k, v] : mapping.dict().entries()) named.keyword.emplace_back(ToStr(k), v);
    return Str(PyStrFormat(interp, self, named), self);
  }
  if (name == "isalnum") return Predicate(self, args, name, IsPyAlnum);
  if (name == "isalpha") return Predicate(self, args, name, IsPyAlpha);
  if (name == "isdecimal") return Predicate(self, args, name, IsPyDecimal);
  if (name == "isdigit") return Predicate(self, args, name, IsPyDigit);
  if (name == "isnumeric") return Predicate(self, args, name, IsPyNumeric);
  if (name == "isspace") return Predicate(self, args, name, IsPySpace);
  if (name == "isascii") return no_args(), Value::Bool(IsAscii(s));
  if (name == "isprintable") return no_args(), Value::Bool(s.empty() || PyAll(s, IsPrintableCp));
  if (name == "islower") return no_args(), Value::Bool(PyIsLower(s));
  if (name == "isupper") return no_args(), Value::Bool(PyIsUpper(s));
  if (name == "istitle") return no_args(), Value::Bool(PyIsTitle(s));
  (void)IsAsciiCp;
  return std::nullopt;
}

constexpr std::string_view kStrMethods[] = {
    "lower",      "upper",     "title",       "capitalize",   "swapcase",     "casefold",
    "strip",      "lstrip",    "rstrip",      "split",        "rsplit",       "splitlines",
    "startswith", "endswith",  "find",        "rfind",        "index",        "rindex",
    "count",      "replace",   "join",        "center",       "ljust",        "rjust",
    "zfill",      "partition", "rpartition",  "removeprefix", "removesuffix", "format",
    "format_map", "isalnum",   "isalpha",     "isdecimal",    "isdigit",      "isnumeric",
    "isspace",    "isascii",   "isprintable", "islower",      "isupper",      "istitle",
};

// Markup's versions of these escape their string arguments (markupsafe wraps them).
constexpr std::string_view kMarkupEscapingMethods[] = {
    "capitalize", "title",  "lower",  "upper", "replace",  "ljust", "rjust",
    "lstrip",     "rstrip", "center", "strip", "swapcase", "zfill",
};

template <size_t N>
bool In(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

Value BoundStrMethod(const Value& self, std::string_view method_name) {
  const std::string name(method_name);
  return MakeFunction(
      name,
      [self, name](Interpreter& interp, CallArgs& args) -> Value {
        interp.ChargeValue(self);
        if (self.is_safe() && In(kMarkupEscapingMethods, name)) {
          for (Value& arg : args.positional) {
            if (arg.is_string() && !arg.is_safe()) arg = Value::String(HtmlEscape(arg.str()), true);
          }
          for (auto& [k, arg] : args.keyword) {
            if (arg.is_string() && !arg.is_safe()) arg = Value::String(HtmlEscape(arg.str()), true);
          }
        }
        return *CallStrMethod(interp, name, self, args);
      },
      "builtin_function_or_method");
}

Value ListIndex(const Value& self, CallArgs& args) {
  const auto a = BindArgs(
      "index", args, {{"value", std::nullopt}, {"start", Value::Int(0)}, {"stop", Value::None()}});
  const auto& items = self.list().items;
  const int64_t len = static_cast<int64_t>(items.size());
  const auto adjust = [len](int64_t x) {
    return x < 0 ? std::max<int64_t>(0, x + len) : std::min(x, len);
  };
  const int64_t start = adjust(ExpectInt(a[1], "start"));
  const int64_t stop = a[2].is_none() ? len : adjust(ExpectInt(a[2], "stop"));
  for (int64_t i = start; i < stop; ++i) {
    if (Equals(items[static_cast<size_t>(i)], a[0])) return Value::Int(i);
  }
  Raise("ValueError", Repr(a[0]) + " is not in " + TypeName(self));
}

Value ListMethod(Interpreter& interp, const Value& self, const std::string& name, CallArgs& args) {
  const auto& items = self.list().items;
  if (name == "index") return ListIndex(self, args);
  if (name == "count") {
    const Value x = BindArgs(name, args, {{"value", std::nullopt}})[0];
    int64_t n = 0;
    for (const Value& item : items) {
      interp.Charge(1);
      if (Equals(item, x)) ++n;
    }
    return Value::Int(n);
  }
  if (name == "copy") {
    BindArgs(name, args, {});
    return Value::List(items, self.seq_kind());
  }
  Raise("TypeError", "unknown list method " + name);
}

Value DictMethod(Interpreter& interp, const Value& self, const std::string& name, CallArgs& args) {
  const DictData& dict = self.dict();
  if (name == "get") {
    const auto a = BindArgs(name, args, {{"key", std::nullopt}, {"default", Value::None()}});
    if (!IsHashable(a[0])) Raise("TypeError", "unhashable type: '" + TypeName(a[0]) + "'");
    const Value* v = dict.Find(a[0]);
    return v != nullptr ? *v : a[1];
  }
  BindArgs(name, args, {});
  interp.Charge(dict.size());
  if (name == "copy") return Value::Dict(std::make_shared<DictData>(dict));
  std::vector<Value> out;
  for (const auto& [k, v] : dict.entries()) {
    if (name == "keys") out.push_back(k);
    if (name == "values") out.push_back(v);
    if (name == "items") out.push_back(Value::Tuple({k, v}));
  }
  const SeqKind kind = name == "keys"
                           ? SeqKind::kDictKeys
                           : (name == "values" ? SeqKind::kDictValues : SeqKind::kDictItems);
  return Value::List(std::move(out), kind);
}

Value Unsafe(const Value& object, std::string_view name) {
  return Value::Undefined("access to attribute '" + std::string(name) + "' of '" +
                              TypeName(object) + "' object is unsafe.",
                          true);
}

}  // namespace

std::optional<Value> BuiltinAttr(Interpreter&, const Value& object, std::string_view name) {
  if (object.is_string()) {
    if (!In(kStrMethods, name)) return std::nullopt;
    return BoundStrMethod(object, name);
  }
  if (object.is_list() && object.seq_kind() == SeqKind::kRange) {
    const ListData& r = object.list();
    if (name == "start") return Value::Int(r.range_start);
    if (name == "stop") return Value::Int(r.range_stop);
    if (name == "step") return Value::Int(r.range_step);
  }
  if (object.is_list() &&
      (object.seq_kind() == SeqKind::kList || object.seq_kind() == SeqKind::kTuple ||
       object.seq_kind() == SeqKind::kRange)) {
    const bool is_list = object.seq_kind() == SeqKind::kList;
    if (is_list && (name == "append" || name == "extend" || name == "insert" || name == "pop" ||
                    name == "remove" || name == "reverse" || name == "sort" || name == "clear")) {
      return Unsafe(object, name);
    }
    if (object.list().group_tuple && (name == "grouper" || name == "list")) {
      return object.list().items[name == "grouper" ? 0 : 1];
    }
    if (name == "index" || name == "count" || (is_list && name == "copy")) {
      const std::string method(name);
      return MakeFunction(
          method,
          [object, method](Interpreter& interp, CallArgs& args) {
            interp.ChargeValue(object);
            return ListMethod(interp, object, method, args);
          },
          "builtin_function_or_method");
    }
    return std::nullopt;
  }
  if (object.is_dict()) {
    if (name == "clear" || name == "pop" || name == "popitem" || name == "setdefault" ||
        name == "update") {
      return Unsafe(object, name);
    }
    if (name == "get" || name == "items" || name == "keys" || name == "values" || name == "copy") {
      const std::string method(name);
      return MakeFunction(
          method,
          [object, method](Interpreter& interp, CallArgs& args) {
            interp.ChargeValue(object);
            return DictMethod(interp, object, method, args);
          },
          "builtin_function_or_method");
    }
  }
  return std::nullopt;
}

}  // namespace autarky::chat::jinja
