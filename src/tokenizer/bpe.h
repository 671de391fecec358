// BpeModel: byte-level BPE (GPT-2 style, "gpt2" vocabularies): the bytes of a pre-tokenized word
// are merged pairwise in merge-rank order, as Hugging Face tokenizers' BPE model does.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/vocab.h"

namespace autarky {

class BpeModel {
 public:
  // `pieces[id]` are the raw bytes of each token (its byte-level text decoded); they must
  // outlive the model. Only normal tokens take part in merging. Merges whose parts or result
  // are not tokens are skipped.
  BpeModel(const std::vector<std::string>& pieces, const std::vector<std::string>& tokens,
           const std::vector<TokenType>& types, const std::vector<std::string>& merges,
           bool ignore_merges);

  // Appends the tokens of one word (raw bytes, any content).
  void EncodeWord(std::string_view word, std::vector<int32_t>& out) const;

  int32_t Find(std::string_view raw) const {
    const auto it = piece_ids_.find(raw);
    return it == piece_ids_.end() ? -1 : it->second;
  }
  int32_t ByteToken(uint8_t byte) const { return byte_ids_[byte]; }
  size_t merge_count() const { return merge_count_; }

 private:
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }

  // (left, right) -> merge, or nullptr. An open-addressing table: this lookup is the inner loop
  // of encoding (about one per byte), and a node-based map costs two cache misses per probe.
  const Merge* FindMerge(int32_t left, int32_t right) const;
  void InsertMerge(uint64_t key, Merge merge);  // keeps an existing entry (the higher priority)

  static constexpr uint64_t kEmptyKey = ~uint64_t{0};  // ids are non-negative: never a real key
  struct Slot {
    uint64_t key = kEmptyKey;
    Merge merge{};
  };

  std::unordered_map<std::string_view, int32_t> piece_ids_;  // raw bytes -> normal token
  std::vector<Slot> merges_;                                 // capacity: a power of two
  size_t merge_count_ = 0;
  std::array<int32_t, 256> byte_ids_;  // single-byte tokens, -1 if absent
  bool ignore_merges_;
};

}  // namespace autarky
