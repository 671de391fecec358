// tokenizer.json (+ tokenizer_config.json) -> tokenizer.ggml.* keys (see hf_tokenizer.h).
#include "io/hf_tokenizer.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/hf_json.h"

namespace autarky {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// llama.cpp's token types (tokenizer.ggml.token_type).
constexpr int32_t kTokenNormal = 1;
constexpr int32_t kTokenUnknown = 2;
constexpr int32_t kTokenControl = 3;
constexpr int32_t kTokenUserDefined = 4;
constexpr int32_t kTokenUnused = 5;
constexpr int32_t kTokenByte = 6;

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// Field access that never throws: a missing field or one of another JSON type reads as absent.
std::string StringField(const Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return std::string();
  return j[key].get<std::string>();
}
std::optional<bool> BoolField(const Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_boolean()) return std::nullopt;
  return j[key].get<bool>();
}

// The steps of a normalizer, pre-tokenizer or decoder: the members of a Sequence (whose list is
// `list_key`), the object itself, or nothing for null.
std::vector<const Json*> Steps(const Json& j, const char* list_key) {
  std::vector<const Json*> out;
  if (!j.is_object()) return out;
  if (StringField(j, "type") == "Sequence" && j.contains(list_key) && j[list_key].is_array()) {
    for (const Json& step : j[list_key]) out.push_back(&step);
  } else {
    out.push_back(&j);
  }
  return out;
}

// A Replace step (normalizer or decoder) of the literal `from` by `to`.
bool IsReplace(const Json& step, std::string_view from, std::string_view to) {
  return StringField(step, "type") == "Replace" && step.contains("pattern") &&
         StringField(step["pattern"], "String") == from && StringField(step, "content") == to;
}

// A top-level section of tokenizer.json, or null.
const Json& Section(const Json& tok, const char* key) {
  static const Json kNull;
  return tok.contains(key) ? tok[key] : kNull;
}

// The content of a special token entry in tokenizer_config.json: a string or an AddedToken.
std::optional<std::string> TokenContent(const Json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) {
    return j["content"].get<std::string>();
  }
  return std::nullopt;
}

Result<std::string> DetectPre(const Json& tok, const std::string& name) {
  // llama.cpp's converter identifies the pre-tokenizer by hashing the token ids of a test text;
  // the pre-tokenizer section itself is what decides them, so it is matched here instead.
  static constexpr std::string_view kQwen2 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static constexpr std::string_view kLlama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static constexpr std::string_view kDeepseekV3[] = {
      R"(\p{N}{1,3})",
      "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
      "[!\"#$%&'()*+,\\-./"
      ":;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
      " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
  };
  // DeepSeek LLM and V2/V2-Lite (llama.cpp's "deepseek-llm"): five Splits, then every digit on
  // its own (llama.cpp's \p{N}+ gives the same tokens: the vocabulary has no multi-digit merges).
  // The letter class lists the cased letters; the six that Unicode normalization (NFC) would
  // replace are escapes, since a normalized copy changes the class (three ranges end in them).
  static constexpr std::string_view kDeepseekLlm[] = {
      "[\r\n]",
      R"(\s?[)"
      R"(A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-)"
      "\u1f7d"
      R"(ᾀ-ᾴᾶ-ᾼ)"
      "\u1fbe"
      R"(ῂ-ῄῆ-ῌῐ-)"
      "\u1fd3"
      R"(ῖ-)"
      "\u1fdb"
      R"(ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ)"
      "\u2126"
      R"(ℨ)"
      "\u212a"
      R"(-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃)"
      R"(]+)",
      R"(\s?[!-/:-~！-／：-～‘-‟　-。]+)",
      R"(\s+$)",
      "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+",
      "<Digits individual>",
  };
  const Json& pre = Section(tok, "pre_tokenizer");
  std::vector<std::string> regexes;
  bool byte_level_regex = false;
  auto visit = [&](const Json& p) {
    if (!p.is_object() || !p.contains("type") || !p["type"].is_string()) return;
    const std::string type = p["type"].get<std::string>();
    if (type == "Split" && p.contains("pattern") && p["pattern"].is_object() &&
        p["pattern"].contains("Regex") && p["pattern"]["Regex"].is_string()) {
      regexes.push_back(p["pattern"]["Regex"].get<std::string>());
    } else if (type == "ByteLevel") {
      byte_level_regex =
          !p.contains("use_regex") || !p["use_regex"].is_boolean() || p["use_regex"].get<bool>();
    } else if (type == "Digits") {
      regexes.push_back(BoolField(p, "individual_digits").value_or(false) ? "<Digits individual>"
                                                                          : "<Digits>");
    } else {
      regexes.push_back("<" + type + ">");
    }
  };
  if (pre.is_object() && pre.value("type", "") == "Sequence" && pre.contains("pretokenizers") &&
      pre["pretokenizers"].is_array()) {
    for (const Json& p : pre["pretokenizers"]) visit(p);
  } else {
    visit(pre);
  }
  // The qwen2 rules include NFC (Qwen2's normalizer); DeepSeek-R1-Distill-Qwen's tokenizer.json
  // has the same split without a normalizer, and llama.cpp gives it the same rules.
  if (regexes.size() == 1 && regexes[0] == kQwen2 && !byte_level_regex) return std::string("qwen2");
  if (regexes.size() == 1 && regexes[0] == kLlama3 && !byte_level_regex)
    return std::string("llama-bpe");
  if (regexes.size() == 3 && regexes[0] == kDeepseekV3[0] && regexes[1] == kDeepseekV3[1] &&
      regexes[2] == kDeepseekV3[2] && !byte_level_regex) {
    return std::string("deepseek-v3");
  }
  if (std::equal(regexes.begin(), regexes.end(), std::begin(kDeepseekLlm),
                 std::end(kDeepseekLlm)) &&
      !byte_level_regex) {
    return std::string("deepseek-llm");
  }
  if (regexes.empty() && byte_level_regex) return std::string("gpt-2");
  return ErrorStatus(name +
                     ": the pre-tokenizer is not one autarky knows (byte-level BPE with "
                     "the GPT-2, Llama 3, Qwen2, DeepSeek LLM/V2 or DeepSeek V3 rules)");
}

