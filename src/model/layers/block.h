// The pieces every transformer block and forward pass here shares: a per-token loop on the
// pool, row-wise RMS norm, the SwiGLU feed-forward, token embedding with the rope tables, and
// the output head over the rows that want logits.
#pragma once

#include <cstdint>

#include "kernels/matmul.h"
#include "model/batch.h"
#include "model/rope.h"
#include "util/thread_pool.h"

namespace autarky {

// Runs fn(t) for every token, on the pool when there are enough tokens to be worth waking it.
template <typename Fn>
void ForEachToken(ThreadPool& pool, int64_t n_tokens, const Fn& fn) {
  constexpr int64_t kMinTokensToSplit = 4;
  if (n_tokens < kMinTokensToSplit) {
    for (int64_t t = 0; t < n_tokens; ++t) fn(t);
    return;
  }
  pool.ParallelFor(n_tokens, [&](int64_t t, int) { fn(t); });
}

// out {n_tokens, d} = rmsnorm(x {n_tokens, d}) * weight {d}.
void RmsNormRows(const float* x, const float* weight, float* out, int64_t n_tokens, int64_t d,
                 float eps, ThreadPool& pool);

// out {n_tokens, d} = (silu(x·W_gateᵀ) * x·W_upᵀ)·W_downᵀ for x {n_tokens, d}; gate and up
// {n_tokens, ff} are scratch (gate holds the product on return).
void SwiGluFeedForward(const kernels::WeightMatrix& w_gate, const kernels::WeightMatrix& w_up,
                       const kernels::WeightMatrix& w_down, const float* x, int64_t n_tokens,
                       int64_t d, float* gate, float* up, float* out, ThreadPool& pool,
                       kernels::MatmulScratch& matmul);

// x {n_tokens, d} = the embedding rows of the batch's tokens; cos, sin {n_tokens, n_rot / 2}
// = the rope tables of their positions. Checks the token ids and positions (programmer errors:
// the context validates input).
void EmbedTokens(const Batch& batch, const kernels::WeightMatrix& token_embd, int64_t n_vocab,
                 int32_t n_ctx, const RopeConfig& rope, float* x, float* cos, float* sin,
                 ThreadPool& pool);

// logits {rows, n_vocab} = (rmsnorm(x_t) * norm)·W_outᵀ for the tokens t that want logits, in
// batch order; rows {max_rows, d} is scratch.
void OutputLogits(const Batch& batch, const float* x, int64_t d, const float* norm, float eps,
                  const kernels::WeightMatrix& output, float* rows, int64_t max_rows,
                  ThreadPool& pool, kernels::MatmulScratch& matmul, float* logits);

}  // namespace autarky
