// DeepSeek V2/V3 Hugging Face folders (DeepseekV2ForCausalLM, DeepseekV3ForCausalLM) as GGUF
// `deepseek2`: config.json to the keys llama.cpp's converter writes, HF tensor names to GGUF's,
// per-expert matrices stacked into 3-D ffn_*_exps tensors, and kv_b_proj split into the
// attn_k_b (transposed per head) and attn_v_b tensors of MLA-aware GGUFs. io/hf_folder.cc calls
// these for the DeepSeek architectures; everything else (files, FP8, tokenizer) stays there.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/gguf_reader.h"
#include "io/gguf_writer.h"
#include "util/status.h"

namespace autarky {

// The sizes the tensor mapping needs, from config.json.
struct HfDeepseekShape {
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t qk_nope = 0;
  int64_t v_head = 0;
  int64_t kv_lora = 0;
  int64_t n_expert = 0;  // routed experts; 0 for a model without MoE layers
  int64_t n_vocab = 0;   // config vocab_size
  bool tied_embeddings = false;
};

bool IsHfDeepseekArch(const std::string& hf_arch);

// config.json -> deepseek2.* keys, as llama.cpp's convert_hf_to_gguf.py writes them (MLA form:
// head_count_kv 1, key/value_length of the latent, *_mla the per-head sizes).
Status DeepseekConfigToMetadata(const nlohmann::json& config, const std::string& config_name,
                                GgufWriter& w, HfDeepseekShape* shape);

// GGUF name of a DeepSeek HF tensor; "" when unknown, kHfSkipTensor for tensors the converter
// drops (multi-token-prediction layers past num_hidden_layers). A routed expert's matrix maps
// to its stacked tensor's name with "#E" appended; kv_b_proj maps to "blk.N.attn_kv_b.weight"
// (both are resolved by DeepseekTensorAssembler).
inline constexpr const char* kHfSkipTensor = "-";
std::string DeepseekGgufName(const std::string& hf, const HfDeepseekShape& shape);

// Takes the converted tensors in the loader's order (embedding, then layer by layer, each
// layer's names sorted) and passes them on, except that each layer's expert pieces become one
// {k, n, n_expert} tensor once all n_expert have arrived, and attn_kv_b becomes attn_k_b
// {qk_nope, kv_lora, n_head} and attn_v_b {kv_lora, v_head, n_head}. Both results are lazy
// (GgufExternalTensor::fill): the stack fills each expert (a view or its own fill) into its
// slice, so no expert is held decoded twice and `convert` holds one stack at a time.
class DeepseekTensorAssembler {
 public:
  explicit DeepseekTensorAssembler(const HfDeepseekShape& shape) : shape_(shape) {}

  Status Add(GgufExternalTensor t, std::vector<GgufExternalTensor>* out);
  // Errors if an expert stack is incomplete.
  Status Finish() const;

 private:
  Status AddExpert(GgufExternalTensor t, const std::string& base, int64_t expert,
                   std::vector<GgufExternalTensor>* out);
  Status SplitKvB(GgufExternalTensor t, std::vector<GgufExternalTensor>* out);

  HfDeepseekShape shape_;
  std::map<std::string, std::vector<GgufExternalTensor>> pending_;  // stack name -> pieces
};

}  // namespace autarky
