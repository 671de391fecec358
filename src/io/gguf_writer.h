// GgufWriter: writes GGUF v3 (or v2) files the way llama.cpp lays them out, streaming tensor data.
//
// Layout written: header, metadata in insertion order, tensor infos in declaration order, zero
// padding to the alignment, then each tensor's data followed by zero padding to the alignment.
// Offsets are assigned contiguously in declaration order, as ggml and gguf-py do, so a file
// read with GgufFile and written back (same metadata, tensors, order) is byte-identical.
//
// Streaming use (e.g. quantizing tensor by tensor without holding the model in memory):
//   GgufWriter w;
//   w.CopyMetadataFrom(source);                   // keeps order; values are copied
//   w.Set("general.file_type", GgufValue::U32(15));
//   for (...) RETURN_IF_ERROR(w.AddTensor(name, DType::kQ4_K, dims));
//   RETURN_IF_ERROR(w.Begin("out.gguf"));          // writes out.gguf.tmp-*: header + infos
//   for (...) RETURN_IF_ERROR(w.WriteTensor(name, bytes));  // in declaration order
//   RETURN_IF_ERROR(w.Finish());                   // fsync, then rename onto out.gguf
// Until Finish succeeds, out.gguf is untouched (an existing file survives a failure); a writer
// destroyed before Finish removes its temporary file. Data of one tensor may also be given in
// pieces with AppendTensorData (rows as they are quantized).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/gguf.h"
#include "tensor/dtype.h"
#include "util/status.h"

namespace autarky {

class GgufFile;

class GgufWriter {
 public:
  GgufWriter();
  ~GgufWriter();  // removes the temporary file of an unfinished output
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // ---- what to write; all of it before Begin ----

  // GGUF version of the header: 3 (default) or 2 (same layout, for byte-identical copies).
  void SetVersion(uint32_t version) { version_ = version; }
  uint32_t version() const { return version_; }

  // Sets a metadata entry. An existing key keeps its position and gets the new value; a new
  // key is appended. The value is copied (it may come from a file that is closed later).
  // `general.alignment` (u32, power of two) sets the alignment; the default is 32.
  void Set(std::string_view key, const GgufValue& value);
  // Removes a key; false when absent.
  bool Remove(std::string_view key);
  const GgufValue* Find(std::string_view key) const;
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  // Copies the version and every metadata entry of `file` (in order), replacing what is set.
  void CopyMetadataFrom(const GgufFile& file);

  // Declares the next tensor: name (unique, 1..63 bytes), type, and 1..4 dimensions in ggml
  // order (dims[0] is the row, a multiple of the type's block size). The number of dims is
  // written as given (a trailing 1 is kept), so copies of files stay byte-identical.
  Status AddTensor(std::string_view name, DType type, std::span<const int64_t> dims);
  Status AddTensor(std::string_view name, DType type, std::initializer_list<int64_t> dims) {
    return AddTensor(name, type, std::span<const int64_t>(dims.begin(), dims.size()));
  }
  size_t tensor_count() const { return tensors_.size(); }

  // When there are no tensors, ggml still pads the metadata to the alignment and gguf-py does
  // not; the default (true) follows ggml. Copies of vocabulary-only files use what they had.
  void set_pad_without_tensors(bool pad) { pad_without_tensors_ = pad; }

  // ---- writing ----

  // Validates everything declared, then writes the header, metadata, tensor infos and padding
  // to a new temporary file next to `path` (path + ".tmp-<pid>-<n>").
  Status Begin(const std::string& path);
  // The same into memory; the image is taken with TakeBuffer() after Finish().
  Status BeginInMemory();

  // Writes the whole data of the next tensor, which must be `name` with exactly its size.
  Status WriteTensor(std::string_view name, std::span<const uint8_t> bytes);
  Status WriteTensor(std::string_view name, const void* data, size_t size) {
    return WriteTensor(name, std::span(static_cast<const uint8_t*>(data), size));
  }
  // Appends bytes to the current tensor (the first one not yet complete); when its size is
  // reached, its padding is written and the next tensor becomes current.
  Status AppendTensorData(std::span<const uint8_t> bytes);
  // Name of the tensor whose data comes next; empty when all are written.
  std::string_view next_tensor() const;

  // Checks all data was written, flushes and syncs, then renames the file onto its path.
  Status Finish();
  // The in-memory image (after BeginInMemory + Finish).
  std::vector<uint8_t> TakeBuffer();

  // Total size of the file being written (known once Begin succeeded).
  uint64_t file_size() const { return file_size_; }

  class Sink;  // implementation detail: where the bytes go (file or memory)

 private:
  struct PendingTensor {
    std::string name;
    DType type;
    std::vector<int64_t> dims;
    uint64_t n_bytes = 0;
    uint64_t offset = 0;  // in the data section, assigned by Begin
  };
  Status Prepare();  // validates, computes offsets, sizes
  Status WriteHeader();
  Status WriteValue(const GgufValue& value);
  Status Fail(std::string message);  // records the error and abandons the output
  Status CheckWriting() const;

  uint32_t version_ = 3;
  bool pad_without_tensors_ = true;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::unordered_map<std::string, size_t> key_index_;
  std::vector<PendingTensor> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;

  enum class State { kDeclaring, kWriting, kFinished, kFailed };
  State state_ = State::kDeclaring;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t file_size_ = 0;
  std::string error_;
  std::string target_;  // the path being written, or "<memory>", for messages
  std::unique_ptr<Sink> sink_;
  size_t current_ = 0;            // index of the tensor receiving data
  uint64_t current_written_ = 0;  // bytes of it written so far
};

}  // namespace autarky
