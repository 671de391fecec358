// SpecialTokenSplitter: finds special and added tokens written in text (leftmost, longest first,
// as Hugging Face's added-token matcher) and cuts the text around them.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace autarky {

// A piece of the input: either a recognised token (token >= 0) or text to tokenize.
struct TextFragment {
  int32_t token = -1;
  std::string_view text;  // the text (empty for tokens)
};

class SpecialTokenSplitter {
 public:
  // `always`: recognised even when special tokens are not parsed (added tokens that are not
  // special, e.g. <think>); other tokens only with parse_special. Texts must be valid, non-empty
  // UTF-8 and must outlive the splitter. Call Add() for all tokens, then use Split().
  void Add(int32_t id, std::string_view text, bool always, bool lstrip, bool rstrip);

  // Appends the fragments of `text` (valid UTF-8); text fragments are never empty.
  void Split(std::string_view text, bool parse_special, std::vector<TextFragment>& out) const;

  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    int32_t id;
    bool always, lstrip, rstrip;
  };
  // A byte trie over the token texts; children are kept sorted by byte.
  struct Node {
    int32_t entry = -1;  // index into entries_ of the token ending here
    std::vector<std::pair<uint8_t, int32_t>> children;
  };
  int32_t Child(int32_t node, uint8_t byte) const;
  // Longest allowed token starting at text[pos]: its length (0 if none) and entry.
  size_t LongestAt(std::string_view text, size_t pos, bool parse_special, int32_t& entry) const;

  std::vector<Entry> entries_;
  std::vector<Node> nodes_{Node{}};
  bool starts_[256] = {};
};

}  // namespace autarky
