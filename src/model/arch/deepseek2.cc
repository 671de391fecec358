// DeepSeek V2 / V2-Lite / V3 / R1 (GGUF architecture deepseek2): Multi-head Latent Attention
// over a compressed KV cache (layers/mla.h) and Mixture-of-Experts feed-forward (layers/moe.h).
//
// Per layer, for hidden states x {n_tokens, n_embd}:
//   h = rmsnorm(x) * attn_norm
//   q = h·Wqᵀ, or (q_lora) (rmsnorm(h·Wq_aᵀ) * q_a_norm)·Wq_bᵀ   {n_tokens, n_head, nope + rope}
//   [c | k_pe] = h·Wkv_a_mqaᵀ; c = rmsnorm(c) * kv_a_norm         {n_tokens, kv_lora + rope}
//   q_pe, k_pe = rope(q_pe), rope(k_pe)    adjacent pairs; YaRN with DeepSeek's mscale
//   cache row [c | k_pe] per token; attention absorbed or naive (layers/mla.h), with
//   scale = mscale² / sqrt(nope + rope), mscale = 1 + yarn_log_multiplier · ln(rope factor)
//   x += attn {n_tokens, n_head, v}·Woᵀ
//   h = rmsnorm(x) * ffn_norm
//   x += SwiGLU(h) (the leading dense layers) or routed experts(h) + shared experts(h)
// then logits = (rmsnorm(x) * output_norm)·Woutᵀ.
//
// AUTARKY_MLA=naive (environment, read at load) selects the naive attention: tests compare it
// with the absorbed default and with the PyTorch reference (tests/reference/deepseek_forward.py).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "kernels/ops.h"
#include "kernels/quantize.h"
#include "model/layers/block.h"
#include "model/layers/linear.h"
#include "model/layers/mla.h"
#include "model/layers/moe.h"
#include "model/model.h"
#include "model/rope.h"
#include "model/weights.h"
#include "util/check.h"
#include "util/fp16.h"
#include "util/thread_pool.h"

