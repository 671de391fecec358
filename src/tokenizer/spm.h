// SpmModel: SentencePiece-style BPE (llama.cpp's "llama" vocabularies): adjacent pieces are
// merged highest score first; characters left without a token fall back to <0xNN> byte tokens.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/vocab.h"

namespace autarky {

class SpmModel {
 public:
  // `tokens` must outlive the model (the lookup table views them).
  SpmModel(const std::vector<std::string>& tokens, const std::vector<TokenType>& types,
           const std::vector<float>& scores, int32_t unk_id);

  // Appends the tokens of `text`: valid UTF-8 whose spaces are already written as U+2581.
  void Encode(std::string_view text, std::vector<int32_t>& out) const;

  // Id of the piece with exactly this text, or -1.
  int32_t Find(std::string_view piece) const {
    const auto it = piece_ids_.find(piece);
    return it == piece_ids_.end() ? -1 : it->second;
  }

 private:
  std::unordered_map<std::string_view, int32_t> piece_ids_;  // normal and user-defined pieces
  std::vector<float> scores_;                                // by id
  std::array<int32_t, 256> byte_ids_;                        // <0xNN> tokens, -1 when absent
  int32_t unk_id_;
};

}  // namespace autarky