// How a SentencePiece-style tokenizer.json (BPE with byte_fallback) turns text into pieces.
struct SpmShape {
  bool add_space_prefix = false;
  bool split_at_spaces = false;  // Metaspace with split: each "▁word" is merged on its own
};

// Recognises the two forms Hugging Face's converters write for SentencePiece BPE models: Llama 2's
// normalizer Prepend("▁") + Replace(" ", "▁") without a pre-tokenizer, or a Metaspace
// pre-tokenizer (newer files); the decoder must undo it (Replace("▁", " ") or Metaspace, and
// ByteFallback). Anything else would be encoded differently than Hugging Face does.
Result<SpmShape> DetectSentencePiece(const Json& tok, const std::string& name) {
  SpmShape shape;
  bool prepend = false;
  bool replace = false;
  for (const Json* step : Steps(Section(tok, "normalizer"), "normalizers")) {
    if (StringField(*step, "type") == "Prepend" && StringField(*step, "prepend") == kSpmSpace) {
      prepend = true;
    } else if (IsReplace(*step, " ", kSpmSpace)) {
      replace = true;
    } else {
      return ErrorStatus(name + ": normalizer step '" + StringField(*step, "type") +
                         "' is not SentencePiece-style (expected Prepend(\"\u2581\") and "
                         "Replace(\" \", \"\u2581\"))");
    }
  }
  bool metaspace = false;
  for (const Json* step : Steps(Section(tok, "pre_tokenizer"), "pretokenizers")) {
    if (StringField(*step, "type") != "Metaspace" ||
        StringField(*step, "replacement") != kSpmSpace) {
      return ErrorStatus(name + ": pre-tokenizer step '" + StringField(*step, "type") +
                         "' is not SentencePiece-style (expected Metaspace(\"\u2581\"))");
    }
    metaspace = true;
    // prepend_scheme (newer files) or add_prefix_space (older ones); "first" prefixes the text
    // once, as the space prefix does.
    const std::string scheme = StringField(*step, "prepend_scheme");
    if (!scheme.empty()) {
      if (scheme != "always" && scheme != "first" && scheme != "never") {
        return ErrorStatus(name + ": Metaspace prepend_scheme '" + scheme + "' is unknown");
      }
      shape.add_space_prefix = scheme != "never";
    } else {
      shape.add_space_prefix = BoolField(*step, "add_prefix_space").value_or(true);
    }
    shape.split_at_spaces = BoolField(*step, "split").value_or(true);
  }
  if (metaspace == replace || (metaspace && prepend)) {
    return ErrorStatus(name +
                       ": SentencePiece-style BPE needs either the normalizer Replace(\" \", "
                       "\"\u2581\") or the pre-tokenizer Metaspace, not both or neither");
  }
  if (replace) shape.add_space_prefix = prepend;
  bool byte_fallback = false;
  bool spaces = false;
  for (const Json* step : Steps(Section(tok, "decoder"), "decoders")) {
    const std::string type = StringField(*step, "type");
    if (type == "ByteFallback") {
      byte_fallback = true;
    } else if (IsReplace(*step, kSpmSpace, " ") || type == "Metaspace") {
      spaces = true;
    } else if (type != "Fuse" && type != "Strip") {
      return ErrorStatus(name + ": decoder step '" + type + "' is not SentencePiece-style");
    }
  }
  if (!byte_fallback || !spaces) {
    return ErrorStatus(name +
                       ": the decoder of a SentencePiece-style BPE must have ByteFallback and "
                       "turn \"\u2581\" back into spaces");
  }
  const Json& model = tok["model"];
  for (const char* key : {"dropout", "continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && !model[key].is_null()) {
      return ErrorStatus(name + ": model." + key + " is not supported for SentencePiece-style BPE");
    }
  }
  if (BoolField(model, "ignore_merges").value_or(false)) {
    return ErrorStatus(name + ": model.ignore_merges is not supported for SentencePiece-style BPE");
  }
  return shape;
}

