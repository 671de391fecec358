// jinja2's builtin filters (with transformers' `tojson`), as Python computes them.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_set>

#include "chat/jinja/builtins.h"
#include "chat/jinja/error.h"
#include "chat/jinja/json_dumps.h"
#include "chat/jinja/operators.h"
#include "chat/jinja/py_unicode.h"

namespace autarky::chat::jinja {
namespace {

// jinja2's soft_str: strings (Markup included) stay as they are, anything else goes through
// str().
Value SoftStr(const Value& v) { return v.is_string() ? v : Value::String(ToStr(v)); }

Value Generator(std::vector<Value> items) {
  return Value::List(std::move(items), SeqKind::kGenerator);
}

void NoArgs(std::string_view name, CallArgs& args) { BindArgs(name, args, {}); }

[[noreturn]] void FilterArgumentError(const std::string& message) {
  Raise("FilterArgumentError", message);
}

// The parts of a dotted attribute path ("a.0.b"): digits select items by index.
std::vector<Value> AttributeParts(const Value& attribute) {
  if (attribute.is_none()) return {};
  if (!attribute.is_string()) return {attribute};
  std::vector<Value> parts;
  for (std::string& part : PySplit(attribute.str(), ".", -1)) {
    if (PyAll(part, IsPyDecimal) && IsAscii(part)) {
      parts.push_back(Value::Int(*ParsePyInt(part, 10)));
    } else {
      parts.push_back(Value::String(std::move(part)));
    }
  }
  return parts;
}

// jinja2's make_attrgetter: item lookups along the path; `fallback` replaces an undefined
// result when given.
Value GetPath(Interpreter& interp, Value item, const std::vector<Value>& parts,
              const Value* fallback = nullptr) {
  for (const Value& part : parts) {
    item = interp.GetItem(item, part);
    if (fallback != nullptr && item.is_undefined()) item = *fallback;
  }
  return item;
}

Value IgnoreCase(const Value& v) { return v.is_string() ? Value::String(PyLower(v.str())) : v; }

CallArgs TailArgs(const CallArgs& args, size_t skip) {
  CallArgs out;
  for (size_t i = skip; i < args.positional.size(); ++i)
    out.positional.push_back(args.positional[i]);
  out.keyword = args.keyword;
  return out;
}

// ---- filters ----

Value FilterAbs(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("abs", args);
  if (v.is_float()) return Value::Float(std::fabs(v.float_value()));
  if (v.is_integral()) {
    if (v.int_value() == INT64_MIN) Raise("OverflowError", "integer result out of range");
    return Value::Int(v.int_value() < 0 ? -v.int_value() : v.int_value());
  }
  if (v.is_undefined()) RaiseUndefined(v);
  Raise("TypeError", "bad operand type for abs(): '" + TypeName(v) + "'");
}

Value FilterAttr(Interpreter& interp, const Value& v, CallArgs& args) {
  const auto a = BindArgs("attr", args, {{"name", std::nullopt}});
  if (v.is_undefined()) RaiseUndefined(v);
  if (!a[0].is_string()) Raise("TypeError", "attribute name must be string");
  const std::string& name = a[0].str();
  // An attribute proper: unlike `.name`, no fallback to the item of that name.
  if (name.substr(0, 2) == "__") return interp.GetAttr(v, name);
  if (!name.empty() && name[0] != '_') {
    if (v.is_object()) {
      if (std::optional<Value> attr = v.object().GetAttr(name)) return *attr;
    } else if (std::optional<Value> attr = BuiltinAttr(interp, v, name)) {
      return *attr;
    }
  }
  return Value::Undefined("'" + TypeName(v) + " object' has no attribute '" + name + "'");
}

Value FilterBatch(Interpreter& interp, const Value& v, CallArgs& args) {
  const auto a =
      BindArgs("batch", args, {{"linecount", std::nullopt}, {"fill_with", Value::None()}});
  const int64_t n = ExpectInt(a[0], "linecount");
  std::vector<Value> out, current;
  for (Value& item : Iterate(v)) {
    interp.Charge(1);
    if (static_cast<int64_t>(current.size()) == n) {
      out.push_back(Value::List(std::move(current)));
      current.clear();
    }
    current.push_back(std::move(item));
  }
  if (!current.empty()) {
    if (!a[1].is_none()) {
      while (static_cast<int64_t>(current.size()) < n) {
        interp.Charge(1);
        current.push_back(a[1]);
      }
    }
    out.push_back(Value::List(std::move(current)));
  }
  return Generator(std::move(out));
}

Value FilterCapitalize(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("capitalize", args);
  const Value s = SoftStr(v);
  return Value::String(PyCapitalize(s.str()), s.is_safe());
}

Value FilterCenter(Interpreter& interp, const Value& v, CallArgs& args) {
  const auto a = BindArgs("center", args, {{"width", Value::Int(80)}});
  const Value s = SoftStr(v);
  const int64_t width = ExpectInt(a[0], "width");
  const int64_t len = static_cast<int64_t>(CodePointCount(s.str()));
  if (width <= len) return s;
  interp.CheckSize(static_cast<size_t>(width));
  const int64_t marg = width - len;
  const int64_t left = marg / 2 + (marg & width & 1);
  return Value::String(std::string(static_cast<size_t>(left), ' ') + s.str() +
                           std::string(static_cast<size_t>(marg - left), ' '),
                       s.is_safe());
}

Value FilterLength(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("length", args);
  return Value::Int(Length(v));
}

Value FilterDefault(Interpreter&, const Value& v, CallArgs& args) {
  const auto a = BindArgs("default", args,
                          {{"default_value", Value::String("")}, {"boolean", Value::Bool(false)}});
  if (v.is_undefined() || (Truthy(a[1]) && !Truthy(v))) return a[0];
  return v;
}

Value FilterDictsort(Interpreter& interp, const Value& v, CallArgs& args) {
  const auto a = BindArgs("dictsort", args,
                          {{"case_sensitive", Value::Bool(false)},
                           {"by", Value::String("key")},
                           {"reverse", Value::Bool(false)}});
  if (!v.is_dict()) {
    if (v.is_undefined()) RaiseUndefined(v);
    Raise("AttributeError", "'" + TypeName(v) + "' object has no attribute 'items'");
  }
  size_t pos = 0;
  if (a[1].is_string() && a[1].str() == "value") {
    pos = 1;
  } else if (!(a[1].is_string() && a[1].str() == "key")) {
    FilterArgumentError("You can only sort by either \"key\" or \"value\"");
  }
  const bool case_sensitive = Truthy(a[0]);
  std::vector<std::pair<Value, Value>> items;  // {sort key, (k, v)}
  for (const auto& [key, value] : v.dict().entries()) {
    interp.Charge(1);
    const Value& k = pos == 0 ? key : value;
    items.emplace_back(case_sensitive ? k : IgnoreCase(k), Value::Tuple({key, value}));
  }
  const bool reverse = Truthy(a[2]);
  std::stable_sort(items.begin(), items.end(), [reverse](const auto& x, const auto& y) {
    return reverse ? Less(y.first, x.first) : Less(x.first, y.first);
  });
  std::vector<Value> out;
  for (auto& item : items) out.push_back(std::move(item.second));
  return Value::List(std::move(out));
}

Value FilterEscape(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("escape", args);
  if (v.is_string() && v.is_safe()) return v;
  return Value::String(HtmlEscape(ToStr(v)), true);
}

Value FilterForceEscape(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("forceescape", args);
  return Value::String(HtmlEscape(ToStr(v)), true);
}

Value FilterFilesizeformat(Interpreter&, const Value& v, CallArgs& args) {
  const auto a = BindArgs("filesizeformat", args, {{"binary", Value::Bool(false)}});
  double bytes = 0;
  if (v.is_number()) {
    bytes = v.AsDouble();
  } else if (v.is_string()) {
    const std::optional<double> f = ParsePyFloat(v.str());
    if (!f) Raise("ValueError", "could not convert string to float: " + Repr(v));
    bytes = *f;
  } else {
    if (v.is_undefined()) RaiseUndefined(v);
    Raise("TypeError",
          "float() argument must be a string or a real number, not '" + TypeName(v) + "'");
  }
  const bool binary = Truthy(a[0]);
  const double base = binary ? 1024 : 1000;
  static const char* kBinary[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  static const char* kDecimal[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  if (bytes == 1) return Value::String("1 Byte");
  if (bytes < base) {
    if (!std::isfinite(bytes)) Raise("ValueError", "cannot convert float NaN to integer");
    return Value::String(std::to_string(static_cast<int64_t>(bytes)) + " Bytes");
  }
  double unit = base;
  const char* prefix = "";
  for (int i = 0; i < 8; ++i) {
    unit = std::pow(base, i + 2);
    prefix = binary ? kBinary[i] : kDecimal[i];
    if (bytes < unit) break;
  }
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%.1f %s", base * bytes / unit, prefix);
  return Value::String(buf);
}

Value FilterFirst(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("first", args);
  std::vector<Value> items = Iterate(v);
  if (items.empty()) return Value::Undefined("No first item, sequence was empty.");
  return items.front();
}

Value FilterLast(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("last", args);
  if (v.is_list() && v.seq_kind() == SeqKind::kGenerator) {
    Raise("TypeError", "'generator' object is not reversible");
  }
  if (!IsIterable(v)) Raise("TypeError", "'" + TypeName(v) + "' object is not reversible");
  std::vector<Value> items = Iterate(v);
  if (items.empty()) return Value::Undefined("No last item, sequence was empty.");
  return items.back();
}

Value FilterFloat(Interpreter&, const Value& v, CallArgs& args) {
  const auto a = BindArgs("float", args, {{"default", Value::Float(0.0)}});
  if (v.is_undefined()) RaiseUndefined(v);
  if (v.is_number()) return Value::Float(v.AsDouble());
  if (v.is_string()) {
    if (const std::optional<double> f = ParsePyFloat(v.str())) return Value::Float(*f);
  }
  return a[0];
}

Value FilterFormat(Interpreter& interp, const Value& v, CallArgs& args) {
  if (!args.positional.empty() && !args.keyword.empty()) {
    FilterArgumentError("can't handle positional and keyword arguments at the same time");
  }
  const Value s = SoftStr(v);
  if (!args.keyword.empty()) {
    Value mapping = Value::Dict();
    for (auto& [k, value] : args.keyword) mapping.dict().Set(Value::String(k), value);
    return Value::String(PercentFormat(interp, s, mapping), s.is_safe());
  }
  return Value::String(PercentFormat(interp, s, Value::Tuple(args.positional)), s.is_safe());
}

Value FilterGroupby(Interpreter& interp, const Value& v, CallArgs& args) {
  const auto a = BindArgs("groupby", args,
                          {{"attribute", std::nullopt},
                           {"default", Value::None()},
                           {"case_sensitive", Value::Bool(false)}});
  const std::vector<Value> parts = AttributeParts(a[0]);
  const Value* fallback = a[1].is_none() ? nullptr : &a[1];
  const bool case_sensitive = Truthy(a[2]);
  std::vector<std::pair<Value, Value>> keyed;  // {key, item}
  for (Value& item : Iterate(v)) {
    interp.Charge(1);
    Value key = GetPath(interp, item, parts, fallback);
    keyed.emplace_back(case_sensitive ? key : IgnoreCase(key), std::move(item));
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& x, const auto& y) { return Less(x.first, y.first); });
  std::vector<Value> groups;
  for (size_t i = 0; i < keyed.size();) {
    size_t j = i;
    std::vector<Value> members;
    while (j < keyed.size() && Equals(keyed[j].first, keyed[i].first)) {
      members.push_back(keyed[j++].second);
    }
    // The reported key keeps its case (the first member's).
    Value grouper = case_sensitive ? keyed[i].first : GetPath(interp, members[0], parts, fallback);
    Value group = Value::Tuple({std::move(grouper), Value::List(std::move(members))});
    group.list().group_tuple = true;
    groups.push_back(std::move(group));
    i = j;
  }
  return Value::List(std::move(groups));
}

Value FilterIndent(Interpreter& interp, const Value& v, CallArgs& args) {
  const auto a = BindArgs(
      "indent", args,
      {{"width", Value::Int(4)}, {"first", Value::Bool(false)}, {"blank", Value::Bool(false)}});
  std::string indention;
  if (a[0].is_string()) {
    indention = a[0].str();
  } else {
    const int64_t width = ExpectInt(a[0], "width");
    if (width > 0) {
      interp.CheckSize(static_cast<size_t>(width));
      indention.assign(static_cast<size_t>(width), ' ');
    }
  }
  if (v.is_undefined()) RaiseUndefined(v);
  if (!v.is_string()) {
    Raise("TypeError", "unsupported operand type(s) for +=: '" + TypeName(v) + "' and 'str'");
  }
  const std::vector<std::string> lines = PySplitLines(v.str() + "\n", false);
  std::string rv;
  if (Truthy(a[2])) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) rv += "\n" + indention;
      rv += lines[i];
      interp.CheckSize(rv.size());
    }
  } else {
    rv = lines.empty() ? std::string() : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += '\n';
      if (!lines[i].empty()) rv += indention;
      rv += lines[i];
      interp.CheckSize(rv.size());
    }
  }
  if (Truthy(a[1])) rv = indention + rv;
  return Value::String(std::move(rv), v.is_safe());
}

