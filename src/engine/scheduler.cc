// Scheduler: the step loop of continuous batching (see scheduler.h).
#include "engine/scheduler.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "engine/stop_strings.h"
#include "util/check.h"

namespace autarky {

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Window over which Stats() reports generated tokens per second.
constexpr auto kRateWindow = std::chrono::seconds(10);

size_t CommonPrefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// The chosen token's log-probability under softmax(logits) and the top_n most likely tokens
// (ties: lower id first). `order` is scratch of n_vocab ids.
void FillLogprobs(const float* logits, int32_t n_vocab, int32_t top_n, std::vector<int32_t>& order,
                  GeneratedToken& out) {
  float max = -INFINITY;
  for (int32_t i = 0; i < n_vocab; ++i) max = std::max(max, logits[i]);
  double sum = 0;
  for (int32_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - max);
  const double log_norm = max + std::log(sum);
  auto logprob = [&](int32_t id) { return static_cast<float>(logits[id] - log_norm); };
  out.logprob = logprob(out.token);
  const int32_t k = std::min(top_n, n_vocab);
  if (k <= 0) return;
  order.resize(static_cast<size_t>(n_vocab));
  for (int32_t i = 0; i < n_vocab; ++i) order[i] = i;
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  out.top.clear();
  for (int32_t i = 0; i < k; ++i) out.top.push_back({order[i], logprob(order[i])});
}

std::vector<double> TtftBounds() { return {0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}; }

}  // namespace

void Histogram::Observe(double value) {
  if (counts.size() != bounds.size() + 1) counts.assign(bounds.size() + 1, 0);
  size_t i = 0;
  while (i < bounds.size() && value > bounds[i]) ++i;
  ++counts[i];
  sum += value;
  ++count;
}

struct Scheduler::Job {
  GenerationRequest request;
  std::shared_ptr<GenerationStream> stream;
  Clock::time_point submitted;
};

struct Scheduler::Slot {
  int32_t seq = 0;
  std::vector<int32_t> history;  // tokens whose keys/values the slot holds, positions 0..
  uint64_t last_used = 0;

  // The request being served (null: free) and its state.
  std::unique_ptr<Job> job;
  uint64_t admitted = 0;         // admission order: prompts are processed first come first
  std::vector<int32_t> pending;  // tokens to evaluate next, at positions history.size()...
  bool prompting = false;        // pending is (the rest of) the prompt
  std::optional<Sampler> sampler;
  Utf8Stream utf8;
  StopStringMatcher stops;
  bool in_reasoning = false;
  GenerationUsage usage;
  Clock::time_point first_token;
};

