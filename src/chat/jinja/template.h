// A parsed Jinja template that can be rendered many times (the entry point of this folder).
//
// The dialect is jinja2's as transformers configures it for chat templates: trim_blocks,
// lstrip_blocks, the loopcontrols extension ({% break %}, {% continue %}) and the
// {% generation %} tag, an immutable sandbox, default Undefined, `tojson` without ASCII
// escaping. Errors name the line and column: "line 3, column 14: TypeError: ...".
//
//   ASSIGN_OR_RETURN(jinja::Template t, jinja::Template::Parse(source));
//   ASSIGN_OR_RETURN(std::string text, t.Render({{"messages", messages}}));
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja/interpreter.h"
#include "chat/jinja/value.h"
#include "util/status.h"

namespace autarky::chat::jinja {

struct TemplateAst;

struct RenderOptions {
  RenderLimits limits;
  // What strftime_now() sees as the current time (seconds since the epoch, shown in local
  // time); nullopt reads the clock.
  std::optional<int64_t> now_seconds;
};

class Template {
 public:
  // Fails on syntax errors, unknown tags, and filters or tests that do not exist (outside
  // `if` blocks, as jinja2 does).
  static Result<Template> Parse(std::string_view source);

  // Renders with `variables` (e.g. messages, add_generation_prompt) over the globals.
  Result<std::string> Render(const std::vector<std::pair<std::string, Value>>& variables,
                             const RenderOptions& options = {}) const;

 private:
  std::shared_ptr<const TemplateAst> ast_;
};

}  // namespace autarky::chat::jinja
