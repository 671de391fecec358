// libFuzzer target: any bytes as a chat template, parsed and rendered over a conversation
// with tools, must give a render or an error: no crash, no sanitizer report, no leak, and
// rendering stays within the limits (small ones here, so that each input runs quickly). A
// render must also be deterministic: rendering twice gives the same result.
//
// scripts/run-fuzz seeds it with ../shared/golden/templates and the snippets of
// tests/reference/templates/snippets.json, with the token dictionary tests/fuzz/jinja_fuzz.dict.
#include <cstdint>
#include <cstdio>
#include <string>

#include "chat/chat_template.h"

namespace autarky::chat {
namespace {

#define FUZZ_CHECK(cond)                                                \
  do {                                                                  \
    if (!(cond)) {                                                      \
      std::fprintf(stderr, "jinja_fuzz: property failed: %s\n", #cond); \
      __builtin_trap();                                                 \
    }                                                                   \
  } while (0)

const ChatTemplateInputs& Inputs() {
  static const ChatTemplateInputs* inputs = [] {
    auto* in = new ChatTemplateInputs;
    in->messages = nlohmann::ordered_json::parse(R"([
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": "Weather in Paris? <b>&amp;</b> é 😀"},
      {"role": "assistant", "content": null, "reasoning_content": "Look it up.",
       "tool_calls": [{"id": "call12345", "type": "function",
                       "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
      {"role": "tool", "tool_call_id": "call12345", "content": "{\"temp\": 18}"},
      {"role": "assistant", "content": "<think>\nok\n</think>\n\nIt is 18 C."}])");
    in->tools = nlohmann::ordered_json::parse(R"([{"type": "function", "function": {
      "name": "get_weather", "description": "Get the weather",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                     "required": ["city"]}}}])");
    in->add_generation_prompt = true;
    in->bos_token = "<s>";
    in->eos_token = "</s>";
    in->extra_context = {{"enable_thinking", false}};
    in->now_seconds = 1721995200;
    in->limits.max_steps = 200'000;
    in->limits.max_output_bytes = 1 << 20;
    in->limits.max_call_depth = 40;
    return in;
  }();
  return *inputs;
}

}  // namespace
}  // namespace autarky::chat

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace autarky::chat;
  const std::string source(reinterpret_cast<const char*>(data), size);
  autarky::Result<ChatTemplate> parsed = ChatTemplate::Parse(source);
  // An "internal error" is a std::exception other than a template error: a bug.
  if (!parsed.ok()) {
    FUZZ_CHECK(!parsed.status().message().empty());
    FUZZ_CHECK(parsed.status().message().rfind("internal error", 0) != 0);
    return 0;
  }
  const autarky::Result<std::string> first = parsed->Apply(Inputs());
  if (!first.ok()) {
    FUZZ_CHECK(!first.status().message().empty());
    FUZZ_CHECK(first.status().message().rfind("internal error", 0) != 0);
    return 0;
  }
  FUZZ_CHECK(first->size() <= Inputs().limits.max_output_bytes);
  const autarky::Result<std::string> second = parsed->Apply(Inputs());
  FUZZ_CHECK(second.ok() && *second == *first);
  return 0;
}