Scheduler::Scheduler(InferenceContext& ctx, const Tokenizer& tokenizer, SchedulerOptions options)
    : ctx_(ctx), tokenizer_(tokenizer), options_(std::move(options)), n_vocab_(ctx.n_vocab()) {
  CHECK(options_.prompt_chunk > 0 && options_.max_queued >= 0);
  for (int32_t s = 0; s < ctx_.kv().n_seq(); ++s) {
    slots_.push_back(std::make_unique<Slot>());
    slots_.back()->seq = s;
  }
  stats_.n_slots = ctx_.kv().n_seq();
  stats_.kv_capacity = static_cast<int64_t>(ctx_.kv().n_seq()) * ctx_.n_ctx();
  stats_.time_to_first_token.bounds = TtftBounds();
  stats_.time_to_first_token.counts.assign(stats_.time_to_first_token.bounds.size() + 1, 0);
  for (int32_t b = 1; b < stats_.n_slots; b *= 2) {
    stats_.sequences_per_step.bounds.push_back(b);
  }
  stats_.sequences_per_step.bounds.push_back(stats_.n_slots);
  stats_.sequences_per_step.counts.assign(stats_.sequences_per_step.bounds.size() + 1, 0);
  thread_ = std::thread([this] { Loop(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Submission Scheduler::Submit(GenerationRequest request) {
  Submission out;
  auto invalid = [&](std::string message) {
    out.error = SubmitError::kInvalid;
    out.message = std::move(message);
    return out;
  };
  const int64_t n_prompt = static_cast<int64_t>(request.prompt.size());
  if (n_prompt == 0) return invalid("the prompt is empty");
  if (n_prompt >= ctx_.n_ctx()) {
    return invalid("the prompt has " + std::to_string(n_prompt) + " tokens but the context holds " +
                   std::to_string(ctx_.n_ctx()) +
                   " (including at least one generated token): shorten the prompt or start the "
                   "server with a larger --ctx-size");
  }
  for (int32_t id : request.prompt) {
    if (id < 0 || id >= n_vocab_) {
      return invalid("prompt token " + std::to_string(id) + " is outside the vocabulary [0, " +
                     std::to_string(n_vocab_) + ")");
    }
  }
  for (int32_t id : request.reasoning.close_tokens) {
    if (id < 0 || id >= n_vocab_) return invalid("reasoning close token outside the vocabulary");
  }
  if (Status s = ValidateSamplingParams(request.sampling, n_vocab_); !s.ok()) {
    return invalid(s.message());
  }
  auto job = std::make_unique<Job>();
  job->request = std::move(request);
  job->stream = std::make_shared<GenerationStream>();
  job->submitted = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stop_) {
      out.error = SubmitError::kShutDown;
      out.message = "the server is shutting down";
      return out;
    }
    const int64_t capacity = static_cast<int64_t>(slots_.size()) + options_.max_queued;
    if (static_cast<int64_t>(queue_.size()) + stats_.active >= capacity) {
      ++stats_.requests_rejected;
      out.error = SubmitError::kQueueFull;
      out.message = "all " + std::to_string(slots_.size()) + " slots are busy and " +
                    std::to_string(queue_.size()) + " requests are waiting: retry later";
      return out;
    }
    ++stats_.requests_submitted;
    out.stream = job->stream;
    queue_.push_back(std::move(job));
    stats_.queued = static_cast<int32_t>(queue_.size());
  }
  wake_.notify_all();
  return out;
}

SchedulerStats Scheduler::Stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  SchedulerStats s = stats_;
  if (recent_tokens_.size() >= 2) {
    int64_t tokens = 0;
    for (size_t i = 1; i < recent_tokens_.size(); ++i) tokens += recent_tokens_[i].second;
    const double span = Seconds(recent_tokens_.back().first - recent_tokens_.front().first);
    s.tokens_per_second = span > 0 ? tokens / span : 0;
  }
  return s;
}

void Scheduler::Start(Slot& slot, std::unique_ptr<Job> job) {
  const std::vector<int32_t>& prompt = job->request.prompt;
  // The longest cached prefix anywhere; at least the last prompt token is evaluated again,
  // since its logits are needed.
  const size_t limit = prompt.size() - 1;
  size_t reuse = std::min(CommonPrefix(slot.history, prompt), limit);
  Slot* donor = nullptr;
  for (auto& other : slots_) {
    const size_t n = std::min(CommonPrefix(other->history, prompt), limit);
    if (n > reuse) {
      reuse = n;
      donor = other.get();
    }
  }
  if (donor != nullptr) {
    ctx_.kv().CopyPrefix(donor->seq, slot.seq, static_cast<int32_t>(reuse));
    slot.history.assign(donor->history.begin(), donor->history.begin() + reuse);
  } else {
    slot.history.resize(reuse);
  }
  slot.pending.assign(prompt.begin() + reuse, prompt.end());
  slot.prompting = true;
  slot.sampler.emplace(job->request.sampling, n_vocab_);
  for (int32_t id : prompt) slot.sampler->Accept(id);
  slot.utf8 = Utf8Stream();
  slot.stops = StopStringMatcher(job->request.stop);
  slot.in_reasoning = job->request.reasoning.starts_open;
  slot.usage = GenerationUsage();
  slot.usage.prompt_tokens = static_cast<int32_t>(prompt.size());
  slot.usage.cached_tokens = static_cast<int32_t>(reuse);
  slot.usage.queue_seconds = Seconds(Clock::now() - job->submitted);
  slot.admitted = ++tick_;
  slot.job = std::move(job);
  std::lock_guard<std::mutex> lock(mutex_);  // stats_.active was counted at admission
  stats_.prompt_tokens += slot.usage.prompt_tokens;
  stats_.cached_tokens += slot.usage.cached_tokens;
}

void Scheduler::Emit(Slot& slot, GenerationEvent& event) {
  if (event.text.empty() && event.tokens.empty() && event.finish == FinishReason::kNone) return;
  outbox_.emplace_back(slot.job->stream, std::move(event));
  event = GenerationEvent();
}

void Scheduler::Deliver() {
  for (auto& [stream, event] : outbox_) stream->Push(std::move(event));
  outbox_.clear();
}

void Scheduler::Finish(Slot& slot, FinishReason reason, const std::string& error) {
  GenerationEvent event;
  if (reason == FinishReason::kLength || reason == FinishReason::kStop) {
    // Text held back as a possible stop string (or an unfinished character) was not one.
    if (!slot.stops.stopped()) {
      event.text = slot.stops.Push(slot.utf8.Flush()).text;
      if (!slot.stops.stopped()) event.text += slot.stops.Flush();
    }
  }
  event.finish = reason;
  event.error = error;
  if (slot.usage.completion_tokens > 0) {
    slot.usage.generation_seconds = Seconds(Clock::now() - slot.first_token);
  }
  event.usage = slot.usage;
  outbox_.emplace_back(slot.job->stream, std::move(event));
  slot.job.reset();
  slot.sampler.reset();
  slot.pending.clear();
  slot.last_used = ++tick_;
  std::lock_guard<std::mutex> lock(mutex_);
  --stats_.active;
  ++stats_.requests_finished[static_cast<int>(reason)];
}

void Scheduler::Advance(Slot& slot, const float* logits) {
  const GenerationRequest& request = slot.job->request;
  const ReasoningBudget& reasoning = request.reasoning;
  GenerationEvent event;
  std::vector<GeneratedToken> produced;
  if (slot.in_reasoning && reasoning.max_tokens >= 0 && !reasoning.close_tokens.empty() &&
      slot.usage.reasoning_tokens >= reasoning.max_tokens) {
    // The thinking budget is spent: close the thought as the model would have.
    for (int32_t id : reasoning.close_tokens) {
      GeneratedToken token;
      token.token = id;
      token.forced = true;
      produced.push_back(token);
    }
    slot.in_reasoning = false;
  } else {
    GeneratedToken token;
    token.token = slot.sampler->Sample(std::span<const float>(logits, n_vocab_));
    if (request.top_logprobs >= 0) {
      FillLogprobs(logits, n_vocab_, request.top_logprobs, logprob_order_, token);
    }
    produced.push_back(std::move(token));
  }
  if (slot.usage.completion_tokens == 0) {
    slot.first_token = Clock::now();
    slot.usage.first_token_seconds = Seconds(slot.first_token - slot.job->submitted);
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.time_to_first_token.Observe(slot.usage.first_token_seconds);
  }
  slot.prompting = false;

  for (GeneratedToken& token : produced) {
    const int32_t id = token.token;
    slot.sampler->Accept(id);
    ++slot.usage.completion_tokens;
    if (!token.forced) {
      if (id == reasoning.close_token) {
        slot.in_reasoning = false;
      } else if (id == reasoning.open_token) {
        slot.in_reasoning = true;
      } else if (slot.in_reasoning) {
        ++slot.usage.reasoning_tokens;
      }
    }
    if (!request.ignore_eos && tokenizer_.IsEndOfGeneration(id)) {
      Emit(slot, event);
      Finish(slot, FinishReason::kStop);
      return;
    }
    // Control tokens (other than the end of generation) are not part of the text.
    const std::string bytes = tokenizer_.IsSpecial(id) ? std::string() : tokenizer_.TokenBytes(id);
    StopStringMatcher::Output out = slot.stops.Push(slot.utf8.Push(bytes));
    event.text += out.text;
    event.tokens.push_back(std::move(token));
    if (out.stopped) {
      Emit(slot, event);
      Finish(slot, FinishReason::kStop);
      return;
    }
    if (request.max_tokens >= 0 && slot.usage.completion_tokens >= request.max_tokens) {
      Emit(slot, event);
      Finish(slot, FinishReason::kLength);
      return;
    }
  }
  Emit(slot, event);
  // The produced tokens are evaluated next, at positions history.size()...
  if (static_cast<int64_t>(slot.history.size() + produced.size()) > ctx_.n_ctx()) {
    Finish(slot, FinishReason::kLength);
    return;
  }
  slot.pending.clear();
  for (const GeneratedToken& token : produced) slot.pending.push_back(token.token);
}

void Scheduler::Loop() {
  struct Entry {
    Slot* slot;
    int32_t n;  // tokens of slot->pending in this batch
    bool logits;
  };
  std::vector<Entry> entries;
  std::vector<Slot*> order;
  for (;;) {
    // Cancellations and admissions, between steps.
    std::vector<std::unique_ptr<Job>> cancelled, admitted;
    bool stopping = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      const bool any_active = stats_.active > 0;
      if (!any_active && !stop_ && queue_.empty()) {
        wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      }
      stopping = stop_;
      for (auto it = queue_.begin(); it != queue_.end();) {
        if (stopping || (*it)->stream->cancelled()) {
          cancelled.push_back(std::move(*it));
          it = queue_.erase(it);
        } else {
          ++it;
        }
      }
      int64_t free_slots = static_cast<int64_t>(slots_.size()) - stats_.active;
      while (free_slots-- > 0 && !queue_.empty()) {
        admitted.push_back(std::move(queue_.front()));
        queue_.pop_front();
        // Counted as active now, under the lock, so that Submit never sees a job that has
        // left the queue but not yet reached a slot (that window let the queue overfill).
        ++stats_.active;
      }
      stats_.queued = static_cast<int32_t>(queue_.size());
    }
    for (auto& job : cancelled) {
      GenerationEvent event;
      event.finish = FinishReason::kCancelled;
      event.usage.prompt_tokens = static_cast<int32_t>(job->request.prompt.size());
      outbox_.emplace_back(job->stream, std::move(event));
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.requests_finished[static_cast<int>(FinishReason::kCancelled)];
    }
    for (auto& slot : slots_) {
      if (slot->job != nullptr && (stopping || slot->job->stream->cancelled())) {
        Finish(*slot, FinishReason::kCancelled);
      }
    }
    Deliver();
    if (stopping) return;
    for (auto& job : admitted) {
      // The free slot sharing the longest prefix with the prompt; ties: least recently used.
      Slot* best = nullptr;
      size_t best_prefix = 0;
      for (auto& slot : slots_) {
        if (slot->job != nullptr) continue;
        const size_t prefix = CommonPrefix(slot->history, job->request.prompt);
        if (best == nullptr || prefix > best_prefix ||
            (prefix == best_prefix && slot->last_used < best->last_used)) {
          best = slot.get();
          best_prefix = prefix;
        }
      }
      CHECK(best != nullptr);
      Start(*best, std::move(job));
    }

    // The batch: every generating sequence's next token(s) first (rotating the start when
    // the batch cannot hold them all), then prompt chunks, oldest newcomer first.
    batch_.Clear();
    entries.clear();
    order.clear();
    const size_t n_slots = slots_.size();
    for (size_t i = 0; i < n_slots; ++i) {
      Slot* slot = slots_[(i + tick_) % n_slots].get();
      if (slot->job != nullptr && !slot->prompting && !slot->pending.empty()) {
        order.push_back(slot);
      }
    }
    const bool decoding = !order.empty();
    std::vector<Slot*> prompting;
    for (auto& slot : slots_) {
      if (slot->job != nullptr && slot->prompting) prompting.push_back(slot.get());
    }
    std::sort(prompting.begin(), prompting.end(),
              [](const Slot* a, const Slot* b) { return a->admitted < b->admitted; });
    int64_t budget = ctx_.n_batch();
    // With nobody decoding, a prompt may use the whole batch; otherwise it takes turns.
    int64_t prompt_budget = decoding ? options_.prompt_chunk : budget;
    auto add = [&](Slot* slot, int64_t limit) {
      const int64_t n = std::min<int64_t>(static_cast<int64_t>(slot->pending.size()), limit);
      if (n <= 0) return int64_t{0};
      const bool logits = n == static_cast<int64_t>(slot->pending.size());
      const int32_t start = static_cast<int32_t>(slot->history.size());
      for (int64_t i = 0; i < n; ++i) {
        batch_.Add(slot->pending[i], start + static_cast<int32_t>(i), slot->seq,
                   logits && i == n - 1);
      }
      entries.push_back({slot, static_cast<int32_t>(n), logits});
      return n;
    };
    for (Slot* slot : order) budget -= add(slot, budget);
    for (Slot* slot : prompting) {
      const int64_t n = add(slot, std::min(budget, prompt_budget));
      budget -= n;
      prompt_budget -= n;
    }
    if (batch_.size() == 0) {
      Deliver();
      continue;
    }
    ++tick_;

    if (options_.observe_batch) options_.observe_batch(batch_);
    const auto forward_start = Clock::now();
    const Status status = ctx_.Decode(batch_, logits_);
    const double forward_seconds = Seconds(Clock::now() - forward_start);
    int64_t row = 0;
    int32_t generated = 0;
    for (const Entry& entry : entries) {
      Slot& slot = *entry.slot;
      if (!status.ok()) {
        // The cache may hold part of this batch: forget the slot's contents.
        slot.history.clear();
        Finish(slot, FinishReason::kError, status.message());
        continue;
      }
      slot.history.insert(slot.history.end(), slot.pending.begin(), slot.pending.begin() + entry.n);
      slot.pending.erase(slot.pending.begin(), slot.pending.begin() + entry.n);
      if (!entry.logits) continue;
      const int32_t before = slot.usage.completion_tokens;
      Advance(slot, logits_.data() + static_cast<size_t>(row) * n_vocab_);
      ++row;
      generated += slot.usage.completion_tokens - before;
    }
    int64_t kv_tokens = 0;
    for (auto& slot : slots_) kv_tokens += static_cast<int64_t>(slot->history.size());
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.steps;
      stats_.step_tokens += batch_.size();
      stats_.step_sequences += static_cast<int64_t>(entries.size());
      stats_.max_step_sequences =
          std::max(stats_.max_step_sequences, static_cast<int32_t>(entries.size()));
      stats_.sequences_per_step.Observe(static_cast<double>(entries.size()));
      stats_.completion_tokens += generated;
      stats_.kv_tokens = kv_tokens;
      stats_.forward_seconds += forward_seconds;
      const auto now = Clock::now();
      recent_tokens_.emplace_back(now, generated);
      while (!recent_tokens_.empty() && now - recent_tokens_.front().first > kRateWindow) {
        recent_tokens_.pop_front();
      }
    }
    // After the statistics, so that a client that has seen its output finds it counted.
    Deliver();
  }
}

}  // namespace autarky
