// The model cache: manifests (JSON), listing, lookup and removal.
#include "hub/cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace autarky::hub {
namespace fs = std::filesystem;
namespace {

// The manifest's file name from the part of its name after owner/repo (escaped so that a file
// path inside the repository stays one file name).
std::string ManifestFileName(const std::string& name) {
  auto ref = ParseRef(name);
  if (!ref.ok()) return "";
  if (!ref->quant.empty()) return "quant-" + ref->quant + ".json";
  if (ref->file.empty()) return "folder.json";
  std::string escaped = "file-";
  for (char c : ref->file) {
    if (c == '/') {
      escaped += "%2F";
    } else if (c == '%') {
      escaped += "%25";
    } else {
      escaped += c;
    }
  }
  return escaped + ".json";
}

Status WriteFileAtomically(const std::string& path, const std::string& data) {
  RETURN_IF_ERROR(MakeParentDirs(path));
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrorStatus("cannot create " + tmp + ": " + std::strerror(errno));
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string error = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return ErrorStatus("cannot write " + tmp + ": " + error);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string error = std::strerror(errno);
    ::unlink(tmp.c_str());
    return ErrorStatus("cannot write " + tmp + ": " + error);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string error = std::strerror(errno);
    ::unlink(tmp.c_str());
    return ErrorStatus("cannot rename " + tmp + " to " + path + ": " + error);
  }
  return Status::Ok();
}

// Removes `dir` and its empty parents up to (not including) `stop`.
void RemoveEmptyDirs(fs::path dir, const fs::path& stop) {
  std::error_code ec;
  while (!dir.empty() && dir != stop && dir.string().size() > stop.string().size()) {
    if (!fs::is_directory(dir, ec) || !fs::is_empty(dir, ec)) return;
    fs::remove(dir, ec);
    dir = dir.parent_path();
  }
}

}  // namespace

int64_t Manifest::TotalBytes() const {
  int64_t total = 0;
  for (const RepoFile& f : files) total += std::max<int64_t>(f.size, 0);
  return total;
}

bool Manifest::Matches(const std::string& ref) const {
  return ref == name || std::find(aliases.begin(), aliases.end(), ref) != aliases.end();
}

std::string ManifestToJson(const Manifest& m) {
  nlohmann::json j;
  j["name"] = m.name;
  j["aliases"] = m.aliases;
  j["repo"] = m.repo;
  j["revision"] = m.revision;
  j["commit"] = m.commit;
  j["kind"] = m.kind;
  j["primary"] = m.primary;
  j["pulled_at"] = m.pulled_at;
  j["files"] = nlohmann::json::array();
  for (const RepoFile& f : m.files) {
    j["files"].push_back(
        {{"name", f.name}, {"size", f.size}, {"sha256", f.sha256}, {"blob_id", f.blob_id}});
  }
  return j.dump(2) + "\n";
}

Result<Manifest> ManifestFromJson(const std::string& json, const std::string& origin) {
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return ErrorStatus(origin + ": not a JSON object");
  Manifest m;
  auto get_string = [&](const char* key, std::string* out, bool required) -> Status {
    auto it = j.find(key);
    if (it == j.end()) {
      return required ? ErrorStatus(origin + ": missing \"" + key + "\"") : Status::Ok();
    }
    if (!it->is_string()) return ErrorStatus(origin + ": \"" + key + "\" is not a string");
    *out = it->get<std::string>();
    return Status::Ok();
  };
  RETURN_IF_ERROR(get_string("name", &m.name, true));
  RETURN_IF_ERROR(get_string("repo", &m.repo, true));
  RETURN_IF_ERROR(get_string("revision", &m.revision, true));
  RETURN_IF_ERROR(get_string("kind", &m.kind, true));
  RETURN_IF_ERROR(get_string("primary", &m.primary, true));
  RETURN_IF_ERROR(get_string("commit", &m.commit, false));
  RETURN_IF_ERROR(get_string("pulled_at", &m.pulled_at, false));
  if (m.kind != "gguf" && m.kind != "safetensors") {
    return ErrorStatus(origin + ": \"kind\" must be gguf or safetensors, not '" + m.kind + "'");
  }
  auto ref = ParseRef(m.name);
  if (!ref.ok() || ref->RepoId() != m.repo || ref->revision != m.revision) {
    return ErrorStatus(origin + ": \"name\" '" + m.name + "' does not match repo and revision");
  }
  if (auto it = j.find("aliases"); it != j.end()) {
    if (!it->is_array()) return ErrorStatus(origin + ": \"aliases\" is not an array");
    for (const auto& a : *it) {
      if (!a.is_string()) return ErrorStatus(origin + ": an alias is not a string");
      m.aliases.push_back(a.get<std::string>());
    }
  }
  auto files = j.find("files");
  if (files == j.end() || !files->is_array() || files->empty()) {
    return ErrorStatus(origin + ": \"files\" must be a non-empty array");
  }
  for (const auto& f : *files) {
    if (!f.is_object() || !f.contains("name") || !f["name"].is_string() || !f.contains("size") ||
        !f["size"].is_number_integer()) {
      return ErrorStatus(origin + ": a file entry lacks a string \"name\" or an integer \"size\"");
    }
    RepoFile file;
    file.name = f["name"].get<std::string>();
    file.size = f["size"].get<int64_t>();
    if (f.contains("sha256") && f["sha256"].is_string())
      file.sha256 = f["sha256"].get<std::string>();
    if (f.contains("blob_id") && f["blob_id"].is_string())
      file.blob_id = f["blob_id"].get<std::string>();
    if (!IsSafeRepoPath(file.name)) {
      return ErrorStatus(origin + ": unsafe file name '" + file.name + "'");
    }
    if (file.size < 0) return ErrorStatus(origin + ": negative size of '" + file.name + "'");
    m.files.push_back(std::move(file));
  }
  if (!m.primary.empty() && std::none_of(m.files.begin(), m.files.end(),
                                         [&](const RepoFile& f) { return f.name == m.primary; })) {
    return ErrorStatus(origin + ": \"primary\" '" + m.primary + "' is not among the files");
  }
  return m;
}

