// tokenizer.json (+ tokenizer_config.json) -> tokenizer.ggml.* keys (see hf_tokenizer.h).
#include "io/hf_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "io/hf_json.h"

namespace autarky {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// llama.cpp's token types (tokenizer.ggml.token_type).
constexpr int32_t kTokenNormal = 1;
constexpr int32_t kTokenControl = 3;
constexpr int32_t kTokenUserDefined = 4;
constexpr int32_t kTokenUnused = 5;

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
  const Json& pre = tok.contains("pre_tokenizer") ? tok["pre_tokenizer"] : Json();
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
  if (regexes.empty() && byte_level_regex) return std::string("gpt-2");
  return ErrorStatus(name +
                     ": the pre-tokenizer is not one autarky knows (byte-level BPE with "
                     "the GPT-2, Llama 3, Qwen2 or DeepSeek V3 rules)");
}

Status TokenizerToMetadata(const fs::path& dir, const Json& config, int64_t n_vocab_config,
                           GgufWriter& w) {
  const fs::path tok_path = dir / "tokenizer.json";
  const std::string name = tok_path.string();
  ASSIGN_OR_RETURN(const Json tok, ReadHfJson(tok_path));
  if (!tok.contains("model") || !tok["model"].is_object() ||
      tok["model"].value("type", "") != "BPE" || !tok["model"].contains("vocab") ||
      !tok["model"]["vocab"].is_object()) {
    return ErrorStatus(name + ": only byte-level BPE tokenizers (model.type BPE) are supported");
  }
  const Json& model = tok["model"];
  if (model.value("byte_fallback", false)) {
    return ErrorStatus(name + ": BPE with byte_fallback (SentencePiece-style) is not supported");
  }
  ASSIGN_OR_RETURN(const std::string pre, DetectPre(tok, name));

  // id -> (text, type); the table is as long as the embedding (llama.cpp pads with [PADn]).
  constexpr int64_t kMaxVocab = int64_t{1} << 24;
  std::map<int64_t, std::pair<std::string, int32_t>> by_id;
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() >= kMaxVocab) {
      return ErrorStatus(name + ": vocab entry '" + it.key() + "' has an invalid id");
    }
    by_id[it.value().get<int64_t>()] = {it.key(), kTokenNormal};
  }
  std::map<std::string, int64_t> added_ids;
  if (tok.contains("added_tokens") && tok["added_tokens"].is_array()) {
    for (const Json& a : tok["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
          !a.contains("content") || !a["content"].is_string() || a["id"].get<int64_t>() < 0 ||
          a["id"].get<int64_t>() >= kMaxVocab) {
        return ErrorStatus(name + ": an added_tokens entry lacks a valid id or content");
      }
      const bool special = a.value("special", false);
      const std::string content = a["content"].get<std::string>();
      by_id[a["id"].get<int64_t>()] = {content, special ? kTokenControl : kTokenUserDefined};
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
    }
  }
  w.Set("tokenizer.ggml.model", GgufValue::String("gpt2"));
  w.Set("tokenizer.ggml.pre", GgufValue::String(pre));
  w.Set("tokenizer.ggml.tokens", GgufValue::StringArray(tokens));
  w.Set("tokenizer.ggml.token_type", GgufValue::Array(types));
  w.Set("tokenizer.ggml.merges", GgufValue::StringArray(merges));

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
