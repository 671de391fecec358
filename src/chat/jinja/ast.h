// The syntax tree of a parsed Jinja template (expressions and statements), built by
// parser.cc and walked by interpreter.cc.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja/value.h"

namespace autarky::chat::jinja {

enum class NodeKind : uint8_t {
  // expressions
  kConst,
  kName,
  kList,
  kTuple,
  kDict,
  kGetattr,
  kGetitem,
  kSlice,
  kCall,
  kFilter,
  kTest,
  kUnary,   // -x, +x, not x
  kBinary,  // + - * / // % **
  kAnd,
  kOr,
  kConcat,   // a ~ b ~ c
  kCompare,  // a < b == c, in, not in
  kCondExpr,
  kNsRef,  // ns.attr as an assignment target
  // statements
  kOutput,
  kIf,
  kFor,
  kAssign,
  kAssignBlock,
  kMacro,
  kCallBlock,
  kFilterBlock,
  kWith,
  kBreak,
  kContinue,
  kScope,       // a body rendered in place ({% block %}, {% generation %})
  kUnsupported  // a statement that raises when executed (include, import, extends)
};

struct Node {
  explicit Node(NodeKind k) : kind(k) {}
  virtual ~Node() = default;
  NodeKind kind;
  int line = 0, column = 0;
};

using NodePtr = std::unique_ptr<Node>;
using NodeList = std::vector<NodePtr>;

struct ConstNode : Node {
  ConstNode() : Node(NodeKind::kConst) {}
  Value value;
};

struct NameNode : Node {
  NameNode() : Node(NodeKind::kName) {}
  std::string name;
};

// kList and kTuple.
struct SequenceNode : Node {
  explicit SequenceNode(NodeKind k) : Node(k) {}
  NodeList items;
};

struct DictNode : Node {
  DictNode() : Node(NodeKind::kDict) {}
  std::vector<std::pair<NodePtr, NodePtr>> items;
};

struct GetattrNode : Node {
  GetattrNode() : Node(NodeKind::kGetattr) {}
  NodePtr object;
  std::string attr;
};

struct GetitemNode : Node {
  GetitemNode() : Node(NodeKind::kGetitem) {}
  NodePtr object;
  NodePtr key;  // may be a SliceNode
};

struct SliceNode : Node {
  SliceNode() : Node(NodeKind::kSlice) {}
  NodePtr start, stop, step;  // each may be null
};

// Arguments of a call, filter or test.
struct ArgsNode {
  NodeList positional;
  std::vector<std::pair<std::string, NodePtr>> keyword;
  NodePtr dyn_args, dyn_kwargs;  // *args, **kwargs
};

struct CallNode : Node {
  CallNode() : Node(NodeKind::kCall) {}
  NodePtr callee;
  ArgsNode args;
};

// kFilter and kTest. A filter block's filter has no operand (operand is null).
struct FilterNode : Node {
  explicit FilterNode(NodeKind k) : Node(k) {}
  NodePtr operand;
  std::string name;
  ArgsNode args;
};

enum class UnaryOp : uint8_t { kNeg, kPos, kNot };
struct UnaryNode : Node {
  UnaryNode() : Node(NodeKind::kUnary) {}
  UnaryOp op = UnaryOp::kNot;
  NodePtr operand;
};

enum class BinaryOp : uint8_t { kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow };
struct BinaryNode : Node {
  BinaryNode() : Node(NodeKind::kBinary) {}
  BinaryOp op = BinaryOp::kAdd;
  NodePtr left, right;
};

// kAnd and kOr.
struct LogicNode : Node {
  explicit LogicNode(NodeKind k) : Node(k) {}
  NodePtr left, right;
};

struct ConcatNode : Node {
  ConcatNode() : Node(NodeKind::kConcat) {}
  NodeList items;
};

enum class CompareOpKind : uint8_t { kEq, kNe, kLt, kLtEq, kGt, kGtEq, kIn, kNotIn };
struct CompareNode : Node {
  CompareNode() : Node(NodeKind::kCompare) {}
  NodePtr first;
  std::vector<std::pair<CompareOpKind, NodePtr>> rest;
};

struct CondExprNode : Node {
  CondExprNode() : Node(NodeKind::kCondExpr) {}
  NodePtr test, then_expr, else_expr;  // else_expr may be null: the result is undefined
};

struct NsRefNode : Node {
  NsRefNode() : Node(NodeKind::kNsRef) {}
  std::string name, attr;
};

// ---- statements ----

// Template text and {{ expressions }}; text is a ConstNode holding a string.
struct OutputNode : Node {
  OutputNode() : Node(NodeKind::kOutput) {}
  NodeList items;
};

struct IfNode : Node {
  IfNode() : Node(NodeKind::kIf) {}
  std::vector<std::pair<NodePtr, NodeList>> branches;  // if and elif tests with bodies
  NodeList else_body;
};

struct ForNode : Node {
  ForNode() : Node(NodeKind::kFor) {}
  NodePtr target;  // NameNode or TupleNode of names
  NodePtr iter;
  NodePtr filter;  // `if` clause, may be null
  bool recursive = false;
  NodeList body, else_body;
};

struct AssignNode : Node {
  AssignNode() : Node(NodeKind::kAssign) {}
  NodePtr target;  // NameNode, TupleNode or NsRefNode
  NodePtr value;
};

struct AssignBlockNode : Node {
  AssignBlockNode() : Node(NodeKind::kAssignBlock) {}
  NodePtr target;
  NodePtr filter;  // FilterNode chain without operand, may be null
  NodeList body;
};

// A macro definition, or the anonymous `caller` of a call block.
struct MacroNode : Node {
  MacroNode() : Node(NodeKind::kMacro) {}
  std::string name;
  std::vector<std::string> params;
  NodeList defaults;  // for the last defaults.size() params
  NodeList body;
  // Whether the body refers to these special names (then the macro accepts extra
  // positional arguments, extra keyword arguments, a caller).
  bool uses_varargs = false, uses_kwargs = false, uses_caller = false;
};

struct CallBlockNode : Node {
  CallBlockNode() : Node(NodeKind::kCallBlock) {}
  std::unique_ptr<MacroNode> caller;  // the block body as the `caller` macro
  NodePtr call;                       // a CallNode
};

struct FilterBlockNode : Node {
  FilterBlockNode() : Node(NodeKind::kFilterBlock) {}
  NodePtr filter;  // FilterNode chain without operand
  NodeList body;
};

struct WithNode : Node {
  WithNode() : Node(NodeKind::kWith) {}
  std::vector<std::pair<NodePtr, NodePtr>> assignments;  // targets and values
  NodeList body;
};

struct ScopeNode : Node {
  ScopeNode() : Node(NodeKind::kScope) {}
  NodeList body;
};

struct UnsupportedNode : Node {
  UnsupportedNode() : Node(NodeKind::kUnsupported) {}
  std::string message;
};

struct TemplateAst {
  NodeList body;
};

// Calls `visit` on every direct child of `node`, bodies included.
void ForEachChild(const Node& node, const std::function<void(const Node&)>& visit);

}  // namespace autarky::chat::jinja
