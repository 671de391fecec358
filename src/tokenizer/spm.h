// SpmModel: SentencePiece-style BPE (llama.cpp's "llama" vocabularies): adjacent pieces are
// merged highest score first; characters left without a token fall back to <0xNN> byte tokens.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tokenizer/vocab.h"

namespace autarky {

class SpmModel {
 public:
  // `tokens` must outlive the model (the lookup table views them).
  SpmModel(const std::vector<std::string>& tokens, const std::vector<TokenType>& types,
           const std::vector<float>& scores, int32_t unk_id);

  // Appends the tokens of `text`: valid UTF-8 whose spaces are already written as U+2581.
  // The text is cut before every U+2581 that no token joins to the character before it (in
  // Llama's vocabulary only U+2581 itself precedes U+2581 inside a token): no merge can cross
  // such a cut, so the pieces merge independently with the same result, and repeated words are
  // encoded once.
  void Encode(std::string_view text, std::vector<int32_t>& out) const;

  // Id of the piece with exactly this text, or -1.
  int32_t Find(std::string_view piece) const {
    const auto it = piece_ids_.find(piece);
    return it == piece_ids_.end() ? -1 : it->second;
  }

 private:
  void EncodeChunk(std::string_view text, std::vector<int32_t>& out) const;

  std::unordered_map<std::string_view, int32_t> piece_ids_;  // normal and user-defined pieces
  // Characters that some piece has right before a U+2581 (cuts are not made after them).
  std::unordered_set<std::string> joins_space_;
  std::vector<float> scores_;          // by id
  std::array<int32_t, 256> byte_ids_;  // <0xNN> tokens, -1 when absent
  int32_t unk_id_;
};

}  // namespace autarky
