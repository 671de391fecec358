// Loading a Hugging Face model folder (config.json, *.safetensors, tokenizer.json, ...) as a
// GgufFile with the metadata keys and tensor names llama.cpp's converter would write, so that
// LoadModel, Tokenizer::FromGguf and GgufWriter work on it unchanged.
//
//   ASSIGN_OR_RETURN(GgufFile file, LoadHfFolder("DeepSeek-R1-Distill-Qwen-1.5B"));
//
// Architectures: LlamaForCausalLM (llama; Q/K rows permuted as llama.cpp does, Llama 3 rope
// scaling as a rope_freqs tensor), Qwen2ForCausalLM (qwen2), Qwen3ForCausalLM (qwen3).
// Tensors: F32/F16/BF16 matrices are
// zero-copy views into the mapped safetensors files; 1-D tensors become F32 (as the converter
// writes them); FP8 E4M3 weights with 128x128 `weight_scale_inv` blocks become BF16 (at load
// or on demand: HfTensorLoad).
// Tokenizer: see io/hf_tokenizer.h.
#pragma once

#include <string>

#include "io/gguf_reader.h"
#include "io/hf_tokenizer.h"  // IsHfTokenizerFolder, LoadHfTokenizer
#include "util/mapped_file.h"
#include "util/status.h"

namespace autarky {

// True when `path` is a directory with a config.json.
bool IsHfFolder(const std::string& path);

// What happens to tensors that need decoding (FP8 weights, Q/K permutation, DeepSeek's stacked
// experts and split attn_kv_b): kMaterialize decodes them all at load (the GgufFile holds them
// in RAM, as LoadModel needs); kLazy leaves them as fill functions that GgufFile::ReadTensorData
// runs on demand, so `convert` and `--quantize` hold one decoded tensor at a time (DeepSeek-R1 is
// 700 GB as FP8, 1.3 TB decoded). Zero-copy views of F32/F16/BF16 matrices are the same in both.
enum class HfTensorLoad { kMaterialize, kLazy };

Result<GgufFile> LoadHfFolder(const std::string& dir, FileLoad mode = FileLoad::kMap,
                              HfTensorLoad load = HfTensorLoad::kMaterialize);

}  // namespace autarky
