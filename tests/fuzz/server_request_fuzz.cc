// libFuzzer target: any bytes as the body of /v1/chat/completions and /v1/completions. The JSON
// parsing and the OpenAI request validation must accept or refuse every input with an error
// that names a status and serializes (no crash, no sanitizer report, no uncaught exception);
// an accepted request's values are within the documented ranges.
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "server/api_error.h"
#include "server/openai_request.h"

namespace {

#define FUZZ_CHECK(cond)                                                         \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::fprintf(stderr, "server_request_fuzz: property failed: %s\n", #cond); \
      __builtin_trap();                                                          \
    }                                                                            \
  } while (0)

void CheckError(const autarky::server::ApiError& e) {
  FUZZ_CHECK(e.status >= 400 && e.status < 600 && !e.message.empty());
  FUZZ_CHECK(!autarky::server::ErrorJson(e).empty());
}

void CheckGeneration(const autarky::server::GenerationOptions& g) {
  FUZZ_CHECK(g.max_tokens == -1 || (g.max_tokens >= 1 && g.max_tokens <= INT32_MAX));
  FUZZ_CHECK(g.top_logprobs >= -1 && g.top_logprobs <= autarky::server::kMaxTopLogprobs);
  FUZZ_CHECK(g.stop.size() <= autarky::server::kMaxStopStrings);
  FUZZ_CHECK(autarky::ValidateSamplingParams(g.sampling, 1000).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace autarky::server;
  const std::string_view body(reinterpret_cast<const char*>(bytes), size);
  Json json;
  if (auto error = ParseJsonBody(body, &json)) {
    CheckError(*error);
    return 0;
  }
  const autarky::SamplingParams defaults;
  ChatRequest chat;
  if (auto error = ParseChatRequest(json, defaults, 1000, &chat)) {
    CheckError(*error);
  } else {
    CheckGeneration(chat.generation);
    FUZZ_CHECK(chat.messages.is_array() && !chat.messages.empty());
    for (const Json& m : chat.messages) {
      FUZZ_CHECK(m["content"].is_string() || m["content"].is_null());
    }
  }
  CompletionRequest completion;
  if (auto error = ParseCompletionRequest(json, defaults, 1000, &completion)) {
    CheckError(*error);
  } else {
    CheckGeneration(completion.generation);
    for (int32_t id : completion.prompt_tokens) FUZZ_CHECK(id >= 0 && id < 1000);
  }
  return 0;
}
