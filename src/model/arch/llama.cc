// The Llama family: llama (Llama 2/3, DeepSeek-R1-Distill-Llama, Mistral-style files), qwen2
// (Qwen2/2.5, DeepSeek-R1-Distill-Qwen: Q/K/V biases) and qwen3 (per-head Q/K RMSNorm).
//
// Per layer, for hidden states x {n_tokens, n_embd}:
//   h = rmsnorm(x) * attn_norm
//   q, k, v = h·Wqᵀ (+bq), h·Wkᵀ (+bk), h·Wvᵀ (+bv)      {n_tokens, n_head|n_head_kv, head_dim}
//   (qwen3) q, k = rmsnorm per head * q_norm, k_norm
//   q, k = rope(q), rope(k)          adjacent pairs for llama (llama.cpp's permuted Q/K rows),
//                                    half-split (NeoX) pairs for qwen2/qwen3
//   x += attention(q, K cache, V cache)·Woᵀ
//   h = rmsnorm(x) * ffn_norm
//   x += (silu(h·Wgateᵀ) * h·Wupᵀ)·Wdownᵀ
// then logits = (rmsnorm(x) * output_norm)·Woutᵀ, where Wout is token_embd when tied.
#include <cmath>
#include <cstring>

#include "kernels/ops.h"
#include "model/layers/attention.h"
#include "model/layers/block.h"
#include "model/layers/linear.h"
#include "model/model.h"
#include "model/rope.h"
#include "model/weights.h"
#include "util/check.h"
#include "util/thread_pool.h"

namespace autarky {
namespace {

// Bounds on hyper-parameters: far above any real model, low enough that products of them
// cannot overflow and a corrupt file cannot request absurd buffers.
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxEmbd = 1 << 17;
constexpr int64_t kMaxHeads = 1 << 12;

struct LlamaHparams {
  int n_layer = 0;
  int n_embd = 0;
  int n_ff = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  int n_vocab = 0;
  float rms_eps = 1e-5f;
  bool qk_norm = false;  // qwen3
  RopeConfig rope;
};

struct LlamaLayer {
  std::vector<float> attn_norm, ffn_norm;  // {n_embd}
  std::vector<float> bq, bk, bv;           // {n_head*head_dim}, {n_head_kv*head_dim} x2 or empty
  std::vector<float> q_norm, k_norm;       // {head_dim} (qwen3) or empty
  kernels::WeightMatrix wq, wk, wv,
      wo;  // {n_head*hd, n_embd}, {n_kv*hd, n_embd} x2, {n_embd, n_head*hd}
  kernels::WeightMatrix w_gate, w_up;  // {n_ff, n_embd}
  kernels::WeightMatrix w_down;        // {n_embd, n_ff}
};

class LlamaScratch : public ForwardScratch {
 public:
  LlamaScratch(const LlamaHparams& hp, int64_t tokens, int64_t logit_rows)
      : max_tokens(tokens), max_logits(logit_rows) {
    const int64_t q_width = static_cast<int64_t>(hp.n_head) * hp.head_dim;
    const int64_t kv_width = static_cast<int64_t>(hp.n_head_kv) * hp.head_dim;
    x.resize(max_tokens * hp.n_embd);
    h.resize(max_tokens * hp.n_embd);
    q.resize(max_tokens * q_width);
    k.resize(max_tokens * kv_width);
    v.resize(max_tokens * kv_width);
    attn.resize(max_tokens * q_width);
    gate.resize(max_tokens * hp.n_ff);
    up.resize(max_tokens * hp.n_ff);
    cos.resize(max_tokens * hp.rope.n_rot / 2);
    sin.resize(max_tokens * hp.rope.n_rot / 2);
    out_rows.resize(max_logits * hp.n_embd);
  }
  int64_t max_tokens, max_logits;
  std::vector<float> x, h;      // {max_tokens, n_embd} residual stream, normed/projected
  std::vector<float> q, attn;   // {max_tokens, n_head, head_dim}
  std::vector<float> k, v;      // {max_tokens, n_head_kv, head_dim}
  std::vector<float> gate, up;  // {max_tokens, n_ff}
  std::vector<float> cos, sin;  // {max_tokens, n_rot/2}
  std::vector<float> out_rows;  // {max_logits, n_embd} final normed rows that want logits
  AttentionScratch attention;
  kernels::MatmulScratch matmul;
};

class LlamaModel final : public Model {
 public:
  LlamaModel(std::shared_ptr<const GgufFile> file, LlamaHparams hp, int32_t n_ctx_train)
      : Model(std::move(file)), hp_(std::move(hp)), n_ctx_train_(n_ctx_train) {
    info_.n_vocab = hp_.n_vocab;
    info_.n_layer = hp_.n_layer;
    info_.n_embd = hp_.n_embd;
    info_.n_ctx_train = n_ctx_train_;
  }

