// Python semantics of Jinja values: str/repr, truth, equality, ordering, len, iteration.
#include "chat/jinja/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "chat/jinja/error.h"
#include "chat/jinja/py_unicode.h"

namespace autarky::chat::jinja {
namespace {

// Recursion guard for the functions that walk nested values: lists and dicts are bounded by
// kMaxValueDepth at construction, but a namespace can contain itself.
class DepthGuard {
 public:
  explicit DepthGuard(int& depth) : depth_(depth) {
    if (++depth_ > static_cast<int>(kMaxValueDepth) + 8) {
      --depth_;
      Raise("RecursionError", "maximum recursion depth exceeded while walking a value");
    }
  }
  ~DepthGuard() { --depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;

 private:
  int& depth_;
};

thread_local int walk_depth = 0;

void AppendHex(std::string& out, uint32_t v, int digits) {
  static const char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out.push_back(kHex[(v >> (4 * i)) & 0xF]);
}

std::string ReprString(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back(quote);
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    const uint32_t cp = DecodeUtf8(s, i);
    if (cp == static_cast<uint32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || cp == 0x7F) {
      out += "\\x";
      AppendHex(out, cp, 2);
    } else if (cp < 0x7F) {
      out.push_back(static_cast<char>(cp));
    } else if (cp >= 0xDC80 && cp <= 0xDCFF) {
      out += "\\udc";  // an escaped ill-formed byte, shown as Python shows the surrogate
      AppendHex(out, cp & 0xFF, 2);
    } else if (IsPyPrintable(cp)) {
      out.append(s.substr(start, i - start));
    } else if (cp <= 0xFF) {
      out += "\\x";
      AppendHex(out, cp, 2);
    } else if (cp <= 0xFFFF) {
      out += "\\u";
      AppendHex(out, cp, 4);
    } else {
      out += "\\U";
      AppendHex(out, cp, 8);
    }
  }
  out.push_back(quote);
  return out;
}

std::string ReprSequence(const ListData& list) {
  std::string out;
  const char* open = "[";
  const char* close = "]";
  switch (list.seq) {
    case SeqKind::kList:
      break;
    case SeqKind::kTuple:
      open = "(";
      close = list.items.size() == 1 ? ",)" : ")";
      break;
    case SeqKind::kDictItems:
      open = "dict_items([";
      close = "])";
      break;
    case SeqKind::kDictKeys:
      open = "dict_keys([";
      close = "])";
      break;
    case SeqKind::kDictValues:
      open = "dict_values([";
      close = "])";
      break;
    case SeqKind::kGenerator:
      return "<generator object>";
    case SeqKind::kRange:
      return "range(" + std::to_string(list.range_start) + ", " + std::to_string(list.range_stop) +
             (list.range_step != 1 ? ", " + std::to_string(list.range_step) : "") + ")";
  }
  out += open;
  for (size_t i = 0; i < list.items.size(); ++i) {
    if (i > 0) out += ", ";
    out += Repr(list.items[i]);
  }
  out += close;
  return out;
}

// Sign of (i - f) for an int and a finite or infinite double, exactly (Python compares an int
// and a float by value, not by converting the int to double). nullopt when f is NaN.
std::optional<int> CompareIntFloat(int64_t i, double f) {
  if (std::isnan(f)) return std::nullopt;
  if (f >= 9223372036854775808.0) return -1;  // 2^63: above every int64
  if (f < -9223372036854775808.0) return 1;
  const double fl = std::floor(f);
  const int64_t fi = static_cast<int64_t>(fl);  // exact: |fl| < 2^63
  if (i < fi) return -1;
  if (i > fi) return 1;
  return fl == f ? 0 : -1;  // i == floor(f) < f when f has a fraction
}

// Sign of a - b for two numbers; nullopt when unordered (NaN).
std::optional<int> CompareNumbers(const Value& a, const Value& b) {
  if (!a.is_float() && !b.is_float()) {
    const int64_t x = a.int_value(), y = b.int_value();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_float() && b.is_float()) {
    const double x = a.float_value(), y = b.float_value();
    if (std::isnan(x) || std::isnan(y)) return std::nullopt;
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_float()) {
    const std::optional<int> c = CompareIntFloat(b.int_value(), a.float_value());
    if (!c) return std::nullopt;
    return -*c;
  }
  return CompareIntFloat(a.int_value(), b.float_value());
}

// dict_keys and dict_items compare as sets in Python (==, <=, < ...).
bool IsSetLikeView(const Value& v) {
  return v.is_list() && (v.seq_kind() == SeqKind::kDictKeys || v.seq_kind() == SeqKind::kDictItems);
}

bool SetContains(const std::vector<Value>& set, const Value& x) {
  for (const Value& item : set) {
    if (Equals(item, x)) return true;
  }
  return false;
}

bool IsSubset(const Value& a, const Value& b) {
  for (const Value& x : a.list().items) {
    if (!SetContains(b.list().items, x)) return false;
  }
  return true;
}

bool SameSeqFamily(const Value& a, const Value& b) {
  const SeqKind x = a.seq_kind(), y = b.seq_kind();
  if (x == SeqKind::kGenerator || y == SeqKind::kGenerator) return false;
  return x == y;
}

[[noreturn]] void RaiseUnordered(const Value& a, const Value& b, std::string_view op) {
  Raise("TypeError", "'" + std::string(op) + "' not supported between instances of '" +
                         TypeName(a) + "' and '" + TypeName(b) + "'");
}

bool ApplyOrder(int sign, std::string_view op) {
  if (op == "<") return sign < 0;
  if (op == "<=") return sign <= 0;
  if (op == ">") return sign > 0;
  return sign >= 0;
}

}  // namespace

// ---- Object defaults ----

std::optional<Value> Object::GetAttr(std::string_view) { return std::nullopt; }

Value Object::Call(Interpreter&, CallArgs&) {
  Raise("TypeError", "'" + TypeName() + "' object is not callable");
}

std::string Object::Repr() const { return "<" + TypeName() + " object>"; }

void Object::SetAttr(const std::string&, Value) {
  Raise("TypeError", "cannot assign attribute on non-namespace object");
}

// ---- Value ----

Value Value::Undefined(std::string message, bool security) {
  Value v(Kind::kUndefined);
  if (!message.empty() || security) {
    v.ptr_ = std::make_shared<const UndefinedInfo>(UndefinedInfo{std::move(message), security});
  }
  return v;
}

Value Value::Bool(bool b) {
  Value v(Kind::kBool);
  v.scalar_.b = b;
  return v;
}

Value Value::Int(int64_t i) {
  Value v(Kind::kInt);
  v.scalar_.i = i;
  return v;
}

Value Value::Float(double f) {
  Value v(Kind::kFloat);
  v.scalar_.f = f;
  return v;
}

Value Value::String(std::string s, bool safe) {
  Value v(Kind::kString);
  v.safe_ = safe;
  v.ptr_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

Value Value::List(std::vector<Value> items, SeqKind seq) {
  uint32_t depth = 1;
  for (const Value& item : items) depth = std::max(depth, item.depth() + 1);
  if (depth > kMaxValueDepth) {
    Raise("RecursionError",
          "lists and dicts nest more than " + std::to_string(kMaxValueDepth) + " levels deep");
  }
  Value v(Kind::kList);
  auto data = std::make_shared<ListData>();
  data->items = std::move(items);
  data->seq = seq;
  data->depth = depth;
  v.ptr_ = std::move(data);
  return v;
}

Value Value::Dict(std::shared_ptr<DictData> dict) {
  Value v(Kind::kDict);
  v.ptr_ = std::move(dict);
  return v;
}

Value Value::Dict() { return Dict(std::make_shared<DictData>()); }

Value Value::FromObject(std::shared_ptr<Object> object) {
  Value v(Kind::kObject);
  v.ptr_ = std::move(object);
  return v;
}

std::string Value::undefined_message() const {
  if (const auto* info = std::get_if<std::shared_ptr<const UndefinedInfo>>(&ptr_)) {
    if (!(*info)->message.empty()) return (*info)->message;
  }
  return "value is undefined";
}

bool Value::undefined_is_security() const {
  if (const auto* info = std::get_if<std::shared_ptr<const UndefinedInfo>>(&ptr_)) {
    return (*info)->security;
  }
  return false;
}

const void* Value::identity() const {
  switch (kind_) {
    case Kind::kString:
      return std::get<std::shared_ptr<const std::string>>(ptr_).get();
    case Kind::kList:
      return std::get<std::shared_ptr<ListData>>(ptr_).get();
    case Kind::kDict:
      return std::get<std::shared_ptr<DictData>>(ptr_).get();
    case Kind::kObject:
      return std::get<std::shared_ptr<Object>>(ptr_).get();
    default:
      return nullptr;
  }
}

uint32_t Value::depth() const {
  if (kind_ == Kind::kList) return list().depth;
  if (kind_ == Kind::kDict) return dict().depth();
  return 0;
}

// ---- DictData ----

std::optional<size_t> DictData::IndexOf(const Value& key) const {
  if (key.is_string()) {
    const auto it = string_index_.find(key.str());
    if (it == string_index_.end()) return std::nullopt;
    return it->second;
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Value& k = entries_[i].first;
    if (!k.is_string() && Equals(k, key)) return i;
  }
  return std::nullopt;
}

const Value* DictData::Find(const Value& key) const {
  const std::optional<size_t> i = IndexOf(key);
  return i ? &entries_[*i].second : nullptr;
}

const Value* DictData::Find(std::string_view key) const {
  const auto it = string_index_.find(std::string(key));
  return it == string_index_.end() ? nullptr : &entries_[it->second].second;
}

void DictData::Set(Value key, Value value) {
  const uint32_t depth = std::max(key.depth(), value.depth()) + 1;
  if (depth > kMaxValueDepth) {
    Raise("RecursionError",
          "lists and dicts nest more than " + std::to_string(kMaxValueDepth) + " levels deep");
  }
  depth_ = std::max(depth_, depth);
  if (const std::optional<size_t> i = IndexOf(key)) {
    entries_[*i].second = std::move(value);
    return;
  }
  if (key.is_string()) string_index_[key.str()] = entries_.size();
  entries_.emplace_back(std::move(key), std::move(value));
}

bool DictData::Erase(const Value& key) {
  const std::optional<size_t> i = IndexOf(key);
  if (!i) return false;
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(*i));
  string_index_.clear();
  for (size_t k = 0; k < entries_.size(); ++k) {
    if (entries_[k].first.is_string()) string_index_[entries_[k].first.str()] = k;
  }
  return true;
}

// ---- Python semantics ----

std::string TypeName(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
      return "Undefined";
    case Kind::kNone:
      return "NoneType";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return v.is_safe() ? "Markup" : "str";
    case Kind::kList:
      switch (v.seq_kind()) {
        case SeqKind::kList:
          return "list";
        case SeqKind::kTuple:
          return "tuple";
        case SeqKind::kDictItems:
          return "dict_items";
        case SeqKind::kDictKeys:
          return "dict_keys";
        case SeqKind::kDictValues:
          return "dict_values";
        case SeqKind::kGenerator:
          return "generator";
        case SeqKind::kRange:
          return "range";
      }
      return "list";
    case Kind::kDict:
      return "dict";
    case Kind::kObject:
      return v.object().TypeName();
  }
  return "object";
}

