// `autarky random-model`: writes a GGUF model with random weights and the exact keys and tensor
// names llama.cpp's convert_hf_to_gguf.py gives a llama, qwen2, qwen3 or deepseek2 checkpoint,
// for tests (against the PyTorch references) and benchmarks (the DeepSeek-R1-Distill-Qwen-1.5B
// and DeepSeek-V2-Lite shapes).
//
// Tensor data is a deterministic function of the seed, the tensor name and the element index
// (generated in fixed chunks of elements, each from its own generator), so the file is
// byte-identical whatever the thread count. Tensors are streamed to the writer in slices, so
// memory stays bounded for the 7 GB F32 preset.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/dtype.h"
#include "util/status.h"

namespace autarky::tools {

enum class RopeScaling { kNone, kLinear, kYarn, kLlama3 };

// "none", "linear", "yarn", "llama3" (case-insensitive); nullopt otherwise.
std::optional<RopeScaling> ParseRopeScaling(std::string_view name);
std::string_view RopeScalingName(RopeScaling scaling);

struct RandomModelOptions {
  std::string output;
  std::string arch;  // llama | qwen2 | qwen3 | deepseek2
  int64_t n_layer = 0;
  int64_t n_embd = 0;
  int64_t n_ff = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;  // 0: n_embd / n_head
  int64_t n_vocab = 0;   // ignored (taken from the file) with vocab_from
  int64_t n_ctx_train = 0;
  float rope_base = 10000.0f;
  float rms_eps = 0.0f;  // 0: 1e-5 for llama, 1e-6 for qwen2 and qwen3 (their configs)
  RopeScaling rope_scaling = RopeScaling::kNone;
  float rope_factor = 1.0f;
  int64_t rope_orig_ctx = 0;  // yarn, llama3: the pre-extension context; 0: n_ctx_train / factor
  // Llama 3.1's published values of the llama3 scaling's band limits.
  float rope_low_freq_factor = 1.0f;
  float rope_high_freq_factor = 4.0f;
  bool tied = false;  // no output.weight: the output projection is token_embd
  uint64_t seed = 0;
  DType type = DType::kF32;  // of the 2-D weights; 1-D tensors are F32, as the converter does
  // A llama-quantize mix ("Q4_K_M", ...): each tensor is written directly in the type the mix
  // gives it (quantize_plan.h), row block by row block, with no float intermediate file. The
  // values are those of the F32 file of the same seed, quantized. Needs type F32.
  std::string quant_mix;
  std::string vocab_from;  // copy every tokenizer.* key of this GGUF instead of a made-up vocab
  // With vocab_from: pad its vocabulary to this many tokens ("[PADi]", as llama.cpp's converter
  // pads to the embedding size); 0 keeps the file's size.
  int64_t pad_vocab_to = 0;
  int threads = 0;  // 0: all hardware threads
  bool progress = true;

  // deepseek2 only (MLA attention, Mixture-of-Experts). n_ff is the dense layers' width.
  int64_t q_lora_rank = 0;   // 0: one attn_q matrix (V2-Lite); else attn_q_a/_norm/_b (V3)
  int64_t kv_lora_rank = 0;  // latent width of the compressed KV
  int64_t qk_nope_dim = 0;   // per-head query/key dims without RoPE
  int64_t qk_rope_dim = 0;   // per-head query dims with RoPE; one shared rope key of this width
  int64_t v_head_dim = 0;
  int64_t n_expert = 0;         // routed experts
  int64_t n_expert_used = 0;    // chosen per token
  int64_t n_expert_shared = 0;  // always-on experts (one merged _shexp matrix)
  int64_t n_ff_exp = 0;         // width of one expert
  int64_t n_dense_lead = 0;     // leading layers with a dense FFN
  int64_t n_group = 0;          // expert groups for group-limited routing (0: none)
  int64_t n_group_used = 0;
  int expert_gating = 1;  // 1: softmax (V2), 2: sigmoid + exp_probs_b bias (V3)
  bool expert_weights_norm = false;
  float expert_weights_scale = 1.0f;
  float yarn_log_mul = 0.0f;  // rope.scaling.yarn_log_multiplier (0.1 * mscale_all_dim)
  // Write attn_kv_b split as newer llama.cpp converters do: attn_k_b {nope, kv_lora, n_head}
  // (each head's key rows transposed) and attn_v_b {kv_lora, v, n_head}, holding the same
  // values attn_kv_b would (same seed: same model), with the MLA key/value lengths.
  bool split_kv_b = false;
};

// Fills the hyper-parameters of a named preset: "tiny" (2 layers, dim 64, for tests; needs
// options->arch; for deepseek2 a V2-Lite style model), "tiny-v3" (deepseek2 in V3 style: q_lora,
// sigmoid routing with bias and groups, YaRN), "r1-distill-qwen-1.5b" (qwen2,
// DeepSeek-R1-Distill-Qwen-1.5B's config) or "deepseek-v2-lite" (DeepSeek-V2-Lite's config).
// Existing non-zero fields are overwritten.
Status ApplyRandomModelPreset(std::string_view preset, RandomModelOptions* options);

// Checks the options (user input: every message names the flag's meaning).
Status ValidateRandomModelOptions(const RandomModelOptions& options);

struct RandomModelStats {
  uint64_t file_bytes = 0;
  int64_t n_params = 0;
  int n_tensors = 0;
  int64_t n_vocab = 0;
  double seconds = 0;
};

// Validates, then writes options.output atomically (a temporary file renamed at the end).
Result<RandomModelStats> WriteRandomModel(const RandomModelOptions& options);

// The llama3 rope frequency factors as convert_hf_to_gguf.py computes them (the rope_freqs
// tensor, {head_dim / 2}): 1 for short wavelengths, `factor` for long ones, smooth between.
std::vector<float> Llama3RopeFactors(int64_t head_dim, float rope_base, float factor,
                                     float low_freq_factor, float high_freq_factor,
                                     int64_t orig_ctx);

}  // namespace autarky::tools
