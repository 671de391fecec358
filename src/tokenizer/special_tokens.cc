// SpecialTokenSplitter: a byte trie matched at every position that can start a token.
#include "tokenizer/special_tokens.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace autarky {
namespace {

// Length of the trailing run of Unicode whitespace in s (s is valid UTF-8).
size_t TrailingWhitespace(std::string_view s) {
  size_t keep = 0;  // end of the last non-whitespace character
  size_t i = 0;
  while (i < s.size()) {
    const uint32_t cp = DecodeUtf8At(s, i);
    if (!IsUnicodeWhitespace(cp)) keep = i;
  }
  return s.size() - keep;
}

size_t LeadingWhitespace(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t next = i;
    if (!IsUnicodeWhitespace(DecodeUtf8At(s, next))) break;
    i = next;
  }
  return i;
}

}  // namespace

int32_t SpecialTokenSplitter::Child(int32_t node, uint8_t byte) const {
  const auto& children = nodes_[node].children;
  const auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(byte, 0),
                                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return (it != children.end() && it->first == byte) ? it->second : -1;
}

void SpecialTokenSplitter::Add(int32_t id, std::string_view text, bool always, bool lstrip,
                               bool rstrip) {
  if (text.empty()) return;
  int32_t node = 0;
  for (const char c : text) {
    const auto byte = static_cast<uint8_t>(c);
    int32_t child = Child(node, byte);
    if (child < 0) {
      child = static_cast<int32_t>(nodes_.size());
      nodes_.emplace_back();
      auto& children = nodes_[node].children;
      children.insert(
          std::lower_bound(children.begin(), children.end(), std::make_pair(byte, 0),
                           [](const auto& a, const auto& b) { return a.first < b.first; }),
          {byte, child});
    }
    node = child;
  }
  if (nodes_[node].entry >= 0) return;  // the same text twice: the first id wins
  nodes_[node].entry = static_cast<int32_t>(entries_.size());
  entries_.push_back({id, always, lstrip, rstrip});
  starts_[static_cast<uint8_t>(text[0])] = true;
}

size_t SpecialTokenSplitter::LongestAt(std::string_view text, size_t pos, bool parse_special,
                                       int32_t& entry) const {
  size_t best = 0;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    node = Child(node, static_cast<uint8_t>(text[i]));
    if (node < 0) break;
    const int32_t e = nodes_[node].entry;
    if (e >= 0 && (parse_special || entries_[e].always)) {
      best = i + 1 - pos;
      entry = e;
    }
  }
  return best;
}

void SpecialTokenSplitter::Split(std::string_view text, bool parse_special,
                                 std::vector<TextFragment>& out) const {
  size_t fragment_start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (!starts_[static_cast<uint8_t>(text[pos])]) {
      ++pos;
      continue;
    }
    int32_t entry = -1;
    const size_t length = LongestAt(text, pos, parse_special, entry);
    if (length == 0) {
      ++pos;
      continue;
    }
    const Entry& e = entries_[entry];
    std::string_view left = text.substr(fragment_start, pos - fragment_start);
    if (e.lstrip) left.remove_suffix(TrailingWhitespace(left));
    if (!left.empty()) out.push_back({-1, left});
    out.push_back({e.id, {}});
    pos += length;
    if (e.rstrip) pos += LeadingWhitespace(text.substr(pos));
    fragment_start = pos;
  }
  if (fragment_start < text.size()) out.push_back({-1, text.substr(fragment_start)});
}

}  // namespace autarky
