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
// writes them); FP8 E4M3 weights with 128x128 `weight_scale_inv` blocks become BF16.
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

Result<GgufFile> LoadHfFolder(const std::string& dir, FileLoad mode = FileLoad::kMap);

}  // namespace autarky
