// The global functions of the environment: jinja2's range (sandboxed), dict, namespace,
// cycler, joiner and lipsum, and transformers' raise_exception and strftime_now.
#include <chrono>
#include <ctime>

#include "chat/jinja/builtins.h"
#include "chat/jinja/error.h"
#include "chat/jinja/operators.h"

namespace autarky::chat::jinja {
namespace {

// The sandbox refuses ranges longer than this (jinja2.sandbox.MAX_RANGE).
constexpr int64_t kMaxRange = 100000;

class NamespaceObject : public Object {
 public:
  std::string TypeName() const override { return "Namespace"; }
  bool IsNamespace() const override { return true; }
  std::optional<Value> GetAttr(std::string_view name) override {
    if (const Value* v = attrs_.Find(name)) return *v;
    return std::nullopt;
  }
  void SetAttr(const std::string& name, Value value) override {
    attrs_.Set(Value::String(name), std::move(value));
  }
  void ClearAttrs() override { attrs_ = DictData(); }
  std::string Repr() const override {
    // Python's dict repr of the attributes, via a temporary dict value.
    auto copy = std::make_shared<DictData>(attrs_);
    return "<Namespace " + jinja::Repr(Value::Dict(copy)) + ">";
  }
  DictData& attrs() { return attrs_; }

 private:
  DictData attrs_;
};

class CyclerObject : public Object {
 public:
  explicit CyclerObject(std::vector<Value> items) : items_(std::move(items)) {}
  std::string TypeName() const override { return "Cycler"; }
  std::optional<Value> GetAttr(std::string_view name) override {
    if (name == "items") return Value::Tuple(items_);
    if (name == "current") return items_[pos_];
    if (name == "pos") return Value::Int(static_cast<int64_t>(pos_));
    if (name == "next" || name == "__next__") {
      return MakeFunction(
          "next",
          [this, keep = self_.lock()](Interpreter&, CallArgs& args) -> Value {
            BindArgs("next", args, {});
            Value rv = items_[pos_];
            pos_ = (pos_ + 1) % items_.size();
            return rv;
          },
          "method");
    }
    if (name == "reset") {
      return MakeFunction(
          "reset",
          [this, keep = self_.lock()](Interpreter&, CallArgs& args) -> Value {
            BindArgs("reset", args, {});
            pos_ = 0;
            return Value::None();
          },
          "method");
    }
    return std::nullopt;
  }
  void SetSelf(const std::weak_ptr<Object>& self) { self_ = self; }

 private:
  std::vector<Value> items_;
  size_t pos_ = 0;
  std::weak_ptr<Object> self_;
};

class JoinerObject : public Object {
 public:
  explicit JoinerObject(std::string sep) : sep_(std::move(sep)) {}
  std::string TypeName() const override { return "Joiner"; }
  bool IsCallable() const override { return true; }
  Value Call(Interpreter&, CallArgs& args) override {
    BindArgs("joiner", args, {});
    if (!used_) {
      used_ = true;
      return Value::String("");
    }
    return Value::String(sep_);
  }

 private:
  std::string sep_;
  bool used_ = false;
};

Value Range(Interpreter& interp, CallArgs& args) {
  if (!args.keyword.empty()) Raise("TypeError", "range() takes no keyword arguments");
  const auto& p = args.positional;
  if (p.empty() || p.size() > 3) {
    Raise("TypeError", "range expected at most 3 arguments, got " + std::to_string(p.size()));
  }
  int64_t start = 0, stop = 0, step = 1;
  if (p.size() == 1) {
    stop = ExpectInt(p[0], "range");
  } else {
    start = ExpectInt(p[0], "range");
    stop = ExpectInt(p[1], "range");
    if (p.size() == 3) step = ExpectInt(p[2], "range");
  }
  if (step == 0) Raise("ValueError", "range() arg 3 must not be zero");
  // The distance fits in uint64 whatever the int64 bounds are.
  uint64_t length = 0;
  if (step > 0 && start < stop) {
    length = (static_cast<uint64_t>(stop) - static_cast<uint64_t>(start) - 1) /
                 static_cast<uint64_t>(step) +
             1;
  } else if (step < 0 && start > stop) {
    length = (static_cast<uint64_t>(start) - static_cast<uint64_t>(stop) - 1) /
                 (0 - static_cast<uint64_t>(step)) +
             1;
  }
  if (length > static_cast<uint64_t>(kMaxRange)) {
    Raise("OverflowError", "Range too big. The sandbox blocks ranges larger than MAX_RANGE (" +
                               std::to_string(kMaxRange) + ").");
  }
  interp.Charge(static_cast<uint64_t>(length));
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(length));
  // Unsigned arithmetic: every item lies between start and stop, but i * step alone may not
  // fit in int64.
  for (uint64_t i = 0; i < length; ++i) {
    items.push_back(Value::Int(
        static_cast<int64_t>(static_cast<uint64_t>(start) + i * static_cast<uint64_t>(step))));
  }
  Value range = Value::List(std::move(items), SeqKind::kRange);
  range.list().range_start = start;
  range.list().range_stop = stop;
  range.list().range_step = step;
  return range;
}

// dict(mapping_or_pairs, **kwargs) into `out`.
void FillDict(DictData& out, CallArgs& args, std::string_view function) {
  if (args.positional.size() > 1) {
    Raise("TypeError", std::string(function) + " expected at most 1 argument, got " +
                           std::to_string(args.positional.size()));
  }
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is_dict()) {
      for (const auto& [k, v] : source.dict().entries()) out.Set(k, v);
    } else {
      size_t index = 0;
      for (const Value& pair : Iterate(source)) {
        std::vector<Value> kv =
            IsIterable(pair) && !pair.is_undefined() ? Iterate(pair) : std::vector<Value>{};
        if (kv.size() != 2) {
          Raise("ValueError", "dictionary update sequence element #" + std::to_string(index) +
                                  " has length " + std::to_string(kv.size()) + "; 2 is required");
        }
        if (!IsHashable(kv[0])) Raise("TypeError", "unhashable type: '" + TypeName(kv[0]) + "'");
        out.Set(std::move(kv[0]), std::move(kv[1]));
        ++index;
      }
    }
  }
  for (auto& [k, v] : args.keyword) out.Set(Value::String(k), v);
}