std::string FormatFloat(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  // sci is "[-]D[.DDD]e(+|-)XX": split into sign, digits and exponent.
  size_t pos = 0;
  const bool negative = sci[0] == '-';
  if (negative) pos = 1;
  std::string digits;
  const size_t e_at = sci.find('e');
  for (size_t i = pos; i < e_at; ++i) {
    if (sci[i] != '.') digits.push_back(sci[i]);
  }
  int exponent = 0;
  std::from_chars(sci.data() + e_at + 1 + (sci[e_at + 1] == '+' ? 1 : 0), sci.data() + sci.size(),
                  exponent);
  const int decpt = exponent + 1;  // position of the decimal point after the first digit
  std::string out = negative ? "-" : "";
  // Python's repr switches to exponent notation outside 1e-4 <= |d| < 1e16.
  if (decpt <= -4 || decpt > 16) {
    out += digits[0];
    if (digits.size() > 1) {
      out += '.';
      out.append(digits, 1);
    }
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+',
                  exponent < 0 ? -exponent : exponent);
    out += exp_buf;
  } else if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-decpt), '0');
    out += digits;
  } else if (static_cast<size_t>(decpt) >= digits.size()) {
    out += digits;
    out.append(static_cast<size_t>(decpt) - digits.size(), '0');
    out += ".0";
  } else {
    out.append(digits, 0, static_cast<size_t>(decpt));
    out += '.';
    out.append(digits, static_cast<size_t>(decpt));
  }
  return out;
}

