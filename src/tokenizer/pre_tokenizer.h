// PreTokenizer: splits text into the pieces ("words") that byte-level BPE merges within, with a
// sequence of regexes run by PCRE2 (JIT-compiled, Unicode properties, look-ahead).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace autarky {

// Hugging Face's Split pre-tokenizers use Oniguruma, where \s is Unicode White_Space; PCRE2's \s
// also matches U+180E. This rewrites \s and \S (outside and inside character classes) to explicit
// White_Space classes; everything else is passed through. Error for \S inside a class, which
// has no class-item spelling.
Result<std::string> TranslateRegexForPcre2(std::string_view pattern);

class PreTokenizer {
 public:
  // Compiles the regexes (Hugging Face syntax), applied in order: each splits every current
  // piece into its matches and the text between them (HF's "Isolated" behaviour).
  static Result<PreTokenizer> Create(const std::vector<std::string>& regexes);

  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Appends the pieces of `text` (valid UTF-8) to `pieces`, as views into `text`. The pieces
  // cover the text exactly and in order. Thread-safe.
  void Split(std::string_view text, std::vector<std::string_view>& pieces) const;

 private:
  struct Compiled;
  PreTokenizer() = default;
  std::vector<std::unique_ptr<Compiled>> regexes_;
};

}  // namespace autarky
