// ChatTemplate: the variables transformers passes to a chat template, and the JSON to value
// conversion (expected renders are jinja2's, via tests/reference/templates/render.py).
#include "chat/chat_template.h"

#include <gtest/gtest.h>

#include <ctime>
#include <string>

namespace autarky::chat {
namespace {

using Json = nlohmann::ordered_json;

std::string Apply(const std::string& source, const ChatTemplateInputs& inputs) {
  Result<ChatTemplate> t = ChatTemplate::Parse(source);
  if (!t.ok()) return "PARSE ERROR " + t.status().message();
  Result<std::string> r = t->Apply(inputs);
  return r.ok() ? *r : "ERROR " + r.status().message();
}

TEST(ChatTemplate, RendersMessagesWithGenerationPrompt) {
  ChatTemplateInputs in;
  in.messages =
      Json::parse(R"([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}])");
  in.bos_token = "<s>";
  const std::string source =
      "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>"
      "{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}";
  EXPECT_EQ(Apply(source, in), "<s><user>Hi</user><assistant>Yo</assistant>");
  in.add_generation_prompt = true;
  EXPECT_EQ(Apply(source, in), "<s><user>Hi</user><assistant>Yo</assistant><assistant>");
}

TEST(ChatTemplate, PassesVariablesAsTransformersDoes) {
  ChatTemplateInputs in;
  // tools and documents are defined and None; a special token the tokenizer lacks (empty
  // here) is not passed at all.
  EXPECT_EQ(Apply("{{ tools is defined }} {{ tools is none }} {{ documents is none }} "
                  "{{ bos_token is defined }} {{ eos_token is defined }}",
                  in),
            "True True True False False");
  in.eos_token = "</s>";
  in.extra_context = Json::parse(R"({"enable_thinking": false, "custom": [1, 2]})");
  EXPECT_EQ(Apply("{{ eos_token }} {{ enable_thinking is false }} {{ custom|sum }}", in),
            "</s> True 3");
}

TEST(ChatTemplate, KeepsTheKeyOrderOfTheRequest) {
  ChatTemplateInputs in;
  in.tools = Json::parse(R"([{"type": "function", "function": {"name": "f", "parameters": {}}}])");
  EXPECT_EQ(Apply("{{ tools[0]|tojson }}", in),
            R"({"type": "function", "function": {"name": "f", "parameters": {}}})");
}

TEST(ChatTemplate, StrftimeNowUsesTheGivenClock) {
  ChatTemplateInputs in;
  in.now_seconds = 1721995200;  // 2024-07-26T12:00:00Z
  const std::time_t t = 1721995200;
  std::tm tm{};
  localtime_r(&t, &tm);
  char want[64];
  std::strftime(want, sizeof(want), "%d %b %Y", &tm);
  EXPECT_EQ(Apply("{{ strftime_now('%d %b %Y') }}", in), want);
}

TEST(ChatTemplate, ErrorsNameTheirPosition) {
  ChatTemplateInputs in;
  EXPECT_EQ(Apply("{% if messages[0]['role'] == 'system' %}\n"
                  "{{ raise_exception('System role not supported') }}{% endif %}",
                  in),
            "ERROR line 1, column 18: UndefinedError: list object has no element 0");
  in.messages = Json::parse(R"([{"role": "system", "content": "x"}])");
  EXPECT_EQ(Apply("{% if messages[0]['role'] == 'system' %}\n"
                  "{{ raise_exception('System role not supported') }}{% endif %}",
                  in),
            "ERROR line 2, column 4: TemplateError: System role not supported");
  EXPECT_EQ(Apply("{% for %}", in).rfind("PARSE ERROR line 1, column 8:", 0), 0u);
}

TEST(ChatTemplate, JsonToValueBoundsItsInput) {
  Json deep = Json::array();
  for (int i = 0; i < 1000; ++i) deep = Json::array({deep});
  EXPECT_FALSE(JsonToValue(deep).ok());
  EXPECT_FALSE(JsonToValue(Json(uint64_t{18446744073709551615u})).ok());
  Result<jinja::Value> v = JsonToValue(Json::parse(R"({"b": 1, "a": [1.5, null, true, "x"]})"));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(jinja::Repr(*v), "{'b': 1, 'a': [1.5, None, True, 'x']}");
}

}  // namespace
}  // namespace autarky::chat