std::string ToStr(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
      return "";
    case Kind::kString:
      return v.str();
    case Kind::kObject:
      return v.object().Repr();
    default:
      return Repr(v);
  }
}

std::string Repr(const Value& v) {
  DepthGuard guard(walk_depth);
  switch (v.kind()) {
    case Kind::kUndefined:
      return "Undefined";
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return v.bool_value() ? "True" : "False";
    case Kind::kInt:
      return std::to_string(v.int_value());
    case Kind::kFloat:
      return FormatFloat(v.float_value());
    case Kind::kString:
      return v.is_safe() ? "Markup(" + ReprString(v.str()) + ")" : ReprString(v.str());
    case Kind::kList:
      return ReprSequence(v.list());
    case Kind::kDict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [key, value] : v.dict().entries()) {
        if (!first) out += ", ";
        first = false;
        out += Repr(key);
        out += ": ";
        out += Repr(value);
      }
      out += "}";
      return out;
    }
    case Kind::kObject:
      return v.object().Repr();
  }
  return "";
}

bool Truthy(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool:
      return v.bool_value();
    case Kind::kInt:
      return v.int_value() != 0;
    case Kind::kFloat:
      return v.float_value() != 0.0;
    case Kind::kString:
      return !v.str().empty();
    case Kind::kList:
      return v.seq_kind() == SeqKind::kGenerator || !v.list().items.empty();
    case Kind::kDict:
      return !v.dict().empty();
    case Kind::kObject:
      return true;
  }
  return false;
}

