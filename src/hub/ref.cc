// REF parsing, the alias table and the choice of files among a repository's siblings.
#include "hub/ref.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "io/gguf_split.h"

namespace autarky::hub {
namespace {

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Hub names (owner, repo, revision, quantization): what huggingface.co allows, and nothing
// that could step out of a cache directory.
bool IsSafeName(const std::string& s, size_t max_len) {
  if (s.empty() || s.size() > max_len || s == "." || s == "..") return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  }
  return true;
}

bool IsGguf(const std::string& name) { return EndsWith(Lower(name), ".gguf"); }

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// GGUF files that are not language models: vision projectors and importance matrices.
bool IsAuxiliaryGguf(const std::string& path) {
  const std::string base = Lower(BaseName(path));
  return base.rfind("mmproj", 0) == 0 || base.find("imatrix") != std::string::npos;
}

bool QuantMatches(const std::string& file_quant, const std::string& wanted) {
  return !file_quant.empty() && (file_quant == wanted || EndsWith(file_quant, "-" + wanted));
}

// Files that belong with a safetensors model folder: weights, index, configs and tokenizer.
bool IsSafetensorsSetFile(const std::string& name) {
  if (name.find('/') != std::string::npos) return false;
  const std::string lower = Lower(name);
  return EndsWith(lower, ".safetensors") || EndsWith(lower, ".json") ||
         lower == "tokenizer.model" || lower == "merges.txt" || lower == "vocab.txt" ||
         EndsWith(lower, ".jinja");
}

// A GGUF "set": one file, or every part of a split model, keyed by the first part's name.
struct GgufSet {
  std::vector<RepoFile> files;
  std::string quant;
};

Result<std::map<std::string, GgufSet>> GroupGgufSets(const std::vector<RepoFile>& siblings) {
  std::map<std::string, GgufSet> sets;
  std::map<std::string, std::map<int, RepoFile>> shards;
  std::map<std::string, int> shard_counts;
  for (const RepoFile& f : siblings) {
    if (!IsGguf(f.name) || IsAuxiliaryGguf(f.name)) continue;
    if (auto shard = ParseGgufSplitName(f.name)) {
      const std::string key = shard->prefix + "#" + std::to_string(shard->count);
      shards[key][shard->index] = f;
      shard_counts[key] = shard->count;
    } else {
      sets[f.name] = GgufSet{{f}, QuantOfFileName(f.name)};
    }
  }
  for (auto& [key, parts] : shards) {
    const int count = shard_counts[key];
    if (static_cast<int>(parts.size()) != count) {
      return ErrorStatus("split GGUF " + parts.begin()->second.name +
                         " is incomplete on the hub: " + std::to_string(parts.size()) + " of " +
                         std::to_string(count) + " parts listed");
    }
    GgufSet set;
    for (auto& [index, file] : parts) set.files.push_back(file);
    set.quant = QuantOfFileName(set.files.front().name);
    sets[set.files.front().name] = std::move(set);
  }
  return sets;
}

std::string ListQuants(const std::map<std::string, GgufSet>& sets) {
  std::set<std::string> quants;
  for (const auto& [name, set] : sets) quants.insert(set.quant.empty() ? name : set.quant);
  std::string out;
  for (const std::string& q : quants) out += (out.empty() ? "" : ", ") + q;
  return out.empty() ? "none" : out;
}

}  // namespace

std::string ModelRef::Canonical() const {
  std::string s = RepoId();
  if (!quant.empty()) s += ":" + quant;
  if (!file.empty()) s += "/" + file;
  if (revision != "main") s += "@" + revision;
  return s;
}

