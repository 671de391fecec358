// VocabData: everything a Tokenizer is built from (tokens, scores, types, merges, special ids,
// flags, pre-tokenizer regexes), read from GGUF metadata; a tokenizer.json reader can fill the
// same struct.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace autarky {

class GgufFile;

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,      // special tokens (BOS, EOS, <|im_end|>): only parsed from text on request
  kUserDefined = 4,  // added tokens that are not special (<think>): always parsed from text
  kUnused = 5,
  kByte = 6,  // SentencePiece byte fallback <0xNN>
};

enum class TokenizerModel {
  kSpm,  // SentencePiece-style: score-ordered merges over characters, byte fallback ("llama")
  kBpe,  // byte-level BPE with a regex pre-tokenizer ("gpt2")
};

enum class Normalization {
  kNone,
  kNfc,
};

// How an added/special token absorbs whitespace next to it when recognised in text.
struct AddedTokenFlags {
  int32_t id = -1;
  bool lstrip = false;  // swallow whitespace on its left
  bool rstrip = false;  // swallow whitespace on its right
};

struct VocabData {
  TokenizerModel model = TokenizerModel::kSpm;
  std::string pre;  // tokenizer.ggml.pre ("" when absent)

  std::vector<std::string> tokens;  // id -> text as stored ('▁' for spaces, byte-level chars, ...)
  std::vector<float> scores;        // SPM merge priority (empty: all 0)
  std::vector<TokenType> types;     // size == tokens.size()
  std::vector<std::string> merges;  // BPE: "left right", in priority order

  // Pre-tokenizer: regexes in Hugging Face (Oniguruma) syntax applied one after the other, each
  // splitting every piece into matches and the gaps between them ("Isolated" splits).
  std::vector<std::string> split_regexes;
  Normalization normalization = Normalization::kNone;
  bool ignore_merges = false;  // a word that is itself a token is not merged (Llama 3)

  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t eot_id = -1;
  int32_t eom_id = -1;
  int32_t unk_id = -1;
  int32_t pad_id = -1;
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;  // SPM: a space before the text (and after special tokens)

  // Every token that ends generation (eos, eot, eom and the known end-of-turn texts).
  std::vector<int32_t> eog_ids;
  // Added tokens with lstrip/rstrip (others strip nothing).
  std::vector<AddedTokenFlags> added_token_flags;
};

// Reads the tokenizer.* keys of a GGUF file, with llama.cpp's defaults for missing ones.
// Errors name the file and key ("model.gguf: tokenizer.ggml.scores has 10 elements, expected
// 32000").
Result<VocabData> ReadGgufVocab(const GgufFile& file);

// The pre-tokenizer of a tokenizer.ggml.pre value: fills split_regexes, normalization,
// ignore_merges and the add_bos default. Error for a value it does not know.
Status ApplyPreTokenizerType(std::string_view pre, VocabData& vocab);

}  // namespace autarky
