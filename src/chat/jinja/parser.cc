// The Jinja parser (see parser.h), following jinja2's grammar and operator precedence:
//   condexpr: or ('if' or ('else' condexpr)?)*      or: and ('or' and)*
//   and: not ('and' not)*                           not: 'not' not | compare
//   compare: math1 (cmp math1)*                     math1: concat (('+'|'-') concat)*
//   concat: math2 ('~' math2)*                      math2: pow (('*'|'/'|'//'|'%') pow)*
//   pow: unary ('**' unary)*  (left-associative)    unary: ('-'|'+') unary | primary postfix
// followed by filters (`|f`) and tests (`is t`) that bind tighter than any binary operator.
#include "chat/jinja/parser.h"

#include <algorithm>
#include <initializer_list>

#include "chat/jinja/error.h"

namespace autarky::chat::jinja {
namespace {

// Expression and statement nesting beyond this is refused (the recursive-descent parser and
// interpreter must not exhaust the stack; Python's own limit is lower).
constexpr int kMaxParseDepth = 200;

template <typename T>
std::unique_ptr<T> MakeNode(const Token& at) {
  auto node = std::make_unique<T>();
  node->line = at.line;
  node->column = at.column;
  return node;
}

template <typename T, typename Arg>
std::unique_ptr<T> MakeNode(const Token& at, Arg arg) {
  auto node = std::make_unique<T>(arg);
  node->line = at.line;
  node->column = at.column;
  return node;
}

std::string Describe(const Token& t) {
  switch (t.type) {
    case TokenType::kData:
      return "template data";
    case TokenType::kVariableBegin:
      return "begin of print statement";
    case TokenType::kVariableEnd:
      return "end of print statement";
    case TokenType::kBlockBegin:
      return "begin of statement block";
    case TokenType::kBlockEnd:
      return "end of statement block";
    case TokenType::kName:
      return t.text;
    case TokenType::kString:
      return "string";
    case TokenType::kInteger:
      return "integer";
    case TokenType::kFloat:
      return "float";
    case TokenType::kOperator:
      return std::string(OpText(t.op));
    case TokenType::kEof:
      return "end of template";
  }
  return "token";
}

class DepthGuard {
 public:
  DepthGuard(int& depth, const Token& at) : depth_(depth) {
    if (++depth_ > kMaxParseDepth) {
      throw TemplateError("TemplateSyntaxError: the template nests more than " +
                              std::to_string(kMaxParseDepth) + " levels deep",
                          at.line, at.column);
    }
  }
  ~DepthGuard() { --depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;

 private:
  int& depth_;
};

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : tokens_(tokens) {}

  TemplateAst Run() {
    TemplateAst ast;
    ast.body = Subparse({});
    return ast;
  }

 private:
  using Names = std::vector<std::string_view>;

  const Token& Cur() const { return tokens_[pos_]; }
  const Token& Look() const { return tokens_[std::min(pos_ + 1, tokens_.size() - 1)]; }
  const Token& Next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool IsOp(Op op) const { return Cur().type == TokenType::kOperator && Cur().op == op; }
  bool IsName(std::string_view name) const {
    return Cur().type == TokenType::kName && Cur().text == name;
  }
  bool IsNameIn(const Names& names) const {
    return Cur().type == TokenType::kName &&
           std::find(names.begin(), names.end(), Cur().text) != names.end();
  }
  bool SkipOp(Op op) {
    if (!IsOp(op)) return false;
    Next();
    return true;
  }
  bool SkipName(std::string_view name) {
    if (!IsName(name)) return false;
    Next();
    return true;
  }

