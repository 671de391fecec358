// SpmModel: score-ordered merging over the characters of the text, with byte fallback.
#include "tokenizer/spm.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>

#include "tokenizer/unicode.h"

namespace autarky {
namespace {

// One piece of the text being merged; pieces form a doubly linked list in text order.
struct Symbol {
  uint32_t begin;
  uint32_t length;  // 0 once merged into its left neighbour
  int32_t prev;
  int32_t next;
  int32_t id;  // token of the piece, -1 for a character that is not a token
};

// A merge of two adjacent symbols into the token `id`.
struct Candidate {
  float score;
  int32_t left;
  int32_t right;
  uint32_t length;  // bytes of the merged piece, to detect candidates made stale by other merges
  int32_t id;
};

// Highest score first; among equal scores the leftmost (SentencePiece's order).
struct CandidateOrder {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581

// Longer chunks (rare) are not worth a cache entry.
constexpr size_t kMaxCachedChunkBytes = 64;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

SpmModel::SpmModel(const std::vector<std::string>& tokens, const std::vector<TokenType>& types,
                   const std::vector<float>& scores, int32_t unk_id)
    : scores_(scores), unk_id_(unk_id) {
  byte_ids_.fill(-1);
  scores_.resize(tokens.size(), 0.0f);
  // A NaN score would make the merge order inconsistent; such a piece is merged last.
  for (float& score : scores_) {
    if (std::isnan(score)) score = -std::numeric_limits<float>::infinity();
  }
  piece_ids_.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& text = tokens[i];
    const auto id = static_cast<int32_t>(i);
    if (types[i] == TokenType::kByte) {
      // "<0xNN>"
      if (text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>') {
        const int hi = HexDigit(text[3]);
        const int lo = HexDigit(text[4]);
        if (hi >= 0 && lo >= 0 && byte_ids_[hi * 16 + lo] < 0) byte_ids_[hi * 16 + lo] = id;
      }
      continue;
    }
    if (types[i] != TokenType::kNormal && types[i] != TokenType::kUserDefined) continue;
    if (text.empty()) continue;
    piece_ids_.emplace(text, id);
    for (size_t pos = text.find(kSpace, 1); pos != std::string::npos;
         pos = text.find(kSpace, pos + 1)) {
      // The character that ends right at pos.
      size_t start = pos - 1;
      while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
      joins_space_.insert(text.substr(start, pos - start));
    }
  }
}

void SpmModel::Encode(std::string_view text, std::vector<int32_t>& out) const {
  // Pieces of repeated words are copied from their first occurrence.
  std::unordered_map<std::string_view, std::pair<size_t, size_t>> cache;
  auto encode_chunk = [&](std::string_view chunk) {
    if (chunk.size() > kMaxCachedChunkBytes) {
      EncodeChunk(chunk, out);
      return;
    }
    const auto it = cache.find(chunk);
    if (it != cache.end()) {
      const auto [begin, count] = it->second;
      for (size_t k = 0; k < count; ++k) out.push_back(out[begin + k]);
      return;
    }
    const size_t begin = out.size();
    EncodeChunk(chunk, out);
    cache.emplace(chunk, std::make_pair(begin, out.size() - begin));
  };
  size_t chunk_start = 0;
  size_t previous = 0;  // start of the character before i
  for (size_t i = 0; i < text.size();) {
    const size_t n = std::min(Utf8LengthFromLead(static_cast<uint8_t>(text[i])), text.size() - i);
    if (i > chunk_start && text.substr(i, kSpace.size()) == kSpace &&
        !joins_space_.contains(std::string(text.substr(previous, i - previous)))) {
      encode_chunk(text.substr(chunk_start, i - chunk_start));
      chunk_start = i;
    }
    previous = i;
    i += n;
  }
  if (chunk_start < text.size()) encode_chunk(text.substr(chunk_start));
}

void SpmModel::EncodeChunk(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t n = std::min(Utf8LengthFromLead(static_cast<uint8_t>(text[i])), text.size() - i);
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(n), index - 1,
                       i + n == text.size() ? -1 : index + 1, Find(text.substr(i, n))});
    i += n;
  }

  std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> queue;
  auto try_merge = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[left];
    const Symbol& r = symbols[right];
    const uint32_t length = l.length + r.length;
    const int32_t id = Find(text.substr(l.begin, length));
    if (id < 0) return;
    queue.push({scores_[id], left, right, length, id});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_merge(i - 1, i);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& l = symbols[c.left];
    Symbol& r = symbols[c.right];
    // Stale: one side was merged away or grew since the candidate was made.
    if (l.length == 0 || r.length == 0 || l.length + r.length != c.length) continue;
    l.length = c.length;
    l.id = c.id;
    r.length = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = c.left;
    try_merge(l.prev, c.left);
    try_merge(c.left, l.next);
  }

  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    if (s.id >= 0) {
      out.push_back(s.id);
      continue;
    }
    // A character with no token of its own: its UTF-8 bytes as byte tokens, or one <unk> when
    // the vocabulary lacks one of them.
    bool have_bytes = true;
    for (uint32_t k = 0; k < s.length; ++k) {
      have_bytes = have_bytes && byte_ids_[static_cast<uint8_t>(text[s.begin + k])] >= 0;
    }
    if (have_bytes) {
      for (uint32_t k = 0; k < s.length; ++k) {
        out.push_back(byte_ids_[static_cast<uint8_t>(text[s.begin + k])]);
      }
    } else if (unk_id_ >= 0) {
      out.push_back(unk_id_);
    }
  }
}

}  // namespace autarky
