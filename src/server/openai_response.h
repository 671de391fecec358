// OpenAI response bodies: chat completions and their stream chunks, legacy text completions,
// usage and logprobs, in exactly the shapes (and key order) OpenAI's API returns.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "engine/generation.h"
#include "server/openai_request.h"
#include "tokenizer/tokenizer.h"

namespace autarky::server {

// What every object of one response shares.
struct ResponseIdentity {
  std::string id;       // "chatcmpl-..." / "cmpl-..."
  int64_t created = 0;  // Unix seconds
  std::string model;
};

// A fresh id: prefix + 24 random hex digits.
std::string NewResponseId(const std::string& prefix);

// "stop", "length"; null for a request that has not finished.
Json FinishReasonJson(FinishReason reason);

// usage with prompt_tokens_details.cached_tokens and completion_tokens_details.reasoning_tokens.
Json UsageJson(const GenerationUsage& usage);

// Chat logprobs: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}, ...]}.
Json ChatLogprobsJson(const Tokenizer& tokenizer, std::span<const GeneratedToken> tokens);
// Legacy completion logprobs: {"tokens", "token_logprobs", "top_logprobs", "text_offset"};
// `offset` is the text length before these tokens (updated).
Json CompletionLogprobsJson(const Tokenizer& tokenizer, std::span<const GeneratedToken> tokens,
                            size_t* offset);

// One "chat.completion.chunk" with a single choice; `usage` adds "usage": null (the
// include_usage convention for chunks other than the last).
Json ChatChunkJson(const ResponseIdentity& id, Json delta, Json finish_reason, Json logprobs,
                   bool usage_null);
// The final usage-only chunk of a stream with include_usage ("choices": []).
Json ChatUsageChunkJson(const ResponseIdentity& id, const GenerationUsage& usage);
// A whole "chat.completion"; reasoning is left out when null.
Json ChatCompletionJson(const ResponseIdentity& id, const std::string& content,
                        const Json& reasoning, FinishReason finish, const GenerationUsage& usage,
                        Json logprobs);

// "text_completion" objects (stream chunks have the same shape without usage).
Json CompletionJson(const ResponseIdentity& id, const std::string& text, Json finish_reason,
                    Json logprobs, const GenerationUsage* usage);

// `data: <json>\n\n` (JSON dumped with invalid UTF-8 replaced, never throwing).
std::string SseEvent(const Json& data);
// Any JSON dumped for a response body, the same way.
std::string DumpJson(const Json& json);

}  // namespace autarky::server