Value FilterInt(Interpreter&, const Value& v, CallArgs& args) {
  const auto a = BindArgs("int", args, {{"default", Value::Int(0)}, {"base", Value::Int(10)}});
  if (v.is_undefined()) RaiseUndefined(v);
  if (v.is_integral()) return Value::Int(v.int_value());
  const auto from_double = [&](double d) -> Value {
    if (std::isnan(d)) return a[0];
    if (!std::isfinite(d)) Raise("OverflowError", "cannot convert float infinity to integer");
    if (std::fabs(d) >= 9.2233720368547758e18) {
      Raise("OverflowError", "integer too large (autarky's Jinja has 64-bit integers)");
    }
    return Value::Int(static_cast<int64_t>(d));
  };
  if (v.is_float()) return from_double(v.float_value());
  if (v.is_string()) {
    if (const std::optional<int64_t> i =
            ParsePyInt(v.str(), static_cast<int>(ExpectInt(a[1], "base")))) {
      return Value::Int(*i);
    }
    if (const std::optional<double> f = ParsePyFloat(v.str())) return from_double(*f);
  }
  return a[0];
}

Value FilterJoin(Interpreter& interp, const Value& v, CallArgs& args) {
  const auto a = BindArgs("join", args, {{"d", Value::String("")}, {"attribute", Value::None()}});
  const std::string separator = ToStr(a[0]);
  const std::vector<Value> parts = AttributeParts(a[1]);
  std::string out;
  bool first = true;
  for (const Value& item : Iterate(v)) {
    interp.Charge(1);
    if (!first) out += separator;
    first = false;
    const Value x = a[1].is_none() ? item : GetPath(interp, item, parts);
    out += x.is_string() ? x.str() : ToStr(x);
    interp.CheckSize(out.size());
  }
  return Value::String(std::move(out));
}

