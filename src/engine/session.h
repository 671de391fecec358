// Session: one conversation's token history in one KV cache slot, evaluated incrementally;
// optionally shifts the context (drops the oldest tokens after the first n_keep) when full.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/context.h"

namespace autarky {

struct SessionOptions {
  int32_t seq = 0;              // KV cache slot
  bool context_shift = false;   // when full: drop half of the tokens after n_keep, re-evaluate
  int32_t n_keep = 0;           // tokens at the start that a shift never drops (e.g. the prompt)
};

class Session {
 public:
  Session(InferenceContext& ctx, const SessionOptions& options) : ctx_(ctx), options_(options) {}

  // Appends `tokens` to the history and evaluates them. With all_logits, `logits` gets
  // {tokens.size(), n_vocab}; otherwise the last token's {n_vocab}. Errors: invalid token ids;
  // "context full" when the tokens do not fit and context shift is off (or cannot help).
  Status Append(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits);

  // Forgets every token after the first n (kept tokens stay valid in the cache): reuse of a
  // common prefix between turns.
  void Truncate(int32_t n);

  const std::vector<int32_t>& history() const { return history_; }
  int32_t n_past() const { return static_cast<int32_t>(history_.size()); }
  int32_t n_ctx() const { return ctx_.n_ctx(); }
  int32_t shifts() const { return shifts_; }

 private:
  InferenceContext& ctx_;
  SessionOptions options_;
  std::vector<int32_t> history_;  // tokens whose keys/values are in the cache, positions 0..
  int32_t shifts_ = 0;
};

}  // namespace autarky
