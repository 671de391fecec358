// Pull: hub API listing, file selection, resumable verified downloads, manifest; and the
// resolver behind `-m REF`.
#include "hub/pull.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "hub/digest.h"
#include "hub/http.h"
#include "util/progress.h"

namespace autarky::hub {
namespace fs = std::filesystem;
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  return token;
}

// Percent-encodes a path inside a repository for a URL, keeping the '/' separators.
std::string EncodePath(const std::string& path) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : path) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Bytes(int64_t n) { return ProgressBar::FormatBytes(static_cast<uint64_t>(n)); }

std::string NowUtc() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// One clear message per HTTP failure of the hub (what / where / what to do).
Status HttpError(const HttpResponse& r, const std::string& what, const ModelRef& ref,
                 const PullOptions& options) {
  const std::string repo = ref.RepoId();
  std::string detail = r.error_message;
  if (r.status == 401 || r.status == 403) {
    if (r.error_code == "RepoNotFound") {
      return ErrorStatus(what + ": repository " + repo + " not found (or private: set HF_TOKEN)");
    }
    if (options.token.empty()) {
      return ErrorStatus(what + ": " + repo + " is gated: set HF_TOKEN to a token of an account " +
                         "that accepted its terms on " + options.endpoint + "/" + repo);
    }
    return ErrorStatus(what + ": " + repo + " is gated and HF_TOKEN has no access (HTTP " +
                       std::to_string(r.status) + "): accept its terms on " + options.endpoint +
                       "/" + repo);
  }
  if (r.status == 404) {
    if (r.error_code == "RevisionNotFound") {
      return ErrorStatus(what + ": revision '" + ref.revision + "' of " + repo + " not found");
    }
    if (r.error_code == "EntryNotFound") return ErrorStatus(what + ": file not found in " + repo);
    return ErrorStatus(what + ": " + repo + " not found on " + options.endpoint);
  }
  if (detail.empty()) {
    detail = r.body.substr(0, 200);
    for (char& c : detail) {
      if (c == '\n' || c == '\r') c = ' ';
    }
  }
  return ErrorStatus(what + ": HTTP " + std::to_string(r.status) + " from " + r.final_url +
                     (detail.empty() ? "" : " (" + detail + ")"));
}

Status TransportError(const TransferResult& t, const std::string& what,
                      const PullOptions& options) {
  if (t.error == TransferError::kConnect) {
    return ErrorStatus(what + ": cannot reach " + options.endpoint + ": " + t.status.message() +
                       " (offline? models already pulled run without a network; HF_ENDPOINT " +
                       "selects a mirror)");
  }
  return ErrorStatus(what + ": " + t.status.message());
}

Result<std::vector<RepoFile>> ParseListing(const std::string& body, const std::string& url,
                                           std::string* commit) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return ErrorStatus(url + ": reply is not a JSON object");
  if (j.contains("sha") && j["sha"].is_string()) *commit = j["sha"].get<std::string>();
  auto siblings = j.find("siblings");
  if (siblings == j.end() || !siblings->is_array()) {
    return ErrorStatus(url + ": reply has no \"siblings\" list");
  }
  std::vector<RepoFile> files;
  for (const auto& s : *siblings) {
    if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string()) {
      return ErrorStatus(url + ": a sibling has no string \"rfilename\"");
    }
    RepoFile f;
    f.name = s["rfilename"].get<std::string>();
    if (!IsSafeRepoPath(f.name)) continue;  // never a path outside the cache folder
    if (s.contains("size") && s["size"].is_number_integer()) f.size = s["size"].get<int64_t>();
    if (s.contains("blobId") && s["blobId"].is_string()) f.blob_id = s["blobId"].get<std::string>();
    if (s.contains("lfs") && s["lfs"].is_object()) {
      const auto& lfs = s["lfs"];
      if (lfs.contains("sha256") && lfs["sha256"].is_string()) {
        f.sha256 = lfs["sha256"].get<std::string>();
        f.blob_id.clear();  // the blob of an LFS file is its pointer, not its content
      }
      if (lfs.contains("size") && lfs["size"].is_number_integer())
        f.size = lfs["size"].get<int64_t>();
    }
    files.push_back(std::move(f));
  }
  return files;
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}

