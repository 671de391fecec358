// OpenAI request parsing and validation.
#include "server/openai_request.h"

#include <cmath>
#include <set>
#include <utility>

namespace autarky::server {

namespace {

#define RETURN_IF_API_ERROR(expr)                    \
  do {                                               \
    if (auto api_error_ = (expr)) return api_error_; \
  } while (0)

const char* TypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a decimal";
    default:
      return "an unsupported value";
  }
}

ApiError WrongType(const std::string& name, const char* expected, const Json& got) {
  return InvalidRequest("Invalid type for '" + name + "': expected " + expected + ", but got " +
                            TypeName(got) + " instead.",
                        name, "invalid_type");
}

std::string FormatNumber(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// The field's value, or nullptr when absent or null (OpenAI treats null as "not given").
const Json* Field(const Json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<ApiError> CheckKnownFields(const Json& body, const std::set<std::string>& known) {
  for (const auto& [key, value] : body.items()) {
    if (!known.contains(key)) {
      return InvalidRequest("Unrecognized request argument supplied: " + key, key,
                            "unknown_parameter");
    }
  }
  return std::nullopt;
}

std::optional<ApiError> GetBool(const Json& body, const char* name, bool* out) {
  const Json* v = Field(body, name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) return WrongType(name, "a boolean", *v);
  *out = v->get<bool>();
  return std::nullopt;
}

std::optional<ApiError> GetNumber(const Json& body, const char* name, double lo, double hi,
                                  float* out) {
  const Json* v = Field(body, name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) return WrongType(name, "a number", *v);
  const double d = v->get<double>();
  if (!(d >= lo && d <= hi)) {
    return InvalidRequest("Invalid '" + std::string(name) + "': expected a value between " +
                              FormatNumber(lo) + " and " + FormatNumber(hi) + ", but got " +
                              FormatNumber(d) + " instead.",
                          name, "invalid_value");
  }
  *out = static_cast<float>(d);
  return std::nullopt;
}

std::optional<ApiError> GetInt(const Json& body, const char* name, int64_t lo, int64_t hi,
                               int64_t* out, bool* given = nullptr) {
  const Json* v = Field(body, name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number_integer()) return WrongType(name, "an integer", *v);
  const bool too_big = v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(hi);
  const int64_t i = too_big ? hi : v->get<int64_t>();
  if (too_big || i < lo || i > hi) {
    return InvalidRequest("Invalid '" + std::string(name) + "': expected an integer between " +
                              std::to_string(lo) + " and " + std::to_string(hi) + ", but got " +
                              v->dump() + " instead.",
                          name, "invalid_value");
  }
  *out = i;
  if (given != nullptr) *given = true;
  return std::nullopt;
}

std::optional<ApiError> GetString(const Json& body, const char* name, std::string* out) {
  const Json* v = Field(body, name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) return WrongType(name, "a string", *v);
  *out = v->get<std::string>();
  return std::nullopt;
}

// Fields both endpoints read the same way.
std::optional<ApiError> ParseGeneration(const Json& body, const SamplingParams& defaults,
                                        int32_t n_vocab, GenerationOptions* g) {
  g->sampling = defaults;
  SamplingParams& s = g->sampling;
  RETURN_IF_API_ERROR(GetBool(body, "stream", &g->stream));
  if (const Json* options = Field(body, "stream_options")) {
    if (!options->is_object()) return WrongType("stream_options", "an object", *options);
    if (!g->stream) {
      return InvalidRequest(
          "The 'stream_options' parameter is only allowed when 'stream' is "
          "enabled.",
          "stream_options");
    }
    for (const auto& [key, value] : options->items()) {
      if (key != "include_usage") {
        return InvalidRequest("Unrecognized stream_options argument: " + key,
                              "stream_options." + key, "unknown_parameter");
      }
    }
    RETURN_IF_API_ERROR(GetBool(*options, "include_usage", &g->include_usage));
  }
  RETURN_IF_API_ERROR(GetNumber(body, "temperature", 0, 2, &s.temperature));
  RETURN_IF_API_ERROR(GetNumber(body, "top_p", 0, 1, &s.top_p));
  RETURN_IF_API_ERROR(GetNumber(body, "min_p", 0, 1, &s.min_p));
  int64_t top_k = s.top_k;
  RETURN_IF_API_ERROR(GetInt(body, "top_k", 0, INT32_MAX, &top_k));
  s.top_k = static_cast<int32_t>(top_k);
  RETURN_IF_API_ERROR(GetNumber(body, "presence_penalty", -2, 2, &s.presence_penalty));
  RETURN_IF_API_ERROR(GetNumber(body, "frequency_penalty", -2, 2, &s.frequency_penalty));
  RETURN_IF_API_ERROR(GetNumber(body, "repeat_penalty", 0.01, 100, &s.repeat_penalty));
  int64_t seed = 0;
  if (const Json* v = Field(body, "seed")) {
    // Any 64-bit integer, signed or not: the generator takes its bits.
    if (!v->is_number_integer()) return WrongType("seed", "an integer", *v);
    seed = v->is_number_unsigned() ? static_cast<int64_t>(v->get<uint64_t>()) : v->get<int64_t>();
    s.seed = static_cast<uint64_t>(seed);
    g->seed_given = true;
  }
  RETURN_IF_API_ERROR(GetBool(body, "ignore_eos", &g->ignore_eos));

  if (const Json* stop = Field(body, "stop")) {
    std::vector<const Json*> items;
    if (stop->is_string()) {
      items.push_back(stop);
    } else if (stop->is_array()) {
      for (const Json& item : *stop) items.push_back(&item);
    } else {
      return WrongType("stop", "a string or an array of strings", *stop);
    }
    if (items.size() > kMaxStopStrings) {
      return InvalidRequest("'stop' may hold at most " + std::to_string(kMaxStopStrings) +
                                " strings, got " + std::to_string(items.size()),
                            "stop");
    }
    for (const Json* item : items) {
      if (!item->is_string()) return WrongType("stop", "a string or an array of strings", *item);
      const std::string& text = item->get_ref<const std::string&>();
      if (text.size() > kMaxStopBytes) {
        return InvalidRequest(
            "a stop string is longer than " + std::to_string(kMaxStopBytes) + " bytes", "stop");
      }
      if (!text.empty()) g->stop.push_back(text);
    }
  }

  if (const Json* bias = Field(body, "logit_bias")) {
    if (!bias->is_object()) return WrongType("logit_bias", "an object", *bias);
    for (const auto& [key, value] : bias->items()) {
      char* end = nullptr;
      const long long id = std::strtoll(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0' || id < 0 || id >= n_vocab) {
        return InvalidRequest("Invalid key in 'logit_bias': '" + key +
                                  "' is not a token id of this model's vocabulary [0, " +
                                  std::to_string(n_vocab) + ")",
                              "logit_bias");
      }
      if (!value.is_number()) return WrongType("logit_bias." + key, "a number", value);
      const double b = value.get<double>();
      if (!(b >= -100 && b <= 100)) {
        return InvalidRequest(
            "Invalid value for 'logit_bias." + key + "': expected a number between -100 and 100",
            "logit_bias");
      }
      // OpenAI: -100 effectively bans the token; make it exact.
      s.logit_bias.emplace_back(static_cast<int32_t>(id),
                                b <= -100 ? -INFINITY : static_cast<float>(b));
    }
  }

  int64_t n = 1;
  RETURN_IF_API_ERROR(GetInt(body, "n", 1, 128, &n));
  if (n != 1) {
    return InvalidRequest(
        "'n' must be 1: autarky generates one choice per request (send the "
        "request several times with different seeds instead)",
        "n", "unsupported_value");
  }
  return std::nullopt;
}

const std::set<std::string> kChatFields = {"model",
                                           "messages",
                                           "stream",
                                           "stream_options",
                                           "max_tokens",
                                           "max_completion_tokens",
                                           "temperature",
                                           "top_p",
                                           "top_k",
                                           "min_p",
                                           "seed",
                                           "stop",
                                           "presence_penalty",
                                           "frequency_penalty",
                                           "repeat_penalty",
                                           "logit_bias",
                                           "logprobs",
                                           "top_logprobs",
                                           "n",
                                           "response_format",
                                           "tools",
                                           "tool_choice",
                                           "parallel_tool_calls",
                                           "user",
                                           "metadata",
                                           "store",
                                           "service_tier",
                                           "reasoning_effort",
                                           "max_reasoning_tokens",
                                           "reasoning_format",
                                           "chat_template_kwargs",
                                           "ignore_eos"};

const std::set<std::string> kCompletionFields = {"model",
                                                 "prompt",
                                                 "stream",
                                                 "stream_options",
                                                 "max_tokens",
                                                 "temperature",
                                                 "top_p",
                                                 "top_k",
                                                 "min_p",
                                                 "seed",
                                                 "stop",
                                                 "presence_penalty",
                                                 "frequency_penalty",
                                                 "repeat_penalty",
                                                 "logit_bias",
                                                 "logprobs",
                                                 "n",
                                                 "echo",
                                                 "best_of",
                                                 "suffix",
                                                 "user",
                                                 "ignore_eos"};

std::optional<ApiError> NormalizeMessages(const Json& messages, Json* out) {
  if (!messages.is_array()) return WrongType("messages", "an array", messages);
  if (messages.empty()) {
    return InvalidRequest("'messages' must contain at least one message", "messages",
                          "empty_array");
  }
  *out = Json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const Json& m = messages[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return WrongType(where, "an object", m);
    const Json* role = Field(m, "role");
    if (role == nullptr)
      return InvalidRequest("Missing required parameter: '" + where + ".role'.", where + ".role",
                            "missing_required_parameter");
    if (!role->is_string()) return WrongType(where + ".role", "a string", *role);
    std::string r = role->get<std::string>();
    if (r != "system" && r != "developer" && r != "user" && r != "assistant" && r != "tool") {
      return InvalidRequest("Invalid value: '" + r +
                                "'. Supported values are: 'system', "
                                "'developer', 'user', 'assistant' and 'tool'.",
                            where + ".role", "invalid_value");
    }
    Json normalized = m;
    // Chat templates know "system"; "developer" is OpenAI's newer name for it.
    if (r == "developer") normalized["role"] = "system";
    const Json* content = Field(m, "content");
    if (content == nullptr) {
      if (r != "assistant") {
        return InvalidRequest("Missing required parameter: '" + where + ".content'.",
                              where + ".content", "missing_required_parameter");
      }
      normalized["content"] = nullptr;
    } else if (content->is_array()) {
      // Text parts are joined; other modalities cannot be read by a text model.
      std::string text;
      bool first = true;
      for (size_t p = 0; p < content->size(); ++p) {
        const Json& part = (*content)[p];
        const std::string part_where = where + ".content[" + std::to_string(p) + "]";
        if (!part.is_object()) return WrongType(part_where, "an object", part);
        const Json* type = Field(part, "type");
        if (type == nullptr || !type->is_string()) {
          return InvalidRequest("Missing required parameter: '" + part_where + ".type'.",
                                part_where + ".type", "missing_required_parameter");
        }
        const std::string& t = type->get_ref<const std::string&>();
        if (t == "refusal") continue;
        if (t != "text") {
          return InvalidRequest(
              "content part type '" + t + "' is not supported: this model reads text only",
              part_where + ".type", "unsupported_value");
        }
        const Json* part_text = Field(part, "text");
        if (part_text == nullptr || !part_text->is_string()) {
          return InvalidRequest("'" + part_where + ".text' must be a string", part_where + ".text",
                                "invalid_type");
        }
        if (!first) text += "\n";
        text += part_text->get<std::string>();
        first = false;
      }
      normalized["content"] = text;
    } else if (!content->is_string()) {
      return WrongType(where + ".content", "a string or an array of content parts", *content);
    }
    for (const char* name : {"name", "tool_call_id", "reasoning_content"}) {
      const Json* v = Field(m, name);
      if (v != nullptr && !v->is_string()) return WrongType(where + "." + name, "a string", *v);
    }
    if (const Json* calls = Field(m, "tool_calls"); calls != nullptr && !calls->is_array()) {
      return WrongType(where + ".tool_calls", "an array", *calls);
    }
    out->push_back(std::move(normalized));
  }
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> ParseJsonBody(std::string_view body, Json* out) {
  if (body.empty()) return InvalidRequest("the request body is empty: expected a JSON object");
  try {
    *out = Json::parse(body, [](int depth, Json::parse_event_t, Json&) {
      if (depth > kMaxJsonDepth) {
        throw std::runtime_error("nested more than " + std::to_string(kMaxJsonDepth) +
                                 " levels deep");
      }
      return true;
    });
  } catch (const std::exception& e) {
    return InvalidRequest(
        std::string("We could not parse the JSON body of your request: ") + e.what(), {},
        "invalid_json");
  }
  if (!out->is_object()) {
    return InvalidRequest(
        std::string("the request body must be a JSON object, not ") + TypeName(*out), {},
        "invalid_json");
  }
  return std::nullopt;
}

std::optional<ApiError> ParseChatRequest(const Json& body, const SamplingParams& defaults,
                                         int32_t n_vocab, ChatRequest* out) {
  RETURN_IF_API_ERROR(CheckKnownFields(body, kChatFields));
  RETURN_IF_API_ERROR(GetString(body, "model", &out->model));
  const Json* messages = Field(body, "messages");
  if (messages == nullptr) {
    return InvalidRequest("Missing required parameter: 'messages'.", "messages",
                          "missing_required_parameter");
  }
  RETURN_IF_API_ERROR(NormalizeMessages(*messages, &out->messages));
  GenerationOptions& g = out->generation;
  RETURN_IF_API_ERROR(ParseGeneration(body, defaults, n_vocab, &g));
  // max_completion_tokens is the newer name; either may come.
  RETURN_IF_API_ERROR(GetInt(body, "max_tokens", 1, INT32_MAX, &g.max_tokens));
  RETURN_IF_API_ERROR(GetInt(body, "max_completion_tokens", 1, INT32_MAX, &g.max_tokens));

  bool logprobs = false;
  RETURN_IF_API_ERROR(GetBool(body, "logprobs", &logprobs));
  int64_t top_logprobs = -1;
  RETURN_IF_API_ERROR(GetInt(body, "top_logprobs", 0, kMaxTopLogprobs, &top_logprobs));
  if (top_logprobs >= 0 && !logprobs) {
    return InvalidRequest("'top_logprobs' requires 'logprobs' to be true", "top_logprobs");
  }
  if (logprobs) g.top_logprobs = static_cast<int32_t>(top_logprobs < 0 ? 0 : top_logprobs);

  if (const Json* format = Field(body, "response_format")) {
    if (!format->is_object()) return WrongType("response_format", "an object", *format);
    const Json* type = Field(*format, "type");
    if (type == nullptr || !type->is_string()) {
      return InvalidRequest("Missing required parameter: 'response_format.type'.",
                            "response_format.type", "missing_required_parameter");
    }
    if (type->get<std::string>() != "text") {
      return InvalidRequest("response_format '" + type->get<std::string>() +
                                "' is not supported yet: autarky has no structured output; "
                                "use 'text' and ask for JSON in the prompt",
                            "response_format", "unsupported_value");
    }
  }

  out->tools = nullptr;
  if (const Json* tools = Field(body, "tools")) {
    if (!tools->is_array()) return WrongType("tools", "an array", *tools);
    for (const Json& tool : *tools) {
      if (!tool.is_object()) return WrongType("tools[]", "an object", tool);
    }
    if (!tools->empty()) out->tools = *tools;
  }
  if (const Json* choice = Field(body, "tool_choice")) {
    if (!choice->is_string() || (*choice != "auto" && *choice != "none")) {
      return InvalidRequest(
          "tool_choice must be 'auto' or 'none': forcing a tool call is not "
          "supported yet",
          "tool_choice", "unsupported_value");
    }
    if (*choice == "none") out->tools = nullptr;
  }
  if (const Json* kwargs = Field(body, "chat_template_kwargs")) {
    if (!kwargs->is_object()) return WrongType("chat_template_kwargs", "an object", *kwargs);
    out->template_kwargs = *kwargs;
  }
  if (const Json* format = Field(body, "reasoning_format")) {
    if (!format->is_string()) return WrongType("reasoning_format", "a string", *format);
    const std::string& f = format->get_ref<const std::string&>();
    if (f == "none" || f == "raw") {
      out->reasoning_format = ReasoningFormat::kRaw;
    } else if (f == "deepseek" || f == "auto") {
      out->reasoning_format = ReasoningFormat::kSplit;
    } else {
      return InvalidRequest(
          "reasoning_format must be 'auto', 'deepseek' (reasoning_content) "
          "or 'none' (raw text)",
          "reasoning_format", "invalid_value");
    }
  }
  int64_t budget = -1;
  RETURN_IF_API_ERROR(GetInt(body, "max_reasoning_tokens", 0, INT32_MAX, &budget));
  out->max_reasoning_tokens = static_cast<int32_t>(budget);
  std::string ignored;
  RETURN_IF_API_ERROR(GetString(body, "user", &ignored));
  RETURN_IF_API_ERROR(GetString(body, "reasoning_effort", &ignored));
  return std::nullopt;
}

std::optional<ApiError> ParseCompletionRequest(const Json& body, const SamplingParams& defaults,
                                               int32_t n_vocab, CompletionRequest* out) {
  RETURN_IF_API_ERROR(CheckKnownFields(body, kCompletionFields));
  RETURN_IF_API_ERROR(GetString(body, "model", &out->model));
  const Json* prompt = Field(body, "prompt");
  if (prompt == nullptr) {
    return InvalidRequest("Missing required parameter: 'prompt'.", "prompt",
                          "missing_required_parameter");
  }
  // A string, [string], [id, ...] or [[id, ...]]: one prompt per request.
  const Json* p = prompt;
  if (p->is_array() && p->size() == 1 && ((*p)[0].is_string() || (*p)[0].is_array())) {
    p = &(*p)[0];
  }
  if (p->is_string()) {
    out->prompt = p->get<std::string>();
  } else if (p->is_array() && !p->empty() && std::all_of(p->begin(), p->end(), [](const Json& v) {
               return v.is_number_integer();
             })) {
    out->prompt_is_tokens = true;
    for (const Json& v : *p) {
      const int64_t id =
          v.is_number_unsigned() && v.get<uint64_t>() > INT32_MAX ? -1 : v.get<int64_t>();
      if (id < 0 || id >= n_vocab) {
        return InvalidRequest("prompt token " + v.dump() +
                                  " is outside this model's vocabulary [0, " +
                                  std::to_string(n_vocab) + ")",
                              "prompt", "invalid_value");
      }
      out->prompt_tokens.push_back(static_cast<int32_t>(id));
    }
  } else if (p->is_array() && p->size() > 1) {
    return InvalidRequest("one prompt per request: send several prompts as several requests",
                          "prompt", "unsupported_value");
  } else {
    return WrongType("prompt", "a string or an array of token ids", *prompt);
  }
  GenerationOptions& g = out->generation;
  RETURN_IF_API_ERROR(ParseGeneration(body, defaults, n_vocab, &g));
  // OpenAI's legacy completions stop after 16 tokens unless told otherwise.
  g.max_tokens = 16;
  RETURN_IF_API_ERROR(GetInt(body, "max_tokens", 1, INT32_MAX, &g.max_tokens));
  int64_t logprobs = -1;
  RETURN_IF_API_ERROR(GetInt(body, "logprobs", 0, 5, &logprobs));
  g.top_logprobs = static_cast<int32_t>(logprobs);
  bool echo = false;
  RETURN_IF_API_ERROR(GetBool(body, "echo", &echo));
  if (echo) return InvalidRequest("'echo' is not supported", "echo", "unsupported_value");
  int64_t best_of = 1;
  RETURN_IF_API_ERROR(GetInt(body, "best_of", 1, 1, &best_of));
  std::string suffix;
  RETURN_IF_API_ERROR(GetString(body, "suffix", &suffix));
  if (!suffix.empty()) {
    return InvalidRequest("'suffix' (fill-in-the-middle) is not supported", "suffix",
                          "unsupported_value");
  }
  std::string ignored;
  RETURN_IF_API_ERROR(GetString(body, "user", &ignored));
  return std::nullopt;
}

}  // namespace autarky::server
