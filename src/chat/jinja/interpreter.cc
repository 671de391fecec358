// The Jinja interpreter (see interpreter.h).
#include "chat/jinja/interpreter.h"

#include "chat/jinja/builtins.h"
#include "chat/jinja/error.h"
#include "chat/jinja/operators.h"
#include "chat/jinja/py_unicode.h"

namespace autarky::chat::jinja {
namespace {

std::string ObjectTypeRepr(const Value& v) {
  if (v.is_none()) return "None";
  if (v.is_object() && v.object().IsNamespace()) return "jinja2.utils.Namespace object";
  return TypeName(v) + " object";
}

Value NoAttribute(const Value& object, std::string_view name) {
  return Value::Undefined("'" + ObjectTypeRepr(object) + "' has no attribute '" +
                          std::string(name) + "'");
}

Value UnsafeAttribute(const Value& object, std::string_view name) {
  return Value::Undefined("access to attribute '" + std::string(name) + "' of '" +
                              TypeName(object) + "' object is unsafe.",
                          true);
}

class MacroObject : public Object {
 public:
  MacroObject(const MacroNode* node, std::weak_ptr<Scope> closure)
      : node_(node), closure_(std::move(closure)) {}
  std::string TypeName() const override { return "Macro"; }
  bool IsCallable() const override { return true; }
  Value Call(Interpreter& interp, CallArgs& args) override {
    return interp.CallMacro(*node_, closure_, args);
  }
  std::string Repr() const override { return "<Macro '" + node_->name + "'>"; }
  std::optional<Value> GetAttr(std::string_view name) override {
    if (name == "name") return Value::String(node_->name);
    if (name == "arguments") {
      std::vector<Value> params;
      for (const std::string& p : node_->params) params.push_back(Value::String(p));
      return Value::Tuple(std::move(params));
    }
    if (name == "catch_kwargs") return Value::Bool(node_->uses_kwargs);
    if (name == "catch_varargs") return Value::Bool(node_->uses_varargs);
    if (name == "caller") return Value::Bool(node_->uses_caller);
    return std::nullopt;
  }

 private:
  const MacroNode* node_;
  // Weak: the scope holds the macro, so a strong reference would be a cycle. A macro cannot
  // outlive its scope in practice (it would have to be stored in a namespace and called
  // after its loop iteration ended); that case fails with an error.
  std::weak_ptr<Scope> closure_;
};

// jinja2's LoopContext: loop.index, loop.first, loop.cycle(...), loop(...) when recursive.
class LoopObject : public Object {
 public:
  LoopObject(std::shared_ptr<const std::vector<Value>> items, int depth0, const ForNode* node,
             std::weak_ptr<Scope> scope)
      : items_(std::move(items)), depth0_(depth0), node_(node), scope_(std::move(scope)) {}

  void SetIndex(size_t index0) { index0_ = index0; }

  std::string TypeName() const override { return "LoopContext"; }
  bool IsCallable() const override { return true; }
  std::string Repr() const override {
    return "<LoopContext " + std::to_string(index0_ + 1) + "/" + std::to_string(length()) + ">";
  }

  Value Call(Interpreter& interp, CallArgs& args) override {
    if (!node_->recursive) {
      Raise("TypeError", "The loop must have the 'recursive' marker to be called recursively.");
    }
    if (args.positional.size() != 1 || !args.keyword.empty()) {
      Raise("TypeError", "loop() takes exactly one argument");
    }
    const ScopePtr scope = scope_.lock();
    if (!scope) Raise("TemplateRuntimeError", "the recursive loop has ended");
    return Value::String(
        interp.RenderRecursiveLoop(*node_, scope, Iterate(args.positional[0]), depth0_ + 1));
  }

