// Tokenizer: builds the models from vocabulary data and runs the encode/decode pipeline.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <utility>

#include "io/gguf_reader.h"
#include "tokenizer/bpe.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/spm.h"
#include "tokenizer/unicode.h"

namespace autarky {
namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// Words longer than this are not worth a cache entry (rare, and expensive to hash).
constexpr size_t kMaxCachedWordBytes = 64;

std::string SpmPiece(std::string_view text, TokenType type) {
  switch (type) {
    case TokenType::kNormal: {
      std::string out;
      out.reserve(text.size());
      for (size_t i = 0; i < text.size();) {
        if (text.substr(i, kSpmSpace.size()) == kSpmSpace) {
          out += ' ';
          i += kSpmSpace.size();
        } else {
          out += text[i++];
        }
      }
      return out;
    }
    case TokenType::kByte: {
      // "<0xNN>"
      if (text.size() == 6 && text.substr(0, 3) == "<0x" && text[5] == '>') {
        unsigned value = 0;
        for (const char c : text.substr(3, 2)) {
          value *= 16;
          if (c >= '0' && c <= '9') {
            value += c - '0';
          } else if (c >= 'A' && c <= 'F') {
            value += c - 'A' + 10;
          } else if (c >= 'a' && c <= 'f') {
            value += c - 'a' + 10;
          } else {
            return std::string(text);
          }
        }
        return std::string(1, static_cast<char>(value));
      }
      return std::string(text);
    }
    case TokenType::kControl:
    case TokenType::kUserDefined:
    case TokenType::kUnknown:
      return std::string(text);
    case TokenType::kUnused:
    case TokenType::kUndefined:
      return {};
  }
  return {};
}

std::string BpePiece(std::string_view text, TokenType type) {
  // Added tokens are their text, even when it looks byte-level (DeepSeek Coder adds "ü" as a
  // token; HF's decoder would turn it into the lone byte 0xFC, llama.cpp keeps "ü").
  if (type != TokenType::kNormal) return SpmPiece(text, type);
  std::string raw;
  if (DecodeByteLevel(text, raw)) return raw;
  return std::string(text);
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const GgufFile& file) {
  ASSIGN_OR_RETURN(VocabData vocab, ReadGgufVocab(file));
  auto result = FromVocab(std::move(vocab));
  if (!result.ok()) return result.status().WithContext(file.name());
  return result;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromVocab(VocabData vocab) {
  const size_t n = vocab.tokens.size();
  if (n == 0) return ErrorStatus("the vocabulary has no tokens");
  if (vocab.types.size() != n) {
    return ErrorStatus("the vocabulary has " + std::to_string(n) + " tokens but " +
                       std::to_string(vocab.types.size()) + " token types");
  }
  auto in_range = [n](int32_t id) { return id >= 0 && static_cast<size_t>(id) < n; };
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->model_ = vocab.model;
  t->pre_ = std::move(vocab.pre);
  t->tokens_ = std::move(vocab.tokens);
  t->types_ = std::move(vocab.types);
  t->normalization_ = vocab.normalization;
  t->bos_id_ = in_range(vocab.bos_id) ? vocab.bos_id : -1;
  t->eos_id_ = in_range(vocab.eos_id) ? vocab.eos_id : -1;
  t->eot_id_ = in_range(vocab.eot_id) ? vocab.eot_id : -1;
  t->unk_id_ = in_range(vocab.unk_id) ? vocab.unk_id : -1;
  t->pad_id_ = in_range(vocab.pad_id) ? vocab.pad_id : -1;
  t->add_bos_ = vocab.add_bos && t->bos_id_ >= 0;
  t->add_eos_ = vocab.add_eos && t->eos_id_ >= 0;
  t->add_space_prefix_ = vocab.add_space_prefix;
  t->eog_.assign(n, false);
  for (const int32_t id : vocab.eog_ids) {
    if (in_range(id)) t->eog_[id] = true;
  }

  t->pieces_.resize(n);
  t->text_ids_ = std::make_unique<std::unordered_map<std::string_view, int32_t>>();
  t->text_ids_->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& text = t->tokens_[i];
    t->pieces_[i] = t->model_ == TokenizerModel::kSpm ? SpmPiece(text, t->types_[i])
                                                      : BpePiece(text, t->types_[i]);
    t->text_ids_->emplace(text, static_cast<int32_t>(i));
  }

  if (t->model_ == TokenizerModel::kSpm) {
    t->spm_ = std::make_unique<SpmModel>(t->tokens_, t->types_, vocab.scores, t->unk_id_);
  } else {
    t->bpe_ = std::make_unique<BpeModel>(t->pieces_, t->tokens_, t->types_, vocab.merges,
                                         vocab.ignore_merges);
    ASSIGN_OR_RETURN(PreTokenizer pre_tokenizer, PreTokenizer::Create(vocab.split_regexes));
    t->pre_tokenizer_ = std::make_unique<PreTokenizer>(std::move(pre_tokenizer));
  }

  // lstrip (bit 0) and rstrip (bit 1) by id.
  std::vector<uint8_t> strip(n, 0);
  for (const AddedTokenFlags& flags : vocab.added_token_flags) {
    if (in_range(flags.id)) strip[flags.id] = (flags.lstrip ? 1 : 0) | (flags.rstrip ? 2 : 0);
  }
  t->specials_ = std::make_unique<SpecialTokenSplitter>();
  for (size_t i = 0; i < n; ++i) {
    const TokenType type = t->types_[i];
    if (type != TokenType::kControl && type != TokenType::kUserDefined &&
        type != TokenType::kUnknown) {
      continue;
    }
    const std::string& text = t->tokens_[i];
    // A token text that is not valid UTF-8 could cut a character in two; it cannot be typed.
    if (text.empty() || !IsValidUtf8(text)) continue;
    t->specials_->Add(static_cast<int32_t>(i), text, type == TokenType::kUserDefined,
                      (strip[i] & 1) != 0, (strip[i] & 2) != 0);
  }
  return t;
}

void Tokenizer::EncodeText(std::string_view text, bool prefix_space,
                           std::vector<int32_t>& out) const {
  if (spm_ != nullptr) {
    std::string escaped;
    escaped.reserve(text.size() + text.size() / 4 + kSpmSpace.size());
    if (prefix_space && add_space_prefix_) escaped.append(kSpmSpace);
    for (const char c : text) {
      if (c == ' ') {
        escaped.append(kSpmSpace);
      } else {
        escaped += c;
      }
    }
    spm_->Encode(escaped, out);
    return;
  }

  std::string normalized;
  if (Normalize(normalization_, text, normalized)) text = normalized;
  std::vector<std::string_view> words;
  pre_tokenizer_->Split(text, words);
  // Words repeat a lot in real text: remember where each word's tokens first went.
  std::unordered_map<std::string_view, std::pair<size_t, size_t>> cache;
  for (const std::string_view word : words) {
    if (word.size() < 2 || word.size() > kMaxCachedWordBytes) {
      bpe_->EncodeWord(word, out);
      continue;
    }
    const auto it = cache.find(word);
    if (it != cache.end()) {
      const auto [begin, count] = it->second;
      for (size_t k = 0; k < count; ++k) out.push_back(out[begin + k]);
      continue;
    }
    const size_t begin = out.size();
    bpe_->EncodeWord(word, out);
    cache.emplace(word, std::make_pair(begin, out.size() - begin));
  }
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, const EncodeOptions& options) const {
  std::string sanitized;
  if (!IsValidUtf8(text)) {
    sanitized = SanitizeUtf8(text);
    text = sanitized;
  }
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (options.add_special && add_bos_) out.push_back(bos_id_);

  std::vector<TextFragment> fragments;
  specials_->Split(text, options.parse_special, fragments);
  bool after_special = true;  // the start of the text counts as "after a special token"
  for (const TextFragment& fragment : fragments) {
    if (fragment.token >= 0) {
      out.push_back(fragment.token);
      after_special = true;
    } else {
      EncodeText(fragment.text, after_special, out);
      after_special = false;
    }
  }
  if (options.add_special && add_eos_) out.push_back(eos_id_);
  return out;
}

std::string Tokenizer::TokenBytes(int32_t id) const {
  return IsValid(id) ? pieces_[id] : std::string();
}

std::string Tokenizer::Decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string out;
  // SPM: the encoder's dummy-prefix space after a leading BOS is not part of the text.
  bool strip_space =
      spm_ != nullptr && add_space_prefix_ && !ids.empty() && bos_id_ >= 0 && ids[0] == bos_id_;
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    if (!IsValid(id)) continue;
    if (i == 0 && strip_space) {
      if (!skip_special) out += pieces_[id];
      continue;
    }
    if (skip_special && IsSpecial(id)) continue;
    std::string_view piece = pieces_[id];
    if (strip_space) {
      if (!piece.empty() && piece[0] == ' ') piece.remove_prefix(1);
      strip_space = false;
    }
    out += piece;
  }
  return out;
}

bool Tokenizer::IsEndOfGeneration(int32_t id) const { return IsValid(id) && eog_[id]; }

bool Tokenizer::IsSpecial(int32_t id) const {
  return IsValid(id) && (types_[id] == TokenType::kControl || types_[id] == TokenType::kUnknown);
}

TokenType Tokenizer::token_type(int32_t id) const {
  return IsValid(id) ? types_[id] : TokenType::kUndefined;
}

std::string_view Tokenizer::TokenText(int32_t id) const {
  return IsValid(id) ? std::string_view(tokens_[id]) : std::string_view();
}

int32_t Tokenizer::FindToken(std::string_view text) const {
  const auto it = text_ids_->find(text);
  return it == text_ids_->end() ? -1 : it->second;
}

}  // namespace autarky