const std::vector<Alias>& AliasTable() {
  // GGUF quantizations published on Hugging Face; Q4_K_M is the usual size/quality balance.
  static const std::vector<Alias> kAliases = {
      {"deepseek-r1:1.5b", "unsloth/DeepSeek-R1-Distill-Qwen-1.5B-GGUF:Q4_K_M"},
      {"deepseek-r1:7b", "unsloth/DeepSeek-R1-Distill-Qwen-7B-GGUF:Q4_K_M"},
      {"deepseek-r1:8b", "unsloth/DeepSeek-R1-Distill-Llama-8B-GGUF:Q4_K_M"},
      {"deepseek-r1:14b", "unsloth/DeepSeek-R1-Distill-Qwen-14B-GGUF:Q4_K_M"},
      {"deepseek-r1:32b", "unsloth/DeepSeek-R1-Distill-Qwen-32B-GGUF:Q4_K_M"},
      {"deepseek-r1:70b", "unsloth/DeepSeek-R1-Distill-Llama-70B-GGUF:Q4_K_M"},
      {"qwen2.5:0.5b", "Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"},
      {"qwen2.5:1.5b", "Qwen/Qwen2.5-1.5B-Instruct-GGUF:Q4_K_M"},
      {"qwen2.5:3b", "Qwen/Qwen2.5-3B-Instruct-GGUF:Q4_K_M"},
      {"qwen2.5:7b", "Qwen/Qwen2.5-7B-Instruct-GGUF:Q4_K_M"},
      {"qwen3:0.6b", "unsloth/Qwen3-0.6B-GGUF:Q4_K_M"},
      {"qwen3:1.7b", "unsloth/Qwen3-1.7B-GGUF:Q4_K_M"},
      {"qwen3:4b", "unsloth/Qwen3-4B-GGUF:Q4_K_M"},
      {"qwen3:8b", "unsloth/Qwen3-8B-GGUF:Q4_K_M"},
      {"llama3.2:1b", "bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M"},
      {"llama3.2:3b", "bartowski/Llama-3.2-3B-Instruct-GGUF:Q4_K_M"},
  };
  return kAliases;
}

bool IsSafeRepoPath(const std::string& path) {
  if (path.empty() || path.size() > 1024 || path.front() == '/' || path.back() == '/') return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x7f || c == '\\') return false;
    }
    start = end + 1;
  }
  return true;
}

std::string QuantOfFileName(const std::string& path) {
  std::string stem = BaseName(path);
  if (auto shard = ParseGgufSplitName(stem)) {
    stem = shard->prefix;
  } else if (EndsWith(Lower(stem), ".gguf")) {
    stem.resize(stem.size() - 5);
  }
  stem = Upper(stem);
  const size_t sep = stem.find_last_of("-.");
  std::string token = sep == std::string::npos ? stem : stem.substr(sep + 1);
  // Quantization names: Q4_K_M, Q8_0, IQ4_XS, TQ1_0, F16, BF16, F32 (a letter prefix and a digit).
  const bool looks_like_quant =
      (token.rfind("Q", 0) == 0 || token.rfind("IQ", 0) == 0 || token.rfind("TQ", 0) == 0 ||
       token == "F16" || token == "BF16" || token == "F32") &&
      std::any_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!looks_like_quant) return "";
  // Unsloth's dynamic quantizations: "...-UD-Q4_K_XL".
  if (sep != std::string::npos && sep >= 3 && stem.compare(sep - 3, 4, "-UD-") == 0) {
    token = "UD-" + token;
  }
  return token;
}

bool LooksLikeRef(const std::string& text) {
  const std::string lower = Lower(text);
  for (const Alias& alias : AliasTable()) {
    if (lower == alias.name) return true;
  }
  // owner/repo... with no leading '.', '/' or '~' and no file system look (a GGUF path that
  // does not exist locally but has the owner/repo shape is still tried on the hub).
  if (text.empty() || text[0] == '.' || text[0] == '/' || text[0] == '~') return false;
  return text.find('/') != std::string::npos ||
         (text.find(':') != std::string::npos && !IsGguf(text));
}

Result<ModelRef> ParseRef(const std::string& text) {
  ModelRef ref;
  std::string body = text;
  const std::string lower = Lower(text);
  for (const Alias& alias : AliasTable()) {
    if (lower == alias.name) {
      auto resolved = ParseRef(alias.ref);
      if (!resolved.ok()) return resolved.status();  // a bad table entry: tests catch it
      resolved->alias = alias.name;
      return resolved;
    }
  }
  const size_t at = body.rfind('@');
  if (at != std::string::npos) {
    ref.revision = body.substr(at + 1);
    body.resize(at);
    if (!IsSafeName(ref.revision, 128)) {
      return ErrorStatus("bad revision '" + ref.revision + "' in '" + text +
                         "' (letters, digits, '-', '_', '.')");
    }
  }
  const size_t slash = body.find('/');
  if (slash == std::string::npos) {
    std::string names;
    for (const Alias& alias : AliasTable())
      names += std::string(names.empty() ? "" : ", ") + alias.name;
    return ErrorStatus("'" + text +
                       "' is neither owner/repo[:QUANT], owner/repo/FILE nor a known " + "alias (" +
                       names + ")");
  }
  ref.owner = body.substr(0, slash);
  std::string rest = body.substr(slash + 1);
  const size_t slash2 = rest.find('/');
  if (slash2 != std::string::npos) {
    ref.file = rest.substr(slash2 + 1);
    rest.resize(slash2);
    if (!IsSafeRepoPath(ref.file)) {
      return ErrorStatus("bad file path '" + ref.file + "' in '" + text + "'");
    }
  }
  const size_t colon = rest.find(':');
  if (colon != std::string::npos) {
    ref.quant = Upper(rest.substr(colon + 1));
    rest.resize(colon);
    if (!ref.file.empty()) {
      return ErrorStatus("'" + text + "': give either :QUANT or a file, not both");
    }
    if (!IsSafeName(ref.quant, 64)) {
      return ErrorStatus("bad quantization '" + ref.quant + "' in '" + text + "'");
    }
  }
  ref.repo = rest;
  if (!IsSafeName(ref.owner, 96))
    return ErrorStatus("bad owner '" + ref.owner + "' in '" + text + "'");
  if (!IsSafeName(ref.repo, 96))
    return ErrorStatus("bad repository '" + ref.repo + "' in '" + text + "'");
  return ref;
}