Value FilterList(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("list", args);
  return Value::List(Iterate(v));
}

Value FilterLower(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("lower", args);
  const Value s = SoftStr(v);
  return Value::String(PyLower(s.str()), s.is_safe());
}

Value FilterUpper(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("upper", args);
  const Value s = SoftStr(v);
  return Value::String(PyUpper(s.str()), s.is_safe());
}

Value FilterItems(Interpreter& interp, const Value& v, CallArgs& args) {
  NoArgs("items", args);
  if (v.is_undefined()) return Generator({});
  if (!v.is_dict()) Raise("TypeError", "Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [key, value] : v.dict().entries()) {
    interp.Charge(1);
    out.push_back(Value::Tuple({key, value}));
  }
  return Generator(std::move(out));
}

Value FilterMap(Interpreter& interp, const Value& v, CallArgs& args) {
  if (!Truthy(v)) return Generator({});
  std::vector<Value> out;
  if (args.positional.empty()) {
    std::optional<Value> attribute;
    Value fallback = Value::None();
    for (const auto& [name, value] : args.keyword) {
      if (name == "attribute") {
        attribute = value;
      } else if (name == "default") {
        fallback = value;
      } else {
        FilterArgumentError("Unexpected keyword argument '" + name + "'");
      }
    }
    if (!attribute) FilterArgumentError("map requires a filter argument");
    const std::vector<Value> parts = AttributeParts(*attribute);
    for (const Value& item : Iterate(v)) {
      interp.Charge(1);
      out.push_back(GetPath(interp, item, parts, fallback.is_none() ? nullptr : &fallback));
    }
    return Generator(std::move(out));
  }
  const Value name = args.positional[0];
  if (!name.is_string()) Raise("TemplateRuntimeError", "No filter named " + Repr(name) + ".");
  for (const Value& item : Iterate(v)) {
    CallArgs rest = TailArgs(args, 1);
    out.push_back(interp.CallFilter(name.str(), item, rest));
  }
  return Generator(std::move(out));
}