// The number of bytes of the UTF-8 character that starts with `lead` (1 for a stray byte).
size_t Utf8Length(uint8_t lead) {
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

// SentencePiece scores for a BPE vocabulary, so that the SPM encoder (which merges the adjacent
// pair whose result has the highest score) merges in the order of the merge list: a token made
// by merges scores -(rank of its first merge); other pieces score below every merge result.
// That order is only the same when (a) the merges that make one token are consecutive in the
// list and (b) every split of a token into two pieces the encoder can hold is a listed merge
// (the SPM encoder merges any pair whose text is a token). Hugging Face's converter writes
// SentencePiece models that way; other lists are refused rather than encoded differently.
Status SpmScoresFromMerges(const std::string& name, const std::vector<std::string>& tokens,
                           const std::vector<int32_t>& types,
                           const std::vector<std::pair<std::string, std::string>>& merges,
                           std::vector<float>* scores) {
  std::unordered_map<std::string_view, int64_t> ids;  // the pieces the SPM encoder can make
  std::unordered_map<std::string_view, int64_t> all_ids;
  for (size_t i = 0; i < tokens.size(); ++i) {
    all_ids.emplace(tokens[i], i);
    if (types[i] == kTokenNormal || types[i] == kTokenUserDefined) ids.emplace(tokens[i], i);
  }
  const auto n_merges = static_cast<int64_t>(merges.size());
  std::vector<int64_t> first_rank(tokens.size(), -1);
  std::set<std::pair<std::string_view, std::string_view>> merge_set;
  int64_t previous_first = -1;
  for (int64_t rank = 0; rank < n_merges; ++rank) {
    const auto& [left, right] = merges[rank];
    const std::string text = left + right;
    if (!all_ids.contains(text)) {
      return ErrorStatus(name + ": merge " + std::to_string(rank) + " ('" + left + "', '" + right +
                         "') makes no token of the vocabulary");
    }
    merge_set.emplace(left, right);
    // Merges into control or byte tokens are never made by the SPM encoder (nor met in text:
    // special tokens are split off first), so they do not take part in the order.
    const auto it = ids.find(text);
    if (it == ids.end()) continue;
    int64_t& first = first_rank[it->second];
    if (first < 0) first = rank;
    if (first < previous_first) {
      return ErrorStatus(name + ": the merges that make '" + text +
                         "' are not consecutive (merge " + std::to_string(rank) +
                         "); SentencePiece scores cannot reproduce that order");
    }
    previous_first = first;
  }
  scores->assign(tokens.size(), 0.0f);
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (types[i] != kTokenNormal || tokens[i].empty()) continue;
    const std::string_view text = tokens[i];
    (*scores)[i] = static_cast<float>(first_rank[i] >= 0 ? -first_rank[i] : -n_merges);
    for (size_t cut = Utf8Length(static_cast<uint8_t>(text[0])); cut < text.size();
         cut += Utf8Length(static_cast<uint8_t>(text[cut]))) {
      const std::string_view left = text.substr(0, cut);
      const std::string_view right = text.substr(cut);
      // A single character is a symbol for the encoder whether or not it is a token.
      const bool left_symbol = ids.contains(left) || Utf8Length(left[0]) >= left.size();
      const bool right_symbol = ids.contains(right) || Utf8Length(right[0]) >= right.size();
      if (left_symbol && right_symbol && !merge_set.contains({left, right})) {
        return ErrorStatus(name + ": token '" + std::string(text) + "' is '" + std::string(left) +
                           "' + '" + std::string(right) +
                           "' but that merge is not listed; the SentencePiece encoder would make "
                           "it where Hugging Face does not");
      }
    }
  }
  return Status::Ok();
}