  [[noreturn]] void Fail(const std::string& message, const Token& at) const {
    throw TemplateError("TemplateSyntaxError: " + message, at.line, at.column);
  }
  [[noreturn]] void FailUnexpected(const std::string& expected) const {
    if (Cur().type == TokenType::kEof)
      Fail("unexpected end of template, expected " + expected, Cur());
    Fail("expected " + expected + ", got '" + Describe(Cur()) + "'", Cur());
  }
  const Token& ExpectOp(Op op) {
    if (!IsOp(op)) FailUnexpected("'" + std::string(OpText(op)) + "'");
    return Next();
  }
  const Token& ExpectType(TokenType type, const char* what) {
    if (Cur().type != type) FailUnexpected(what);
    return Next();
  }
  const Token& ExpectName() { return ExpectType(TokenType::kName, "name"); }
  const Token& ExpectName(std::string_view name) {
    if (!IsName(name)) FailUnexpected("'" + std::string(name) + "'");
    return Next();
  }

  // ---- statements ----

  NodeList Subparse(const Names& end_names) {
    DepthGuard guard(depth_, Cur());
    NodeList body;
    std::unique_ptr<OutputNode> output;
    const auto flush = [&] {
      if (output) body.push_back(std::move(output));
      output.reset();
    };
    const auto add_output = [&](NodePtr item, const Token& at) {
      if (!output) output = MakeNode<OutputNode>(at);
      output->items.push_back(std::move(item));
    };
    while (Cur().type != TokenType::kEof) {
      const Token& token = Cur();
      if (token.type == TokenType::kData) {
        auto text = MakeNode<ConstNode>(token);
        text->value = Value::String(token.text);
        Next();
        add_output(std::move(text), token);
      } else if (token.type == TokenType::kVariableBegin) {
        Next();
        NodePtr expr = ParseTuple(false, true, {}, false);
        ExpectType(TokenType::kVariableEnd, "end of print statement");
        add_output(std::move(expr), token);
      } else if (token.type == TokenType::kBlockBegin) {
        flush();
        Next();
        if (!end_names.empty() && IsNameIn(end_names)) return body;
        body.push_back(ParseStatement(end_names));
        ExpectType(TokenType::kBlockEnd, "end of statement block");
      } else {
        Fail("unexpected '" + Describe(token) + "'", token);
      }
    }
    flush();
    if (!end_names.empty()) {
      std::string expected;
      for (size_t i = 0; i < end_names.size(); ++i) {
        expected += (i == 0 ? "'" : (i + 1 == end_names.size() ? " or '" : ", '"));
        expected += std::string(end_names[i]) + "'";
      }
      Fail(
          "Unexpected end of template. Jinja was looking for the following tags: " + expected + ".",
          Cur());
    }
    return body;
  }

  NodeList ParseStatements(const Names& end_names, bool drop_needle) {
    SkipOp(Op::kColon);
    ExpectType(TokenType::kBlockEnd, "end of statement block");
    NodeList body = Subparse(end_names);
    if (drop_needle) Next();
    return body;
  }

  NodePtr ParseStatement(const Names& enclosing_end_names) {
    const Token& token = Cur();
    if (token.type != TokenType::kName) Fail("tag name expected", token);
    const std::string& tag = token.text;
    if (tag == "for") return ParseFor();
    if (tag == "if") return ParseIf();
    if (tag == "set") return ParseSet();
    if (tag == "macro") return ParseMacro();
    if (tag == "call") return ParseCallBlock();
    if (tag == "filter") return ParseFilterBlock();
    if (tag == "with") return ParseWith();
    if (tag == "print") return ParsePrint();
    if (tag == "block") return ParseBlock();
    if (tag == "break" || tag == "continue") {
      Next();
      return MakeNode<Node>(token, tag == "break" ? NodeKind::kBreak : NodeKind::kContinue);
    }
    if (tag == "generation") {  // transformers' AssistantTracker extension
      Next();
      auto scope = MakeNode<ScopeNode>(token);
      scope->body = ParseStatements({"endgeneration"}, true);
      return scope;
    }
    if (tag == "autoescape") {
      Next();
      ParseExpression(true);
      ParseStatements({"endautoescape"}, true);
      return Unsupported(token, "NotImplementedError: autoescape blocks are not supported");
    }
    if (tag == "extends" || tag == "include" || tag == "import" || tag == "from") {
      return ParseLoaderStatement();
    }
    std::string message = "Encountered unknown tag '" + tag + "'.";
    if (!enclosing_end_names.empty()) {
      message += " Jinja was looking for the following tags: '" +
                 std::string(enclosing_end_names[0]) + "'";
      for (size_t i = 1; i < enclosing_end_names.size(); ++i) {
        message += " or '" + std::string(enclosing_end_names[i]) + "'";
      }
      message += ".";
    }
    Fail(message, token);
  }