bool Equals(const Value& a, const Value& b) {
  DepthGuard guard(walk_depth);
  if (a.is_number() && b.is_number()) {
    const std::optional<int> c = CompareNumbers(a, b);
    return c && *c == 0;
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kUndefined:
    case Kind::kNone:
      return true;
    case Kind::kString:
      return a.str() == b.str();
    case Kind::kList: {
      if (a.identity() == b.identity()) return true;
      if (IsSetLikeView(a) && IsSetLikeView(b)) {
        return a.list().items.size() == b.list().items.size() && IsSubset(a, b);
      }
      if (!SameSeqFamily(a, b)) return false;
      const auto& x = a.list().items;
      const auto& y = b.list().items;
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!Equals(x[i], y[i])) return false;
      }
      return true;
    }
    case Kind::kDict: {
      if (a.identity() == b.identity()) return true;
      const DictData& x = a.dict();
      const DictData& y = b.dict();
      if (x.size() != y.size()) return false;
      for (const auto& [key, value] : x.entries()) {
        const Value* other = y.Find(key);
        if (other == nullptr || !Equals(value, *other)) return false;
      }
      return true;
    }
    case Kind::kObject:
      return a.identity() == b.identity();
    default:
      return false;
  }
}

bool CompareOp(const Value& a, const Value& b, std::string_view op) {
  DepthGuard guard(walk_depth);
  if (a.is_undefined()) Raise("UndefinedError", a.undefined_message());
  if (b.is_undefined()) Raise("UndefinedError", b.undefined_message());
  if (a.is_number() && b.is_number()) {
    const std::optional<int> c = CompareNumbers(a, b);
    return c && ApplyOrder(*c, op);
  }
  if (IsSetLikeView(a) && IsSetLikeView(b)) {
    const size_t na = a.list().items.size(), nb = b.list().items.size();
    if (op == "<=") return IsSubset(a, b);
    if (op == "<") return na < nb && IsSubset(a, b);
    if (op == ">=") return IsSubset(b, a);
    return na > nb && IsSubset(b, a);
  }
  if (a.is_string() && b.is_string()) {
    // UTF-8 byte order is code point order.
    const int c = a.str().compare(b.str());
    return ApplyOrder(c < 0 ? -1 : (c > 0 ? 1 : 0), op);
  }
  if (a.is_list() && b.is_list() && SameSeqFamily(a, b) && a.seq_kind() != SeqKind::kDictItems &&
      a.seq_kind() != SeqKind::kRange && a.seq_kind() != SeqKind::kDictKeys &&
      a.seq_kind() != SeqKind::kDictValues) {
    const auto& x = a.list().items;
    const auto& y = b.list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!Equals(x[i], y[i])) return CompareOp(x[i], y[i], op);
    }
    const int c = x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    return ApplyOrder(c, op);
  }
  RaiseUnordered(a, b, op);
}

