// The Jinja parser: tokens (lexer.h) to a syntax tree (ast.h), with jinja2's grammar and
// its compile-time checks (unknown tags, filters and tests, `break` outside a loop).
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/lexer.h"

namespace autarky::chat::jinja {

struct ParserNames {
  // Whether a filter or test of this name exists (unknown names outside `if` are errors at
  // parse time, inside `if` they fail only when reached, as in jinja2).
  std::function<bool(std::string_view)> has_filter;
  std::function<bool(std::string_view)> has_test;
};

// Throws TemplateError with the line and column of the offending token.
TemplateAst Parse(const std::vector<Token>& tokens, const ParserNames& names);

// The checks jinja2 makes when it compiles a template: unknown filters and tests fail unless
// they sit in an `if` statement or conditional expression (there they fail when reached), and
// `break`/`continue` must be inside a loop of the same macro or block. Called by Parse.
void CheckTemplate(const TemplateAst& ast, const ParserNames& names);

}  // namespace autarky::chat::jinja
