// Walking the Jinja syntax tree.
#include "chat/jinja/ast.h"

namespace autarky::chat::jinja {

namespace {

void VisitArgs(const ArgsNode& args, const std::function<void(const Node&)>& visit) {
  for (const NodePtr& arg : args.positional) visit(*arg);
  for (const auto& [name, arg] : args.keyword) visit(*arg);
  if (args.dyn_args) visit(*args.dyn_args);
  if (args.dyn_kwargs) visit(*args.dyn_kwargs);
}

void VisitBody(const NodeList& body, const std::function<void(const Node&)>& visit) {
  for (const NodePtr& n : body) visit(*n);
}

}  // namespace

void ForEachChild(const Node& node, const std::function<void(const Node&)>& visit) {
  const auto opt = [&](const NodePtr& n) {
    if (n) visit(*n);
  };
  switch (node.kind) {
    case NodeKind::kList:
    case NodeKind::kTuple:
      VisitBody(static_cast<const SequenceNode&>(node).items, visit);
      break;
    case NodeKind::kDict:
      for (const auto& [k, v] : static_cast<const DictNode&>(node).items) {
        visit(*k);
        visit(*v);
      }
      break;
    case NodeKind::kGetattr:
      visit(*static_cast<const GetattrNode&>(node).object);
      break;
    case NodeKind::kGetitem:
      visit(*static_cast<const GetitemNode&>(node).object);
      visit(*static_cast<const GetitemNode&>(node).key);
      break;
    case NodeKind::kSlice: {
      const auto& n = static_cast<const SliceNode&>(node);
      opt(n.start);
      opt(n.stop);
      opt(n.step);
      break;
    }
    case NodeKind::kCall:
      visit(*static_cast<const CallNode&>(node).callee);
      VisitArgs(static_cast<const CallNode&>(node).args, visit);
      break;
    case NodeKind::kFilter:
    case NodeKind::kTest:
      opt(static_cast<const FilterNode&>(node).operand);
      VisitArgs(static_cast<const FilterNode&>(node).args, visit);
      break;
    case NodeKind::kUnary:
      visit(*static_cast<const UnaryNode&>(node).operand);
      break;
    case NodeKind::kBinary:
      visit(*static_cast<const BinaryNode&>(node).left);
      visit(*static_cast<const BinaryNode&>(node).right);
      break;
    case NodeKind::kAnd:
    case NodeKind::kOr:
      visit(*static_cast<const LogicNode&>(node).left);
      visit(*static_cast<const LogicNode&>(node).right);
      break;
    case NodeKind::kConcat:
      VisitBody(static_cast<const ConcatNode&>(node).items, visit);
      break;
    case NodeKind::kCompare:
      visit(*static_cast<const CompareNode&>(node).first);
      for (const auto& [op, n] : static_cast<const CompareNode&>(node).rest) visit(*n);
      break;
    case NodeKind::kCondExpr: {
      const auto& n = static_cast<const CondExprNode&>(node);
      visit(*n.test);
      visit(*n.then_expr);
      opt(n.else_expr);
      break;
    }
    case NodeKind::kOutput:
      VisitBody(static_cast<const OutputNode&>(node).items, visit);
      break;
    case NodeKind::kIf:
      for (const auto& [test, body] : static_cast<const IfNode&>(node).branches) {
        visit(*test);
        VisitBody(body, visit);
      }
      VisitBody(static_cast<const IfNode&>(node).else_body, visit);
      break;
    case NodeKind::kFor: {
      const auto& n = static_cast<const ForNode&>(node);
      visit(*n.target);
      visit(*n.iter);
      opt(n.filter);
      VisitBody(n.body, visit);
      VisitBody(n.else_body, visit);
      break;
    }
    case NodeKind::kAssign:
      visit(*static_cast<const AssignNode&>(node).target);
      visit(*static_cast<const AssignNode&>(node).value);
      break;
    case NodeKind::kAssignBlock:
      visit(*static_cast<const AssignBlockNode&>(node).target);
      opt(static_cast<const AssignBlockNode&>(node).filter);
      VisitBody(static_cast<const AssignBlockNode&>(node).body, visit);
      break;
    case NodeKind::kMacro:
      VisitBody(static_cast<const MacroNode&>(node).defaults, visit);
      VisitBody(static_cast<const MacroNode&>(node).body, visit);
      break;
    case NodeKind::kCallBlock:
      visit(*static_cast<const CallBlockNode&>(node).caller);
      visit(*static_cast<const CallBlockNode&>(node).call);
      break;
    case NodeKind::kFilterBlock:
      visit(*static_cast<const FilterBlockNode&>(node).filter);
      VisitBody(static_cast<const FilterBlockNode&>(node).body, visit);
      break;
    case NodeKind::kWith:
      for (const auto& [t, v] : static_cast<const WithNode&>(node).assignments) {
        visit(*t);
        visit(*v);
      }
      VisitBody(static_cast<const WithNode&>(node).body, visit);
      break;
    case NodeKind::kScope:
      VisitBody(static_cast<const ScopeNode&>(node).body, visit);
      break;
    default:
      break;
  }
}

}  // namespace autarky::chat::jinja
