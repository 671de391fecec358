// Parsing and rendering entry points of the Jinja implementation (see template.h): here
// internal TemplateErrors become Status values.
#include "chat/jinja/template.h"

#include <new>

#include "chat/jinja/ast.h"
#include "chat/jinja/builtins.h"
#include "chat/jinja/error.h"
#include "chat/jinja/lexer.h"
#include "chat/jinja/parser.h"

namespace autarky::chat::jinja {
namespace {

Status ToStatus(const TemplateError& e) {
  if (!e.has_position()) return ErrorStatus(e.message());
  return ErrorStatus("line " + std::to_string(e.line()) + ", column " + std::to_string(e.column()) +
                     ": " + e.message());
}

}  // namespace

Result<Template> Template::Parse(std::string_view source) {
  try {
    ParserNames names;
    names.has_filter = [](std::string_view name) { return IsJinjaFilter(name); };
    names.has_test = [](std::string_view name) { return IsJinjaTest(name); };
    auto ast = std::make_shared<TemplateAst>(jinja::Parse(Tokenize(source), names));
    Template t;
    t.ast_ = std::move(ast);
    return t;
  } catch (const TemplateError& e) {
    return ToStatus(e);
  } catch (const std::bad_alloc&) {
    return ErrorStatus("MemoryError: out of memory while parsing the template");
  } catch (const std::exception& e) {
    // Not expected: every failure should be a TemplateError. Still never abort on input.
    return ErrorStatus(std::string("internal error while parsing the template: ") + e.what());
  }
}

Result<std::string> Template::Render(const std::vector<std::pair<std::string, Value>>& variables,
                                     const RenderOptions& options) const {
  try {
    auto globals = std::make_shared<Scope>(nullptr);
    AddGlobals(*globals);
    auto context = std::make_shared<Scope>(globals);
    for (const auto& [name, value] : variables) context->Set(name, value);
    Interpreter interp(options.limits, options.now_seconds);
    return interp.Render(*ast_, context);
  } catch (const TemplateError& e) {
    return ToStatus(e);
  } catch (const std::bad_alloc&) {
    return ErrorStatus("MemoryError: out of memory while rendering the template");
  } catch (const std::length_error&) {
    return ErrorStatus("MemoryError: a string or list grew too long while rendering");
  } catch (const std::exception& e) {
    return ErrorStatus(std::string("internal error while rendering the template: ") + e.what());
  }
}

}  // namespace autarky::chat::jinja
