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
// Tokenizer: byte-level BPE tokenizer.json (GPT-2, Llama 3, Qwen2, DeepSeek V3 pre-tokenizers)
// with added tokens, bos/eos/pad, add_bos_token and chat_template from tokenizer_config.json.
#pragma once

#include <string>

#include "io/gguf_reader.h"
#include "util/mapped_file.h"
#include "util/status.h"

namespace autarky {

// True when `path` is a directory with a config.json.
bool IsHfFolder(const std::string& path);
// True when `path` is a directory with a tokenizer.json (what LoadHfTokenizer needs).
bool IsHfTokenizerFolder(const std::string& path);

Result<GgufFile> LoadHfFolder(const std::string& dir, FileLoad mode = FileLoad::kMap);

// Only the tokenizer of a folder (tokenizer.json, tokenizer_config.json, and config.json when
// present): a vocabulary-only GgufFile with the tokenizer.ggml.* keys, for Tokenizer::FromGguf.
Result<GgufFile> LoadHfTokenizer(const std::string& dir);

}  // namespace autarky
