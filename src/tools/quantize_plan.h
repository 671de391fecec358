// Which type each tensor of a model gets when quantizing to a named mix (Q4_K_M, Q8_0, ...),
// following the rules of llama.cpp's llama-quantize so that files match theirs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/dtype.h"
#include "util/status.h"

namespace autarky::tools {

// A quantization mix: its name, the `general.file_type` value llama.cpp writes for it (the
// llama_ftype enum), and the base type most weight matrices get.
struct QuantMix {
  std::string_view name;
  uint32_t file_type;
  DType base_type;
  std::string_view description;
};

// The mixes autarky can produce, in display order.
const std::vector<QuantMix>& SupportedMixes();

// Looks up a mix by name, case-insensitive; also accepts llama.cpp's aliases
// (Q3_K = Q3_K_M, Q4_K = Q4_K_M, Q5_K = Q5_K_M). nullptr if unknown.
const QuantMix* FindQuantMix(std::string_view name);

// The model facts the mix rules depend on (from the GGUF metadata).
struct ModelFacts {
  std::string arch;     // general.architecture
  int64_t n_layer = 0;  // {arch}.block_count
  int64_t n_head = 0;   // {arch}.attention.head_count (of layer 0)
  int64_t n_head_kv = 0;
  int64_t n_expert = 0;  // {arch}.expert_count, 0 when dense
};

struct TensorToPlan {
  std::string name;
  DType type;
  std::vector<int64_t> dims;  // GGUF order: dims[0] is the row length
};

struct QuantPlanOptions {
  const QuantMix* mix = nullptr;
  bool pure = false;                      // every quantizable tensor gets the base type
  std::optional<DType> output_type;       // override for output.weight
  std::optional<DType> token_embd_type;   // override for token_embd.weight
};

struct PlannedTensor {
  size_t index;        // into the input list
  DType target;        // the type to write (== input type: copied unchanged)
  bool fell_back;      // the rule's type did not fit the row length; target is its fallback
};

// Plans every tensor, in the order llama.cpp writes them (tensors outside blocks sorted by
// name, then blocks in numeric order, names sorted within a block). Errors name the tensor.
Result<std::vector<PlannedTensor>> PlanQuantization(const std::vector<TensorToPlan>& tensors,
                                                    const ModelFacts& facts,
                                                    const QuantPlanOptions& options);

}  // namespace autarky::tools
