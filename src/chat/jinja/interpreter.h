// The Jinja interpreter: renders a parsed template (ast.h) with jinja2's semantics in
// transformers' ImmutableSandboxedEnvironment: default Undefined, sandboxed attribute
// access, Python operators and scoping (a loop body or macro is a new scope, `if` is not).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/value.h"

namespace autarky::chat::jinja {

// Bounds on one rendering, so that no template can take unbounded time or memory.
struct RenderLimits {
  size_t max_output_bytes = size_t{32} << 20;  // also the largest string a template may build
  // Evaluated nodes, loop iterations, elements and bytes/64 processed. Real chat templates
  // take a few thousand steps per message; the limit bounds a render to about a second.
  uint64_t max_steps = 10'000'000;
  int max_call_depth = 100;  // nested macro calls and recursive loops
};

// Variables of one scope; lookups continue in the parent.
class Scope {
 public:
  explicit Scope(std::shared_ptr<Scope> parent) : parent_(std::move(parent)) {}
  const Value* Find(std::string_view name) const;
  void Set(const std::string& name, Value value) { vars_[name] = std::move(value); }
  void Clear() { vars_.clear(); }

 private:
  std::shared_ptr<Scope> parent_;
  std::unordered_map<std::string, Value> vars_;
};
using ScopePtr = std::shared_ptr<Scope>;

enum class Flow : uint8_t { kNormal, kBreak, kContinue };

class Interpreter {
 public:
  // `now_seconds`: the time strftime_now reports (nullopt: the clock).
  Interpreter(const RenderLimits& limits, std::optional<int64_t> now_seconds);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Renders `ast` with `globals` (the render context) as the outermost scope. Throws
  // TemplateError with the line and column of the failing node.
  std::string Render(const TemplateAst& ast, const ScopePtr& globals);

  // ---- services for builtins and objects ----
  Value Call(const Value& callee, CallArgs& args);
  Value CallFilter(std::string_view name, const Value& input, CallArgs& args);
  bool CallTest(std::string_view name, const Value& input, CallArgs& args);
  // The sandbox's attribute and item access (attribute first / item first, then the other).
  Value GetAttr(const Value& object, std::string_view name);
  Value GetItem(const Value& object, const Value& key);
  // Counts work against RenderLimits::max_steps.
  void Charge(uint64_t steps);
  // Charges for work proportional to a value's size (a string's bytes / 64, a list's or
  // dict's items): called where values enter filters, calls, operators and loops.
  void ChargeValue(const Value& v);
  void ChargeArgs(const CallArgs& args);
  // Fails when a string of `bytes` would exceed the size limit.
  void CheckSize(size_t bytes) const;
  std::optional<int64_t> now_seconds() const { return now_seconds_; }
  // Namespaces are cleared when rendering ends: only they can form reference cycles.
  void RegisterNamespace(const std::shared_ptr<Object>& ns) { namespaces_.push_back(ns); }
  // Invokes a macro (also `caller`) defined in `closure`.
  Value CallMacro(const MacroNode& macro, const std::weak_ptr<Scope>& closure, CallArgs& args);
  // Runs a for loop over `items` into the current output.
  void RunLoop(const ForNode& node, const ScopePtr& scope, std::vector<Value> items, int depth0);
  // `loop(items)` in a recursive loop: the loop body over `items`, one level deeper.
  std::string RenderRecursiveLoop(const ForNode& node, const ScopePtr& scope,
                                  std::vector<Value> items, int depth0);
  // Renders `body` in `scope` into a string; `flow` receives a break or continue.
  std::string Capture(const NodeList& body, const ScopePtr& scope, Flow* flow = nullptr);

 private:
  class CallDepthGuard;

  Flow Exec(const NodeList& body, const ScopePtr& scope);
  Flow ExecNode(const Node& node, const ScopePtr& scope);
  void ExecFor(const ForNode& node, const ScopePtr& scope);
  void ExecAssign(const Node& target, Value value, const ScopePtr& scope);
  Value Eval(const Node& node, const ScopePtr& scope);
  Value EvalCompare(const CompareNode& node, const ScopePtr& scope);
  Value EvalFilterChain(const FilterNode& node, Value input, const ScopePtr& scope);
  void EvalArgs(const ArgsNode& node, const ScopePtr& scope, CallArgs& args);
  Value EvalSubscript(const GetitemNode& node, const ScopePtr& scope);
  void Emit(std::string_view text);
  void At(const Node& node) {
    line_ = node.line;
    column_ = node.column;
  }

  RenderLimits limits_;
  std::optional<int64_t> now_seconds_;
  std::string* out_ = nullptr;
  uint64_t steps_ = 0;
  int call_depth_ = 0;
  int line_ = 0, column_ = 0;  // the node being evaluated, for error positions
  std::vector<std::shared_ptr<Object>> namespaces_;
};

}  // namespace autarky::chat::jinja
