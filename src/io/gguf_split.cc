// OpenGgufModel: a split GGUF set assembled into one GgufFile.
#include "io/gguf_split.h"

#include <cstdio>
#include <memory>
#include <unordered_set>
#include <utility>
#include <vector>

#include "io/gguf_writer.h"

namespace autarky {
namespace {

// The keys llama.cpp's gguf-split adds to every part.
constexpr std::string_view kSplitNo = "split.no";
constexpr std::string_view kSplitCount = "split.count";
constexpr std::string_view kSplitTensors = "split.tensors.count";
// More parts than any real model needs (the 671B models come in fewer than 200).
constexpr int kMaxParts = 9999;

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return !s.empty();
}

}  // namespace

std::optional<GgufSplitName> ParseGgufSplitName(std::string_view path) {
  // NAME-IIIII-of-NNNNN.gguf: 5-digit numbers, as gguf-split writes them.
  constexpr std::string_view kSuffix = ".gguf";
  constexpr size_t kTail = 1 + 5 + 4 + 5;  // "-IIIII-of-NNNNN"
  if (path.size() < kTail + kSuffix.size() + 1 || !path.ends_with(kSuffix)) return std::nullopt;
  const std::string_view tail = path.substr(path.size() - kSuffix.size() - kTail, kTail);
  if (tail[0] != '-' || tail.substr(6, 4) != "-of-") return std::nullopt;
  const std::string_view index = tail.substr(1, 5), count = tail.substr(10, 5);
  if (!AllDigits(index) || !AllDigits(count)) return std::nullopt;
  GgufSplitName name;
  name.prefix = std::string(path.substr(0, path.size() - kSuffix.size() - kTail));
  name.index = std::stoi(std::string(index));
  name.count = std::stoi(std::string(count));
  if (name.index < 1 || name.index > name.count) return std::nullopt;
  return name;
}

std::string GgufSplitPath(const GgufSplitName& name, int index) {
  char tail[32];
  std::snprintf(tail, sizeof tail, "-%05d-of-%05d.gguf", index, name.count);
  return name.prefix + tail;
}

Result<GgufFile> OpenGgufModel(const std::string& path, FileLoad mode) {
  ASSIGN_OR_RETURN(GgufFile named, GgufFile::Open(path, mode));
  ASSIGN_OR_RETURN(const int count, named.GetIntegerOr<int>(kSplitCount, 1));
  if (count <= 1) return named;
  if (count > kMaxParts) {
    return ErrorStatus(path + ": " + std::string(kSplitCount) + " " + std::to_string(count) +
                       " is more parts than any model has");
  }
  ASSIGN_OR_RETURN(const int named_no, named.GetInteger<int>(kSplitNo));
  const std::optional<GgufSplitName> split = ParseGgufSplitName(path);
  if (!split || split->count != count || split->index != named_no + 1) {
    return ErrorStatus(path + ": part " + std::to_string(named_no + 1) + " of a split model (" +
                       std::to_string(count) +
                       " parts), but its name is not NAME-IIIII-of-NNNNN.gguf with those "
                       "numbers, so the other parts cannot be found");
  }

  // Every part, in order; the one already open is reused.
  auto parts = std::make_shared<std::vector<GgufFile>>();
  parts->reserve(count);
  for (int i = 1; i <= count; ++i) {
    if (i == split->index) {
      parts->push_back(std::move(named));
      continue;
    }
    const std::string part_path = GgufSplitPath(*split, i);
    Result<GgufFile> part = GgufFile::Open(part_path, mode);
    if (!part.ok()) {
      return ErrorStatus("part " + std::to_string(i) + " of " + std::to_string(count) +
                         " of a split model: " + part.status().message());
    }
    parts->push_back(std::move(*part));
  }
  int64_t total = 0;
  for (int i = 0; i < count; ++i) {
    const GgufFile& part = (*parts)[i];
    ASSIGN_OR_RETURN(const int no, part.GetInteger<int>(kSplitNo));
    ASSIGN_OR_RETURN(const int n, part.GetInteger<int>(kSplitCount));
    if (no != i || n != count) {
      return ErrorStatus(part.name() + ": says it is part " + std::to_string(no + 1) + " of " +
                         std::to_string(n) + ", expected part " + std::to_string(i + 1) + " of " +
                         std::to_string(count));
    }
    total += static_cast<int64_t>(part.tensors().size());
  }
  const GgufFile& first = parts->front();
  ASSIGN_OR_RETURN(const int64_t declared, first.GetInteger<int64_t>(kSplitTensors));
  if (declared != total) {
    return ErrorStatus(first.name() + ": " + std::string(kSplitTensors) + " is " +
                       std::to_string(declared) + ", but the " + std::to_string(count) +
                       " parts hold " + std::to_string(total) + " tensors");
  }

  // The first part's metadata without the split keys: the set reads as one model file.
  GgufWriter writer;
  writer.CopyMetadataFrom(first);
  for (std::string_view key : {kSplitNo, kSplitCount, kSplitTensors}) writer.Remove(key);
  RETURN_IF_ERROR(writer.BeginInMemory());
  RETURN_IF_ERROR(writer.Finish());

  std::vector<GgufExternalTensor> tensors;
  tensors.reserve(static_cast<size_t>(total));
  std::unordered_set<std::string_view> names;
  for (const GgufFile& part : *parts) {
    for (const GgufTensorInfo& t : part.tensors()) {
      if (!names.insert(t.name).second) {
        return ErrorStatus(part.name() + ": tensor '" + std::string(t.name) +
                           "' is also in an earlier part");
      }
      GgufExternalTensor e;
      e.name = std::string(t.name);
      e.type = t.type;
      e.dims.assign(t.dims.begin(), t.dims.begin() + t.n_dims);
      e.data = t.data;
      e.n_bytes = t.n_bytes;
      tensors.push_back(std::move(e));
    }
  }
  const std::string name = first.name();
  return GgufFile::Assemble(name, writer.TakeBuffer(), std::move(tensors), std::move(parts));
}

}  // namespace autarky
