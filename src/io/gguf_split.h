// Opening a model that may be split into several GGUF files, as llama.cpp's gguf-split writes
// them (and as Hugging Face repositories publish models over 50 GB):
// NAME-00001-of-00003.gguf holds every metadata key plus split.no = 0, split.count = 3 and
// split.tensors.count (the total), and some tensors; the other parts hold the split.* keys and
// the remaining tensors. OpenGgufModel presents the whole set as one GgufFile (tensors viewing
// the parts' mappings), so models, tokenizers and tools need not know about splits.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "io/gguf_reader.h"
#include "util/status.h"

namespace autarky {

// The parts of a split name: NAME-00002-of-00003.gguf -> {prefix "NAME", index 2, count 3}.
struct GgufSplitName {
  std::string prefix;  // everything before "-00002-of-00003.gguf", directory included
  int index = 0;       // 1-based
  int count = 0;
};
std::optional<GgufSplitName> ParseGgufSplitName(std::string_view path);
// The path of part `index` (1-based) of the set.
std::string GgufSplitPath(const GgufSplitName& name, int index);

// Opens `path`: a single GGUF file as GgufFile::Open does, or, when the file is part of a split
// set (its split.count > 1; any part may be named), every part, validated against each other
// (same count, each part's number, the total tensor count, no tensor twice), assembled into one
// GgufFile named after the first part. Errors name the part at fault.
Result<GgufFile> OpenGgufModel(const std::string& path, FileLoad mode = FileLoad::kMap);

}  // namespace autarky
