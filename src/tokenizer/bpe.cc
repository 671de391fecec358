// BpeModel: rank-ordered pair merging with a heap, O(n log n) in the word length.
#include "tokenizer/bpe.h"

#include <queue>

#include "tokenizer/unicode.h"

namespace autarky {
namespace {

struct Symbol {
  int32_t id;  // -1 once merged into its left neighbour
  int32_t prev;
  int32_t next;
};

struct Candidate {
  int32_t rank;
  int32_t left;  // symbol index; symbols keep the index of their first byte
  int32_t right;
  int32_t left_id;
  int32_t right_id;
  int32_t result;
};

// Lowest rank first, then leftmost (Hugging Face's merge order).
struct CandidateOrder {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

BpeModel::BpeModel(const std::vector<std::string>& pieces, const std::vector<std::string>& tokens,
                   const std::vector<TokenType>& types, const std::vector<std::string>& merges,
                   bool ignore_merges)
    : ignore_merges_(ignore_merges) {
  byte_ids_.fill(-1);
  piece_ids_.reserve(pieces.size());
  std::string raw;
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (types[i] != TokenType::kNormal) continue;
    // Tokens whose text is not byte-level encoded (possible in hand-made vocabularies) can never
    // be produced from bytes.
    if (!DecodeByteLevel(tokens[i], raw) || raw.empty()) continue;
    const auto id = static_cast<int32_t>(i);
    piece_ids_.emplace(pieces[i], id);
    if (raw.size() == 1 && byte_ids_[static_cast<uint8_t>(raw[0])] < 0) {
      byte_ids_[static_cast<uint8_t>(raw[0])] = id;
    }
  }
  size_t capacity = 16;
  while (capacity < 2 * merges.size()) capacity *= 2;
  merges_.assign(capacity, Slot{});
  std::string left_raw;
  std::string right_raw;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& merge = merges[rank];
    // "left right"; the separator is the first space after the first character.
    const size_t space = merge.find(' ', 1);
    if (space == std::string::npos) continue;
    if (!DecodeByteLevel(std::string_view(merge).substr(0, space), left_raw) ||
        !DecodeByteLevel(std::string_view(merge).substr(space + 1), right_raw)) {
      continue;
    }
    const int32_t left = Find(left_raw);
    const int32_t right = Find(right_raw);
    const int32_t result = Find(left_raw + right_raw);
    if (left < 0 || right < 0 || result < 0) continue;
    // The first (highest-priority) occurrence of a pair wins.
    InsertMerge(PairKey(left, right), Merge{static_cast<int32_t>(rank), result});
  }
}

namespace {
size_t SlotOf(uint64_t key, size_t mask) {
  // Fibonacci hashing: the high bits of key * 2^64/phi are well mixed.
  return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}
}  // namespace

void BpeModel::InsertMerge(uint64_t key, Merge merge) {
  const size_t mask = merges_.size() - 1;
  for (size_t i = SlotOf(key, mask);; i = (i + 1) & mask) {
    if (merges_[i].key == key) return;
    if (merges_[i].key == kEmptyKey) {
      merges_[i] = {key, merge};
      ++merge_count_;
      return;
    }
  }
}

const BpeModel::Merge* BpeModel::FindMerge(int32_t left, int32_t right) const {
  const uint64_t key = PairKey(left, right);
  const size_t mask = merges_.size() - 1;
  for (size_t i = SlotOf(key, mask);; i = (i + 1) & mask) {
    if (merges_[i].key == key) return &merges_[i].merge;
    if (merges_[i].key == kEmptyKey) return nullptr;
  }
}

void BpeModel::EncodeWord(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (word.size() == 1) {
    if (byte_ids_[static_cast<uint8_t>(word[0])] >= 0) {
      out.push_back(byte_ids_[static_cast<uint8_t>(word[0])]);
    }
    return;
  }
  if (ignore_merges_) {
    const int32_t id = Find(word);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  // One symbol per byte; bytes without a token are dropped (their neighbours become adjacent),
  // as Hugging Face's BPE does for characters outside the vocabulary without an unk token.
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  for (const char c : word) {
    const int32_t id = byte_ids_[static_cast<uint8_t>(c)];
    if (id < 0) continue;
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, index - 1, index + 1});
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> queue;
  auto try_merge = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Merge* merge = FindMerge(symbols[left].id, symbols[right].id);
    if (merge == nullptr) return;
    queue.push({merge->rank, left, right, symbols[left].id, symbols[right].id, merge->result});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_merge(i - 1, i);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& l = symbols[c.left];
    Symbol& r = symbols[c.right];
    // Stale when either side has changed or they are no longer neighbours. Token ids of a
    // symbol only ever grow in length, so an id seen again means the same piece.
    if (l.id != c.left_id || r.id != c.right_id || l.next != c.right) continue;
    l.id = c.result;
    r.id = -1;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = c.left;
    try_merge(l.prev, c.left);
    try_merge(c.left, l.next);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
}

}  // namespace autarky