bool Less(const Value& a, const Value& b) { return CompareOp(a, b, "<"); }

bool IsHashable(const Value& v) {
  switch (v.kind()) {
    case Kind::kList:
      if (v.seq_kind() == SeqKind::kGenerator) return true;
      if (v.seq_kind() != SeqKind::kTuple) return false;
      for (const Value& item : v.list().items) {
        if (!IsHashable(item)) return false;
      }
      return true;
    case Kind::kDict:
      return false;
    default:
      return true;
  }
}

int64_t Length(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
      return 0;
    case Kind::kString:
      return static_cast<int64_t>(CodePointCount(v.str()));
    case Kind::kList:
      if (v.seq_kind() == SeqKind::kGenerator) break;
      return static_cast<int64_t>(v.list().items.size());
    case Kind::kDict:
      return static_cast<int64_t>(v.dict().size());
    default:
      break;
  }
  Raise("TypeError", "object of type '" + TypeName(v) + "' has no len()");
}

bool IsIterable(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
    case Kind::kString:
    case Kind::kList:
    case Kind::kDict:
      return true;
    case Kind::kObject:
      return v.object().IsIterable();
    default:
      return false;
  }
}

std::vector<Value> Iterate(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
      return {};
    case Kind::kString: {
      std::vector<Value> out;
      const std::string& s = v.str();
      // One value per character: refuse what would take gigabytes (no chat template walks
      // a long text character by character; Python would).
      if (s.size() > kMaxIteratedStringBytes) {
        Raise("MemoryError", "iterating over a string of " + std::to_string(s.size()) +
                                 " bytes (the limit is " + std::to_string(kMaxIteratedStringBytes) +
                                 ")");
      }
      for (size_t i = 0; i < s.size();) {
        const size_t start = i;
        DecodeUtf8(s, i);
        // Iterating a Markup gives plain str characters (indexing it keeps Markup).
        out.push_back(Value::String(s.substr(start, i - start)));
      }
      return out;
    }
    case Kind::kList: {
      ListData& list = v.list();
      if (list.seq == SeqKind::kGenerator) {
        if (list.consumed) return {};
        list.consumed = true;
      }
      return list.items;
    }
    case Kind::kDict: {
      std::vector<Value> out;
      out.reserve(v.dict().size());
      for (const auto& entry : v.dict().entries()) out.push_back(entry.first);
      return out;
    }
    default:
      break;
  }
  Raise("TypeError", "'" + TypeName(v) + "' object is not iterable");
}

bool Contains(const Value& container, const Value& x) {
  switch (container.kind()) {
    case Kind::kUndefined:
      return false;
    case Kind::kString:
      if (!x.is_string()) {
        Raise("TypeError", "'in <string>' requires string as left operand, not " + TypeName(x));
      }
      return container.str().find(x.str()) != std::string::npos;
    case Kind::kList:
      // Dict views look keys up by hash.
      if (container.seq_kind() == SeqKind::kDictKeys && !IsHashable(x)) {
        Raise("TypeError", "unhashable type: '" + TypeName(x) + "'");
      }
      if (container.seq_kind() == SeqKind::kDictItems && x.is_list() &&
          x.seq_kind() == SeqKind::kTuple && x.list().items.size() == 2 &&
          !IsHashable(x.list().items[0])) {
        Raise("TypeError", "unhashable type: '" + TypeName(x.list().items[0]) + "'");
      }
      for (const Value& item : Iterate(container)) {
        if (Equals(item, x)) return true;
      }
      return false;
    case Kind::kDict:
      if (!IsHashable(x)) Raise("TypeError", "unhashable type: '" + TypeName(x) + "'");
      return container.dict().Find(x) != nullptr;
    default:
      break;
  }
  Raise("TypeError", "argument of type '" + TypeName(container) + "' is not iterable");
}

}  // namespace autarky::chat::jinja
