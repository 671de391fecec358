// Causal multi-head attention with grouped KV heads over the KV cache: the shared block of the
// Llama-family architectures.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/batch.h"
#include "model/kv_cache.h"

namespace autarky {

class ThreadPool;

struct AttentionShape {
  int n_head = 0;     // query heads
  int n_head_kv = 0;  // key/value heads; n_head is a multiple (grouped-query attention)
  int head_dim = 0;   // per head, for keys, queries and values
  float scale = 0.0f; // multiplies q·k before the softmax (1/sqrt(head_dim))
};

// Per-thread buffers of the attention loop, grown on first use for a (thread count, context).
class AttentionScratch {
 public:
  void Reserve(int n_threads, const AttentionShape& shape, int32_t n_ctx, DType cache_type);
  float* Scores(int thread) { return scores_[thread].data(); }
  float* Values(int thread) { return values_[thread].data(); }
  float* Acc(int thread) { return acc_[thread].data(); }
  uint8_t* QueryActs(int thread) { return query_acts_[thread].data(); }

 private:
  std::vector<std::vector<float>> scores_;       // {group, n_ctx}
  std::vector<std::vector<float>> values_;       // {head_dim} one value row as floats
  std::vector<std::vector<float>> acc_;          // {group, head_dim}
  std::vector<std::vector<uint8_t>> query_acts_; // {group} query rows in the kernels' act type
};

// out {n_tokens, n_head, head_dim} (rows `out_stride` floats apart) = for each token t and head
// h: softmax(scale * q_t,h · K[seq_t][0..pos_t, kv(h)]) · V[seq_t][0..pos_t, kv(h)], where q is
// {n_tokens, n_head, head_dim} (rows `q_stride` apart) and kv(h) = h / (n_head / n_head_kv).
// Keys and values of every batch token must already be stored in `kv` at (layer, seq, pos).
// Each (token, head) is computed the same way whatever the thread count or batch composition.
void CausalAttention(const AttentionShape& shape, const float* q, size_t q_stride,
                     const Batch& batch, const KvCache& kv, int layer, float* out,
                     size_t out_stride, AttentionScratch& scratch, ThreadPool& pool);

}  // namespace autarky
