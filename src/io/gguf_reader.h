// GgufFile: a validated, memory-mapped view of a GGUF (v2/v3) file: metadata and tensor table.
//
// Every count, length, type id, dimension, offset and size in the file is checked against the
// file's size and sane limits before use; a malformed file gives one error naming the file, the
// byte offset and the field, e.g.
//   "model.gguf: byte 1234: tensor 'blk.0.attn_q.weight': type id 99 is unknown".
//
// Usage:
//   ASSIGN_OR_RETURN(GgufFile file, GgufFile::Open(path));
//   ASSIGN_OR_RETURN(uint32_t n_layer, file.GetInteger<uint32_t>("llama.block_count"));
//   ASSIGN_OR_RETURN(auto tokens, file.GetStringArray("tokenizer.ggml.tokens"));
//   const GgufTensorInfo* t = file.FindTensor("token_embd.weight");  // t->data, t->n_bytes
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/gguf.h"
#include "tensor/dtype.h"
#include "util/mapped_file.h"
#include "util/status.h"

namespace autarky {

// One metadata entry, in file order.
struct GgufKeyValue {
  std::string_view key;  // views the file's bytes
  GgufValue value;
  uint64_t offset = 0;  // byte offset of the entry (its key length) in the file
};

// One tensor of the file. Dimensions are in ggml order: dims[0] is the fastest-varying
// (contiguous) one, e.g. a weight of a layer mapping k inputs to n outputs is {k, n}.
struct GgufTensorInfo {
  std::string_view name;  // views the file's bytes
  DType type = DType::kF32;
  int n_dims = 0;                                      // 1..4 as stored in the file
  std::array<int64_t, kGgufMaxDims> dims{1, 1, 1, 1};  // unused trailing dims are 1
  int64_t n_elements = 0;
  uint64_t offset = 0;       // from the start of the data section, as stored in the file
  uint64_t file_offset = 0;  // absolute byte offset of the data in the file
  size_t n_bytes = 0;        // bytes of data
  // The data, inside the mapping. Opened files are mapped at a page boundary, so this is
  // aligned to the file's alignment (32 bytes by default); Parse() keeps the caller's alignment.
  // Null for a lazy tensor of an assembled file (see GgufFile::ReadTensorData).
  const uint8_t* data = nullptr;
  uint64_t info_offset = 0;  // byte offset of this tensor's info record (for error messages)

  std::span<const int64_t> shape() const { return {dims.data(), static_cast<size_t>(n_dims)}; }
  // Elements of one row (dims[0]) and the number of rows (product of the other dims).
  int64_t row_elements() const { return dims[0]; }
  int64_t n_rows() const { return n_elements / dims[0]; }
};

// Produces a lazy tensor's bytes (exactly its n_bytes) into `dst`; an error is one of the
// source's (e.g. a scale tensor that does not fit). May be called any number of times.
using GgufTensorFill = std::function<Status(uint8_t* dst)>;

// A tensor whose bytes live outside any GGUF image, for GgufFile::Assemble: either `data`, or
// (data null) `fill`, which decodes them on demand so that a model larger than RAM once decoded
// (FP8 folders become BF16) can be converted one tensor at a time.
struct GgufExternalTensor {
  std::string name;
  DType type = DType::kF32;
  std::vector<int64_t> dims;  // ggml order, 1..4 entries, each >= 1
  const uint8_t* data = nullptr;
  size_t n_bytes = 0;   // must equal the size of `dims` in `type`
  GgufTensorFill fill;  // used when data is null
};

class GgufFile {
 public:
  // Maps and validates the file at `path`; error messages name the path as given.
  static Result<GgufFile> Open(const std::string& path, FileLoad mode = FileLoad::kMap);
  // Validates a GGUF image in memory (tests, fuzzing). The bytes are borrowed: they must
  // outlive the result and everything taken from it. `name` prefixes error messages.
  static Result<GgufFile> Parse(const uint8_t* data, size_t size,
                                std::string_view name = "<memory>");

  // A GgufFile built in memory (e.g. from a Hugging Face safetensors folder): the metadata of
  // `metadata_image` (a GGUF image without tensors, as GgufWriter::BeginInMemory writes it) and
  // tensors whose bytes live elsewhere (mappings, converted buffers), kept alive by `owner` for
  // as long as the GgufFile lives. Names, shapes and sizes are validated as for a file. The
  // tensors' offset/file_offset are 0 and file_data() is the metadata image.
  static Result<GgufFile> Assemble(std::string name, std::vector<uint8_t> metadata_image,
                                   std::vector<GgufExternalTensor> tensors,
                                   std::shared_ptr<const void> owner);

  // Assembled files may hold lazy tensors (data null); Open/Parse/FromImage never do. Code that
  // reads tensor bytes of a file that may be assembled uses ReadTensorData or TensorBytes.
  bool has_lazy_tensors() const { return n_lazy_ > 0; }

  // Validates a GGUF image held in memory and takes ownership of it (e.g. a model quantized at
  // load time). Tensor data is only as aligned as the vector's buffer.
  static Result<GgufFile> FromImage(std::vector<uint8_t> image, std::string_view name);

