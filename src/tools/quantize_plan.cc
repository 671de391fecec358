// The llama-quantize type-selection rules for the mixes autarky supports (no importance matrix).
#include "tools/quantize_plan.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "util/check.h"
#include "util/strings.h"

namespace autarky::tools {
namespace {

// llama_ftype values (llama.h); they are what `general.file_type` holds.
enum FileType : uint32_t {
  kAllF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ8_0 = 7,
  kQ5_0 = 8,
  kQ5_1 = 9,
  kQ2_K = 10,
  kQ3_K_S = 11,
  kQ3_K_M = 12,
  kQ3_K_L = 13,
  kQ4_K_S = 14,
  kQ4_K_M = 15,
  kQ5_K_S = 16,
  kQ5_K_M = 17,
  kQ6_K = 18,
  kIQ4_NL = 25,
  kIQ4_XS = 30,
  kBF16 = 32,
};

// Tensor roles the rules distinguish, from the tensor name.
enum class Role {
  kTokenEmbd,
  kOutput,
  kAttnQ,
  kAttnK,
  kAttnV,      // also fused QKV and MLA's kv_b: the value path is the sensitive one
  kAttnOutput,
  kFfnUp,
  kFfnGate,
  kFfnDown,
  kOther,
};

bool Contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

Role RoleOf(std::string_view name) {
  if (name == "output.weight") return Role::kOutput;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return Role::kTokenEmbd;
  if (Contains(name, "attn_qkv.weight") || Contains(name, "attn_kv_b.weight") ||
      Contains(name, "attn_v.weight")) {
    return Role::kAttnV;
  }
  if (Contains(name, "attn_k.weight")) return Role::kAttnK;
  if (Contains(name, "attn_q.weight")) return Role::kAttnQ;
  if (Contains(name, "attn_output.weight")) return Role::kAttnOutput;
  if (Contains(name, "ffn_up")) return Role::kFfnUp;
  if (Contains(name, "ffn_gate")) return Role::kFfnGate;
  if (Contains(name, "ffn_down")) return Role::kFfnDown;
  return Role::kOther;
}

// Weight matrices only: norms, routers, positional tables and 1-D tensors stay as they are.
bool AllowsQuantization(const TensorToPlan& t) {
  if (t.dims.size() < 2) return false;
  const std::string_view name = t.name;
  if (name.size() < 6 || name.substr(name.size() - 6) != "weight") return false;
  for (std::string_view keep : {"_norm.weight", "ffn_gate_inp.weight", "position_embd",
                                "token_types.weight", "ssm_conv1d", "attn_rel_b.weight"}) {
    if (Contains(name, keep)) return false;
  }
  return true;
}

// Block number from "blk.N....", or -1.
int BlockIndex(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return -1;
  int value = 0;
  size_t i = 4;
  if (i >= name.size() || !std::isdigit(static_cast<unsigned char>(name[i]))) return -1;
  for (; i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])); ++i) {
    value = value * 10 + (name[i] - '0');
    if (value > 1000000) return -1;
  }
  return (i < name.size() && name[i] == '.') ? value : -1;
}

// The layers that get more bits in the *_M mixes: the first and last eighth, and every third
// layer in between.
bool UseMoreBits(int64_t i_layer, int64_t n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 ||
         (i_layer - n_layers / 8) % 3 == 2;
}

// Counters that the rules advance as they walk the tensors in file order.
struct PlanState {
  const ModelFacts& facts;
  uint32_t ftype;
  bool tied_embeddings = true;
  int64_t n_attn_v = 0;
  int64_t i_attn_v = 0;
  int64_t i_ffn_down = 0;

  int64_t GroupedQueryFactor() const {
    return facts.n_head_kv > 0 ? facts.n_head / facts.n_head_kv : 0;
  }
  bool Is70B() const {
    return facts.arch == "llama" && facts.n_layer == 80 && facts.n_head != facts.n_head_kv;
  }
  bool Falcon() const { return facts.arch == "falcon"; }
};

// Layer of an FFN tensor: its position among its kind for dense models; for MoE models,
// where experts may be stored out of order, the number in its name.
Result<int64_t> FfnLayer(const PlanState& s, int64_t counter, const std::string& name) {
  if (s.facts.n_expert <= 1) return counter;
  const int layer = BlockIndex(name);
  if (layer < 0 || layer >= s.facts.n_layer) {
    return ErrorStatus("tensor '" + name + "': cannot tell its layer (block_count " +
                       std::to_string(s.facts.n_layer) + ")");
  }
  return static_cast<int64_t>(layer);
}