  NodePtr Unsupported(const Token& at, std::string message) {
    auto node = MakeNode<UnsupportedNode>(at);
    node->message = std::move(message);
    return node;
  }

  // extends / include / import / from: parsed like jinja2; they fail when executed because
  // chat templates are rendered without a template loader (as in transformers).
  NodePtr ParseLoaderStatement() {
    const Token& token = Next();
    const std::string tag = token.text;
    ParseExpression(true);
    const auto context_modifier = [&] {
      if ((IsName("with") || IsName("without")) && Look().type == TokenType::kName &&
          Look().text == "context") {
        Next();
        Next();
        return true;
      }
      return false;
    };
    if (tag == "include") {
      if (IsName("ignore") && Look().type == TokenType::kName && Look().text == "missing") {
        Next();
        Next();
      }
      context_modifier();
    } else if (tag == "import") {
      ExpectName("as");
      ExpectName();
      context_modifier();
    } else if (tag == "from") {
      ExpectName("import");
      bool first = true;
      while (true) {
        if (!first) ExpectOp(Op::kComma);
        first = false;
        if (Cur().type != TokenType::kName) {
          ExpectName();
        }
        if (context_modifier()) break;
        const Token& imported = ExpectName();
        if (!imported.text.empty() && imported.text[0] == '_') {
          Fail("names starting with an underline can not be imported", imported);
        }
        if (SkipName("as")) ExpectName();
        if (context_modifier() || !IsOp(Op::kComma)) break;
      }
    }
    return Unsupported(
        token, "TypeError: no loader for this environment specified ('" + tag + "' needs one)");
  }

  NodePtr ParseFor() {
    const Token& token = ExpectName("for");
    auto node = MakeNode<ForNode>(token);
    node->target = ParseAssignTarget(true, false, {"in"}, false);
    ExpectName("in");
    node->iter = ParseTuple(false, false, {"recursive"}, false);
    if (SkipName("if")) node->filter = ParseExpression(true);
    node->recursive = SkipName("recursive");
    node->body = ParseStatements({"endfor", "else"}, false);
    if (Next().text != "endfor") node->else_body = ParseStatements({"endfor"}, true);
    return node;
  }

  NodePtr ParseIf() {
    const Token& token = ExpectName("if");
    auto node = MakeNode<IfNode>(token);
    while (true) {
      NodePtr test = ParseTuple(false, false, {}, false);
      NodeList body = ParseStatements({"elif", "else", "endif"}, false);
      node->branches.emplace_back(std::move(test), std::move(body));
      const Token& end = Next();
      if (end.text == "elif") continue;
      if (end.text == "else") node->else_body = ParseStatements({"endif"}, true);
      break;
    }
    return node;
  }

  NodePtr ParseSet() {
    const Token& token = ExpectName("set");
    NodePtr target = ParseAssignTarget(true, false, {}, true);
    if (SkipOp(Op::kAssign)) {
      auto node = MakeNode<AssignNode>(token);
      node->target = std::move(target);
      node->value = ParseTuple(false, true, {}, false);
      return node;
    }
    auto node = MakeNode<AssignBlockNode>(token);
    node->target = std::move(target);
    node->filter = ParseFilter(nullptr, false);
    node->body = ParseStatements({"endset"}, true);
    return node;
  }

  NodePtr ParseWith() {
    const Token& token = ExpectName("with");
    auto node = MakeNode<WithNode>(token);
    while (Cur().type != TokenType::kBlockEnd) {
      if (!node->assignments.empty()) ExpectOp(Op::kComma);
      NodePtr target = ParseAssignTarget(true, false, {}, false);
      ExpectOp(Op::kAssign);
      node->assignments.emplace_back(std::move(target), ParseExpression(true));
    }
    node->body = ParseStatements({"endwith"}, true);
    return node;
  }

