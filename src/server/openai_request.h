// OpenAI request bodies -> validated requests: /v1/chat/completions and /v1/completions.
// Every field is type- and range-checked; an unknown field, a wrong type or an unsupported
// option gives an ApiError naming the field (OpenAI's own wording where it has one).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sampling/sampler.h"
#include "server/api_error.h"

namespace autarky::server {

using Json = nlohmann::ordered_json;

// Limits on what a request may ask for (beyond the body size limit of the HTTP layer).
inline constexpr int kMaxJsonDepth = 128;
inline constexpr size_t kMaxStopStrings = 16;
inline constexpr size_t kMaxStopBytes = 1024;
inline constexpr int32_t kMaxTopLogprobs = 20;

// Options both endpoints share.
struct GenerationOptions {
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  int64_t max_tokens = -1;     // -1: not given
  SamplingParams sampling;     // the server's defaults where the request is silent
  bool seed_given = false;
  std::vector<std::string> stop;
  int32_t top_logprobs = -1;  // -1: no logprobs; else alternatives per token (0..20)
  bool ignore_eos = false;    // extension (llama.cpp's name)
};

enum class ReasoningFormat {
  kSplit,  // <think>...</think> -> reasoning_content (DeepSeek's API)
  kRaw,    // everything in content, tags included
};

struct ChatRequest {
  std::string model;
  Json messages;                          // content normalized to strings (or null)
  Json tools;                             // null or an array, passed to the template
  Json template_kwargs = Json::object();  // chat_template_kwargs (extension)
  GenerationOptions generation;
  ReasoningFormat reasoning_format = ReasoningFormat::kSplit;
  int32_t max_reasoning_tokens = -1;  // extension: -1 none
};

struct CompletionRequest {
  std::string model;
  bool prompt_is_tokens = false;
  std::string prompt;                  // text, when !prompt_is_tokens
  std::vector<int32_t> prompt_tokens;  // ids, when prompt_is_tokens
  GenerationOptions generation;
};

// Parses a request body: JSON, an object, nested at most kMaxJsonDepth deep.
std::optional<ApiError> ParseJsonBody(std::string_view body, Json* out);

// `defaults` are the server's sampling defaults; `n_vocab` bounds token ids (logit_bias,
// prompt tokens).
std::optional<ApiError> ParseChatRequest(const Json& body, const SamplingParams& defaults,
                                         int32_t n_vocab, ChatRequest* out);
std::optional<ApiError> ParseCompletionRequest(const Json& body, const SamplingParams& defaults,
                                               int32_t n_vocab, CompletionRequest* out);

}  // namespace autarky::server