  Status LoadWeights();

  KvCacheShape CacheShape() const override {
    KvCacheShape shape;
    shape.k_width.assign(hp_.n_layer, hp_.n_head_kv * hp_.head_dim);
    shape.v_width.assign(hp_.n_layer, hp_.n_head_kv * hp_.head_dim);
    shape.head_dim = hp_.head_dim;
    return shape;
  }

  std::unique_ptr<ForwardScratch> NewScratch(int64_t max_tokens,
                                             int64_t max_logits) const override {
    return std::make_unique<LlamaScratch>(hp_, max_tokens, max_logits);
  }

  void Forward(const Batch& batch, KvCache& kv, ForwardScratch& scratch, ThreadPool& pool,
               float* logits) const override;

 private:
  void Layer(int il, const Batch& batch, KvCache& kv, LlamaScratch& s, ThreadPool& pool) const;

  LlamaHparams hp_;
  int32_t n_ctx_train_;
  std::vector<LlamaLayer> layers_;
  kernels::WeightMatrix token_embd_;  // {n_vocab, n_embd}
  std::vector<float> output_norm_;    // {n_embd}
  kernels::WeightMatrix output_;      // {n_vocab, n_embd} (token_embd_ when tied)
};

Status LlamaModel::LoadWeights() {
  const GgufFile& f = *file_;
  const int64_t d = hp_.n_embd;
  const int64_t q_width = static_cast<int64_t>(hp_.n_head) * hp_.head_dim;
  const int64_t kv_width = static_cast<int64_t>(hp_.n_head_kv) * hp_.head_dim;
  ASSIGN_OR_RETURN(token_embd_, LoadMatrix(f, "token_embd.weight", d, hp_.n_vocab));
  ASSIGN_OR_RETURN(output_norm_, LoadVector(f, "output_norm.weight", d));
  ASSIGN_OR_RETURN(output_, LoadOptionalMatrix(f, "output.weight", d, hp_.n_vocab));
  if (output_.data == nullptr) output_ = token_embd_;  // tied embeddings
  layers_.resize(hp_.n_layer);
  for (int il = 0; il < hp_.n_layer; ++il) {
    LlamaLayer& l = layers_[il];
    const std::string p = "blk." + std::to_string(il) + ".";
    ASSIGN_OR_RETURN(l.attn_norm, LoadVector(f, p + "attn_norm.weight", d));
    ASSIGN_OR_RETURN(l.ffn_norm, LoadVector(f, p + "ffn_norm.weight", d));
    ASSIGN_OR_RETURN(l.wq, LoadMatrix(f, p + "attn_q.weight", d, q_width));
    ASSIGN_OR_RETURN(l.wk, LoadMatrix(f, p + "attn_k.weight", d, kv_width));
    ASSIGN_OR_RETURN(l.wv, LoadMatrix(f, p + "attn_v.weight", d, kv_width));
    ASSIGN_OR_RETURN(l.wo, LoadMatrix(f, p + "attn_output.weight", q_width, d));
    ASSIGN_OR_RETURN(l.bq, LoadOptionalVector(f, p + "attn_q.bias", q_width));
    ASSIGN_OR_RETURN(l.bk, LoadOptionalVector(f, p + "attn_k.bias", kv_width));
    ASSIGN_OR_RETURN(l.bv, LoadOptionalVector(f, p + "attn_v.bias", kv_width));
    if (hp_.qk_norm) {
      ASSIGN_OR_RETURN(l.q_norm, LoadVector(f, p + "attn_q_norm.weight", hp_.head_dim));
      ASSIGN_OR_RETURN(l.k_norm, LoadVector(f, p + "attn_k_norm.weight", hp_.head_dim));
    }
    ASSIGN_OR_RETURN(l.w_gate, LoadMatrix(f, p + "ffn_gate.weight", d, hp_.n_ff));
    ASSIGN_OR_RETURN(l.w_up, LoadMatrix(f, p + "ffn_up.weight", d, hp_.n_ff));
    ASSIGN_OR_RETURN(l.w_down, LoadMatrix(f, p + "ffn_down.weight", hp_.n_ff, d));
  }
  return Status::Ok();
}

void LlamaModel::Layer(int il, const Batch& batch, KvCache& kv, LlamaScratch& s,
                       ThreadPool& pool) const {
  const LlamaLayer& l = layers_[il];
  const int64_t n = batch.size();
  const int64_t d = hp_.n_embd;
  const int hd = hp_.head_dim;
  const int64_t q_width = static_cast<int64_t>(hp_.n_head) * hd;
  const int64_t kv_width = static_cast<int64_t>(hp_.n_head_kv) * hd;
  const int half_rot = hp_.rope.n_rot / 2;
  const kernels::OpsKernels& ops = kernels::GetOpsKernels();

  RmsNormRows(s.x.data(), l.attn_norm.data(), s.h.data(), n, d, hp_.rms_eps, pool);
  const Projection qkv[] = {{&l.wq, &l.bq, s.q.data(), static_cast<size_t>(q_width)},
                            {&l.wk, &l.bk, s.k.data(), static_cast<size_t>(kv_width)},
                            {&l.wv, &l.bv, s.v.data(), static_cast<size_t>(kv_width)}};
  ProjectShared(s.h.data(), n, d, qkv, pool, s.matmul);

  ForEachToken(pool, n, [&](int64_t t) {
    float* q = &s.q[t * q_width];
    float* k = &s.k[t * kv_width];
    if (hp_.qk_norm) {
      for (int h = 0; h < hp_.n_head; ++h) {
        ops.rms_norm(q + h * hd, l.q_norm.data(), q + h * hd, hd, hp_.rms_eps);
      }
      for (int h = 0; h < hp_.n_head_kv; ++h) {
        ops.rms_norm(k + h * hd, l.k_norm.data(), k + h * hd, hd, hp_.rms_eps);
      }
    }
    const float* cos = &s.cos[t * half_rot];
    const float* sin = &s.sin[t * half_rot];
    ops.rope(q, hp_.n_head, hd, hp_.rope.n_rot, cos, sin, hp_.rope.style);
    ops.rope(k, hp_.n_head_kv, hd, hp_.rope.n_rot, cos, sin, hp_.rope.style);
    kv.StoreK(il, batch.seqs[t], batch.positions[t], k);
    kv.StoreV(il, batch.seqs[t], batch.positions[t], &s.v[t * kv_width]);
  });

  AttentionShape shape{hp_.n_head, hp_.n_head_kv, hd, 1.0f / std::sqrt(static_cast<float>(hd))};
  CausalAttention(shape, s.q.data(), q_width, batch, kv, il, s.attn.data(), q_width, s.attention,
                  pool);
  const Projection out[] = {{&l.wo, nullptr, s.h.data(), static_cast<size_t>(d)}};
  ProjectShared(s.attn.data(), n, q_width, out, pool, s.matmul);
  AddRows(s.x.data(), s.h.data(), n, d, d);

  RmsNormRows(s.x.data(), l.ffn_norm.data(), s.h.data(), n, d, hp_.rms_eps, pool);
  // The normed rows are read by gate/up before down overwrites them.
  SwiGluFeedForward(l.w_gate, l.w_up, l.w_down, s.h.data(), n, d, s.gate.data(), s.up.data(),
                    s.h.data(), pool, s.matmul);
  AddRows(s.x.data(), s.h.data(), n, d, d);
}

void LlamaModel::Forward(const Batch& batch, KvCache& kv, ForwardScratch& scratch_base,
                         ThreadPool& pool, float* logits) const {
  auto& s = static_cast<LlamaScratch&>(scratch_base);
  const int64_t n = batch.size();
  CHECK(n <= s.max_tokens);
  EmbedTokens(batch, token_embd_, hp_.n_vocab, kv.n_ctx(), hp_.rope, s.x.data(), s.cos.data(),
              s.sin.data(), pool);
  for (int il = 0; il < hp_.n_layer; ++il) Layer(il, batch, kv, s, pool);
  OutputLogits(batch, s.x.data(), hp_.n_embd, output_norm_.data(), hp_.rms_eps, output_,
               s.out_rows.data(), s.max_logits, pool, s.matmul, logits);
}

Result<std::unique_ptr<Model>> LoadLlama(std::shared_ptr<const GgufFile> file,
                                         std::string_view arch_view) {
  const GgufFile& f = *file;
  const std::string arch(arch_view);
  LlamaHparams hp;
  const std::string p = arch + ".";
  ASSIGN_OR_RETURN(hp.n_layer, f.GetInteger<int>(p + "block_count"));
  ASSIGN_OR_RETURN(hp.n_embd, f.GetInteger<int>(p + "embedding_length"));
  ASSIGN_OR_RETURN(hp.n_ff, f.GetInteger<int>(p + "feed_forward_length"));
  ASSIGN_OR_RETURN(hp.n_head, f.GetInteger<int>(p + "attention.head_count"));
  RETURN_IF_ERROR(CheckRange(f, p + "block_count", hp.n_layer, 1, kMaxLayers));
  RETURN_IF_ERROR(CheckRange(f, p + "embedding_length", hp.n_embd, 1, kMaxEmbd));
  RETURN_IF_ERROR(CheckRange(f, p + "feed_forward_length", hp.n_ff, 1, 8 * kMaxEmbd));
  RETURN_IF_ERROR(CheckRange(f, p + "attention.head_count", hp.n_head, 1, kMaxHeads));
  ASSIGN_OR_RETURN(hp.n_head_kv, f.GetIntegerOr<int>(p + "attention.head_count_kv", hp.n_head));
  RETURN_IF_ERROR(CheckRange(f, p + "attention.head_count_kv", hp.n_head_kv, 1, hp.n_head));
  if (hp.n_head % hp.n_head_kv != 0) {
    return ErrorStatus(f.name() + ": attention.head_count " + std::to_string(hp.n_head) +
                       " is not a multiple of head_count_kv " + std::to_string(hp.n_head_kv));
  }
  ASSIGN_OR_RETURN(hp.head_dim,
                   f.GetIntegerOr<int>(p + "attention.key_length", hp.n_embd / hp.n_head));
  ASSIGN_OR_RETURN(int v_dim, f.GetIntegerOr<int>(p + "attention.value_length", hp.head_dim));
  RETURN_IF_ERROR(CheckRange(f, p + "attention.key_length", hp.head_dim, 2, 4096));
  if (v_dim != hp.head_dim) {
    return ErrorStatus(f.name() + ": key_length " + std::to_string(hp.head_dim) +
                       " != value_length " + std::to_string(v_dim) + " is not supported");
  }
  ASSIGN_OR_RETURN(double eps, f.GetFloatOr(p + "attention.layer_norm_rms_epsilon", 1e-5));
  if (!(eps > 0.0 && eps < 1.0)) {
    return ErrorStatus(f.name() + ": attention.layer_norm_rms_epsilon must be in (0, 1)");
  }
  hp.rms_eps = static_cast<float>(eps);
  ASSIGN_OR_RETURN(int32_t n_ctx_train, f.GetIntegerOr<int32_t>(p + "context_length", 4096));
  RETURN_IF_ERROR(CheckRange(f, p + "context_length", n_ctx_train, 1, int64_t{1} << 24));
  hp.qk_norm = arch == "qwen3";
  const auto style = arch == "llama" ? kernels::RopeStyle::kNormal : kernels::RopeStyle::kNeox;
  ASSIGN_OR_RETURN(hp.rope, ReadRopeConfig(f, arch, hp.head_dim, n_ctx_train, style));

  ASSIGN_OR_RETURN(const GgufTensorInfo* embd, f.GetTensor("token_embd.weight"));
  if (embd->n_dims != 2 || embd->dims[0] != hp.n_embd || embd->dims[1] < 1 ||
      embd->dims[1] > (int64_t{1} << 24)) {
    return ErrorStatus(f.name() + ": tensor 'token_embd.weight' must be {" +
                       std::to_string(hp.n_embd) + ", n_vocab}");
  }
  hp.n_vocab = static_cast<int>(embd->dims[1]);

  auto model = std::make_unique<LlamaModel>(std::move(file), hp, n_ctx_train);
  RETURN_IF_ERROR(model->LoadWeights());
  return std::unique_ptr<Model>(std::move(model));
}

constexpr std::string_view kLlamaArchNames[] = {"llama", "qwen2", "qwen3"};

}  // namespace

extern const ArchSpec kLlamaArchSpec{kLlamaArchNames, &LoadLlama};

}  // namespace autarky
