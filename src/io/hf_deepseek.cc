// DeepSeek V2/V3 folders: config.json to deepseek2.* keys, tensor names, expert stacking and
// the kv_b_proj split (see hf_deepseek.h).
#include "io/hf_deepseek.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <utility>

#include "io/hf_json.h"
#include "io/hf_names.h"

namespace autarky {
namespace {

using Json = nlohmann::json;

// llama.cpp's expert_gating_func values.
constexpr uint32_t kGatingSoftmax = 1;
constexpr uint32_t kGatingSigmoid = 2;

size_t ElementSize(DType t) { return t == DType::kF32 ? 4 : 2; }

// An expert slot that has received its matrix (bytes or a fill function).
bool Present(const GgufExternalTensor& t) { return t.data != nullptr || t.fill != nullptr; }

Status CheckPositive(const std::string& config_name, const char* what, int64_t v) {
  if (v < 1) {
    return ErrorStatus(config_name + ": field '" + what + "' = " + std::to_string(v) +
                       " must be positive");
  }
  return Status::Ok();
}

}  // namespace

bool IsHfDeepseekArch(const std::string& hf_arch) {
  return hf_arch == "DeepseekV2ForCausalLM" || hf_arch == "DeepseekV3ForCausalLM";
}

Status DeepseekConfigToMetadata(const Json& config, const std::string& config_name, GgufWriter& w,
                                HfDeepseekShape* shape) {
  const HfFields f(config, config_name);
  const std::string p = "deepseek2.";
  auto u32 = [](int64_t v) { return GgufValue::U32(static_cast<uint32_t>(v)); };
  ASSIGN_OR_RETURN(shape->n_layer, f.Int("num_hidden_layers"));
  ASSIGN_OR_RETURN(const int64_t n_embd, f.Int("hidden_size"));
  ASSIGN_OR_RETURN(const int64_t n_ff, f.Int("intermediate_size"));
  ASSIGN_OR_RETURN(shape->n_head, f.Int("num_attention_heads"));
  ASSIGN_OR_RETURN(shape->kv_lora, f.IntOr("kv_lora_rank", 512));
  ASSIGN_OR_RETURN(const int64_t q_lora, f.IntOr("q_lora_rank", 0));
  ASSIGN_OR_RETURN(const int64_t n_rope, f.Int("qk_rope_head_dim"));
  ASSIGN_OR_RETURN(shape->qk_nope, f.Int("qk_nope_head_dim"));
  ASSIGN_OR_RETURN(shape->v_head, f.Int("v_head_dim"));
  ASSIGN_OR_RETURN(shape->n_vocab, f.Int("vocab_size"));
  ASSIGN_OR_RETURN(shape->tied_embeddings, f.BoolOr("tie_word_embeddings", false));
  ASSIGN_OR_RETURN(const int64_t n_ctx, f.IntOr("max_position_embeddings", 4096));
  ASSIGN_OR_RETURN(const double theta, f.FloatOr("rope_theta", 10000.0));
  ASSIGN_OR_RETURN(const double eps, f.FloatOr("rms_norm_eps", 1e-6));
  for (const auto& [name, v] : {std::pair{"num_hidden_layers", shape->n_layer},
                                {"hidden_size", n_embd},
                                {"intermediate_size", n_ff},
                                {"num_attention_heads", shape->n_head},
                                {"kv_lora_rank", shape->kv_lora},
                                {"qk_rope_head_dim", n_rope},
                                {"qk_nope_head_dim", shape->qk_nope},
                                {"v_head_dim", shape->v_head},
                                {"vocab_size", shape->n_vocab},
                                {"max_position_embeddings", n_ctx}}) {
    RETURN_IF_ERROR(CheckPositive(config_name, name, v));
  }
  if (q_lora < 0) return ErrorStatus(config_name + ": field 'q_lora_rank' is negative");

  w.Set(p + "block_count", u32(shape->n_layer));
  w.Set(p + "context_length", u32(n_ctx));
  w.Set(p + "embedding_length", u32(n_embd));
  w.Set(p + "feed_forward_length", u32(n_ff));
  w.Set(p + "attention.head_count", u32(shape->n_head));
  // MLA runs as multi-query attention over the latent, hence one KV head of latent width.
  w.Set(p + "attention.head_count_kv", u32(1));
  w.Set(p + "rope.freq_base", GgufValue::F32(static_cast<float>(theta)));
  w.Set(p + "attention.layer_norm_rms_epsilon", GgufValue::F32(static_cast<float>(eps)));
  w.Set(p + "vocab_size", u32(shape->n_vocab));
  if (q_lora > 0) w.Set(p + "attention.q_lora_rank", u32(q_lora));
  w.Set(p + "attention.kv_lora_rank", u32(shape->kv_lora));
  w.Set(p + "attention.key_length", u32(shape->kv_lora + n_rope));
  w.Set(p + "attention.value_length", u32(shape->kv_lora));
  w.Set(p + "attention.key_length_mla", u32(shape->qk_nope + n_rope));
  w.Set(p + "attention.value_length_mla", u32(shape->v_head));
  w.Set(p + "rope.dimension_count", u32(n_rope));

  // Mixture of experts: without n_routed_experts every layer is dense.
  const bool has_moe = f.Has("n_routed_experts");
  ASSIGN_OR_RETURN(const int64_t n_dense,
                   f.IntOr("first_k_dense_replace", has_moe ? 0 : shape->n_layer));
  if (n_dense < 0 || n_dense > shape->n_layer) {
    return ErrorStatus(config_name + ": field 'first_k_dense_replace' = " +
                       std::to_string(n_dense) + " is outside [0, num_hidden_layers]");
  }
  w.Set(p + "leading_dense_block_count", u32(n_dense));
  ASSIGN_OR_RETURN(const int64_t n_ff_exp, f.IntOr("moe_intermediate_size", n_ff));
  RETURN_IF_ERROR(CheckPositive(config_name, "moe_intermediate_size", n_ff_exp));
  w.Set(p + "expert_feed_forward_length", u32(n_ff_exp));
  if (has_moe) {
    ASSIGN_OR_RETURN(shape->n_expert, f.Int("n_routed_experts"));
    RETURN_IF_ERROR(CheckPositive(config_name, "n_routed_experts", shape->n_expert));
    w.Set(p + "expert_count", u32(shape->n_expert));
  }
  ASSIGN_OR_RETURN(const int64_t n_shared, f.IntOr("n_shared_experts", 0));
  if (n_shared < 0) return ErrorStatus(config_name + ": field 'n_shared_experts' is negative");
  w.Set(p + "expert_shared_count", u32(n_shared));
  if (f.Has("num_experts_per_tok")) {
    ASSIGN_OR_RETURN(const int64_t n_used, f.Int("num_experts_per_tok"));
    RETURN_IF_ERROR(CheckPositive(config_name, "num_experts_per_tok", n_used));
    w.Set(p + "expert_used_count", u32(n_used));
  }
  if (f.Has("routed_scaling_factor")) {
    ASSIGN_OR_RETURN(const double scale, f.Float("routed_scaling_factor"));
    w.Set(p + "expert_weights_scale", GgufValue::F32(static_cast<float>(scale)));
  }
  ASSIGN_OR_RETURN(const bool norm, f.BoolOr("norm_topk_prob", false));
  if (norm) w.Set(p + "expert_weights_norm", GgufValue::Bool(true));
  if (f.Has("n_group")) {
    ASSIGN_OR_RETURN(const int64_t n_group, f.Int("n_group"));
    RETURN_IF_ERROR(CheckPositive(config_name, "n_group", n_group));
    w.Set(p + "expert_group_count", u32(n_group));
  }
  if (f.Has("topk_group")) {
    ASSIGN_OR_RETURN(const int64_t topk_group, f.Int("topk_group"));
    RETURN_IF_ERROR(CheckPositive(config_name, "topk_group", topk_group));
    w.Set(p + "expert_group_used_count", u32(topk_group));
  }
  if (f.Has("scoring_func")) {
    ASSIGN_OR_RETURN(const std::string scoring, f.String("scoring_func"));
    if (scoring != "softmax" && scoring != "sigmoid") {
      return ErrorStatus(config_name + ": scoring_func '" + scoring +
                         "' is not supported (softmax, sigmoid)");
    }
    w.Set(p + "expert_gating_func", u32(scoring == "sigmoid" ? kGatingSigmoid : kGatingSoftmax));
  }

  if (config.contains("rope_scaling") && config["rope_scaling"].is_object()) {
    const Json& rs = config["rope_scaling"];
    const HfFields r(rs, config_name + " rope_scaling");
    const std::string type = r.RopeScalingType();
    if (type == "yarn") {
      ASSIGN_OR_RETURN(const double factor, r.Float("factor"));
      ASSIGN_OR_RETURN(const int64_t orig, r.Int("original_max_position_embeddings"));
      if (!(factor >= 1.0) || orig < 1) {
        return ErrorStatus(config_name +
                           ": rope_scaling yarn needs factor >= 1 and a positive "
                           "original_max_position_embeddings");
      }
      w.Set(p + "rope.scaling.type", GgufValue::String("yarn"));
      w.Set(p + "rope.scaling.factor", GgufValue::F32(static_cast<float>(factor)));
      w.Set(p + "rope.scaling.original_context_length", u32(orig));
      // DeepSeek's rotary embedding scales cos/sin by mscale(mscale) / mscale(mscale_all_dim),
      // which is 1 in every published config; the GGUF form can only express that case.
      ASSIGN_OR_RETURN(const double mscale, r.FloatOr("mscale", 1.0));
      ASSIGN_OR_RETURN(const double mscale_all, r.FloatOr("mscale_all_dim", 0.0));
      if (r.Has("mscale_all_dim") && mscale != mscale_all) {
        return ErrorStatus(config_name + ": rope_scaling mscale " + std::to_string(mscale) +
                           " differs from mscale_all_dim " + std::to_string(mscale_all) +
                           ", which GGUF's deepseek2 cannot express");
      }
      // The softmax scale takes (1 + 0.1 mscale_all_dim ln factor)^2: the converter stores
      // 0.1 * mscale_all_dim as the log multiplier.
      if (r.Has("mscale_all_dim")) {
        w.Set(p + "rope.scaling.yarn_log_multiplier",
              GgufValue::F32(static_cast<float>(0.1 * mscale_all)));
      }
      if (r.Has("beta_fast")) {
        ASSIGN_OR_RETURN(const double fast, r.Float("beta_fast"));
        w.Set(p + "rope.scaling.yarn_beta_fast", GgufValue::F32(static_cast<float>(fast)));
      }
      if (r.Has("beta_slow")) {
        ASSIGN_OR_RETURN(const double slow, r.Float("beta_slow"));
        w.Set(p + "rope.scaling.yarn_beta_slow", GgufValue::F32(static_cast<float>(slow)));
      }
    } else if (!type.empty() && type != "default") {
      return ErrorStatus(config_name + ": rope_scaling type '" + type +
                         "' is not supported for DeepSeek (yarn or none)");
    }
  }
  return Status::Ok();
}

std::string DeepseekGgufName(const std::string& hf, const HfDeepseekShape& shape) {
  HfTensorName name;
  if (!SplitHfTensorName(hf, &name)) return "";
  if (!name.global.empty()) return name.global;
  const std::string& layer = name.layer;
  if (layer.size() > 6) return "";  // keeps std::stoll below in range
  // V3's multi-token-prediction module sits in the layers after the model's own.
  if (std::stoll(layer) >= shape.n_layer) return kHfSkipTensor;
  const std::string& rest = name.rest;
  const std::string blk = "blk." + layer + ".";
  static const std::map<std::string, std::string> kParts = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.q_a_proj.weight", "attn_q_a.weight"},
      {"self_attn.q_a_layernorm.weight", "attn_q_a_norm.weight"},
      {"self_attn.q_b_proj.weight", "attn_q_b.weight"},
      {"self_attn.kv_a_proj_with_mqa.weight", "attn_kv_a_mqa.weight"},
      {"self_attn.kv_a_layernorm.weight", "attn_kv_a_norm.weight"},
      {"self_attn.kv_b_proj.weight", "attn_kv_b.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
      {"mlp.gate.weight", "ffn_gate_inp.weight"},
      {"mlp.gate.e_score_correction_bias", "exp_probs_b.bias"},
      {"mlp.shared_experts.gate_proj.weight", "ffn_gate_shexp.weight"},
      {"mlp.shared_experts.up_proj.weight", "ffn_up_shexp.weight"},
      {"mlp.shared_experts.down_proj.weight", "ffn_down_shexp.weight"},
  };
  if (auto it = kParts.find(rest); it != kParts.end()) return blk + it->second;
  // mlp.experts.E.{gate,up,down}_proj.weight
  static constexpr std::string_view kExperts = "mlp.experts.";
  if (rest.rfind(kExperts, 0) != 0) return "";
  const size_t edot = rest.find('.', kExperts.size());
  if (edot == std::string::npos || edot == kExperts.size() || edot - kExperts.size() > 6) {
    return "";
  }
  const std::string expert = rest.substr(kExperts.size(), edot - kExperts.size());
  if (!std::all_of(expert.begin(), expert.end(), ::isdigit)) return "";
  const std::string proj = rest.substr(edot + 1);
  std::string stack;
  if (proj == "gate_proj.weight") {
    stack = "ffn_gate_exps.weight";
  } else if (proj == "up_proj.weight") {
    stack = "ffn_up_exps.weight";
  } else if (proj == "down_proj.weight") {
    stack = "ffn_down_exps.weight";
  } else {
    return "";
  }
  return blk + stack + "#" + std::to_string(std::stoll(expert));
}

Status DeepseekTensorAssembler::AddExpert(GgufExternalTensor t, const std::string& base,
                                          int64_t expert, std::vector<GgufExternalTensor>* out) {
  if (expert >= shape_.n_expert) {
    return ErrorStatus("tensor '" + base + "' of expert " + std::to_string(expert) +
                       ": n_routed_experts is " + std::to_string(shape_.n_expert));
  }
  std::vector<GgufExternalTensor>& pieces = pending_[base];
  if (pieces.empty()) pieces.resize(static_cast<size_t>(shape_.n_expert));
  GgufExternalTensor& slot = pieces[static_cast<size_t>(expert)];
  if (Present(slot)) {
    return ErrorStatus("tensor '" + base + "': expert " + std::to_string(expert) + " twice");
  }
  if (t.dims.size() != 2) {
    return ErrorStatus("tensor '" + base + "': expert " + std::to_string(expert) +
                       " is not a matrix");
  }
  auto first = std::find_if(pieces.begin(), pieces.end(), Present);
  if (first != pieces.end() && (first->dims != t.dims || first->type != t.type)) {
    return ErrorStatus("tensor '" + base + "': expert " + std::to_string(expert) +
                       " differs in shape or dtype from the others");
  }
  slot = std::move(t);
  if (!std::all_of(pieces.begin(), pieces.end(), Present)) return Status::Ok();
  // All experts are here: one {k, n, n_expert} tensor, expert-major as torch.stack(dim=0).
  GgufExternalTensor stacked;
  stacked.name = base;
  stacked.type = pieces[0].type;
  stacked.dims = {pieces[0].dims[0], pieces[0].dims[1], shape_.n_expert};
  const size_t piece_bytes = pieces[0].n_bytes;
  stacked.n_bytes = piece_bytes * static_cast<size_t>(shape_.n_expert);
  stacked.fill = [pieces = std::move(pieces), piece_bytes](uint8_t* dst) -> Status {
    for (size_t e = 0; e < pieces.size(); ++e) {
      uint8_t* slice = dst + e * piece_bytes;
      if (pieces[e].data != nullptr) {
        std::memcpy(slice, pieces[e].data, piece_bytes);
      } else {
        RETURN_IF_ERROR(pieces[e].fill(slice));
      }
    }
    return Status::Ok();
  };
  pending_.erase(base);
  out->push_back(std::move(stacked));
  return Status::Ok();
}

Status DeepseekTensorAssembler::SplitKvB(GgufExternalTensor t,
                                         std::vector<GgufExternalTensor>* out) {
  const int64_t per_head = shape_.qk_nope + shape_.v_head;
  if (t.dims.size() != 2 || t.dims[0] != shape_.kv_lora || t.dims[1] != shape_.n_head * per_head) {
    // t.name is blk.N.attn_kv_b.weight; name the tensor as the folder does.
    const std::string layer = t.name.substr(4, t.name.find('.', 4) - 4);
    return ErrorStatus(
        "tensor 'model.layers." + layer + ".self_attn.kv_b_proj.weight': expected [" +
        std::to_string(shape_.n_head * per_head) + ", " + std::to_string(shape_.kv_lora) +
        "] (num_attention_heads x (qk_nope_head_dim + v_head_dim), kv_lora_rank)");
  }
  const size_t es = ElementSize(t.type);
  const int64_t kv_lora = shape_.kv_lora, nope = shape_.qk_nope, v = shape_.v_head;
  const int64_t n_head = shape_.n_head;
  const std::string prefix =
      t.name.substr(0, t.name.size() - std::string("attn_kv_b.weight").size());
  // Both halves read the whole of attn_kv_b (a few MB): each decodes it if it is lazy.
  auto source = std::make_shared<const GgufExternalTensor>(std::move(t));
  auto with_source = [source](const std::function<void(const uint8_t*)>& use) -> Status {
    if (source->data != nullptr) {
      use(source->data);
      return Status::Ok();
    }
    std::vector<uint8_t> decoded(source->n_bytes);
    RETURN_IF_ERROR(source->fill(decoded.data()));
    use(decoded.data());
    return Status::Ok();
  };
  // attn_k_b: per head, the transpose of the head's nope rows: {nope, kv_lora, n_head}.
  GgufExternalTensor kb{prefix + "attn_k_b.weight",   source->type,
                        {nope, kv_lora, n_head},      nullptr,
                        es * nope * kv_lora * n_head, nullptr};
  kb.fill = [with_source, es, per_head, kv_lora, nope, n_head](uint8_t* dst) {
    return with_source([&](const uint8_t* kv_b) {
      for (int64_t h = 0; h < n_head; ++h) {
        for (int64_t r = 0; r < kv_lora; ++r) {
          for (int64_t i = 0; i < nope; ++i) {
            const uint8_t* src = kv_b + ((h * per_head + i) * kv_lora + r) * es;
            std::memcpy(dst + ((h * kv_lora + r) * nope + i) * es, src, es);
          }
        }
      }
    });
  };
  out->push_back(std::move(kb));
  // attn_v_b: per head, the head's value rows as they are: {kv_lora, v, n_head}.
  GgufExternalTensor vb{prefix + "attn_v_b.weight", source->type, {kv_lora, v, n_head}, nullptr,
                        es * v * kv_lora * n_head,  nullptr};
  const size_t row = es * kv_lora;
  vb.fill = [with_source, row, per_head, nope, v, n_head](uint8_t* dst) {
    return with_source([&](const uint8_t* kv_b) {
      for (int64_t h = 0; h < n_head; ++h) {
        std::memcpy(dst + h * v * row, kv_b + (h * per_head + nope) * row, v * row);
      }
    });
  };
  out->push_back(std::move(vb));
  return Status::Ok();
}

Status DeepseekTensorAssembler::Add(GgufExternalTensor t, std::vector<GgufExternalTensor>* out) {
  if (const size_t hash = t.name.find('#'); hash != std::string::npos) {
    const std::string base = t.name.substr(0, hash);
    const int64_t expert = std::stoll(t.name.substr(hash + 1));
    t.name = base;
    return AddExpert(std::move(t), base, expert, out);
  }
  if (t.name.ends_with(".attn_kv_b.weight")) return SplitKvB(std::move(t), out);
  out->push_back(std::move(t));
  return Status::Ok();
}

Status DeepseekTensorAssembler::Finish() const {
  for (const auto& [base, pieces] : pending_) {
    for (size_t e = 0; e < pieces.size(); ++e) {
      if (!Present(pieces[e])) {
        return ErrorStatus("tensor '" + base + "': expert " + std::to_string(e) +
                           " is missing (n_routed_experts is " + std::to_string(shape_.n_expert) +
                           ")");
      }
    }
  }
  return Status::Ok();
}

}  // namespace autarky