namespace autarky {
namespace {

// Bounds on hyper-parameters: far above any real model, low enough that products of them
// cannot overflow and a corrupt file cannot request absurd buffers.
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxEmbd = 1 << 17;
constexpr int64_t kMaxHeads = 1 << 12;
constexpr int64_t kMaxHeadDim = 4096;
constexpr int64_t kMaxExperts = 4096;

struct Deepseek2Hparams {
  int n_layer = 0;
  int n_embd = 0;
  int n_ff = 0;  // dense layers
  int n_head = 0;
  int n_vocab = 0;
  int q_lora = 0;  // 0: a single attn_q
  int kv_lora = 0;
  int n_nope = 0;
  int n_rope = 0;
  int v_dim = 0;
  int n_dense_lead = 0;
  int n_expert = 0;
  int n_expert_shared = 0;
  int n_ff_exp = 0;
  RouterConfig router;
  float rms_eps = 1e-6f;
  float kq_scale = 0.0f;
  RopeConfig rope;
  bool naive = false;
};

struct Deepseek2Layer {
  std::vector<float> attn_norm, ffn_norm;  // {n_embd}
  std::vector<float> q_a_norm;             // {q_lora} or empty
  std::vector<float> kv_a_norm;            // {kv_lora}
  kernels::WeightMatrix wq;                // {n_head * (nope + rope), n_embd} (no q_lora)
  kernels::WeightMatrix wq_a, wq_b;        // {q_lora, n_embd}, {n_head * (nope + rope), q_lora}
  kernels::WeightMatrix wkv_a;             // {kv_lora + rope, n_embd}
  kernels::WeightMatrix wkv_b;             // {n_head * (nope + v), kv_lora}
  kernels::WeightMatrix wo;                // {n_embd, n_head * v}
  // Absorbed attention: per head W_UK_hᵀ {kv_lora, nope} and W_UV_h {v, kv_lora}.
  ExpertMatrices k_absorb, v_absorb;
  std::vector<float> k_absorb_owned;      // {n_head, kv_lora, nope} when built from attn_kv_b
  std::vector<uint16_t> k_absorb_halves;  // the same as F16 / BF16 (attn_kv_b not F32)
  std::vector<float> kv_b_owned;      // {n_head * (nope + v), kv_lora} built from k_b/v_b
  bool moe = false;
  kernels::WeightMatrix w_gate, w_up, w_down;  // dense FFN, or the merged shared experts
  kernels::WeightMatrix router;                // {n_expert, n_embd}
  std::vector<float> probs_bias;               // {n_expert} (V3) or empty
  MoeWeights experts;
};

class Deepseek2Scratch : public ForwardScratch {
 public:
  Deepseek2Scratch(const Deepseek2Hparams& hp, int64_t tokens, int64_t logit_rows)
      : max_tokens(tokens), max_logits(logit_rows) {
    const int64_t width = hp.kv_lora + hp.n_rope;
    const int64_t ff = std::max<int64_t>(hp.n_ff, int64_t{hp.n_ff_exp} * hp.n_expert_shared);
    x.resize(max_tokens * hp.n_embd);
    h.resize(max_tokens * hp.n_embd);
    ffn_out.resize(max_tokens * hp.n_embd);
    shared_out.resize(max_tokens * hp.n_embd);
    q_a.resize(max_tokens * std::max(hp.q_lora, 1));
    q.resize(max_tokens * hp.n_head * (hp.n_nope + hp.n_rope));
    kv_a.resize(max_tokens * width);
    q_abs.resize(max_tokens * hp.n_head * width);
    lat.resize(max_tokens * hp.n_head * hp.kv_lora);
    attn.resize(max_tokens * hp.n_head * hp.v_dim);
    gate.resize(max_tokens * ff);
    up.resize(max_tokens * ff);
    router.resize(max_tokens * std::max(hp.n_expert, 1));
    ids.resize(max_tokens * std::max(hp.router.n_used, 1));
    weights.resize(ids.size());
    route_work.resize(2 * std::max(hp.n_expert, 1));
    cos.resize(max_tokens * hp.rope.n_rot / 2);
    sin.resize(max_tokens * hp.rope.n_rot / 2);
    out_rows.resize(max_logits * hp.n_embd);
  }
  int64_t max_tokens, max_logits;
  std::vector<float> x, h;        // {max_tokens, n_embd} residual stream, normed/projected
  std::vector<float> ffn_out;     // {max_tokens, n_embd}
  std::vector<float> shared_out;  // {max_tokens, n_embd}
  std::vector<float> q_a;         // {max_tokens, q_lora}
  std::vector<float> q;           // {max_tokens, n_head, nope + rope}
  std::vector<float> kv_a;        // {max_tokens, kv_lora + rope} = cache rows
  std::vector<float> q_abs;       // {max_tokens, n_head, kv_lora + rope}
  std::vector<float> lat;         // {max_tokens, n_head, kv_lora} attended latents
  std::vector<float> attn;        // {max_tokens, n_head, v}
  std::vector<float> gate, up;    // {max_tokens, max(n_ff, shared experts' width)}
  std::vector<float> router;      // {max_tokens, n_expert} router logits
  std::vector<int32_t> ids;       // {max_tokens, n_used} chosen experts
  std::vector<float> weights;     // {max_tokens, n_used} their weights
  std::vector<float> route_work;  // {2 * n_expert}
  std::vector<float> cos, sin;    // {max_tokens, n_rot/2}
  std::vector<float> out_rows;    // {max_logits, n_embd}
  MlaScratch mla;
  MoeScratch moe;
  kernels::MatmulScratch matmul;
};

class Deepseek2Model final : public Model {
 public:
  Deepseek2Model(std::shared_ptr<const GgufFile> file, Deepseek2Hparams hp, int32_t n_ctx_train)
      : Model(std::move(file)), hp_(std::move(hp)) {
    info_.n_vocab = hp_.n_vocab;
    info_.n_layer = hp_.n_layer;
    info_.n_embd = hp_.n_embd;
    info_.n_ctx_train = n_ctx_train;
  }

  Status LoadWeights();

  // One row per token and layer: the latent and the rope key, nothing per head.
  KvCacheShape CacheShape() const override {
    KvCacheShape shape;
    shape.k_width.assign(hp_.n_layer, hp_.kv_lora + hp_.n_rope);
    shape.v_width.assign(hp_.n_layer, 0);
    shape.head_dim = hp_.kv_lora + hp_.n_rope;
    return shape;
  }

  std::unique_ptr<ForwardScratch> NewScratch(int64_t max_tokens,
                                             int64_t max_logits) const override {
    return std::make_unique<Deepseek2Scratch>(hp_, max_tokens, max_logits);
  }

  void Forward(const Batch& batch, KvCache& kv, ForwardScratch& scratch, ThreadPool& pool,
               float* logits) const override;

  ExpertUsage NewExpertUsage() const override {
    ExpertUsage u;
    u.n_expert = hp_.n_expert;
    u.n_used = hp_.router.n_used;
    for (int il = hp_.n_dense_lead; il < hp_.n_layer; ++il) {
      const MoeWeights& e = layers_[il].experts;
      u.layers.push_back(il);
      u.expert_bytes.push_back(e.gate.expert_bytes + e.up.expert_bytes + e.down.expert_bytes);
    }
    u.counts.assign(u.layers.size() * static_cast<size_t>(u.n_expert), 0);
    return u;
  }

