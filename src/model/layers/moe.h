// Mixture-of-Experts feed-forward (DeepSeek V2/V3): router scores, group-limited top-k choice
// of experts per token, and each chosen expert's SwiGLU computed once per batch over all the
// tokens routed to it, so its weights are read once per forward pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/gguf_reader.h"
#include "kernels/matmul.h"
#include "util/status.h"

namespace autarky {

class ThreadPool;

// A 3-D expert tensor {k, n_out, n_expert} (ggml dims): n_expert stacked {n_out, k} matrices.
struct ExpertMatrices {
  kernels::WeightMatrix first;  // expert 0
  int64_t n_expert = 0;
  size_t expert_bytes = 0;  // distance between consecutive experts
  // Expert e's matrix: a view into the same data, nothing copied.
  kernels::WeightMatrix Expert(int64_t e) const {
    kernels::WeightMatrix w = first;
    w.data = static_cast<const uint8_t*>(first.data) + static_cast<size_t>(e) * expert_bytes;
    return w;
  }
};

// Loads `name`, which must be {k, n_out, n_expert} of a type with matmul kernels.
Result<ExpertMatrices> LoadExperts(const GgufFile& file, const std::string& name, int64_t k,
                                   int64_t n_out, int64_t n_expert);

struct RouterConfig {
  int n_expert = 0;
  int n_used = 0;        // experts chosen per token
  int n_group = 0;       // 0 or 1: no group limit
  int n_group_used = 0;  // groups searched for the n_used experts
  bool sigmoid = false;  // false: softmax over the router logits (V2); true: sigmoid (V3)
  bool norm = false;     // divide the chosen weights by their sum
  float scale = 1.0f;    // then multiply them by this
};

// Chooses the experts of one token from its router logits {n_expert}: probabilities by softmax
// or sigmoid; selection by probability + bias (bias {n_expert} or nullptr: V3's exp_probs_b,
// which steers the choice but not the weights); with groups, only the n_group_used groups with
// the best group scores are searched (sigmoid: sum of the group's two best, V3; softmax: its
// best, V2). Writes ids {n_used} (best first, ties
// to the lower index) and their weights {n_used}. work: {2 * n_expert} floats.
void RouteToken(const RouterConfig& config, const float* logits, const float* bias, int32_t* ids,
                float* weights, float* work);

struct MoeWeights {
  ExpertMatrices gate, up;  // {n_ff_exp, n_embd} per expert
  ExpertMatrices down;      // {n_embd, n_ff_exp} per expert
};

// Buffers of MoeForward, grown on first use.
struct MoeScratch {
  std::vector<int32_t> rows;    // {n_tokens} tokens routed to the current expert
  std::vector<float> x;         // {n_tokens, n_embd} their inputs
  std::vector<float> gate, up;  // {n_tokens, n_ff_exp}
  std::vector<float> y;         // {n_tokens, n_embd}
  std::vector<float> acc;       // {n_tokens, n_embd} weighted sum
  // One token (decode): all its experts at once.
  std::vector<float> gates, ups;                    // {n_used, n_ff_exp}
  std::vector<float> ys;                            // {n_used, n_embd}
  kernels::MatmulScratch acts[2];                   // the input quantized for gate (and up)
  std::vector<kernels::MatmulScratch> hidden_acts;  // {n_used} SwiGLU outputs quantized for down
};

// out {n_tokens, n_embd} = sum over each token's chosen experts e (ids/weights {n_tokens,
// n_used}) of w_e * down_e(silu(gate_e x) * up_e x), for x {n_tokens, n_embd}. Only experts
// some token chose are read. Each token's sum runs over its experts in ascending id order, and
// each expert's rows do not depend on the other rows, so results do not depend on the batch.
// `usage` {n_expert} (optional) counts the tokens each expert served.
void MoeForward(const MoeWeights& w, int n_used, const float* x, int64_t n_tokens,
                const int32_t* ids, const float* weights, float* out, MoeScratch& scratch,
                ThreadPool& pool, kernels::MatmulScratch& matmul, uint64_t* usage = nullptr);

}  // namespace autarky
