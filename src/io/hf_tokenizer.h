// A Hugging Face folder's tokenizer (tokenizer.json, tokenizer_config.json) as the
// tokenizer.ggml.* keys llama.cpp's converter would write, for Tokenizer::FromGguf.
//
// Supported tokenizer.json kinds:
//  - byte-level BPE (model "gpt2") with the GPT-2, Llama 3, Qwen2, DeepSeek LLM/V2 or DeepSeek V3
//    pre-tokenizer;
//  - SentencePiece-style BPE with byte_fallback (model "llama": Llama 2, Mistral, TinyLlama),
//    Llama 2's Prepend+Replace normalizer or a Metaspace pre-tokenizer, scores derived from the
//    merge ranks so that the SPM encoder gives Hugging Face's ids (merge lists for which that
//    cannot hold are refused);
// with added tokens, bos/eos/pad, add_bos_token and chat_template from tokenizer_config.json.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "io/gguf_reader.h"
#include "io/gguf_writer.h"
#include "util/status.h"

namespace autarky {

// True when `path` is a directory with a tokenizer.json (what LoadHfTokenizer needs).
bool IsHfTokenizerFolder(const std::string& path);

// Sets the tokenizer.ggml.* keys (and tokenizer.chat_template) from the files in `dir`.
// `config` is config.json (an empty object when there is none): its bos/eos ids are the fallback
// for tokenizer_config.json's. The token table is padded with "[PADn]" up to `n_vocab_config`
// (config.json's vocab_size, 0 when unknown), as long as the embedding.
Status HfTokenizerToMetadata(const std::string& dir, const nlohmann::json& config,
                             int64_t n_vocab_config, GgufWriter& w);

// Only the tokenizer of a folder (tokenizer.json, tokenizer_config.json, and config.json when
// present): a vocabulary-only GgufFile with the tokenizer.ggml.* keys, for Tokenizer::FromGguf.
Result<GgufFile> LoadHfTokenizer(const std::string& dir);

}  // namespace autarky
