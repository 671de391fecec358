// A batch of tokens for one forward pass: each token belongs to a sequence (a KV cache slot) at
// a position, and says whether its logits are wanted.
#pragma once

#include <cstdint>
#include <vector>

namespace autarky {

struct Batch {
  std::vector<int32_t> tokens;     // {n_tokens} vocabulary ids
  std::vector<int32_t> positions;  // {n_tokens} position of each token in its sequence
  std::vector<int32_t> seqs;       // {n_tokens} KV cache slot of each token
  std::vector<uint8_t> want_logits;  // {n_tokens} 1: write this token's logits

  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
  void Clear() {
    tokens.clear();
    positions.clear();
    seqs.clear();
    want_logits.clear();
  }
  void Add(int32_t token, int32_t position, int32_t seq, bool logits) {
    tokens.push_back(token);
    positions.push_back(position);
    seqs.push_back(seq);
    want_logits.push_back(logits ? 1 : 0);
  }
  int64_t CountLogits() const {
    int64_t n = 0;
    for (uint8_t w : want_logits) n += w;
    return n;
  }
};

}  // namespace autarky