  NodePtr ParsePrint() {
    const Token& token = ExpectName("print");
    auto node = MakeNode<OutputNode>(token);
    while (Cur().type != TokenType::kBlockEnd) {
      if (!node->items.empty()) ExpectOp(Op::kComma);
      node->items.push_back(ParseExpression(true));
    }
    return node;
  }

  NodePtr ParseBlock() {
    const Token& token = ExpectName("block");
    const std::string name = ExpectName().text;
    SkipName("scoped");
    SkipName("required");
    if (IsOp(Op::kSub)) {
      Fail(
          "Block names in Jinja have to be valid Python identifiers and may not contain "
          "hyphens, use an underscore instead.",
          Cur());
    }
    auto node = MakeNode<ScopeNode>(token);
    node->body = ParseStatements({"endblock"}, true);
    SkipName(name);
    return node;
  }

  void ParseSignature(MacroNode& macro) {
    ExpectOp(Op::kLParen);
    while (!IsOp(Op::kRParen)) {
      if (!macro.params.empty()) ExpectOp(Op::kComma);
      const Token& param = ExpectName();
      if (SkipOp(Op::kAssign)) {
        macro.defaults.push_back(ParseExpression(true));
      } else if (!macro.defaults.empty()) {
        Fail("non-default argument follows default argument", param);
      }
      macro.params.push_back(param.text);
    }
    ExpectOp(Op::kRParen);
  }

  NodePtr ParseMacro() {
    const Token& token = ExpectName("macro");
    auto node = MakeNode<MacroNode>(token);
    node->name = ExpectName().text;
    ParseSignature(*node);
    node->body = ParseStatements({"endmacro"}, true);
    FindSpecialNames(*node);
    return node;
  }

  NodePtr ParseCallBlock() {
    const Token& token = ExpectName("call");
    auto node = MakeNode<CallBlockNode>(token);
    node->caller = MakeNode<MacroNode>(token);
    node->caller->name = "caller";
    if (IsOp(Op::kLParen)) ParseSignature(*node->caller);
    node->call = ParseExpression(true);
    if (node->call->kind != NodeKind::kCall) Fail("expected call", token);
    node->caller->body = ParseStatements({"endcall"}, true);
    FindSpecialNames(*node->caller);
    return node;
  }

  NodePtr ParseFilterBlock() {
    const Token& token = ExpectName("filter");
    auto node = MakeNode<FilterBlockNode>(token);
    node->filter = ParseFilter(nullptr, true);
    node->body = ParseStatements({"endfilter"}, true);
    return node;
  }

  // Marks which of varargs, kwargs and caller the macro body refers to.
  static void FindSpecialNames(MacroNode& macro);

  NodePtr ParseAssignTarget(bool with_tuple, bool name_only, const Names& extra_end,
                            bool with_namespace) {
    const Token& token = Cur();
    if (with_namespace && Look().type == TokenType::kOperator && Look().op == Op::kDot) {
      auto node = MakeNode<NsRefNode>(token);
      node->name = ExpectName().text;
      Next();  // the dot
      node->attr = ExpectName().text;
      return node;
    }
    if (name_only) {
      auto node = MakeNode<NameNode>(token);
      node->name = ExpectName().text;
      return node;
    }
    NodePtr target = with_tuple ? ParseTuple(true, true, extra_end, false) : ParsePrimary();
    CheckAssignable(*target);
    return target;
  }

  void CheckAssignable(const Node& target) const {
    if (target.kind == NodeKind::kName) return;
    if (target.kind == NodeKind::kTuple) {
      for (const NodePtr& item : static_cast<const SequenceNode&>(target).items) {
        CheckAssignable(*item);
      }
      return;
    }
    const char* what = "expression";
    switch (target.kind) {
      case NodeKind::kConst:
        what = "const";
        break;
      case NodeKind::kList:
        what = "list";
        break;
      case NodeKind::kDict:
        what = "dict";
        break;
      default:
        break;
    }
    throw TemplateError(std::string("TemplateSyntaxError: can't assign to '") + what + "'",
                        target.line, target.column);
  }