Value MinMax(Interpreter& interp, const Value& v, CallArgs& args, bool max) {
  const auto a = BindArgs(max ? "max" : "min", args,
                          {{"case_sensitive", Value::Bool(false)}, {"attribute", Value::None()}});
  std::vector<Value> items = Iterate(v);
  if (items.empty()) return Value::Undefined("No aggregated item, sequence was empty.");
  const std::vector<Value> parts = AttributeParts(a[1]);
  const bool case_sensitive = Truthy(a[0]);
  const auto key = [&](const Value& item) {
    Value k = GetPath(interp, item, parts);
    return case_sensitive ? k : IgnoreCase(k);
  };
  size_t best = 0;
  Value best_key = key(items[0]);
  for (size_t i = 1; i < items.size(); ++i) {
    interp.Charge(1);
    Value k = key(items[i]);
    if (max ? Less(best_key, k) : Less(k, best_key)) {
      best = i;
      best_key = std::move(k);
    }
  }
  return items[best];
}

Value FilterMax(Interpreter& interp, const Value& v, CallArgs& args) {
  return MinMax(interp, v, args, true);
}
Value FilterMin(Interpreter& interp, const Value& v, CallArgs& args) {
  return MinMax(interp, v, args, false);
}

Value SelectOrReject(Interpreter& interp, const Value& v, CallArgs& args, bool reject,
                     bool lookup_attr) {
  if (!Truthy(v)) return Generator({});
  const size_t off = lookup_attr ? 1 : 0;
  std::vector<Value> parts;
  if (lookup_attr) {
    if (args.positional.empty()) FilterArgumentError("Missing parameter for attribute name");
    parts = AttributeParts(args.positional[0]);
  }
  std::vector<Value> out;
  for (const Value& item : Iterate(v)) {
    interp.Charge(1);
    const Value x = lookup_attr ? GetPath(interp, item, parts) : item;
    bool passed;
    if (args.positional.size() > off) {
      const Value& name = args.positional[off];
      if (!name.is_string()) Raise("TemplateRuntimeError", "No test named " + Repr(name) + ".");
      CallArgs rest = TailArgs(args, off + 1);
      passed = interp.CallTest(name.str(), x, rest);
    } else {
      passed = Truthy(x);
    }
    if (passed != reject) out.push_back(item);
  }
  return Generator(std::move(out));
}