// Free bytes on the file system that will hold `dir` (its nearest existing ancestor).
int64_t FreeBytes(fs::path dir) {
  std::error_code ec;
  while (!dir.empty() && !fs::exists(dir, ec)) dir = dir.parent_path();
  struct statvfs st;
  if (::statvfs(dir.empty() ? "." : dir.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize);
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// Verifies the downloaded .part against the listing; "" when it matches, else the reason.
Result<std::string> VerifyPart(const std::string& part, const RepoFile& file) {
  const int64_t size = FileSize(part);
  if (size != file.size) {
    return "size " + std::to_string(size) + " instead of " + std::to_string(file.size);
  }
  if (!file.sha256.empty()) {
    ASSIGN_OR_RETURN(const std::string sha, FileSha256Hex(part));
    if (sha != file.sha256) return "SHA-256 " + sha + " instead of " + file.sha256;
  } else if (!file.blob_id.empty()) {
    ASSIGN_OR_RETURN(const std::string sha1, FileGitBlobSha1Hex(part));
    if (sha1 != file.blob_id) return "git blob id " + sha1 + " instead of " + file.blob_id;
  }
  return std::string();
}

// Downloads one file into {dir}/{name}.part, resuming it, then verifies and renames it.
Status DownloadFile(const HttpClient& http, const ModelRef& ref, const std::string& dir,
                    const RepoFile& file, const PullOptions& options) {
  const std::string final_path = dir + "/" + file.name;
  const std::string part = final_path + ".part";
  if (FileSize(final_path) == file.size) return Status::Ok();  // verified when renamed
  RETURN_IF_ERROR(MakeParentDirs(part));
  const std::string url = http.endpoint() + "/" + ref.RepoId() + "/resolve/" + ref.revision + "/" +
                          EncodePath(file.name);
  const std::string what = "pulling " + ref.RepoId() + "/" + file.name;
  bool retried_from_zero = false;
  for (;;) {
    FdCloser fd{::open(part.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)};
    if (fd.fd < 0) return ErrorStatus("cannot create " + part + ": " + std::strerror(errno));
    // Two pulls appending to one .part would interleave their bytes.
    if (::flock(fd.fd, LOCK_EX | LOCK_NB) != 0) {
      return ErrorStatus(what + ": another process is downloading " + part);
    }
    int64_t offset = FileSize(part);
    if (offset > file.size) {
      if (::ftruncate(fd.fd, 0) != 0) return ErrorStatus("cannot truncate " + part);
      offset = 0;
    }
    const int64_t first_offset = offset;
    if (offset > 0 && !options.quiet) {
      std::fprintf(stderr, "resuming %s at %s of %s\n", file.name.c_str(), Bytes(offset).c_str(),
                   Bytes(file.size).c_str());
    }
    std::unique_ptr<ProgressBar> bar;  // created at the first byte, so errors print no bar
    const auto start = std::chrono::steady_clock::now();
    auto progress = [&](int64_t in_file) {
      if (options.quiet) return;
      if (!bar) {
        bar = std::make_unique<ProgressBar>(fs::path(file.name).filename().string(),
                                            static_cast<uint64_t>(file.size - first_offset));
      }
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double rate = seconds > 0 ? (in_file - first_offset) / seconds : 0;
      bar->Update(static_cast<uint64_t>(std::max<int64_t>(0, in_file - first_offset)),
                  Bytes(in_file) + " of " + Bytes(file.size) + ", " +
                      Bytes(static_cast<int64_t>(rate)) + "/s");
    };
    int attempt = 0;
    while (offset < file.size) {
      ++attempt;
      bool restarted = false;
      TransferResult t = http.Download(url, fd.fd, offset, &restarted, progress);
      const int64_t now = FileSize(part);
      if (t.error == TransferError::kWrite) {
        if (t.write_errno == ENOSPC) {
          return ErrorStatus(what + ": disk full writing " + part + " (" + Bytes(now) + " of " +
                             Bytes(file.size) + " kept: free space and pull again to resume)");
        }
        return ErrorStatus(what + ": cannot write " + part + ": " + t.status.message());
      }
      if (t.error == TransferError::kInterrupted) {
        if (attempt >= options.max_attempts) {
          return ErrorStatus(what + ": connection lost " + std::to_string(attempt) + " times (" +
                             t.status.message() + "); " + Bytes(now) + " of " + Bytes(file.size) +
                             " kept in " + part + ": pull again to resume");
        }
        const std::string note = "connection lost at " + Bytes(now) + ": resuming";
        if (bar) {
          bar->Println(note);
        } else if (!options.quiet) {
          std::fprintf(stderr, "%s\n", note.c_str());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
        offset = now;
        continue;
      }
      if (t.error != TransferError::kNone) return TransportError(t, what, options);
      const long status = t.response.status;
      if (status == 416) {
        // The range lies beyond what the server has: the .part is not a prefix of this file.
        if (attempt >= options.max_attempts || ::ftruncate(fd.fd, 0) != 0) {
          return ErrorStatus(what + ": the server refused to resume (HTTP 416)");
        }
        offset = 0;
        continue;
      }
      if (status != 200 && status != 206) return HttpError(t.response, what, ref, options);
      if (now < file.size && t.bytes_written == 0) {
        return ErrorStatus(what + ": the server sent no data (" + Bytes(now) + " of " +
                           Bytes(file.size) + ")");
      }
      offset = now;
      if (offset < file.size && attempt >= options.max_attempts) {
        return ErrorStatus(what + ": the server ended the file early at " + Bytes(offset) + " of " +
                           Bytes(file.size) + " (kept in " + part + ": pull again to resume)");
      }
    }
    if (bar) bar->Finish();
    if (::fsync(fd.fd) != 0)
      return ErrorStatus("cannot sync " + part + ": " + std::strerror(errno));
    ASSIGN_OR_RETURN(const std::string mismatch, VerifyPart(part, file));
    if (mismatch.empty()) break;
    std::remove(part.c_str());
    if (first_offset > 0 && !retried_from_zero) {
      // The resumed prefix may have come from another version of the file: one fresh try.
      retried_from_zero = true;
      if (!options.quiet) {
        std::fprintf(stderr, "%s: resumed download does not verify (%s); downloading again\n",
                     file.name.c_str(), mismatch.c_str());
      }
      continue;
    }
    return ErrorStatus(what + ": checksum mismatch: " + mismatch +
                       " (the download was deleted; pull again, or report a corrupt upload)");
  }
  if (std::rename(part.c_str(), final_path.c_str()) != 0) {
    return ErrorStatus("cannot rename " + part + " to " + final_path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace

PullOptions PullOptionsFromEnvironment() {
  PullOptions options;
  if (std::string endpoint = Env("HF_ENDPOINT"); !endpoint.empty()) options.endpoint = endpoint;
  while (!options.endpoint.empty() && options.endpoint.back() == '/') options.endpoint.pop_back();
  options.token = Env("HF_TOKEN");
  if (options.token.empty()) options.token = Env("HUGGING_FACE_HUB_TOKEN");
  if (options.token.empty()) {
    std::string path = Env("HF_TOKEN_PATH");
    if (path.empty() && !Env("HF_HOME").empty()) path = Env("HF_HOME") + "/token";
    if (path.empty() && !Env("HOME").empty()) path = Env("HOME") + "/.cache/huggingface/token";
    if (!path.empty()) options.token = ReadTokenFile(path);
  }
  return options;
}

Result<Manifest> Pull(const ModelCache& cache, const ModelRef& ref, const PullOptions& options) {
  const HttpClient http(options.endpoint, options.token);
  const std::string api_url =
      http.endpoint() + "/api/models/" + ref.RepoId() + "/revision/" + ref.revision + "?blobs=true";
  const std::string what = "pulling " + ref.Canonical();
  TransferResult listing = http.Get(api_url);
  if (listing.error != TransferError::kNone) return TransportError(listing, what, options);
  if (listing.response.status != 200) return HttpError(listing.response, what, ref, options);
  std::string commit;
  ASSIGN_OR_RETURN(auto siblings, ParseListing(listing.response.body, api_url, &commit));
  auto selection_or = SelectFiles(ref, siblings);
  if (!selection_or.ok()) return selection_or.status().WithContext(what);
  const Selection& selection = *selection_or;

  const std::string dir = cache.RepoDir(ref.RepoId(), ref.revision);
  int64_t needed = 0, total = 0;
  for (const RepoFile& f : selection.files) {
    if (f.size < 0) return ErrorStatus(what + ": the hub listed no size for " + f.name);
    total += f.size;
    const std::string path = dir + "/" + f.name;
    if (FileSize(path) == f.size) continue;
    needed += f.size - std::max<int64_t>(0, std::min(f.size, FileSize(path + ".part")));
  }
  const int64_t free_bytes = FreeBytes(dir);
  if (free_bytes >= 0 && needed > free_bytes) {
    return ErrorStatus(what + ": not enough disk space in " + cache.root() + ": need " +
                       Bytes(needed) + ", " + Bytes(free_bytes) + " free");
  }
  if (!options.quiet) {
    std::fprintf(stderr, "pulling %s: %zu file%s, %s%s\n", ref.Canonical().c_str(),
                 selection.files.size(), selection.files.size() == 1 ? "" : "s",
                 Bytes(total).c_str(),
                 needed < total ? (" (" + Bytes(needed) + " to download)").c_str() : "");
  }
  for (const RepoFile& f : selection.files) {
    const Status status = DownloadFile(http, ref, dir, f, options);
    if (!status.ok()) {
      // An empty .part (the server refused before sending anything) is no resume point.
      const std::string part = dir + "/" + f.name + ".part";
      if (FileSize(part) == 0) std::remove(part.c_str());
      return status;
    }
  }

  // The name: the REF with the choice made explicit (the quantization, or the one GGUF file).
  ModelRef named = ref;
  named.alias.clear();
  if (named.file.empty() && named.quant.empty()) {
    if (!selection.quant.empty()) {
      named.quant = selection.quant;
    } else if (selection.kind == SelectionKind::kGguf) {
      named.file = selection.primary;
    }
  }
  Manifest manifest;
  manifest.name = named.Canonical();
  manifest.repo = ref.RepoId();
  manifest.revision = ref.revision;
  manifest.commit = commit;
  manifest.kind = selection.kind == SelectionKind::kGguf ? "gguf" : "safetensors";
  manifest.primary = selection.primary;
  manifest.files = selection.files;
  manifest.pulled_at = NowUtc();
  for (const Manifest& old : cache.List()) {
    if (old.name == manifest.name) manifest.aliases = old.aliases;
  }
  for (const std::string& spelling : {ref.Canonical(), ref.alias}) {
    if (!spelling.empty() && !manifest.Matches(spelling)) manifest.aliases.push_back(spelling);
  }
  RETURN_IF_ERROR(cache.Save(manifest));
  return manifest;
}

Result<std::string> ResolveModelPath(const std::string& text, bool pull_if_missing) {
  std::error_code ec;
  if (fs::exists(text, ec) || !LooksLikeRef(text)) return text;  // the loader reports a bad path
  ASSIGN_OR_RETURN(const ModelRef ref, ParseRef(text));
  ASSIGN_OR_RETURN(const ModelCache cache, ModelCache::FromEnvironment());
  std::optional<Manifest> manifest = cache.Find(ref);
  if (manifest && !fs::exists(cache.ModelPath(*manifest), ec)) manifest.reset();
  if (!manifest) {
    // huggingface_hub's switch for machines that must not touch the network.
    const std::string offline = Env("HF_HUB_OFFLINE");
    if (offline == "1" || offline == "true" || offline == "ON" || offline == "on") {
      pull_if_missing = false;
    }
    if (!pull_if_missing) {
      return ErrorStatus(text + " is neither a file nor in the cache (" + cache.root() +
                         "): autarky pull " + text);
    }
    std::fprintf(stderr, "%s is not in the cache yet: pulling it\n", text.c_str());
    ASSIGN_OR_RETURN(Manifest pulled, Pull(cache, ref, PullOptionsFromEnvironment()));
    manifest = std::move(pulled);
  }
  // A split GGUF: the first part, from which the loader finds the others (io/gguf_split.h).
  return cache.ModelPath(*manifest);
}

}  // namespace autarky::hub