  // ---- expressions ----

  NodePtr ParseExpression(bool with_condexpr) {
    return with_condexpr ? ParseCondExpr() : ParseOr();
  }

  NodePtr ParseCondExpr() {
    DepthGuard guard(depth_, Cur());
    const Token& token = Cur();
    NodePtr expr = ParseOr();
    while (SkipName("if")) {
      auto node = MakeNode<CondExprNode>(token);
      node->test = ParseOr();
      if (SkipName("else")) node->else_expr = ParseCondExpr();
      node->then_expr = std::move(expr);
      expr = std::move(node);
    }
    return expr;
  }

  NodePtr ParseOr() {
    NodePtr left = ParseAnd();
    while (IsName("or")) {
      const Token& token = Next();
      auto node = MakeNode<LogicNode>(token, NodeKind::kOr);
      node->left = std::move(left);
      node->right = ParseAnd();
      left = std::move(node);
    }
    return left;
  }

  NodePtr ParseAnd() {
    NodePtr left = ParseNot();
    while (IsName("and")) {
      const Token& token = Next();
      auto node = MakeNode<LogicNode>(token, NodeKind::kAnd);
      node->left = std::move(left);
      node->right = ParseNot();
      left = std::move(node);
    }
    return left;
  }

  NodePtr ParseNot() {
    DepthGuard guard(depth_, Cur());
    if (IsName("not")) {
      const Token& token = Next();
      auto node = MakeNode<UnaryNode>(token);
      node->op = UnaryOp::kNot;
      node->operand = ParseNot();
      return node;
    }
    return ParseCompare();
  }

  NodePtr ParseCompare() {
    const Token& token = Cur();
    NodePtr first = ParseMath1();
    std::unique_ptr<CompareNode> node;
    while (true) {
      CompareOpKind op;
      if (Cur().type == TokenType::kOperator && Cur().op == Op::kEq) {
        op = CompareOpKind::kEq;
      } else if (Cur().type == TokenType::kOperator && Cur().op == Op::kNe) {
        op = CompareOpKind::kNe;
      } else if (Cur().type == TokenType::kOperator && Cur().op == Op::kLt) {
        op = CompareOpKind::kLt;
      } else if (Cur().type == TokenType::kOperator && Cur().op == Op::kLtEq) {
        op = CompareOpKind::kLtEq;
      } else if (Cur().type == TokenType::kOperator && Cur().op == Op::kGt) {
        op = CompareOpKind::kGt;
      } else if (Cur().type == TokenType::kOperator && Cur().op == Op::kGtEq) {
        op = CompareOpKind::kGtEq;
      } else if (IsName("in")) {
        op = CompareOpKind::kIn;
      } else if (IsName("not") && Look().type == TokenType::kName && Look().text == "in") {
        Next();
        op = CompareOpKind::kNotIn;
      } else {
        break;
      }
      Next();
      if (!node) {
        node = MakeNode<CompareNode>(token);
        node->first = std::move(first);
      }
      node->rest.emplace_back(op, ParseMath1());
    }
    if (!node) return first;
    return node;
  }

  NodePtr ParseBinaryLevel(std::initializer_list<std::pair<Op, BinaryOp>> ops,
                           NodePtr (Parser::*next)()) {
    NodePtr left = (this->*next)();
    while (Cur().type == TokenType::kOperator) {
      const auto it =
          std::find_if(ops.begin(), ops.end(), [&](const auto& p) { return p.first == Cur().op; });
      if (it == ops.end()) break;
      const Token& token = Next();
      auto node = MakeNode<BinaryNode>(token);
      node->op = it->second;
      node->left = std::move(left);
      node->right = (this->*next)();
      left = std::move(node);
    }
    return left;
  }

  NodePtr ParseMath1() {
    return ParseBinaryLevel({{Op::kAdd, BinaryOp::kAdd}, {Op::kSub, BinaryOp::kSub}},
                            &Parser::ParseConcat);
  }

