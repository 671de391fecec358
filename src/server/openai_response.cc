// OpenAI response shapes.
#include "server/openai_response.h"

#include <random>
#include <utility>

#include "tokenizer/unicode.h"

namespace autarky::server {

namespace {

Json TokenBytesJson(const std::string& bytes) {
  Json out = Json::array();
  for (unsigned char c : bytes) out.push_back(static_cast<int>(c));
  return out;
}

// A token's text for logprobs: its bytes, made valid UTF-8 (a token may hold part of a
// character; "bytes" carries the exact bytes).
std::string TokenText(const Tokenizer& tokenizer, int32_t id) {
  return SanitizeUtf8(tokenizer.TokenBytes(id));
}

}  // namespace

std::string NewResponseId(const std::string& prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char kHex[] = "0123456789abcdef";
  std::string id = prefix;
  for (int i = 0; i < 24; ++i) id += kHex[rng() % 16];
  return id;
}

Json FinishReasonJson(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    default:
      return nullptr;
  }
}

Json UsageJson(const GenerationUsage& usage) {
  Json u;
  u["prompt_tokens"] = usage.prompt_tokens;
  u["completion_tokens"] = usage.completion_tokens;
  u["total_tokens"] = usage.prompt_tokens + usage.completion_tokens;
  u["prompt_tokens_details"] = {{"cached_tokens", usage.cached_tokens}};
  u["completion_tokens_details"] = {{"reasoning_tokens", usage.reasoning_tokens}};
  return u;
}

Json ChatLogprobsJson(const Tokenizer& tokenizer, std::span<const GeneratedToken> tokens) {
  Json content = Json::array();
  for (const GeneratedToken& t : tokens) {
    Json entry;
    const std::string bytes = tokenizer.TokenBytes(t.token);
    entry["token"] = TokenText(tokenizer, t.token);
    entry["logprob"] = t.logprob;
    entry["bytes"] = TokenBytesJson(bytes);
    Json top = Json::array();
    for (const TokenLogprob& alt : t.top) {
      top.push_back({{"token", TokenText(tokenizer, alt.token)},
                     {"logprob", alt.logprob},
                     {"bytes", TokenBytesJson(tokenizer.TokenBytes(alt.token))}});
    }
    entry["top_logprobs"] = std::move(top);
    content.push_back(std::move(entry));
  }
  Json out;
  out["content"] = std::move(content);
  return out;
}

Json CompletionLogprobsJson(const Tokenizer& tokenizer, std::span<const GeneratedToken> tokens,
                            size_t* offset) {
  Json out;
  Json texts = Json::array(), logprobs = Json::array(), tops = Json::array(),
       offsets = Json::array();
  for (const GeneratedToken& t : tokens) {
    const std::string text = TokenText(tokenizer, t.token);
    texts.push_back(text);
    logprobs.push_back(t.logprob);
    Json top = Json::object();
    for (const TokenLogprob& alt : t.top) top[TokenText(tokenizer, alt.token)] = alt.logprob;
    tops.push_back(std::move(top));
    offsets.push_back(*offset);
    *offset += text.size();
  }
  out["tokens"] = std::move(texts);
  out["token_logprobs"] = std::move(logprobs);
  out["top_logprobs"] = std::move(tops);
  out["text_offset"] = std::move(offsets);
  return out;
}

Json ChatChunkJson(const ResponseIdentity& id, Json delta, Json finish_reason, Json logprobs,
                   bool usage_null) {
  Json chunk;
  chunk["id"] = id.id;
  chunk["object"] = "chat.completion.chunk";
  chunk["created"] = id.created;
  chunk["model"] = id.model;
  chunk["system_fingerprint"] = "autarky";
  Json choice;
  choice["index"] = 0;
  choice["delta"] = std::move(delta);
  choice["logprobs"] = std::move(logprobs);
  choice["finish_reason"] = std::move(finish_reason);
  chunk["choices"] = Json::array({std::move(choice)});
  if (usage_null) chunk["usage"] = nullptr;
  return chunk;
}

Json ChatUsageChunkJson(const ResponseIdentity& id, const GenerationUsage& usage) {
  Json chunk;
  chunk["id"] = id.id;
  chunk["object"] = "chat.completion.chunk";
  chunk["created"] = id.created;
  chunk["model"] = id.model;
  chunk["system_fingerprint"] = "autarky";
  chunk["choices"] = Json::array();
  chunk["usage"] = UsageJson(usage);
  return chunk;
}

Json ChatCompletionJson(const ResponseIdentity& id, const std::string& content,
                        const Json& reasoning, FinishReason finish, const GenerationUsage& usage,
                        Json logprobs) {
  Json out;
  out["id"] = id.id;
  out["object"] = "chat.completion";
  out["created"] = id.created;
  out["model"] = id.model;
  out["system_fingerprint"] = "autarky";
  Json message;
  message["role"] = "assistant";
  message["content"] = content;
  if (!reasoning.is_null()) message["reasoning_content"] = reasoning;
  message["refusal"] = nullptr;
  Json choice;
  choice["index"] = 0;
  choice["message"] = std::move(message);
  choice["logprobs"] = std::move(logprobs);
  choice["finish_reason"] = FinishReasonJson(finish);
  out["choices"] = Json::array({std::move(choice)});
  out["usage"] = UsageJson(usage);
  return out;
}

Json CompletionJson(const ResponseIdentity& id, const std::string& text, Json finish_reason,
                    Json logprobs, const GenerationUsage* usage) {
  Json out;
  out["id"] = id.id;
  out["object"] = "text_completion";
  out["created"] = id.created;
  out["model"] = id.model;
  out["system_fingerprint"] = "autarky";
  Json choice;
  choice["text"] = text;
  choice["index"] = 0;
  choice["logprobs"] = std::move(logprobs);
  choice["finish_reason"] = std::move(finish_reason);
  out["choices"] = Json::array({std::move(choice)});
  if (usage != nullptr) out["usage"] = UsageJson(*usage);
  return out;
}

std::string DumpJson(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string SseEvent(const Json& data) { return "data: " + DumpJson(data) + "\n\n"; }

}  // namespace autarky::server
