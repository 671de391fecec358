// No template makes rendering take unbounded time, memory or stack: loops, recursion, output
// and string sizes, and nesting all hit limits that come back as errors.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "chat/chat_template.h"

namespace autarky::chat {
namespace {

Result<std::string> RenderWithLimits(const std::string& source, const jinja::RenderLimits& limits) {
  ASSIGN_OR_RETURN(ChatTemplate t, ChatTemplate::Parse(source));
  ChatTemplateInputs inputs;
  inputs.limits = limits;
  return t.Apply(inputs);
}

void ExpectErrorContaining(const Result<std::string>& r, const std::string& part) {
  ASSERT_FALSE(r.ok()) << "rendered " << r.value().size() << " bytes";
  EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status().message();
}

TEST(JinjaLimits, StepsBoundLoopsThatWouldRunForHours) {
  jinja::RenderLimits limits;
  limits.max_steps = 200'000;
  const auto start = std::chrono::steady_clock::now();
  ExpectErrorContaining(
      RenderWithLimits("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
                       "{% endfor %}",
                       limits),
      "steps");
  // 200k steps take milliseconds (a second in a sanitizer build); the loop would take hours.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(JinjaLimits, RecursionDepthIsBounded) {
  ExpectErrorContaining(RenderWithLimits("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", {}),
                        "RecursionError");
  ExpectErrorContaining(
      RenderWithLimits("{% for x in [[]] recursive %}{{ loop([x]) }}{% endfor %}", {}),
      "RecursionError");
}

TEST(JinjaLimits, OutputAndStringsAreBounded) {
  jinja::RenderLimits limits;
  limits.max_output_bytes = 1 << 20;
  ExpectErrorContaining(
      RenderWithLimits("{% for i in range(1000) %}{{ 'x' * 10000 }}{% endfor %}", limits),
      "MemoryError");
  ExpectErrorContaining(RenderWithLimits("{{ 'x' * 1000000000000 }}", limits), "MemoryError");
  ExpectErrorContaining(RenderWithLimits("{{ ([1] * 100000) * 100000 }}", limits), "steps");
}

// Python gives '' * n and [] * n at once whatever n; so must the interpreter (the fuzzer found
// '' * 61**10 looping 7e17 times).
TEST(JinjaLimits, EmptySequencesRepeatAtOnce) {
  const auto start = std::chrono::steady_clock::now();
  auto r = RenderWithLimits("[{{ '' * 61**10 }}][{{ ([] * 61**10) | length }}]", {});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "[][0]");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(JinjaLimits, NestingIsBounded) {
  std::string deep = "{{ ";
  deep.append(1000, '(');
  deep += "1";
  deep.append(1000, ')');
  deep += " }}";
  Result<ChatTemplate> parsed = ChatTemplate::Parse(deep);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("nests more than"), std::string::npos);
  std::string blocks;
  for (int i = 0; i < 1000; ++i) blocks += "{% if true %}";
  EXPECT_FALSE(ChatTemplate::Parse(blocks).ok());
  // Values built in a loop nest at most jinja::kMaxValueDepth deep.
  ExpectErrorContaining(RenderWithLimits("{% set ns = namespace(x=[]) %}{% for i in range(2000) %}"
                                         "{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x|length }}",
                                         {}),
                        "RecursionError");
  // A namespace holding itself cannot be printed (Python prints it with {...}), but the
  // error is clean and nothing leaks (the sanitizer build checks the latter).
  ExpectErrorContaining(
      RenderWithLimits("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}", {}),
      "RecursionError");
}

}  // namespace
}  // namespace autarky::chat
