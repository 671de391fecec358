// Test helper: renders a template through ChatTemplate the way render.py calls jinja2 for the
// snippets (no messages or tools, the given variables, a fixed clock), or "RAISED <error>".
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "chat/chat_template.h"

namespace autarky::chat::testing {

inline std::string Render(std::string_view source, std::string_view variables_json = "{}") {
  Result<ChatTemplate> parsed = ChatTemplate::Parse(std::string(source));
  if (!parsed.ok()) return "RAISED " + parsed.status().message();
  ChatTemplateInputs inputs;
  inputs.extra_context = nlohmann::ordered_json::parse(variables_json);
  inputs.now_seconds = 1721995200;  // 2024-07-26 12:00 UTC
  Result<std::string> rendered = parsed->Apply(inputs);
  if (!rendered.ok()) return "RAISED " + rendered.status().message();
  return *rendered;
}

}  // namespace autarky::chat::testing

// The template raised (in jinja2 too: every expectation here was taken from jinja2 3.1).
#define EXPECT_RAISES(rendered)                                                \
  do {                                                                         \
    const std::string rendered_ = (rendered);                                  \
    EXPECT_EQ(rendered_.rfind("RAISED ", 0), 0u) << "rendered: " << rendered_; \
  } while (0)
