// Causal attention over the KV cache, one task per (token, KV head) so that the query heads of a
// group share each key read.
#include "model/layers/attention.h"

#include <cstring>

#include "kernels/kernel_table.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/quantize.h"
#include "util/check.h"
#include "util/thread_pool.h"

namespace autarky {

void AttentionScratch::Reserve(int n_threads, const AttentionShape& shape, int32_t n_ctx,
                               DType cache_type) {
  const int group = shape.n_head / shape.n_head_kv;
  const kernels::WeightKernels* k = kernels::FindWeightKernels(cache_type);
  CHECK(k != nullptr);
  const size_t act_bytes = *RowBytes(k->act_type, shape.head_dim) * group;
  if (static_cast<int>(scores_.size()) < n_threads) {
    scores_.resize(n_threads);
    values_.resize(n_threads);
    acc_.resize(n_threads);
    query_acts_.resize(n_threads);
  }
  for (int t = 0; t < n_threads; ++t) {
    const size_t n_scores = static_cast<size_t>(group) * n_ctx;
    if (scores_[t].size() < n_scores) scores_[t].resize(n_scores);
    if (values_[t].size() < static_cast<size_t>(shape.head_dim)) values_[t].resize(shape.head_dim);
    if (acc_[t].size() < static_cast<size_t>(group) * shape.head_dim) {
      acc_[t].resize(static_cast<size_t>(group) * shape.head_dim);
    }
    if (query_acts_[t].size() < act_bytes) query_acts_[t].resize(act_bytes);
  }
}

void CausalAttention(const AttentionShape& shape, const float* q, size_t q_stride,
                     const Batch& batch, const KvCache& kv, int layer, float* out,
                     size_t out_stride, AttentionScratch& scratch, ThreadPool& pool) {
  const int group = shape.n_head / shape.n_head_kv;
  const int hd = shape.head_dim;
  const int32_t n_ctx = kv.n_ctx();
  scratch.Reserve(pool.num_threads(), shape, n_ctx, kv.type());
  const kernels::WeightKernels& kernels = *kernels::FindWeightKernels(kv.type());
  const size_t act_row_bytes = *RowBytes(kernels.act_type, hd);
  const size_t head_bytes = kv.HeadBytes();
  const size_t k_stride = kv.KRowBytes(layer);
  const bool values_are_f32 = kv.type() == DType::kF32;

  const int64_t n_tasks = batch.size() * shape.n_head_kv;
  pool.ParallelFor(n_tasks, [&](int64_t task, int thread) {
    const int64_t t = task / shape.n_head_kv;
    const int kvh = static_cast<int>(task % shape.n_head_kv);
    const int32_t seq = batch.seqs[t];
    const int32_t n_keys = batch.positions[t] + 1;
    float* scores = scratch.Scores(thread);  // {group, n_ctx}
    uint8_t* acts = scratch.QueryActs(thread);
    const float* q_group = q + t * q_stride + static_cast<size_t>(kvh) * group * hd;
    for (int g = 0; g < group; ++g) {
      kernels.quantize_act(q_group + g * hd, acts + g * act_row_bytes, hd);
    }
    // scores[g][j] = q_g · k_j, in fixed tiles of keys so the arithmetic of each score never
    // depends on how many keys there are.
    const uint8_t* keys = kv.KRow(layer, seq, 0) + kvh * head_bytes;
    for (int32_t j = 0; j < n_keys; j += kernels::kMatmulRowTile) {
      const int nr = static_cast<int>(j + kernels::kMatmulRowTile <= n_keys
                                          ? kernels::kMatmulRowTile
                                          : n_keys - j);
      kernels.gemm(hd, keys + j * k_stride, k_stride, nr, acts, act_row_bytes, group, scores + j,
                   n_ctx);
    }
    for (int g = 0; g < group; ++g) {
      kernels::Softmax(scores + static_cast<size_t>(g) * n_ctx, n_keys, shape.scale);
    }
    // acc[g] = sum_j p[g][j] v_j
    float* acc = scratch.Acc(thread);  // {group, hd}
    std::memset(acc, 0, sizeof(float) * group * hd);
    float* value_row = scratch.Values(thread);
    for (int32_t j = 0; j < n_keys; ++j) {
      const uint8_t* v = kv.VRow(layer, seq, j) + kvh * head_bytes;
      const float* vf = reinterpret_cast<const float*>(v);
      if (!values_are_f32) {
        kernels::DequantizeRow(kv.type(), v, value_row, hd);
        vf = value_row;
      }
      for (int g = 0; g < group; ++g) {
        const float p = scores[static_cast<size_t>(g) * n_ctx + j];
        float* a = acc + g * hd;
        for (int d = 0; d < hd; ++d) a[d] += p * vf[d];
      }
    }
    float* o = out + t * out_stride + static_cast<size_t>(kvh) * group * hd;
    std::memcpy(o, acc, sizeof(float) * group * hd);
  });
}

}  // namespace autarky