ModelCache::ModelCache(std::string root) : root_(std::move(root)) {}

Result<ModelCache> ModelCache::FromEnvironment() {
  if (const char* home = std::getenv("AUTARKY_HOME"); home != nullptr && *home != '\0') {
    return ModelCache(home);
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return ModelCache(std::string(home) + "/.cache/autarky");
  }
  return ErrorStatus("neither AUTARKY_HOME nor HOME is set: no place for the model cache");
}

std::string ModelCache::RepoDir(const std::string& repo, const std::string& revision) const {
  return root_ + "/models/" + repo + "/" + revision;
}

std::string ModelCache::ModelPath(const Manifest& m) const {
  const std::string dir = RepoDir(m.repo, m.revision);
  return m.primary.empty() ? dir : dir + "/" + m.primary;
}

std::string ModelCache::ManifestPath(const Manifest& m) const {
  return root_ + "/manifests/" + m.repo + "/" + m.revision + "/" + ManifestFileName(m.name);
}

std::vector<Manifest> ModelCache::List() const {
  std::vector<Manifest> out;
  std::error_code ec;
  const fs::path dir = fs::path(root_) / "manifests";
  if (!fs::is_directory(dir, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->path().extension() != ".json") continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    auto manifest = ManifestFromJson(buffer.str(), it->path().string());
    if (!manifest.ok()) {
      std::fprintf(stderr, "warning: skipping %s\n", manifest.status().message().c_str());
      continue;
    }
    out.push_back(std::move(*manifest));
  }
  std::sort(out.begin(), out.end(),
            [](const Manifest& a, const Manifest& b) { return a.name < b.name; });
  return out;
}

std::optional<Manifest> ModelCache::Find(const ModelRef& ref) const {
  const std::string canonical = ref.Canonical();
  for (Manifest& m : List()) {
    if (m.Matches(canonical) || (!ref.alias.empty() && m.Matches(ref.alias))) return std::move(m);
  }
  return std::nullopt;
}

Status ModelCache::Save(const Manifest& manifest) const {
  return WriteFileAtomically(ManifestPath(manifest), ManifestToJson(manifest));
}

Status ModelCache::Remove(const Manifest& manifest) const {
  const std::string dir = RepoDir(manifest.repo, manifest.revision);
  std::set<std::string> in_use;
  for (const Manifest& other : List()) {
    if (other.name == manifest.name || other.repo != manifest.repo ||
        other.revision != manifest.revision) {
      continue;
    }
    for (const RepoFile& f : other.files) in_use.insert(f.name);
  }
  const std::string manifest_path = ManifestPath(manifest);
  // The manifest goes first: from then on the model is not offered even if a file removal fails.
  if (std::remove(manifest_path.c_str()) != 0 && errno != ENOENT) {
    return ErrorStatus("cannot remove " + manifest_path + ": " + std::strerror(errno));
  }
  RemoveEmptyDirs(fs::path(manifest_path).parent_path(), fs::path(root_) / "manifests");
  for (const RepoFile& f : manifest.files) {
    if (in_use.count(f.name)) continue;
    for (const std::string& path : {dir + "/" + f.name, dir + "/" + f.name + ".part"}) {
      if (std::remove(path.c_str()) != 0 && errno != ENOENT) {
        return ErrorStatus("cannot remove " + path + ": " + std::strerror(errno));
      }
    }
    RemoveEmptyDirs(fs::path(dir + "/" + f.name).parent_path(), fs::path(root_) / "models");
  }
  return Status::Ok();
}

Status MakeParentDirs(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return Status::Ok();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) return ErrorStatus("cannot create folder " + parent.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace autarky::hub