  std::optional<Value> GetAttr(std::string_view name) override {
    const int64_t n = static_cast<int64_t>(length());
    const int64_t i = static_cast<int64_t>(index0_);
    if (name == "index0") return Value::Int(i);
    if (name == "index") return Value::Int(i + 1);
    if (name == "revindex") return Value::Int(n - i);
    if (name == "revindex0") return Value::Int(n - i - 1);
    if (name == "first") return Value::Bool(i == 0);
    if (name == "last") return Value::Bool(i + 1 == n);
    if (name == "length") return Value::Int(n);
    if (name == "depth") return Value::Int(depth0_ + 1);
    if (name == "depth0") return Value::Int(depth0_);
    if (name == "previtem") {
      if (i == 0) return Value::Undefined("there is no previous item");
      return (*items_)[index0_ - 1];
    }
    if (name == "nextitem") {
      if (i + 1 >= n) return Value::Undefined("there is no next item");
      return (*items_)[index0_ + 1];
    }
    if (name == "cycle") {
      const size_t index0 = index0_;
      return MakeFunction(
          "cycle",
          [index0](Interpreter&, CallArgs& args) -> Value {
            if (args.positional.empty()) Raise("TypeError", "no items for cycling given");
            return args.positional[index0 % args.positional.size()];
          },
          "method");
    }
    if (name == "changed") {
      std::shared_ptr<ChangedState> state = changed_;
      return MakeFunction(
          "changed",
          [state](Interpreter&, CallArgs& args) -> Value {
            Value now = Value::Tuple(args.positional);
            if (state->has_last && Equals(state->last, now)) return Value::Bool(false);
            state->last = std::move(now);
            state->has_last = true;
            return Value::Bool(true);
          },
          "method");
    }
    return std::nullopt;
  }

 private:
  struct ChangedState {
    Value last;
    bool has_last = false;
  };
  size_t length() const { return items_->size(); }

  std::shared_ptr<const std::vector<Value>> items_;
  size_t index0_ = 0;
  int depth0_;
  const ForNode* node_;
  std::weak_ptr<Scope> scope_;
  std::shared_ptr<ChangedState> changed_ = std::make_shared<ChangedState>();
};

// Whether jinja2's optimizer would fold the expression to a constant (literals only).
bool IsConstExpr(const Node& node) {
  switch (node.kind) {
    case NodeKind::kConst:
      return true;
    case NodeKind::kList:
    case NodeKind::kTuple:
      for (const NodePtr& item : static_cast<const SequenceNode&>(node).items) {
        if (!IsConstExpr(*item)) return false;
      }
      return true;
    case NodeKind::kDict:
      for (const auto& [k, v] : static_cast<const DictNode&>(node).items) {
        if (!IsConstExpr(*k) || !IsConstExpr(*v)) return false;
      }
      return true;
    default:
      return false;
  }
}

std::optional<int64_t> SliceIndex(const Value& v) {
  if (v.is_none()) return std::nullopt;
  if (!v.is_integral()) Raise("TypeError", "slice indices must be integers or None");
  return v.int_value();
}

}  // namespace

// Counts macro calls and recursive loops in progress against RenderLimits::max_call_depth.
class Interpreter::CallDepthGuard {
 public:
  explicit CallDepthGuard(Interpreter& interp) : interp_(interp) {
    if (++interp_.call_depth_ > interp_.limits_.max_call_depth) {
      --interp_.call_depth_;
      Raise("RecursionError", "macro calls nest more than " +
                                  std::to_string(interp_.limits_.max_call_depth) + " deep");
    }
  }
  ~CallDepthGuard() { --interp_.call_depth_; }
  CallDepthGuard(const CallDepthGuard&) = delete;
  CallDepthGuard& operator=(const CallDepthGuard&) = delete;

