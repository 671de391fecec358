// SafetensorsFile: a validated, memory-mapped view of one .safetensors file (Hugging Face).
//
// Layout: u64 little-endian header length N | N bytes of JSON | raw tensor data. The JSON maps
// each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// data section) and may hold "__metadata__", a map of strings. Everything is checked before
// use: the header length against the file size and a limit, the JSON's syntax and types, each
// dtype, the shape's element count against the byte range, every range against the data
// section, and overlaps between ranges. Errors name the file, the tensor and the field:
//   "model.safetensors: tensor 'lm_head.weight': data_offsets [0, 10] hold 10 bytes, shape
//    [4, 4] of BF16 needs 32".
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/mapped_file.h"
#include "util/status.h"

namespace autarky {

// Element types of safetensors (the names as they appear in the header).
enum class StDType {
  kBool,
  kU8,
  kI8,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kF64,
  kI64,
  kU64,
  kF8E4M3,
  kF8E5M2,
};

std::string_view StDTypeName(StDType type);
size_t StDTypeSize(StDType type);

// Hugging Face's own reader refuses headers above 100 MB; real ones are kilobytes to a few MB.
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = uint64_t{100} << 20;
inline constexpr int kSafetensorsMaxRank = 8;

struct SafetensorsTensor {
  std::string name;
  StDType dtype = StDType::kF32;
  std::vector<int64_t> shape;  // row-major (PyTorch order): shape.back() is contiguous
  int64_t n_elements = 0;
  uint64_t begin = 0;  // data_offsets[0], relative to the data section
  size_t n_bytes = 0;
  const uint8_t* data = nullptr;  // inside the mapping (any alignment)
};

class SafetensorsFile {
 public:
  static Result<SafetensorsFile> Open(const std::string& path, FileLoad mode = FileLoad::kMap);
  // Validates an image in memory (tests, fuzzing); the bytes must outlive the result.
  static Result<SafetensorsFile> Parse(const uint8_t* data, size_t size,
                                       std::string_view name = "<memory>");

  SafetensorsFile(SafetensorsFile&&) noexcept = default;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept = default;

  const std::string& name() const { return name_; }
  // Tensors in the order of their data (ascending begin).
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* Find(std::string_view name) const;  // nullptr when absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  uint64_t data_offset() const { return data_offset_; }  // 8 + header length

 private:
  SafetensorsFile() = default;
  std::unique_ptr<MappedFile> mapping_;  // null for Parse
  std::string name_;
  uint64_t data_offset_ = 0;
  std::vector<SafetensorsTensor> tensors_;
  std::unordered_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace autarky
