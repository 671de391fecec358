// jinja2's compile-time checks on a parsed template (see CheckTemplate in parser.h).
#include "chat/jinja/error.h"
#include "chat/jinja/parser.h"

namespace autarky::chat::jinja {
namespace {

// jinja2's compile-time checks: unknown filters and tests fail at compile time unless they
// sit in an `if` statement or conditional expression (a "soft" frame), and `break`/`continue`
// must be inside a loop of the same function (macros and blocks are functions).
class Checker {
 public:
  explicit Checker(const ParserNames& names) : names_(names) {}

  void Check(const Node& node, bool soft, bool in_loop) {
    switch (node.kind) {
      case NodeKind::kFilter:
      case NodeKind::kTest: {
        const auto& n = static_cast<const FilterNode&>(node);
        const bool is_filter = node.kind == NodeKind::kFilter;
        const bool known = is_filter ? names_.has_filter(n.name) : names_.has_test(n.name);
        if (!known && !soft) {
          throw TemplateError(std::string("TemplateAssertionError: No ") +
                                  (is_filter ? "filter" : "test") + " named '" + n.name + "'.",
                              node.line, node.column);
        }
        break;
      }
      case NodeKind::kBreak:
      case NodeKind::kContinue:
        if (!in_loop) {
          throw TemplateError(std::string("TemplateSyntaxError: '") +
                                  (node.kind == NodeKind::kBreak ? "break" : "continue") +
                                  "' outside loop",
                              node.line, node.column);
        }
        return;
      case NodeKind::kIf:
      case NodeKind::kCondExpr:
        ForEachChild(node, [&](const Node& child) { Check(child, true, in_loop); });
        return;
      case NodeKind::kFor: {
        const auto& n = static_cast<const ForNode&>(node);
        CheckLoopVariable(n);
        Check(*n.iter, soft, in_loop);
        if (n.filter) Check(*n.filter, false, false);
        for (const NodePtr& s : n.body) Check(*s, false, true);
        for (const NodePtr& s : n.else_body) Check(*s, false, in_loop);
        return;
      }
      case NodeKind::kMacro:
      case NodeKind::kScope:
        ForEachChild(node, [&](const Node& child) { Check(child, false, false); });
        return;
      case NodeKind::kCallBlock: {
        const auto& n = static_cast<const CallBlockNode&>(node);
        Check(*n.caller, false, false);
        Check(*n.call, soft, in_loop);
        return;
      }
      case NodeKind::kFilterBlock:
      case NodeKind::kAssignBlock:
        ForEachChild(node, [&](const Node& child) { Check(child, false, in_loop); });
        return;
      case NodeKind::kWith: {
        const auto& n = static_cast<const WithNode&>(node);
        for (const auto& [target, value] : n.assignments) Check(*value, soft, in_loop);
        for (const NodePtr& s : n.body) Check(*s, false, in_loop);
        return;
      }
      default:
        break;
    }
    ForEachChild(node, [&](const Node& child) { Check(child, soft, in_loop); });
  }

 private:
  // Names a subtree assigns (set, for and with targets) and reads.
  struct NameUses {
    bool stores_loop = false, loads_loop = false;
  };

  static void MarkTarget(const Node& target, NameUses& uses) {
    if (target.kind == NodeKind::kName) {
      if (static_cast<const NameNode&>(target).name == "loop") uses.stores_loop = true;
    } else if (target.kind == NodeKind::kTuple) {
      for (const NodePtr& item : static_cast<const SequenceNode&>(target).items) {
        MarkTarget(*item, uses);
      }
    }
  }

  static void FindLoopUses(const Node& node, NameUses& uses) {
    const Node* target = nullptr;
    if (node.kind == NodeKind::kAssign) target = static_cast<const AssignNode&>(node).target.get();
    if (node.kind == NodeKind::kAssignBlock) {
      target = static_cast<const AssignBlockNode&>(node).target.get();
    }
    if (node.kind == NodeKind::kFor) target = static_cast<const ForNode&>(node).target.get();
    if (target != nullptr) MarkTarget(*target, uses);
    if (node.kind == NodeKind::kWith) {
      for (const auto& [t, v] : static_cast<const WithNode&>(node).assignments)
        MarkTarget(*t, uses);
    }
    if (node.kind == NodeKind::kName && static_cast<const NameNode&>(node).name == "loop" &&
        &node != target) {
      uses.loads_loop = true;
    }
    ForEachChild(node, [&](const Node& child) {
      if (&child != target) FindLoopUses(child, uses);
    });
  }

  // jinja2 refuses to compile a loop that uses `loop` and also assigns that name anywhere
  // in it.
  static void CheckLoopVariable(const ForNode& node) {
    NameUses body;
    for (const NodePtr& s : node.body) FindLoopUses(*s, body);
    if (!node.recursive && !body.loads_loop) return;
    NameUses all = body;
    MarkTarget(*node.target, all);
    for (const NodePtr& s : node.else_body) FindLoopUses(*s, all);
    if (all.stores_loop) {
      throw TemplateError(
          "TemplateAssertionError: Can't assign to special loop variable in for-loop target",
          node.line, node.column);
    }
  }

  const ParserNames& names_;
};

}  // namespace

void CheckTemplate(const TemplateAst& ast, const ParserNames& names) {
  Checker checker(names);
  for (const NodePtr& node : ast.body) checker.Check(*node, false, false);
}

}  // namespace autarky::chat::jinja
