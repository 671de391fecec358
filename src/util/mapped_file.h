// Read-only memory mapping of a whole file; the bytes of a model stay in the page cache.
// Alternatively (kCopy) the file is read into anonymous memory backed by transparent huge pages
// where the kernel allows: fewer TLB misses when streaming the weights, at the cost of a private
// copy (and of the page cache's sharing between processes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "util/status.h"

namespace autarky {

// Bytes of [data, data + size) that the kernel currently maps with huge pages (2 MiB on x86-64),
// from /proc/self/smaps; 0 where that is not available.
size_t HugePageBytesIn(const void* data, size_t size);

enum class FileLoad {
  kMap,     // mmap the file (no copy; pages come from the page cache on first touch)
  kStream,  // kMap for weights that are streamed every token: a file of 64 MiB or more that the
            // page cache holds in small pages is dropped from the cache once, where the file
            // system can then cache it in huge pages (see MapForStreaming in mapped_file.cc)
  kCopy,    // read into anonymous, huge-page-advised memory
};

class MappedFile {
 public:
  static Result<MappedFile> Open(const std::string& path, FileLoad mode = FileLoad::kMap);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void Release();

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_bytes_ = 0;  // length of the mapping (size_ rounded up for kCopy)
  std::string path_;
};

}  // namespace autarky
