// Multi-head Latent Attention (DeepSeek V2/V3) over a compressed KV cache: per token and layer
// the cache holds only the normalized latent c {kv_lora_rank} and the shared, rotated rope key
// k_pe {qk_rope_head_dim}, one row [c | k_pe]. Two ways to attend over it:
//  - absorbed (the fast path, DeepSeek-V2 paper section 2.1.3): W_UK is folded into the query,
//    q_abs_h = [W_UK_hᵀ q_nope_h | q_pe_h], so every head scores against the cached rows
//    directly (one multi-query attention of width kv_lora_rank + qk_rope_head_dim whose values
//    are the latents); W_UV is applied to the attended latent afterwards;
//  - naive (the reference path, for tests): the cached latents are decompressed through
//    attn_kv_b into per-head keys and values, then ordinary multi-head attention.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/matmul.h"
#include "model/batch.h"
#include "model/kv_cache.h"

namespace autarky {

class ThreadPool;

struct MlaShape {
  int n_head = 0;
  int kv_lora = 0;  // latent width
  int n_nope = 0;   // per-head query/key dims without rope
  int n_rope = 0;   // per-head query dims with rope = width of the shared rope key
  int v_dim = 0;    // per-head value dims
  float scale = 0;  // multiplies q·k before the softmax
  int row_width() const { return kv_lora + n_rope; }  // one cache row
};

// Per-thread buffers, grown on first use.
class MlaScratch {
 public:
  void Reserve(int n_threads, const MlaShape& shape, int32_t n_ctx, DType cache_type);
  float* Scores(int thread) { return scores_[thread].data(); }
  float* Row(int thread) { return row_[thread].data(); }
  float* Acc(int thread) { return acc_[thread].data(); }
  uint8_t* Acts(int thread) { return acts_[thread].data(); }
  std::vector<float> latents;   // naive: {n_pos, row_width} cached rows of one sequence
  std::vector<float> expanded;  // naive: {n_pos, n_head, n_nope + v_dim} decompressed K/V

 private:
  std::vector<std::vector<float>> scores_;  // {kHeadTile, n_ctx}
  std::vector<std::vector<float>> row_;     // {row_width} one cache row as floats
  std::vector<std::vector<float>> acc_;     // {kHeadTile, kv_lora}
  std::vector<std::vector<uint8_t>> acts_;  // {kHeadTile} query rows in the kernels' act type
};

// Writes each batch token's cache row [c | k_pe] (rows {n_tokens, row_width}, `stride` floats
// apart) into kv at (layer, seq, position).
void MlaStoreRows(const MlaShape& shape, const float* rows, size_t stride, const Batch& batch,
                  KvCache& kv, int layer);

// Absorbed attention. q_abs {n_tokens, n_head, row_width}: queries with W_UK folded in.
// out_lat {n_tokens, n_head, kv_lora} = softmax(scale · q_abs · rows_j) · c_j over the positions
// 0..pos of the token's sequence. Heads are processed in fixed tiles, so results do not depend
// on the thread count or the batch.
void MlaAbsorbedAttention(const MlaShape& shape, const float* q_abs, const Batch& batch,
                          const KvCache& kv, int layer, float* out_lat, MlaScratch& scratch,
                          ThreadPool& pool);

// Naive attention. q {n_tokens, n_head, n_nope + n_rope} (rope part already rotated), kv_b
// {n_head * (n_nope + v_dim), kv_lora} (per head: n_nope key rows, then v_dim value rows).
// out {n_tokens, n_head, v_dim}.
void MlaNaiveAttention(const MlaShape& shape, const float* q, const kernels::WeightMatrix& kv_b,
                       const Batch& batch, const KvCache& kv, int layer, float* out,
                       MlaScratch& scratch, ThreadPool& pool, kernels::MatmulScratch& matmul);

}  // namespace autarky
