// ChatTemplate (see chat_template.h): the variables transformers' apply_chat_template passes
// to the template, from the request's JSON.
#include "chat/chat_template.h"

#include "chat/jinja/error.h"

namespace autarky::chat {
namespace {

jinja::Value Convert(const nlohmann::ordered_json& json, uint32_t depth) {
  using jinja::Value;
  if (depth > jinja::kMaxValueDepth) {
    jinja::Raise("RecursionError", "the JSON input nests more than " +
                                       std::to_string(jinja::kMaxValueDepth) + " levels deep");
  }
  switch (json.type()) {
    case nlohmann::ordered_json::value_t::null:
    case nlohmann::ordered_json::value_t::discarded:
      return Value::None();
    case nlohmann::ordered_json::value_t::boolean:
      return Value::Bool(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::Int(json.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const uint64_t u = json.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) {
        jinja::Raise("OverflowError",
                     "the JSON integer " + std::to_string(u) + " does not fit in 64 bits");
      }
      return Value::Int(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Value::Float(json.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value::String(json.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(Convert(item, depth + 1));
      return Value::List(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Value dict = Value::Dict();
      for (const auto& [key, item] : json.items()) {
        dict.dict().Set(Value::String(key), Convert(item, depth + 1));
      }
      return dict;
    }
    case nlohmann::ordered_json::value_t::binary:
      break;
  }
  jinja::Raise("TypeError", "binary JSON values have no template equivalent");
}

}  // namespace

Result<jinja::Value> JsonToValue(const nlohmann::ordered_json& json) {
  try {
    return Convert(json, 1);
  } catch (const jinja::TemplateError& e) {
    return ErrorStatus(e.message());
  }
}

Result<ChatTemplate> ChatTemplate::Parse(std::string source) {
  ASSIGN_OR_RETURN(jinja::Template parsed, jinja::Template::Parse(source));
  ChatTemplate t;
  t.source_ = std::make_shared<const std::string>(std::move(source));
  t.template_ = std::move(parsed);
  return t;
}

Result<std::string> ChatTemplate::Apply(const ChatTemplateInputs& inputs) const {
  // transformers renders with messages, tools, documents and add_generation_prompt, then
  // its special tokens and the caller's extra keyword arguments.
  std::vector<std::pair<std::string, jinja::Value>> variables;
  ASSIGN_OR_RETURN(jinja::Value messages, JsonToValue(inputs.messages));
  ASSIGN_OR_RETURN(jinja::Value tools, JsonToValue(inputs.tools));
  variables.emplace_back("messages", std::move(messages));
  variables.emplace_back("tools", std::move(tools));
  variables.emplace_back("documents", jinja::Value::None());
  variables.emplace_back("add_generation_prompt", jinja::Value::Bool(inputs.add_generation_prompt));
  if (!inputs.bos_token.empty()) {
    variables.emplace_back("bos_token", jinja::Value::String(inputs.bos_token));
  }
  if (!inputs.eos_token.empty()) {
    variables.emplace_back("eos_token", jinja::Value::String(inputs.eos_token));
  }
  if (!inputs.extra_context.is_null()) {
    if (!inputs.extra_context.is_object()) {
      return ErrorStatus("chat template: extra_context must be a JSON object");
    }
    for (const auto& [key, value] : inputs.extra_context.items()) {
      ASSIGN_OR_RETURN(jinja::Value v, JsonToValue(value));
      variables.emplace_back(key, std::move(v));
    }
  }
  jinja::RenderOptions options;
  options.limits = inputs.limits;
  options.now_seconds = inputs.now_seconds;
  return template_.Render(variables, options);
}

}  // namespace autarky::chat