Result<Selection> SelectFiles(const ModelRef& ref, const std::vector<RepoFile>& siblings) {
  Selection selection;
  const std::string where = " in " + ref.RepoId() + "@" + ref.revision;
  if (!ref.file.empty()) {
    auto it = std::find_if(siblings.begin(), siblings.end(),
                           [&](const RepoFile& f) { return f.name == ref.file; });
    if (it == siblings.end()) {
      return ErrorStatus("no file '" + ref.file + "'" + where);
    }
    selection.primary = it->name;
    selection.files = {*it};
    if (auto shard = ParseGgufSplitName(it->name)) {
      // One part of a split model: all parts, first part opened.
      ASSIGN_OR_RETURN(auto sets, GroupGgufSets(siblings));
      for (const auto& [first, set] : sets) {
        auto part = std::find_if(set.files.begin(), set.files.end(),
                                 [&](const RepoFile& f) { return f.name == it->name; });
        if (part != set.files.end()) {
          selection.files = set.files;
          selection.primary = first;
        }
      }
    }
    selection.kind = IsGguf(selection.primary) ? SelectionKind::kGguf : SelectionKind::kSafetensors;
    return selection;
  }
  ASSIGN_OR_RETURN(auto sets, GroupGgufSets(siblings));
  const std::string wanted = ref.quant.empty() ? "Q4_K_M" : ref.quant;
  std::vector<const std::string*> matches;
  for (const auto& [first, set] : sets) {
    if (QuantMatches(set.quant, wanted)) matches.push_back(&first);
  }
  // Several files of the same quantization (e.g. "Q4_K_M" and "UD-Q4_K_M"): an exact name match
  // wins; otherwise the user must name the file.
  if (matches.size() > 1) {
    std::vector<const std::string*> exact;
    for (const std::string* m : matches) {
      if (sets.at(*m).quant == wanted) exact.push_back(m);
    }
    if (exact.size() == 1) matches = exact;
  }
  if (matches.size() > 1) {
    std::string names;
    for (const std::string* m : matches) names += (names.empty() ? "" : ", ") + *m;
    return ErrorStatus("several " + wanted + " files" + where + " (" + names + "): name one as " +
                       ref.RepoId() + "/FILE");
  }
  if (matches.size() == 1) {
    const GgufSet& set = sets.at(*matches[0]);
    selection.files = set.files;
    selection.primary = *matches[0];
    selection.quant = wanted;
    return selection;
  }
  if (!ref.quant.empty()) {
    return ErrorStatus("no " + ref.quant + " GGUF" + where + "; it has: " + ListQuants(sets));
  }
  if (sets.size() == 1) {
    selection.files = sets.begin()->second.files;
    selection.primary = sets.begin()->first;
    return selection;
  }
  bool has_weights = false;
  for (const RepoFile& f : siblings) {
    if (IsSafetensorsSetFile(f.name)) {
      selection.files.push_back(f);
      has_weights |= EndsWith(Lower(f.name), ".safetensors");
    }
  }
  if (has_weights) {
    selection.kind = SelectionKind::kSafetensors;
    return selection;
  }
  if (sets.empty()) return ErrorStatus("no GGUF or safetensors model" + where);
  return ErrorStatus("no Q4_K_M GGUF" + where + "; choose one with " + ref.RepoId() +
                     ":QUANT (it has: " + ListQuants(sets) + ")");
}

}  // namespace autarky::hub