Status TokenizerToMetadata(const fs::path& dir, const Json& config, int64_t n_vocab_config,
                           GgufWriter& w) {
  const fs::path tok_path = dir / "tokenizer.json";
  const std::string name = tok_path.string();
  ASSIGN_OR_RETURN(const Json tok, ReadHfJson(tok_path));
  if (!tok.contains("model") || StringField(tok["model"], "type") != "BPE" ||
      !tok["model"].contains("vocab") || !tok["model"]["vocab"].is_object()) {
    const std::string type = tok.contains("model") ? StringField(tok["model"], "type") : "";
    return ErrorStatus(name + ": model.type '" + type +
                       "' is not supported (supported: BPE, byte-level or SentencePiece-style "
                       "with byte_fallback)");
  }
  const Json& model = tok["model"];
  // byte_fallback marks the SentencePiece-style BPE (Llama 2, Mistral, TinyLlama): the GGUF
  // "llama" tokenizer with scores instead of merges.
  const bool spm = BoolField(model, "byte_fallback").value_or(false);
  std::string pre;
  SpmShape spm_shape;
  if (spm) {
    ASSIGN_OR_RETURN(spm_shape, DetectSentencePiece(tok, name));
  } else {
    ASSIGN_OR_RETURN(pre, DetectPre(tok, name));
  }
  const std::string unk_token = StringField(model, "unk_token");

  // id -> (text, type); the table is as long as the embedding (llama.cpp pads with [PADn]).
  constexpr int64_t kMaxVocab = int64_t{1} << 24;
  std::map<int64_t, std::pair<std::string, int32_t>> by_id;
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() >= kMaxVocab) {
      return ErrorStatus(name + ": vocab entry '" + it.key() + "' has an invalid id");
    }
    int32_t type = kTokenNormal;
    if (spm && it.key() == unk_token) {
      type = kTokenUnknown;
    } else if (spm && it.key().size() == 6 && it.key().starts_with("<0x") && it.key()[5] == '>' &&
               std::isxdigit(static_cast<unsigned char>(it.key()[3])) &&
               std::isxdigit(static_cast<unsigned char>(it.key()[4]))) {
      type = kTokenByte;
    }
    by_id[it.value().get<int64_t>()] = {it.key(), type};
  }
  std::map<std::string, int64_t> added_ids;
  if (tok.contains("added_tokens") && tok["added_tokens"].is_array()) {
    for (const Json& a : tok["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
          !a.contains("content") || !a["content"].is_string() || a["id"].get<int64_t>() < 0 ||
          a["id"].get<int64_t>() >= kMaxVocab) {
        return ErrorStatus(name + ": an added_tokens entry lacks a valid id or content");
      }
      const bool special = BoolField(a, "special").value_or(false);
      const std::string content = a["content"].get<std::string>();
      int32_t type = special ? kTokenControl : kTokenUserDefined;
      if (spm && content == unk_token) type = kTokenUnknown;
      by_id[a["id"].get<int64_t>()] = {content, type};
      added_ids[content] = a["id"].get<int64_t>();
    }
  }
  const int64_t n_ids = by_id.empty() ? 0 : by_id.rbegin()->first + 1;
  const int64_t n_vocab = std::max(n_ids, n_vocab_config);
  std::vector<std::string> tokens(n_vocab);
  std::vector<int32_t> types(n_vocab, kTokenUnused);
  for (int64_t i = 0; i < n_vocab; ++i) tokens[i] = "[PAD" + std::to_string(i) + "]";
  for (auto& [id, entry] : by_id) {
    tokens[id] = entry.first;
    types[id] = entry.second;
  }
  std::vector<std::string> merges;
  std::vector<std::pair<std::string, std::string>> merge_pairs;  // SentencePiece-style only
  if (model.contains("merges") && model["merges"].is_array()) {
    merges.reserve(model["merges"].size());
    for (const Json& m : model["merges"]) {
      if (m.is_string()) {
        merges.push_back(m.get<std::string>());
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      } else {
        return ErrorStatus(name + ": a merges entry is neither \"a b\" nor [\"a\", \"b\"]");
      }
      if (spm) {
        // SentencePiece pieces hold no spaces ("▁" instead), so the one space divides.
        const size_t space = merges.back().find(' ');
        if (space == std::string::npos || merges.back().find(' ', space + 1) != std::string::npos) {
          return ErrorStatus(name + ": merge '" + merges.back() + "' is not two pieces");
        }
        merge_pairs.emplace_back(merges.back().substr(0, space), merges.back().substr(space + 1));
      }
    }
  }
  if (spm) {
    std::vector<float> scores;
    RETURN_IF_ERROR(SpmScoresFromMerges(name, tokens, types, merge_pairs, &scores));
    if (spm_shape.split_at_spaces) {
      // Hugging Face merges each "▁word" on its own; the SPM encoder would also make tokens
      // with a "▁" inside, so such a vocabulary is refused.
      for (size_t i = 0; i < tokens.size(); ++i) {
        if (types[i] == kTokenNormal && tokens[i].find(kSpmSpace, 1) != std::string::npos) {
          return ErrorStatus(name + ": Metaspace with split and the token '" + tokens[i] +
                             "' (a \"▁\" inside) cannot be encoded as Hugging Face does");
        }
      }
    }
    w.Set("tokenizer.ggml.model", GgufValue::String("llama"));
    w.Set("tokenizer.ggml.tokens", GgufValue::StringArray(tokens));
    w.Set("tokenizer.ggml.scores", GgufValue::Array(scores));
    w.Set("tokenizer.ggml.token_type", GgufValue::Array(types));
    w.Set("tokenizer.ggml.add_space_prefix", GgufValue::Bool(spm_shape.add_space_prefix));
    const auto unk = std::find(tokens.begin(), tokens.end(), unk_token);
    if (!unk_token.empty() && unk != tokens.end()) {
      w.Set("tokenizer.ggml.unknown_token_id",
            GgufValue::U32(static_cast<uint32_t>(unk - tokens.begin())));
    }
  } else {
    w.Set("tokenizer.ggml.model", GgufValue::String("gpt2"));
    w.Set("tokenizer.ggml.pre", GgufValue::String(pre));
    w.Set("tokenizer.ggml.tokens", GgufValue::StringArray(tokens));
    w.Set("tokenizer.ggml.token_type", GgufValue::Array(types));
    w.Set("tokenizer.ggml.merges", GgufValue::StringArray(merges));
  }

  // Special tokens: tokenizer_config.json names them; config.json ids are the fallback.
  Json tc = Json::object();
  if (fs::exists(dir / "tokenizer_config.json")) {
    ASSIGN_OR_RETURN(tc, ReadHfJson(dir / "tokenizer_config.json"));
  }
  auto find_id = [&](const char* key) -> std::optional<int64_t> {
    if (tc.contains(key)) {
      if (auto content = TokenContent(tc[key])) {
        if (auto it = added_ids.find(*content); it != added_ids.end()) return it->second;
        if (model["vocab"].contains(*content) && model["vocab"][*content].is_number_integer()) {
          return model["vocab"][*content].get<int64_t>();
        }
      }
    }
    return std::nullopt;
  };
  auto set_id = [&](const char* gguf_key, std::optional<int64_t> id) {
    if (id && *id >= 0 && *id < n_vocab)
      w.Set(gguf_key, GgufValue::U32(static_cast<uint32_t>(*id)));
  };
  auto config_id = [&](const char* key) -> std::optional<int64_t> {
    if (config.contains(key) && config[key].is_number_integer()) return config[key].get<int64_t>();
    return std::nullopt;
  };
  std::optional<int64_t> bos = find_id("bos_token");
  std::optional<int64_t> eos = find_id("eos_token");
  if (!bos) bos = config_id("bos_token_id");
  if (!eos) eos = config_id("eos_token_id");
  set_id("tokenizer.ggml.bos_token_id", bos);
  set_id("tokenizer.ggml.eos_token_id", eos);
  set_id("tokenizer.ggml.padding_token_id", find_id("pad_token"));
  if (tc.contains("add_bos_token") && tc["add_bos_token"].is_boolean()) {
    w.Set("tokenizer.ggml.add_bos_token", GgufValue::Bool(tc["add_bos_token"].get<bool>()));
  } else if (bos && tok.contains("post_processor") && tok["post_processor"].is_object()) {
    // Llama 3 adds BOS through a TemplateProcessing post-processor instead of a flag.
    const Json& pp = tok["post_processor"];
    auto adds_bos = [&](const Json& t) {
      if (!t.is_object() || t.value("type", "") != "TemplateProcessing" || !t.contains("single") ||
          !t["single"].is_array() || t["single"].empty()) {
        return false;
      }
      const Json& first = t["single"][0];
      return first.is_object() && first.contains("SpecialToken") &&
             first["SpecialToken"].is_object() &&
             first["SpecialToken"].value("id", "") == tokens[*bos];
    };
    bool add = adds_bos(pp);
    if (pp.value("type", "") == "Sequence" && pp.contains("processors") &&
        pp["processors"].is_array()) {
      for (const Json& p : pp["processors"]) add = add || adds_bos(p);
    }
    w.Set("tokenizer.ggml.add_bos_token", GgufValue::Bool(add));
  }
  if (tc.contains("add_eos_token") && tc["add_eos_token"].is_boolean()) {
    w.Set("tokenizer.ggml.add_eos_token", GgufValue::Bool(tc["add_eos_token"].get<bool>()));
  }
  if (tc.contains("chat_template")) {
    const Json& ct = tc["chat_template"];
    if (ct.is_string()) {
      w.Set("tokenizer.chat_template", GgufValue::String(ct.get<std::string>()));
    } else if (ct.is_array()) {
      // Named templates: "default" is the chat template, as in llama.cpp's converter.
      for (const Json& t : ct) {
        if (t.is_object() && t.value("name", "") == "default" && t.contains("template") &&
            t["template"].is_string()) {
          w.Set("tokenizer.chat_template", GgufValue::String(t["template"].get<std::string>()));
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Status HfTokenizerToMetadata(const std::string& dir, const Json& config, int64_t n_vocab_config,
                             GgufWriter& w) {
  return TokenizerToMetadata(fs::path(dir), config, n_vocab_config, w);
}

Result<GgufFile> LoadHfTokenizer(const std::string& dir_name) {
  const fs::path dir(dir_name);
  Json config = Json::object();
  int64_t n_vocab = 0;
  if (fs::exists(dir / "config.json")) {
    ASSIGN_OR_RETURN(config, ReadHfJson(dir / "config.json"));
    ASSIGN_OR_RETURN(n_vocab,
                     HfFields(config, (dir / "config.json").string()).IntOr("vocab_size", 0));
  }
  GgufWriter w;
  RETURN_IF_ERROR(TokenizerToMetadata(dir, config, n_vocab, w));
  w.set_pad_without_tensors(false);
  RETURN_IF_ERROR(w.BeginInMemory());
  RETURN_IF_ERROR(w.Finish());
  return GgufFile::Assemble(dir_name, w.TakeBuffer(), {}, nullptr);
}

bool IsHfTokenizerFolder(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::is_regular_file(fs::path(path) / "tokenizer.json", ec);
}

}  // namespace autarky