 private:
  Status LoadAttention(const std::string& p, Deepseek2Layer& l);
  void Attention(int il, const Batch& batch, KvCache& kv, Deepseek2Scratch& s,
                 ThreadPool& pool) const;
  void FeedForward(int il, int64_t n, Deepseek2Scratch& s, ThreadPool& pool) const;
  MlaShape Shape() const {
    return MlaShape{hp_.n_head, hp_.kv_lora, hp_.n_nope, hp_.n_rope, hp_.v_dim, hp_.kq_scale};
  }

  Deepseek2Hparams hp_;
  std::vector<Deepseek2Layer> layers_;
  kernels::WeightMatrix token_embd_;  // {n_vocab, n_embd}
  std::vector<float> output_norm_;    // {n_embd}
  kernels::WeightMatrix output_;      // {n_vocab, n_embd}
};

// An F32 matrix view of owned floats {n_out, k}.
kernels::WeightMatrix F32Matrix(const float* data, int64_t n_out, int64_t k) {
  kernels::WeightMatrix w;
  w.type = DType::kF32;
  w.data = data;
  w.n_out = n_out;
  w.k = k;
  w.row_stride = sizeof(float) * k;
  return w;
}

Status Deepseek2Model::LoadAttention(const std::string& p, Deepseek2Layer& l) {
  const GgufFile& f = *file_;
  const int64_t d = hp_.n_embd;
  const int64_t n_head = hp_.n_head, nope = hp_.n_nope, v = hp_.v_dim, kv_lora = hp_.kv_lora;
  const int64_t q_width = n_head * (nope + hp_.n_rope);
  if (hp_.q_lora > 0) {
    ASSIGN_OR_RETURN(l.wq_a, LoadMatrix(f, p + "attn_q_a.weight", d, hp_.q_lora));
    ASSIGN_OR_RETURN(l.q_a_norm, LoadVector(f, p + "attn_q_a_norm.weight", hp_.q_lora));
    ASSIGN_OR_RETURN(l.wq_b, LoadMatrix(f, p + "attn_q_b.weight", hp_.q_lora, q_width));
  } else {
    ASSIGN_OR_RETURN(l.wq, LoadMatrix(f, p + "attn_q.weight", d, q_width));
  }
  ASSIGN_OR_RETURN(l.wkv_a, LoadMatrix(f, p + "attn_kv_a_mqa.weight", d, kv_lora + hp_.n_rope));
  ASSIGN_OR_RETURN(l.kv_a_norm, LoadVector(f, p + "attn_kv_a_norm.weight", kv_lora));
  ASSIGN_OR_RETURN(l.wo, LoadMatrix(f, p + "attn_output.weight", n_head * v, d));

  const size_t per_head = static_cast<size_t>(nope + v);
  if (f.FindTensor(p + "attn_kv_b.weight") != nullptr) {
    ASSIGN_OR_RETURN(l.wkv_b, LoadMatrix(f, p + "attn_kv_b.weight", kv_lora, n_head * per_head));
    // W_UK_hᵀ: the transpose of each head's key rows, as floats (the absorbed query's matmul
    // wants rows of length nope).
    l.k_absorb_owned.resize(static_cast<size_t>(n_head) * kv_lora * nope);
    std::vector<float> row(kv_lora);
    for (int64_t h = 0; h < n_head; ++h) {
      for (int64_t i = 0; i < nope; ++i) {
        DequantizeMatrixRow(l.wkv_b, h * per_head + i, row.data());
        float* dst = &l.k_absorb_owned[static_cast<size_t>(h) * kv_lora * nope];
        for (int64_t r = 0; r < kv_lora; ++r) dst[r * nope + i] = row[r];
      }
    }
    l.k_absorb.first = F32Matrix(l.k_absorb_owned.data(), kv_lora, nope);
    l.k_absorb.n_expert = n_head;
    l.k_absorb.expert_bytes = sizeof(float) * kv_lora * nope;
    if (l.wkv_b.type != DType::kF32) {
      // Decode reads these every token: as floats they were 9% of a V2-Lite token's time.
      // Half the bytes lose nothing for F16 / BF16 sources and, for quantized ones, round each
      // weight by at most 2^-11 relative, far below the quantization's own error.
      const bool bf16 = l.wkv_b.type == DType::kBF16;
      l.k_absorb_halves.resize(l.k_absorb_owned.size());
      for (size_t i = 0; i < l.k_absorb_owned.size(); ++i) {
        l.k_absorb_halves[i] =
            bf16 ? Fp32ToBf16(l.k_absorb_owned[i]) : Fp32ToFp16(l.k_absorb_owned[i]);
      }
      std::vector<float>().swap(l.k_absorb_owned);
      l.k_absorb.first.type = bf16 ? DType::kBF16 : DType::kF16;
      l.k_absorb.first.data = l.k_absorb_halves.data();
      l.k_absorb.first.row_stride = sizeof(uint16_t) * nope;
      l.k_absorb.expert_bytes = sizeof(uint16_t) * kv_lora * nope;
    }
    // W_UV_h: each head's value rows of attn_kv_b, in place.
    l.v_absorb.first = l.wkv_b;
    l.v_absorb.first.data = static_cast<const uint8_t*>(l.wkv_b.data) + nope * l.wkv_b.row_stride;
    l.v_absorb.first.n_out = v;
    l.v_absorb.n_expert = n_head;
    l.v_absorb.expert_bytes = per_head * l.wkv_b.row_stride;
    return Status::Ok();
  }
  // Newer files carry the split form: attn_k_b {nope, kv_lora, n_head} (W_UK_hᵀ per head) and
  // attn_v_b {kv_lora, v, n_head} (W_UV_h per head).
  ASSIGN_OR_RETURN(l.k_absorb, LoadExperts(f, p + "attn_k_b.weight", nope, kv_lora, n_head));
  ASSIGN_OR_RETURN(l.v_absorb, LoadExperts(f, p + "attn_v_b.weight", kv_lora, v, n_head));
  if (hp_.naive) {
    // The naive path wants attn_kv_b: rebuild it as floats.
    l.kv_b_owned.resize(static_cast<size_t>(n_head) * per_head * kv_lora);
    std::vector<float> row(std::max(nope, kv_lora));
    for (int64_t h = 0; h < n_head; ++h) {
      float* head = &l.kv_b_owned[static_cast<size_t>(h) * per_head * kv_lora];
      const kernels::WeightMatrix kb = l.k_absorb.Expert(h), vb = l.v_absorb.Expert(h);
      for (int64_t r = 0; r < kv_lora; ++r) {
        DequantizeMatrixRow(kb, r, row.data());
        for (int64_t i = 0; i < nope; ++i) head[i * kv_lora + r] = row[i];
      }
      for (int64_t i = 0; i < v; ++i) DequantizeMatrixRow(vb, i, head + (nope + i) * kv_lora);
    }
    l.wkv_b = F32Matrix(l.kv_b_owned.data(), n_head * per_head, kv_lora);
  }
  return Status::Ok();
}

Status Deepseek2Model::LoadWeights() {
  const GgufFile& f = *file_;
  const int64_t d = hp_.n_embd;
  ASSIGN_OR_RETURN(token_embd_, LoadMatrix(f, "token_embd.weight", d, hp_.n_vocab));
  ASSIGN_OR_RETURN(output_norm_, LoadVector(f, "output_norm.weight", d));
  ASSIGN_OR_RETURN(output_, LoadOptionalMatrix(f, "output.weight", d, hp_.n_vocab));
  if (output_.data == nullptr) output_ = token_embd_;  // tied embeddings
  layers_.resize(hp_.n_layer);
  for (int il = 0; il < hp_.n_layer; ++il) {
    Deepseek2Layer& l = layers_[il];
    const std::string p = "blk." + std::to_string(il) + ".";
    ASSIGN_OR_RETURN(l.attn_norm, LoadVector(f, p + "attn_norm.weight", d));
    ASSIGN_OR_RETURN(l.ffn_norm, LoadVector(f, p + "ffn_norm.weight", d));
    RETURN_IF_ERROR(LoadAttention(p, l));
    l.moe = il >= hp_.n_dense_lead;
    if (!l.moe) {
      ASSIGN_OR_RETURN(l.w_gate, LoadMatrix(f, p + "ffn_gate.weight", d, hp_.n_ff));
      ASSIGN_OR_RETURN(l.w_up, LoadMatrix(f, p + "ffn_up.weight", d, hp_.n_ff));
      ASSIGN_OR_RETURN(l.w_down, LoadMatrix(f, p + "ffn_down.weight", hp_.n_ff, d));
      continue;
    }
    const int64_t ne = hp_.n_expert, ff = hp_.n_ff_exp;
    ASSIGN_OR_RETURN(l.router, LoadMatrix(f, p + "ffn_gate_inp.weight", d, ne));
    if (hp_.router.sigmoid) {
      ASSIGN_OR_RETURN(l.probs_bias, LoadOptionalVector(f, p + "exp_probs_b.bias", ne));
    }
    ASSIGN_OR_RETURN(l.experts.gate, LoadExperts(f, p + "ffn_gate_exps.weight", d, ff, ne));
    ASSIGN_OR_RETURN(l.experts.up, LoadExperts(f, p + "ffn_up_exps.weight", d, ff, ne));
    ASSIGN_OR_RETURN(l.experts.down, LoadExperts(f, p + "ffn_down_exps.weight", ff, d, ne));
    if (hp_.n_expert_shared > 0) {
      const int64_t sff = ff * hp_.n_expert_shared;
      ASSIGN_OR_RETURN(l.w_gate, LoadMatrix(f, p + "ffn_gate_shexp.weight", d, sff));
      ASSIGN_OR_RETURN(l.w_up, LoadMatrix(f, p + "ffn_up_shexp.weight", d, sff));
      ASSIGN_OR_RETURN(l.w_down, LoadMatrix(f, p + "ffn_down_shexp.weight", sff, d));
    }
  }
  return Status::Ok();
}

void Deepseek2Model::Attention(int il, const Batch& batch, KvCache& kv, Deepseek2Scratch& s,
                               ThreadPool& pool) const {
  const Deepseek2Layer& l = layers_[il];
  const int64_t n = batch.size();
  const int64_t d = hp_.n_embd;
  const int n_head = hp_.n_head, nope = hp_.n_nope, rope = hp_.n_rope, kv_lora = hp_.kv_lora;
  const size_t qk_head = nope + rope;
  const size_t q_width = n_head * qk_head;
  const size_t width = kv_lora + rope;
  const int half_rot = hp_.rope.n_rot / 2;
  const kernels::OpsKernels& ops = kernels::GetOpsKernels();

  RmsNormRows(s.x.data(), l.attn_norm.data(), s.h.data(), n, d, hp_.rms_eps, pool);
  if (hp_.q_lora > 0) {
    const Projection a[] = {{&l.wq_a, nullptr, s.q_a.data(), static_cast<size_t>(hp_.q_lora)},
                            {&l.wkv_a, nullptr, s.kv_a.data(), width}};
    ProjectShared(s.h.data(), n, d, a, pool, s.matmul);
    ForEachToken(pool, n, [&](int64_t t) {
      float* qa = &s.q_a[t * hp_.q_lora];
      ops.rms_norm(qa, l.q_a_norm.data(), qa, hp_.q_lora, hp_.rms_eps);
    });
    const Projection b[] = {{&l.wq_b, nullptr, s.q.data(), q_width}};
    ProjectShared(s.q_a.data(), n, hp_.q_lora, b, pool, s.matmul);
  } else {
    const Projection a[] = {{&l.wq, nullptr, s.q.data(), q_width},
                            {&l.wkv_a, nullptr, s.kv_a.data(), width}};
    ProjectShared(s.h.data(), n, d, a, pool, s.matmul);
  }
  ForEachToken(pool, n, [&](int64_t t) {
    float* c = &s.kv_a[t * width];
    ops.rms_norm(c, l.kv_a_norm.data(), c, kv_lora, hp_.rms_eps);
    const float* cos = &s.cos[t * half_rot];
    const float* sin = &s.sin[t * half_rot];
    ops.rope(c + kv_lora, 1, rope, rope, cos, sin, kernels::RopeStyle::kNormal);
    ops.rope(&s.q[t * q_width] + nope, n_head, static_cast<int>(qk_head), rope, cos, sin,
             kernels::RopeStyle::kNormal);
  });
  const MlaShape shape = Shape();
  MlaStoreRows(shape, s.kv_a.data(), width, batch, kv, il);

  kernels::MatmulOptions options;
  options.pool = &pool;
  options.scratch = &s.matmul;
  if (hp_.naive) {
    MlaNaiveAttention(shape, s.q.data(), l.wkv_b, batch, kv, il, s.attn.data(), s.mla, pool,
                      s.matmul);
  } else {
    // q_abs_h = [W_UK_hᵀ q_nope_h | q_pe_h]
    for (int h = 0; h < n_head; ++h) {
      kernels::Matmul(l.k_absorb.Expert(h), &s.q[h * qk_head], q_width, n, &s.q_abs[h * width],
                      n_head * width, options);
    }
    ForEachToken(pool, n, [&](int64_t t) {
      for (int h = 0; h < n_head; ++h) {
        std::memcpy(&s.q_abs[t * n_head * width + h * width + kv_lora],
                    &s.q[t * q_width + h * qk_head + nope], sizeof(float) * rope);
      }
    });
    MlaAbsorbedAttention(shape, s.q_abs.data(), batch, kv, il, s.lat.data(), s.mla, pool);
    // attn_h = W_UV_h · attended latent_h
    for (int h = 0; h < n_head; ++h) {
      kernels::Matmul(l.v_absorb.Expert(h), &s.lat[static_cast<size_t>(h) * kv_lora],
                      static_cast<size_t>(n_head) * kv_lora, n,
                      &s.attn[static_cast<size_t>(h) * hp_.v_dim],
                      static_cast<size_t>(n_head) * hp_.v_dim, options);
    }
  }
  const Projection out[] = {{&l.wo, nullptr, s.h.data(), static_cast<size_t>(d)}};
  ProjectShared(s.attn.data(), n, static_cast<size_t>(n_head) * hp_.v_dim, out, pool, s.matmul);
  AddRows(s.x.data(), s.h.data(), n, d, d);
}

// SwiGLU through gate/up/down: out {n, n_embd} from s.h.
void SwiGluFfn(const kernels::WeightMatrix& w_gate, const kernels::WeightMatrix& w_up,
               const kernels::WeightMatrix& w_down, int64_t n, int64_t d, Deepseek2Scratch& s,
               float* out, ThreadPool& pool) {
  SwiGluFeedForward(w_gate, w_up, w_down, s.h.data(), n, d, s.gate.data(), s.up.data(), out, pool,
                    s.matmul);
}

void Deepseek2Model::FeedForward(int il, int64_t n, Deepseek2Scratch& s, ThreadPool& pool) const {
  const Deepseek2Layer& l = layers_[il];
  const int64_t d = hp_.n_embd;
  RmsNormRows(s.x.data(), l.ffn_norm.data(), s.h.data(), n, d, hp_.rms_eps, pool);
  if (!l.moe) {
    SwiGluFfn(l.w_gate, l.w_up, l.w_down, n, d, s, s.ffn_out.data(), pool);
    AddRows(s.x.data(), s.ffn_out.data(), n, d, d);
    return;
  }
  const int ne = hp_.n_expert, used = hp_.router.n_used;
  kernels::MatmulOptions options;
  options.pool = &pool;
  options.scratch = &s.matmul;
  kernels::Matmul(l.router, s.h.data(), n, s.router.data(), options);
  const float* bias = l.probs_bias.empty() ? nullptr : l.probs_bias.data();
  for (int64_t t = 0; t < n; ++t) {
    RouteToken(hp_.router, &s.router[t * ne], bias, &s.ids[t * used], &s.weights[t * used],
               s.route_work.data());
  }
  // MoE layers follow the dense ones: usage row il - n_dense_lead.
  uint64_t* usage =
      s.expert_usage != nullptr ? s.expert_usage->Layer(il - hp_.n_dense_lead) : nullptr;
  MoeForward(l.experts, used, s.h.data(), n, s.ids.data(), s.weights.data(), s.ffn_out.data(),
             s.moe, pool, s.matmul, usage);
  if (hp_.n_expert_shared > 0) {
    SwiGluFfn(l.w_gate, l.w_up, l.w_down, n, d, s, s.shared_out.data(), pool);
    AddRows(s.ffn_out.data(), s.shared_out.data(), n, d, d);
  }
  AddRows(s.x.data(), s.ffn_out.data(), n, d, d);
}

void Deepseek2Model::Forward(const Batch& batch, KvCache& kv, ForwardScratch& scratch_base,
                             ThreadPool& pool, float* logits) const {
  auto& s = static_cast<Deepseek2Scratch&>(scratch_base);
  const int64_t n = batch.size();
  CHECK(n <= s.max_tokens);
  EmbedTokens(batch, token_embd_, hp_.n_vocab, kv.n_ctx(), hp_.rope, s.x.data(), s.cos.data(),
              s.sin.data(), pool);
  for (int il = 0; il < hp_.n_layer; ++il) {
    Attention(il, batch, kv, s, pool);
    FeedForward(il, n, s, pool);
  }
  OutputLogits(batch, s.x.data(), hp_.n_embd, output_norm_.data(), hp_.rms_eps, output_,
               s.out_rows.data(), s.max_logits, pool, s.matmul, logits);
}

Result<std::unique_ptr<Model>> LoadDeepseek2(std::shared_ptr<const GgufFile> file,
                                             std::string_view arch_view) {
  const GgufFile& f = *file;
  const std::string p = std::string(arch_view) + ".";
  Deepseek2Hparams hp;
  ASSIGN_OR_RETURN(hp.n_layer, f.GetInteger<int>(p + "block_count"));
  ASSIGN_OR_RETURN(hp.n_embd, f.GetInteger<int>(p + "embedding_length"));
  ASSIGN_OR_RETURN(hp.n_ff, f.GetInteger<int>(p + "feed_forward_length"));
  ASSIGN_OR_RETURN(hp.n_head, f.GetInteger<int>(p + "attention.head_count"));
  RETURN_IF_ERROR(CheckRange(f, p + "block_count", hp.n_layer, 1, kMaxLayers));
  RETURN_IF_ERROR(CheckRange(f, p + "embedding_length", hp.n_embd, 1, kMaxEmbd));
  RETURN_IF_ERROR(CheckRange(f, p + "feed_forward_length", hp.n_ff, 1, 8 * kMaxEmbd));
  RETURN_IF_ERROR(CheckRange(f, p + "attention.head_count", hp.n_head, 1, kMaxHeads));
  ASSIGN_OR_RETURN(hp.q_lora, f.GetIntegerOr<int>(p + "attention.q_lora_rank", 0));
  ASSIGN_OR_RETURN(hp.kv_lora, f.GetInteger<int>(p + "attention.kv_lora_rank"));
  RETURN_IF_ERROR(CheckRange(f, p + "attention.q_lora_rank", hp.q_lora, 0, kMaxEmbd));
  RETURN_IF_ERROR(CheckRange(f, p + "attention.kv_lora_rank", hp.kv_lora, 1, kMaxEmbd));
  ASSIGN_OR_RETURN(hp.n_rope, f.GetInteger<int>(p + "rope.dimension_count"));
  RETURN_IF_ERROR(CheckRange(f, p + "rope.dimension_count", hp.n_rope, 2, kernels::kMaxRopeDims));
  // Files written for MLA-aware llama.cpp give the latent sizes in key/value_length and the
  // per-head sizes in *_mla; older ones give the per-head sizes directly.
  const bool mla_keys = f.Has(p + "attention.key_length_mla");
  const std::string k_key = p + (mla_keys ? "attention.key_length_mla" : "attention.key_length");
  const std::string v_key =
      p + (mla_keys ? "attention.value_length_mla" : "attention.value_length");
  ASSIGN_OR_RETURN(int k_len, f.GetInteger<int>(k_key));
  ASSIGN_OR_RETURN(hp.v_dim, f.GetInteger<int>(v_key));
  RETURN_IF_ERROR(CheckRange(f, k_key, k_len, hp.n_rope + 1, kMaxHeadDim));
  RETURN_IF_ERROR(CheckRange(f, v_key, hp.v_dim, 1, kMaxHeadDim));
  hp.n_nope = k_len - hp.n_rope;
  if (hp.n_rope % 2 != 0) {
    return ErrorStatus(f.name() + ": " + p + "rope.dimension_count must be even");
  }
  ASSIGN_OR_RETURN(hp.n_dense_lead, f.GetIntegerOr<int>(p + "leading_dense_block_count", 0));
  RETURN_IF_ERROR(CheckRange(f, p + "leading_dense_block_count", hp.n_dense_lead, 0, hp.n_layer));
  if (hp.n_dense_lead < hp.n_layer) {
    ASSIGN_OR_RETURN(hp.n_expert, f.GetInteger<int>(p + "expert_count"));
    RETURN_IF_ERROR(CheckRange(f, p + "expert_count", hp.n_expert, 1, kMaxExperts));
    ASSIGN_OR_RETURN(hp.router.n_used, f.GetInteger<int>(p + "expert_used_count"));
    RETURN_IF_ERROR(CheckRange(f, p + "expert_used_count", hp.router.n_used, 1, hp.n_expert));
    ASSIGN_OR_RETURN(hp.n_ff_exp, f.GetInteger<int>(p + "expert_feed_forward_length"));
    RETURN_IF_ERROR(CheckRange(f, p + "expert_feed_forward_length", hp.n_ff_exp, 1, 8 * kMaxEmbd));
    ASSIGN_OR_RETURN(hp.n_expert_shared, f.GetIntegerOr<int>(p + "expert_shared_count", 0));
    RETURN_IF_ERROR(CheckRange(f, p + "expert_shared_count", hp.n_expert_shared, 0, 64));
    ASSIGN_OR_RETURN(double scale, f.GetFloatOr(p + "expert_weights_scale", 1.0));
    if (!std::isfinite(scale) || !(scale > 0.0)) {
      return ErrorStatus(f.name() + ": " + p + "expert_weights_scale must be positive");
    }
    hp.router.scale = static_cast<float>(scale);
    ASSIGN_OR_RETURN(hp.router.norm, f.GetBoolOr(p + "expert_weights_norm", false));
    // 1 softmax, 2 sigmoid; absent in V2 files, which use softmax.
    ASSIGN_OR_RETURN(int gating, f.GetIntegerOr<int>(p + "expert_gating_func", 1));
    if (gating != 1 && gating != 2) {
      return ErrorStatus(f.name() + ": " + p + "expert_gating_func = " + std::to_string(gating) +
                         " is not supported (1 softmax, 2 sigmoid)");
    }
    hp.router.sigmoid = gating == 2;
    hp.router.n_expert = hp.n_expert;
    ASSIGN_OR_RETURN(hp.router.n_group, f.GetIntegerOr<int>(p + "expert_group_count", 0));
    ASSIGN_OR_RETURN(hp.router.n_group_used,
                     f.GetIntegerOr<int>(p + "expert_group_used_count", hp.router.n_group));
    if (hp.router.n_group > 1) {
      const int g = hp.router.n_group;
      if (g > 256 || hp.n_expert % g != 0 || hp.router.n_group_used < 1 ||
          hp.router.n_group_used > g ||
          hp.router.n_used > hp.router.n_group_used * (hp.n_expert / g)) {
        return ErrorStatus(f.name() + ": " + p + "expert_group_count " + std::to_string(g) +
                           " / expert_group_used_count " + std::to_string(hp.router.n_group_used) +
                           " do not fit the experts");
      }
    }
  }
  ASSIGN_OR_RETURN(double eps, f.GetFloatOr(p + "attention.layer_norm_rms_epsilon", 1e-6));
  if (!(eps > 0.0 && eps < 1.0)) {
    return ErrorStatus(f.name() + ": attention.layer_norm_rms_epsilon must be in (0, 1)");
  }
  hp.rms_eps = static_cast<float>(eps);
  ASSIGN_OR_RETURN(int32_t n_ctx_train, f.GetIntegerOr<int32_t>(p + "context_length", 4096));
  RETURN_IF_ERROR(CheckRange(f, p + "context_length", n_ctx_train, 1, int64_t{1} << 24));
  ASSIGN_OR_RETURN(hp.rope, ReadRopeConfig(f, std::string(arch_view), hp.n_rope, n_ctx_train,
                                           kernels::RopeStyle::kNormal));
  // DeepSeek's YaRN: the rotation keeps unit magnitude (the generic YaRN factor
  // 1 + 0.1 ln(factor) is divided out) and the attention scale takes mscale² instead.
  float mscale = hp.rope.attn_factor;
  if (hp.rope.scaling == "yarn") {
    ASSIGN_OR_RETURN(double log_mul, f.GetFloatOr(p + "rope.scaling.yarn_log_multiplier", 0.0));
    const float ln_factor = std::log(1.0f / hp.rope.freq_scale);
    mscale *= 1.0f + static_cast<float>(log_mul) * ln_factor;
    hp.rope.attn_factor /= 1.0f + 0.1f * ln_factor;
  }
  hp.kq_scale = mscale * mscale / std::sqrt(static_cast<float>(k_len));

  ASSIGN_OR_RETURN(const GgufTensorInfo* embd, f.GetTensor("token_embd.weight"));
  if (embd->n_dims != 2 || embd->dims[0] != hp.n_embd || embd->dims[1] < 1 ||
      embd->dims[1] > (int64_t{1} << 24)) {
    return ErrorStatus(f.name() + ": tensor 'token_embd.weight' must be {" +
                       std::to_string(hp.n_embd) + ", n_vocab}");
  }
  hp.n_vocab = static_cast<int>(embd->dims[1]);
  if (const char* mode = std::getenv("AUTARKY_MLA")) {
    const std::string m(mode);
    if (m != "naive" && m != "absorbed") {
      return ErrorStatus("AUTARKY_MLA='" + m + "': expected naive or absorbed");
    }
    hp.naive = m == "naive";
  }

  auto model = std::make_unique<Deepseek2Model>(std::move(file), hp, n_ctx_train);
  RETURN_IF_ERROR(model->LoadWeights());
  return std::unique_ptr<Model>(std::move(model));
}

constexpr std::string_view kDeepseek2ArchNames[] = {"deepseek2"};

}  // namespace

extern const ArchSpec kDeepseek2ArchSpec{kDeepseek2ArchNames, &LoadDeepseek2};

}  // namespace autarky