Value FilterSelect(Interpreter& interp, const Value& v, CallArgs& args) {
  return SelectOrReject(interp, v, args, false, false);
}
Value FilterReject(Interpreter& interp, const Value& v, CallArgs& args) {
  return SelectOrReject(interp, v, args, true, false);
}
Value FilterSelectattr(Interpreter& interp, const Value& v, CallArgs& args) {
  return SelectOrReject(interp, v, args, false, true);
}
Value FilterRejectattr(Interpreter& interp, const Value& v, CallArgs& args) {
  return SelectOrReject(interp, v, args, true, true);
}

Value FilterReplace(Interpreter& interp, const Value& v, CallArgs& args) {
  const auto a = BindArgs("replace", args,
                          {{"old", std::nullopt}, {"new", std::nullopt}, {"count", Value::None()}});
  const int64_t count = a[2].is_none() ? -1 : ExpectInt(a[2], "count");
  std::string out = PyReplace(ToStr(v), ToStr(a[0]), ToStr(a[1]), count);
  interp.CheckSize(out.size());
  return Value::String(std::move(out));
}

Value FilterReverse(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("reverse", args);
  if (v.is_string()) {
    std::u32string cps = ToCodePoints(v.str());
    std::reverse(cps.begin(), cps.end());
    return Value::String(FromCodePoints(cps), v.is_safe());
  }
  if (!IsIterable(v)) FilterArgumentError("argument must be iterable");
  std::vector<Value> items = Iterate(v);
  std::reverse(items.begin(), items.end());
  // reversed() gives an iterator (or list(value) reversed for a generator).
  if (v.is_list() && v.seq_kind() == SeqKind::kGenerator) return Value::List(std::move(items));
  return Generator(std::move(items));
}

