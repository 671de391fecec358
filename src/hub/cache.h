// The local model cache under $AUTARKY_HOME (default ~/.cache/autarky):
//   models/{owner}/{repo}/{revision}/{path in repo}        verified files (renamed into place)
//   models/{owner}/{repo}/{revision}/{path in repo}.part   an interrupted download (resumable)
//   manifests/{owner}/{repo}/{revision}/{name}.json        one per pulled model, written last
// A manifest exists only once every file it lists is complete and verified, so the cache never
// offers a half-written model; files shared by two manifests are removed with the last one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hub/ref.h"
#include "util/status.h"

namespace autarky::hub {

struct Manifest {
  std::string name;                  // canonical ref, e.g. "owner/repo:Q4_K_M"
  std::vector<std::string> aliases;  // other spellings that resolved to it ("owner/repo", aliases)
  std::string repo;                  // "owner/repo"
  std::string revision;              // as requested ("main")
  std::string commit;                // the hub's commit sha at pull time (may be empty)
  std::string kind;                  // "gguf" or "safetensors"
  std::string primary;               // file to open ("" for a safetensors folder)
  std::vector<RepoFile> files;
  std::string pulled_at;  // UTC, ISO 8601

  int64_t TotalBytes() const;
  bool Matches(const std::string& ref) const;  // name or one of the aliases
};

std::string ManifestToJson(const Manifest& manifest);
// `origin` names the source in errors (the manifest's path).
Result<Manifest> ManifestFromJson(const std::string& json, const std::string& origin);

class ModelCache {
 public:
  explicit ModelCache(std::string root);
  // $AUTARKY_HOME, else $HOME/.cache/autarky (error when neither is set).
  static Result<ModelCache> FromEnvironment();

  const std::string& root() const { return root_; }
  // The folder holding the files of repo@revision.
  std::string RepoDir(const std::string& repo, const std::string& revision) const;
  // Where the model opens from: the primary file, or the folder of a safetensors set.
  std::string ModelPath(const Manifest& manifest) const;

  // Every complete manifest, sorted by name. Unreadable manifests are skipped with a warning on
  // stderr (a cache damaged by hand must not stop `list`).
  std::vector<Manifest> List() const;
  // The manifest whose name or aliases match `ref` (canonical spelling or an alias).
  std::optional<Manifest> Find(const ModelRef& ref) const;

  // Atomically writes (or replaces) the manifest of `manifest.name`.
  Status Save(const Manifest& manifest) const;
  // Deletes the manifest and every file (and .part) no other manifest uses; empty folders go.
  Status Remove(const Manifest& manifest) const;

 private:
  std::string ManifestPath(const Manifest& manifest) const;
  std::string root_;
};

// Makes `path`'s parent folders (mkdir -p); errors name the folder.
Status MakeParentDirs(const std::string& path);

}  // namespace autarky::hub
