// InferenceContext: a model with its KV cache, forward scratch and thread pool; evaluates token
// sequences in batches and returns logits. The single-process building block of `autarky run`,
// `bench`, `perplexity` and the server's scheduler.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "model/model.h"
#include "util/status.h"
#include "util/thread_pool.h"

namespace autarky {

struct ContextOptions {
  int32_t n_ctx = 4096;    // positions per sequence (0: the model's training context)
  int32_t n_batch = 512;   // most tokens per forward pass (prompts are split into such chunks)
  int32_t n_seq = 1;       // independent sequences (KV cache slots)
  int n_threads = 0;       // 0: all hardware threads
  DType kv_type = DType::kF16;
};

class InferenceContext {
 public:
  // Errors: bad sizes or KV type, out of memory.
  static Result<std::unique_ptr<InferenceContext>> Create(const Model& model,
                                                          const ContextOptions& options);

  const Model& model() const { return model_; }
  KvCache& kv() { return *kv_; }
  ThreadPool& pool() { return pool_; }
  int32_t n_ctx() const { return kv_->n_ctx(); }
  int32_t n_batch() const { return n_batch_; }
  int32_t n_vocab() const { return model_.info().n_vocab; }

  // Evaluates `tokens` of sequence `seq` at positions start_pos, start_pos + 1, ... (the cache
  // must hold positions 0..start_pos-1 of that sequence), in chunks of n_batch. With
  // all_logits, `logits` receives {tokens.size(), n_vocab}; otherwise {1, n_vocab} for the
  // last token. Errors: a token id outside the vocabulary, or positions beyond the context
  // ("context full").
  Status Eval(std::span<const int32_t> tokens, int32_t seq, int32_t start_pos, bool all_logits,
              std::vector<float>& logits);

  // Runs an arbitrary batch (the scheduler's entry point); logits of the tokens that want
  // them are written in batch order to `logits`, resized to {count, n_vocab}.
  Status Decode(const Batch& batch, std::vector<float>& logits);

  // From now on, counts the tokens each routed expert serves (MoE models; a no-op for dense
  // ones). Off by default: the forward pass then only tests a null pointer per layer.
  void EnableExpertUsage();
  // The counts so far; nullptr unless enabled on a MoE model.
  const ExpertUsage* expert_usage() const { return expert_usage_.get(); }

 private:
  InferenceContext(const Model& model, int n_threads) : model_(model), pool_(n_threads) {}

  const Model& model_;
  ThreadPool pool_;
  int32_t n_batch_ = 0;
  std::unique_ptr<KvCache> kv_;
  std::unique_ptr<ForwardScratch> scratch_;
  Batch batch_;
  std::unique_ptr<ExpertUsage> expert_usage_;
};

}  // namespace autarky
