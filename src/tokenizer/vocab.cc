// Reading a tokenizer from GGUF metadata, and the pre-tokenizer of every tokenizer.ggml.pre value.
#include "tokenizer/vocab.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <unordered_map>
#include <utility>

#include "io/gguf_reader.h"

namespace autarky {
namespace {

// Ids beyond this are refused: token ids are int32 and real vocabularies have < 300k tokens.
constexpr uint64_t kMaxVocabSize = uint64_t{1} << 24;

// ---- Pre-tokenizer regexes, in Hugging Face (Oniguruma) syntax as the models' tokenizer.json
// files write them. The helpers translate \s to Unicode White_Space for PCRE2.

// GPT-2's ByteLevel regex (also StarCoder's, MPT's, ...).
constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Llama 3 (tiktoken cl100k-style: case-insensitive contractions, digits in groups of 3).
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Qwen2 (and the DeepSeek-R1 Qwen distills): like Llama 3 but single digits.
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// GPT-4o (o200k): case-aware words with an optional contraction suffix.
constexpr std::string_view kGpt4oRegex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Mistral's Tekken.
constexpr std::string_view kTekkenRegex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// BLOOM / Poro: everything up to whitespace or sentence punctuation.
constexpr std::string_view kBloomRegex = R"( ?[^(\s|.,!?…。，、।۔،)]+)";

constexpr std::string_view kSeedCoderRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr std::string_view kBailingRegex =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";

// CJK ideographs (U+4E00..U+9FA5), the Hangul/other block list of the DeepSeek tokenizers.
constexpr std::string_view kDeepSeekCjkRegex =
    R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";

// DeepSeek LLM (v1) and V2: the cased letters listed explicitly. The six whose NFC form differs
// are \x{} escapes: in NFC three ranges come out reversed (PCRE2 refuses the pattern) and the
// range from KELVIN SIGN (U+212A) starts at ASCII 'K' instead, covering most of the BMP.
constexpr std::string_view kDeepSeekLlmLetters =
    R"(\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\x{1F7D}ᾀ-ᾴᾶ-ᾼ\x{1FBE}ῂ-ῄῆ-ῌῐ-\x{1FD3}ῖ-\x{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\x{2126}ℨ\x{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+)";
constexpr std::string_view kDeepSeekLlmPunct = R"(\s?[!-/:-~！-／：-～‘-‟　-。]+)";

// DeepSeek V3/R1: numbers in groups of 3, kana/ideographs, then words, punctuation and spaces.
constexpr std::string_view kDeepSeekV3Words =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Vocabularies converted without a pre-tokenizer name get llama.cpp's generic split.
constexpr std::string_view kDefaultRegexPunct = R"([\p{P}\$\+<=>\^~\|]+)";
constexpr std::string_view kFalconRegexPunct = R"([\p{P}\$\+<=>\^~\|`]+)";
// GPT-2's regex without the final \s+ alternative, as llama.cpp's generic split uses it.
constexpr std::string_view kGpt2RegexShort =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";

struct PreTokenizerSpec {
  std::vector<std::string_view> regexes;
  Normalization normalization = Normalization::kNone;
  bool ignore_merges = false;
  bool add_bos = false;  // default of add_bos when the file does not say
};

// nullptr for an unknown name.
const PreTokenizerSpec* FindPreTokenizer(std::string_view pre) {
  using R = std::vector<std::string_view>;
  static const auto* const kTable = new std::unordered_map<std::string_view, PreTokenizerSpec>{
      {"default", {R{kDefaultRegexPunct, kGpt2RegexShort, R"(\p{N}+)", "[0-9][0-9][0-9]"}}},
      {"llama3", {R{kLlama3Regex}, Normalization::kNone, true, true}},
      {"llama-v3", {R{kLlama3Regex}, Normalization::kNone, true, true}},
      {"llama-bpe", {R{kLlama3Regex}, Normalization::kNone, true, true}},
      {"falcon3", {R{kLlama3Regex}, Normalization::kNone, true, true}},
      {"falcon-h1", {R{kLlama3Regex}, Normalization::kNone, true, true}},
      {"pixtral", {R{kLlama3Regex}, Normalization::kNone, true, true}},
      {"midm-2.0", {R{kLlama3Regex}, Normalization::kNone, true, true}},
      {"lfm2", {R{kLlama3Regex}, Normalization::kNone, true, true}},
      {"dbrx", {R{kLlama3Regex}}},
      {"smaug-bpe", {R{kLlama3Regex}}},
      {"chatglm-bpe", {R{kLlama3Regex}}},
      {"glm4", {R{kLlama3Regex}}},
      {"deepseek-llm",
       {R{"[\r\n]", kDeepSeekLlmLetters, kDeepSeekLlmPunct, R"(\s+$)", kDeepSeekCjkRegex,
          R"(\p{N}+)"}}},
      {"deepseek-coder",
       {R{"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepSeekCjkRegex, R"(\p{N})"}}},
      {"deepseek-v3",
       {R{R"(\p{N}{1,3})", R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)",
          kDeepSeekV3Words}}},
      {"falcon",
       {R{kFalconRegexPunct,
          R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))",
          "[0-9][0-9][0-9]"}}},
      {"gpt-2", {R{kGpt2Regex}}},
      {"phi-2", {R{kGpt2Regex}}},
      {"mpt", {R{kGpt2Regex}}},
      {"olmo", {R{kGpt2Regex}}},
      {"jais", {R{kGpt2Regex}}},
      {"trillion", {R{kGpt2Regex}}},
      {"exaone4", {R{kGpt2Regex}}},
      {"jina-es", {R{kGpt2Regex}}},
      {"jina-de", {R{kGpt2Regex}}},
      {"jina-v1-en", {R{kGpt2Regex}}},
      {"jina-v2-es", {R{kGpt2Regex}}},
      {"jina-v2-de", {R{kGpt2Regex}}},
      {"jina-v2-code", {R{kGpt2Regex}}},
      {"roberta-bpe", {R{kGpt2Regex}}},
      {"starcoder", {R{R"(\p{N})", kGpt2Regex}}},
      {"refact", {R{R"(\p{N})", kGpt2Regex}}},
      {"command-r", {R{R"(\p{N})", kGpt2Regex}}},
      {"smollm", {R{R"(\p{N})", kGpt2Regex}}},
      {"codeshell", {R{R"(\p{N})", kGpt2Regex}}},
      {"exaone", {R{R"(\p{N})", kGpt2Regex}}},
      {"minerva-7b", {R{R"(\p{N})", kGpt2Regex}}},
      // Qwen2's tokenizer.json normalizes to NFC before splitting (llama.cpp skips this).
      {"qwen2", {R{kQwen2Regex}, Normalization::kNfc}},
      {"deepseek-r1-qwen", {R{kQwen2Regex}, Normalization::kNfc}},
      {"stablelm2", {R{kQwen2Regex}}},
      {"megrez", {R{kQwen2Regex}}},
      {"hunyuan", {R{kQwen2Regex}}},
      {"gpt-4o", {R{kGpt4oRegex}}},
      {"llama4", {R{kGpt4oRegex}}},
      {"tekken", {R{kTekkenRegex}, Normalization::kNone, true, true}},
      {"poro-chat", {R{kBloomRegex}}},
      {"bloom", {R{kBloomRegex}}},
      {"gpt3-finnish", {R{kBloomRegex}}},
      {"viking", {R{kBloomRegex, R"(\p{N})"}}},
      {"seed-coder", {R{kSeedCoderRegex}}},
      {"bailingmoe", {R{kBailingRegex}}},
      {"bailingmoe2", {R{kBailingRegex}}},
      {"llada-moe", {R{kBailingRegex}}},
  };
  const auto it = kTable->find(pre);
  return it == kTable->end() ? nullptr : &it->second;
}

// Texts of tokens that end a turn in the models llama.cpp knows (its EOG heuristics).
constexpr std::array<std::string_view, 16> kEndOfGenerationTexts = {
    "<|eot_id|>",  "<|im_end|>", "<|end|>", "<end_of_turn>",   "<|endoftext|>",
    "<|eom_id|>",  "<EOT>",      "_<EOT>",  "<|end_of_text|>", "<｜end▁of▁sentence｜>",
    "<|return|>",  "<|call|>",   "[EOT]",   "[EOS]",           "<end_of_utterance>",
    "<|fim_pad|>",
};

// Reads an optional token id; absent, negative or out-of-range values give -1 (converters write
// 0xFFFFFFFF for "none").
Result<int32_t> ReadTokenId(const GgufFile& file, std::string_view key, int32_t fallback,
                            size_t n_tokens) {
  ASSIGN_OR_RETURN(const int64_t id, file.GetIntegerOr<int64_t>(key, fallback));
  if (id < 0 || static_cast<uint64_t>(id) >= n_tokens) return -1;
  return static_cast<int32_t>(id);
}

std::string Lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Status ApplyPreTokenizerType(std::string_view pre, VocabData& vocab) {
  const PreTokenizerSpec* spec = FindPreTokenizer(pre.empty() ? "default" : pre);
  if (spec == nullptr) {
    return ErrorStatus("unknown pre-tokenizer type '" + std::string(pre) +
                       "' (tokenizer.ggml.pre); its splitting rules are not known, so its text "
                       "would be tokenized wrongly");
  }
  vocab.split_regexes.assign(spec->regexes.begin(), spec->regexes.end());
  vocab.normalization = spec->normalization;
  vocab.ignore_merges = spec->ignore_merges;
  vocab.add_bos = spec->add_bos;
  return Status::Ok();
}

Result<VocabData> ReadGgufVocab(const GgufFile& file) {
  VocabData vocab;
  const std::string& name = file.name();
  ASSIGN_OR_RETURN(const std::string_view model, file.GetString("tokenizer.ggml.model"));
  if (model == "llama") {
    vocab.model = TokenizerModel::kSpm;
  } else if (model == "gpt2") {
    vocab.model = TokenizerModel::kBpe;
  } else {
    return ErrorStatus(name + ": tokenizer.ggml.model '" + std::string(model) +
                       "' is not supported (supported: 'llama' SentencePiece-style, 'gpt2' "
                       "byte-level BPE)");
  }
  if (file.Has("tokenizer.ggml.pre")) {
    ASSIGN_OR_RETURN(const std::string_view pre, file.GetString("tokenizer.ggml.pre"));
    vocab.pre = std::string(pre);
  }

  ASSIGN_OR_RETURN(const auto tokens, file.GetStringArray("tokenizer.ggml.tokens"));
  const size_t n = tokens.size();
  if (n == 0 || n > kMaxVocabSize) {
    return ErrorStatus(name + ": tokenizer.ggml.tokens has " + std::to_string(n) +
                       " tokens, expected 1.." + std::to_string(kMaxVocabSize));
  }
  vocab.tokens.assign(tokens.begin(), tokens.end());

  if (file.Has("tokenizer.ggml.scores")) {
    ASSIGN_OR_RETURN(const GgufValue* scores, file.GetArray("tokenizer.ggml.scores"));
    if (scores->size() < n) {
      return ErrorStatus(name + ": tokenizer.ggml.scores has " + std::to_string(scores->size()) +
                         " elements, expected " + std::to_string(n));
    }
    if (scores->element_type() == GgufType::kF32) {
      ASSIGN_OR_RETURN(vocab.scores, file.GetF32Array("tokenizer.ggml.scores"));
    } else {
      ASSIGN_OR_RETURN(const auto ints, file.GetIntegerArray("tokenizer.ggml.scores"));
      vocab.scores.assign(ints.begin(), ints.end());
    }
    vocab.scores.resize(n);
  }

  vocab.types.assign(n, TokenType::kNormal);
  if (file.Has("tokenizer.ggml.token_type")) {
    ASSIGN_OR_RETURN(const auto types, file.GetIntegerArray("tokenizer.ggml.token_type"));
    if (types.size() < n) {
      return ErrorStatus(name + ": tokenizer.ggml.token_type has " + std::to_string(types.size()) +
                         " elements, expected " + std::to_string(n));
    }
    for (size_t i = 0; i < n; ++i) {
      const int64_t t = types[i];
      vocab.types[i] = (t >= 0 && t <= 6) ? static_cast<TokenType>(t) : TokenType::kUndefined;
    }
  }

  if (vocab.model == TokenizerModel::kBpe) {
    ASSIGN_OR_RETURN(const auto merges, file.GetStringArray("tokenizer.ggml.merges"));
    vocab.merges.assign(merges.begin(), merges.end());
    RETURN_IF_ERROR(ApplyPreTokenizerType(vocab.pre, vocab).WithContext(name));
  } else {
    vocab.add_bos = true;
    vocab.add_space_prefix = true;
  }

  // Special ids; SentencePiece vocabularies have <unk>, <s>, </s> at 0, 1, 2 by convention.
  const bool spm = vocab.model == TokenizerModel::kSpm;
  ASSIGN_OR_RETURN(vocab.bos_id, ReadTokenId(file, "tokenizer.ggml.bos_token_id", spm ? 1 : -1, n));
  ASSIGN_OR_RETURN(vocab.eos_id, ReadTokenId(file, "tokenizer.ggml.eos_token_id", spm ? 2 : -1, n));
  ASSIGN_OR_RETURN(vocab.unk_id,
                   ReadTokenId(file, "tokenizer.ggml.unknown_token_id", spm ? 0 : -1, n));
  ASSIGN_OR_RETURN(vocab.eot_id, ReadTokenId(file, "tokenizer.ggml.eot_token_id", -1, n));
  ASSIGN_OR_RETURN(vocab.eom_id, ReadTokenId(file, "tokenizer.ggml.eom_token_id", -1, n));
  ASSIGN_OR_RETURN(vocab.pad_id, ReadTokenId(file, "tokenizer.ggml.padding_token_id", -1, n));
  ASSIGN_OR_RETURN(vocab.add_bos, file.GetBoolOr("tokenizer.ggml.add_bos_token", vocab.add_bos));
  ASSIGN_OR_RETURN(vocab.add_eos, file.GetBoolOr("tokenizer.ggml.add_eos_token", vocab.add_eos));
  ASSIGN_OR_RETURN(vocab.add_space_prefix,
                   file.GetBoolOr("tokenizer.ggml.add_space_prefix", vocab.add_space_prefix));
  if (vocab.bos_id < 0) vocab.add_bos = false;
  if (vocab.eos_id < 0) vocab.add_eos = false;

  // End of generation: the declared ids and the known end-of-turn texts. Those texts are made
  // control tokens (as llama.cpp does) so that they are skipped with the special tokens.
  for (int32_t id : {vocab.eos_id, vocab.eot_id, vocab.eom_id}) {
    if (id >= 0) vocab.eog_ids.push_back(id);
  }
  for (size_t i = 0; i < n; ++i) {
    const std::string& text = vocab.tokens[i];
    if (std::find(kEndOfGenerationTexts.begin(), kEndOfGenerationTexts.end(), text) ==
        kEndOfGenerationTexts.end()) {
      continue;
    }
    vocab.eog_ids.push_back(static_cast<int32_t>(i));
    if (vocab.types[i] != TokenType::kControl) vocab.types[i] = TokenType::kControl;
    if (vocab.eot_id < 0 && text != "<|endoftext|>" && text != "<|fim_pad|>") {
      vocab.eot_id = static_cast<int32_t>(i);
    }
  }
  std::sort(vocab.eog_ids.begin(), vocab.eog_ids.end());
  vocab.eog_ids.erase(std::unique(vocab.eog_ids.begin(), vocab.eog_ids.end()), vocab.eog_ids.end());

  // GGUF has no per-token lstrip/rstrip; Phi-3's special tokens swallow the whitespace after
  // them (its tokenizer.json says rstrip), which llama.cpp recognises by the model name.
  if (file.Has("general.name")) {
    ASSIGN_OR_RETURN(const std::string_view model_name, file.GetString("general.name"));
    const std::string lower = Lowercase(model_name);
    if (lower.find("phi-3") != std::string::npos || lower.find("phi3") != std::string::npos) {
      for (size_t i = 0; i < n; ++i) {
        const std::string& text = vocab.tokens[i];
        const bool special = vocab.types[i] == TokenType::kControl ||
                             vocab.types[i] == TokenType::kUserDefined ||
                             vocab.types[i] == TokenType::kUnknown;
        if (!special || text == "<unk>" || text == "<s>" || text == "<|endoftext|>") continue;
        vocab.added_token_flags.push_back({static_cast<int32_t>(i), false, true});
      }
    }
  }
  return vocab;
}

}  // namespace autarky