  NodePtr ParseConcat() {
    const Token& token = Cur();
    NodePtr first = ParseMath2();
    if (!IsOp(Op::kTilde)) return first;
    auto node = MakeNode<ConcatNode>(token);
    node->items.push_back(std::move(first));
    while (SkipOp(Op::kTilde)) node->items.push_back(ParseMath2());
    return node;
  }

  NodePtr ParseMath2() {
    return ParseBinaryLevel({{Op::kMul, BinaryOp::kMul},
                             {Op::kDiv, BinaryOp::kDiv},
                             {Op::kFloorDiv, BinaryOp::kFloorDiv},
                             {Op::kMod, BinaryOp::kMod}},
                            &Parser::ParsePow);
  }

  NodePtr ParsePow() {
    return ParseBinaryLevel({{Op::kPow, BinaryOp::kPow}}, &Parser::ParseUnaryWithFilter);
  }

  NodePtr ParseUnaryWithFilter() { return ParseUnary(true); }

  NodePtr ParseUnary(bool with_filter) {
    DepthGuard guard(depth_, Cur());
    const Token& token = Cur();
    NodePtr node;
    if (IsOp(Op::kSub) || IsOp(Op::kAdd)) {
      Next();
      auto unary = MakeNode<UnaryNode>(token);
      unary->op = token.op == Op::kSub ? UnaryOp::kNeg : UnaryOp::kPos;
      unary->operand = ParseUnary(false);
      node = std::move(unary);
    } else {
      node = ParsePrimary();
    }
    node = ParsePostfix(std::move(node));
    if (with_filter) node = ParseFilterExpr(std::move(node));
    return node;
  }

  NodePtr ParsePrimary() {
    DepthGuard guard(depth_, Cur());
    const Token& token = Cur();
    switch (token.type) {
      case TokenType::kName: {
        Next();
        if (token.text == "true" || token.text == "True" || token.text == "false" ||
            token.text == "False") {
          auto node = MakeNode<ConstNode>(token);
          node->value = Value::Bool(token.text == "true" || token.text == "True");
          return node;
        }
        if (token.text == "none" || token.text == "None") {
          auto node = MakeNode<ConstNode>(token);
          node->value = Value::None();
          return node;
        }
        auto node = MakeNode<NameNode>(token);
        node->name = token.text;
        return node;
      }
      case TokenType::kString: {
        std::string text;
        while (Cur().type == TokenType::kString) text += Next().text;
        auto node = MakeNode<ConstNode>(token);
        node->value = Value::String(std::move(text));
        return node;
      }
      case TokenType::kInteger:
      case TokenType::kFloat: {
        Next();
        auto node = MakeNode<ConstNode>(token);
        node->value = token.type == TokenType::kInteger ? Value::Int(token.int_value)
                                                        : Value::Float(token.float_value);
        return node;
      }
      case TokenType::kOperator:
        if (token.op == Op::kLParen) {
          Next();
          NodePtr node = ParseTuple(false, true, {}, true);
          ExpectOp(Op::kRParen);
          return node;
        }
        if (token.op == Op::kLBracket) return ParseList();
        if (token.op == Op::kLBrace) return ParseDict();
        break;
      default:
        break;
    }
    if (token.type == TokenType::kEof) Fail("unexpected end of template", token);
    Fail("unexpected '" + Describe(token) + "'", token);
  }

  bool IsTupleEnd(const Names& extra_end) const {
    const TokenType t = Cur().type;
    if (t == TokenType::kVariableEnd || t == TokenType::kBlockEnd || IsOp(Op::kRParen)) {
      return true;
    }
    return IsNameIn(extra_end);
  }

