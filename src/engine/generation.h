// What a client asks the scheduler for (GenerationRequest) and what it gets back, token by token
// (GenerationEvent through a GenerationStream): the engine-side shapes the server's OpenAI
// protocol is translated to and from.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "sampling/sampler.h"

namespace autarky {

// Caps the thinking of a reasoning model: after max_tokens generated inside <think>, the
// scheduler writes close_tokens itself (as if generated) and lets the model answer.
struct ReasoningBudget {
  int32_t max_tokens = -1;   // < 0: no cap
  bool starts_open = false;  // the prompt ends inside a thought (R1 templates open <think>)
  int32_t open_token = -1;   // <think>, or -1
  int32_t close_token = -1;  // </think>, or -1
  std::vector<int32_t> close_tokens;  // written at the cap, e.g. the tokens of "\n</think>\n\n"
};

struct GenerationRequest {
  std::vector<int32_t> prompt;    // {n_prompt} token ids, BOS included where the model wants it
  SamplingParams sampling;        // must pass ValidateSamplingParams
  int32_t max_tokens = -1;        // most generated tokens; < 0: until the context is full
  std::vector<std::string> stop;  // stop strings: generation ends before the first one
  bool ignore_eos = false;        // keep going past end-of-generation tokens
  int32_t top_logprobs = -1;      // < 0: no logprobs; else the chosen token's and this many top
  ReasoningBudget reasoning;
};

enum class FinishReason {
  kNone,       // not finished
  kStop,       // end-of-generation token or stop string
  kLength,     // max_tokens or the end of the context
  kCancelled,  // the client cancelled (or the scheduler shut down)
  kError,      // the forward pass failed (message in GenerationEvent::error)
};
const char* FinishReasonName(FinishReason reason);

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0.0f;  // natural log of the model's probability (softmax of the raw logits)
};

struct GeneratedToken {
  int32_t token = 0;
  bool forced = false;            // written by the reasoning budget, not sampled
  float logprob = 0.0f;           // with top_logprobs >= 0 (0 for forced tokens)
  std::vector<TokenLogprob> top;  // {top_logprobs}, most likely first
};

struct GenerationUsage {
  int32_t prompt_tokens = 0;
  int32_t cached_tokens = 0;       // prompt tokens whose keys/values were reused from the cache
  int32_t completion_tokens = 0;   // generated tokens, forced ones included
  int32_t reasoning_tokens = 0;    // generated inside <think>...</think> (with a ReasoningBudget)
  double queue_seconds = 0;        // submission to admission into a slot
  double first_token_seconds = 0;  // submission to the first generated token
  double generation_seconds = 0;   // first token to the end
};

// One piece of output. The text of all events of a request concatenated is the generated text
// (valid UTF-8, without end-of-generation tokens or stop strings); tokens may run ahead of the
// text while a possible stop string or an incomplete character is held back.
struct GenerationEvent {
  std::string text;
  std::vector<GeneratedToken> tokens;
  FinishReason finish = FinishReason::kNone;  // set on the last event only
  std::string error;                          // with kError
  GenerationUsage usage;                      // on the last event
};

// The consumer's end of a request: events arrive from the scheduler thread; Cancel stops the
// generation and frees its slot at the scheduler's next step (which polls the flag: a step
// takes milliseconds, and an idle scheduler has nothing to cancel). Thread-safe.
class GenerationStream {
 public:
  enum class Wait { kEvent, kTimeout };

  // Waits up to `timeout` for output and moves everything produced since the last call into
  // `out`, merged into one event (a slow reader gets larger pieces, never a backlog of small
  // ones). kTimeout leaves `out` empty. After the event with a finish reason, returns kTimeout.
  Wait Next(GenerationEvent* out, std::chrono::milliseconds timeout);

  // Idempotent; a finished request ignores it.
  void Cancel();
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  bool finished() const;

  // Scheduler side: merges `event` into the pending output and wakes the reader.
  void Push(GenerationEvent event);

 private:
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  GenerationEvent pending_;  // merged, not yet taken
  bool has_pending_ = false;
  bool finished_ = false;   // the final event has been pushed
  bool delivered_ = false;  // ... and taken by Next
  std::atomic<bool> cancelled_{false};
};

}  // namespace autarky