Value FilterRound(Interpreter&, const Value& v, CallArgs& args) {
  const auto a =
      BindArgs("round", args, {{"precision", Value::Int(0)}, {"method", Value::String("common")}});
  const std::string method = a[1].is_string() ? a[1].str() : "";
  if (method != "common" && method != "ceil" && method != "floor") {
    FilterArgumentError("method must be common, ceil or floor");
  }
  const int64_t precision = ExpectInt(a[0], "precision");
  if (v.is_undefined()) RaiseUndefined(v);
  if (!v.is_number()) {
    Raise("TypeError", "type " + TypeName(v) + " doesn't define __round__ method");
  }
  if (method == "common") {
    if (v.is_float()) return Value::Float(PyRound(v.float_value(), precision));
    if (precision >= 0) return Value::Int(v.int_value());
    // round(int, negative): to a multiple of 10**-precision, ties to even.
    if (precision < -18) return Value::Int(0);
    int64_t scale = 1;
    for (int64_t i = 0; i < -precision; ++i) scale *= 10;
    const int64_t x = v.int_value();
    int64_t q = x / scale, r = x % scale;
    if (r < 0) {
      r += scale;
      --q;
    }
    if (2 * r > scale || (2 * r == scale && (q % 2 != 0))) ++q;
    return Value::Int(q * scale);
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.AsDouble() * scale;
  return Value::Float((method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
}

Value FilterSafe(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("safe", args);
  return Value::String(ToStr(v), true);
}

Value FilterSlice(Interpreter& interp, const Value& v, CallArgs& args) {
  const auto a = BindArgs("slice", args, {{"slices", std::nullopt}, {"fill_with", Value::None()}});
  const int64_t slices = ExpectInt(a[0], "slices");
  const std::vector<Value> seq = Iterate(v);
  const int64_t length = static_cast<int64_t>(seq.size());
  if (slices <= 0) {
    if (slices == 0) Raise("ZeroDivisionError", "integer division or modulo by zero");
    return Generator({});
  }
  const int64_t per_slice = length / slices;
  const int64_t with_extra = length % slices;
  int64_t offset = 0;
  std::vector<Value> out;
  for (int64_t n = 0; n < slices; ++n) {
    interp.Charge(1);
    const int64_t start = offset + n * per_slice;
    if (n < with_extra) ++offset;
    const int64_t end = offset + (n + 1) * per_slice;
    std::vector<Value> part(seq.begin() + start, seq.begin() + end);
    if (!a[1].is_none() && n >= with_extra) part.push_back(a[1]);
    out.push_back(Value::List(std::move(part)));
  }
  return Generator(std::move(out));
}

Value FilterSort(Interpreter& interp, const Value& v, CallArgs& args) {
  const auto a = BindArgs("sort", args,
                          {{"reverse", Value::Bool(false)},
                           {"case_sensitive", Value::Bool(false)},
                           {"attribute", Value::None()}});
  const bool reverse = Truthy(a[0]);
  const bool case_sensitive = Truthy(a[1]);
  std::vector<std::vector<Value>> paths;
  if (a[2].is_string()) {
    for (const std::string& part : PySplit(a[2].str(), ",", -1)) {
      paths.push_back(AttributeParts(Value::String(part)));
    }
  } else {
    paths.push_back(AttributeParts(a[2]));
  }
  std::vector<std::pair<Value, Value>> keyed;  // {key list, item}
  for (Value& item : Iterate(v)) {
    interp.Charge(1);
    std::vector<Value> key;
    for (const auto& parts : paths) {
      Value k = GetPath(interp, item, parts);
      key.push_back(case_sensitive ? k : IgnoreCase(k));
    }
    keyed.emplace_back(Value::List(std::move(key)), std::move(item));
  }
  std::stable_sort(keyed.begin(), keyed.end(), [reverse](const auto& x, const auto& y) {
    return reverse ? Less(y.first, x.first) : Less(x.first, y.first);
  });
  std::vector<Value> out;
  for (auto& entry : keyed) out.push_back(std::move(entry.second));
  return Value::List(std::move(out));
}

Value FilterString(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("string", args);
  return SoftStr(v);
}

Value FilterSum(Interpreter& interp, const Value& v, CallArgs& args) {
  const auto a = BindArgs("sum", args, {{"attribute", Value::None()}, {"start", Value::Int(0)}});
  const std::vector<Value> parts = AttributeParts(a[0]);
  Value total = a[1];
  for (const Value& item : Iterate(v)) {
    interp.Charge(1);
    if (total.is_string()) Raise("TypeError", "sum() can't sum strings [use ''.join(seq) instead]");
    total = BinaryOperation(interp, BinaryOp::kAdd, total,
                            a[0].is_none() ? item : GetPath(interp, item, parts));
  }
  return total;
}

Value FilterTitle(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("title", args);
  // jinja2's own title(): words start after runs of [-\s({\[<], each word is its first
  // character upper-cased and the rest lower-cased.
  const Value s = SoftStr(v);
  const std::u32string cps = ToCodePoints(s.str());
  const auto is_separator = [](char32_t c) {
    return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || IsPySpace(c);
  };
  std::string out;
  size_t i = 0;
  while (i < cps.size()) {
    const bool sep = is_separator(cps[i]);
    size_t j = i;
    while (j < cps.size() && is_separator(cps[j]) == sep) ++j;
    const std::u32string piece = cps.substr(i, j - i);
    if (sep) {
      out += FromCodePoints(piece);
    } else {
      out += PyUpper(FromCodePoints(piece.substr(0, 1)));
      out += PyLower(FromCodePoints(piece.substr(1)));
    }
    i = j;
  }
  return Value::String(std::move(out), s.is_safe());
}

Value FilterToJson(Interpreter& interp, const Value& v, CallArgs& args) {
  // transformers' replacement: json.dumps(x, ensure_ascii=False, indent=None,
  // separators=None, sort_keys=False), with the parameters in that order.
  const auto a = BindArgs("tojson", args,
                          {{"ensure_ascii", Value::Bool(false)},
                           {"indent", Value::None()},
                           {"separators", Value::None()},
                           {"sort_keys", Value::Bool(false)}});
  JsonDumpsOptions options;
  options.ensure_ascii = Truthy(a[0]);
  if (a[1].is_string()) {
    options.indent = a[1].str();
  } else if (a[1].is_integral()) {
    const int64_t n = a[1].int_value();
    interp.CheckSize(static_cast<size_t>(std::max<int64_t>(n, 0)));
    options.indent = std::string(static_cast<size_t>(std::max<int64_t>(n, 0)), ' ');
  } else if (!a[1].is_none()) {
    Raise("TypeError", "can't multiply sequence by non-int of type '" + TypeName(a[1]) + "'");
  }
  if (!a[2].is_none()) {
    const std::vector<Value> seps = Iterate(a[2]);
    if (seps.size() != 2) {
      Raise("ValueError", seps.size() < 2 ? "not enough values to unpack (expected 2)"
                                          : "too many values to unpack (expected 2)");
    }
    if (!seps[0].is_string() || !seps[1].is_string()) {
      Raise("TypeError", "separators must be strings");
    }
    options.item_separator = seps[0].str();
    options.key_separator = seps[1].str();
  }
  options.sort_keys = Truthy(a[3]);
  std::string out = JsonDumps(v, options);
  interp.CheckSize(out.size());
  return Value::String(std::move(out));
}

Value FilterTrim(Interpreter&, const Value& v, CallArgs& args) {
  const auto a = BindArgs("trim", args, {{"chars", Value::None()}});
  const Value s = SoftStr(v);
  std::optional<std::string> chars;
  if (a[0].is_string()) {
    chars = a[0].str();
  } else if (!a[0].is_none()) {
    Raise("TypeError", "strip arg must be None or str");
  }
  return Value::String(std::string(PyStrip(s.str(), chars, true, true)), s.is_safe());
}

Value FilterTruncate(Interpreter&, const Value& v, CallArgs& args) {
  const auto a = BindArgs("truncate", args,
                          {{"length", Value::Int(255)},
                           {"killwords", Value::Bool(false)},
                           {"end", Value::String("...")},
                           {"leeway", Value::None()}});
  const int64_t length = ExpectInt(a[0], "length");
  const int64_t leeway = a[3].is_none() ? 5 : ExpectInt(a[3], "leeway");
  const std::string end = ToStr(a[2]);
  const int64_t end_len = static_cast<int64_t>(CodePointCount(end));
  if (length < end_len) {
    Raise("AssertionError",
          "expected length >= " + std::to_string(end_len) + ", got " + std::to_string(length));
  }
  if (leeway < 0) Raise("AssertionError", "expected leeway >= 0, got " + std::to_string(leeway));
  // jinja2 only needs len(): a short list or dict comes back unchanged.
  if (!v.is_string()) {
    if (Length(v) <= length + leeway) return v;
    Raise("TypeError", "'" + TypeName(v) + "' object cannot be truncated like a string");
  }
  const std::string& s = v.str();
  if (static_cast<int64_t>(CodePointCount(s)) <= length + leeway) return v;
  const std::string head = s.substr(0, CodePointOffset(s, static_cast<size_t>(length - end_len)));
  if (Truthy(a[1])) return Value::String(head + end, v.is_safe());
  const std::vector<std::string> parts = PyRSplit(head, " ", 1);
  return Value::String(parts[0] + end, v.is_safe());
}

Value FilterUnique(Interpreter& interp, const Value& v, CallArgs& args) {
  const auto a = BindArgs("unique", args,
                          {{"case_sensitive", Value::Bool(false)}, {"attribute", Value::None()}});
  const std::vector<Value> parts = AttributeParts(a[1]);
  const bool case_sensitive = Truthy(a[0]);
  std::vector<Value> seen, out;
  for (const Value& item : Iterate(v)) {
    Value key = GetPath(interp, item, parts);
    if (!case_sensitive) key = IgnoreCase(key);
    if (!IsHashable(key)) Raise("TypeError", "unhashable type: '" + TypeName(key) + "'");
    bool found = false;
    for (const Value& s : seen) {
      interp.Charge(1);
      if (Equals(s, key)) {
        found = true;
        break;
      }
    }
    if (!found) {
      seen.push_back(std::move(key));
      out.push_back(item);
    }
  }
  return Generator(std::move(out));
}

Value FilterWordcount(Interpreter&, const Value& v, CallArgs& args) {
  NoArgs("wordcount", args);
  const Value s = SoftStr(v);
  int64_t words = 0;
  bool in_word = false;
  for (size_t i = 0; i < s.str().size();) {
    const uint32_t cp = DecodeUtf8(s.str(), i);
    const bool word_char = cp == '_' || IsPyAlnum(cp);
    if (word_char && !in_word) ++words;
    in_word = word_char;
  }
  return Value::Int(words);
}

struct FilterEntry {
  std::string_view name;
  FilterFunction function;  // nullptr: a jinja2 filter autarky does not implement
};

constexpr FilterEntry kFilters[] = {
    {"abs", FilterAbs},
    {"attr", FilterAttr},
    {"batch", FilterBatch},
    {"capitalize", FilterCapitalize},
    {"center", FilterCenter},
    {"count", FilterLength},
    {"d", FilterDefault},
    {"default", FilterDefault},
    {"dictsort", FilterDictsort},
    {"e", FilterEscape},
    {"escape", FilterEscape},
    {"filesizeformat", FilterFilesizeformat},
    {"first", FilterFirst},
    {"float", FilterFloat},
    {"forceescape", FilterForceEscape},
    {"format", FilterFormat},
    {"groupby", FilterGroupby},
    {"indent", FilterIndent},
    {"int", FilterInt},
    {"items", FilterItems},
    {"join", FilterJoin},
    {"last", FilterLast},
    {"length", FilterLength},
    {"list", FilterList},
    {"lower", FilterLower},
    {"map", FilterMap},
    {"max", FilterMax},
    {"min", FilterMin},
    {"pprint", nullptr},
    {"random", nullptr},
    {"reject", FilterReject},
    {"rejectattr", FilterRejectattr},
    {"replace", FilterReplace},
    {"reverse", FilterReverse},
    {"round", FilterRound},
    {"safe", FilterSafe},
    {"select", FilterSelect},
    {"selectattr", FilterSelectattr},
    {"slice", FilterSlice},
    {"sort", FilterSort},
    {"string", FilterString},
    {"striptags", nullptr},
    {"sum", FilterSum},
    {"title", FilterTitle},
    {"tojson", FilterToJson},
    {"trim", FilterTrim},
    {"truncate", FilterTruncate},
    {"unique", FilterUnique},
    {"upper", FilterUpper},
    {"urlencode", nullptr},
    {"urlize", nullptr},
    {"wordcount", FilterWordcount},
    {"wordwrap", nullptr},
    {"xmlattr", nullptr},
};

const FilterEntry* FindFilterEntry(std::string_view name) {
  for (const FilterEntry& entry : kFilters) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

}  // namespace

FilterFunction FindFilter(std::string_view name) {
  const FilterEntry* entry = FindFilterEntry(name);
  return entry == nullptr ? nullptr : entry->function;
}

bool IsJinjaFilter(std::string_view name) { return FindFilterEntry(name) != nullptr; }

}  // namespace autarky::chat::jinja
