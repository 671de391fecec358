// Values of the Jinja interpreter: the part of Python's object model that chat templates see
// (None, bool, int, float, str with Markup's "safe" flag, list/tuple, dict, Jinja's Undefined,
// and objects such as namespaces, macros, loop contexts and bound methods).
//
// Lists and dicts are shared by reference, as in Python (a namespace attribute or `list.pop()`
// seen through two names is one object). Strings are UTF-8 and immutable.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace autarky::chat::jinja {

class Value;
class Interpreter;

enum class Kind : uint8_t {
  kUndefined,
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kList,
  kDict,
  kObject,
};

// The Python type behind a list-like value: iteration is the same for all, printing and a few
// operations differ (a generator has no length and iterates once).
enum class SeqKind : uint8_t {
  kList,
  kTuple,
  kDictItems,
  kDictKeys,
  kDictValues,
  kGenerator,
  kRange,  // range(start, stop, step), with its items
};

struct ListData {
  std::vector<Value> items;
  SeqKind seq = SeqKind::kList;
  bool consumed = false;  // a generator that was iterated
  uint32_t depth = 1;     // nesting of lists and dicts, 1 for a flat list
  // A tuple from the groupby filter: also has the attributes .grouper and .list.
  bool group_tuple = false;
  int64_t range_start = 0, range_stop = 0, range_step = 1;  // for kRange
};

// Lists and dicts nest at most this deep, so that printing, comparing, serializing and
// destroying them cannot exhaust the stack (Python raises RecursionError near 1000 too).
inline constexpr uint32_t kMaxValueDepth = 512;
// The longest string that can be iterated character by character (a value per character).
inline constexpr size_t kMaxIteratedStringBytes = size_t{1} << 20;

// Why a value is undefined, for the error raised when it is used.
struct UndefinedInfo {
  std::string message;    // e.g. "'foo' is undefined"
  bool security = false;  // the sandbox refused an attribute (SecurityError)
};

// Positional and keyword arguments of a call.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// Anything that is not a plain data value: namespaces, macros, loop contexts, functions.
class Object {
 public:
  virtual ~Object() = default;
  // Python's type name, for messages ("namespace", "LoopContext", "Macro", ...).
  virtual std::string TypeName() const = 0;
  // The attribute, or nullopt when there is none.
  virtual std::optional<Value> GetAttr(std::string_view name);
  virtual bool IsCallable() const { return false; }
  virtual Value Call(Interpreter& interp, CallArgs& args);
  virtual std::string Repr() const;
  // The namespace object of `namespace()`, whose attributes `{% set ns.x = ... %}` assigns.
  virtual bool IsNamespace() const { return false; }
  virtual void SetAttr(const std::string& name, Value value);
  // Drops the attributes of a namespace (to break reference cycles when rendering ends).
  virtual void ClearAttrs() {}
  // Iteration (loop contexts are iterable in Python, nothing else here is).
  virtual bool IsIterable() const { return false; }
};

class DictData;

class Value {
 public:
  Value() : kind_(Kind::kUndefined) {}
  static Value Undefined(std::string message = "", bool security = false);
  static Value None() { return Value(Kind::kNone); }
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Float(double f);
  static Value String(std::string s, bool safe = false);
  static Value List(std::vector<Value> items, SeqKind seq = SeqKind::kList);
  static Value Tuple(std::vector<Value> items) { return List(std::move(items), SeqKind::kTuple); }
  static Value Dict(std::shared_ptr<DictData> dict);
  static Value Dict();
  static Value FromObject(std::shared_ptr<Object> object);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  // Python's numbers.Number: bool, int and float.
  bool is_number() const {
    return kind_ == Kind::kBool || kind_ == Kind::kInt || kind_ == Kind::kFloat;
  }
  // bool and int (bool is an int in Python).
  bool is_integral() const { return kind_ == Kind::kBool || kind_ == Kind::kInt; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_object() const { return kind_ == Kind::kObject; }
  bool is_safe() const { return safe_; }  // a Markup string

  bool bool_value() const { return scalar_.b; }
  int64_t int_value() const { return kind_ == Kind::kBool ? (scalar_.b ? 1 : 0) : scalar_.i; }
  double float_value() const { return scalar_.f; }
  // int, bool or float as double.
  double AsDouble() const { return kind_ == Kind::kFloat ? scalar_.f : double(int_value()); }
  const std::string& str() const { return *std::get<std::shared_ptr<const std::string>>(ptr_); }
  ListData& list() const { return *std::get<std::shared_ptr<ListData>>(ptr_); }
  SeqKind seq_kind() const { return list().seq; }
  DictData& dict() const { return *std::get<std::shared_ptr<DictData>>(ptr_); }
  const std::shared_ptr<DictData>& dict_ptr() const {
    return std::get<std::shared_ptr<DictData>>(ptr_);
  }
  Object& object() const { return *std::get<std::shared_ptr<Object>>(ptr_); }
  const std::shared_ptr<Object>& object_ptr() const {
    return std::get<std::shared_ptr<Object>>(ptr_);
  }
  // Message for using this undefined value.
  std::string undefined_message() const;
  bool undefined_is_security() const;
  // Identity of the shared data (lists, dicts, objects), for `is sameas`.
  const void* identity() const;
  // Nesting depth of lists and dicts (0 for anything else).
  uint32_t depth() const;

 private:
  explicit Value(Kind kind) : kind_(kind) {}
  Kind kind_;
  bool safe_ = false;
  union {
    bool b;
    int64_t i;
    double f;
  } scalar_{};
  std::variant<std::monostate, std::shared_ptr<const std::string>, std::shared_ptr<ListData>,
               std::shared_ptr<DictData>, std::shared_ptr<Object>,
               std::shared_ptr<const UndefinedInfo>>
      ptr_;
};

// An insertion-ordered dict with Python's key equality (1 == 1.0 == True).
class DictData {
 public:
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // nullptr when absent. Keys must be hashable (see IsHashable).
  const Value* Find(const Value& key) const;
  const Value* Find(std::string_view key) const;
  void Set(Value key, Value value);
  bool Erase(const Value& key);
  const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }
  uint32_t depth() const { return depth_; }

 private:
  uint32_t depth_ = 1;
  std::optional<size_t> IndexOf(const Value& key) const;
  std::vector<std::pair<Value, Value>> entries_;
  std::unordered_map<std::string, size_t> string_index_;  // position of each str key
};

// ---- Python semantics (all throw TemplateError on a Python exception) ----

// Python's type(x).__name__: "str", "int", "NoneType", "list", "dict", "Undefined", ...
std::string TypeName(const Value& v);
// str(x) and repr(x).
std::string ToStr(const Value& v);
std::string Repr(const Value& v);
// repr(float): the shortest text that reads back as the same double.
std::string FormatFloat(double d);
bool Truthy(const Value& v);
// Python ==.
bool Equals(const Value& a, const Value& b);
// Python <, <=, >, >=: `op` is one of "<", "<=", ">", ">=". TypeError for unordered types.
bool Less(const Value& a, const Value& b);
bool CompareOp(const Value& a, const Value& b, std::string_view op);
// Whether the value can be a dict key or set member in Python.
bool IsHashable(const Value& v);
// len(x); TypeError when x has no length.
int64_t Length(const Value& v);
// The items `for x in v` visits (dict: keys, str: characters, Undefined: none). A generator
// is consumed. TypeError when not iterable.
std::vector<Value> Iterate(const Value& v);
bool IsIterable(const Value& v);
// `x in container` (Python's `in`).
bool Contains(const Value& container, const Value& x);

}  // namespace autarky::chat::jinja
