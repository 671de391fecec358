// MLA attention loops: absorbed (queries against cached latent rows) and naive (decompressed).
#include "model/layers/mla.h"

#include <cstring>

#include "kernels/kernel_table.h"
#include "kernels/ops.h"
#include "kernels/quantize.h"
#include "util/check.h"
#include "util/thread_pool.h"

namespace autarky {
namespace {

// Query heads scored together against each key row: the gemm kernels' widest column tile. Fixed,
// so a head's arithmetic never depends on how many heads or threads there are.
constexpr int kHeadTile = kernels::kMatmulColTile;

}  // namespace

void MlaScratch::Reserve(int n_threads, const MlaShape& shape, int32_t n_ctx, DType cache_type) {
  const kernels::WeightKernels* k = kernels::FindWeightKernels(cache_type);
  CHECK(k != nullptr);
  const size_t act_bytes = *RowBytes(k->act_type, shape.row_width()) * kHeadTile;
  if (static_cast<int>(scores_.size()) < n_threads) {
    scores_.resize(n_threads);
    row_.resize(n_threads);
    acc_.resize(n_threads);
    acts_.resize(n_threads);
  }
  for (int t = 0; t < n_threads; ++t) {
    const size_t n_scores = static_cast<size_t>(kHeadTile) * n_ctx;
    if (scores_[t].size() < n_scores) scores_[t].resize(n_scores);
    if (row_[t].size() < static_cast<size_t>(shape.row_width())) row_[t].resize(shape.row_width());
    const size_t n_acc = static_cast<size_t>(kHeadTile) * shape.kv_lora;
    if (acc_[t].size() < n_acc) acc_[t].resize(n_acc);
    if (acts_[t].size() < act_bytes) acts_[t].resize(act_bytes);
  }
}

void MlaStoreRows(const MlaShape& shape, const float* rows, size_t stride, const Batch& batch,
                  KvCache& kv, int layer) {
  CHECK(kv.shape().k_width[layer] == shape.row_width());
  for (int64_t t = 0; t < batch.size(); ++t) {
    kv.StoreK(layer, batch.seqs[t], batch.positions[t], rows + t * stride);
  }
}

void MlaAbsorbedAttention(const MlaShape& shape, const float* q_abs, const Batch& batch,
                          const KvCache& kv, int layer, float* out_lat, MlaScratch& scratch,
                          ThreadPool& pool) {
  const int width = shape.row_width();
  const int32_t n_ctx = kv.n_ctx();
  scratch.Reserve(pool.num_threads(), shape, n_ctx, kv.type());
  const kernels::WeightKernels& kernels = *kernels::FindWeightKernels(kv.type());
  const size_t act_row_bytes = *RowBytes(kernels.act_type, width);
  const size_t k_stride = kv.KRowBytes(layer);
  const bool rows_are_f32 = kv.type() == DType::kF32;
  const int n_tiles = (shape.n_head + kHeadTile - 1) / kHeadTile;
  const size_t q_stride = static_cast<size_t>(shape.n_head) * width;
  const size_t out_stride = static_cast<size_t>(shape.n_head) * shape.kv_lora;

  pool.ParallelFor(batch.size() * n_tiles, [&](int64_t task, int thread) {
    const int64_t t = task / n_tiles;
    const int h0 = static_cast<int>(task % n_tiles) * kHeadTile;
    const int nh = h0 + kHeadTile <= shape.n_head ? kHeadTile : shape.n_head - h0;
    const int32_t seq = batch.seqs[t];
    const int32_t n_keys = batch.positions[t] + 1;
    float* scores = scratch.Scores(thread);  // {nh, n_ctx}
    uint8_t* acts = scratch.Acts(thread);
    const float* q = q_abs + t * q_stride + static_cast<size_t>(h0) * width;
    for (int h = 0; h < nh; ++h) {
      kernels.quantize_act(q + static_cast<size_t>(h) * width, acts + h * act_row_bytes, width);
    }
    // scores[h][j] = q_abs_h · [c_j | k_pe_j], in fixed tiles of keys.
    const uint8_t* rows = kv.KRow(layer, seq, 0);
    for (int32_t j = 0; j < n_keys; j += kernels::kMatmulRowTile) {
      const int nr = static_cast<int>(
          j + kernels::kMatmulRowTile <= n_keys ? kernels::kMatmulRowTile : n_keys - j);
      kernels.gemm(width, rows + j * k_stride, k_stride, nr, acts, act_row_bytes, nh, scores + j,
                   n_ctx);
    }
    for (int h = 0; h < nh; ++h) {
      kernels::Softmax(scores + static_cast<size_t>(h) * n_ctx, n_keys, shape.scale);
    }
    // acc[h] = sum_j p[h][j] c_j: the latents are the values.
    float* acc = scratch.Acc(thread);  // {nh, kv_lora}
    std::memset(acc, 0, sizeof(float) * nh * shape.kv_lora);
    float* row_f = scratch.Row(thread);
    for (int32_t j = 0; j < n_keys; ++j) {
      const uint8_t* row = rows + j * k_stride;
      const float* c = reinterpret_cast<const float*>(row);
      if (!rows_are_f32) {
        kernels::DequantizeRow(kv.type(), row, row_f, width);
        c = row_f;
      }
      for (int h = 0; h < nh; ++h) {
        const float p = scores[static_cast<size_t>(h) * n_ctx + j];
        float* a = acc + static_cast<size_t>(h) * shape.kv_lora;
        for (int i = 0; i < shape.kv_lora; ++i) a[i] += p * c[i];
      }
    }
    std::memcpy(out_lat + t * out_stride + static_cast<size_t>(h0) * shape.kv_lora, acc,
                sizeof(float) * nh * shape.kv_lora);
  });
}

void MlaNaiveAttention(const MlaShape& shape, const float* q, const kernels::WeightMatrix& kv_b,
                       const Batch& batch, const KvCache& kv, int layer, float* out,
                       MlaScratch& scratch, ThreadPool& pool, kernels::MatmulScratch& matmul) {
  const int width = shape.row_width();
  const int kv_head = shape.n_nope + shape.v_dim;  // decompressed values per head
  const size_t kv_stride = static_cast<size_t>(shape.n_head) * kv_head;
  const int qk_head = shape.n_nope + shape.n_rope;
  const size_t q_stride = static_cast<size_t>(shape.n_head) * qk_head;
  const size_t out_stride = static_cast<size_t>(shape.n_head) * shape.v_dim;
  CHECK(kv_b.k == shape.kv_lora && kv_b.n_out == static_cast<int64_t>(kv_stride));
  scratch.Reserve(pool.num_threads(), shape, kv.n_ctx(), kv.type());
  kernels::MatmulOptions options;
  options.pool = &pool;
  options.scratch = &matmul;

  std::vector<uint8_t> done(batch.size(), 0);
  std::vector<int64_t> tokens;
  for (int64_t first = 0; first < batch.size(); ++first) {
    if (done[first]) continue;
    // All tokens of this sequence, and how many positions they reach.
    const int32_t seq = batch.seqs[first];
    tokens.clear();
    int32_t n_pos = 0;
    for (int64_t t = first; t < batch.size(); ++t) {
      if (batch.seqs[t] != seq) continue;
      done[t] = 1;
      tokens.push_back(t);
      n_pos = batch.positions[t] + 1 > n_pos ? batch.positions[t] + 1 : n_pos;
    }
    scratch.latents.resize(static_cast<size_t>(n_pos) * width);       // {n_pos, width}
    scratch.expanded.resize(static_cast<size_t>(n_pos) * kv_stride);  // {n_pos, n_head, kv_head}
    for (int32_t j = 0; j < n_pos; ++j) {
      kernels::DequantizeRow(kv.type(), kv.KRow(layer, seq, j), &scratch.latents[j * width], width);
    }
    kernels::Matmul(kv_b, scratch.latents.data(), width, n_pos, scratch.expanded.data(), kv_stride,
                    options);
    const float* lat = scratch.latents.data();
    const float* kvd = scratch.expanded.data();
    pool.ParallelFor(
        static_cast<int64_t>(tokens.size()) * shape.n_head, [&](int64_t task, int thread) {
          const int64_t t = tokens[task / shape.n_head];
          const int h = static_cast<int>(task % shape.n_head);
          const int32_t n_keys = batch.positions[t] + 1;
          const float* qh = q + t * q_stride + static_cast<size_t>(h) * qk_head;
          float* scores = scratch.Scores(thread);
          for (int32_t j = 0; j < n_keys; ++j) {
            const float* k_nope = kvd + j * kv_stride + static_cast<size_t>(h) * kv_head;
            const float* k_pe = lat + static_cast<size_t>(j) * width + shape.kv_lora;
            float s = 0.0f;
            for (int i = 0; i < shape.n_nope; ++i) s += qh[i] * k_nope[i];
            for (int i = 0; i < shape.n_rope; ++i) s += qh[shape.n_nope + i] * k_pe[i];
            scores[j] = s;
          }
          kernels::Softmax(scores, n_keys, shape.scale);
          float* o = out + t * out_stride + static_cast<size_t>(h) * shape.v_dim;
          std::memset(o, 0, sizeof(float) * shape.v_dim);
          for (int32_t j = 0; j < n_keys; ++j) {
            const float* v = kvd + j * kv_stride + static_cast<size_t>(h) * kv_head + shape.n_nope;
            for (int i = 0; i < shape.v_dim; ++i) o[i] += scores[j] * v[i];
          }
        });
  }
}

}  // namespace autarky