  GgufFile(GgufFile&&) noexcept = default;
  GgufFile& operator=(GgufFile&&) noexcept = default;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  const uint8_t* file_data() const { return data_; }
  size_t file_size() const { return size_; }
  // End of the header, metadata and tensor infos (not padded).
  uint64_t metadata_end() const { return metadata_end_; }
  // Start of the tensor data section: metadata_end() rounded up to the alignment.
  uint64_t data_offset() const { return data_offset_; }

  // ---- metadata ----
  const std::vector<GgufKeyValue>& metadata() const { return metadata_; }
  const GgufValue* Find(std::string_view key) const;  // nullptr when absent
  bool Has(std::string_view key) const { return Find(key) != nullptr; }

  // Typed getters: an error names the file and key when the key is missing or has another
  // type ("model.gguf: metadata key 'llama.block_count' has type i32, expected u32").
  Result<uint8_t> GetU8(std::string_view key) const;
  Result<int8_t> GetI8(std::string_view key) const;
  Result<uint16_t> GetU16(std::string_view key) const;
  Result<int16_t> GetI16(std::string_view key) const;
  Result<uint32_t> GetU32(std::string_view key) const;
  Result<int32_t> GetI32(std::string_view key) const;
  Result<uint64_t> GetU64(std::string_view key) const;
  Result<int64_t> GetI64(std::string_view key) const;
  Result<float> GetF32(std::string_view key) const;
  Result<double> GetF64(std::string_view key) const;
  Result<bool> GetBool(std::string_view key) const;
  Result<std::string_view> GetString(std::string_view key) const;
  // Any integer type whose value fits in T (converters disagree on u32/i32/u64 for counts).
  template <typename T>
  Result<T> GetInteger(std::string_view key) const;
  // f32 or f64, as double.
  Result<double> GetFloat(std::string_view key) const;
  // Optional keys: the fallback when the key is absent, an error when it has another type.
  template <typename T>
  Result<T> GetIntegerOr(std::string_view key, T fallback) const {
    if (!Has(key)) return fallback;
    return GetInteger<T>(key);
  }
  Result<double> GetFloatOr(std::string_view key, double fallback) const {
    if (!Has(key)) return fallback;
    return GetFloat(key);
  }
  Result<bool> GetBoolOr(std::string_view key, bool fallback) const {
    if (!Has(key)) return fallback;
    return GetBool(key);
  }

  // An array (any element type); `GetArray(key, GgufType::kF32)` also checks the element type.
  Result<const GgufValue*> GetArray(std::string_view key) const;
  Result<const GgufValue*> GetArray(std::string_view key, GgufType element_type) const;
  // Array of strings, without copying them (views into the file).
  Result<std::span<const std::string_view>> GetStringArray(std::string_view key) const;
  Result<std::vector<float>> GetF32Array(std::string_view key) const;
  Result<std::vector<int32_t>> GetI32Array(std::string_view key) const;
  // An array of any integer element type, as int64 (error if a u64 element exceeds INT64_MAX).
  Result<std::vector<int64_t>> GetIntegerArray(std::string_view key) const;

  // ---- tensors ----
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(std::string_view name) const;  // nullptr when absent
  Result<const GgufTensorInfo*> GetTensor(std::string_view name) const;
  // Writes the bytes of `t` (one of tensors()) to dst[0, t.n_bytes): a copy, or for a lazy
  // tensor the output of its fill function.
  Status ReadTensorData(const GgufTensorInfo& t, uint8_t* dst) const;
  // The bytes of `t`: a view of its data, or for a lazy tensor `scratch` resized and filled
  // (valid until scratch changes). Callers free the scratch between tensors to keep memory at
  // one tensor.
  Result<std::span<const uint8_t>> TensorBytes(const GgufTensorInfo& t,
                                               std::vector<uint8_t>* scratch) const;

 private:
  friend class GgufParser;
  GgufFile() = default;
  Result<const GgufValue*> Lookup(std::string_view key) const;
  Status TypeError(std::string_view key, const GgufValue& value, std::string_view expected) const;
  Status RangeError(std::string_view key, const GgufValue& value) const;

  std::unique_ptr<MappedFile> mapping_;  // null when parsing caller-owned memory
  // Assemble only: the metadata image, the tensor names (viewed by tensors_) and the owner of
  // the tensors' bytes. Moving a GgufFile keeps their heap buffers in place.
  std::vector<uint8_t> owned_image_;
  std::vector<char> owned_names_;
  std::shared_ptr<const void> owner_;
  std::string name_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t metadata_end_ = 0;
  uint64_t data_offset_ = 0;
  std::vector<GgufKeyValue> metadata_;
  std::unordered_map<std::string_view, size_t> key_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
  std::vector<GgufTensorFill> fills_;  // Assemble only: parallel to tensors_, empty when resident
  size_t n_lazy_ = 0;
};

template <typename T>
Result<T> GgufFile::GetInteger(std::string_view key) const {
  ASSIGN_OR_RETURN(const GgufValue* value, Lookup(key));
  if (!GgufTypeIsInteger(value->type())) return TypeError(key, *value, "an integer");
  const std::optional<T> out = value->AsInteger<T>();
  if (!out) return RangeError(key, *value);
  return *out;
}

}  // namespace autarky
