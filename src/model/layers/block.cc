// Shared block pieces: norms, SwiGLU, embedding and the output head.
#include "model/layers/block.h"

#include "kernels/ops.h"
#include "model/layers/linear.h"
#include "model/weights.h"
#include "util/check.h"

namespace autarky {

void RmsNormRows(const float* x, const float* weight, float* out, int64_t n_tokens, int64_t d,
                 float eps, ThreadPool& pool) {
  const kernels::OpsKernels& ops = kernels::GetOpsKernels();
  ForEachToken(pool, n_tokens,
               [&](int64_t t) { ops.rms_norm(&x[t * d], weight, &out[t * d], d, eps); });
}

void SwiGluFeedForward(const kernels::WeightMatrix& w_gate, const kernels::WeightMatrix& w_up,
                       const kernels::WeightMatrix& w_down, const float* x, int64_t n_tokens,
                       int64_t d, float* gate, float* up, float* out, ThreadPool& pool,
                       kernels::MatmulScratch& matmul) {
  const int64_t ff = w_gate.n_out;
  const Projection gate_up[] = {{&w_gate, nullptr, gate, static_cast<size_t>(ff)},
                                {&w_up, nullptr, up, static_cast<size_t>(ff)}};
  ProjectShared(x, n_tokens, d, gate_up, pool, matmul);
  const kernels::OpsKernels& ops = kernels::GetOpsKernels();
  ForEachToken(pool, n_tokens,
               [&](int64_t t) { ops.swiglu(&gate[t * ff], &up[t * ff], &gate[t * ff], ff); });
  const Projection down[] = {{&w_down, nullptr, out, static_cast<size_t>(d)}};
  ProjectShared(gate, n_tokens, ff, down, pool, matmul);
}

void EmbedTokens(const Batch& batch, const kernels::WeightMatrix& token_embd, int64_t n_vocab,
                 int32_t n_ctx, const RopeConfig& rope, float* x, float* cos, float* sin,
                 ThreadPool& pool) {
  const int64_t d = token_embd.k;
  const int half_rot = rope.n_rot / 2;
  ForEachToken(pool, batch.size(), [&](int64_t t) {
    const int32_t token = batch.tokens[t];
    CHECK(token >= 0 && token < n_vocab);
    CHECK(batch.positions[t] >= 0 && batch.positions[t] < n_ctx);
    DequantizeMatrixRow(token_embd, token, &x[t * d]);
    RopeCosSin(rope, batch.positions[t], &cos[t * half_rot], &sin[t * half_rot]);
  });
}

void OutputLogits(const Batch& batch, const float* x, int64_t d, const float* norm, float eps,
                  const kernels::WeightMatrix& output, float* rows, int64_t max_rows,
                  ThreadPool& pool, kernels::MatmulScratch& matmul, float* logits) {
  // Only the rows that want logits go through the (large) output projection.
  int64_t n_out = 0;
  for (int64_t t = 0; t < batch.size(); ++t) {
    if (!batch.want_logits[t]) continue;
    CHECK(n_out < max_rows);
    kernels::RmsNorm(&x[t * d], norm, &rows[n_out * d], d, eps);
    ++n_out;
  }
  if (n_out == 0) return;
  kernels::MatmulOptions options;
  options.pool = &pool;
  options.scratch = &matmul;
  kernels::Matmul(output, rows, n_out, logits, options);
}

}  // namespace autarky
