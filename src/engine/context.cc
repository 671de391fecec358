// InferenceContext: batching of token sequences into forward passes.
#include "engine/context.h"

#include <string>

namespace autarky {

Result<std::unique_ptr<InferenceContext>> InferenceContext::Create(const Model& model,
                                                                   const ContextOptions& options) {
  int n_threads = options.n_threads > 0 ? options.n_threads : ThreadPool::HardwareThreads();
  if (n_threads > 1024) return ErrorStatus("--threads must be at most 1024");
  int32_t n_ctx = options.n_ctx > 0 ? options.n_ctx : model.info().n_ctx_train;
  if (n_ctx <= 0 || options.n_batch <= 0 || options.n_seq <= 0) {
    return ErrorStatus("context size, batch size and sequence count must be positive");
  }
  auto ctx = std::unique_ptr<InferenceContext>(new InferenceContext(model, n_threads));
  ctx->n_batch_ = options.n_batch < n_ctx ? options.n_batch : n_ctx;
  ASSIGN_OR_RETURN(ctx->kv_, KvCache::Create(model.CacheShape(), options.kv_type, n_ctx,
                                             options.n_seq));
  ctx->scratch_ = model.NewScratch(ctx->n_batch_, ctx->n_batch_);
  return ctx;
}

void InferenceContext::EnableExpertUsage() {
  if (expert_usage_ != nullptr) return;
  ExpertUsage usage = model_.NewExpertUsage();
  if (usage.layers.empty()) return;
  expert_usage_ = std::make_unique<ExpertUsage>(std::move(usage));
  scratch_->expert_usage = expert_usage_.get();
}

Status InferenceContext::Decode(const Batch& batch, std::vector<float>& logits) {
  const int32_t n_vocab = model_.info().n_vocab;
  if (batch.size() > n_batch_) {
    return ErrorStatus("batch of " + std::to_string(batch.size()) + " tokens exceeds the batch size " +
                       std::to_string(n_batch_));
  }
  for (int64_t t = 0; t < batch.size(); ++t) {
    if (batch.tokens[t] < 0 || batch.tokens[t] >= n_vocab) {
      return ErrorStatus("token id " + std::to_string(batch.tokens[t]) +
                         " is outside the vocabulary [0, " + std::to_string(n_vocab) + ")");
    }
    if (batch.positions[t] < 0 || batch.positions[t] >= kv_->n_ctx()) {
      return ErrorStatus("context full: position " + std::to_string(batch.positions[t]) +
                         " does not fit the context of " + std::to_string(kv_->n_ctx()) +
                         " tokens (raise --ctx-size)");
    }
    if (batch.seqs[t] < 0 || batch.seqs[t] >= kv_->n_seq()) {
      return ErrorStatus("sequence " + std::to_string(batch.seqs[t]) + " does not exist");
    }
  }
  logits.resize(static_cast<size_t>(batch.CountLogits()) * n_vocab);
  model_.Forward(batch, *kv_, *scratch_, pool_, logits.data());
  return Status::Ok();
}

Status InferenceContext::Eval(std::span<const int32_t> tokens, int32_t seq, int32_t start_pos,
                              bool all_logits, std::vector<float>& logits) {
  const int32_t n_vocab = model_.info().n_vocab;
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return ErrorStatus("nothing to evaluate: no tokens");
  if (start_pos < 0 || start_pos + n > kv_->n_ctx()) {
    return ErrorStatus("context full: " + std::to_string(start_pos) + " + " + std::to_string(n) +
                       " tokens do not fit the context of " + std::to_string(kv_->n_ctx()) +
                       " tokens (raise --ctx-size)");
  }
  std::vector<float> chunk_logits;
  std::vector<float> all;
  if (all_logits) all.reserve(static_cast<size_t>(n) * n_vocab);
  for (int64_t begin = 0; begin < n; begin += n_batch_) {
    const int64_t end = begin + n_batch_ < n ? begin + n_batch_ : n;
    batch_.Clear();
    for (int64_t i = begin; i < end; ++i) {
      batch_.Add(tokens[i], start_pos + static_cast<int32_t>(i), seq, all_logits || i == n - 1);
    }
    RETURN_IF_ERROR(Decode(batch_, chunk_logits));
    if (all_logits) all.insert(all.end(), chunk_logits.begin(), chunk_logits.end());
  }
  if (all_logits) {
    logits.swap(all);
  } else {
    logits.swap(chunk_logits);
  }
  return Status::Ok();
}

}  // namespace autarky
