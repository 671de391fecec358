// Model references for `autarky pull` and `-m`: the REF grammar, built-in aliases, and the
// choice of files among a Hugging Face repository's siblings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/status.h"

namespace autarky::hub {

// A parsed REF. Exactly one of `quant` / `file` may be set; neither means "pick a default".
//   owner/repo             Q4_K_M GGUF if present, else the only GGUF, else the safetensors set
//   owner/repo:Q8_0        the GGUF (or shard set) of that quantization (case-insensitive)
//   owner/repo/dir/f.gguf  that file (every part when it is one shard of a split set)
//   any of these + @rev    a branch, tag or commit instead of "main"
//   deepseek-r1:1.5b       a built-in alias (AliasTable) for one of the forms above
struct ModelRef {
  std::string owner;
  std::string repo;
  std::string revision = "main";
  std::string quant;  // upper case as requested, e.g. "Q4_K_M"
  std::string file;   // path inside the repository
  std::string alias;  // the alias it came from, if any

  std::string RepoId() const { return owner + "/" + repo; }
  // The canonical spelling ("owner/repo:Q4_K_M", "owner/repo/f.gguf@v1"): the cache's name.
  std::string Canonical() const;
};

struct Alias {
  const char* name;  // "deepseek-r1:1.5b"
  const char* ref;   // "unsloth/DeepSeek-R1-Distill-Qwen-1.5B-GGUF:Q4_K_M"
};
// The built-in aliases (a fixed table; names are lower case).
const std::vector<Alias>& AliasTable();

// Parses a REF or alias; errors name the offending part. Every name that becomes a path in the
// cache (owner, repo, revision, file components) is checked: no "..", no absolute paths, no
// control characters or backslashes.
Result<ModelRef> ParseRef(const std::string& text);

// True when `text` has the shape of a REF or alias rather than a local path (so that a missing
// local file is reported as such, not as a failed download).
bool LooksLikeRef(const std::string& text);

// A path inside a repository as the hub lists it ("dir/name.gguf"): safe to join under a cache
// directory (relative, no "." or ".." components, no empty components, printable ASCII only).
bool IsSafeRepoPath(const std::string& path);

// One file of a repository listing.
struct RepoFile {
  std::string name;     // rfilename
  int64_t size = -1;    // bytes; -1 when the listing gave none
  std::string sha256;   // lower-case hex from the LFS metadata; empty for non-LFS files
  std::string blob_id;  // git blob SHA-1 (hex) of non-LFS files; empty when unknown
};

enum class SelectionKind { kGguf, kSafetensors };

struct Selection {
  SelectionKind kind = SelectionKind::kGguf;
  std::vector<RepoFile> files;  // in download order (shard 1 first)
  std::string primary;          // the file to open (first shard); empty for a safetensors set
  std::string quant;            // the quantization chosen by name, if any (upper case)
};

// Chooses what to download for `ref` among `siblings`. Errors list what the repository has
// (its quantizations) so that the user can pick one.
Result<Selection> SelectFiles(const ModelRef& ref, const std::vector<RepoFile>& siblings);

// The quantization a GGUF file name ends with ("...-Q4_K_M.gguf" -> "Q4_K_M"), upper case;
// empty when the name has no recognizable one.
std::string QuantOfFileName(const std::string& path);

}  // namespace autarky::hub
