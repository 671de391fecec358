// Scheduler: continuous batching of generation requests over one InferenceContext.
//
// One thread owns the context and loops over steps. Each step is one forward pass holding the
// next token of every sequence that is generating plus, within a bounded budget, chunks of the
// prompts of sequences that have just joined, so a newcomer's long prompt never stalls the
// others' decoding for more than one chunk. Requests join between steps (a bounded queue waits
// for a free KV slot) and leave the moment they finish or are cancelled.
//
// Each KV slot remembers the tokens it holds. A request goes to the free slot whose tokens share
// the longest prefix with its prompt (and when another slot shares a longer one, that prefix is
// copied over), so a multi-turn chat re-evaluates only the new turn.
//
// Batch invariance: the forward pass gives a sequence bit-identical logits whatever else is in
// its batch (model/model.h), and every request samples with its own seeded Sampler, so a request
// produces the same tokens alone or batched with any others.
//
//   Scheduler scheduler(*ctx, *tokenizer, {});
//   Submission sub = scheduler.Submit(std::move(request));
//   if (sub.error != SubmitError::kNone) ... sub.message
//   GenerationEvent ev;
//   do { sub.stream->Next(&ev, 100ms); ... } while (ev.finish == FinishReason::kNone);
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/context.h"
#include "engine/generation.h"
#include "tokenizer/tokenizer.h"

namespace autarky {

struct SchedulerOptions {
  int32_t max_queued = 32;     // requests waiting for a slot; beyond that Submit refuses
  int32_t prompt_chunk = 128;  // most prompt tokens per step (all newcomers together)
  // Called on the scheduler thread with every batch before it runs (tests, tracing).
  std::function<void(const Batch&)> observe_batch;
};

enum class SubmitError {
  kNone,
  kInvalid,    // the request cannot run (empty prompt, too long for the context, bad token)
  kQueueFull,  // every slot is busy and the queue is full: retry later
  kShutDown,   // the scheduler is stopping
};

struct Submission {
  std::shared_ptr<GenerationStream> stream;  // null on error
  SubmitError error = SubmitError::kNone;
  std::string message;
};

// Cumulative histogram with fixed upper bounds (Prometheus' convention: counts[i] counts
// observations <= bounds[i]; the last count is +Inf).
struct Histogram {
  std::vector<double> bounds;
  std::vector<int64_t> counts;  // {bounds.size() + 1}
  double sum = 0;
  int64_t count = 0;
  void Observe(double value);
};

// A snapshot of the scheduler's counters and gauges (for /metrics and tests).
struct SchedulerStats {
  int64_t requests_submitted = 0;
  int64_t requests_rejected = 0;      // queue full
  int64_t requests_finished[5] = {};  // by FinishReason
  int64_t prompt_tokens = 0;          // prompt tokens of admitted requests
  int64_t cached_tokens = 0;          // ... of which reused from the cache
  int64_t completion_tokens = 0;
  int64_t steps = 0;               // forward passes
  int64_t step_tokens = 0;         // tokens over all forward passes
  int64_t step_sequences = 0;      // sequences over all forward passes
  int32_t max_step_sequences = 0;  // most sequences one forward pass has held
  int32_t queued = 0;
  int32_t active = 0;
  int32_t n_slots = 0;
  int64_t kv_tokens = 0;          // positions held by all slots
  int64_t kv_capacity = 0;        // n_slots * n_ctx
  double forward_seconds = 0;     // time spent in forward passes
  double tokens_per_second = 0;   // generated tokens per second over the last few seconds
  Histogram time_to_first_token;  // seconds
  Histogram sequences_per_step;
};

class Scheduler {
 public:
  // Starts the scheduler thread. `ctx` and `tokenizer` must outlive the scheduler; the
  // scheduler is the only user of ctx (its thread pool runs one call at a time).
  Scheduler(InferenceContext& ctx, const Tokenizer& tokenizer, SchedulerOptions options);
  // Cancels every request (their streams get kCancelled) and joins the thread.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Checks and queues a request. Thread-safe.
  Submission Submit(GenerationRequest request);

  SchedulerStats Stats() const;
  int32_t n_ctx() const { return ctx_.n_ctx(); }
  int32_t n_slots() const { return ctx_.kv().n_seq(); }

 private:
  struct Job;
  struct Slot;

  void Loop();
  // Puts a job into a free slot: reuses the longest cached prefix of its prompt.
  void Start(Slot& slot, std::unique_ptr<Job> job);
  void Finish(Slot& slot, FinishReason reason, const std::string& error = {});
  // Sampling (or the reasoning budget) after a slot's last pending token has been evaluated.
  void Advance(Slot& slot, const float* logits);
  // Queues output; Deliver() hands it to the streams once the step's statistics are updated.
  void Emit(Slot& slot, GenerationEvent& event);
  void Deliver();

  InferenceContext& ctx_;
  const Tokenizer& tokenizer_;
  const SchedulerOptions options_;
  const int32_t n_vocab_;

  std::vector<std::unique_ptr<Slot>> slots_;  // {n_seq}; touched by the loop thread only
  Batch batch_;
  std::vector<float> logits_;
  std::vector<int32_t> logprob_order_;  // {n_vocab} scratch of the top-logprobs selection
  std::vector<std::pair<std::shared_ptr<GenerationStream>, GenerationEvent>> outbox_;
  uint64_t tick_ = 0;  // step counter, for least-recently-used slot choice

  mutable std::mutex mutex_;  // guards queue_, stop_, stats_
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Job>> queue_;
  bool stop_ = false;
  SchedulerStats stats_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, int32_t>> recent_tokens_;

  std::thread thread_;  // last: starts after everything above is initialized
};

}  // namespace autarky