// The rule-based type of one quantizable tensor (llama.cpp's llama_tensor_get_type_impl,
// restricted to the mixes in SupportedMixes()).
Result<DType> RuleType(PlanState& s, const TensorToPlan& t, Role role, DType base) {
  const uint32_t f = s.ftype;
  DType type = base;
  if (role == Role::kOutput || (s.tied_embeddings && role == Role::kTokenEmbd)) {
    const int64_t block = Traits(base).block_elems;
    if (s.Falcon() || t.dims[0] % block != 0) {
      type = DType::kQ8_0;
    } else if (base != DType::kQ8_0) {
      type = DType::kQ6_K;
    }
  } else if (role == Role::kTokenEmbd) {
    // Untied token embeddings keep the base type in these mixes.
  } else if (role == Role::kAttnV) {
    const int64_t gqa = s.GroupedQueryFactor();
    if (f == kQ2_K) {
      type = gqa >= 4 ? DType::kQ4_K : DType::kQ3_K;
    } else if (f == kQ3_K_M) {
      type = s.i_attn_v < 2 ? DType::kQ5_K : DType::kQ4_K;
    } else if (f == kQ3_K_L) {
      type = DType::kQ5_K;
    } else if ((f == kIQ4_NL || f == kIQ4_XS) && gqa >= 4) {
      type = DType::kQ5_K;
    } else if ((f == kQ4_K_M || f == kQ5_K_M) && UseMoreBits(s.i_attn_v, s.n_attn_v)) {
      type = DType::kQ6_K;
    } else if (f == kQ4_K_S && s.i_attn_v < 4) {
      type = DType::kQ5_K;
    }
    // With 8 query heads per value head a 70B model's attn_v is small: more bits cost little.
    if (s.Is70B() && (type == DType::kQ3_K || type == DType::kQ4_K)) type = DType::kQ5_K;
    if (s.facts.n_expert == 8) type = DType::kQ8_0;
    ++s.i_attn_v;
  } else if (role == Role::kAttnK) {
    if (s.facts.n_expert == 8) type = DType::kQ8_0;
  } else if (role == Role::kFfnDown) {
    ASSIGN_OR_RETURN(const int64_t i_layer, FfnLayer(s, s.i_ffn_down, t.name));
    const int64_t n_layer = s.facts.n_layer;
    if (f == kQ2_K) {
      type = DType::kQ3_K;
    } else if (f == kQ3_K_M) {
      type = i_layer < n_layer / 16                         ? DType::kQ5_K
             : !s.Falcon() || UseMoreBits(i_layer, n_layer) ? DType::kQ4_K
                                                            : DType::kQ3_K;
    } else if (f == kQ3_K_L) {
      type = s.Falcon() ? DType::kQ4_K : DType::kQ5_K;
    } else if (f == kQ4_K_M) {
      if (s.Falcon()) {
        type = i_layer < n_layer / 16          ? DType::kQ6_K
               : UseMoreBits(i_layer, n_layer) ? DType::kQ5_K
                                               : DType::kQ4_K;
      } else if (UseMoreBits(i_layer, n_layer)) {
        type = DType::kQ6_K;
      }
    } else if (i_layer < n_layer / 8 && (f == kIQ4_NL || f == kIQ4_XS)) {
      type = DType::kQ5_K;
    } else if (f == kQ5_K_M && UseMoreBits(i_layer, n_layer)) {
      type = DType::kQ6_K;
    } else if (f == kQ4_K_S && !s.Falcon() && i_layer < n_layer / 8) {
      type = DType::kQ5_K;
    }
    ++s.i_ffn_down;
  } else if (role == Role::kAttnOutput) {
    if (!s.Falcon()) {
      if (s.facts.n_expert == 8) {
        for (uint32_t m : {kQ2_K, kQ3_K_S, kQ3_K_M, kIQ4_NL, kQ4_K_S, kQ4_K_M, kIQ4_XS}) {
          if (f == m) type = DType::kQ5_K;
        }
      } else if (f == kQ2_K) {
        type = DType::kQ3_K;
      } else if (f == kQ3_K_M) {
        type = DType::kQ4_K;
      } else if (f == kQ3_K_L) {
        type = DType::kQ5_K;
      }
    } else if (f == kQ3_K_L) {
      type = DType::kQ4_K;
    }
  }
  return type;
}

// A type whose block fits a row length that the chosen type's block does not divide.
Result<DType> FallbackFor(DType type, const TensorToPlan& t) {
  DType fallback;
  switch (type) {
    case DType::kIQ4_XS:
      fallback = DType::kIQ4_NL;
      break;
    case DType::kQ2_K:
    case DType::kQ3_K:
      fallback = DType::kQ4_0;
      break;
    case DType::kQ4_K:
      fallback = DType::kQ5_0;
      break;
    case DType::kQ5_K:
      fallback = DType::kQ5_1;
      break;
    case DType::kQ6_K:
      fallback = DType::kQ8_0;
      break;
    default:
      // The 32-element types have no smaller quantized relative. llama-quantize gives up on
      // such a model; F16 keeps it convertible (and changes nothing where llama.cpp succeeds).
      if (!Traits(type).quantized) {
        return ErrorStatus("tensor '" + t.name + "': row length " + std::to_string(t.dims[0]) +
                           " is not a multiple of the " + std::string(DTypeName(type)) +
                           " block size");
      }
      return DType::kF16;
  }
  // Rows not even a multiple of 32: F16 keeps the tensor usable.
  if (t.dims[0] % Traits(fallback).block_elems != 0) fallback = DType::kF16;
  return fallback;
}

