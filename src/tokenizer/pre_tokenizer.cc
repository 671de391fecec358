// PreTokenizer: regex splitting with PCRE2 (JIT when available).
#include "tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <utility>

#include "tokenizer/unicode.h"

namespace autarky {
namespace {

// Unicode White_Space: \t \n \v \f \r, U+0085 and the separators (Zs, Zl, Zp).
constexpr std::string_view kWhiteSpaceItems = R"(\t\n\x0B\f\r\x{85}\p{Z})";

// Per-thread matching state: a match-data block and a JIT stack large enough for long runs of
// one character class (the default 32 KiB machine stack can overflow on them).
class MatchScratch {
 public:
  MatchScratch() {
    match_data_ = pcre2_match_data_create(16, nullptr);
    context_ = pcre2_match_context_create(nullptr);
    jit_stack_ = pcre2_jit_stack_create(32 * 1024, 16 * 1024 * 1024, nullptr);
    if (context_ != nullptr && jit_stack_ != nullptr) {
      pcre2_jit_stack_assign(context_, nullptr, jit_stack_);
    }
  }
  ~MatchScratch() {
    pcre2_match_data_free(match_data_);
    pcre2_match_context_free(context_);
    pcre2_jit_stack_free(jit_stack_);
  }
  MatchScratch(const MatchScratch&) = delete;
  MatchScratch& operator=(const MatchScratch&) = delete;

  pcre2_match_data* match_data() const { return match_data_; }
  pcre2_match_context* context() const { return context_; }

 private:
  pcre2_match_data* match_data_ = nullptr;
  pcre2_match_context* context_ = nullptr;
  pcre2_jit_stack* jit_stack_ = nullptr;
};

MatchScratch& ThreadScratch() {
  thread_local MatchScratch scratch;
  return scratch;
}

std::string Pcre2ErrorText(int code) {
  PCRE2_UCHAR buffer[256];
  const int n = pcre2_get_error_message(code, buffer, sizeof(buffer));
  return n < 0 ? "error " + std::to_string(code) : std::string(reinterpret_cast<char*>(buffer), n);
}

}  // namespace

struct PreTokenizer::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }

  // Splits piece into matches and gaps, appending to out.
  void SplitPiece(std::string_view piece, std::vector<std::string_view>& out) const {
    MatchScratch& scratch = ThreadScratch();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
    size_t emitted = 0;  // end of the last piece appended
    size_t start = 0;    // where the next search starts
    while (start < piece.size()) {
      const int rc = pcre2_match(code, subject, piece.size(), start, PCRE2_NO_UTF_CHECK,
                                 scratch.match_data(), scratch.context());
      if (rc < 0) {
        // No match, or a resource limit on a pathological input: the rest stays one piece.
        break;
      }
      const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(scratch.match_data());
      const size_t match_begin = ovector[0];
      const size_t match_end = ovector[1];
      if (match_end <= match_begin) {
        // An empty match delimits nothing; step over one character and search again.
        start = match_begin + Utf8LengthFromLead(static_cast<uint8_t>(piece[match_begin]));
        continue;
      }
      if (match_begin > emitted) out.push_back(piece.substr(emitted, match_begin - emitted));
      out.push_back(piece.substr(match_begin, match_end - match_begin));
      emitted = match_end;
      start = match_end;
    }
    if (emitted < piece.size()) out.push_back(piece.substr(emitted));
  }
};

Result<std::string> TranslateRegexForPcre2(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 64);
  int class_depth = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[i + 1];
      ++i;
      if (e == 's') {
        if (class_depth > 0) {
          out.append(kWhiteSpaceItems);
        } else {
          out.append("[").append(kWhiteSpaceItems).append("]");
        }
      } else if (e == 'S') {
        if (class_depth > 0) {
          return ErrorStatus("regex '" + std::string(pattern) +
                             "': \\S inside a character class is not supported");
        }
        out.append("[^").append(kWhiteSpaceItems).append("]");
      } else {
        out += '\\';
        out += e;
      }
      continue;
    }
    if (c == '[') {
      // "[:alpha:]" inside a class is a POSIX item, not a nested class.
      if (class_depth > 0 && i + 1 < pattern.size() && pattern[i + 1] == ':') {
        const size_t close = pattern.find(":]", i + 2);
        if (close != std::string_view::npos) {
          out.append(pattern.substr(i, close + 2 - i));
          i = close + 1;
          continue;
        }
      }
      ++class_depth;
      out += c;
      // A ']' right after '[' or '[^' is a literal member.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') {
        out += '^';
        ++i;
      }
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') {
        out += ']';
        ++i;
      }
      continue;
    }
    if (c == ']' && class_depth > 0) --class_depth;
    out += c;
  }
  return out;
}

Result<PreTokenizer> PreTokenizer::Create(const std::vector<std::string>& regexes) {
  PreTokenizer result;
  for (const std::string& regex : regexes) {
    ASSIGN_OR_RETURN(const std::string translated, TranslateRegexForPcre2(regex));
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    // UCP: \p{..}, \d, \w and case folding use Unicode properties. MULTILINE: ^ and $ are line
    // anchors, as in Oniguruma's Ruby syntax that Hugging Face tokenizers use.
    pcre2_code* code =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                      PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &error_code, &error_offset, nullptr);
    if (code == nullptr) {
      return ErrorStatus("pre-tokenizer regex '" + regex + "' does not compile at offset " +
                         std::to_string(error_offset) + ": " + Pcre2ErrorText(error_code));
    }
    // JIT is an optimization: without it (e.g. an unsupported CPU) the interpreter runs.
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    auto compiled = std::make_unique<Compiled>();
    compiled->code = code;
    result.regexes_.push_back(std::move(compiled));
  }
  return result;
}

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

void PreTokenizer::Split(std::string_view text, std::vector<std::string_view>& pieces) const {
  if (text.empty()) return;
  if (regexes_.empty()) {
    pieces.push_back(text);
    return;
  }
  if (regexes_.size() == 1) {
    regexes_[0]->SplitPiece(text, pieces);
    return;
  }
  std::vector<std::string_view> current{text};
  std::vector<std::string_view> next;
  for (size_t r = 0; r < regexes_.size(); ++r) {
    std::vector<std::string_view>& target = r + 1 == regexes_.size() ? pieces : next;
    for (std::string_view piece : current) regexes_[r]->SplitPiece(piece, target);
    if (r + 1 < regexes_.size()) {
      current.swap(next);
      next.clear();
    }
  }
}

}  // namespace autarky