Value StrftimeNow(Interpreter& interp, CallArgs& args) {
  const Value format = BindArgs("strftime_now", args, {{"format", std::nullopt}})[0];
  if (!format.is_string()) {
    Raise("TypeError", "strftime() argument 1 must be str, not " + TypeName(format));
  }
  int64_t seconds = 0, micros = 0;
  if (interp.now_seconds()) {
    seconds = *interp.now_seconds();
  } else {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
    seconds = us / 1000000;
    micros = us % 1000000;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  localtime_r(&t, &tm);
  // datetime.now() is naive: %z and %Z are empty, %f is the microseconds; everything else
  // goes to the C library's strftime, as Python does.
  std::string fmt;
  const std::string& f = format.str();
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == '%' && i + 1 < f.size()) {
      const char c = f[i + 1];
      if (c == 'z' || c == 'Z') {
        ++i;
        continue;
      }
      if (c == 'f') {
        char buf[16];
        std::snprintf(buf, sizeof(buf), "%06lld", static_cast<long long>(micros));
        fmt += buf;
        ++i;
        continue;
      }
      fmt += f[i];
      fmt += c;
      ++i;
      continue;
    }
    fmt += f[i];
  }
  if (fmt.empty()) return Value::String("");
  std::string out(fmt.size() * 4 + 256, '\0');
  interp.CheckSize(out.size());
  const size_t n = std::strftime(out.data(), out.size(), fmt.c_str(), &tm);
  out.resize(n);
  return Value::String(std::move(out));
}

}  // namespace

void AddGlobals(Scope& scope) {
  scope.Set("range", MakeFunction("range", Range, "type"));
  scope.Set("dict", MakeFunction(
                        "dict",
                        [](Interpreter&, CallArgs& args) -> Value {
                          Value out = Value::Dict();
                          FillDict(out.dict(), args, "dict");
                          return out;
                        },
                        "type"));
  scope.Set("namespace", MakeFunction(
                             "namespace",
                             [](Interpreter& interp, CallArgs& args) -> Value {
                               auto ns = std::make_shared<NamespaceObject>();
                               FillDict(ns->attrs(), args, "Namespace");
                               interp.RegisterNamespace(ns);
                               return Value::FromObject(ns);
                             },
                             "type"));
  scope.Set("cycler", MakeFunction(
                          "cycler",
                          [](Interpreter&, CallArgs& args) -> Value {
                            if (!args.keyword.empty()) {
                              Raise("TypeError", "Cycler() got an unexpected keyword argument");
                            }
                            if (args.positional.empty()) {
                              Raise("RuntimeError", "at least one item has to be provided");
                            }
                            auto cycler = std::make_shared<CyclerObject>(args.positional);
                            cycler->SetSelf(cycler);
                            return Value::FromObject(cycler);
                          },
                          "type"));
  scope.Set("joiner",
            MakeFunction(
                "joiner",
                [](Interpreter&, CallArgs& args) -> Value {
                  const Value sep = BindArgs("joiner", args, {{"sep", Value::String(", ")}})[0];
                  return Value::FromObject(std::make_shared<JoinerObject>(ToStr(sep)));
                },
                "type"));
  scope.Set("lipsum", MakeFunction("lipsum", [](Interpreter&, CallArgs&) -> Value {
              Raise("NotImplementedError",
                    "lipsum() produces random text; autarky's Jinja does not "
                    "support it");
            }));
  scope.Set(
      "raise_exception", MakeFunction("raise_exception", [](Interpreter&, CallArgs& args) -> Value {
        const Value message = BindArgs("raise_exception", args, {{"message", std::nullopt}})[0];
        Raise("TemplateError", ToStr(message));
      }));
  scope.Set("strftime_now", MakeFunction("strftime_now", StrftimeNow));
}

}  // namespace autarky::chat::jinja