  NodePtr ParseTuple(bool simplified, bool with_condexpr, const Names& extra_end,
                     bool explicit_parentheses) {
    const Token& token = Cur();
    NodeList items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) ExpectOp(Op::kComma);
      if (IsTupleEnd(extra_end)) break;
      items.push_back(simplified ? ParsePrimary() : ParseExpression(with_condexpr));
      if (IsOp(Op::kComma)) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parentheses) {
        if (Cur().type == TokenType::kEof) Fail("unexpected end of template", Cur());
        Fail("Expected an expression, got '" + Describe(Cur()) + "'", Cur());
      }
    }
    auto node = MakeNode<SequenceNode>(token, NodeKind::kTuple);
    node->items = std::move(items);
    return node;
  }

  NodePtr ParseList() {
    const Token& token = ExpectOp(Op::kLBracket);
    auto node = MakeNode<SequenceNode>(token, NodeKind::kList);
    while (!IsOp(Op::kRBracket)) {
      if (!node->items.empty()) ExpectOp(Op::kComma);
      if (IsOp(Op::kRBracket)) break;
      node->items.push_back(ParseExpression(true));
    }
    ExpectOp(Op::kRBracket);
    return node;
  }

  NodePtr ParseDict() {
    const Token& token = ExpectOp(Op::kLBrace);
    auto node = MakeNode<DictNode>(token);
    while (!IsOp(Op::kRBrace)) {
      if (!node->items.empty()) ExpectOp(Op::kComma);
      if (IsOp(Op::kRBrace)) break;
      NodePtr key = ParseExpression(true);
      ExpectOp(Op::kColon);
      node->items.emplace_back(std::move(key), ParseExpression(true));
    }
    ExpectOp(Op::kRBrace);
    return node;
  }

  NodePtr ParsePostfix(NodePtr node) {
    while (true) {
      if (IsOp(Op::kDot) || IsOp(Op::kLBracket)) {
        node = ParseSubscript(std::move(node));
      } else if (IsOp(Op::kLParen)) {
        node = ParseCall(std::move(node));
      } else {
        return node;
      }
    }
  }

  NodePtr ParseFilterExpr(NodePtr node) {
    while (true) {
      if (IsOp(Op::kPipe)) {
        node = ParseFilter(std::move(node), false);
      } else if (IsName("is")) {
        node = ParseTest(std::move(node));
      } else if (IsOp(Op::kLParen)) {
        node = ParseCall(std::move(node));
      } else {
        return node;
      }
    }
  }

  NodePtr ParseSubscript(NodePtr object) {
    const Token& token = Next();
    if (token.op == Op::kDot) {
      const Token& attr = Next();
      if (attr.type == TokenType::kName) {
        auto node = MakeNode<GetattrNode>(token);
        node->object = std::move(object);
        node->attr = attr.text;
        return node;
      }
      if (attr.type != TokenType::kInteger) Fail("expected name or number", attr);
      auto key = MakeNode<ConstNode>(attr);
      key->value = Value::Int(attr.int_value);
      auto node = MakeNode<GetitemNode>(token);
      node->object = std::move(object);
      node->key = std::move(key);
      return node;
    }
    NodeList args;
    while (!IsOp(Op::kRBracket)) {
      if (!args.empty()) ExpectOp(Op::kComma);
      args.push_back(ParseSubscribed());
    }
    ExpectOp(Op::kRBracket);
    auto node = MakeNode<GetitemNode>(token);
    node->object = std::move(object);
    if (args.size() == 1) {
      node->key = std::move(args[0]);
    } else {
      auto tuple = MakeNode<SequenceNode>(token, NodeKind::kTuple);
      tuple->items = std::move(args);
      node->key = std::move(tuple);
    }
    return node;
  }

  NodePtr ParseSubscribed() {
    const Token& token = Cur();
    auto slice = MakeNode<SliceNode>(token);
    if (IsOp(Op::kColon)) {
      Next();
    } else {
      NodePtr expr = ParseExpression(true);
      if (!IsOp(Op::kColon)) return expr;
      Next();
      slice->start = std::move(expr);
    }
    if (!IsOp(Op::kColon) && !IsOp(Op::kRBracket) && !IsOp(Op::kComma)) {
      slice->stop = ParseExpression(true);
    }
    if (SkipOp(Op::kColon) && !IsOp(Op::kRBracket) && !IsOp(Op::kComma)) {
      slice->step = ParseExpression(true);
    }
    return slice;
  }

  void ParseCallArgs(ArgsNode& args) {
    const Token& open = ExpectOp(Op::kLParen);
    const auto ensure = [&](bool ok) {
      if (!ok) Fail("invalid syntax for function call expression", open);
    };
    bool require_comma = false;
    while (!IsOp(Op::kRParen)) {
      if (require_comma) {
        ExpectOp(Op::kComma);
        if (IsOp(Op::kRParen)) break;  // a trailing comma
      }
      if (IsOp(Op::kMul)) {
        ensure(!args.dyn_args && !args.dyn_kwargs);
        Next();
        args.dyn_args = ParseExpression(true);
      } else if (IsOp(Op::kPow)) {
        ensure(!args.dyn_kwargs);
        Next();
        args.dyn_kwargs = ParseExpression(true);
      } else if (Cur().type == TokenType::kName && Look().type == TokenType::kOperator &&
                 Look().op == Op::kAssign) {
        ensure(!args.dyn_kwargs);
        const std::string key = Next().text;
        Next();
        args.keyword.emplace_back(key, ParseExpression(true));
      } else {
        ensure(!args.dyn_args && !args.dyn_kwargs && args.keyword.empty());
        args.positional.push_back(ParseExpression(true));
      }
      require_comma = true;
    }
    ExpectOp(Op::kRParen);
  }

  NodePtr ParseCall(NodePtr callee) {
    auto node = MakeNode<CallNode>(Cur());
    node->line = callee->line;  // errors point at what is called, not at its parenthesis
    node->column = callee->column;
    ParseCallArgs(node->args);
    node->callee = std::move(callee);
    return node;
  }

  NodePtr ParseFilter(NodePtr node, bool start_inline) {
    while (IsOp(Op::kPipe) || start_inline) {
      if (!start_inline) Next();
      const Token& token = ExpectName();
      auto filter = MakeNode<FilterNode>(token, NodeKind::kFilter);
      filter->name = token.text;
      while (IsOp(Op::kDot)) {
        Next();
        filter->name += "." + ExpectName().text;
      }
      if (IsOp(Op::kLParen)) ParseCallArgs(filter->args);
      filter->operand = std::move(node);
      node = std::move(filter);
      start_inline = false;
    }
    return node;
  }

  NodePtr ParseTest(NodePtr operand) {
    const Token& token = Next();  // 'is'
    const bool negated = SkipName("not");
    auto test = MakeNode<FilterNode>(Cur(), NodeKind::kTest);
    test->name = ExpectName().text;
    while (IsOp(Op::kDot)) {
      Next();
      test->name += "." + ExpectName().text;
    }
    const TokenType t = Cur().type;
    if (IsOp(Op::kLParen)) {
      ParseCallArgs(test->args);
    } else if ((t == TokenType::kName || t == TokenType::kString || t == TokenType::kInteger ||
                t == TokenType::kFloat || IsOp(Op::kLBracket) || IsOp(Op::kLBrace)) &&
               !IsName("else") && !IsName("or") && !IsName("and")) {
      if (IsName("is")) Fail("You cannot chain multiple tests with is", Cur());
      test->args.positional.push_back(ParsePostfix(ParsePrimary()));
    }
    test->operand = std::move(operand);
    if (!negated) return test;
    auto node = MakeNode<UnaryNode>(token);
    node->op = UnaryOp::kNot;
    node->operand = std::move(test);
    return node;
  }

  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

void Parser::FindSpecialNames(MacroNode& macro) {
  std::function<void(const Node&)> visit = [&](const Node& node) {
    if (node.kind == NodeKind::kName) {
      const std::string& name = static_cast<const NameNode&>(node).name;
      if (name == "varargs") macro.uses_varargs = true;
      if (name == "kwargs") macro.uses_kwargs = true;
      if (name == "caller") macro.uses_caller = true;
    }
    ForEachChild(node, visit);
  };
  for (const NodePtr& node : macro.defaults) visit(*node);
  for (const NodePtr& node : macro.body) visit(*node);
}

}  // namespace

TemplateAst Parse(const std::vector<Token>& tokens, const ParserNames& names) {
  TemplateAst ast = Parser(tokens).Run();
  CheckTemplate(ast, names);
  return ast;
}

}  // namespace autarky::chat::jinja