 private:
  Interpreter& interp_;
};

const Value* Scope::Find(std::string_view name) const {
  // Heterogeneous lookup needs C++20 transparent hashing; names are short, so copy.
  const std::string key(name);
  for (const Scope* s = this; s != nullptr; s = s->parent_.get()) {
    const auto it = s->vars_.find(key);
    if (it != s->vars_.end()) return &it->second;
  }
  return nullptr;
}

Interpreter::Interpreter(const RenderLimits& limits, std::optional<int64_t> now_seconds)
    : limits_(limits), now_seconds_(now_seconds) {}

Interpreter::~Interpreter() {
  // Break the reference cycles a namespace can be part of ({% set ns.me = ns %}).
  for (const auto& ns : namespaces_) ns->ClearAttrs();
}

std::string Interpreter::Render(const TemplateAst& ast, const ScopePtr& globals) {
  std::string out;
  out_ = &out;
  try {
    Exec(ast.body, std::make_shared<Scope>(globals));
  } catch (TemplateError& e) {
    if (!e.has_position()) e.SetPosition(line_, column_);
    throw;
  }
  out_ = nullptr;
  return out;
}

void Interpreter::Charge(uint64_t steps) {
  steps_ += steps;
  if (steps_ > limits_.max_steps) {
    Raise("TemplateError", "rendering took more than " + std::to_string(limits_.max_steps) +
                               " steps (a loop that does not end?)");
  }
}

void Interpreter::ChargeValue(const Value& v) {
  if (v.is_string()) {
    Charge(1 + v.str().size() / 64);
  } else if (v.is_list()) {
    Charge(1 + v.list().items.size());
  } else if (v.is_dict()) {
    Charge(1 + v.dict().size());
  }
}

void Interpreter::ChargeArgs(const CallArgs& args) {
  for (const Value& v : args.positional) ChargeValue(v);
  for (const auto& [name, v] : args.keyword) ChargeValue(v);
}

void Interpreter::CheckSize(size_t bytes) const {
  if (bytes > limits_.max_output_bytes) {
    Raise("MemoryError", "a string of " + std::to_string(bytes) + " bytes exceeds the limit of " +
                             std::to_string(limits_.max_output_bytes) + " bytes");
  }
}

void Interpreter::Emit(std::string_view text) {
  CheckSize(out_->size() + text.size());
  Charge(text.size() / 64);
  out_->append(text);
}

std::string Interpreter::Capture(const NodeList& body, const ScopePtr& scope, Flow* flow) {
  std::string buffer;
  std::string* saved = out_;
  out_ = &buffer;
  try {
    const Flow result = Exec(body, scope);
    if (flow != nullptr) *flow = result;
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return buffer;
}

// ---- calls ----

Value Interpreter::Call(const Value& callee, CallArgs& args) {
  Charge(1);
  ChargeArgs(args);
  if (callee.is_undefined()) RaiseUndefined(callee);
  if (callee.is_object() && callee.object().IsCallable()) return callee.object().Call(*this, args);
  Raise("TypeError", "'" + TypeName(callee) + "' object is not callable");
}

Value Interpreter::CallFilter(std::string_view name, const Value& input, CallArgs& args) {
  Charge(1);
  ChargeValue(input);
  ChargeArgs(args);
  const FilterFunction filter = FindFilter(name);
  if (filter == nullptr) {
    if (IsJinjaFilter(name)) {
      Raise("NotImplementedError",
            "the filter '" + std::string(name) + "' is not supported by autarky's Jinja");
    }
    Raise("TemplateRuntimeError", "No filter named '" + std::string(name) + "' found.");
  }
  return filter(*this, input, args);
}

bool Interpreter::CallTest(std::string_view name, const Value& input, CallArgs& args) {
  Charge(1);
  ChargeValue(input);
  ChargeArgs(args);
  const TestFunction test = FindTest(name);
  if (test == nullptr) {
    if (IsJinjaTest(name)) {
      Raise("NotImplementedError",
            "the test '" + std::string(name) + "' is not supported by autarky's Jinja");
    }
    Raise("TemplateRuntimeError", "No test named '" + std::string(name) + "' found.");
  }
  return test(*this, input, args);
}

Value Interpreter::CallMacro(const MacroNode& macro, const std::weak_ptr<Scope>& closure,
                             CallArgs& args) {
  const ScopePtr parent = closure.lock();
  if (!parent) {
    Raise("TemplateRuntimeError",
          "macro '" + macro.name + "' was called after the scope defining it ended");
  }
  CallDepthGuard depth(*this);
  const auto scope = std::make_shared<Scope>(parent);
  const size_t n_params = macro.params.size();
  const size_t n_positional = std::min(args.positional.size(), n_params);
  std::vector<std::pair<std::string, Value>> keyword = std::move(args.keyword);
  const auto take_keyword = [&](const std::string& name) -> std::optional<Value> {
    for (auto it = keyword.begin(); it != keyword.end(); ++it) {
      if (it->first == name) {
        Value v = std::move(it->second);
        keyword.erase(it);
        return v;
      }
    }
    return std::nullopt;
  };
  // Positional arguments first, then keywords, then defaults (evaluated in the macro's
  // scope, so a default may use an earlier parameter), as jinja2's Macro.__call__ does.
  bool explicit_caller = false;
  for (size_t i = 0; i < n_params; ++i) {
    const std::string& name = macro.params[i];
    if (name == "caller") explicit_caller = true;
    std::optional<Value> value;
    if (i < n_positional) {
      value = args.positional[i];
    } else {
      value = take_keyword(name);
    }
    if (!value) {
      const size_t first_default = n_params - macro.defaults.size();
      if (i >= first_default) {
        value = Eval(*macro.defaults[i - first_default], scope);
      } else {
        value = Value::Undefined("parameter '" + name + "' was not provided");
      }
    }
    scope->Set(name, std::move(*value));
  }
  if (macro.uses_caller && !explicit_caller) {
    std::optional<Value> caller = take_keyword("caller");
    scope->Set("caller", caller ? std::move(*caller) : Value::Undefined("No caller defined"));
  }
  if (macro.uses_kwargs) {
    Value kwargs = Value::Dict();
    for (auto& [k, v] : keyword) kwargs.dict().Set(Value::String(k), std::move(v));
    scope->Set("kwargs", std::move(kwargs));
  } else if (!keyword.empty()) {
    Raise("TypeError",
          "macro '" + macro.name + "' takes no keyword argument '" + keyword.front().first + "'");
  }
  if (macro.uses_varargs) {
    std::vector<Value> extra;
    for (size_t i = n_params; i < args.positional.size(); ++i) extra.push_back(args.positional[i]);
    scope->Set("varargs", Value::Tuple(std::move(extra)));
  } else if (args.positional.size() > n_params) {
    Raise("TypeError", "macro '" + macro.name + "' takes not more than " +
                           std::to_string(n_params) + " argument(s)");
  }
  std::string buffer;
  std::string* saved = out_;
  out_ = &buffer;
  try {
    Exec(macro.body, scope);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return Value::String(std::move(buffer));
}

// ---- attribute and item access (SandboxedEnvironment.getattr / getitem) ----

Value Interpreter::GetAttr(const Value& object, std::string_view name) {
  Charge(1);
  if (object.is_undefined()) RaiseUndefined(object);
  if (name.substr(0, 2) == "__") return UnsafeAttribute(object, name);
  if (object.is_object()) {
    if (!name.empty() && name[0] != '_') {
      if (std::optional<Value> v = object.object().GetAttr(name)) return *v;
    }
    return NoAttribute(object, name);
  }
  if (!name.empty() && name[0] != '_') {
    if (std::optional<Value> v = BuiltinAttr(*this, object, name)) return *v;
  }
  if (object.is_dict()) {
    if (const Value* v = object.dict().Find(name)) return *v;
  }
  return NoAttribute(object, name);
}

Value Interpreter::GetItem(const Value& object, const Value& key) {
  Charge(1);
  if (object.is_undefined()) RaiseUndefined(object);
  if (object.is_dict()) {
    if (IsHashable(key)) {
      if (const Value* v = object.dict().Find(key)) return *v;
    }
  } else if (key.is_integral() &&
             (object.is_string() || (object.is_list() && (object.seq_kind() == SeqKind::kList ||
                                                          object.seq_kind() == SeqKind::kTuple ||
                                                          object.seq_kind() == SeqKind::kRange)))) {
    const int64_t length = Length(object);
    int64_t index = key.int_value();
    if (index < 0) index += length;
    if (index >= 0 && index < length) {
      if (object.is_list()) return object.list().items[static_cast<size_t>(index)];
      const std::string& s = object.str();
      size_t begin =
          IsAscii(s) ? static_cast<size_t>(index) : CodePointOffset(s, static_cast<size_t>(index));
      size_t end = begin;
      DecodeUtf8(s, end);
      return Value::String(s.substr(begin, end - begin), object.is_safe());
    }
  }
  if (key.is_string()) {
    const std::string& name = key.str();
    if (name.substr(0, 2) == "__") return UnsafeAttribute(object, name);
    if (!name.empty() && name[0] != '_') {
      if (object.is_object()) {
        if (std::optional<Value> v = object.object().GetAttr(name)) return *v;
      } else if (std::optional<Value> v = BuiltinAttr(*this, object, name)) {
        return *v;
      }
    }
    return NoAttribute(object, name);
  }
  return Value::Undefined(ObjectTypeRepr(object) + " has no element " + Repr(key));
}

Value Interpreter::EvalSubscript(const GetitemNode& node, const ScopePtr& scope) {
  const Value object = Eval(*node.object, scope);
  if (node.key->kind != NodeKind::kSlice) {
    const Value key = Eval(*node.key, scope);
    At(node);
    return GetItem(object, key);
  }
  const auto& slice = static_cast<const SliceNode&>(*node.key);
  const Value start = slice.start ? Eval(*slice.start, scope) : Value::None();
  const Value stop = slice.stop ? Eval(*slice.stop, scope) : Value::None();
  const Value step = slice.step ? Eval(*slice.step, scope) : Value::None();
  At(node);
  if (object.is_undefined()) RaiseUndefined(object);
  const bool sliceable =
      object.is_string() || (object.is_list() && (object.seq_kind() == SeqKind::kList ||
                                                  object.seq_kind() == SeqKind::kTuple ||
                                                  object.seq_kind() == SeqKind::kRange));
  const bool integer_bounds = (start.is_none() || start.is_integral()) &&
                              (stop.is_none() || stop.is_integral()) &&
                              (step.is_none() || step.is_integral());
  if (!sliceable || !integer_bounds) {
    // jinja2 slices with Python's own subscript (no sandbox getitem), so this raises; but a
    // slice of constants is folded at compile time through getitem, which gives Undefined.
    const auto is_const = [](const NodePtr& n) { return !n || IsConstExpr(*n); };
    if (IsConstExpr(*node.object) && is_const(slice.start) && is_const(slice.stop) &&
        is_const(slice.step)) {
      return Value::Undefined("'" + ObjectTypeRepr(object) + "' has no element slice");
    }
    if (!sliceable) {
      if (object.is_dict()) Raise("TypeError", "unhashable type: 'slice'");
      Raise("TypeError", "'" + TypeName(object) + "' object is not subscriptable");
    }
    Raise("TypeError", "slice indices must be integers or None or have an __index__ method");
  }
  const SliceBounds b =
      ResolveSlice(Length(object), SliceIndex(start), SliceIndex(stop), SliceIndex(step));
  Charge(static_cast<uint64_t>(b.count));
  if (object.is_list() && object.seq_kind() == SeqKind::kRange) {
    // A slice of a range is a range (Python computes its bounds from the slice's indices).
    const ListData& r = object.list();
    std::vector<Value> items;
    for (int64_t i = 0, at = b.start; i < b.count; ++i, at += b.step) {
      items.push_back(r.items[static_cast<size_t>(at)]);
    }
    Value range = Value::List(std::move(items), SeqKind::kRange);
    const auto at = [&](int64_t index) {  // r.start + index * r.step, wrapping like the items
      return static_cast<int64_t>(static_cast<uint64_t>(r.range_start) +
                                  static_cast<uint64_t>(index) *
                                      static_cast<uint64_t>(r.range_step));
    };
    range.list().range_start = at(b.start);
    range.list().range_stop = at(b.stop);
    range.list().range_step =
        static_cast<int64_t>(static_cast<uint64_t>(r.range_step) * static_cast<uint64_t>(b.step));
    return range;
  }
  if (object.is_list()) {
    std::vector<Value> out;
    out.reserve(static_cast<size_t>(b.count));
    const auto& items = object.list().items;
    for (int64_t i = 0, at = b.start; i < b.count; ++i, at += b.step) {
      out.push_back(items[static_cast<size_t>(at)]);
    }
    return Value::List(std::move(out),
                       object.seq_kind() == SeqKind::kTuple ? SeqKind::kTuple : SeqKind::kList);
  }
  const std::string& s = object.str();
  if (IsAscii(s)) {
    std::string out;
    for (int64_t i = 0, at = b.start; i < b.count; ++i, at += b.step) {
      out.push_back(s[static_cast<size_t>(at)]);
    }
    return Value::String(std::move(out), object.is_safe());
  }
  const std::u32string cps = ToCodePoints(s);
  std::u32string out;
  for (int64_t i = 0, at = b.start; i < b.count; ++i, at += b.step) {
    out.push_back(cps[static_cast<size_t>(at)]);
  }
  return Value::String(FromCodePoints(out), object.is_safe());
}

// ---- statements ----

Flow Interpreter::Exec(const NodeList& body, const ScopePtr& scope) {
  for (const NodePtr& node : body) {
    const Flow flow = ExecNode(*node, scope);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

void Interpreter::ExecAssign(const Node& target, Value value, const ScopePtr& scope) {
  switch (target.kind) {
    case NodeKind::kName:
      scope->Set(static_cast<const NameNode&>(target).name, std::move(value));
      return;
    case NodeKind::kTuple: {
      const auto& names = static_cast<const SequenceNode&>(target).items;
      if (value.is_undefined()) RaiseUndefined(value);
      std::vector<Value> items = Iterate(value);
      if (items.size() != names.size()) {
        At(target);
        if (items.size() < names.size()) {
          Raise("ValueError", "not enough values to unpack (expected " +
                                  std::to_string(names.size()) + ", got " +
                                  std::to_string(items.size()) + ")");
        }
        Raise("ValueError",
              "too many values to unpack (expected " + std::to_string(names.size()) + ")");
      }
      for (size_t i = 0; i < names.size(); ++i) ExecAssign(*names[i], std::move(items[i]), scope);
      return;
    }
    case NodeKind::kNsRef: {
      const auto& ref = static_cast<const NsRefNode&>(target);
      const Value* ns = scope->Find(ref.name);
      At(target);
      if (ns == nullptr || !ns->is_object() || !ns->object().IsNamespace()) {
        Raise("TemplateRuntimeError", "cannot assign attribute on non-namespace object");
      }
      ns->object().SetAttr(ref.attr, std::move(value));
      return;
    }
    default:
      At(target);
      Raise("TemplateSyntaxError", "cannot assign to this expression");
  }
}

void Interpreter::RunLoop(const ForNode& node, const ScopePtr& scope, std::vector<Value> items,
                          int depth0) {
  const auto shared_items = std::make_shared<const std::vector<Value>>(std::move(items));
  const auto loop = std::make_shared<LoopObject>(shared_items, depth0, &node, scope);
  const Value loop_value = Value::FromObject(loop);
  for (size_t i = 0; i < shared_items->size(); ++i) {
    Charge(1);
    loop->SetIndex(i);
    const auto body_scope = std::make_shared<Scope>(scope);
    ExecAssign(*node.target, (*shared_items)[i], body_scope);
    body_scope->Set("loop", loop_value);
    if (Exec(node.body, body_scope) == Flow::kBreak) break;
  }
  if (shared_items->empty()) Exec(node.else_body, std::make_shared<Scope>(scope));
}

std::string Interpreter::RenderRecursiveLoop(const ForNode& node, const ScopePtr& scope,
                                             std::vector<Value> items, int depth0) {
  CallDepthGuard depth(*this);
  std::string buffer;
  std::string* saved = out_;
  out_ = &buffer;
  try {
    RunLoop(node, scope, std::move(items), depth0);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return buffer;
}

void Interpreter::ExecFor(const ForNode& node, const ScopePtr& scope) {
  const Value iterable = Eval(*node.iter, scope);
  At(node);
  ChargeValue(iterable);
  std::vector<Value> items = Iterate(iterable);
  Charge(items.size());
  if (node.filter) {
    // The `if` clause sees the loop variables of each item (not `loop`).
    std::vector<Value> kept;
    for (Value& item : items) {
      const auto test_scope = std::make_shared<Scope>(scope);
      ExecAssign(*node.target, item, test_scope);
      if (Truthy(Eval(*node.filter, test_scope))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  RunLoop(node, scope, std::move(items), 0);
}

Value Interpreter::EvalFilterChain(const FilterNode& node, Value input, const ScopePtr& scope) {
  Value operand = node.operand ? EvalFilterChain(static_cast<const FilterNode&>(*node.operand),
                                                 std::move(input), scope)
                               : std::move(input);
  CallArgs args;
  EvalArgs(node.args, scope, args);
  At(node);
  return CallFilter(node.name, operand, args);
}

Flow Interpreter::ExecNode(const Node& node, const ScopePtr& scope) {
  Charge(1);
  At(node);
  switch (node.kind) {
    case NodeKind::kOutput:
      for (const NodePtr& item : static_cast<const OutputNode&>(node).items) {
        if (item->kind == NodeKind::kConst) {
          const Value& v = static_cast<const ConstNode&>(*item).value;
          Emit(v.is_string() ? std::string_view(v.str()) : std::string_view(ToStr(v)));
        } else {
          const Value v = Eval(*item, scope);
          At(*item);
          Emit(v.is_string() ? v.str() : ToStr(v));
        }
      }
      return Flow::kNormal;
    case NodeKind::kIf: {
      const auto& n = static_cast<const IfNode&>(node);
      for (const auto& [test, body] : n.branches) {
        if (Truthy(Eval(*test, scope))) return Exec(body, scope);
      }
      return Exec(n.else_body, scope);
    }
    case NodeKind::kFor:
      ExecFor(static_cast<const ForNode&>(node), scope);
      return Flow::kNormal;
    case NodeKind::kAssign: {
      const auto& n = static_cast<const AssignNode&>(node);
      ExecAssign(*n.target, Eval(*n.value, scope), scope);
      return Flow::kNormal;
    }
    case NodeKind::kAssignBlock: {
      const auto& n = static_cast<const AssignBlockNode&>(node);
      // A break or continue in the body leaves the loop before the assignment, as in jinja2.
      Flow flow = Flow::kNormal;
      Value value = Value::String(Capture(n.body, std::make_shared<Scope>(scope), &flow));
      if (flow != Flow::kNormal) return flow;
      if (n.filter) {
        value = EvalFilterChain(static_cast<const FilterNode&>(*n.filter), value, scope);
      }
      ExecAssign(*n.target, std::move(value), scope);
      return Flow::kNormal;
    }
    case NodeKind::kMacro: {
      const auto& n = static_cast<const MacroNode&>(node);
      scope->Set(n.name, Value::FromObject(std::make_shared<MacroObject>(&n, scope)));
      return Flow::kNormal;
    }
    case NodeKind::kCallBlock: {
      const auto& n = static_cast<const CallBlockNode&>(node);
      const auto& call = static_cast<const CallNode&>(*n.call);
      const Value callee = Eval(*call.callee, scope);
      CallArgs args;
      EvalArgs(call.args, scope, args);
      args.keyword.emplace_back(
          "caller", Value::FromObject(std::make_shared<MacroObject>(n.caller.get(), scope)));
      At(call);
      const Value result = Call(callee, args);
      Emit(ToStr(result));
      return Flow::kNormal;
    }
    case NodeKind::kFilterBlock: {
      const auto& n = static_cast<const FilterBlockNode&>(node);
      Flow flow = Flow::kNormal;
      const Value body = Value::String(Capture(n.body, std::make_shared<Scope>(scope), &flow));
      if (flow != Flow::kNormal) return flow;
      const Value result = EvalFilterChain(static_cast<const FilterNode&>(*n.filter), body, scope);
      Emit(ToStr(result));
      return Flow::kNormal;
    }
    case NodeKind::kWith: {
      const auto& n = static_cast<const WithNode&>(node);
      std::vector<Value> values;
      for (const auto& [target, value] : n.assignments) values.push_back(Eval(*value, scope));
      const auto inner = std::make_shared<Scope>(scope);
      for (size_t i = 0; i < values.size(); ++i) {
        ExecAssign(*n.assignments[i].first, std::move(values[i]), inner);
      }
      return Exec(n.body, inner);
    }
    case NodeKind::kBreak:
      return Flow::kBreak;
    case NodeKind::kContinue:
      return Flow::kContinue;
    case NodeKind::kScope:
      Exec(static_cast<const ScopeNode&>(node).body, std::make_shared<Scope>(scope));
      return Flow::kNormal;
    case NodeKind::kUnsupported: {
      const std::string& message = static_cast<const UnsupportedNode&>(node).message;
      throw TemplateError(message, node.line, node.column);
    }
    default:
      Raise("TemplateSyntaxError", "not a statement");
  }
}

// ---- expressions ----

void Interpreter::EvalArgs(const ArgsNode& node, const ScopePtr& scope, CallArgs& args) {
  for (const NodePtr& arg : node.positional) args.positional.push_back(Eval(*arg, scope));
  if (node.dyn_args) {
    for (Value& v : Iterate(Eval(*node.dyn_args, scope))) args.positional.push_back(std::move(v));
  }
  for (const auto& [name, arg] : node.keyword) args.keyword.emplace_back(name, Eval(*arg, scope));
  if (node.dyn_kwargs) {
    const Value kwargs = Eval(*node.dyn_kwargs, scope);
    if (!kwargs.is_dict()) {
      Raise("TypeError", "argument after ** must be a mapping, not " + TypeName(kwargs));
    }
    for (const auto& [k, v] : kwargs.dict().entries()) {
      if (!k.is_string()) Raise("TypeError", "keywords must be strings");
      args.keyword.emplace_back(k.str(), v);
    }
  }
}

Value Interpreter::EvalCompare(const CompareNode& node, const ScopePtr& scope) {
  Value left = Eval(*node.first, scope);
  for (const auto& [op, expr] : node.rest) {
    Value right = Eval(*expr, scope);
    At(node);
    ChargeValue(left);
    ChargeValue(right);
    bool result = false;
    switch (op) {
      case CompareOpKind::kEq:
        result = Equals(left, right);
        break;
      case CompareOpKind::kNe:
        result = !Equals(left, right);
        break;
      case CompareOpKind::kLt:
        result = CompareOp(left, right, "<");
        break;
      case CompareOpKind::kLtEq:
        result = CompareOp(left, right, "<=");
        break;
      case CompareOpKind::kGt:
        result = CompareOp(left, right, ">");
        break;
      case CompareOpKind::kGtEq:
        result = CompareOp(left, right, ">=");
        break;
      case CompareOpKind::kIn:
        if (right.is_object())
          Raise("TypeError", "argument of type '" + TypeName(right) + "' is not iterable");
        result = Contains(right, left);
        break;
      case CompareOpKind::kNotIn:
        if (right.is_object())
          Raise("TypeError", "argument of type '" + TypeName(right) + "' is not iterable");
        result = !Contains(right, left);
        break;
    }
    if (!result) return Value::Bool(false);
    left = std::move(right);
  }
  return Value::Bool(true);
}

Value Interpreter::Eval(const Node& node, const ScopePtr& scope) {
  Charge(1);
  At(node);
  switch (node.kind) {
    case NodeKind::kConst:
      return static_cast<const ConstNode&>(node).value;
    case NodeKind::kName: {
      const std::string& name = static_cast<const NameNode&>(node).name;
      if (const Value* v = scope->Find(name)) return *v;
      return Value::Undefined("'" + name + "' is undefined");
    }
    case NodeKind::kList:
    case NodeKind::kTuple: {
      std::vector<Value> items;
      for (const NodePtr& item : static_cast<const SequenceNode&>(node).items) {
        items.push_back(Eval(*item, scope));
      }
      At(node);
      return Value::List(std::move(items),
                         node.kind == NodeKind::kList ? SeqKind::kList : SeqKind::kTuple);
    }
    case NodeKind::kDict: {
      Value dict = Value::Dict();
      for (const auto& [k, v] : static_cast<const DictNode&>(node).items) {
        Value key = Eval(*k, scope);
        Value value = Eval(*v, scope);
        At(*k);
        if (!IsHashable(key)) Raise("TypeError", "unhashable type: '" + TypeName(key) + "'");
        dict.dict().Set(std::move(key), std::move(value));
      }
      return dict;
    }
    case NodeKind::kGetattr: {
      const auto& n = static_cast<const GetattrNode&>(node);
      const Value object = Eval(*n.object, scope);
      At(node);
      return GetAttr(object, n.attr);
    }
    case NodeKind::kGetitem:
      return EvalSubscript(static_cast<const GetitemNode&>(node), scope);
    case NodeKind::kCall: {
      const auto& n = static_cast<const CallNode&>(node);
      const Value callee = Eval(*n.callee, scope);
      CallArgs args;
      EvalArgs(n.args, scope, args);
      At(node);
      return Call(callee, args);
    }
    case NodeKind::kFilter: {
      const auto& n = static_cast<const FilterNode&>(node);
      const Value operand = Eval(*n.operand, scope);
      CallArgs args;
      EvalArgs(n.args, scope, args);
      At(node);
      return CallFilter(n.name, operand, args);
    }
    case NodeKind::kTest: {
      const auto& n = static_cast<const FilterNode&>(node);
      const Value operand = Eval(*n.operand, scope);
      CallArgs args;
      EvalArgs(n.args, scope, args);
      At(node);
      return Value::Bool(CallTest(n.name, operand, args));
    }
    case NodeKind::kUnary: {
      const auto& n = static_cast<const UnaryNode&>(node);
      const Value operand = Eval(*n.operand, scope);
      At(node);
      return UnaryOperation(n.op, operand);
    }
    case NodeKind::kBinary: {
      const auto& n = static_cast<const BinaryNode&>(node);
      const Value left = Eval(*n.left, scope);
      const Value right = Eval(*n.right, scope);
      At(node);
      ChargeValue(left);
      ChargeValue(right);
      return BinaryOperation(*this, n.op, left, right);
    }
    case NodeKind::kAnd:
    case NodeKind::kOr: {
      const auto& n = static_cast<const LogicNode&>(node);
      Value left = Eval(*n.left, scope);
      if (Truthy(left) == (node.kind == NodeKind::kOr)) return left;
      return Eval(*n.right, scope);
    }
    case NodeKind::kConcat: {
      std::string out;
      for (const NodePtr& item : static_cast<const ConcatNode&>(node).items) {
        const Value v = Eval(*item, scope);
        out += v.is_string() ? v.str() : ToStr(v);
        CheckSize(out.size());
      }
      return Value::String(std::move(out));
    }
    case NodeKind::kCompare:
      return EvalCompare(static_cast<const CompareNode&>(node), scope);
    case NodeKind::kCondExpr: {
      const auto& n = static_cast<const CondExprNode&>(node);
      if (Truthy(Eval(*n.test, scope))) return Eval(*n.then_expr, scope);
      if (n.else_expr) return Eval(*n.else_expr, scope);
      return Value::Undefined("the inline if-expression on line " + std::to_string(node.line) +
                              " evaluated to false and no else section was defined.");
    }
    default:
      Raise("TemplateSyntaxError", "not an expression");
  }
}

}  // namespace autarky::chat::jinja
