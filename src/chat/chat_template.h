// ChatTemplate: a model's chat template (Jinja, from tokenizer.chat_template) applied to an
// OpenAI-style conversation, byte for byte as Hugging Face transformers' apply_chat_template
// renders it (see chat/jinja/template.h for the dialect).
//
//   ASSIGN_OR_RETURN(ChatTemplate t, ChatTemplate::Parse(source));
//   ChatTemplateInputs in;
//   in.messages = nlohmann::ordered_json::parse(R"([{"role":"user","content":"Hi"}])");
//   in.add_generation_prompt = true;
//   ASSIGN_OR_RETURN(std::string prompt, t.Apply(in));
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/jinja/template.h"
#include "util/status.h"

namespace autarky::chat {

struct ChatTemplateInputs {
  // OpenAI-style messages. ordered_json keeps the key order of the request, which templates
  // show through `tojson` and `items` (nlohmann::json converts to it, sorted).
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools;  // null (the template sees None) or an array
  bool add_generation_prompt = false;
  // Passed as transformers passes its special tokens; an empty string is left undefined
  // (transformers omits tokens the tokenizer does not have).
  std::string bos_token, eos_token;
  // More template variables, e.g. {"enable_thinking": false}.
  nlohmann::ordered_json extra_context = nlohmann::ordered_json::object();
  // What strftime_now() reports (seconds since the epoch, local time); nullopt: the clock.
  std::optional<int64_t> now_seconds;
  jinja::RenderLimits limits;
};

class ChatTemplate {
 public:
  // Parse errors name line and column.
  static Result<ChatTemplate> Parse(std::string source);

  // Template errors (raise_exception, type errors, unknown filters) come back as a Status
  // with line and column; time, memory and recursion are bounded by inputs.limits.
  Result<std::string> Apply(const ChatTemplateInputs& inputs) const;

  const std::string& source() const { return *source_; }

 private:
  std::shared_ptr<const std::string> source_;
  jinja::Template template_;
};

// A JSON value as the template sees it (what Python's json.loads gives); fails when nested
// more than jinja::kMaxValueDepth levels or on integers beyond 64 bits.
Result<jinja::Value> JsonToValue(const nlohmann::ordered_json& json);

}  // namespace autarky::chat