// llama.cpp's tensor order: outside blocks first (by name), then blocks by number, then name.
bool FileOrderLess(const TensorToPlan& a, const TensorToPlan& b) {
  const int la = BlockIndex(a.name);
  const int lb = BlockIndex(b.name);
  if (la != lb) return la < lb;
  return a.name < b.name;
}

}  // namespace

const std::vector<QuantMix>& SupportedMixes() {
  static const std::vector<QuantMix> mixes = {
      {"F32", kAllF32, DType::kF32, "32-bit floats (no quantization)"},
      {"F16", kF16, DType::kF16, "16-bit IEEE halves"},
      {"BF16", kBF16, DType::kBF16, "16-bit bfloats"},
      {"Q8_0", kQ8_0, DType::kQ8_0, "8.5 bpw, nearly lossless"},
      {"Q6_K", kQ6_K, DType::kQ6_K, "6.56 bpw"},
      {"Q5_K_M", kQ5_K_M, DType::kQ5_K, "5.5 bpw, Q6_K for sensitive layers"},
      {"Q5_K_S", kQ5_K_S, DType::kQ5_K, "5.5 bpw"},
      {"Q5_1", kQ5_1, DType::kQ5_1, "6.0 bpw (legacy)"},
      {"Q5_0", kQ5_0, DType::kQ5_0, "5.5 bpw (legacy)"},
      {"Q4_K_M", kQ4_K_M, DType::kQ4_K, "4.5 bpw, Q6_K for sensitive layers (recommended)"},
      {"Q4_K_S", kQ4_K_S, DType::kQ4_K, "4.5 bpw, Q5_K for the first layers"},
      {"Q4_1", kQ4_1, DType::kQ4_1, "5.0 bpw (legacy)"},
      {"Q4_0", kQ4_0, DType::kQ4_0, "4.5 bpw (legacy)"},
      {"IQ4_XS", kIQ4_XS, DType::kIQ4_XS, "4.25 bpw non-linear"},
      {"IQ4_NL", kIQ4_NL, DType::kIQ4_NL, "4.5 bpw non-linear"},
      {"Q3_K_L", kQ3_K_L, DType::kQ3_K, "3.44 bpw, Q5_K for attention V and FFN down"},
      {"Q3_K_M", kQ3_K_M, DType::kQ3_K, "3.44 bpw, more bits for sensitive layers"},
      {"Q3_K_S", kQ3_K_S, DType::kQ3_K, "3.44 bpw"},
      {"Q2_K", kQ2_K, DType::kQ2_K, "2.63 bpw, Q3_K/Q4_K for sensitive tensors"},
  };
  return mixes;
}

const QuantMix* FindQuantMix(std::string_view name) {
  static const std::pair<std::string_view, std::string_view> kAliases[] = {
      {"Q3_K", "Q3_K_M"}, {"Q4_K", "Q4_K_M"}, {"Q5_K", "Q5_K_M"}};
  for (const auto& [alias, target] : kAliases) {
    if (EqualsIgnoreCase(name, alias)) name = target;
  }
  for (const QuantMix& mix : SupportedMixes()) {
    if (EqualsIgnoreCase(mix.name, name)) return &mix;
  }
  return nullptr;
}

Result<std::vector<PlannedTensor>> PlanQuantization(const std::vector<TensorToPlan>& tensors,
                                                    const ModelFacts& facts,
                                                    const QuantPlanOptions& options) {
  CHECK(options.mix != nullptr);
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return FileOrderLess(tensors[a], tensors[b]); });

  PlanState state{facts, options.mix->file_type};
  for (const TensorToPlan& t : tensors) {
    const Role role = RoleOf(t.name);
    if (role == Role::kAttnV) ++state.n_attn_v;
    if (role == Role::kOutput) state.tied_embeddings = false;
  }

  const DType base = options.mix->base_type;
  const bool base_quantized = Traits(base).quantized;
  std::vector<PlannedTensor> plan;
  plan.reserve(tensors.size());
  for (size_t index : order) {
    const TensorToPlan& t = tensors[index];
    PlannedTensor planned{index, t.type, false};
    if (AllowsQuantization(t)) {
      const Role role = RoleOf(t.name);
      DType type = base;
      if (role == Role::kTokenEmbd && options.token_embd_type) {
        type = *options.token_embd_type;
      } else if (role == Role::kOutput && options.output_type) {
        type = *options.output_type;
      } else if (base_quantized) {
        if (!options.pure) {
          ASSIGN_OR_RETURN(type, RuleType(state, t, role, base));
        }
        if (t.dims[0] % Traits(type).block_elems != 0) {
          ASSIGN_OR_RETURN(type, FallbackFor(type, t));
          planned.fell_back = true;
        }
      }
      if (t.dims[0] % Traits(type).block_elems != 0) {
        return ErrorStatus("tensor '" + t.name + "': row length " + std::to_string(t.dims[0]) +
                           " is not a multiple of the " + std::string(DTypeName(type)) +
                           " block size (" + std::to_string(Traits(type).block_elems) + ")");
      }
      planned.target = type;
    }
    plan.push_back(planned);
  }
  return plan;
}

}  // namespace autarky::tools
